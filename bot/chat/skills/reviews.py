"""Replies to customer reviews ("reply to this review: ...").

Composed from the review's own points, not free-generated: a shop's reply must never promise
what the shop can't keep, so refunds and replacements are only ever offered "under the shop's
policy", via a person."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.chat.config import ServiceConfig
from bot.chat.context import Context, Handler, Turn
from bot.reply import Reply
from knowledge.errors import InputError
from knowledge.schema import Item

__all__ = ["HANDLERS", "review_reply", "reply_to_review", "review_points", "join_words"]


# Aspects a review can raise, with the words that signal them and what the reply says about them.
_ASPECTS: list[tuple[str, str, str]] = [
    ("delivery", r"deliver|shipping|shipped|arriv|late|took (?:too )?long|package lost", "the delivery"),
    ("packaging", r"packag|box|seal|leak|spill", "the packaging"),
    ("quality", r"broke|broken|crack|defect|fell apart|cheap(?:ly)? made|stopped working|dead|flimsy|quality", "the quality"),
    ("fit", r"too (?:small|big|large|tight|loose)|size|fit", "the size and fit"),
    ("skin", r"rash|irritat|itch|breakout|burn|sting|allerg|oily|greasy|dry(?:ing)? out", "how it suited your skin or hair"),
    ("scent", r"smell|scent|fragrance|odou?r", "the scent"),
    ("price", r"price|expensive|overpriced|value|cost", "the price"),
    ("effect", r"didn'?t work|does(?:n'?t| not) work|no (?:difference|effect)|useless|works? (?:great|well)|effective", "how well it worked"),
    ("sound", r"sound|tone|tuning|out of tune|buzz", "the sound"),
    ("taste", r"taste|flavou?r|bitter|sour|stale", "the taste"),
]  # fmt: skip
_PROMISE_WORDS = re.compile(
    r"\b(guarantee|promise|full refund|free replacement|compensat)\w*", re.I
)


def review_points(text: str) -> list[str]:
    """The aspects a review talks about, in the order the review raises them."""
    found: list[tuple[int, str]] = []
    for _name, pattern, phrase in _ASPECTS:
        m = re.search(pattern, text, re.I)
        if m:
            found.append((m.start(), phrase))
    return [phrase for _pos, phrase in sorted(found)]


def _sentiment(text: str, rating: float | None) -> str:
    if rating is not None:
        return "positive" if rating >= 4 else "negative" if rating <= 2 else "mixed"
    neg = len(
        re.findall(
            r"\b(not|never|broke|bad|poor|worst|disappoint|return|awful|terrible)\b", text, re.I
        )
    )
    pos = len(
        re.findall(r"\b(love|great|excellent|perfect|good|happy|recommend|best)\b", text, re.I)
    )
    return "positive" if pos > neg else "negative" if neg > pos else "mixed"


def reply_to_review(
    text: str, rating: float | None, item: Item | None, config: ServiceConfig
) -> tuple[str, dict[str, object]]:
    """A reply to one customer review: thanks or apology, the review's own points, no promises."""
    sentiment = _sentiment(text, rating)
    points = review_points(text)
    about = f" for your review of {item.title}" if item else " for your review"
    lines: list[str] = []
    if sentiment == "positive":
        lines.append(f"Thank you{about}! We're glad it works for you.")
        if points:
            lines.append(f"It's good to hear what you said about {join_words(points)}.")
    elif sentiment == "negative":
        lines.append(f"Thank you{about}, and we're sorry it disappointed you.")
        if points:
            lines.append(
                f"We've noted what you said about {join_words(points)} and passed it to the team."
            )
        lines.append(
            f"If you'd like help with a return or replacement under {config.shop_name}'s policy, "
            f"please contact {config.support_contact} with your order details."
        )
    else:
        lines.append(f"Thank you{about}.")
        if points:
            lines.append(
                f"We appreciate the detail on {join_words(points)}; it helps other customers and us."
            )
        lines.append(f"If anything isn't right, {config.support_contact} is happy to help.")
    lines.append(f"\u2014 {config.signature}")
    reply = " ".join(lines[:-1]) + "\n" + lines[-1]
    assert not _PROMISE_WORDS.search(reply)  # a template change must never add a promise
    return reply, {"sentiment": sentiment, "points": points}


def join_words(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


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
