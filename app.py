"""Serve nextneed: the web chat at / and the embedding API (/v1, /api) on one server.

python app.py --store .nextneed/demo-store                     # demo: pick any customer
python app.py --mode shop --auth-file logins --api-key-file keys  # shop: login and API keys
(--auth/--api-key need --mode shop; secrets also from NEXTNEED_AUTH / NEXTNEED_API_KEYS)
python app.py --config shop.toml                               # settings from a file
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bot.errors import ConfigError  # noqa: E402
from bot.llm.memory import DEFAULT_HEAP_ARENAS, limit_heap_arenas  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--config", help="a TOML/YAML shop config (sections: bot/serve/launch.py)")
    p.add_argument("--store", help="store directory (default $NEXTNEED_STORE or .nextneed/store)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--model", default=None, help="default | none | a path | a HF id")
    p.add_argument("--quantization", choices=["nf4", "bf16", "fp32"], default=None)
    p.add_argument("--adapter", help="LoRA adapter directory")
    p.add_argument("--backend", choices=["auto", "transformers", "llamacpp"], default=None,
                   help="what runs the model: transformers (torch) or llama.cpp (auto: llama.cpp if installed)")  # fmt: skip
    p.add_argument("--llm-base-url", help="OpenAI-compatible server instead of in-process weights")
    p.add_argument("--llm-model", default=None)
    p.add_argument("--rank-weight", type=float, default=None,
                   help="weight of the LLM ranker against the candidate stage's order (0 skips it)")  # fmt: skip
    p.add_argument("--embedder", choices=["minilm", "hashing"], default=None)
    p.add_argument("--mode", choices=["demo", "shop"], default=None)
    p.add_argument("--auth", nargs="+", default=[], metavar="USER:PASS", help="web logins")
    p.add_argument("--api-key", action="append", default=[], metavar="KEY[=USER]",
                   help="KEY=USER acts for USER; a bare KEY is a service key (X-User-Id names the user)")  # fmt: skip
    p.add_argument("--trust-user-header", action="store_true", default=None,
                   help="accept X-User-Id without a key (default in demo mode)")  # fmt: skip
    p.add_argument("--trust-proxy-header", action="store_true", default=None,
                   help="web UI user from X-Forwarded-User (set by your reverse proxy)")  # fmt: skip
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                   help="the proxy's address or network (needed by --trust-proxy-header)")  # fmt: skip
    p.add_argument("--api-key-file", help="KEY=USER lines (instead of --api-key, seen in ps)")
    p.add_argument("--auth-file", help="USER:PASSWORD lines (instead of --auth, seen in ps)")
    p.add_argument("--cors-origin", action="append", default=[], help="a site that may use the API")  # fmt: skip
    p.add_argument("--allowed-host", action="append", default=[],
                   help="a Host name to serve (demo default: localhost names only)")  # fmt: skip
    p.add_argument("--max-concurrency", type=int, default=None)
    p.add_argument("--heap-arenas", type=int, default=DEFAULT_HEAP_ARENAS,
                   help="cap on glibc malloc arenas (0 = glibc's default)")  # fmt: skip
    return p.parse_args(argv)


def log_ready(assistant: Any, url: str) -> None:
    """One line per stage: the store, the model's tasks, where the chat is served."""
    p, c = assistant.pipeline, assistant.context
    log = logging.getLogger("nextneed")
    log.info("store opened: %d items, %d customers", len(p.items), p.n_customers)
    reads = assistant.parser.name == "model"
    tasks = {"reading messages the rules cannot route": reads,
             "a sure reading in place of a generic rule": reads,
             "a second reading of requests for complaints to the shop": reads,
             "item descriptions": c.generator is not None and c.config.llm_descriptions
             and c.config.describe_max_tokens > 0, "next-need phrase": c.need is not None,
             "ranking": p.ranker is not None and p.rank_weight > 0}  # fmt: skip
    on = [t for t, used in tasks.items() if used]
    log.info("model tasks on: %s", ", ".join(on) if on else "none (no language model)")
    log.info("serving the web chat and the API at %s", url)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        limit_heap_arenas(a.heap_arenas)  # before any worker thread exists
        from bot.serve import create_app, parse_api_keys, parse_logins
        from bot.serve.config import read_secret_lines as lines
        from bot.serve.launch import load_config

        keys = parse_api_keys(a.api_key + lines(a.api_key_file, "--api-key-file")) or None
        logins = parse_logins(a.auth + lines(a.auth_file, "--auth-file")) or None
        cfg = load_config(a.config, {
            "store": {"path": a.store, "embedder": a.embedder},
            "model": {"model": a.model, "quantization": a.quantization, "adapter": a.adapter,
                      "backend": a.backend},
            "pipeline": {"rank_weight": a.rank_weight},
            "assistant": {"llm_base_url": a.llm_base_url, "llm_model": a.llm_model},
            "server": {"mode": a.mode, "api_keys": keys, "auth": logins,
                       "trust_user_header": a.trust_user_header, "max_concurrency": a.max_concurrency,
                       "trust_proxy_header": a.trust_proxy_header,
                       "trusted_proxies": tuple(a.trusted_proxy) or None,
                       "cors_origins": tuple(a.cors_origin) or None,
                       "allowed_hosts": tuple(a.allowed_host) or None},
        })  # fmt: skip
        from bot.chat.assistant import Assistant

        assistant = Assistant.from_config(cfg.assistant)
    except ConfigError as exc:
        raise SystemExit(f"nextneed: {exc}") from None
    log_ready(assistant, f"http://{a.host}:{a.port}/")
    import uvicorn

    # keep idle connections longer than uvicorn's 5 s: a help-desk client that waited out a
    # busy answer must not find its keep-alive connection closed under it
    # proxy_headers=False: the client address is the socket's, never X-Forwarded-For (the proxy
    # trust check and the per-address limits rely on it)
    uvicorn.run(create_app(assistant, cfg.server), host=a.host, port=a.port,
                log_level="info", timeout_keep_alive=30, proxy_headers=False)  # fmt: skip


if __name__ == "__main__":
    main()
