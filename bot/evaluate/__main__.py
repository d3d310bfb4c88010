"""`python -m bot.evaluate dialogs/ --demo`: run scripted dialogs and report pass/fail.

Exit status: 0 when every dialog passed, 1 when any failed, 2 on a usage or setup error.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot.evaluate.dialogs import DialogFileError
from bot.evaluate.report import markdown_report, write_reports
from bot.evaluate.runner import EvaluateConfig, RunConfig, evaluate
from knowledge.errors import NextNeedError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bot.evaluate", description=__doc__)
    p.add_argument("paths", nargs="+", help="dialog YAML files or folders")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--store", help="a store directory (copied first; never modified)")
    src.add_argument("--demo", action="store_true", help="build the demo store in a temp dir")
    p.add_argument("--embedder", choices=["minilm", "hashing"], default=None,
                   help="the store's embedder (default: minilm for --store, hashing for --demo)")  # fmt: skip
    p.add_argument("--model", default="none", help="'none' (default), 'default', or a model path")
    p.add_argument("--quantization", default="nf4", choices=["nf4", "bf16", "fp32"])
    p.add_argument("--server", help="run against a nextneed server, e.g. http://127.0.0.1:7860")
    p.add_argument("--api-key", help="API key for --server (sent as a Bearer token)")
    p.add_argument("--report", help="write a Markdown report here")
    p.add_argument("--junit", help="write a JUnit XML report here")
    p.add_argument("--json", help="write a JSON report here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        config = EvaluateConfig(
            store=args.store,
            demo=args.demo,
            embedder=args.embedder,
            model=args.model,
            quantization=args.quantization,
            server=args.server,
            api_key=args.api_key,
            run=RunConfig(seed=args.seed, progress=not args.no_progress),
        )
        result = evaluate(args.paths, config)
    except (DialogFileError, NextNeedError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_reports(result, args.report, args.junit, args.json)
    summary = markdown_report(result)
    print(summary.split("\n## ", 1)[0] if result.passed else summary)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
