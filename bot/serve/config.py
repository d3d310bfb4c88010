"""Server settings and the concurrency gate, shared by the HTTP API and the web UI."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from bot.errors import BusyError
from knowledge.errors import ConfigError

__all__ = ["ServerConfig", "Gate", "parse_api_keys", "parse_logins"]


@dataclass(frozen=True)
class ServerConfig:
    """How the server authenticates, whom it trusts, and how much it runs at once.

    ``api_keys`` maps a key to the user it acts for; a key mapped to ``None`` is a *service key*
    (the shop's backend) whose requests name the user in ``user_header``. ``trust_user_header``
    lets key-less requests name the user in that header: only for demos or behind a proxy that
    sets it. ``auth`` (web login pairs) and ``trust_proxy_header`` apply to the web UI in shop mode.
    """

    mode: Literal["demo", "shop"] = "demo"
    api_keys: dict[str, str | None] = field(default_factory=dict)
    trust_user_header: bool = False
    user_header: str = "X-User-Id"
    auth: tuple[tuple[str, str], ...] = ()
    trust_proxy_header: bool = False
    proxy_header: str = "X-Forwarded-User"
    max_concurrency: int = 2
    busy_wait_s: float = 3.0
    queue_size: int = 16
    model_name: str = "nextneed"
    title: str = "nextneed"

    def __post_init__(self) -> None:
        if self.mode not in ("demo", "shop"):
            raise ConfigError(f"ServerConfig.mode must be 'demo' or 'shop', got {self.mode!r}")
        if not 1 <= self.max_concurrency <= 256:
            raise ConfigError(
                f"ServerConfig.max_concurrency must be 1..256, got {self.max_concurrency}"
            )
        if not 0 <= self.busy_wait_s <= 300:
            raise ConfigError(f"ServerConfig.busy_wait_s must be 0..300, got {self.busy_wait_s}")
        if not 1 <= self.queue_size <= 10_000:
            raise ConfigError(f"ServerConfig.queue_size must be 1..10000, got {self.queue_size}")
        if any(not k or len(k) < 8 for k in self.api_keys):
            raise ConfigError("ServerConfig.api_keys: every key must be at least 8 characters")
        if self.auth and self.trust_proxy_header:
            raise ConfigError("ServerConfig: use either auth (web login) or trust_proxy_header")


def parse_api_keys(specs: list[str]) -> dict[str, str | None]:
    """``["KEY=USER", "KEY"]`` -> key map; a bare key is a service key (user from the header)."""
    keys: dict[str, str | None] = {}
    for spec in specs:
        key, sep, user = spec.partition("=")
        if not key or (sep and not user):
            raise ConfigError(f"--api-key {spec!r}: use KEY=USER or KEY")
        keys[key] = user or None
    return keys


def parse_logins(specs: list[str]) -> tuple[tuple[str, str], ...]:
    """``["user:pass"]`` -> web login pairs."""
    pairs = []
    for spec in specs:
        user, sep, password = spec.partition(":")
        if not (user and sep and password):
            raise ConfigError(f"--auth {spec!r}: use USER:PASSWORD")
        pairs.append((user, password))
    return tuple(pairs)


class Gate:
    """A bounded semaphore with a short wait, shared by the HTTP API and the web UI."""

    def __init__(self, capacity: int, wait_s: float) -> None:
        self.capacity = capacity
        self.wait_s = wait_s
        self._sem = threading.BoundedSemaphore(capacity)
        self._lock = threading.Lock()
        self.running = 0

    def acquire(self) -> None:
        if not self._sem.acquire(timeout=self.wait_s):
            raise BusyError("the assistant is busy; try again in a moment")
        with self._lock:
            self.running += 1

    def release(self) -> None:
        with self._lock:
            self.running -= 1
        self._sem.release()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
