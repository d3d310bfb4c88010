"""The one NDCG of the project: leave-one-out ranking metrics with a single relevant item.

Everything that scores a ranked list (SASRec's early stopping, the fusion tuning of
:mod:`bot.recsys.stage`, ``finetune.metrics`` and the benchmarks) calls these, so the served
stage is tuned with the number the benchmark reports. Ranks are 1-based; a miss is rank
``None`` (or 0 in an array) and scores zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["rank_of", "ndcg_at_k", "ndcg_array", "mean_ndcg"]


def rank_of(ranked: Sequence[Any], target: Any) -> int | None:
    """1-based position of ``target`` in ``ranked``; None when absent."""
    for i, item in enumerate(ranked):
        if item == target:
            return i + 1
    return None


def ndcg_array(ranks: np.ndarray | Sequence[int], k: int) -> np.ndarray:
    """Per-user NDCG@k for 1-based ``ranks`` (0 = miss). With one relevant item the ideal
    DCG is 1, so a hit at rank r scores 1 / log2(r + 1)."""
    r = np.asarray(ranks, dtype=np.float64)
    inside = (r >= 1) & (r <= k)
    return np.where(inside, 1.0 / np.log2(np.maximum(r, 1.0) + 1.0), 0.0)


def ndcg_at_k(rank: int | None, k: int) -> float:
    """NDCG@k of one user whose target sits at ``rank`` (None: a miss)."""
    return float(ndcg_array([rank or 0], k)[0])


def mean_ndcg(lists: Sequence[Sequence[Any]], targets: Sequence[Any], k: int = 10) -> float:
    """Mean NDCG@k of ranked lists against one target each (0 for no users)."""
    ranks = [rank_of(lst[:k], t) or 0 for lst, t in zip(lists, targets, strict=True)]
    return float(ndcg_array(ranks, k).mean()) if ranks else 0.0
