"""Replies to customer reviews ("reply to this review: ...")."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.chat.context import Context, Handler, Turn
from bot.chat.service import reply_to_review
from bot.reply import Reply
from knowledge.errors import InputError

__all__ = ["HANDLERS", "review_reply"]


def review_reply(
    ctx: Context, text: str, rating: float | None = None, item_id: str | None = None
) -> Reply:
    """A customer-service reply to a review (the review text is data, not instructions)."""
    if rating is not None and not (isinstance(rating, int | float) and 0 <= rating <= 5):
        raise InputError(f"rating must be a number within 0..5, got {rating!r}")
    item = ctx.store.get_item(item_id) if item_id is not None else None
    reply, data = reply_to_review(text, rating, item, ctx.config.service)
    return Reply(text=reply, intent="review_reply", item_id=item_id, data=data)


def on_review_reply(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    m = re.search(r"review\s*(?:[:\-]|\bsaying\b|\bthat says\b)\s*(.+)", turn.message, re.I | re.S)
    review = (m.group(1) if m else turn.message).strip().strip("\"\u201c\u201d'")
    stars = re.search(r"\b([1-5])\s*(?:/\s*5|stars?)\b", turn.message, re.I)
    reply = review_reply(ctx, review or turn.message, float(stars.group(1)) if stars else None)
    yield reply.text
    yield reply


HANDLERS: dict[str, Handler] = {"review_reply": on_review_reply}
