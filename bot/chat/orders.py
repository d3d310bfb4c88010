"""Order questions ("when did I last buy diapers?") and complaints about an order.

Every read goes through ``turn.view``: the asking customer's own events only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.chat.context import Context, Handler, Turn
from bot.chat.service import complaint_reply, order_answer
from bot.recsys.catalog import STOP_WORDS, query_from
from bot.reply import Reply
from knowledge.schema import Event, Item

__all__ = ["HANDLERS", "history_matches"]


def history_matches(ctx: Context, turn: Turn, text: str) -> list[tuple[Event, Item]]:
    items = ctx.items
    words = {
        w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP_WORDS and len(w) > 2
    }
    words -= {
        "did",
        "ever",
        "when",
        "order",
        "ordered",
        "bought",
        "purchase",
        "purchased",
        "last",
        "previous",
        "past",
        "recent",
        "history",
    }
    out = []
    for e in reversed(turn.view.purchases):
        item = items.get(e.item_id)
        if item is None or not words:
            continue
        title = set(
            re.findall(r"[a-z0-9]+", (item.title + " " + " ".join(item.categories)).lower())
        )
        stems = {t.rstrip("s") for t in title}
        if any(w in title or w.rstrip("s") in stems for w in words):
            out.append((e, item))
    return out


def on_order_question(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    asked = query_from(
        re.sub(
            r"(?i)\b(did i|when did i|have i|what did i|ever|buy|bought|order(ed)?|purchase[d]?|get)\b",
            " ",
            turn.message,
        )
    )
    matches = history_matches(ctx, turn, asked)
    items = ctx.items
    recent = [(e, items[e.item_id]) for e in reversed(turn.view.purchases) if e.item_id in items]
    text = order_answer(matches, asked, recent)
    yield text
    yield Reply(
        text=text,
        intent="order_question",
        data={"orders": [e.event_id for e, _ in (matches or recent[:5])]},
    )


def on_complaint(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    matches = history_matches(ctx, turn, turn.message)
    order = matches[0] if matches else None
    text = complaint_reply(turn.message, order, ctx.config.service)
    yield text
    yield Reply(
        text=text,
        intent="complaint",
        item_id=order[1].item_id if order else None,
        data={"escalate": True, "order_event": order[0].event_id if order else None},
    )


HANDLERS: dict[str, Handler] = {"order_question": on_order_question, "complaint": on_complaint}
