"""The data model: catalog items and user events.

Events are append-only facts about one user: a purchase, a review (text and/or rating), or
feedback ("not_interested", "owned", "thumbs_up", "thumbs_down"). Each has a timestamp in Unix
seconds and an ``order`` that breaks same-timestamp ties in the order the source gave them
(Amazon timestamps are day-level, and the file order is the true sequence order).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from knowledge.errors import InputError

__all__ = [
    "EVENT_KINDS",
    "FEEDBACK_KINDS",
    "MAX_TEXT_CHARS",
    "USER_ID_RULE",
    "USER_ID_HINT",
    "check_user_id",
    "Item",
    "Event",
    "EventKind",
    "event_id",
]

EventKind = Literal["purchase", "review", "feedback"]
EVENT_KINDS: tuple[str, ...] = ("purchase", "review", "feedback")
# "allow": the customer lifted the preferences read from their review of this item
FEEDBACK_KINDS: tuple[str, ...] = (
    "not_interested", "owned", "thumbs_up", "thumbs_down", "bought", "allow",
)  # fmt: skip
# Longer review/description text is refused by ingest (reported per row), not truncated silently.
MAX_TEXT_CHARS = 20_000
# One customer-id rule for ingest and serving: what ingest stores, the server can export and
# forget (ids with spaces, slashes or markup were stored and then refused by /api/export).
USER_ID_RULE = re.compile(r"[\w.@:+-]{1,128}")
USER_ID_HINT = "1-128 characters of letters, digits and . @ : + - _"


def check_user_id(value: object) -> str:
    """``value`` when it is a valid customer id (:data:`USER_ID_RULE`), else ``InputError``."""
    if not isinstance(value, str) or not USER_ID_RULE.fullmatch(value):
        raise InputError(f"user id must be {USER_ID_HINT}, got {str(value)[:40]!r}")
    return value


@dataclass(frozen=True)
class Item:
    """One catalog item. ``price`` is in the shop's currency, ``None`` when unknown."""

    item_id: str
    title: str
    brand: str = ""
    categories: tuple[str, ...] = ()
    price: float | None = None
    description: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.item_id, str) or not self.item_id.strip():
            raise ValueError("Item.item_id must be a non-empty string")
        if self.price is not None and (not math.isfinite(self.price) or self.price < 0):
            raise ValueError(f"Item.price must be a finite number >= 0, got {self.price!r}")

    @property
    def category(self) -> str:
        """The most specific category label, or '' when there is none."""
        return self.categories[-1] if self.categories else ""

    def embedding_text(self) -> str:
        """The text embedded for semantic item search."""
        parts = [self.title]
        if self.brand:
            parts.append(f"by {self.brand}")
        if self.categories:
            parts.append("(" + ", ".join(self.categories) + ")")
        if self.description:
            parts.append("- " + self.description[:500])
        return " ".join(parts)


@dataclass(frozen=True)
class Event:
    """One thing a user did. ``detail`` holds the feedback kind for feedback events."""

    user_id: str
    item_id: str
    kind: str
    timestamp: int
    order: int = 0
    rating: float | None = None
    text: str = ""
    detail: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.user_id, str) or not self.user_id.strip():
            raise ValueError("Event.user_id must be a non-empty string")
        if not isinstance(self.item_id, str) or not self.item_id.strip():
            raise ValueError("Event.item_id must be a non-empty string")
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"Event.kind must be one of {EVENT_KINDS}, got {self.kind!r}")
        if self.kind == "feedback" and self.detail not in FEEDBACK_KINDS:
            raise ValueError(f"Event.detail for feedback must be one of {FEEDBACK_KINDS}")
        if self.rating is not None and not (0.0 <= self.rating <= 5.0):
            raise ValueError(f"Event.rating must be within 0..5, got {self.rating!r}")

    @property
    def event_id(self) -> str:
        return event_id(self)


def event_id(event: Event) -> str:
    """A deterministic id: re-ingesting the same row gives the same id (so upsert is a no-op)."""
    key = "\x1f".join(
        [event.user_id, event.item_id, event.kind, str(event.timestamp), event.detail]
    )
    return "e-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]
