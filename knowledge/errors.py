"""The nextneed exception tree.

Every error the project raises on purpose derives from :class:`NextNeedError`, so callers
(UI, HTTP API, CLI) can catch one type and show its message, which always says what was
wrong, where, and what to do.
"""

from __future__ import annotations

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
]


class NextNeedError(Exception):
    """Root of every error nextneed raises on purpose."""


class ConfigError(NextNeedError, ValueError):
    """A configuration field has a bad value."""


class IngestError(NextNeedError):
    """An input file cannot be ingested (missing columns, unreadable file, bad encoding)."""


class StoreError(NextNeedError):
    """The knowledge store refused an operation or holds inconsistent data."""


class StoreUnavailableError(StoreError):
    """The Chroma store (embedded path or server) cannot be reached."""


class UnknownUserError(StoreError, KeyError):
    """A user id has no events in the store."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0]) if self.args else "unknown user"


class UnknownItemError(StoreError, KeyError):
    """An item id is not in the catalog."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown item"


class ModelNotFoundError(NextNeedError):
    """A model or adapter path/id is missing or corrupt."""


class InputError(NextNeedError, ValueError):
    """A chat message or API request is malformed, empty or too long."""
