"""The nextneed exception tree, as seen from ``bot``.

The tree lives in :mod:`knowledge.errors` (``knowledge`` imports nothing from ``bot``); this
module re-exports it so bot users (UI, HTTP API, CLI) import every error from one place, and
adds the errors only ``bot`` raises (model backend, server, dialog files).
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
    "BusyError",
    "AuthError",
    "DialogFileError",
]


class GenerationError(NextNeedError):
    """The language-model backend failed (server down or erroring, prompt too long, ...)."""


class ScoringUnsupportedError(GenerationError):
    """The backend cannot score choices in one pass (e.g. an HTTP server without logprobs)."""


class BusyError(NextNeedError):
    """Every assistant slot stayed busy beyond the short wait; the caller should retry."""


class AuthError(NextNeedError):
    """A request has no valid API key, or no identity this server is configured to accept."""


class DialogFileError(NextNeedError, ValueError):
    """A dialog file is malformed: the message names the file, line and column."""
