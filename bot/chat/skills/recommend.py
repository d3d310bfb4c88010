"""Recommendation turns: "what should I get next?", refinements ("cheaper", "more like the
first one") and feedback in words ("not interested in the second one").

Every list shown is recorded in the turn's :class:`~bot.chat.state.DialogueState`, so a later
"the second one" points at what the customer saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from bot.chat.context import Context, Handler, Turn, record_feedback
from bot.chat.parse import SIZE_STEP
from bot.chat.skills.items import ordinal_item, referenced_item
from bot.recsys.catalog import query_from
from bot.recsys.constraints import Constraints
from bot.recsys.preferences import Preference, preference_constraints
from bot.reply import Recommendation, Reply
from knowledge.schema import Item

__all__ = ["HANDLERS", "recommend", "format_rec", "track_request"]

# a stated fact worded like a purchase ("I just got...", "I have..."): say it wasn't recorded
_HAVE = re.compile(r"\b(?:have|had|got|own|bought|ordered|purchased)\b", re.I)
_VARIANTS = re.compile(r"\b(shades?|colou?rs?|variants?|sizes?|all of them)\b", re.I)
_FEEDBACK_DONE = {
    "not_interested": "Noted \u2014 I won't suggest {title} again.",
    "thumbs_down": "Thanks for the feedback \u2014 I won't suggest {title} again.",
    "thumbs_up": "Glad you like {title}! I'll keep suggestions in that direction.",
    "owned": "Got it \u2014 you already have {title}, so I'll leave it out.",
    "bought": "Great, I've added {title} to your purchases.",
}


def format_rec(r: Recommendation) -> str:
    price = f" (${r.price:.2f})" if r.price is not None else ""
    flag = " [refill due]" if r.replenishment else ""
    return f"{r.rank}. **{r.title}**{price}{flag} \u2014 {r.reason}"


def _intro(ctx: Context, turn: Turn, query: str, personal: bool) -> str:
    view = turn.view
    if not personal:
        who = turn.state.recipient
        return (
            "Gift ideas"
            + (f" for your {who}" if who and who != "someone else" else "")
            + (f" (\u201c{query}\u201d):" if query else ":")
        )
    if query:
        return f"For \u201c{query}\u201d, here is what I'd suggest:"
    if view.is_new:
        return "Here are some popular picks:"
    titles = (
        ctx.items[e.item_id].title for e in reversed(view.purchases) if e.item_id in ctx.items
    )
    recent = list(dict.fromkeys(titles))[:2]
    return (
        "Based on your recent purchases ("
        + "; ".join(recent)
        + "), here is what you may need next:"
    )


def _shown_departments(ctx: Context, turn: Turn) -> list[str]:
    """The most specific department of each item of the list shown last, in its order."""
    return [
        ctx.items[i].categories[-1]
        for i in turn.state.last_list
        if i in ctx.items and ctx.items[i].categories
    ]


def _department(ctx: Context, turn: Turn) -> str:
    """The most specific department of the list shown last (what "cheaper" widens to)."""
    cats = _shown_departments(ctx, turn)
    return max(set(cats), key=cats.count) if cats else ""


def _nearest_department(ctx: Context, query: str) -> str:
    hits = ctx.store.search_items(query, k=3) if query else []
    # a weak nearest hit is no department to offer ("back pain" is not a cat toy)
    floor = ctx.pipeline.config.request_min_similarity
    cats = [item.categories[0] for item, sim in hits if item.categories and sim >= floor]
    return max(set(cats), key=cats.count) if cats else ""


def recommend(
    ctx: Context,
    turn: Turn,
    intent: str,
    constraints: Constraints,
    query: str = "",
    exclude: set[str] | None = None,
    anchor: Item | None = None,
    intro: str = "",
    diversity: bool | None = None,
    notes: tuple[str, ...] = (),
) -> Iterator[str | Reply]:
    """Rank, explain and show a list; record it in the turn's state.

    A request (``query``, or wanted categories, brands or attributes) drives the list: only
    items that match it are shown. An open "what next?" ranks by the history stage."""
    view = turn.view
    personal = not turn.state.recipient
    request_only = bool(query or constraints.named())
    # "anything from Pelle?": the intro names what was asked for, not "your recent purchases"
    label = query or " ".join(constraints.named())
    intro = intro or _intro(ctx, turn, label, personal)
    if notes:
        intro = " ".join(notes) + " " + intro
    yield intro + "\n"
    predicted = None
    if ctx.need is not None and not view.is_new and not query and anchor is None and personal:
        predicted = ctx.need.predict(view, ctx.items)
    # what the customer's own reviews said to avoid applies to every list, unless they ask
    # for it by name now
    prefs = [
        p for p in ctx.preferences(view)
        if not (p.kind == "avoid_brand" and p.value in constraints.brands)
    ]  # fmt: skip
    terms, brands = preference_constraints(prefs)
    applied = replace(
        constraints,
        avoid=tuple(dict.fromkeys(constraints.avoid + terms)),
        exclude_brands=tuple(dict.fromkeys(constraints.exclude_brands + brands)),
    )
    recs, need, timings = ctx.pipeline.recommend(
        view,
        applied,
        query=query,
        exclude=exclude or set(),
        anchor=anchor,
        diversity=diversity,
        need_query=predicted.phrase if predicted else "",
        request_only=request_only and anchor is None,
        personal=personal,
        exclude_things=tuple(turn.state.owned_things),
        situation=bool(turn.request.facts or turn.state.facts),
    )
    turn.state.constraints = constraints
    if predicted is not None:
        need = predicted.phrase
        timings["need_s"] = round(predicted.seconds, 4)
        for r in recs:
            r.need = need
    data: dict[str, object] = {}
    if notes:
        data["notes"] = list(notes)
    if turn.request.not_carried:
        data["not_carried"] = list(turn.request.not_carried)
    if turn.request.facts:
        data["facts"] = list(turn.request.facts)
    if prefs:
        data["preferences"] = [p.to_dict() for p in prefs]
    dept = _department(ctx, turn)
    if not dept and query and not ctx.pipeline.matcher.named_kinds(query):
        # a vague request ("something useful for my desk under $10"): its nearest department
        dept = _nearest_department(ctx, query)
    if not recs and request_only and query and (dept or constraints.categories):
        # nothing of the kind asked for meets the conditions: the same conditions within its
        # department ("nothing cheaper in yoga mats; cheaper in Yoga: ...")
        dept = dept or constraints.categories[0]
        wider = replace(applied, categories=constraints.categories or (dept,))
        recs, need, timings = ctx.pipeline.recommend(
            view, wider, exclude=exclude or set(), diversity=diversity, personal=personal,
            request_only=False,
        )  # fmt: skip
        if recs:
            turn.state.fact_topic = False  # as below: nothing of its own for the stated fact
            note = f"Nothing for \u201c{query}\u201d meets that; in {dept}:"
            data["widened_to"] = dept
            yield note + "\n"
            intro = intro + "\n" + note

    def retry(looser: Constraints) -> tuple[list[Recommendation], str, dict[str, float]]:
        """The same request under looser conditions (a price limit relaxed, said so)."""
        return ctx.pipeline.recommend(
            view, looser, query=query, exclude=exclude or set(), diversity=diversity,
            personal=personal, request_only=request_only and anchor is None,
            exclude_things=tuple(turn.state.owned_things),
        )  # fmt: skip

    shown = [p for p in turn.state.last_prices if p is not None]
    if not recs and turn.request.cheaper and constraints.cheaper_than is not None and shown:
        # nothing is cheaper than everything shown: the options below their average price
        # (the cheaper of those shown among them), said so
        mean = round(sum(shown) / len(shown), 2)
        recs, need, timings = retry(replace(applied, cheaper_than=mean))
        if recs:
            note = "Nothing is cheaper than all of those; the options below their average price:"
            data["relaxed"] = ["cheaper_than"]
            turn.state.constraints = turn.state.constraints.with_cheaper_than(mean)
            constraints = constraints.with_cheaper_than(mean)
            yield note + "\n"
            intro = intro + "\n" + note
    if not recs and constraints.cheaper_than is not None and not turn.request.cheaper:
        # an earlier "cheaper" and today's condition ("another brand") leave nothing: the
        # older, relative price limit gives way, and the reply says so
        recs, need, timings = retry(replace(applied, cheaper_than=None))
        if recs:
            note = "Nothing of that is cheaper than what I showed before; at any price:"
            data["relaxed"] = ["cheaper_than"]
            turn.state.constraints = replace(turn.state.constraints, cheaper_than=None)
            yield note + "\n"
            intro = intro + "\n" + note
    if not recs and (terms or brands) and request_only:
        # only what the customer's reviews ruled out meets the request ("capsules under $20?",
        # and the one is a dark roast they disliked): shown, with the review named, rather
        # than nothing
        recs, need, timings = retry(constraints)
        if recs:
            said = "; ".join(p.describe(ctx.items) for p in prefs[:2])
            note = f"Only what your reviews ruled out meets that \u2014 {said}. Here it is anyway:"
            data["relaxed"] = ["review preferences"]
            prefs = []
            yield note + "\n"
            intro = intro + "\n" + note
    if not recs:
        # a stated fact the shop has nothing for ("I just got a kettle"): the next open
        # question goes back to the customer's own next needs
        turn.state.fact_topic = False
        hint = ""
        limit, floor = constraints.effective_max_price(), constraints.min_price
        if limit is not None or floor is not None:
            # the price is what rules everything out: name the nearest item that meets the
            # rest, without listing it (the budget still holds)
            unpriced = replace(applied, max_price=None, cheaper_than=None, min_price=None)
            near, _n, _t = retry(unpriced)
            priced = [(r.price, r) for r in near if r.price is not None]
            if priced:
                over = limit is not None and all(p > limit for p, _r in priced)
                price, best = (min if over else max)(priced, key=lambda pr: pr[0])
                hint = (
                    f" The {'cheapest' if over else 'dearest'} that meets the rest is "
                    f"{best.title} at ${price:.2f}."
                )
                data["nearest_price"] = {"item_id": best.item_id, "price": price}
        text = intro + "\n" + _nothing_found(ctx, constraints, query, hint)
        yield text[len(intro) + 1 :]
        yield Reply(
            text=text, intent=intent, constraints=constraints.to_dict(), timings=timings, data=data
        )
        return
    turn.state.show([r.item_id for r in recs], [r.price for r in recs])
    ruled_out = _ruled_out_here(ctx, prefs, recs)
    if ruled_out:
        said = "; ".join(p.describe(ctx.items) for p in ruled_out[:2])
        intro = intro + f"\n(Leaving out what your reviews ruled out: {said}.)"
        yield f"(Leaving out what your reviews ruled out: {said}.)\n"
    if request_only:
        cats = [r.category for r in recs if r.category]
        tops = [ctx.items[r.item_id].categories[0] for r in recs if ctx.items[r.item_id].categories]
        turn.state.need_categories = list(dict.fromkeys(tops + cats))[:6]
    lines = [format_rec(r) for r in recs]
    tail = f"\nLikely next need: {need}." if need and not view.is_new and not request_only else ""
    for i, line in enumerate(lines):
        yield line + ("\n" if i < len(lines) - 1 else "")
    if tail:
        yield tail
    yield Reply(
        text=intro + "\n" + "\n".join(lines) + tail,
        intent=intent,
        recommendations=recs,
        need=need if not request_only else query,
        constraints=constraints.to_dict(),
        timings=timings,
        data=data,
    )


def _ruled_out_here(
    ctx: Context, prefs: list[Preference], recs: list[Recommendation]
) -> list[Preference]:
    """The review preferences that rule out some item of a kind on this list: a lavender rash
    says nothing about coffee beans, so a coffee list does not mention it."""
    matcher = ctx.pipeline.matcher
    items = ctx.items
    heads = {matcher.head(items[r.item_id]) for r in recs if r.item_id in items}
    same_kind = [i for i in items.values() if matcher.head(i) in heads]
    out = []
    for pref in prefs:
        terms, brands = preference_constraints([pref])
        rule = Constraints(avoid=terms, exclude_brands=brands).to_filter()
        if any(not rule.accepts(i) for i in same_kind):
            out.append(pref)
    return out


def _nothing_found(ctx: Context, constraints: Constraints, query: str, hint: str = "") -> str:
    parts = []
    if query:
        parts.append(f"I couldn't find anything in our catalog that matches \u201c{query}\u201d")
    elif constraints.is_empty():
        return "I don't have a good suggestion right now. Tell me what you're looking for?"
    else:
        parts.append("I couldn't find anything that meets all of your conditions")
    conds = []
    if constraints.brands:
        conds.append("from " + " or ".join(constraints.brands))
    if constraints.attributes:
        conds.append("in " + ", ".join(a.split(":")[0] for a in constraints.attributes))
    if constraints.exclude_brands:
        conds.append("not from " + ", ".join(constraints.exclude_brands))
    limit = constraints.effective_max_price()
    if limit is not None:
        conds.append(f"under ${limit:.2f}")
    if constraints.min_price is not None:
        conds.append(f"over ${constraints.min_price:.2f}")
    if constraints.categories:
        conds.append("in " + ", ".join(constraints.categories))
    text = parts[0] + (" (" + "; ".join(conds) + ")" if conds else "") + "."
    # the kind asked for exists (a department condition): no other department is nearer
    dept = _nearest_department(ctx, query) if query and not constraints.categories else ""
    if hint:
        text += hint
    elif dept:
        text += f" The closest department we have is {dept}: ask me about it if that helps."
    elif conds:
        text += " Try relaxing one of the conditions."
    else:
        depts = sorted({it.categories[0] for it in ctx.items.values() if it.categories})
        text += " We carry " + ", ".join(depts[:12]) + "."
    return text


def _implicit_query(ctx: Context, turn: Turn) -> str:
    """ "Something in red?" after a list: the wanted attribute or brand within the departments
    of the list shown (no topic words of its own)."""
    cons = turn.state.constraints
    if not (cons.attributes or cons.brands) or not turn.state.last_list:
        return ""
    depts = _shown_departments(ctx, turn)
    words = [a.split(":")[-1].replace("|", " ") for a in cons.attributes] + list(cons.brands)
    return " ".join(words + list(dict.fromkeys(depts))[:3])


def _refined_intro(cons: Constraints) -> str:
    parts = [a.split(":")[0] for a in cons.attributes] + [f"from {b}" for b in cons.brands]
    if cons.exclude_brands:
        parts.append("not from " + ", ".join(cons.exclude_brands))
    return ("Here is what I found " + ", ".join(parts) + ":") if parts else ""


def _service_note(ctx: Context) -> str:
    service = ctx.config.service
    return (
        "Sorry to hear that. If something you bought from us arrived damaged, is faulty or "
        f"hasn't come, {service.support_contact} will sort it out under {service.shop_name}'s "
        "return policy."
    )


def _notes(ctx: Context, turn: Turn) -> tuple[str, ...]:
    req = turn.request
    notes = []
    if req.extras.get("service") == "complaint":
        notes.append(_service_note(ctx))
    if req.not_carried:
        names = ", ".join(req.not_carried)
        notes.append(f"Sorry, we don't carry anything from or in \u201c{names}\u201d.")
    if req.facts and req.rule == "stated fact" and _HAVE.search(turn.message):
        notes.append("Noted for this conversation (I haven't added anything to your purchases).")
    return tuple(notes)


_LETTER_SIZES = {"xxs": 0, "xs": 1, "s": 2, "m": 3, "l": 4, "xl": 5, "xxl": 6}


def size_value(item: Item) -> float | None:
    """An item's size as a number to compare ("2.4 L" -> 2.4, "Size 39-42" -> 39, "M" -> 3),
    from its ``size`` attribute; None when it has none."""
    raw = str((item.attributes or {}).get("size") or "").strip().lower()
    if not raw:
        return None
    number = re.search(r"\d+(?:\.\d+)?", raw)
    if number:
        return float(number.group())
    return _LETTER_SIZES.get(raw.split()[-1])


_LUMENS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:lm|lumens?)\b", re.I)


def lumen_value(item: Item) -> float | None:
    """A light's output in lumens, from its attributes or title ("800 lm"); None if unsaid."""
    text = " ".join([item.title, *(str(v) for v in (item.attributes or {}).values())])
    m = _LUMENS.search(text)
    return float(m.group(1)) if m else None


