"""python -m finetune prepare|train|evaluate|merge (a thin shell over the Python API)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import fields
from typing import Any

from knowledge.errors import NextNeedError
from knowledge.settings import env_settings


def _add_fields(p: argparse.ArgumentParser, cls: Any, skip: tuple[str, ...] = ()) -> None:
    """One --flag per config field; the dataclass validates the values."""
    for f in fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool",):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif "tuple" in str(f.type):
            p.add_argument(flag, nargs="+", default=None)
        elif "int" in str(f.type) and "str" not in str(f.type):
            p.add_argument(flag, type=int if "float" not in str(f.type) else float, default=None)
        elif "float" in str(f.type):
            p.add_argument(flag, type=float, default=None)
        else:
            p.add_argument(flag, default=None)


def _config(cls: Any, ns: argparse.Namespace) -> Any:
    kw = {f.name: getattr(ns, f.name) for f in fields(cls) if getattr(ns, f.name, None) is not None}
    for f in fields(cls):
        if f.name in kw and "tuple" in str(f.type):
            kw[f.name] = tuple(int(v) if "int" in str(f.type) else v for v in kw[f.name])
    return cls(**kw)


def main(argv: list[str] | None = None) -> int:
    from finetune.dataset import DatasetConfig
    from finetune.evaluate import EvalConfig
    from finetune.merge import MergeConfig
    from finetune.train import TrainConfig

    parser = argparse.ArgumentParser(prog="python -m finetune", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="build instruction datasets (JSONL + manifest)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--store", help="store path (default: $NEXTNEED_STORE)")
    src.add_argument("--beauty", action="store_true", help="Amazon Beauty from the data dir")
    p.add_argument("--data-dir", default=env_settings().data_dir or "../shared/data")
    p.add_argument("--out", required=True, help="output directory")
    _add_fields(p, DatasetConfig)
    _add_fields(sub.add_parser("train", help="QLoRA fine-tuning"), TrainConfig)
    _add_fields(sub.add_parser("evaluate", help="HR/NDCG@K on a split"), EvalConfig)
    _add_fields(
        sub.add_parser("merge", help="merge an adapter into a full-precision base"), MergeConfig
    )
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if ns.cmd == "prepare":
            from finetune.dataset import corpus_from_beauty, corpus_from_store, prepare

            if ns.beauty:
                corpus = corpus_from_beauty(ns.data_dir)
            else:
                from knowledge.store import Store, StoreConfig

                corpus = corpus_from_store(Store(StoreConfig.from_env(path=ns.store)))
            result: Any = prepare(corpus, ns.out, _config(DatasetConfig, ns))
        elif ns.cmd == "train":
            from finetune.train import train

            result = train(_config(TrainConfig, ns)).metrics
        elif ns.cmd == "evaluate":
            from finetune.evaluate import evaluate_ranking

            result = evaluate_ranking(_config(EvalConfig, ns))
        else:
            from finetune.merge import merge_adapter

            result = vars(merge_adapter(_config(MergeConfig, ns)))
    except NextNeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
