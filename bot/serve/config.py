"""Server settings and the concurrency gate, shared by the HTTP API and the web UI."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from bot.serve.limits import Gate
from knowledge.errors import ConfigError

__all__ = [
    "ServerConfig",
    "Gate",
    "MIN_KEY_CHARS",
    "parse_api_keys",
    "parse_logins",
    "read_secret_lines",
]


# API keys shorter than this are refused: a key is the only secret of a caller (32 random
# hex characters, `python -c "import secrets; print(secrets.token_hex(16))"`, are plenty).
MIN_KEY_CHARS = 16


@dataclass(frozen=True)
class ServerConfig:
    """How the server authenticates, whom it trusts, and how much it runs at once.

    ``api_keys`` maps a key to the user it acts for; a key mapped to ``None`` is a *service key*
    (the shop's backend) whose requests name the user in ``user_header``. ``trust_user_header``
    lets key-less requests name the user in that header: only for demos or behind a proxy that
    sets it. ``auth`` (web login pairs) and ``trust_proxy_header`` apply to the web UI in shop
    mode; API keys, logins and the proxy header need shop mode (demo mode lets anyone pick any
    customer, so they would protect nothing). The proxy header is believed only from
    ``trusted_proxies`` (addresses or networks) or with ``proxy_secret`` in
    ``proxy_secret_header``.

    Limits (docs/security.md): ``max_body_bytes`` per request body (also the upload limit),
    ``rate_per_s``/``rate_burst`` per caller (API key, else address; 0 switches it off),
    ``max_waiting_per_caller`` calls queued for the assistant per caller,
    ``login_max_failures`` wrong passwords or keys per address in ``login_window_s``.
    ``cors_origins``: other sites allowed to call the API from a browser (none by default);
    ``allowed_hosts``: Host names served (demo default: the localhost names; ``"*"`` any).
    """

    mode: Literal["demo", "shop"] = "demo"
    api_keys: dict[str, str | None] = field(default_factory=dict)
    trust_user_header: bool = False
    user_header: str = "X-User-Id"
    auth: tuple[tuple[str, str], ...] = ()
    trust_proxy_header: bool = False
    proxy_header: str = "X-Forwarded-User"
    trusted_proxies: tuple[str, ...] = ()
    proxy_secret: str = ""
    proxy_secret_header: str = "X-Proxy-Secret"
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_body_bytes: int = 1_000_000
    rate_per_s: float = 10.0
    rate_burst: int = 50
    max_waiting_per_caller: int = 4
    login_max_failures: int = 10
    login_window_s: float = 60.0
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
        if any(not k or len(k) < MIN_KEY_CHARS for k in self.api_keys):
            raise ConfigError(
                f"ServerConfig.api_keys: every key must be at least {MIN_KEY_CHARS} characters"
            )
        if self.auth and self.trust_proxy_header:
            raise ConfigError("ServerConfig: use either auth (web login) or trust_proxy_header")
        if self.mode == "demo" and (self.api_keys or self.auth or self.trust_proxy_header):
            given = [n for n in ("api_keys", "auth", "trust_proxy_header") if getattr(self, n)]
            raise ConfigError(
                f"ServerConfig: {', '.join(given)} given in demo mode, where the web UI lets "
                "anyone pick any customer, so they would protect nothing; set mode='shop' "
                "(app.py --mode shop) with a web login (auth or trust_proxy_header)"
            )
        if self.trust_proxy_header and not (self.trusted_proxies or self.proxy_secret):
            raise ConfigError(
                "ServerConfig.trust_proxy_header needs trusted_proxies (the proxy's addresses, "
                "app.py --trusted-proxy 127.0.0.1) or a proxy_secret the proxy sends in "
                f"{self.proxy_secret_header}; otherwise any client could name any customer"
            )
        if self.proxy_secret and len(self.proxy_secret) < MIN_KEY_CHARS:
            raise ConfigError(
                f"ServerConfig.proxy_secret must be at least {MIN_KEY_CHARS} characters"
            )
        for net in self.trusted_proxies:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(
                    f"ServerConfig.trusted_proxies: {net!r} is not an address or network"
                ) from None
        for origin in self.cors_origins:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
                raise ConfigError(
                    f"ServerConfig.cors_origins: {origin!r} is not an origin like "
                    "https://shop.example ('*' is not allowed)"
                )
        if not 1_000 <= self.max_body_bytes <= 1_000_000_000:
            raise ConfigError(
                f"ServerConfig.max_body_bytes must be 1000..1e9, got {self.max_body_bytes}"
            )
        if self.rate_per_s < 0 or self.rate_burst < 1:
            raise ConfigError("ServerConfig.rate_per_s must be >= 0 and rate_burst >= 1")
        if self.max_waiting_per_caller < 1 or self.login_max_failures < 1:
            raise ConfigError(
                "ServerConfig.max_waiting_per_caller and login_max_failures must be >= 1"
            )


def parse_api_keys(specs: list[str]) -> dict[str, str | None]:
    """``["KEY=USER", "KEY"]`` -> key map; a bare key is a service key (user from the header)."""
    keys: dict[str, str | None] = {}
    for spec in specs:
        key, sep, user = spec.partition("=")
        if not key or (sep and not user):
            raise ConfigError(f"--api-key {spec[:4]}...: use KEY=USER or KEY")
        keys[key] = user or None
    return keys


def parse_logins(specs: list[str]) -> tuple[tuple[str, str], ...]:
    """``["user:pass"]`` -> web login pairs."""
    pairs = []
    for spec in specs:
        user, sep, password = spec.partition(":")
        if not (user and sep and password):
            raise ConfigError(f"--auth {user or '?'}:...: use USER:PASSWORD")
        pairs.append((user, password))
    return tuple(pairs)


def read_secret_lines(path: str | Path | None, what: str) -> list[str]:
    """The non-empty, non-comment lines of a secrets file (``--api-key-file``,
    ``--auth-file``; none when ``path`` is None): secrets given as flags show in ``ps``."""
    if path is None:
        return []
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{what} {p}: {exc.strerror or exc}") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