def _size_step(ctx: Context, turn: Turn, constraints: Constraints) -> tuple[Constraints, set[str]]:
    """ "A bigger one?", "the next size down", "brighter ones?" after a list: the same kinds
    (departments) in sizes (light outputs) above the smallest shown (below the largest).
    Unchanged when nothing shown has one or none is beyond."""
    m = SIZE_STEP.search(turn.message)
    measure = lumen_value if m and re.search(r"bright|dimm|lumen", m.group(0), re.I) else size_value
    shown = [ctx.items[i] for i in turn.state.last_list if i in ctx.items]
    sized = [(it, v) for it in shown if (v := measure(it)) is not None and it.categories]
    if m is None or not sized:
        return constraints, set()
    up = m.group("up") is not None
    # bigger than the smallest shown (of a 2.4 L and a 3.5 L jug, "a bigger one" is the 3.5 L)
    bound = min(v for _it, v in sized) if up else max(v for _it, v in sized)
    leaves = tuple(dict.fromkeys(it.categories[-1] for it, _v in sized))
    same_kind = [it for it in ctx.items.values() if it.categories and it.categories[-1] in leaves]
    beyond = {
        it.item_id
        for it in same_kind
        if (v := measure(it)) is not None and (v > bound if up else v < bound)
    }
    if not beyond:
        return constraints, set()
    return replace(constraints, categories=leaves), {
        it.item_id for it in same_kind if it.item_id not in beyond
    }


