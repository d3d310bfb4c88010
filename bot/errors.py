"""The nextneed exception tree, as seen from ``bot``.

The tree lives in :mod:`knowledge.errors` (``knowledge`` imports nothing from ``bot``); this
module re-exports it so bot users (UI, HTTP API, CLI) import every error from one place, and
adds the errors that only the language-model side raises.
"""

from __future__ import annotations

from knowledge.errors import (
    ConfigError,
    IngestError,
    InputError,
    ModelNotFoundError,
    NextNeedError,
    StoreError,
    StoreUnavailableError,
    UnknownItemError,
    UnknownUserError,
)

__all__ = [
    "NextNeedError",
    "ConfigError",
    "IngestError",
    "StoreError",
    "StoreUnavailableError",
    "UnknownUserError",
    "UnknownItemError",
    "ModelNotFoundError",
    "InputError",
    "GenerationError",
    "ScoringUnsupportedError",
]


class GenerationError(NextNeedError):
    """The language-model backend failed (server down or erroring, prompt too long, ...)."""


class ScoringUnsupportedError(GenerationError):
    """The backend cannot score choices in one pass (e.g. an HTTP server without logprobs)."""
