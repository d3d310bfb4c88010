"""Serve nextneed: the web chat at / and the embedding API (/v1, /api) on one server.

python app.py --store .nextneed/demo-store                     # demo: pick any customer
python app.py --mode shop --auth alice:pw --api-key KEY=alice  # shop: login and API keys
"""

from __future__ import annotations

import argparse
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bot.errors import ConfigError  # noqa: E402
from bot.llm.generation import DEFAULT_HEAP_ARENAS, limit_heap_arenas  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--store", help="store directory (default $NEXTNEED_STORE or .nextneed/store)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--model", default="default", help="default | none | a path | a HF id")
    p.add_argument("--quantization", choices=["nf4", "bf16", "fp32"], default=None)
    p.add_argument("--adapter", help="LoRA adapter directory")
    p.add_argument("--llm-base-url", default=os.environ.get("NEXTNEED_LLM_BASE_URL"),
                   help="OpenAI-compatible server instead of in-process weights (e.g. vLLM)")  # fmt: skip
    p.add_argument("--llm-model", default=os.environ.get("NEXTNEED_LLM_MODEL", "nextneed"))
    p.add_argument("--rank-weight", type=float, default=None,
                   help="weight of the LLM ranker against the candidate stage's order (0 skips "
                   "it; default: the adapter's tuned ranking.json, else the measured base default)")  # fmt: skip
    p.add_argument("--embedder", choices=["minilm", "hashing"], default=None)
    p.add_argument("--mode", choices=["demo", "shop"], default="demo")
    p.add_argument("--auth", nargs="+", default=[], metavar="USER:PASS", help="web logins")
    p.add_argument("--api-key", action="append", default=[], metavar="KEY[=USER]",
                   help="KEY=USER acts for USER; a bare KEY is a service key (X-User-Id names the user)")  # fmt: skip
    p.add_argument("--trust-user-header", action="store_true",
                   help="accept X-User-Id without a key (default in demo mode)")  # fmt: skip
    p.add_argument("--trust-proxy-header", action="store_true",
                   help="web UI user from X-Forwarded-User (set by your reverse proxy)")  # fmt: skip
    p.add_argument("--max-concurrency", type=int, default=2)
    p.add_argument(
        "--heap-arenas",
        type=int,
        default=DEFAULT_HEAP_ARENAS,
        help="cap on glibc malloc arenas, so buffers freed by model calls are reused "
        "(0 = glibc's default)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        limit_heap_arenas(args.heap_arenas)  # before any worker thread exists
    except ConfigError as exc:
        raise SystemExit(f"--heap-arenas: {exc}") from None
    import uvicorn

    from bot.chat.assistant import Assistant, AssistantConfig
    from bot.serve import ServerConfig, create_app, parse_api_keys, parse_logins
    from knowledge.store import StoreConfig

    store_kw = {k: v for k, v in (("path", args.store), ("embedder", args.embedder)) if v}
    model = None
    if args.model != "none" and not args.llm_base_url:
        from bot.llm.model import ModelConfig

        model_kw = {"quantization": args.quantization, "adapter": args.adapter}
        model = ModelConfig(model=args.model, **{k: v for k, v in model_kw.items() if v})
    from bot.recsys.pipeline import PipelineConfig

    assistant = Assistant.from_config(
        AssistantConfig(store=StoreConfig.from_env(**store_kw), model=model,
                        llm_base_url=args.llm_base_url, llm_model=args.llm_model,
                        pipeline=PipelineConfig(rank_weight=args.rank_weight))
    )  # fmt: skip
    keys = parse_api_keys(args.api_key)
    server = ServerConfig(
        mode=args.mode, api_keys=keys, auth=parse_logins(args.auth),
        trust_user_header=args.trust_user_header or (args.mode == "demo" and not keys),
        trust_proxy_header=args.trust_proxy_header, max_concurrency=args.max_concurrency,
    )  # fmt: skip
    # keep idle connections longer than uvicorn's 5 s: a help-desk client that waited out a
    # busy answer must not find its keep-alive connection closed under it
    uvicorn.run(create_app(assistant, server), host=args.host, port=args.port,
                log_level="info", timeout_keep_alive=30)  # fmt: skip


if __name__ == "__main__":
    main()
