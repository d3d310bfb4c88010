"""Offline recommendation quality of the product's candidate stage: leave-one-out on any dataset.

``python -m benchmarks.quality --dataset beauty|sports [--data-root DIR]``
``python -m benchmarks.quality --data PATH --format FORMAT --name NAME``

The candidate stage is the product's own: :func:`bot.recsys.stage.fit_stage` with the
product's default :class:`~bot.recsys.stage.StageConfig`, fitted on every user's sequence
minus its test item (so its internal leave-last-out validation is the second-to-last item).
Flags that depart from the defaults are recorded and printed in the report. The SASRec the
stage trained is the SASRec baseline; the stage's count sources are the other baselines.

Last item = test (row order of the file, never re-sorted); full ranking over all items; a true
item missing from a system's top 100 is a miss. Every system is reported over all test users
with the user's history excluded (the product's convention) and kept (the published one),
with a paired bootstrap interval of the stage against the strongest single baseline of the
same run. Test targets are touched once, after everything is fitted.

More systems plug in through :func:`benchmarks.registry.register`; ``benchmarks.quality_llm``
registers the LLM rankers (``--systems "LLM zero-shot"``), which run on a seeded user sample.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from benchmarks.common import BENCH_DIR, environment, write_results
from benchmarks.quality_data import Dataset, load_dataset, resolve_preset
from benchmarks.registry import SYSTEMS, Context, LLMOptions, Recommender, register
from bot.recsys.sources.candidates import CandidateSource, SequentialModel
from bot.recsys.stage import FittedStage, StageConfig, fit_stage
from finetune.metrics import paired_bootstrap, rank_of, ranking_report, report_with_ci
from finetune.splits import LeaveOneOut, leave_one_out

__all__ = ["QualityConfig", "run_quality", "validation_stage", "main"]

log = logging.getLogger(__name__)
KS = (5, 10, 20)
DEPTH = 100  # every system returns its top 100; MRR is therefore MRR@100
STAGE = "candidate stage"
SINGLE = ("MostPop", "transitions", "co-occurrence", "SASRec", "semantic")  # the baselines
# The stage's sequential source when it averages several SASRecs; "SASRec" is then its first
# member alone (the published baseline: one model), and the stage is also compared with this.
ENSEMBLE = "SASRec ensemble"
SOURCE_OF = {"MostPop": "popularity", "transitions": "transitions",
             "co-occurrence": "co-occurrence", "SASRec": "sequential", "semantic": "semantic"}  # fmt: skip


class _Lists:
    """A system whose lists were computed once for all test users (by user position), with
    the history excluded and kept."""

    def __init__(self, ctx: Context, name: str) -> None:
        self.pos = {u: n for n, u in enumerate(ctx.split.users)}
        self.excluded = ctx.per_source[name]
        self.kept = ctx.per_source[f"{name} (history kept)"]

    def recommend(
        self,
        users: Sequence[str],
        histories: Sequence[Sequence[str]],
        k: int,
        exclude_history: bool,
    ) -> list[list[str]]:
        lists = self.excluded if exclude_history else self.kept
        return [lists[self.pos[u]][:k] for u in users]


def _lists_system(name: str) -> Callable[[Context], Recommender]:
    return lambda ctx: _Lists(ctx, name)


for _name in (*SINGLE, ENSEMBLE, STAGE):
    register(_name)(_lists_system(_name))


ITEM_VECTORS = ("minilm", "smollm2")


@dataclass
class QualityConfig:
    """One benchmark run: which data, the stage's settings, the sample for sample-only systems."""

    name: str = "beauty"
    data: str | None = None  # events file or folder; None: the preset ``name`` under data_root
    format: str = "benchmark-csv"
    data_root: str | None = None
    stage: StageConfig = field(default_factory=StageConfig)
    semantic: bool = True  # item-embedding neighbours where the data has item texts
    item_vectors: str = "minilm"  # or "smollm2": the default LM's mean-pooled hidden states
    sample_users: int = 2000
    seed: int = 0
    n_bootstrap: int = 1000
    systems: tuple[str, ...] = ()  # extra registered systems to run (sample-only ones too)
    llm: LLMOptions = field(default_factory=LLMOptions)
    cache: bool = True  # keep the fitted stage under .nextneed/bench/stage-<name>

    def __post_init__(self) -> None:
        if self.sample_users < 1 or self.n_bootstrap < 1:
            raise ValueError("QualityConfig.sample_users and n_bootstrap must be >= 1")
        if self.item_vectors not in ITEM_VECTORS:
            raise ValueError(f"QualityConfig.item_vectors must be one of {ITEM_VECTORS}")

    @property
    def results_name(self) -> str:
        """quality-<this>: the dataset, plus the item vectors when they are not MiniLM's."""
        return self.name if self.item_vectors == "minilm" else f"{self.name}-{self.item_vectors}"


