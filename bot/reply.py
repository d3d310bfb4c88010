"""Typed, JSON-serialisable replies: what every adapter (UI, HTTP, CLI, evaluator) receives.

One schema: the HTTP API serves these dataclasses as they are (pydantic reads dataclasses), and
:meth:`Reply.from_dict` reads the JSON form back (the evaluator's HTTP target).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Recommendation", "Reply", "ReplyChunk", "INTENTS"]

INTENTS: tuple[str, ...] = (
    "recommend",
    "refine",
    "explain",
    "describe",
    "profile",
    "forget",
    "review_reply",
    "order_question",
    "complaint",
    "feedback",
    "cold_start",
    "greeting",
    "off_topic",
    "unclear",
    "compare",
    "unsupported_language",
    "lift_preference",
    "basket",
)


@dataclass
class Recommendation:
    """One recommended catalog item. ``evidence`` holds ids of the asking user's own events."""

    item_id: str
    title: str
    rank: int
    score: float
    reason: str
    evidence: list[str] = field(default_factory=list)
    need: str = ""
    price: float | None = None
    category: str = ""
    brand: str = ""
    replenishment: bool = False
    source: str = ""


@dataclass
class Reply:
    """The assistant's answer to one turn."""

    text: str
    intent: str
    recommendations: list[Recommendation] = field(default_factory=list)
    need: str = ""
    item_id: str | None = None
    constraints: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    # the conversation's state after this turn (bot.chat.state.DialogueState.to_dict()); send it
    # back with the next message to continue the conversation
    state: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        """A Reply from its JSON form; unknown keys are ignored."""
        from pydantic import TypeAdapter

        return TypeAdapter(cls).validate_python(data)


@dataclass
class ReplyChunk:
    """A piece of a streamed reply: text deltas first, then one final chunk with the reply."""

    delta: str = ""
    reply: Reply | None = None
