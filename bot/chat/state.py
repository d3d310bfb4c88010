"""Dialogue state: what a conversation knows, as data.

Each turn starts from the previous turn's :class:`DialogueState` and returns a new one with the
reply. Nothing is recovered by parsing text the user saw: the state travels with the reply (the
HTTP API's ``nextneed.state``, the web UI's session), and an integrator that sends only the
OpenAI-style message history gets it back from :class:`StateMemo`, which remembers the state each
reply produced, keyed by the reply's exact text.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from bot.recsys.constraints import Constraints
from knowledge.errors import InputError

__all__ = [
    "DialogueState",
    "StateMemo",
    "clean_message",
    "message_content",
    "CONTROL_CHARS",
    "STATE_VERSION",
]

STATE_VERSION = 1
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_IDS = 200  # items remembered as shown; older ones fall off
_MAX_TEXT = 500


@dataclass
class DialogueState:
    """What earlier turns of one conversation established."""

    constraints: Constraints = field(default_factory=Constraints)
    last_list: list[str] = field(default_factory=list)  # item ids shown last, in order
    last_prices: list[float | None] = field(default_factory=list)  # their prices
    shown: list[str] = field(default_factory=list)  # every item id shown so far
    last_item: str | None = None  # the item described or explained last
    asked_preferences: bool = False  # the assistant asked a new customer what they shop for
    stated_preferences: str = ""  # their answer
    need: str = ""  # what the current topic asks for, in the customer's words
    need_categories: list[str] = field(default_factory=list)  # catalog departments it maps to
    recipient: str = ""  # shopping for someone else ("sister"): their needs, not the history's
    facts: list[str] = field(default_factory=list)  # what the customer said about themselves
    fact_topic: bool = False  # the current topic began with a stated fact ("I have a dog")
    not_that: list[str] = field(default_factory=list)  # items waved off in this topic
    owned_things: list[str] = field(default_factory=list)  # "my espresso machine" (said, not sold)
    recorded: list[str] = field(default_factory=list)  # event ids this conversation wrote
    language: str = "en"
    turns: int = 0
    truncated: bool = False  # the history sent was longer than the assistant reads

    def new_topic(self) -> None:
        """A different need: the previous topic's constraints and list no longer apply."""
        avoid = self.constraints.avoid
        self.constraints = Constraints(avoid=avoid)
        self.need, self.need_categories, self.recipient = "", [], ""
        self.fact_topic = False
        self.not_that = []
        self.last_list, self.last_prices = [], []

    def show(self, item_ids: list[str], prices: list[float | None]) -> None:
        """Record a list shown to the customer (what "the second one" refers to next)."""
        self.last_list = list(item_ids)
        self.last_prices = list(prices)
        self.shown = [i for i in self.shown if i not in item_ids] + list(item_ids)
        self.shown = self.shown[-_MAX_IDS:]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["constraints"] = self.constraints.to_dict()
        data["version"] = STATE_VERSION
        return data

    @classmethod
    def from_dict(cls, data: Any) -> DialogueState:
        """The state from its JSON form; a malformed one is an :class:`InputError` naming the
        field."""
        if not isinstance(data, dict):
            raise InputError("state must be a JSON object (the nextneed.state of a reply)")
        if data.get("version", STATE_VERSION) != STATE_VERSION:
            raise InputError(
                f"state.version {data.get('version')!r} is not {STATE_VERSION}; send the state "
                "of a reply from this server, or none"
            )
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - {"version"}
        if unknown:
            raise InputError(f"state has unknown fields: {', '.join(sorted(unknown))}")
        out = cls()
        try:
            out.constraints = Constraints.from_dict(data.get("constraints") or {})
            out.last_list = _ids(data.get("last_list", []), "last_list")
            out.shown = _ids(data.get("shown", []), "shown")
            out.last_prices = [
                None if p is None else float(_number(p, "last_prices"))
                for p in _list(data.get("last_prices", []), "last_prices")
            ][: len(out.last_list)]
            last_item = data.get("last_item")
            out.last_item = None if last_item is None else _ids([last_item], "last_item")[0]
            out.asked_preferences = _bool(data.get("asked_preferences", False), "asked_preferences")
            out.fact_topic = _bool(data.get("fact_topic", False), "fact_topic")
            out.stated_preferences = _text(data.get("stated_preferences", ""), "stated_preferences")
            out.need = _text(data.get("need", ""), "need")
            out.need_categories = [
                _text(c, "need_categories")
                for c in _list(data.get("need_categories", []), "need_categories")
            ][:10]
            out.recipient = _text(data.get("recipient", ""), "recipient")
            out.facts = [_text(f, "facts") for f in _list(data.get("facts", []), "facts")][:10]
            out.recorded = _ids(data.get("recorded", []), "recorded")
            out.not_that = _ids(data.get("not_that", []), "not_that")
            out.owned_things = [
                _text(t, "owned_things")
                for t in _list(data.get("owned_things", []), "owned_things")
            ][:10]
            out.language = _text(data.get("language", "en"), "language")[:8]
            out.turns = int(_number(data.get("turns", 0), "turns"))
            out.truncated = _bool(data.get("truncated", False), "truncated")
        except (TypeError, ValueError) as exc:
            raise InputError(f"state: {exc}") from exc
        return out

    def copy(self) -> DialogueState:
        return replace(
            self,
            last_list=list(self.last_list),
            last_prices=list(self.last_prices),
            shown=list(self.shown),
            need_categories=list(self.need_categories),
            facts=list(self.facts),
            owned_things=list(self.owned_things),
            recorded=list(self.recorded),
        )


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > _MAX_IDS:
        raise InputError(f"state.{name} must be a list of at most {_MAX_IDS} values")
    return value


