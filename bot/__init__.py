"""nextneed's assistant: dialogue, recommendations and the language model's tasks.

    from bot import Assistant, AssistantConfig
    from knowledge import StoreConfig
    assistant = Assistant.from_config(AssistantConfig(store=StoreConfig(path="shop-store")))
    reply = assistant.chat("u0001", "What should I get next?")
    follow_up = assistant.chat("u0001", "Something cheaper?", state=reply.state)

Sub-packages, from the bottom up: ``recsys`` (candidate stage, pipeline, constraints) and
``llm`` (model loading and generation), ``tasks`` (the model's prompts and jobs), ``chat`` (the
dialogue), ``serve`` (HTTP API and web UI) and ``evaluate`` (scripted dialogs). Names below load
on first use, so ``import bot`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bot.errors import (
    AuthError,
    BusyError,
    ConfigError,
    GenerationError,
    InputError,
    ModelNotFoundError,
    NextNeedError,
    UnknownItemError,
    UnknownUserError,
)

if TYPE_CHECKING:
    from bot.chat.assistant import Assistant
    from bot.chat.config import AssistantConfig
    from bot.chat.state import DialogueState
    from bot.llm.model import ModelConfig
    from bot.reply import Recommendation, Reply, ReplyChunk

__all__ = [
    "Assistant",
    "AssistantConfig",
    "DialogueState",
    "ModelConfig",
    "Reply",
    "ReplyChunk",
    "Recommendation",
    "NextNeedError",
    "ConfigError",
    "InputError",
    "ModelNotFoundError",
    "GenerationError",
    "BusyError",
    "AuthError",
    "UnknownItemError",
    "UnknownUserError",
]

_LAZY = {
    "Assistant": "bot.chat.assistant",
    "AssistantConfig": "bot.chat.config",
    "DialogueState": "bot.chat.state",
    "ModelConfig": "bot.llm.model",
    "Reply": "bot.reply",
    "ReplyChunk": "bot.reply",
    "Recommendation": "bot.reply",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
