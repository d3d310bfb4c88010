"""Fitting the history-driven candidate stage the product serves.

Transitions, co-occurrence and popularity always; a SASRec (``bot.recsys.sasrec``) as well once the
store has enough users with a sequence to learn from. The sources are merged by weighted
reciprocal-rank fusion (:class:`bot.recsys.candidates.FusedCandidates`), with weights tuned for
NDCG@10 on a leave-last-out validation split when there is enough data, else sensible defaults.

The trained SASRec and the tuned weights are cached in a folder next to the store, keyed by a
hash of the sequences they were fitted on, so restarting the app does not retrain. Any other
cached fit is deleted on every refit: after ``forget`` the sequences change, so the folder that
still encodes the forgotten user's events is removed and a new model is trained without them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.recsys.candidates import (
    CandidateSource,
    CoOccurrence,
    FusedCandidates,
    FusionConfig,
    Popularity,
    SemanticNeighbours,
    SequentialModel,
    Transitions,
    tune_weights,
)
from knowledge.errors import ConfigError, ModelNotFoundError

__all__ = [
    "CACHE_DIRNAME",
    "DEFAULT_WEIGHTS",
    "StageConfig",
    "FittedStage",
    "fit_stage",
    "sequences_key",
]

log = logging.getLogger(__name__)

CACHE_DIRNAME = "nextneed-candidates"
# The fixed mix the pipeline used before tuning existed; also the total weight every tuned mix
# is rescaled to, so the history stage keeps its balance against query and refill scores.
DEFAULT_WEIGHTS = {"transitions": 1.0, "co-occurrence": 0.6, "popularity": 0.15}
SEQUENTIAL_DEFAULT = 1.0
TOTAL_WEIGHT = sum(DEFAULT_WEIGHTS.values())
# A grid over the sources other than transitions (which anchors the scale at 1.0).
GRID = {
    "co-occurrence": (0.0, 0.3, 0.6, 1.0),
    "sequential": (0.0, 0.5, 1.0, 2.0),
    "popularity": (0.0, 0.05, 0.15),
    "semantic": (0.0, 0.25, 0.5, 1.0),
}
# Embedding neighbours of the recent history join only where validation gives them weight: on
# Amazon Beauty they raised the fused stage's validation NDCG@10 from 0.0778 to 0.0847
# (benchmarks/results/quality-beauty.md); untuned they stay out.
SEMANTIC_DEFAULT = 0.0


@dataclass(frozen=True)
class StageConfig:
    """When SASRec is trained and weights are tuned, and how much time training may take."""

    sasrec_min_users: int = 5000  # users with >= 3 purchases/reviews
    sasrec_budget_s: float = 300.0
    sasrec_max_epochs: int = 40
    tune_min_users: int = 200  # validation users (>= 3 events) needed to tune weights
    tune_users: int = 400  # seeded sample of them used by the grid
    tune_depth: int = 50
    # Tuned weights replace the defaults only when validation NDCG@10 gains this much: the best
    # of a few dozen grid points on a few hundred users is biased upwards (on the demo shop a
    # +2.5% "gain" cost 0.7 points of turn-1 success in benchmarks.simulated_users).
    tune_min_gain: float = 0.05
    seed: int = 0
    semantic: bool = True  # offer the item-embedding neighbours to the tuning

    def __post_init__(self) -> None:
        for name in ("sasrec_min_users", "tune_min_users", "tune_users", "tune_depth"):
            if getattr(self, name) < 1:
                raise ConfigError(f"StageConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.sasrec_budget_s > 0:
            raise ConfigError(
                f"StageConfig.sasrec_budget_s must be > 0, got {self.sasrec_budget_s}"
            )
        if self.sasrec_max_epochs < 1:
            raise ConfigError("StageConfig.sasrec_max_epochs must be >= 1")
        if self.tune_min_gain < 0:
            raise ConfigError(f"StageConfig.tune_min_gain must be >= 0, got {self.tune_min_gain}")


@dataclass
class FittedStage:
    """The fitted sources with their fusion weights, and how they were obtained."""

    fused: FusedCandidates
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def weights(self) -> dict[str, float]:
        return self.fused.weights


def sequences_key(sequences: Sequence[Sequence[str]], config: StageConfig) -> str:
    """A content hash of what the stage is fitted on and how: each user's sequence in order,
    users in any order (the store may list them differently after a reopen)."""
    h = hashlib.sha256(repr(config).encode())
    for seq in sorted(tuple(s) for s in sequences):
        h.update("\x1f".join(seq).encode())
        h.update(b"\x1e")
    return h.hexdigest()[:20]


def _count_sources() -> list[tuple[str, CandidateSource]]:
    return [("transitions", Transitions()), ("co-occurrence", CoOccurrence()),
            ("popularity", Popularity())]  # fmt: skip


def _sasrec_config(config: StageConfig) -> Any:
    from bot.recsys.sasrec import SASRecConfig

    return SASRecConfig(
        max_epochs=config.sasrec_max_epochs,
        time_budget_s=config.sasrec_budget_s,
        patience=5,
        seed=config.seed,
    )


def _load_cache(folder: Path) -> tuple[dict[str, Any], Any] | None:
    """The cached weights (and SASRec, if one was trained) in ``folder``; None if unusable."""
    meta_file = folder / "stage.json"
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text())
        model = None
        if meta.get("sasrec"):
            from bot.recsys.sasrec import SASRecModel

            model = SASRecModel.load(folder / "sasrec")
        return meta, model
    except (OSError, ValueError, KeyError, ModelNotFoundError, RuntimeError) as exc:
        log.warning("ignoring the unreadable candidate cache %s: %s", folder, exc)
        return None


def _write_cache(root: Path, key: str, meta: dict[str, Any], model: Any) -> None:
    """Write atomically (a sibling temp folder, then rename), then drop every other fit."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        if model is not None:
            model.save(tmp / "sasrec")
        (tmp / "stage.json").write_text(json.dumps(meta, indent=1))
        target = root / key
        if target.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.rename(target)
    except OSError as exc:  # a read-only store still serves; it just refits next start
        log.warning("could not cache the candidate stage under %s: %s", root, exc)


