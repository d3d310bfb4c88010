"""The model's review reply: a short customer-service answer to one review, checked before use.

The prompt is :func:`bot.tasks.prompts.review_reply_messages` (shared with fine-tuning). What
the model writes is kept only if :func:`reply_checks` passes: the reply answers the kind of
review it is (thanks for praise; apology and a concrete next step for a complaint; escalation
wording for a safety or health report) and invents nothing (no number, price, refund,
replacement, guarantee or "free" that the review does not mention). A reply that fails is
dropped and the caller keeps its template reply (``bot.chat.skills.reviews``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.tasks.prompts import review_reply_messages

if TYPE_CHECKING:
    from bot.llm.generation import Generator

__all__ = [
    "REPLY_MAX_NEW_TOKENS",
    "review_kind",
    "reply_checks",
    "model_reply",
    "review_reply_messages",
]

REPLY_MAX_NEW_TOKENS = 72  # three short sentences; the grammar's longest target is ~60 tokens

# A report that someone (or a pet) was harmed: escalate, never just "sorry it disappointed you".
SAFETY = re.compile(
    r"\b(sick|ill\b|vomit\w*|throw\w* up|threw up|diarrh\w*|rash\w*|hives|allerg\w*|"
    r"reaction|swell\w*|swollen|burn(?:ed|t|s|ing)?\b|blister\w*|bleed\w*|choke\w*|choking|"
    r"poison\w*|hospital|vet\b|doctor|injur\w*|hurt|cut (?:my|his|her|their)|itch\w*)",
    re.I,
)
_COMPLAINT = re.compile(
    r"\b(late|broke\w*|broken|crack\w*|leak\w*|damaged|stopped working|missing|wrong|"
    r"not work\w*|didn'?t work|doesn'?t work|disappoint\w*|poor|worst|faulty|defect\w*|"
    r"returned|useless|expected (?:a bit )?more|pricey|get used to|catch|stale|flimsy)\b",
    re.I,
)
_APOLOGY = re.compile(r"\b(sorry|apolog\w*)\b", re.I)
_THANKS = re.compile(r"\b(thank\w*|grateful|appreciate\w*)\b", re.I)
_NEXT_STEP = re.compile(
    r"\b(contact|reach out|get in touch|customer service|support team|order (?:number|details))\b",
    re.I,
)
_ESCALATION = re.compile(
    r"\b(safety team|escalat\w*|stop using|vet\b|veterinarian|doctor|medical)\b", re.I
)
# Promises and money: allowed only where the review itself says the word.
_PROMISE = re.compile(
    r"\b(refund\w*|guarantee\w*|promise\w*|compensat\w*|free|discount\w*|voucher\w*|"
    r"coupon\w*|credit|money back|reimburs\w*|within \d+|by tomorrow|next week)\b",
    re.I,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_FIRST_PERSON_CUSTOMER = re.compile(r"\bI (?:bought|ordered|used|tried)\b")


def review_kind(text: str, rating: float | None) -> str:
    """ "safety", "complaint", "mixed" or "praise": what the reply has to do."""
    if SAFETY.search(text):
        return "safety"
    if rating is not None and rating <= 2:
        return "complaint"
    if rating is not None and rating >= 4 and not _COMPLAINT.search(text):
        return "praise"
    if rating is None and not _COMPLAINT.search(text):
        return "praise"
    return "mixed" if rating is not None and rating >= 3 else "complaint"


def reply_checks(
    reply: str, review: str, rating: float | None, title: str, kind: str | None = None
) -> dict[str, bool]:
    """Each check a reply must pass (all True = usable). ``kind`` overrides
    :func:`review_kind` (labelled evaluation data)."""
    kind = kind or review_kind(review, rating)
    inputs = f"{review} {title}".lower()
    numbers = set(_NUMBER.findall(inputs))
    checks = {
        "nonempty": len(reply.strip()) >= 20,
        "thanks_or_apology": bool(_THANKS.search(reply) or _APOLOGY.search(reply)),
        "apology_when_needed": kind not in ("safety", "complaint") or bool(_APOLOGY.search(reply)),
        "escalation_when_needed": kind != "safety" or bool(_ESCALATION.search(reply)),
        "next_step_when_needed": kind not in ("safety", "complaint")
        or bool(_NEXT_STEP.search(reply)),
        "no_apology_for_praise": kind != "praise" or not _APOLOGY.search(reply),
        # "stop using it and see a doctor" answers a health report, not a late parcel
        "no_escalation_without_report": kind == "safety" or not _ESCALATION.search(reply),
        "no_invented_numbers": all(n in numbers for n in _NUMBER.findall(reply)),
        "no_invented_promises": all(m.group(0).lower() in inputs for m in _PROMISE.finditer(reply)),
        "speaks_as_shop": not _FIRST_PERSON_CUSTOMER.search(reply),
    }
    return checks


def model_reply(
    generator: Generator,
    review: str,
    rating: float | None,
    title: str,
    max_new_tokens: int = REPLY_MAX_NEW_TOKENS,
) -> str:
    """The model's reply if it passes every check in :func:`reply_checks`, else ""."""
    text = generator.generate(review_reply_messages(review, rating, title), max_new_tokens)
    text = " ".join(text.split())
    return text if all(reply_checks(text, review, rating, title).values()) else ""
