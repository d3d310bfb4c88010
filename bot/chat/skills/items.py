"""Turns about one item: why it was suggested ("why the second one?") and what it is
("tell me about the Keenfield razor").

Handlers take the :class:`~bot.chat.context.Context` and the :class:`~bot.chat.context.Turn`
and yield text pieces, then one :class:`~bot.reply.Reply`; the item discussed becomes the state's
``last_item`` ("is it vegan?" next refers to it).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import cast

from bot.chat.context import Context, Handler, Turn
from bot.chat.skills.product_questions import answer, is_item_question, name_stems
from bot.recsys.catalog import query_from
from bot.recsys.history import UserView, short_date
from bot.recsys.pipeline import Scored
from bot.reply import Reply
from bot.tasks.describe import fact_description, generated_sentence, item_facts
from knowledge.schema import Item

__all__ = ["HANDLERS", "ordinal_item", "referenced_item", "named_item", "describe_parts"]

log = logging.getLogger(__name__)


def ordinal_item(ctx: Context, turn: Turn) -> Item | None:
    pos = turn.request.ordinal
    lst = turn.state.last_list
    if pos is None or not lst:
        return None
    idx = len(lst) - 1 if pos == -1 else pos - 1
    return ctx.items.get(lst[idx]) if 0 <= idx < len(lst) else None


def referenced_item(ctx: Context, turn: Turn, text: str) -> Item | None:
    """The item a message points at: an ordinal, "it/that", or a (loose) name."""
    item = ordinal_item(ctx, turn)
    if item is not None:
        return item
    among = turn.state.last_list + [e.item_id for e in turn.view.purchases]
    named = ctx.find_item(text, among=among) if query_from(text) else None
    if named is not None:
        return named
    if re.search(r"\b(it|that|this|those|them|one)\b", text, re.I):
        ref = turn.state.last_item or (turn.state.last_list[0] if turn.state.last_list else None)
        return ctx.items.get(ref) if ref else None
    return None


_SINGULAR = re.compile(r"\b(?:it|that|this)\b", re.I)
_PLURAL = re.compile(r"\b(?:they|them|these|those|both|each)\b", re.I)


def named_item(ctx: Context, turn: Turn, text: str) -> tuple[Item, int, bool] | None:
    """The catalog item ``text`` names by the words of its title (brand and product words,
    any case): the one whose title carries most of them, at least two; a shown or owned item
    wins a tie. Also says how many words matched and whether the brand was one of them."""
    # "which machines do the capsules fit?", "what valve do they have?": the asked-about word
    # is not part of the name
    text = re.sub(
        r"(?i)^\s*(?:(?:and|so|but|ok|okay)[,\s]+)?(?:what|which)\s+[\w-]+\s+"
        r"(?=(?:do|does|is|are|will|would|can|did)\b)",
        " ",
        text,
    )
    words = name_stems(text)
    if len(words) < 2:
        return None
    preferred = set(turn.state.last_list) | {e.item_id for e in turn.view.purchases}
    best: tuple[int, bool, str] | None = None
    for item_id, title_words in ctx.catalog.title_words.items():
        score = len(words & name_stems(" ".join(title_words)))
        if score < 2:
            continue
        key = (score, item_id in preferred, item_id)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None or best[2] not in ctx.items:
        return None
    item = ctx.items[best[2]]
    return item, best[0], bool(name_stems(item.brand) & words)


def question_item(ctx: Context, turn: Turn) -> Item | None:
    """The one item a question is about: a position in the last list, a named item, or "it"
    (the item discussed last). A pronoun beats a loose name unless the name is strong (three
    words, or the brand): "is it good for dogs with a chicken allergy?" is about "it"."""
    item = ordinal_item(ctx, turn)
    if item is not None:
        return item
    named = named_item(ctx, turn, turn.message)
    state = turn.state
    pointed = state.last_item or (state.last_list[0] if state.last_list else None)
    if named is not None and (not _SINGULAR.search(turn.message) or named[1] >= 3 or named[2]):
        return named[0]
    if pointed is not None and _SINGULAR.search(turn.message):
        return ctx.items.get(pointed)
    return named[0] if named is not None else None


def on_explain(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    item = referenced_item(
        ctx, turn, re.sub(r"(?i)\bwhy\b|recommend\w*|suggest\w*", " ", turn.message)
    )
    if item is None and turn.state.last_list:
        # a bare "why?" after a list asks about its top pick
        item = ctx.items.get(turn.state.last_list[0])
    if item is None:
        text = "Which suggestion should I explain? Say for example \u201cwhy the second one?\u201d after I've shown you a list."
        yield text
        yield Reply(text=text, intent="explain")
        return
    view = turn.view
    due = view.due_refills(ctx.items, ctx.pipeline.repurchase, ctx.pipeline.config.replenish_factor)
    scored = Scored(item, 0.0, "explain", replenishment=item.item_id in due)
    if item.item_id in due:
        scored.evidence = [due[item.item_id][0]]
    rec = ctx.pipeline.explain(view, scored, 1)
    lines = [f"Why {item.title}: {rec.reason}"]
    events = {e.event_id: e for e in view.events}
    for eid in rec.evidence:
        ev = events.get(eid)
        if ev is not None and ev.item_id in ctx.items:
            what = "reviewed" if ev.kind == "review" else "bought"
            lines.append(
                f"- You {what} {ctx.items[ev.item_id].title} on {short_date(ev.timestamp)}."
            )
    if not rec.evidence:
        lines.append(
            "- I have no purchases of yours that relate to it; it was chosen for its popularity."
        )
    text = "\n".join(lines)
    yield text
    turn.state.last_item = item.item_id
    # the list shown stays the list (its cards stay; "and the second?" still means its second
    # item): the explained pick, with its reason and evidence, goes in data
    yield Reply(text=text, intent="explain", item_id=item.item_id, data={"explained": asdict(rec)})


def on_describe(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    """What an item is, or one fact of it ("what's it made of?"); "how much are they?" after a
    list answers for each shown item."""
    msg = turn.message
    state = turn.state
    item = question_item(ctx, turn)
    if (
        item is None
        and state.last_list
        and _PLURAL.search(msg)
        and is_item_question(msg)
        and turn.request.ordinal is None
    ):
        shown = [ctx.items[i] for i in state.last_list[:5] if i in ctx.items]
        answers = [answer(it, msg) for it in shown]
        if shown and all(answers):
            text = "\n".join(f"- {a}" for a in answers)
            yield text
            yield Reply(
                text=text,
                intent="describe",
                data={"answers": {it.item_id: a for it, a in zip(shown, answers, strict=True)}},
            )
            return
    if item is not None:
        said = answer(item, msg)
        if said is not None:
            state.last_item = item.item_id
            yield said
            yield Reply(text=said, intent="describe", item_id=item.item_id, data={"answer": said})
            return
    ref = re.sub(
        r"(?i)\b(tell me (more )?about|what is|what's|describe|details (on|of|about)|info(rmation)? (on|about)|more about)\b",
        " ",
        turn.message,
    )
    item = item or referenced_item(ctx, turn, ref)
    if item is None:
        text = "Which product would you like to know about? Tell me its name, or pick one from a list I showed."
        yield text
        yield Reply(text=text, intent="describe")
        return
    turn.state.last_item = item.item_id
    yield from describe_parts(ctx, item, turn.view)


def describe_parts(ctx: Context, item: Item, view: UserView | None) -> Iterator[str | Reply]:
    """The fact-based description first (instant), then one grounded model-written sentence."""
    rating = ctx.store.item_review_stats(item.item_id)
    facts = item_facts(item, rating)
    text = fact_description(item, rating)
    yield text
    generated = ""
    t0 = time.perf_counter()
    if ctx.generator is not None and ctx.config.llm_descriptions and ctx.config.describe_max_tokens:
        try:
            # one sentence, the model stopped at its end (bot.tasks.describe.generated_sentence)
            generated = generated_sentence(
                ctx.generator, facts, text, ctx.config.describe_max_tokens
            )
        except Exception as exc:  # the fact-based description stands on its own
            log.warning("description generation failed: %s", exc)
    tail = "\n" + generated if generated else ""
    if view is not None:
        own = next((e for e in reversed(view.reviews) if e.item_id == item.item_id), None)
        if own is not None and own.rating is not None:
            tail += f"\nYou rated it {own.rating:.0f}/5 on {short_date(own.timestamp)}."
        elif item.item_id in view.owned:
            tail += "\nYou already have this one."
    if tail:
        yield tail
    yield Reply(
        text=text + tail,
        intent="describe",
        item_id=item.item_id,
        timings={"describe_s": round(time.perf_counter() - t0, 4)},
        data={"facts": facts, "generated": generated},
    )


def _size(item: Item) -> str:
    m = re.search(r"\bSize:\s*([^.]+)", item.description or "") or re.search(
        r",\s*(\d+(?:\.\d+)?\s*(?:ml|g|kg|oz|l|pack|pcs|count|x\s*\d+)\b.*)$", item.title, re.I
    )
    return m.group(1).strip() if m else ""


def compare_rows(ctx: Context, chosen: list[Item]) -> list[dict[str, object]]:
    """Each item's comparable facts: price, size, brand, line/shade, rating, reorder period."""
    rows: list[dict[str, object]] = []
    for item in chosen:
        attrs = item.attributes or {}
        stats = ctx.store.item_review_stats(item.item_id)
        period = ctx.pipeline.repurchase.period_days(item)
        rows.append(
            {
                "item_id": item.item_id,
                "title": item.title,
                "price": item.price,
                "size": _size(item),
                "brand": item.brand,
                "variant": " ".join(str(attrs[k]) for k in ("line", "shade") if attrs.get(k)),
                "rating": stats,
                "reorder_days": round(period) if period else None,
            }
        )
    return rows


