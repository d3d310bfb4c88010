"""Offline recommendation quality on Amazon Beauty: the standard leave-one-out protocol.

``python -m benchmarks.quality --dataset beauty [--data-dir DIR] [--sample-users 2000] [--seed 0]
[--sasrec-dir DIR] [--systems "LLM zero-shot" "LLM fine-tuned" --adapter PATH]``

Last item = test, second-to-last = validation (row order of the file, never re-sorted); full
ranking over all items, a true item missing from a system's top list is a miss. Primary
convention: the user's own history is excluded from the ranking (as the product does);
MostPop and SASRec are also reported with the history kept, the convention of the published
numbers this run is checked against. Everything tunable (SASRec early stopping, fusion
weights) is tuned on the validation targets; test targets are touched once.

More systems plug in through :func:`register`: a factory receives the :class:`Context`
(fitted candidate stage, SASRec, split) and returns a :class:`Recommender`. Systems marked
``sample_only`` run on the fixed seeded user sample only; ``benchmarks.quality_llm`` registers
the LLM rankers that way. Every list is also checked: items outside the catalogue and items the
user already owns are counted (both must be 0 where the history is excluded).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from benchmarks.common import environment, write_results
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
from bot.recsys.sasrec import SASRecConfig, SASRecModel, train_sasrec
from finetune.metrics import rank_of, ranking_report, report_with_ci
from finetune.splits import LeaveOneOut, leave_one_out, load_beauty_sequences

__all__ = [
    "Recommender",
    "Context",
    "LLMOptions",
    "QualityConfig",
    "register",
    "SYSTEMS",
    "run_quality",
]

log = logging.getLogger(__name__)
KS = (5, 10, 20)
DEPTH = 100  # every system returns its top 100; MRR is therefore MRR@100


class Recommender(Protocol):
    """A system under test: ranked item ids for a batch of users (best first)."""

    def recommend(
        self,
        users: Sequence[str],
        histories: Sequence[Sequence[str]],
        k: int,
        exclude_history: bool,
    ) -> list[list[str]]: ...


@dataclass(frozen=True)
class LLMOptions:
    """How the LLM rankers run: N stage candidates per prompt, model precision, adapter."""

    n_candidates: int = 20
    quantization: str = "fp32"  # fp32 is the fastest on this CPU; nf4 ranks the same
    adapter: str | None = None
    threads: int | None = 2
    time_budget_s: float | None = None  # per LLM system; users done by then are reported
    rank_weight: float | None = None  # None: tuned on `tune_users` validation users
    tune_users: int = 300
    record_rank_weight: bool = False  # write the weight tuned for the adapter to its ranking.json
    test_sweep: bool = False  # score the test users even when the tuned weight 0 needs no model

    def __post_init__(self) -> None:
        if not 2 <= self.n_candidates <= 26:
            raise ValueError(f"LLMOptions.n_candidates must be 2..26, got {self.n_candidates}")
        if self.quantization not in ("nf4", "bf16", "fp32"):
            raise ValueError(
                f"LLMOptions.quantization must be nf4, bf16 or fp32, got {self.quantization!r}"
            )
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError("LLMOptions.time_budget_s must be > 0 or None")
        if self.rank_weight is not None and not self.rank_weight >= 0:
            raise ValueError("LLMOptions.rank_weight must be >= 0 or None (tuned)")
        if self.tune_users < 1:
            raise ValueError("LLMOptions.tune_users must be >= 1")


@dataclass
class Context:
    """What a system factory may use; everything is fitted without test targets."""

    split: LeaveOneOut
    fused: FusedCandidates  # count sources refitted on train + validation items
    sasrec: SASRecModel
    per_source: dict[str, list[list[str]]] = field(default_factory=dict)  # all users, test stage
    data_dir: str | None = None
    llm: LLMOptions = field(default_factory=LLMOptions)
    # The validation stage of the fusion-tuning users, in a seeded random order: user ids,
    # histories (validation item held out), validation targets, fused candidate lists.
    valid: list[tuple[str, list[str], str, list[str]]] = field(default_factory=list)


@dataclass
class System:
    factory: Callable[[Context], Recommender]
    sample_only: bool = False


SYSTEMS: dict[str, System] = {}


def register(name: str, sample_only: bool = False) -> Callable[[Callable[[Context], Any]], Any]:
    """Decorator: add a system factory to the benchmark under ``name``."""

    def deco(factory: Callable[[Context], Recommender]) -> Callable[[Context], Recommender]:
        SYSTEMS[name] = System(factory, sample_only)
        return factory

    return deco


class _Precomputed:
    """A system whose test-stage lists were computed once for all users (by user position)."""

    def __init__(self, ctx: Context, lists: list[list[str]]) -> None:
        self.pos = {u: n for n, u in enumerate(ctx.split.users)}
        self.lists = lists

    def recommend(
        self,
        users: Sequence[str],
        histories: Sequence[Sequence[str]],
        k: int,
        exclude_history: bool,
    ) -> list[list[str]]:
        return [self.lists[self.pos[u]][:k] for u in users]


class _SASRec:
    def __init__(self, model: SASRecModel) -> None:
        self.model = model

    def recommend(
        self,
        users: Sequence[str],
        histories: Sequence[Sequence[str]],
        k: int,
        exclude_history: bool,
    ) -> list[list[str]]:
        ex = [set(h) if exclude_history else set() for h in histories]
        return [[i for i, _s in r] for r in self.model.recommend(histories, k, ex)]


class _MostPop(_Precomputed):
    """Precomputed history-excluded lists; with the history kept, one global list for all."""

    def __init__(self, ctx: Context, pop: CandidateSource) -> None:
        super().__init__(ctx, ctx.per_source["popularity"])
        self.top = [i for i, _s in pop.candidates([], DEPTH, set())]

    def recommend(
        self,
        users: Sequence[str],
        histories: Sequence[Sequence[str]],
        k: int,
        exclude_history: bool,
    ) -> list[list[str]]:
        if exclude_history:
            return super().recommend(users, histories, k, exclude_history)
        return [self.top[:k] for _ in users]


register("MostPop")(lambda ctx: _MostPop(ctx, ctx.fused.sources["popularity"]))


def _source_system(name: str) -> Callable[[Context], Recommender]:
    return lambda ctx: _Precomputed(ctx, ctx.per_source[name])


for _name in ("transitions", "co-occurrence", "fused"):
    register(_name)(_source_system(_name))
register("SASRec")(lambda ctx: _SASRec(ctx.sasrec))


@dataclass
class QualityConfig:
    """One benchmark run."""

    dataset: str = "beauty"
    data_dir: str | None = None
    sample_users: int = 2000
    seed: int = 0
    tune_users: int = 3000  # validation users for the fusion-weight grid
    n_bootstrap: int = 1000
    sasrec: SASRecConfig = field(default_factory=SASRecConfig)
    systems: tuple[str, ...] = ()  # extra registered systems to run (sample only ones too)
    sasrec_dir: str | None = None  # load the SASRec from here if saved, else train and save
    llm: LLMOptions = field(default_factory=LLMOptions)

    def __post_init__(self) -> None:
        if self.dataset != "beauty":
            raise ValueError(f"QualityConfig.dataset: only 'beauty' is wired, got {self.dataset!r}")
        if self.sample_users < 1 or self.tune_users < 1:
            raise ValueError("QualityConfig.sample_users and tune_users must be >= 1")


def _source_lists(
    fused: FusedCandidates, sasrec: SASRecModel, histories: Sequence[Sequence[str]]
) -> dict[str, list[list[str]]]:
    """Each source's top-DEPTH list per user, history excluded."""
    out: dict[str, list[list[str]]] = {}
    for name, src in fused.sources.items():
        if isinstance(src, SequentialModel):
            rows = sasrec.recommend(histories, DEPTH, [set(h) for h in histories])
            out[name] = [[i for i, _s in r] for r in rows]
        else:
            out[name] = [[i for i, _s in src.candidates(h, DEPTH, set(h))] for h in histories]
    return out


