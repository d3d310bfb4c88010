"""Customer-service texts: replies to reviews, complaint answers, order-history answers.

These are composed from the facts at hand (the review's own points, the user's own orders), not
free-generated: a shop's reply must never promise what the shop can't keep, so refunds and
replacements are only ever offered "under the shop's policy", via a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.schema import Event, Item

__all__ = ["ServiceConfig", "review_points", "reply_to_review", "complaint_reply"]

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


@dataclass(frozen=True)
class ServiceConfig:
    """Shop details used in customer-service replies."""

    shop_name: str = "our shop"
    support_contact: str = "our support team via the Help page"
    signature: str = "The nextneed shop team"


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
            lines.append(f"It's good to hear what you said about {_join(points)}.")
    elif sentiment == "negative":
        lines.append(f"Thank you{about}, and we're sorry it disappointed you.")
        if points:
            lines.append(
                f"We've noted what you said about {_join(points)} and passed it to the team."
            )
        lines.append(
            f"If you'd like help with a return or replacement under {config.shop_name}'s policy, "
            f"please contact {config.support_contact} with your order details."
        )
    else:
        lines.append(f"Thank you{about}.")
        if points:
            lines.append(
                f"We appreciate the detail on {_join(points)}; it helps other customers and us."
            )
        lines.append(f"If anything isn't right, {config.support_contact} is happy to help.")
    lines.append(f"\u2014 {config.signature}")
    reply = " ".join(lines[:-1]) + "\n" + lines[-1]
    assert not _PROMISE_WORDS.search(reply)  # a template change must never add a promise
    return reply, {"sentiment": sentiment, "points": points}


def complaint_reply(message: str, order: tuple[Event, Item] | None, config: ServiceConfig) -> str:
    """A polite answer to a complaint, with the matching order if we found one and a way to a person."""
    points = review_points(message)
    parts = ["I'm sorry about this."]
    if order is not None:
        event, item = order
        parts.append(f"I can see your order of {item.title} ({_date(event.timestamp)}).")
    if points:
        parts.append(f"I've noted the problem with {_join(points)}.")
    parts.append(
        f"To sort it out, please contact {config.support_contact}: a person will review the order "
        f"and the options under {config.shop_name}'s return policy. "
        "If you tell me what went wrong, I can also help you find an alternative."
    )
    return " ".join(parts)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _date(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d %b %Y")
