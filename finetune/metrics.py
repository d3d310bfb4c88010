"""Ranking metrics computed from ranked lists, with seeded bootstrap confidence intervals.

NDCG and ``rank_of`` are :mod:`bot.recsys.metrics`'s (the one implementation the served stage
is tuned with), re-exported here. Conventions: ranks are 1-based; a target missing from a
ranked list is a miss (rank ``None``) and scores zero on every metric. With one target per user HR@K equals Recall@K.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from bot.recsys.metrics import ndcg_array, ndcg_at_k, rank_of

__all__ = [
    "rank_of",
    "hit_at_k",
    "ndcg_at_k",
    "reciprocal_rank",
    "precision_recall_f1_at_k",
    "per_user_metrics",
    "ranking_report",
    "bootstrap_ci",
    "report_with_ci",
    "paired_bootstrap",
]


def hit_at_k(rank: int | None, k: int) -> float:
    """1.0 when the target is in the top ``k``."""
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None) -> float:
    """1 / rank, 0 for a miss (MRR is truncated at the length of the ranked list)."""
    return 1.0 / rank if rank is not None else 0.0


def precision_recall_f1_at_k(
    ranked: Sequence[Any], truth: Iterable[Any], k: int
) -> tuple[float, float, float]:
    """Precision, recall and F1 of the top ``k`` against a set of relevant items.

    Precision divides by ``k`` (not by the list length), so short lists are not rewarded.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    relevant = set(truth)
    if not relevant:
        return 0.0, 0.0, 0.0
    top = list(dict.fromkeys(ranked[:k]))  # a duplicate must not count twice
    hits = sum(1 for i in top if i in relevant)
    p, r = hits / k, hits / len(relevant)
    f1 = 2 * p * r / (p + r) if hits else 0.0
    return p, r, f1


def per_user_metrics(ranks: Sequence[int | None], ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-user ``hr@K``, ``ndcg@K`` and ``mrr`` arrays (aligned with ``ranks``)."""
    r = np.array([x if x is not None else 0 for x in ranks], dtype=np.float64)
    found = r > 0
    out: dict[str, np.ndarray] = {}
    for k in ks:
        inside = found & (r <= k)
        out[f"hr@{k}"] = inside.astype(np.float64)
        out[f"ndcg@{k}"] = ndcg_array(r, k)
    out["mrr"] = np.where(found, 1.0 / np.maximum(r, 1), 0.0)
    return out


def ranking_report(
    ranks: Sequence[int | None], ks: Sequence[int] = (5, 10, 20)
) -> dict[str, float]:
    """Mean HR@K, NDCG@K and MRR over users."""
    per = per_user_metrics(ranks, ks)
    return {name: float(v.mean()) if v.size else 0.0 for name, v in per.items()}


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of ``values`` (seeded, so reproducible)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    # Chunked so 1000 resamples of 22k users never hold a 22M-element index array at once.
    step = max(1, 2_000_000 // a.size)
    for start in range(0, n_resamples, step):
        stop = min(start + step, n_resamples)
        idx = rng.integers(0, a.size, size=(stop - start, a.size))
        means[start:stop] = a[idx].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def report_with_ci(
    ranks: Sequence[int | None],
    ks: Sequence[int] = (5, 10, 20),
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Each metric's mean with its 95% bootstrap interval: ``{name: {mean, lo, hi}}``."""
    out = {}
    for name, v in per_user_metrics(ranks, ks).items():
        lo, hi = bootstrap_ci(v, n_resamples=n_resamples, seed=seed)
        out[name] = {"mean": float(v.mean()) if v.size else 0.0, "lo": lo, "hi": hi}
    return out


def paired_bootstrap(
    ranks_a: Sequence[int | None],
    ranks_b: Sequence[int | None],
    k: int = 10,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, float]:
    """NDCG@k of system a against system b on the same users: the difference of the means and
    a's relative gain, each with a percentile interval from resampling users (a user's pair of
    values stays together)."""
    if len(ranks_a) != len(ranks_b):
        raise ValueError("paired_bootstrap needs the same users for both systems")
    a = ndcg_array([r or 0 for r in ranks_a], k)
    b = ndcg_array([r or 0 for r in ranks_b], k)
    if a.size == 0:
        return {"n": 0}
    rng = np.random.default_rng(seed)
    ma, mb = np.empty(n_resamples), np.empty(n_resamples)
    step = max(1, 2_000_000 // a.size)
    for start in range(0, n_resamples, step):
        stop = min(start + step, n_resamples)
        idx = rng.integers(0, a.size, size=(stop - start, a.size))
        ma[start:stop], mb[start:stop] = a[idx].mean(axis=1), b[idx].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    d_lo, d_hi = np.percentile(ma - mb, [tail, 100 - tail])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = ma / mb - 1
    r_lo, r_hi = np.percentile(rel, [tail, 100 - tail])
    return {
        "n": int(a.size),
        "a": float(a.mean()),
        "b": float(b.mean()),
        "diff": float(a.mean() - b.mean()),
        "diff_lo": float(d_lo),
        "diff_hi": float(d_hi),
        "rel": float(a.mean() / b.mean() - 1) if b.mean() > 0 else float("inf"),
        "rel_lo": float(r_lo),
        "rel_hi": float(r_hi),
    }