def _sasrec(
    cfg: QualityConfig, split: LeaveOneOut, catalogue: list[str]
) -> tuple[SASRecModel, str | None]:
    """The SASRec of ``cfg.sasrec_dir`` if one was saved there for this catalogue, else a new
    one (trained on the training parts, early-stopped on validation; saved there if set)."""
    from pathlib import Path

    if cfg.sasrec_dir and (Path(cfg.sasrec_dir) / "model.pt").is_file():
        model = SASRecModel.load(cfg.sasrec_dir)
        if model.item_ids != catalogue:
            raise ValueError(f"the SASRec in {cfg.sasrec_dir} was trained on another catalogue")
        log.info("loaded SASRec from %s (%d epochs)", cfg.sasrec_dir, len(model.log))
        return model, cfg.sasrec_dir
    model = train_sasrec(split.train, split.valid, catalogue, cfg.sasrec)
    if cfg.sasrec_dir:
        model.save(cfg.sasrec_dir)
    return model, None


def _item_vectors(data_dir: str | None, catalogue: list[str]) -> tuple[list[str], np.ndarray]:
    """all-MiniLM-L6-v2 vectors of the catalogue's item texts (title, brand, categories: what
    the product embeds), for the semantic-neighbour source. About 2 minutes on 2 cores."""
    from finetune.dataset import beauty_items
    from finetune.splits import resolve_data_dir
    from knowledge.embed import make_embedder

    by_id = {i.item_id: i for i in beauty_items(resolve_data_dir(data_dir))}
    ids = [i for i in catalogue if i in by_id]
    t0 = time.perf_counter()
    vectors = make_embedder("minilm").embed([by_id[i].embedding_text() for i in ids])
    log.info("embedded %d item texts in %.0fs", len(ids), time.perf_counter() - t0)
    return ids, vectors


