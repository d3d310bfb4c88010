"""Where a store lives: :class:`StoreConfig` (an embedded path or a Chroma server)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.errors import ConfigError
from knowledge.settings import env_settings

__all__ = ["StoreConfig", "default_store_path"]


def default_store_path() -> str:
    """``$NEXTNEED_STORE`` or ``./.nextneed/store``."""
    return env_settings().store or str(Path(".nextneed") / "store")


@dataclass(frozen=True)
class StoreConfig:
    """Where the store lives: an embedded path (default) or a Chroma server (``host`` set)."""

    path: str | None = None
    host: str | None = None
    port: int = 8000
    embedder: str = "minilm"
    prefix: str = "nextneed"
    batch_size: int = 2000

    def __post_init__(self) -> None:
        if self.host is None and self.path is None:
            object.__setattr__(self, "path", default_store_path())
        if self.host is not None and not self.host.strip():
            raise ConfigError("StoreConfig.host must be a host name or None")
        if not (0 < self.port < 65536):
            raise ConfigError(f"StoreConfig.port must be 1..65535, got {self.port}")
        if not (1 <= self.batch_size <= 5000):
            # Chroma caps one write at ~5,400 records.
            raise ConfigError(f"StoreConfig.batch_size must be 1..5000, got {self.batch_size}")
        if not self.prefix.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"StoreConfig.prefix must be alphanumeric, got {self.prefix!r}")

    @classmethod
    def from_env(cls, **overrides: Any) -> StoreConfig:
        """Read ``NEXTNEED_CHROMA_HOST``/``_PORT``, ``NEXTNEED_STORE``, ``NEXTNEED_EMBEDDER``."""
        env = env_settings()
        kw: dict[str, Any] = {}
        if env.chroma_host:
            kw["host"] = env.chroma_host
            kw["port"] = env.chroma_port
        if env.embedder:
            kw["embedder"] = env.embedder
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kw)