def drop_stale(root: Path | None, keep: str | None) -> list[str]:
    """Delete cached fits other than ``keep``: they may encode events that are gone."""
    if root is None or not root.is_dir():
        return []
    dropped = []
    for entry in root.iterdir():
        if entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)
            dropped.append(entry.name)
    return dropped


def _tune(
    fused: FusedCandidates,
    sequences: Sequence[Sequence[str]],
    config: StageConfig,
    sasrec: Any,
) -> tuple[dict[str, float], float, float, int]:
    """Leave-last-out validation: sources see every sequence but its last item, which each
    sampled user's earlier items must predict (history excluded, as the product ranks).
    Returns the tuned weights, their NDCG@10, the default weights' NDCG@10 and the users."""
    users = [s for s in sequences if len(s) >= 3]
    rng = np.random.default_rng(config.seed)
    pick = sorted(rng.choice(len(users), min(config.tune_users, len(users)), replace=False))
    hists = [list(users[i][:-1]) for i in pick]
    targets = [users[i][-1] for i in pick]
    excludes = [set(h) for h in hists]
    depth = config.tune_depth
    lists: list[dict[str, list[str]]] = [{} for _ in hists]
    for name, src in fused.sources.items():
        if name == "sequential":
            rows = sasrec.recommend(hists, depth, excludes)
        else:
            rows = [src.candidates(h, depth, ex) for h, ex in zip(hists, excludes, strict=True)]
        for per, row in zip(lists, rows, strict=True):
            per[name] = [i for i, _s in row]
    defaults = dict(fused.weights)
    # A one-point grid scores the default weights on the same users.
    _w, default_ndcg = tune_weights(fused, lists, targets, {"transitions": [1.0]}, k=10)
    grid = {n: v for n, v in GRID.items() if n in fused.sources}
    weights, ndcg = tune_weights(fused, lists, targets, grid, k=10)
    if ndcg < default_ndcg * (1 + config.tune_min_gain):
        weights = defaults
    fused.weights = dict(weights)
    return weights, ndcg, default_ndcg, len(pick)


def _semantic(item_vectors: Callable[[], Mapping[str, np.ndarray]]) -> SemanticNeighbours:
    vectors = item_vectors()
    ids = sorted(vectors)
    matrix = np.stack([vectors[i] for i in ids]) if ids else np.zeros((0, 1), dtype=np.float32)
    return SemanticNeighbours((ids, matrix))


