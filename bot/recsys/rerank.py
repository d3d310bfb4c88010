"""How a re-ranker's scores combine with the candidate stage's order, and the tuned weight.

The served score of a candidate is ``-log1p(stage position) + weight x re-ranker score``: weight 0
is the stage's own order. The weight is tuned on validation users and kept next to the adapter
(``ranking.json``). Pure arithmetic: no model is needed here.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from knowledge.errors import ConfigError

__all__ = [
    "rank_prior",
    "served_scores",
    "served_order",
    "served_rank",
    "rank_weight_sweep",
    "best_rank_weight",
    "check_rank_weight",
    "recorded_rank_weight",
    "record_rank_weight",
    "RANK_WEIGHT_GRID",
    "UNTUNED_RANK_WEIGHT",
    "DEFAULT_MODEL_RANK_WEIGHT",
    "RANKING_FILE",
]

T = TypeVar("T")


def rank_prior(n: int) -> list[float]:
    """The candidate stage's order as a log-rank prior, on the scale of log-probabilities."""
    return [-math.log1p(i) for i in range(n)]


# Weights of the LLM's label log-probabilities against the stage's log-rank prior that
# tuning tries (0 is the candidate stage's own order, so tuning can always fall back to it).
RANK_WEIGHT_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
# A ranker without a tuned weight (an adapter or model nobody measured) counts as much as
# the stage's log-rank prior.
UNTUNED_RANK_WEIGHT = 1.0
# The default model (SmolLM2-135M-Instruct) zero-shot, without an adapter: on 300 Amazon Beauty
# validation users its best weight was 0 (NDCG@10 0.0658 at 0 and 0.1, 0.0631 at 1.0;
# benchmarks/results/quality-beauty.md), so the bot serves the stage's order and skips the pass.
DEFAULT_MODEL_RANK_WEIGHT = 0.0
# The weight tuned for an adapter on validation users, kept inside the adapter directory.
RANKING_FILE = "ranking.json"


def served_scores(llm: Sequence[float], weight: float) -> list[float]:
    """Each candidate's served score: ``-log1p(stage position) + weight x label log-prob``."""
    return [p + weight * float(x) for p, x in zip(rank_prior(len(llm)), llm, strict=True)]


def served_order(llm: Sequence[float], weight: float) -> list[int]:
    """Candidate positions in the served order, best first; ties keep the candidate stage's
    order."""
    score = served_scores(llm, weight)
    return sorted(range(len(score)), key=lambda j: (-score[j], j))


def served_rank(llm: Sequence[float] | None, target: int | None, weight: float) -> int | None:
    """1-based served rank of candidate ``target`` (None: the true item was not a candidate);
    ``llm`` None is a prompt the ranker skipped, served in the stage's order."""
    if target is None:
        return None
    return target + 1 if llm is None else served_order(llm, weight).index(target) + 1


def rank_weight_sweep(
    records: Sequence[tuple[Sequence[float] | None, int | None]],
    metrics: Callable[[list[int | None]], T],
    weights: Sequence[float] = RANK_WEIGHT_GRID,
) -> dict[float, T]:
    """``metrics`` of the served ranks at each weight, for (label log-probs, target position)
    records."""
    return {w: metrics([served_rank(llm, t, w) for llm, t in records]) for w in weights}


def best_rank_weight(metric_by_weight: Mapping[Any, float]) -> float:
    """The weight (keys: weights or their strings) with the best metric; the smallest on ties."""
    return float(max(metric_by_weight, key=lambda w: (metric_by_weight[w], -float(w))))


def check_rank_weight(weight: object, where: str) -> float:
    """``weight`` as a float when it is a number within 0..100, else a ConfigError naming
    ``where``."""
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 100:
        raise ConfigError(f"{where} must be a number within 0..100, got {weight!r}")
    return float(weight)


def recorded_rank_weight(adapter: str | os.PathLike[str]) -> float | None:
    """The rank weight recorded in ``<adapter>/ranking.json``, or None when there is none."""
    path = Path(adapter).expanduser() / RANKING_FILE
    if not path.is_file():
        return None
    try:
        weight = json.loads(path.read_text(encoding="utf-8"))["rank_weight"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: cannot read its rank_weight ({exc}). Fix: rerun `python -m finetune "
            "evaluate --split valid --record-rank-weight`, or delete the file."
        ) from exc
    return check_rank_weight(weight, f"{path}: rank_weight")


def record_rank_weight(
    adapter: str | os.PathLike[str], weight: float, evidence: Mapping[str, Any]
) -> Path:
    """Write ``<adapter>/ranking.json`` (the weight and how it was chosen) atomically."""
    folder = Path(adapter).expanduser()
    if not (folder / "adapter_config.json").is_file():
        raise ConfigError(f"{folder} is not an adapter directory (no adapter_config.json)")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ranking-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"rank_weight": float(weight), **evidence}, f, indent=2)
        f.write("\n")
    os.replace(tmp, folder / RANKING_FILE)
    return folder / RANKING_FILE
