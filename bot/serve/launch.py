"""Building a server from a config file and command-line overrides (``app.py``'s logic).

A shop config is TOML or YAML with optional sections, each named after the config object it
fills::

    [store]            # knowledge.StoreConfig
    path = "shop-store"
    [model]            # bot.llm.model.ModelConfig; model = "none" for no language model
    model = "default"
    quantization = "nf4"
    [pipeline]         # bot.recsys.pipeline.PipelineConfig
    n_results = 5
    [assistant]        # the other AssistantConfig fields
    max_message_chars = 2000
    [server]           # bot.serve.ServerConfig
    mode = "shop"

A wrong section, field or value is a :class:`~knowledge.errors.ConfigError` naming the file and
the field. ``NEXTNEED_*`` environment variables (knowledge.settings) fill what neither the file
nor the command line sets.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from bot.chat.config import AssistantConfig
from bot.serve.config import ServerConfig, parse_api_keys, parse_logins
from knowledge.errors import ConfigError
from knowledge.settings import env_settings
from knowledge.store_config import StoreConfig

__all__ = ["ShopConfig", "load_config", "SECTIONS"]

SECTIONS = ("store", "model", "pipeline", "assistant", "server")


@dataclasses.dataclass(frozen=True)
class ShopConfig:
    """What a server is built from: the assistant's settings and the server's."""

    assistant: AssistantConfig
    server: ServerConfig


def read_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """The sections of a TOML/YAML config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {p}: {exc.strerror or exc}") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except Exception as exc:  # tomllib/yaml syntax errors carry the line
        raise ConfigError(f"config file {p} is not valid {p.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p}: expected sections {', '.join(SECTIONS)}")
    for name, section in data.items():
        if name not in SECTIONS:
            raise ConfigError(
                f"config file {p}: unknown section [{name}]; use {', '.join(SECTIONS)}"
            )
        if not isinstance(section, dict):
            raise ConfigError(f"config file {p}: [{name}] must be a table of settings")
    return data


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(names))}"
        )
    try:
        return cls(**values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_config(
    path: str | Path | None = None, overrides: dict[str, dict[str, Any]] | None = None
) -> ShopConfig:
    """The shop config from ``path`` (optional), with ``overrides`` (section -> values, e.g.
    from command-line flags; None values are ignored) on top."""
    data: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    where = str(path) if path else "settings"
    if path:
        for name, section in read_file(path).items():
            data[name].update(section)
    for name, section in (overrides or {}).items():
        data[name].update({k: v for k, v in section.items() if v is not None})
    env = env_settings()
    try:
        store = StoreConfig.from_env(**data["store"])
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{where} [store]: {exc}") from None
    model: Any = None
    model_values = data["model"]
    if model_values.get("model", "default") != "none":
        from bot.llm.model import ModelConfig

        model = _build(ModelConfig, model_values, f"{where} [model]")
    from bot.recsys.pipeline import PipelineConfig

    pipeline = _build(PipelineConfig, data["pipeline"], f"{where} [pipeline]")
    assistant_values = {"llm_base_url": env.llm_base_url, "llm_model": env.llm_model,
                        "llm_api_key": env.llm_api_key, **data["assistant"]}  # fmt: skip
    if assistant_values.get("llm_base_url"):
        model = None
    assistant = _build(
        AssistantConfig,
        {"store": store, "model": model, "pipeline": pipeline, **assistant_values},
        f"{where} [assistant]",
    )
    srv = data["server"]
    # secrets from the environment rather than flags (flags are visible in `ps`)
    if not srv.get("api_keys") and env.api_keys:
        srv["api_keys"] = parse_api_keys(env.api_keys.replace(",", " ").split())
    if not srv.get("auth") and env.auth:
        srv["auth"] = parse_logins(env.auth.replace(",", " ").split())
    if not srv.get("proxy_secret") and env.proxy_secret:
        srv["proxy_secret"] = env.proxy_secret
    for name in ("trusted_proxies", "cors_origins", "allowed_hosts"):
        if isinstance(srv.get(name), list):
            srv[name] = tuple(srv[name])
    if "trust_user_header" not in srv:  # demo mode without API keys: X-User-Id names the user
        srv["trust_user_header"] = srv.get("mode", "demo") == "demo" and not srv.get("api_keys")
    if isinstance(srv.get("auth"), list):
        srv["auth"] = tuple(tuple(pair) for pair in srv["auth"])
    server = _build(ServerConfig, srv, f"{where} [server]")
    return ShopConfig(assistant, server)