def _rescale(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    if total <= 0:
        return dict(weights)
    return {n: w * TOTAL_WEIGHT / total for n, w in weights.items()}


def fit_stage(
    sequences: Sequence[Sequence[str]],
    config: StageConfig | None = None,
    cache_root: Path | None = None,
    fusion: FusionConfig | None = None,
    item_vectors: Callable[[], Mapping[str, np.ndarray]] | None = None,
) -> FittedStage:
    """Fit the candidate stage on users' ordered item sequences (one list per user).

    ``cache_root`` (a folder next to the store) keeps the SASRec and the tuned weights between
    runs; None disables caching. Weights are rescaled to the fixed mix's total weight.
    ``item_vectors`` (called only when needed) gives the item embeddings for the semantic
    source, which joins the tuning and serves only with a tuned weight above 0.
    """
    config = config or StageConfig()
    # rrf_k 9: an item at 0-based rank r earns w / (r + 10), the discount the pipeline used.
    fusion = fusion or FusionConfig(top_n=100, rrf_k=9.0, depth=100)
    t0 = time.perf_counter()
    n_seq = sum(1 for s in sequences if len(s) >= 3)
    key = sequences_key(sequences, config)
    use_sasrec = n_seq >= config.sasrec_min_users
    tune = n_seq >= config.tune_min_users
    info: dict[str, Any] = {"users_with_sequences": n_seq, "key": key, "cached": False}

    cached = _load_cache(cache_root / key) if cache_root is not None and tune else None
    if cache_root is not None:
        dropped = drop_stale(cache_root, key if cached else None)
        if dropped:
            log.info("dropped %d stale candidate-stage fit(s) under %s", len(dropped), cache_root)
    sources = _count_sources()
    sasrec = None
    semantic: SemanticNeighbours | None = None
    if cached is not None:
        meta, sasrec = cached
        weights = {n: float(w) for n, w in meta["weights"].items()}
        info.update(meta.get("info", {}), cached=True)
    elif tune:
        # Validation fit: every source sees each sequence minus its last item.
        heads = [list(s[:-1]) if len(s) >= 3 else list(s) for s in sequences]
        for _n, src in sources:
            src.fit(heads)
        named: list[tuple[str, CandidateSource, float]] = [
            (n, s, DEFAULT_WEIGHTS[n]) for n, s in sources
        ]
        if use_sasrec:
            seq_src = SequentialModel(config=_sasrec_config(config))
            t1 = time.perf_counter()
            seq_src.fit(sequences)  # trains on s[:-1], early-stops on s[-1]
            sasrec = seq_src.model
            info["sasrec_train_s"] = round(time.perf_counter() - t1, 2)
            info["sasrec_epochs"] = len(sasrec.log) if sasrec is not None else 0
            named.append(("sequential", seq_src, SEQUENTIAL_DEFAULT))
        if config.semantic and item_vectors is not None:
            semantic = _semantic(item_vectors)
            named.append(("semantic", semantic, SEMANTIC_DEFAULT))
        fused = FusedCandidates(named, fusion)
        tuned, ndcg, default_ndcg, n_tune = _tune(fused, sequences, config, sasrec)
        weights = _rescale(tuned)
        info.update(
            tuned_weights=tuned,
            valid_ndcg10=round(float(ndcg), 4),
            default_valid_ndcg10=round(float(default_ndcg), 4),
            weights_from="tuned"
            if ndcg >= default_ndcg * (1 + config.tune_min_gain)
            else "default",
            tune_users=n_tune,
        )
        if cache_root is not None:
            _write_cache(
                cache_root, key, {"weights": weights, "sasrec": sasrec is not None, "info": info},
                sasrec,
            )  # fmt: skip
    else:
        weights = dict(DEFAULT_WEIGHTS)
    # Serving fit: the count sources see every event (cheap); SASRec is not retrained.
    for _n, src in sources:
        src.fit(sequences)
    final: list[tuple[str, CandidateSource, float]] = [
        (n, s, weights.get(n, 0.0)) for n, s in sources
    ]
    if sasrec is not None:
        final.append(("sequential", SequentialModel(sasrec), weights.get("sequential", 0.0)))
    if weights.get("semantic", 0.0) > 0 and config.semantic and item_vectors is not None:
        # content-based, nothing fitted: the tuning's source serves as is (vectors read once)
        final.append(("semantic", semantic or _semantic(item_vectors), weights["semantic"]))
    info["fit_s"] = round(time.perf_counter() - t0, 2)
    return FittedStage(FusedCandidates(final, fusion), info)