def _ids(value: Any, name: str) -> list[str]:
    out = []
    for v in _list(value, name):
        if not isinstance(v, str) or not 0 < len(v) <= 256:
            raise InputError(f"state.{name} must hold item ids (strings of 1-256 characters)")
        out.append(v)
    return out


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"state.{name} must be a number, got {value!r}")
    return float(value)


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"state.{name} must be true or false, got {value!r}")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise InputError(f"state.{name} must be a string of at most {_MAX_TEXT} characters")
    return CONTROL_CHARS.sub(" ", value)


class StateMemo:
    """The state each reply produced, keyed by (user, exact reply text); bounded, thread-safe.

    Lets a client that resends only the message history continue a conversation: the state is
    looked up by the last assistant message, never re-read from its wording."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, DialogueState] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(user_id: str, text: str) -> str:
        return hashlib.sha256(f"{user_id}\0{text.strip()}".encode()).hexdigest()

    def put(self, user_id: str, text: str, state: DialogueState) -> None:
        with self._lock:
            key = self._key(user_id, text)
            self._items[key] = state.copy()
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, user_id: str, text: str) -> DialogueState | None:
        with self._lock:
            state = self._items.get(self._key(user_id, text))
            return state.copy() if state is not None else None

    def forget_user(self, user_id: str) -> None:
        """Drop everything (keys are hashed, so one user's entries can't be picked out)."""
        with self._lock:
            self._items.clear()


def clean_message(message: Any, max_chars: int) -> str:
    """Validate one user message: a non-empty string of at most ``max_chars`` characters."""
    if not isinstance(message, str):
        raise InputError(f"message must be a string, got {type(message).__name__}")
    if "\x00" in message:
        raise InputError("message contains binary data (NUL bytes); send plain text")
    text = CONTROL_CHARS.sub(" ", message).strip()
    if not text:
        raise InputError("message is empty; type a question or request")
    if len(text) > max_chars:
        raise InputError(f"message is {len(text)} characters long; the limit is {max_chars}")
    return text


def message_content(turn: dict[str, Any]) -> str:
    """The text of one OpenAI-style message (plain string or content blocks)."""
    content = turn.get("content", "")
    if isinstance(content, list):  # Gradio 6 / OpenAI content blocks
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return content if isinstance(content, str) else ""
