"""How fast SASRec learns on this CPU: epoch time and validation NDCG@10 per epoch for one
training setting, on a dataset preset.

``python -m benchmarks.sasrec_cpu --dataset beauty [--negatives N|full] [--power P]
[--dropout D] [--lr LR] [--hidden H] [--max-epochs E] [--label NAME] [--refit-check K]``

Data as the quality benchmark's stage sees it: every sequence minus its test item; SASRec
trains on the rest and early-stops on the second-to-last item of a seeded 5,000 users
(``bot.recsys.sources.sasrec.train_sasrec``, patience 10). Each run adds one entry to
``results/sasrec-cpu-<dataset>.json`` and rewrites the Markdown table from all entries.

``--refit-check K`` measures the stage's refit (``refit_sasrec``: after early stopping, more
passes over every event, the epoch-choosing items included) one step back in time, so that no
test item is used: with each sequence minus its test item as ``f``, SASRec trains on
``f[:-2]``, early-stops on ``f[-2]`` and is scored on ``f[-1]`` (5,000 seeded users) before and
after each of K refit passes over ``f[:-1]``: the stage's own order (train, choose the epoch,
refit on what chose it, serve), shifted by one item.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.common import RESULTS, environment, write_results
from benchmarks.quality_data import load_dataset, resolve_preset
from bot.recsys.sources.sasrec import SASRecConfig, refit_sasrec, train_sasrec


def run(dataset: str, cfg: SASRecConfig, data_root: str | None = None) -> dict[str, Any]:
    folder, fmt, title = resolve_preset(dataset, data_root)
    ds = load_dataset(folder, fmt, dataset, title)
    seqs = [s[:-1] for s in ds.sequences.values() if len(s) >= 3]  # the test item never seen
    catalogue = sorted({i for s in seqs for i in s})
    t0 = time.perf_counter()
    model = train_sasrec([s[:-1] for s in seqs], [s[-1] for s in seqs], catalogue, cfg)
    best = max(model.log, key=lambda r: r["valid_ndcg@10"])
    return {
        "title": title, "users": len(seqs), "items": len(catalogue), "env": environment(),
        "config": {k: getattr(cfg, k) for k in ("negatives", "negative_power", "dropout", "lr",
                                                "batch_size", "hidden", "max_len", "patience")},
        "epochs": len(model.log), "total_s": round(time.perf_counter() - t0, 1),
        "best_epoch": best["epoch"], "best_valid_ndcg10": round(best["valid_ndcg@10"], 4),
        "median_epoch_s": round(sorted(r["train_s"] for r in model.log)[len(model.log) // 2], 1),
        "log": model.log,
    }  # fmt: skip


def refit_check(
    dataset: str, cfg: SASRecConfig, passes: int, data_root: str | None = None
) -> dict[str, Any]:
    """Outer validation NDCG@10 of the early-stopped SASRec, then after each refit pass."""
    import numpy as np

    from bot.recsys.metrics import mean_ndcg

    folder, fmt, title = resolve_preset(dataset, data_root)
    ds = load_dataset(folder, fmt, dataset, title)
    full = [s[:-1] for s in ds.sequences.values() if len(s) >= 4]
    catalogue = sorted({i for s in full for i in s})
    t0 = time.perf_counter()
    model = train_sasrec([f[:-2] for f in full], [f[-2] for f in full], catalogue, cfg)
    train_s = time.perf_counter() - t0
    rng = np.random.default_rng(cfg.seed + 7)
    users = sorted(rng.choice(len(full), min(5000, len(full)), replace=False))
    hist, target = [full[u][:-1] for u in users], [full[u][-1] for u in users]

    def score() -> float:
        top = model.recommend(hist, 10, [set(h) for h in hist])
        return round(mean_ndcg([[i for i, _s in row] for row in top], target, 10), 4)

    rows = [{"passes": 0, "outer_ndcg10": score(), "s": 0.0}]
    for n in range(1, passes + 1):
        t1 = time.perf_counter()
        refit_sasrec(model, [f[:-1] for f in full], 1, seed=cfg.seed + n)
        rows.append({"passes": n, "outer_ndcg10": score(), "s": round(time.perf_counter() - t1, 1)})
        logging.info("refit pass %d: outer NDCG@10 %.4f", n, rows[-1]["outer_ndcg10"])
    best = max(r["valid_ndcg@10"] for r in model.log if not r.get("refit"))
    return {"title": title, "users": len(full), "train_s": round(train_s, 1),
            "inner_best_valid_ndcg10": round(best, 4), "rows": rows, "env": environment()}  # fmt: skip


def markdown(dataset: str, entries: list[dict[str, Any]]) -> str:
    lines = [
        f"# SASRec on this CPU: {entries[-1]['title']}",
        "",
        "`python -m benchmarks.sasrec_cpu` (module docstring). Validation NDCG@10 on 5,000 "
        "seeded users' second-to-last items, history excluded; patience 10 epochs.",
        "",
        "| run | when | negatives | power | dropout | lr | hidden | median epoch s | epochs | "
        "best epoch | best valid NDCG@10 | total min | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        c = e["config"]
        lines.append(
            f"| {e['label']} | {e['when']} | {c['negatives'] or 'full'} | {c['negative_power']} "
            f"| {c['dropout']} | {c['lr']} | {c['hidden']} | {e['median_epoch_s']} | {e['epochs']} "
            f"| {e['best_epoch']} | {e['best_valid_ndcg10']} | {e['total_s'] / 60:.1f} "
            f"| {e.get('note', '')} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sasrec_cpu", description=__doc__)
    p.add_argument("--dataset", default="beauty")
    p.add_argument("--data-root", default=None)
    p.add_argument("--negatives", default="2048", help="a count, or 'full' for every item")
    p.add_argument("--power", type=float, default=0.75)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--max-epochs", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--label", default=None)
    p.add_argument("--note", default="")
    p.add_argument(
        "--refit-check",
        type=int,
        default=0,
        metavar="K",
        help="measure K refit passes one step back in time (module docstring)",
    )
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    negatives = None if a.negatives == "full" else int(a.negatives)
    cfg = SASRecConfig(
        negatives=negatives, negative_power=a.power, dropout=a.dropout, lr=a.lr, hidden=a.hidden,
        max_epochs=a.max_epochs, patience=10, num_threads=a.threads,
    )  # fmt: skip
    if a.refit_check:
        res = refit_check(a.dataset, cfg, a.refit_check, a.data_root)
        lines = [
            f"# SASRec refit check: {res['title']}", "",
            "`python -m benchmarks.sasrec_cpu --refit-check K` (module docstring): "
            f"{res['users']:,} users; early-stopped on the third-to-last item (best "
            f"{res['inner_best_valid_ndcg10']}, {res['train_s'] / 60:.1f} min), scored on the "
            "second-to-last item of 5,000 seeded users, history excluded.", "",
            "| refit passes | NDCG@10 | pass seconds |", "|---|---|---|",
            *[f"| {r['passes']} | {r['outer_ndcg10']} | {r['s']} |" for r in res["rows"]],
        ]  # fmt: skip
        write_results(f"sasrec-refit-{a.dataset}", res, "\n".join(lines))
        return
    entry = run(a.dataset, cfg, a.data_root)
    entry.update(label=a.label or f"{a.negatives}/{a.power}/{a.dropout}", note=a.note,
                 when=time.strftime("%Y-%m-%d %H:%M", time.gmtime()))  # fmt: skip
    path = RESULTS / f"sasrec-cpu-{a.dataset}.json"
    entries = json.loads(path.read_text())["runs"] if path.is_file() else []
    entries.append(entry)
    write_results(f"sasrec-cpu-{a.dataset}", {"runs": entries}, markdown(a.dataset, entries))


if __name__ == "__main__":
    main()