def stage_departures(config: StageConfig) -> dict[str, Any]:
    """The StageConfig fields that differ from the product's defaults."""
    default = StageConfig()
    return {
        f.name: getattr(config, f.name)
        for f in fields(config)
        if getattr(config, f.name) != getattr(default, f.name)
    }


def _item_vectors(
    ds: Dataset, catalogue: list[str], kind: str = "minilm"
) -> Callable[[], dict[str, np.ndarray]] | None:
    """Vectors of the catalogue's item texts, or None when the dataset has no item texts:
    all-MiniLM-L6-v2 (what the product embeds; about 2 minutes on 2 cores for Beauty) or the
    default LM's mean-pooled hidden states (``bot.llm.item_vectors``, cached by text hash)."""
    if not ds.items:
        return None
    items = ds.items

    def vectors() -> dict[str, np.ndarray]:
        by_id = {i.item_id: i for i in items}
        ids = [i for i in catalogue if i in by_id]
        texts = [by_id[i].embedding_text() for i in ids]
        t0 = time.perf_counter()
        if kind == "smollm2":
            from bot.llm.item_vectors import cached_lm_item_vectors

            return cached_lm_item_vectors(ids, texts, BENCH_DIR / "item-vectors")
        from knowledge.embed import make_embedder

        matrix = make_embedder("minilm").embed(texts)
        log.info("embedded %d item texts in %.0fs", len(ids), time.perf_counter() - t0)
        return dict(zip(ids, matrix, strict=True))

    return vectors


def _source_lists(
    stage: FittedStage, histories: Sequence[Sequence[str]], exclude: bool
) -> dict[str, list[list[tuple[str, float]]]]:
    """Each of the stage's sources' top-DEPTH ``(item, score)`` list per user."""
    out: dict[str, list[list[tuple[str, float]]]] = {}
    excludes = [set(h) if exclude else set() for h in histories]
    for name, src in stage.fused.sources.items():
        if isinstance(src, SequentialModel) and src.model is not None:
            rows = src.model.recommend(histories, DEPTH, excludes)
        else:
            rows = [
                _candidates(src, h, ex) for h, ex in zip(histories, excludes, strict=True)
            ]  # fmt: skip
        out[name] = [list(r) for r in rows]
    return out


def _candidates(src: CandidateSource, history: Sequence[str], exclude: set[str]) -> list[Any]:
    return src.candidates(history, DEPTH, exclude)


def _ids(rows: list[list[tuple[str, float]]]) -> list[list[str]]:
    return [[i for i, _s in r] for r in rows]


def _fuse_all(
    stage: FittedStage, lists: dict[str, list[list[tuple[str, float]]]], n: int
) -> list[list[str]]:
    return [
        [i for i, _s in stage.fused.fuse({s: lists[s][u] for s in lists}, DEPTH)] for u in range(n)
    ]


