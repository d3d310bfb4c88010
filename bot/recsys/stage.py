"""Fitting the history-driven candidate stage the product serves.

Transitions, co-occurrence and popularity always; SASRec (``bot.recsys.sources.sasrec``: two of
them from different seeds, served as one source, the mean of their logits) as well once the store
has enough users with a sequence to learn from. The sources are merged by weighted
reciprocal-rank fusion (:class:`bot.recsys.sources.candidates.FusedCandidates`), with weights tuned for
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

from bot.recsys.sources.candidates import (
    CandidateSource,
    CoOccurrence,
    FusedCandidates,
    FusionConfig,
    LearnedFusion,
    Popularity,
    SemanticNeighbours,
    SequentialModel,
    Transitions,
    fit_learned_fusion,
    fusion_ndcg,
    learned_ndcg,
    tune_weights,
)
from knowledge.errors import ConfigError, ModelNotFoundError

__all__ = [
    "CACHE_DIRNAME",
    "DEFAULT_WEIGHTS",
    "StageConfig",
    "Slices",
    "validation_slices",
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
    # up to 3: on Amazon Sports the tuning chose 2.0, the edge of the earlier grid
    "sequential": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
    "popularity": (0.0, 0.05, 0.15),
    "semantic": (0.0, 0.25, 0.5, 1.0),
}
# How the stage is fitted, beyond the config and grid: a cached fit of another version is
# refitted (v2: SASRec cross-fitted for the tuning; the learned fusion offered to the check;
# v3: the sequential source is a SASRec ensemble, cached as sasrec/member-<n>)
FIT_VERSION = "stage-fit-v3"
# Embedding neighbours of the recent history join only where validation gives them weight: on
# Amazon Beauty they raised the fused stage's validation NDCG@10 from 0.0778 to 0.0847
# (benchmarks/results/quality-beauty.md); untuned they stay out.
SEMANTIC_DEFAULT = 0.0


@dataclass(frozen=True)
class StageConfig:
    """How the stage is fitted: the three validation slices, SASRec's training budget and the
    fusion tuning. Below ``tune_min_users`` nothing can be measured and the fixed mix serves."""

    tune_min_users: int = 200  # users with >= 3 purchases/reviews needed to measure anything
    # Disjoint validation slices (each user's last item): ``tune_users`` tune the fusion
    # weights, ``check_users`` decide between the tuned mix, the fixed mix and the best single
    # source, and every other user's last item chooses SASRec's epoch. Each of the first two
    # takes at most a third of the users.
    tune_users: int = 2000
    check_users: int = 2000
    tune_depth: int = 50
    # Tuned weights shrink toward equal weights as if the equal mix had been seen on this many
    # users: with 200 tuning users the tuned mix gets half the say.
    shrink_users: float = 200.0
    sasrec: bool = True  # offer a SASRec to the validation; it serves only with weight > 0
    # SASRec trains until validation stops improving (patience) or the budget runs out; the
    # budget scales with the data: 20 s per 1,000 events. With the sampled softmax an epoch of
    # Amazon Beauty (198k events) takes ~7 s on 2 CPU cores, so patience, not the budget, ends
    # training there (~55 epochs, 8 minutes).
    sasrec_s_per_1k_events: float = 20.0
    sasrec_min_budget_s: float = 30.0
    sasrec_budget_s: float | None = None  # a fixed budget instead of the scaled one
    sasrec_max_epochs: int = 300
    sasrec_patience: int = 10
    sasrec_lr: float = 2e-3
    sasrec_dropout: float = 0.5
    sasrec_threads: int | None = None
    sasrec_valid_users: int | None = 5000  # a seeded sample of the SASRec slice; None: all
    # Softmax over the target and this many items drawn by popularity**power (logQ-corrected);
    # None: over the whole catalogue (also used when the catalogue is no larger). 4,096 was tried:
    # Beauty's SASRec validation 0.0713 vs 0.070, but on Sports the stage's check slice fell
    # (SASRec alone 0.0388 -> 0.0370, served mix 0.0428 -> 0.0400), so 2,048 stays
    # (results/sasrec-cpu-beauty.md, results/quality-{beauty,sports}-sasrec-4096.md).
    sasrec_negatives: int | None = 2048
    sasrec_negative_power: float = 0.75
    # after the epoch is chosen and the fusion tuned: passes over every event, the items that
    # chose the epoch included (``refit_sasrec``). On Amazon Beauty one step back in time
    # (results/sasrec-refit-beauty.md) the early-stopped model scored 0.0598 NDCG@10 on the next
    # item, 0.0644 after 5 passes, 0.0639 after 6; 0 keeps the early-stopped weights
    sasrec_refit_epochs: int = 5
    # SASRecs trained alike from seeds seed, seed + 1, ... and served as one source, the mean of
    # their logits (``SASRecEnsemble``); each is trained, early-stopped and refit as above, so
    # the fit takes about this many times as long. Two vs one on test NDCG@10: Beauty 0.0634 vs
    # 0.0606, Sports 0.0375 vs 0.0352 (benchmarks/README, "Quality").
    sasrec_models: int = 2
    seed: int = 0
    semantic: bool = True  # offer the item-embedding neighbours to the tuning

    def __post_init__(self) -> None:
        for name in ("tune_min_users", "tune_users", "check_users", "tune_depth"):
            if getattr(self, name) < 1:
                raise ConfigError(f"StageConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("sasrec_s_per_1k_events", "sasrec_min_budget_s", "sasrec_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"StageConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.sasrec_budget_s is not None and not self.sasrec_budget_s > 0:
            raise ConfigError(
                f"StageConfig.sasrec_budget_s must be > 0 or None, got {self.sasrec_budget_s}"
            )
        if self.sasrec_refit_epochs < 0:
            raise ConfigError(
                f"StageConfig.sasrec_refit_epochs must be >= 0, got {self.sasrec_refit_epochs}"
            )
        if self.sasrec_models < 1:
            raise ConfigError(f"StageConfig.sasrec_models must be >= 1, got {self.sasrec_models}")
        if self.sasrec_max_epochs < 1 or self.sasrec_patience < 1:
            raise ConfigError("StageConfig.sasrec_max_epochs and sasrec_patience must be >= 1")
        if self.shrink_users < 0:
            raise ConfigError(f"StageConfig.shrink_users must be >= 0, got {self.shrink_users}")

    def sasrec_budget(self, n_events: int) -> float:
        """SASRec's training time budget in seconds for ``n_events`` training events."""
        if self.sasrec_budget_s is not None:
            return self.sasrec_budget_s
        return max(self.sasrec_min_budget_s, self.sasrec_s_per_1k_events * n_events / 1000)


