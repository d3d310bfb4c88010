"""Settings read from the environment: the one place nextneed reads ``NEXTNEED_*`` variables.

Every variable is declared here with its type; a bad value fails with a
:class:`~knowledge.errors.ConfigError` naming the variable. Values are read at each call of
:func:`env_settings` (tests and tools set variables at run time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge.errors import ConfigError

__all__ = ["EnvSettings", "env_settings", "model_cache_root"]


class EnvSettings(BaseSettings):
    """``NEXTNEED_<FIELD>`` environment variables (all optional)."""

    model_config = SettingsConfigDict(env_prefix="NEXTNEED_", extra="ignore")

    store: str | None = Field(default=None, description="embedded store directory")
    chroma_host: str | None = Field(
        default=None, description="a Chroma server instead of a directory"
    )
    chroma_port: int = Field(default=8000, ge=1, le=65535)
    embedder: Literal["minilm", "hashing"] | None = None
    embed_backend: Literal["auto", "onnx", "torch"] = "auto"
    model_dir: str | None = Field(default=None, description="cache of converted models")
    data_dir: str | None = Field(default=None, description="benchmark datasets (../shared/data)")
    llm_base_url: str | None = Field(default=None, description="an OpenAI-compatible model server")
    llm_model: str = "nextneed"
    llm_api_key: str | None = None
    api_keys: str | None = Field(default=None, description="API keys KEY=USER, comma-separated")
    auth: str | None = Field(default=None, description="logins USER:PASSWORD, comma-separated")
    proxy_secret: str | None = Field(default=None, description="the X-Proxy-Secret of the proxy")


def env_settings() -> EnvSettings:
    """The current ``NEXTNEED_*`` settings."""
    try:
        return EnvSettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "NEXTNEED_" + str(err["loc"][0]).upper() if err.get("loc") else "NEXTNEED_*"
        raise ConfigError(f"{name}: {err['msg']}") from None


def model_cache_root() -> Path:
    """``$NEXTNEED_MODEL_DIR`` or ``~/.cache/nextneed/models``."""
    return Path(
        env_settings().model_dir or Path.home() / ".cache" / "nextneed" / "models"
    ).expanduser()