def _checks(
    lists: Sequence[Sequence[str]], histories: Sequence[Sequence[str]], catalogue: set[str]
) -> dict[str, int]:
    """Items outside the catalogue and items the user already owns, over all lists."""
    out_of_catalog = owned = 0
    for ranked, h in zip(lists, histories, strict=True):
        owned_set = set(h)
        out_of_catalog += sum(1 for i in ranked if i not in catalogue)
        owned += sum(1 for i in ranked if i in owned_set)
    return {"lists": len(lists), "out_of_catalog": out_of_catalog, "already_owned": owned}


def _fuse_all(fused: FusedCandidates, lists: dict[str, list[list[str]]], n: int) -> list[list[str]]:
    return [[i for i, _s in fused.fuse({s: lists[s][u] for s in lists}, DEPTH)] for u in range(n)]


def run_quality(cfg: QualityConfig) -> dict[str, Any]:
    """Run the whole protocol; returns the result dict written to ``results/``."""
    t_start = time.perf_counter()
    env = environment()
    split = leave_one_out(load_beauty_sequences(cfg.data_dir))
    catalogue = sorted(
        {i for s in split.fit_sequences("test") for i in s} | {t for t in split.test if t}
    )
    rng = np.random.default_rng(cfg.seed)

    # Validation stage: SASRec early-stops on validation NDCG@10; fusion weights on a grid.
    t0 = time.perf_counter()
    sasrec, sasrec_loaded = _sasrec(cfg, split, catalogue)
    sasrec_s = time.perf_counter() - t0
    semantic = SemanticNeighbours(_item_vectors(cfg.data_dir, catalogue))
    fused = FusedCandidates(
        [("transitions", Transitions(), 1.0), ("co-occurrence", CoOccurrence(), 0.6),
         ("sasrec", SequentialModel(sasrec), 1.0), ("popularity", Popularity(), 0.1),
         ("semantic", semantic, 0.0)],
        FusionConfig(top_n=50, depth=DEPTH),
    )  # fmt: skip
    for name, src in fused.sources.items():
        if name != "sasrec":
            src.fit(split.fit_sequences("valid"))
    valid_users = split.evaluable("valid")
    tune = sorted(rng.choice(valid_users, min(cfg.tune_users, len(valid_users)), replace=False))
    v_hist = [split.valid_history(u) for u in tune]
    v_lists = _source_lists(fused, sasrec, v_hist)
    per_user = [{s: v_lists[s][n] for s in v_lists} for n in range(len(tune))]
    grid = {
        "co-occurrence": [0.0, 0.3, 0.6, 1.0],
        "sasrec": [0.0, 0.5, 1.0, 1.5, 2.0, 3.0],
        "popularity": [0.0, 0.05, 0.2],
        "semantic": [0.0, 0.1, 0.25, 0.5, 1.0],
    }
    v_targets = [split.valid[u] for u in tune]
    weights, valid_ndcg = tune_weights(fused, per_user, v_targets, grid, k=10)
    log.info("fusion weights %s (valid NDCG@10 %.4f)", weights, valid_ndcg)
    # The validation stage in a seeded order, for systems that tune on it (the LLM rank weight)
    v_stage = _fuse_all(fused, v_lists, len(tune))
    valid = [
        (split.users[u], list(v_hist[n]), v_targets[n], v_stage[n])
        # own generator: the test sample drawn below stays the one earlier runs drew
        for n, u in (
            (n, tune[n]) for n in np.random.default_rng([cfg.seed, 1]).permutation(len(tune))
        )
    ]

    # Test stage: count sources see the validation items too; SASRec is not retrained.
    for name, src in fused.sources.items():
        if name != "sasrec":
            src.fit(split.fit_sequences("test"))
    users = split.evaluable("test")
    ids = [split.users[u] for u in users]
    hist = [split.test_history(u) for u in users]
    targets = [split.test[u] for u in users]
    lists = _source_lists(fused, sasrec, hist)
    lists["fused"] = _fuse_all(fused, lists, len(users))
    ctx = Context(split, fused, sasrec, dict(lists), cfg.data_dir, cfg.llm, valid)
    drawn = rng.choice(len(users), min(cfg.sample_users, len(users)), replace=False).tolist()
    sample = sorted(drawn)
    unknown = [n for n in cfg.systems if n not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown systems {unknown}; registered: {sorted(SYSTEMS)}")

    results: dict[str, Any] = {"all": {}, "sample": {}, "recall_at_n": {}, "checks": {}, "llm": {}}
    names = [n for n, s in SYSTEMS.items() if not s.sample_only or n in cfg.systems]
    runs = [(n, True) for n in names] + [("MostPop", False), ("SASRec", False)]
    catalogue_set = set(catalogue)
    per_system_ranks: dict[str, dict[int, int | None]] = {}
    for name, exclude in runs:
        t0 = time.perf_counter()
        system = SYSTEMS[name].factory(ctx)
        label = name if exclude else f"{name} (history kept)"
        on_sample = SYSTEMS[name].sample_only
        # Sample-only systems go in the draw's random order: a prefix is still a random sample.
        pick = drawn if on_sample else list(range(len(users)))
        ranked = system.recommend([ids[i] for i in pick], [hist[i] for i in pick], DEPTH, exclude)
        done = pick[: len(ranked)]
        ranks = [rank_of(r, targets[i]) for r, i in zip(ranked, done, strict=True)]
        per_system_ranks[label] = dict(zip(done, ranks, strict=True))
        results["checks"][label] = _checks(ranked, [hist[i] for i in done], catalogue_set)
        if not on_sample:
            results["all"][label] = ranking_report(ranks, KS)
        if len(done) == len(pick):
            results["sample"][label] = report_with_ci(
                [per_system_ranks[label][i] for i in sample], KS, cfg.n_bootstrap, cfg.seed
            )
        if hasattr(system, "report"):
            results["llm"][label] = system.report()
        log.info("%s: %.1fs", label, time.perf_counter() - t0)
    llm_names = [n for n in names if SYSTEMS[n].sample_only]
    if llm_names:
        # Every system on exactly the users all LLM systems finished (all of the sample if
        # they finished), so the comparison is paired.
        common = min(len(per_system_ranks[n]) for n in llm_names)
        subset = drawn[:common]
        results["llm_subset"] = {
            "n": common,
            "systems": {
                label: report_with_ci([r[i] for i in subset], KS, cfg.n_bootstrap, cfg.seed)
                for label, r in per_system_ranks.items()
                if "kept" not in label
            },
        }
    for name, per in lists.items():
        results["recall_at_n"][name] = {
            f"recall@{n}": float(
                np.mean([t in set(r[:n]) for r, t in zip(per, targets, strict=True)])
            )
            for n in (20, 50)
        }
    results.update(
        env=env, seed=cfg.seed, n_users=len(users), n_items=len(catalogue), sample_users=len(sample),
        fusion_weights=weights, fusion_valid_ndcg10=valid_ndcg, sasrec_config=asdict(sasrec.config),
        sasrec_epochs=len(sasrec.log), sasrec_log=sasrec.log, sasrec_train_s=sasrec_s,
        sasrec_loaded_from=sasrec_loaded, systems_requested=list(cfg.systems),
        llm_options=asdict(cfg.llm),
        wall_s=time.perf_counter() - t_start,
    )  # fmt: skip
    return results


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.quality", description=__doc__.split("\n")[0]
    )
    p.add_argument("--dataset", default="beauty")
    p.add_argument(
        "--data-dir", default=None, help="data root or dataset folder (default $NEXTNEED_DATA_DIR)"
    )
    p.add_argument("--sample-users", "--sample", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=40, help="SASRec max epochs")
    p.add_argument("--budget-s", type=float, default=1200, help="SASRec training time budget")
    p.add_argument("--threads", type=int, default=2, help="torch threads for SASRec")
    p.add_argument("--llm-threads", type=int, default=2, help="torch threads for the LLM")
    p.add_argument("--systems", nargs="*", default=[], help="extra registered systems")
    p.add_argument(
        "--sasrec-dir", "--save-sasrec", default=None,
        help="load the SASRec saved here; if there is none, train one and save it here",
    )  # fmt: skip
    p.add_argument("--adapter", default=None, help="LoRA adapter for 'LLM fine-tuned'")
    p.add_argument("--llm-candidates", type=int, default=20, help="stage candidates per prompt")
    p.add_argument("--llm-quantization", default="fp32", choices=["fp32", "bf16", "nf4"])
    p.add_argument("--llm-budget-s", type=float, default=None, help="time limit per LLM system")
    p.add_argument(
        "--llm-rank-weight", type=float, default=None,
        help="weight of the LLM's log-probabilities (default: tuned on validation users)",
    )  # fmt: skip
    p.add_argument(
        "--llm-tune-users", type=int, default=300,
        help="validation users that tune the rank weight (default 300)",
    )  # fmt: skip
    p.add_argument(
        "--record-rank-weight", action="store_true",
        help="record the weight tuned for --adapter in the adapter's ranking.json (the bot uses it)",
    )  # fmt: skip
    p.add_argument(
        "--llm-test-sweep", action="store_true",
        help="score the test users with the model even when the tuned weight is 0 (the served "
        "order is then the stage's own; the scores only feed the report's test sweep)",
    )  # fmt: skip
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import benchmarks.quality_llm as quality_llm  # registers the LLM rankers

    systems, not_run = list(a.systems), {}
    if quality_llm.FINE_TUNED in systems and not a.adapter:
        systems.remove(quality_llm.FINE_TUNED)
        not_run[quality_llm.FINE_TUNED] = "no adapter was given (--adapter PATH)"
    sas = SASRecConfig(
        max_epochs=a.epochs,
        time_budget_s=a.budget_s,
        num_threads=a.threads,
        seed=a.seed,
        progress=True,
    )
    llm = LLMOptions(
        a.llm_candidates, a.llm_quantization, a.adapter, a.llm_threads, a.llm_budget_s,
        a.llm_rank_weight, a.llm_tune_users, a.record_rank_weight, a.llm_test_sweep,
    )  # fmt: skip
    cfg = QualityConfig(
        a.dataset, a.data_dir, a.sample_users, a.seed, sasrec=sas, systems=tuple(systems),
        sasrec_dir=a.sasrec_dir, llm=llm,
    )  # fmt: skip
    res = run_quality(cfg)
    res["tune_users"] = cfg.tune_users
    res["not_run"] = not_run
    from importlib.metadata import version

    from benchmarks.quality_report import markdown

    res["versions_extra"] = {p: version(p) for p in ("scipy", "pandas", "peft")}
    write_results(f"quality-{a.dataset}", res, markdown(res))


if __name__ == "__main__":
    # Run the importable module, not this __main__ copy: benchmarks.quality_llm registers the
    # LLM rankers in benchmarks.quality.SYSTEMS, which __main__ would not see.
    from benchmarks import quality

    quality.main()