def on_compare(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    """Two or more shown items side by side, from their facts."""
    state = turn.state
    positions = list(turn.request.ordinals) or [1, 2]
    if len(positions) == 1:
        positions = [positions[0], 1 if positions[0] != 1 else 2]
    chosen: list[Item] = []
    for pos in positions:
        idx = len(state.last_list) - 1 if pos == -1 else pos - 1
        if 0 <= idx < len(state.last_list) and state.last_list[idx] in ctx.items:
            item = ctx.items[state.last_list[idx]]
            if item not in chosen:
                chosen.append(item)
    if len(chosen) < 2:
        text = "Which items should I compare? Ask for suggestions first, then say for example \u201ccompare the first two\u201d."
        yield text
        yield Reply(text=text, intent="compare")
        return
    rows = compare_rows(ctx, chosen)
    lines = ["Side by side:"]
    for row in rows:
        parts = [f"${row['price']:.2f}" if row["price"] is not None else "price not listed"]
        if row["size"]:
            parts.append(str(row["size"]))
        if row["variant"]:
            parts.append(str(row["variant"]))
        mean, count = cast("tuple[float, int]", row["rating"])
        if count:
            # one rating would reveal that customer's own score: only shown from three up
            parts.append(f"rated {mean:.1f}/5 by {count}" if count >= 3 else "few ratings yet")
        if row["reorder_days"]:
            parts.append(f"usually lasts about {row['reorder_days']} days")
        lines.append(f"- **{row['title']}** ({row['brand']}): " + ", ".join(parts) + ".")
    priced = [r for r in rows if r["price"] is not None]
    if len(priced) >= 2:
        cheapest = min(priced, key=lambda r: r["price"])  # type: ignore[arg-type,return-value]
        lines.append(f"The cheaper one is {cheapest['title']}.")
    text = "\n".join(lines)
    yield text
    yield Reply(
        text=text,
        intent="compare",
        data={"compared": rows},
        item_id=chosen[0].item_id,
    )


def on_basket(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    """ "Add the first one to my basket", "I'll take it": the chat places no orders; it names
    the item and its price and says where to buy it."""
    item = referenced_item(ctx, turn, turn.message)
    shop = ctx.config.service.shop_name
    if item is not None:
        price = f" (${item.price:.2f})" if item.price is not None else ""
        text = (
            f"Good choice: {item.title}{price}. I can't add things to your basket or place orders "
            f"from this chat: you'll find it under that name in {shop}."
        )
        turn.state.last_item = item.item_id
    else:
        text = (
            "I can't add things to your basket or place orders from this chat, but I can help "
            "you choose: tell me what you're after."
        )
    yield text
    yield Reply(text=text, intent="basket", item_id=item.item_id if item else None)


HANDLERS: dict[str, Handler] = {
    "basket": on_basket,
    "explain": on_explain,
    "describe": on_describe,
    "compare": on_compare,
}