@dataclass(frozen=True)
class Slices:
    """Which users' last items play which validation role (indices into the sequences)."""

    sasrec: list[int]  # choose SASRec's best epoch
    tune: list[int]  # tune the fusion weights
    check: list[int]  # held out: tuned mix vs fixed mix vs the best single source


def validation_slices(sequences: Sequence[Sequence[str]], config: StageConfig) -> Slices:
    """Seeded, disjoint slices of the users with >= 3 items (SASRec also early-stops on the
    last item of 2-item users, which the other slices cannot use)."""
    eligible = [u for u, s in enumerate(sequences) if len(s) >= 3]
    perm = [eligible[i] for i in np.random.default_rng(config.seed).permutation(len(eligible))]
    n_tune = min(config.tune_users, len(perm) // 3)
    n_check = min(config.check_users, len(perm) // 3)
    tune, check = sorted(perm[:n_tune]), sorted(perm[n_tune : n_tune + n_check])
    taken = set(tune) | set(check)
    rest = [u for u, s in enumerate(sequences) if len(s) >= 2 and u not in taken]
    return Slices(rest, tune, check)


@dataclass
class FittedStage:
    """The fitted sources with their fusion weights, and how they were obtained.

    ``sasrec`` is the trained SASRec even when validation gave it no weight (the benchmark
    reports it as a baseline); ``slices`` is None when the fit came from the cache."""

    fused: FusedCandidates
    info: dict[str, Any] = field(default_factory=dict)
    sasrec: Any = None
    slices: Slices | None = None

    @property
    def weights(self) -> dict[str, float]:
        return self.fused.weights


def sequences_key(sequences: Sequence[Sequence[str]], config: StageConfig) -> str:
    """A content hash of what the stage is fitted on and how (the fit version, the config and
    the tuning grid): each user's sequence in order, users in any order (the store may list
    them differently after a reopen)."""
    h = hashlib.sha256((FIT_VERSION + repr(config) + repr(sorted(GRID.items()))).encode())
    for seq in sorted(tuple(s) for s in sequences):
        h.update("\x1f".join(seq).encode())
        h.update(b"\x1e")
    return h.hexdigest()[:20]


def _count_sources() -> list[tuple[str, CandidateSource]]:
    return [("transitions", Transitions()), ("co-occurrence", CoOccurrence()),
            ("popularity", Popularity())]  # fmt: skip


def _sasrec_config(config: StageConfig, n_events: int, member: int = 0) -> Any:
    from bot.recsys.sources.sasrec import SASRecConfig

    return SASRecConfig(
        max_epochs=config.sasrec_max_epochs,
        time_budget_s=config.sasrec_budget(n_events),
        patience=config.sasrec_patience,
        lr=config.sasrec_lr,
        dropout=config.sasrec_dropout,
        num_threads=config.sasrec_threads,
        valid_users=config.sasrec_valid_users,
        negatives=config.sasrec_negatives,
        negative_power=config.sasrec_negative_power,
        seed=config.seed + member,
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
            from bot.recsys.sources.sasrec import SASRecEnsemble

            model = SASRecEnsemble.load(folder / "sasrec")
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


def _train_sasrec(sequences: Sequence[Sequence[str]], slices: Slices, config: StageConfig) -> Any:
    """``config.sasrec_models`` SASRecs (one seed each) trained on every sequence minus its
    last item, as one ``SASRecEnsemble``; only the SASRec slice's last items choose each one's
    epoch, so the fusion's tuning and check targets stay unseen."""
    from bot.recsys.sources.sasrec import SASRecEnsemble, train_sasrec

    chooses = set(slices.sasrec)
    train = [list(s[:-1]) for s in sequences]
    valid = [s[-1] if u in chooses else None for u, s in enumerate(sequences)]
    catalogue = sorted({i for s in sequences for i in s})
    n_events = sum(max(len(s) - 1, 0) for s in sequences)
    return SASRecEnsemble([
        train_sasrec(train, valid, catalogue, _sasrec_config(config, n_events, m))
        for m in range(config.sasrec_models)
    ])  # fmt: skip


def _refit(ensemble: Any, sequences: Sequence[Sequence[str]], epochs: int) -> Any:
    """Refit every member in place (``refit_sasrec``)."""
    from bot.recsys.sources.sasrec import refit_sasrec

    for member in ensemble.members:
        refit_sasrec(member, sequences, epochs)
    return ensemble


def _tuning_refit(sasrec: Any, sequences: Sequence[Sequence[str]], slices: Slices,
                  config: StageConfig) -> Any:  # fmt: skip
    """What the fusion is tuned and checked with: a copy of the early-stopped SASRec refit as
    the served one will be (``refit_sasrec``), on every event except the tuning and check
    users' last items. The served refit is stronger and surer than the early-stopped model;
    tuning on the latter gave SASRec too little say. Cross-fitted, the targets that tune and
    check the fusion stay unseen."""
    if not config.sasrec_refit_epochs:
        return sasrec
    import copy

    held = set(slices.tune) | set(slices.check)
    seqs = [list(s[:-1]) if u in held else list(s) for u, s in enumerate(sequences)]
    return _refit(copy.deepcopy(sasrec), seqs, config.sasrec_refit_epochs)


def _lists(
    fused: FusedCandidates, sasrec: Any, histories: list[list[str]], depth: int
) -> list[dict[str, list[tuple[str, float]]]]:
    """Each source's top ``depth`` ``(item, score)`` per history, history excluded (as the
    product ranks)."""
    excludes = [set(h) for h in histories]
    out: list[dict[str, list[tuple[str, float]]]] = [{} for _ in histories]
    for name, src in fused.sources.items():
        if name == "sequential":
            rows = sasrec.recommend(histories, depth, excludes)
        else:
            rows = [src.candidates(h, depth, ex) for h, ex in zip(histories, excludes, strict=True)]
        for per, row in zip(out, rows, strict=True):
            per[name] = list(row)
    return out


def _normalised(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {n: w / total for n, w in weights.items()} if total > 0 else dict(weights)


def _tune(
    fused: FusedCandidates,
    sequences: Sequence[Sequence[str]],
    slices: Slices,
    config: StageConfig,
    sasrec: Any,
) -> tuple[dict[str, float], LearnedFusion | None, dict[str, Any]]:
    """Tune on the tuning slice, shrink toward equal weights, fit the learned fusion there
    too, then let the held-out check slice choose: the best of the fixed mix without SASRec,
    the fixed mix, the shrunk tuned mix and the learned fusion (ties to the earlier), unless
    one source alone beats it. Returns the RRF weights (with the learned fusion: the tuned
    mix, which says which sources serve), the learned fusion if chosen, and a record of every
    score."""
    depth = config.tune_depth
    users = slices.tune + slices.check
    lists = _lists(fused, sasrec, [list(sequences[u][:-1]) for u in users], depth)
    targets = [sequences[u][-1] for u in users]
    n_tune = len(slices.tune)
    t_lists, t_targets = lists[:n_tune], targets[:n_tune]
    c_lists, c_targets = lists[n_tune:], targets[n_tune:]
    fixed = dict(fused.weights)
    grid = {n: v for n, v in GRID.items() if n in fused.sources}
    tuned, tune_ndcg = tune_weights(fused, t_lists, t_targets, grid, k=10)
    share = n_tune / (n_tune + config.shrink_users) if n_tune else 0.0
    equal = 1.0 / len(fused.sources)
    shrunk = {
        n: share * w + (1 - share) * equal for n, w in _normalised(tuned).items()
    }  # fmt: skip
    # Ties go to the simpler mix: the fixed one without SASRec, the fixed one, then tuned.
    options: dict[str, dict[str, float]] = {}
    if "sequential" in fused.sources:  # SASRec earns its place by measurement, not by size
        options["fixed without SASRec"] = {**fixed, "sequential": 0.0}
    options |= {"fixed": fixed, "tuned": shrunk}
    mixes = list(options)
    options |= {f"only {n}": {m: float(m == n) for m in fused.sources} for n in fused.sources}
    names = list(options)
    check = fusion_ndcg(fused, c_lists, c_targets, [options[n] for n in names], k=10)
    scores = dict(zip(names, (float(x) for x in check), strict=True))
    rrf_k, f_depth = fused.config.rrf_k, fused.config.depth
    # starts from the shrunk mix as served (rank terms only), every source offered
    learned = fit_learned_fusion(
        t_lists, t_targets, fused.kinds(), _rescale(shrunk), rrf_k, f_depth
    )
    mix = max(mixes, key=lambda n: scores[n])  # the first best
    single = max((n for n in names if n.startswith("only ")), key=lambda n: scores[n])
    chosen = single if scores[single] > scores[mix] else mix
    if learned is not None:  # the most complex option: it serves only if strictly better
        scores["learned"] = learned_ndcg(learned, c_lists, c_targets, rrf_k, f_depth)
        if scores["learned"] > scores[chosen]:
            chosen, options["learned"] = "learned", shrunk
    record = {
        "tuned_weights": tuned,
        "tune_ndcg10": round(tune_ndcg, 4),
        "shrink_share": round(share, 3),
        "shrunk_weights": {n: round(w, 4) for n, w in shrunk.items()},
        "check_ndcg10": {n: round(v, 4) for n, v in scores.items()},
        "learned": learned.to_json() if learned is not None else None,
        "weights_from": chosen,
        "tune_users": n_tune,
        "check_users": len(c_targets),
    }
    return dict(options[chosen]), learned if chosen == "learned" else None, record


def _semantic(item_vectors: Callable[[], Mapping[str, np.ndarray]]) -> SemanticNeighbours:
    vectors = item_vectors()
    ids = sorted(vectors)
    matrix = np.stack([vectors[i] for i in ids]) if ids else np.zeros((0, 1), dtype=np.float32)
    return SemanticNeighbours((ids, matrix))


def _serves(name: str, weights: Mapping[str, float], learned: LearnedFusion | None) -> bool:
    """Whether source ``name`` serves: an RRF weight above 0, or a part in the learned fusion
    (as ``FusedCandidates.serves`` decides once the stage is built)."""
    return weights.get(name, 0.0) > 0 or (learned is not None and name in learned.rank)


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

    With at least ``config.tune_min_users`` users of >= 3 items, a SASRec is trained and the
    fusion weights are chosen on disjoint validation slices (:func:`validation_slices`); the
    SASRec serves only where that measurement gives it weight, at any store size. Fewer users:
    the fixed mix of the count sources.

    ``cache_root`` (a folder next to the store) keeps the SASRec and the chosen weights between
    runs; None disables caching. Weights are rescaled to the fixed mix's total weight.
    ``item_vectors`` (called only when needed) gives the item embeddings for the semantic
    source, which joins the tuning and serves only with a chosen weight above 0.
    """
    config = config or StageConfig()
    # rrf_k 9: an item at 0-based rank r earns w / (r + 10), the discount the pipeline used.
    fusion = fusion or FusionConfig(top_n=100, rrf_k=9.0, depth=100)
    t0 = time.perf_counter()
    n_seq = sum(1 for s in sequences if len(s) >= 3)
    key = sequences_key(sequences, config)
    tune = n_seq >= config.tune_min_users
    info: dict[str, Any] = {"users_with_sequences": n_seq, "key": key, "cached": False}

    cached = _load_cache(cache_root / key) if cache_root is not None and tune else None
    if cache_root is not None:
        dropped = drop_stale(cache_root, key if cached else None)
        if dropped:
            log.info("dropped %d stale candidate-stage fit(s) under %s", len(dropped), cache_root)
    sources = _count_sources()
    sasrec = None
    slices: Slices | None = None
    semantic: SemanticNeighbours | None = None
    learned: LearnedFusion | None = None
    if cached is not None:
        meta, sasrec = cached
        weights = {n: float(w) for n, w in meta["weights"].items()}
        learned = LearnedFusion.from_json(meta["learned"]) if meta.get("learned") else None
        info.update(meta.get("info", {}), cached=True)
    elif tune:
        slices = validation_slices(sequences, config)
        # Validation fit: every source sees each sequence minus its last item.
        heads = [list(s[:-1]) if len(s) >= 3 else list(s) for s in sequences]
        for _n, src in sources:
            src.fit(heads)
        named: list[tuple[str, CandidateSource, float]] = [
            (n, s, DEFAULT_WEIGHTS[n]) for n, s in sources
        ]
        if config.semantic and item_vectors is not None:  # before the long part: fail early
            semantic = _semantic(item_vectors)
        tuner = None
        if config.sasrec:
            t1 = time.perf_counter()
            sasrec = _train_sasrec(sequences, slices, config)
            info["sasrec_train_s"] = round(time.perf_counter() - t1, 2)
            info["sasrec_epochs"] = len(sasrec.members[0].log)
            info["sasrec_models"] = len(sasrec.members)
            info["sasrec_member_epochs"] = [len(m.log) for m in sasrec.members]
            info["sasrec_valid_users"] = len(slices.sasrec)
            tuner = _tuning_refit(sasrec, sequences, slices, config)
            named.append(("sequential", SequentialModel(tuner), SEQUENTIAL_DEFAULT))
        if semantic is not None:
            named.append(("semantic", semantic, SEMANTIC_DEFAULT))
        fused = FusedCandidates(named, fusion)
        chosen, learned, record = _tune(fused, sequences, slices, config, tuner)
        weights = _rescale(chosen)
        info.update(record)
        info["sasrec_serves"] = _serves("sequential", weights, learned)
        if sasrec is not None and config.sasrec_refit_epochs:
            # the epoch is chosen and the weights tuned: now the held-back last items train
            # too, as the count sources' serving fit below sees every event
            t1 = time.perf_counter()
            _refit(sasrec, sequences, config.sasrec_refit_epochs)
            info["sasrec_refit_epochs"] = config.sasrec_refit_epochs
            info["sasrec_refit_s"] = round(time.perf_counter() - t1, 2)
        if cache_root is not None:
            meta = {"weights": weights, "learned": learned.to_json() if learned else None,
                    "sasrec": sasrec is not None, "info": info}  # fmt: skip
            _write_cache(cache_root, key, meta, sasrec)
    else:
        weights = dict(DEFAULT_WEIGHTS)
    # Serving fit: the count sources see every event (cheap); SASRec was refit above.
    for _n, src in sources:
        src.fit(sequences)
    final: list[tuple[str, CandidateSource, float]] = [
        (n, s, weights.get(n, 0.0)) for n, s in sources
    ]
    if sasrec is not None:
        final.append(("sequential", SequentialModel(sasrec), weights.get("sequential", 0.0)))
    if _serves("semantic", weights, learned) and config.semantic and item_vectors is not None:
        # content-based, nothing fitted: the tuning's source serves as is (vectors read once)
        final.append(("semantic", semantic or _semantic(item_vectors), weights["semantic"]))
    served = FusedCandidates(final, fusion)
    if learned is not None and set(learned.rank) <= set(served.sources):
        served.learned = learned
    elif learned is not None:  # a source it reads is missing here (no item vectors given)
        log.warning(
            "the learned fusion reads %s, not all served here: serving the RRF weights",
            sorted(learned.rank),
        )
    info["fit_s"] = round(time.perf_counter() - t0, 2)
    return FittedStage(served, info, sasrec, slices)