# the shop's part in a message: what it was ordered, sent, delivered or charged, what is to go
# back; with one of these (or a kind of thing bought here) a problem is the shop's business
_SHOP_PART = re.compile(
    r"\b(?:order(?:ed|s)?|deliver(?:y|ed)|parcel|package|courier|postman|shipp(?:ing|ed)|"
    r"arrived|turned up|came (?:with|in|broken|damaged|open)|sent|refund(?:ed)?|money back|"
    r"return(?:ed|ing)?|send (?:it |this |them )?back|charged|bought|from you|"
    r"your (?:shop|store|site|website))\b",
    re.I,
)


def _about_the_shop(ctx: Context, turn: Turn) -> bool:
    """Whether a problem in ``turn`` is the shop's business: it names the shop's part (an
    order, a delivery, a refund) or a kind of thing the customer bought here ("the harness
    snapped" from a harness buyer). "My neck hurts" and "the kettle has scale" from someone who
    never bought a kettle here are requests for what helps, not complaints to the shop."""
    if _SHOP_PART.search(turn.message):
        return True
    matcher = ctx.pipeline.matcher
    named = matcher.named_kinds(turn.message.lower())
    items = ctx.items
    bought = {matcher.head(items[e.item_id]) for e in turn.view.purchases if e.item_id in items}
    return bool(named & bought)