def validation_stage(
    stage: FittedStage, split: LeaveOneOut, n_users: int, seed: int
) -> list[tuple[str, list[str], str, list[str]]]:
    """The stage's lists for seeded validation users (validation item held out): the same
    source types and weights refitted on the training parts; SASRec as trained."""
    sources = {}
    for name, src in stage.fused.sources.items():
        if isinstance(src, SequentialModel) or name == "semantic":
            sources[name] = src  # nothing to refit (SASRec never saw a validation item's input)
        else:
            fresh = type(src)()
            fresh.fit(split.fit_sequences("valid"))
            sources[name] = fresh
    users = split.evaluable("valid")
    rng = np.random.default_rng([seed, 1])
    pick = [users[i] for i in rng.permutation(len(users))[:n_users]]
    out = []
    for u in pick:
        hist = split.valid_history(u)
        per = {n: s.candidates(hist, DEPTH, set(hist)) for n, s in sources.items()}
        target = split.valid[u]
        assert target is not None
        out.append((split.users[u], hist, target, [i for i, _s in stage.fused.fuse(per, DEPTH)]))
    return out


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


def _load(cfg: QualityConfig) -> Dataset:
    if cfg.data:
        return load_dataset(cfg.data, cfg.format, cfg.name)
    folder, fmt, title = resolve_preset(cfg.name, cfg.data_root)
    return load_dataset(folder, fmt, cfg.name, title)


