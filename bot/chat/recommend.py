"""Recommendation turns: "what should I get next?", refinements ("cheaper", "more like the
first one") and feedback in words ("not interested in the second one").

Every list shown is recorded in the turn's :class:`~bot.chat.state.DialogueState`, so a later
"the second one" points at what the customer saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.chat.context import Context, Handler, Turn, record_feedback
from bot.chat.items import ordinal_item, referenced_item
from bot.recsys.catalog import query_from
from bot.recsys.constraints import Constraints, parse_constraints
from bot.reply import Recommendation, Reply
from knowledge.schema import Item

__all__ = ["HANDLERS", "recommend", "format_rec", "track_constraints"]

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


def _nothing_found(constraints: Constraints) -> str:
    if not constraints.is_empty():
        return (
            "I couldn't find anything that meets all of your conditions ("
            + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in constraints.to_dict().items())
            + "). Try relaxing one of them."
        )
    return "I don't have a good suggestion right now. Tell me what you're looking for?"


def _intro(ctx: Context, turn: Turn, query: str) -> str:
    view = turn.view
    if view.is_new:
        return "Here are some popular picks" + (f" for \u201c{query}\u201d" if query else "") + ":"
    titles = (
        ctx.items[e.item_id].title for e in reversed(view.purchases) if e.item_id in ctx.items
    )
    recent = list(dict.fromkeys(titles))[:2]
    return (
        "Based on your recent purchases ("
        + "; ".join(recent)
        + "), here is what you may need next:"
    )


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
) -> Iterator[str | Reply]:
    """Rank, explain and show a list; record it in the turn's state."""
    view = turn.view
    intro = intro or _intro(ctx, turn, query)
    yield intro + "\n"
    predicted = None
    if ctx.need is not None and not view.is_new and not query and anchor is None:
        predicted = ctx.need.predict(view, ctx.items)
    recs, need, timings = ctx.pipeline.recommend(
        view,
        constraints,
        query=query,
        exclude=exclude or set(),
        anchor=anchor,
        diversity=diversity,
        need_query=predicted.phrase if predicted else "",
    )
    turn.state.constraints = constraints
    if predicted is not None:
        need = predicted.phrase
        timings["need_s"] = round(predicted.seconds, 4)
        for r in recs:
            r.need = need
    if not recs:
        text = intro + "\n" + _nothing_found(constraints)
        yield text[len(intro) + 1 :]
        yield Reply(text=text, intent=intent, constraints=constraints.to_dict(), timings=timings)
        return
    turn.state.show([r.item_id for r in recs], [r.price for r in recs])
    lines = [format_rec(r) for r in recs]
    tail = f"\nLikely next need: {need}." if need and not view.is_new else ""
    for i, line in enumerate(lines):
        yield line + ("\n" if i < len(lines) - 1 else "")
    if tail:
        yield tail
    yield Reply(
        text=intro + "\n" + "\n".join(lines) + tail,
        intent=intent,
        recommendations=recs,
        need=need,
        constraints=constraints.to_dict(),
        timings=timings,
    )


def on_recommend(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    query = query_from(turn.message)
    if turn.view.is_new:
        query = query or query_from(turn.state.stated_preferences)
    diversity = False if _VARIANTS.search(turn.message) else None
    yield from recommend(
        ctx, turn, "recommend", turn.state.constraints, query=query, diversity=diversity
    )


def on_refine(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    state, msg = turn.state, turn.message.lower()
    constraints = state.constraints
    anchor = None
    if re.search(r"more like|similar to", msg):
        anchor = ordinal_item(ctx, turn) or (
            ctx.items.get(state.last_list[0]) if state.last_list else None
        )
    query = query_from(
        re.sub(
            r"(?i)cheaper|another|something else|more like|similar to|the (first|second|third|last) one",
            " ",
            turn.message,
        )
    )
    yield from recommend(
        ctx, turn, "refine", constraints, query=query, exclude=set(state.shown), anchor=anchor
    )


def _feedback_kind(msg: str) -> str:
    low = msg.lower()
    if re.search(
        r"not interested|no interest|don'?t (?:want|like|need)|not for me|stop (?:recommending|showing)",
        low,
    ):
        return "not_interested"
    if "thumbs down" in low or "\U0001f44e" in msg:
        return "thumbs_down"
    if "thumbs up" in low or "\U0001f44d" in msg or re.search(r"\bi love\b", low):
        return "thumbs_up"
    if re.search(r"already (?:have|own)|\bi (?:own|have)\b", low):
        return "owned"
    return "bought"


def on_feedback(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    msg = turn.message
    kind = _feedback_kind(msg)
    ref = re.sub(
        r"(?i)\b(i|just|already|have|own|bought|purchased|ordered|got|not interested in|no interest in|don'?t want|don'?t like|don'?t need|not for me|stop recommending|stop showing|thumbs up|thumbs down|i love)\b",
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
    done = _FEEDBACK_DONE[kind].format(title=item.title)
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


def track_constraints(ctx: Context, turn: Turn) -> None:
    """Fold this message's constraints into the state: price limits, brands, categories and
    "cheaper" (below the named item, else below the cheapest of the last list)."""
    state = turn.state
    cons, cheaper = parse_constraints(turn.message, ctx.catalog.brands, ctx.catalog.categories)
    state.constraints = state.constraints.merge(cons)
    if cheaper and state.last_prices:
        ref = ordinal_item(ctx, turn)
        prices = [
            p
            for i, p in zip(state.last_list, state.last_prices, strict=False)
            if p is not None and (ref is None or i == ref.item_id)
        ]
        if ref is not None and ref.price is not None:
            prices = [ref.price]
        if prices:
            # "something cheaper" holds for the rest of the conversation ("another option"
            # after it must not go back up in price)
            state.constraints = state.constraints.with_cheaper_than(min(prices))


HANDLERS: dict[str, Handler] = {
    "recommend": on_recommend,
    "refine": on_refine,
    "feedback": on_feedback,
}