def on_recommend(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    if turn.request.extras.get("service") == "complaint" and not _about_the_shop(ctx, turn):
        # the model read a complaint, but nothing in it is the shop's: a plain request
        extras = {k: v for k, v in turn.request.extras.items() if k != "service"}
        turn.request = replace(turn.request, extras={**extras, "service_dropped": "complaint"})
    if turn.request.extras.get("service") != "complaint":
        yield from _on_recommend(ctx, turn)
        return
    # the model read a complaint in a message the rules took for a request: the shop's service
    # answer first, then other items of the kind it is about (the rest of the message describes
    # the fault: "arrived with a dent in the lid" is no search); no kind named, or none in
    # stock -> the complaint answer alone
    from bot.chat.skills.orders import on_complaint

    kinds = ctx.pipeline.matcher.named_kinds(turn.message.lower())
    if not kinds:
        yield from on_complaint(ctx, turn)
        return
    turn.state.need = " ".join(sorted(kinds))
    parts = list(_on_recommend(ctx, turn))
    reply = parts[-1]
    if isinstance(reply, Reply) and reply.recommendations:
        reply.data["escalate"] = True
        reply.data["service"] = "complaint"
        yield from parts
        return
    yield from on_complaint(ctx, turn)


def _on_recommend(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    state, req = turn.state, turn.request
    query = state.need
    if not query and state.fact_topic and state.facts:
        # "I have an aquarium" ... "so what should I buy?": the facts are the request
        query = query_from(" ".join(state.facts[-2:]))
    if turn.view.is_new and not query:
        query = query_from(state.stated_preferences)
    if req.not_carried and not (req.need or req.categories or req.brands or req.attributes):
        if not state.need and not state.last_list:
            names = ", ".join(req.not_carried)
            text = (
                f"Sorry, we don't carry anything from or in \u201c{names}\u201d. "
                "Tell me what you're looking for and I'll show what we have."
            )
            yield text
            yield Reply(text=text, intent="recommend", data={"not_carried": list(req.not_carried)})
            return
    implicit = "" if query else _implicit_query(ctx, turn)
    diversity = False if _VARIANTS.search(turn.message) else None
    constraints, exclude = _size_step(ctx, turn, state.constraints)
    if exclude:
        diversity = False  # the sizes of one product are what is asked for
    yield from recommend(
        ctx,
        turn,
        "recommend",
        constraints,
        exclude=exclude,
        query=query or implicit,
        diversity=diversity,
        intro=_refined_intro(state.constraints) if implicit else "",
        notes=_notes(ctx, turn),
    )


def on_refine(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    state, msg = turn.state, turn.message.lower()
    anchor = None
    if re.search(r"more like|similar to", msg):
        anchor = ordinal_item(ctx, turn) or (
            ctx.items.get(state.last_list[0]) if state.last_list else None
        )
    req = turn.request
    # "more", "something else", "another one": what was shown goes; "something in red?",
    # "cheaper", "from Pelle": the new condition decides, and a shown item that meets it stays
    conditions = (
        req.attributes or req.brands or req.cheaper or req.pricier or req.another_brand
        or req.max_price or req.min_price or req.exclude_brands or req.avoid
    )  # fmt: skip
    exclude = set(state.shown) if (req.more or not conditions) and not req.not_that else set()
    if req.not_that and state.last_list:
        # "not that one": the one in question (named, else the top of the list) goes
        ref = ordinal_item(ctx, turn)
        exclude = {ref.item_id if ref is not None else state.last_list[0]} | (
            set(state.shown) if req.more else set()
        )
        state.not_that = sorted(set(state.not_that) | exclude)[-50:]
    exclude |= set(state.not_that)
    constraints, stepped = _size_step(ctx, turn, state.constraints)
    if stepped:
        # the sizes beyond decide, not what was shown before
        exclude = stepped | set(state.not_that)
    if (
        (req.cheaper or req.pricier)
        and state.last_list
        and not constraints.categories
        and not ctx.pipeline.matcher.named_kinds(state.need)
    ):
        # "cheapest one?" after a list asked for in words that name no kind ("food for him"):
        # the kinds on screen, not whatever else those words meet at a lower price
        leaves = tuple(dict.fromkeys(_shown_departments(ctx, turn)))
        constraints = replace(constraints, categories=leaves)
    yield from recommend(
        ctx,
        turn,
        "refine",
        constraints,
        query=state.need or _implicit_query(ctx, turn),
        intro="" if state.need else _refined_intro(state.constraints),
        exclude=exclude,
        anchor=anchor,
        notes=_notes(ctx, turn),
        diversity=False if stepped else None,
    )


def _feedback_kind(msg: str) -> str:
    low = msg.lower()
    if re.search(
        r"not interested|no interest|don'?t (?:want|like|need)|not for me|stop (?:recommending|showing)"
        r"|not (?:really )?into",
        low,
    ):
        return "not_interested"
    if "thumbs down" in low or "\U0001f44e" in msg:
        return "thumbs_down"
    if (
        "thumbs up" in low
        or "\U0001f44d" in msg
        or re.search(r"\bi love\b|exactly what i|'?s perfect\b", low)
    ):
        return "thumbs_up"
    if re.search(r"already (?:have|own)|\bi (?:own|have)\b", low):
        return "owned"
    return "bought"


def on_feedback(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    msg = turn.message
    kind = _feedback_kind(msg)
    ref = re.sub(
        r"(?i)\b(i|just|already|have|own|bought|purchased|ordered|got|not interested in|no interest in|don'?t want|don'?t like|don'?t need|not for me|stop recommending|stop showing|thumbs up|thumbs down|i love|i'?m not into|not into|exactly what i wanted|today|yesterday|thanks)\b",
        " ",
        msg,
    )
    item = referenced_item(ctx, turn, ref)
    if item is None:
        text = "Which item do you mean? Name it, or say for example \u201cnot interested in the second one\u201d."
        yield text
        yield Reply(text=text, intent="feedback")
        return
    event = record_feedback(ctx, turn.user_id, item.item_id, kind)
    turn.state.recorded = (turn.state.recorded + [event.event_id])[-20:]
    done = (
        _FEEDBACK_DONE[kind].format(title=item.title) + " (Say \u201cundo\u201d if that's wrong.)"
    )
    turn.view = ctx.pipeline.view(turn.user_id)  # the feedback counts from this very reply on
    pieces = list(
        recommend(
            ctx,
            turn,
            "feedback",
            turn.state.constraints,
            exclude=set(turn.state.shown) | {item.item_id},
            intro=done + " Other options:",
        )
    )
    reply = pieces[-1]
    assert isinstance(reply, Reply)
    reply.item_id = item.item_id
    reply.data["feedback"] = {"event_id": event.event_id, "kind": kind, "item_id": item.item_id}
    yield from pieces


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2}


# "and something to cut on", "also snacks for her": another thing, not more of the same
_ANOTHER_THING = re.compile(r"^\W*(?:and|also|plus|then)\b|\b(?:as well|too)\W*$", re.I)

_NEW_TOPIC = re.compile(
    r"\b(?:totally|completely|entirely|something|anything)\s+(?:different|else)\b(?!\s+(?:flavou?r|"
    r"colou?r|size|scent|shade|brand|one))|\bchange of (?:topic|subject)\b"
    r"|\bon another note\b|\bswitching\b",
    re.I,
)


def _follows_topic(ctx: Context, turn: Turn) -> bool:
    """Whether a request continues the topic on screen rather than starting one: it names no
    kind of item ("the bigger size", "which food then?", "a different flavour", "not a machine,
    something smaller") and no department outside the topic, and does not ask for another
    thing ("and something to cut on")."""
    state, req = turn.state, turn.request
    if (
        not state.last_list
        or req.recipient
        or req.not_carried
        or _ANOTHER_THING.search(turn.message)
        or _NEW_TOPIC.search(turn.message)
    ):
        return False
    if set(req.categories) - set(state.need_categories):
        return False
    owned = tuple(dict.fromkeys((*state.owned_things, *req.owned_things)))
    return not ctx.pipeline.matcher.named_kinds(req.need, owned)


def track_request(ctx: Context, turn: Turn) -> None:
    """Fold this message's request into the state: a new topic resets the old one's
    constraints; price limits, brands, attributes, categories, "cheaper" (below the named
    item, else below the cheapest of the last list), "another brand", the recipient and stated
    facts."""
    state, req = turn.state, turn.request
    if req.intent not in ("recommend", "refine", "feedback", "compare", "explain", "describe"):
        return
    open_request = not (
        req.has_need or req.max_price or req.min_price or req.exclude_brands or req.cheaper
        or req.facts or req.recipient or req.not_carried or req.more or req.another_brand or req.avoid
    )  # fmt: skip
    returning = not turn.view.is_new  # a new customer's open question continues their topic
    if (
        req.intent == "recommend"
        and open_request
        and returning
        and (state.need or state.recipient)
        and not state.fact_topic
    ):
        # "what should I get next?" after a topic: back to the customer's own next needs
        state.new_topic()
    follow_up = False
    if req.intent == "recommend" and req.need and state.need:
        same_words = _words(req.need) & _words(state.need)
        same_dept = set(req.categories) & set(state.need_categories) or set(req.categories) & set(
            state.constraints.categories
        )
        follow_up = _follows_topic(ctx, turn)
        if not same_words and not same_dept and not follow_up:
            state.new_topic()
    if req.intent == "recommend" and req.recipient:
        state.recipient = req.recipient
    if req.intent in ("recommend", "refine") and req.need:
        narrowed = (req.intent == "recommend" and not follow_up) or req.rule == "only"
        state.need = req.need if narrowed else (state.need + " " + req.need).strip()[:200]
    cons = Constraints(
        max_price=req.max_price,
        min_price=req.min_price,
        categories=req.categories,
        exclude_brands=req.exclude_brands,
        brands=req.brands,
        attributes=req.attributes,
        avoid=req.avoid,
    )
    if req.intent == "feedback":
        # "I bought the Norrow conditioner": the brand and department name the purchase, they
        # are not conditions on what comes next
        cons = replace(cons, brands=(), categories=(), attributes=())
    state.constraints = state.constraints.merge(cons)
    if req.another_brand and state.last_list:
        # "another brand": not the brand of the item in question (the one named, else the
        # top of the list); other brands already shown stay possible
        ref = ordinal_item(ctx, turn) or ctx.items.get(state.last_list[0])
        if ref is not None and ref.brand:
            state.constraints = replace(
                state.constraints,
                brands=(),
                exclude_brands=tuple(dict.fromkeys((*state.constraints.exclude_brands, ref.brand))),
            )
    if (req.cheaper or req.pricier) and state.last_prices:
        ref = ordinal_item(ctx, turn)
        prices = sorted(p for p in state.last_prices if p is not None)
        if ref is not None and ref.price is not None:
            prices = [ref.price]
        mean = round(sum(prices) / len(prices), 2) if prices else None
        if prices and req.cheaper:
            # "something cheaper": below the cheapest of what was shown (the turn falls back
            # to below their average when that leaves nothing); it holds for the rest of the
            # topic ("another option" after it must not go back up in price)
            state.constraints = state.constraints.with_cheaper_than(prices[0])
        elif mean is not None:
            # "something more premium": above the average of what was shown
            state.constraints = replace(state.constraints, min_price=mean)
    if req.facts and req.intent == "recommend":
        # "what goes with it?" next asks about what was just said
        state.fact_topic = True
    for fact in req.facts:
        if fact not in state.facts:
            state.facts = (state.facts + [fact])[-10:]
    for thing in req.owned_things:
        if thing not in state.owned_things:
            state.owned_things = (state.owned_things + [thing])[-10:]


def on_undo(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    """Take back the last thing this conversation recorded."""
    event_id = turn.state.recorded.pop()
    removed = ctx.store.delete_events(turn.user_id, [event_id])
    text = (
        "Done: I removed what I had just recorded."
        if removed
        else "There was nothing left to remove: it was already gone."
    )
    yield text
    yield Reply(text=text, intent="feedback", data={"undone": event_id})


HANDLERS: dict[str, Handler] = {
    "recommend": on_recommend,
    "refine": on_refine,
    "feedback": on_feedback,
    "undo": on_undo,
}
