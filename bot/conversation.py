"""Conversation state, derived from the turns themselves.

The assistant is stateless between calls: constraints and the last shown list are re-read from
the OpenAI-style history each turn, so the web UI, the HTTP API and scripted dialogs all behave
the same, and nothing about one conversation can leak into another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.constraints import Constraints, parse_constraints
from bot.history import UserView
from bot.intents import Routed, ordinal
from knowledge.errors import InputError

__all__ = ["ConversationState", "Turn", "read_state", "clean_message", "LIST_LINE"]

# The assistant writes its lists as "1. Title ($12.00) - reason"; the title is recovered from it.
# Group 1: position, 2: title, 3: price when shown.
LIST_LINE = re.compile(r"^\s*(\d{1,2})\.\s+\*\*(.+?)\*\*(?:\s*\(\$(\d+(?:\.\d+)?)\))?", re.M)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ASKED_PREFERENCES = "To get you started"


@dataclass
class ConversationState:
    """What earlier turns established."""

    constraints: Constraints = field(default_factory=Constraints)
    last_list: list[str] = field(default_factory=list)  # item ids shown last, in order
    shown: list[str] = field(default_factory=list)  # every item id shown in this conversation
    asked_preferences: bool = False
    stated_preferences: str = ""
    last_item: str | None = None  # item discussed last (described/explained)
    last_prices: list[float | None] = field(default_factory=list)  # prices of last_list
    truncated: bool = False


def clean_message(message: Any, max_chars: int) -> str:
    """Validate one user message: a non-empty string of at most ``max_chars`` characters."""
    if not isinstance(message, str):
        raise InputError(f"message must be a string, got {type(message).__name__}")
    if "\x00" in message:
        raise InputError("message contains binary data (NUL bytes); send plain text")
    text = _CONTROL.sub(" ", message).strip()
    if not text:
        raise InputError("message is empty; type a question or request")
    if len(text) > max_chars:
        raise InputError(f"message is {len(text)} characters long; the limit is {max_chars}")
    return text


def _content(turn: Any) -> str:
    content = turn.get("content", "")
    if isinstance(content, list):  # Gradio 6 / OpenAI content blocks
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return content if isinstance(content, str) else ""


def read_state(
    history: list[dict[str, Any]] | None,
    title_index: dict[str, str],
    brands: frozenset[str],
    categories: dict[str, str],
    max_turns: int,
) -> ConversationState:
    """Rebuild the state from earlier turns (oldest first)."""
    state = ConversationState()
    if not history:
        return state
    if not isinstance(history, list) or not all(isinstance(t, dict) for t in history):
        raise InputError("history must be a list of {'role': ..., 'content': ...} objects")
    if len(history) > max_turns:
        history = history[-max_turns:]
        state.truncated = True
    for turn in history:
        role, text = turn.get("role"), _content(turn)
        if role == "user":
            cons, cheaper = parse_constraints(text, brands, categories)
            state.constraints = state.constraints.merge(cons)
            if cheaper and state.last_prices:
                # "something cheaper" holds for the rest of the conversation ("another option"
                # after it must not go back up in price)
                state.constraints = state.constraints.with_cheaper_than(
                    _cheaper_limit(state.last_prices, ordinal(text))
                )
            if state.asked_preferences and not state.stated_preferences:
                state.stated_preferences = text
        elif role == "assistant":
            listed = [
                (title_index[t.strip().lower()], float(p) if p else None)
                for _n, t, p in LIST_LINE.findall(text)
                if t.strip().lower() in title_index
            ]
            if listed:
                ids = [item_id for item_id, _p in listed]
                state.last_list = ids
                state.last_prices = [p for _i, p in listed]
                state.shown.extend(i for i in ids if i not in state.shown)
            if ASKED_PREFERENCES in text:
                state.asked_preferences = True
            meta = turn.get("nextneed") or turn.get("metadata") or {}
            if isinstance(meta, dict) and meta.get("item_id"):
                state.last_item = str(meta["item_id"])
    return state


def _cheaper_limit(prices: list[float | None], pos: int | None) -> float | None:
    """The price "cheaper" referred to: the named item's ("cheaper than the second one"),
    else the cheapest of the list."""
    if pos is not None:
        idx = len(prices) - 1 if pos == -1 else pos - 1
        if 0 <= idx < len(prices) and prices[idx] is not None:
            return prices[idx]
    known = [p for p in prices if p is not None]
    return min(known) if known else None


@dataclass
class Turn:
    """One message being answered: who asked, what, their history and the conversation so far."""

    user_id: str
    message: str
    view: UserView
    state: ConversationState
    routed: Routed
    started: float