def run_quality(cfg: QualityConfig) -> dict[str, Any]:
    """Run the whole protocol; returns the result dict written to ``results/``."""
    t_start = time.perf_counter()
    env = environment()
    ds = _load(cfg)
    split = leave_one_out(ds.sequences)
    fit_on = split.fit_sequences("test")  # every sequence minus its test item
    catalogue = sorted({i for s in fit_on for i in s} | {t for t in split.test if t})

    # The product's stage, fitted without test targets (cached by a hash of what it saw).
    t0 = time.perf_counter()
    vectors = _item_vectors(ds, catalogue, cfg.item_vectors) if cfg.semantic else None
    cache = BENCH_DIR / f"stage-{cfg.results_name}" if cfg.cache else None
    stage = fit_stage(fit_on, cfg.stage, cache, item_vectors=vectors)
    stage_s = time.perf_counter() - t0
    log.info("stage %s (%.0fs): %s", stage.weights, stage_s, stage.info)
    if stage.sasrec is None:
        log.warning("the stage trained no SASRec (too few users?): no SASRec baseline")

    users = split.evaluable("test")
    ids = [split.users[u] for u in users]
    hist = [split.test_history(u) for u in users]
    targets = [split.test[u] for u in users]
    per_source: dict[str, list[list[str]]] = {}
    t0 = time.perf_counter()
    for exclude in (True, False):
        lists = _source_lists(stage, hist, exclude)
        suffix = "" if exclude else " (history kept)"
        for label, source in SOURCE_OF.items():
            if source in lists:
                per_source[label + suffix] = _ids(lists[source])
        per_source[STAGE + suffix] = _fuse_all(stage, lists, len(users))
        members = getattr(stage.sasrec, "members", [])
        if len(members) > 1 and "sequential" in lists:
            per_source[ENSEMBLE + suffix] = per_source["SASRec" + suffix]
            excludes = [set(h) if exclude else set() for h in hist]
            per_source["SASRec" + suffix] = _ids(members[0].recommend(hist, DEPTH, excludes))
        if exclude:
            recall_lists = {**{n: _ids(r) for n, r in lists.items()}, STAGE: per_source[STAGE]}
    log.info("test lists for %d users in %.0fs", len(users), time.perf_counter() - t0)
    ctx = Context(split, stage, per_source, cfg.data_root, cfg.llm, dataset=cfg.name)
    unknown = [n for n in cfg.systems if n not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown systems {unknown}; registered: {sorted(SYSTEMS)}")
    names = [
        n for n, s in SYSTEMS.items()
        if (n in cfg.systems or not s.sample_only) and (s.sample_only or n in per_source)
    ]  # fmt: skip
    if any(SYSTEMS[n].needs_valid for n in names):
        ctx.valid = validation_stage(stage, split, cfg.llm.tune_users, cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    drawn = rng.choice(len(users), min(cfg.sample_users, len(users)), replace=False).tolist()

    res: dict[str, Any] = {"all": {}, "all_kept": {}, "ci": {}, "checks": {}, "llm": {}}
    ranks_by: dict[str, dict[int, int | None]] = {}
    catalogue_set = set(catalogue)
    for name in names:
        system, sample_only = SYSTEMS[name].factory(ctx), SYSTEMS[name].sample_only
        for exclude in (True, False) if not sample_only else (True,):
            label = name if exclude else f"{name} (history kept)"
            pick = drawn if sample_only else list(range(len(users)))
            ranked = system.recommend([ids[i] for i in pick], [hist[i] for i in pick], DEPTH,
                                      exclude)  # fmt: skip
            done = pick[: len(ranked)]
            ranks = [rank_of(r, targets[i]) for r, i in zip(ranked, done, strict=True)]
            ranks_by[label] = dict(zip(done, ranks, strict=True))
            res["checks"][label] = _checks(ranked, [hist[i] for i in done], catalogue_set)
            if not sample_only:
                res["all" if exclude else "all_kept"][name] = ranking_report(ranks, KS)
                res["ci"][label] = report_with_ci(ranks, (10,), cfg.n_bootstrap, cfg.seed)
            if hasattr(system, "report"):
                res["llm"][label] = system.report()
    llm_names = [n for n in names if SYSTEMS[n].sample_only]
    if llm_names:
        # Every system on exactly the users all sample-only systems finished, so it is paired.
        subset = drawn[: min(len(ranks_by[n]) for n in llm_names)]
        res["llm_subset"] = {
            "n": len(subset),
            "systems": {
                label: report_with_ci([r[i] for i in subset], KS, cfg.n_bootstrap, cfg.seed)
                for label, r in ranks_by.items()
                if "kept" not in label
            },
        }
    res["paired"] = {}
    for key, suffix in (("all", ""), ("all_kept", " (history kept)")):
        base = {n: m["ndcg@10"] for n, m in res[key].items() if n in SINGLE}
        if not base or STAGE not in res[key]:
            continue
        best = max(base, key=lambda n: base[n])
        a = [ranks_by[STAGE + suffix][i] for i in range(len(users))]
        b = [ranks_by[best + suffix][i] for i in range(len(users))]
        res["paired"][key] = {
            "baseline": best,
            **paired_bootstrap(a, b, 10, cfg.n_bootstrap, cfg.seed),
        }
        if ENSEMBLE in res[key]:  # the stage against its own sequential source, for the record
            e = [ranks_by[ENSEMBLE + suffix][i] for i in range(len(users))]
            res.setdefault("paired_ensemble", {})[key] = {
                "baseline": ENSEMBLE,
                **paired_bootstrap(a, e, 10, cfg.n_bootstrap, cfg.seed),
            }
    res["recall"] = {
        name: {
            f"recall@{n}": float(
                np.mean([t in set(r[:n]) for r, t in zip(per, targets, strict=True)])
            )
            for n in (10, 20, 50, 100)
        }
        for name, per in recall_lists.items()
    }
    sasrec = stage.sasrec
    res.update(
        dataset=cfg.name, title=ds.title, data=ds.path, format=ds.format, env=env, seed=cfg.seed,
        n_users=len(users), n_items=len(catalogue), n_events=ds.n_events,
        stage_defaults_departed=stage_departures(cfg.stage), semantic=vectors is not None,
        item_vectors=cfg.item_vectors if vectors is not None else None,
        stage_info=stage.info, stage_weights=stage.weights, stage_s=stage_s,
        sasrec_config=asdict(sasrec.config) if sasrec else None,
        sasrec_log=sasrec.log if sasrec else [], sample_users=len(drawn),
        systems_requested=list(cfg.systems), llm_options=asdict(cfg.llm),
        wall_s=time.perf_counter() - t_start,
    )  # fmt: skip
    return res


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.quality", description=__doc__.split("\n")[0]
    )
    p.add_argument("--dataset", default=None, help="a named preset: beauty or sports")
    p.add_argument("--data", default=None, help="an events file (or folder) to benchmark")
    p.add_argument("--format", default="benchmark-csv", help="its format (knowledge.formats)")
    p.add_argument("--name", default=None, help="results name for --data (quality-NAME.md)")
    p.add_argument("--data-root", "--data-dir", default=None,
                   help="root of the presets (default $NEXTNEED_DATA_DIR, else ../shared/data)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-users", type=int, default=2000, help="for sample-only systems")
    p.add_argument("--sasrec-budget-s", type=float, default=None,
                   help="fixed SASRec training budget (departs from the product's scaled one)")  # fmt: skip
    p.add_argument("--sasrec-max-epochs", type=int, default=None, help="departs from default")
    p.add_argument("--threads", type=int, default=2, help="torch threads for SASRec")
    p.add_argument("--sasrec-valid-users", default=None,
                   help="users choosing SASRec's epoch: a count or 'all' (departs from default)")  # fmt: skip
    p.add_argument("--no-semantic", action="store_true", help="leave the item-text source out")
    p.add_argument("--item-vectors", default="minilm", choices=ITEM_VECTORS,
                   help="the item-text source's vectors: MiniLM or the default LM's")  # fmt: skip
    p.add_argument("--no-cache", action="store_true", help="refit the stage even if cached")
    p.add_argument("--systems", nargs="*", default=[], help="extra registered systems")
    p.add_argument("--adapter", default=None, help="LoRA adapter for 'LLM fine-tuned'")
    p.add_argument("--llm-candidates", type=int, default=20, help="stage candidates per prompt")
    p.add_argument("--llm-quantization", default="fp32", choices=["fp32", "bf16", "nf4"])
    p.add_argument("--llm-budget-s", type=float, default=None, help="time limit per LLM system")
    p.add_argument("--llm-rank-weight", type=float, default=None)
    p.add_argument("--llm-tune-users", type=int, default=300)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if bool(a.dataset) == bool(a.data):
        p.error("give exactly one of --dataset NAME or --data PATH")
    import benchmarks.quality_llm  # noqa: F401  (registers the LLM rankers)

    stage = replace(StageConfig(), sasrec_threads=a.threads)
    if a.sasrec_budget_s is not None:
        stage = replace(stage, sasrec_budget_s=a.sasrec_budget_s)
    if a.sasrec_max_epochs is not None:
        stage = replace(stage, sasrec_max_epochs=a.sasrec_max_epochs)
    if a.sasrec_valid_users is not None:
        valid_users = None if a.sasrec_valid_users == "all" else int(a.sasrec_valid_users)
        stage = replace(stage, sasrec_valid_users=valid_users)
    llm = LLMOptions(a.llm_candidates, a.llm_quantization, a.adapter, 2, a.llm_budget_s,
                     a.llm_rank_weight, a.llm_tune_users)  # fmt: skip
    name = a.dataset or a.name or "custom"
    cfg = QualityConfig(
        name=name, data=a.data, format=a.format, data_root=a.data_root, stage=stage,
        semantic=not a.no_semantic, sample_users=a.sample_users, seed=a.seed,
        systems=tuple(a.systems), llm=llm, cache=not a.no_cache, item_vectors=a.item_vectors,
    )  # fmt: skip
    res = run_quality(cfg)
    import sys

    res["command"] = "python -m benchmarks.quality " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    from benchmarks.quality_report import markdown

    write_results(f"quality-{cfg.results_name}", res, markdown(res))


if __name__ == "__main__":
    main()
