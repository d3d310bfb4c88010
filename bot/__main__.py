"""`python -m bot chat --user ID`: a terminal chat over the same Assistant API as the web UI."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.chat.assistant import Assistant, AssistantConfig
from bot.llm.model import ModelConfig
from knowledge.errors import NextNeedError
from knowledge.store import StoreConfig


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("chat", help="chat in the terminal as one user")
    c.add_argument("--user", required=True, help="the user id to chat as")
    c.add_argument("--store", default=None, help="store directory (default $NEXTNEED_STORE)")
    c.add_argument(
        "--model", default="default", help="'default', a model directory, a HF id, or 'none'"
    )
    c.add_argument("--quantization", default="nf4", choices=["nf4", "bf16", "fp32"])
    c.add_argument("--adapter", default=None, help="a LoRA adapter directory")
    c.add_argument("--embedder", default="minilm")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        model = (
            None
            if args.model == "none"
            else ModelConfig(args.model, args.quantization, args.adapter)
        )
        cfg = AssistantConfig(
            store=StoreConfig.from_env(path=args.store, embedder=args.embedder), model=model
        )
        assistant = Assistant.from_config(cfg)
    except NextNeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    history: list[dict[str, str]] = []
    print(f"Chatting as {args.user}. Empty line or Ctrl-D to quit.")
    for line in sys.stdin:
        if not line.strip():
            break
        try:
            text = ""
            for chunk in assistant.stream(args.user, line, history):
                if chunk.delta:
                    print(chunk.delta, end="", flush=True)
                    text += chunk.delta
            print()
            history += [{"role": "user", "content": line}, {"role": "assistant", "content": text}]
        except NextNeedError as exc:
            print(f"[{type(exc).__name__}] {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
