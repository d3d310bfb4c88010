"""Benchmark helpers: the quality LLM rank-weight tuning and report, the load soak's floor
(no model, no dataset)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest

from benchmarks.quality_llm import RANK_WEIGHTS, LLMReranker
from benchmarks.quality_report import markdown


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The whole quality benchmark on a tiny synthetic shop (a file in the benchmark-csv format
    without timestamps, like Sports): each user walks a cycle of 12 items with a user-specific
    stride, so transitions and SASRec can both learn it."""
    from benchmarks.quality import QualityConfig, run_quality
    from bot.recsys.stage import StageConfig

    path = tmp_path_factory.mktemp("tiny") / "interactions.csv"
    rows = ["user_id,item_id"]
    for u in range(90):
        rows += [f"u{u},i{(u + t * (1 + u % 2)) % 12}" for t in range(4 + u % 4)]
    path.write_text("\n".join(rows) + "\n")
    stage = StageConfig(tune_min_users=30, sasrec_budget_s=10, sasrec_max_epochs=6)
    cfg = QualityConfig(name="tiny", data=str(path), stage=stage, semantic=False, cache=False,
                        n_bootstrap=50)  # fmt: skip
    return run_quality(cfg)


def test_benchmark_measures_the_products_fit_stage(tiny_result: dict) -> None:
    from benchmarks.quality_data import load_dataset
    from bot.recsys.stage import StageConfig, fit_stage, sequences_key
    from finetune.splits import leave_one_out

    res = tiny_result
    split = leave_one_out(load_dataset(res["data"], "benchmark-csv", "tiny").sequences)
    stage_cfg = StageConfig(tune_min_users=30, sasrec_budget_s=10, sasrec_max_epochs=6)
    assert res["stage_info"]["key"] == sequences_key(split.fit_sequences("test"), stage_cfg)
    # the same call outside the benchmark serves the same weights (SASRec training is seeded)
    assert fit_stage(split.fit_sequences("test"), stage_cfg).weights == pytest.approx(
        res["stage_weights"]
    )
    assert res["stage_defaults_departed"] == {
        "tune_min_users": 30, "sasrec_budget_s": 10, "sasrec_max_epochs": 6
    }  # fmt: skip
    assert set(res["all"]) == set(res["all_kept"]) >= {"transitions", "SASRec", "candidate stage"}
    assert res["paired"]["all"]["baseline"] in {"MostPop", "transitions", "co-occurrence", "SASRec"}
    assert res["n_users"] == 90
    # history excluded: nothing owned comes back, nothing outside the catalogue
    for name in res["all"]:
        assert res["checks"][name]["already_owned"] == 0
        assert res["checks"][name]["out_of_catalog"] == 0
    md = markdown(res)
    assert "`tune_min_users=30`" in md and "## Candidate recall per source" in md


def test_item_vectors_choice_names_the_results_and_is_checked() -> None:
    from benchmarks.quality import QualityConfig

    assert QualityConfig(name="beauty").results_name == "beauty"
    assert QualityConfig(name="beauty", item_vectors="smollm2").results_name == "beauty-smollm2"
    with pytest.raises(ValueError, match="item_vectors"):
        QualityConfig(name="beauty", item_vectors="word2vec")


def test_combine_weight_zero_is_the_stage_order_and_a_large_weight_the_llm_order():
    cands = ["a", "b", "c", "d"]
    llm = [-5.0, -4.0, -3.0, -0.1]  # the model prefers d, then c
    assert LLMReranker.combine(cands, llm, 0.0) == cands
    assert LLMReranker.combine(cands, llm, 100.0) == ["d", "c", "b", "a"]
    assert LLMReranker.combine(cands, None, 4.0) == cands  # ranker skipped


def test_combine_ties_keep_the_stage_order():
    assert LLMReranker.combine(["x", "y"], [-1.0, -1.0 + math.log1p(1)], 1.0) == ["x", "y"]


def test_ndcg_by_weight_matches_hand_computed_values():
    # target "c" is third in the stage; the model puts nearly all its mass on it
    scored = [(["a", "b", "c"], [-9.0, -9.0, -0.01], "c"), (["a", "b"], None, "z")]
    by = LLMReranker._ndcg10_by_weight(scored)
    assert list(by) == list(RANK_WEIGHTS)
    assert by[0.0] == pytest.approx((1 / math.log2(4) + 0) / 2, abs=1e-5)
    assert by[4.0] == pytest.approx((1.0 + 0) / 2, abs=1e-5)


def _with_llm(res: dict, weight: float, test_scored: bool) -> dict:
    """A copy of a benchmark result with two LLM systems' records, as quality_llm writes them."""
    res = copy.deepcopy(res)
    record = {
        "path": "models/SmolLM2-135M-Instruct", "quantization": "fp32", "compute_dtype": "float32",
        "adapter": None, "scored_users": 20 if test_scored else 0, "mean_candidates": 20.0,
        "s_per_user_mean": 1.0, "s_per_user_p95": 1.5, "load_before": [1.0], "load_after": [1.0],
        "timed_on": "test users" if test_scored else "validation users", "rank_weight": weight,
        "tuning": {"users": 300, "valid_ndcg10_by_weight": {str(w): 0.05 + w / 100 for w in RANK_WEIGHTS},
                   "chosen": weight, "seconds": 1.0},
        "test_ndcg10_by_weight": {str(w): 0.06 for w in RANK_WEIGHTS} if test_scored else {},
    }  # fmt: skip
    res["llm"] = {"LLM zero-shot": dict(record), "LLM fine-tuned": dict(record)}
    stage = res["ci"]["candidate stage"]
    res["llm_subset"] = {"n": 20, "systems": {n: {m: stage["ndcg@10"] for m in
                         ("hr@10", "ndcg@10", "ndcg@20", "mrr")} for n in res["llm"]}}  # fmt: skip
    res["sample_users"] = 20
    return res


def test_report_renders_the_tuning_table(tiny_result: dict) -> None:
    md = markdown(_with_llm(tiny_result, 0.25, test_scored=True))
    assert "### Rank weight, tuned on validation users" in md
    assert "| LLM zero-shot: validation (300 users) | 0.0500 |" in md
    assert "rank_weight: LLM zero-shot 0.25, LLM fine-tuned 0.25" in md
    assert "not used for the choice" in md


def test_load_floor_trend_sees_retained_memory_under_transient_spikes() -> None:
    import numpy as np

    from benchmarks.load import floor_trend

    t = np.arange(0.0, 600.0, 2.0)
    spikes = np.where(np.arange(t.size) % 7 == 3, 400.0, 0.0)  # model turns in flight
    flat = floor_trend(t, 1000.0 + spikes)
    assert flat["slope_mib_per_min"] == pytest.approx(0.0, abs=1e-6)
    assert flat["floors_mib"] == [1000.0] * 10
    rising = floor_trend(t, 1000.0 + 0.1 * t + spikes)  # 6 MiB/min retained
    assert rising["slope_mib_per_min"] == pytest.approx(6.0, abs=0.1)
    assert rising["slope_second_half_mib_per_min"] == pytest.approx(6.0, abs=0.1)
    # the soak's last seconds (sessions stopping) make a partial window: left out
    tail = np.concatenate([t, 600.0 + np.arange(0.0, 30.0, 2.0)])
    ended = floor_trend(tail, np.where(tail < 600, 1000.0, 1300.0))
    assert ended["floors_mib"] == [1000.0] * 10
    lo, hi = rising["slope_second_half_ci95_mib_per_min"]
    assert lo <= 6.0 <= hi and lo > 0  # a real trend: the interval excludes 0
    noisy = floor_trend(t, 1000.0 + 5.0 * np.sin(t) + spikes)
    lo, hi = noisy["slope_second_half_ci95_mib_per_min"]
    assert lo <= 0 <= hi  # flat under noise: no trend


def test_weight_zero_serves_the_stage_order_without_calling_the_model() -> None:
    from benchmarks.registry import LLMOptions
    from knowledge.schema import Event

    class Refuses:
        def score(self, *args: object) -> None:
            raise AssertionError("the model was called at rank weight 0")

    r = LLMReranker.__new__(LLMReranker)  # the parts rerank reads, without loading a model
    r.options, r.rank_weight, r.ranker = LLMOptions(n_candidates=3), 0.0, Refuses()
    r.items = {"a": "A", "b": "B", "c": "C", "d": "D"}
    r.stage, r.pos, r.targets = [["a", "untitled", "b", "c", "d"]], {"u": 0}, {"u": "b"}
    r.scored, r.seconds, r.n_prompt_candidates = [], [], []
    assert r.rerank("u", ["z"]) == ["a", "b"]  # top 3 of the stage, titled ones only
    assert r.scored == [(["a", "b"], None, "b")]
    assert not r.uses_model()
    r.options = LLMOptions(n_candidates=3, test_sweep=True)  # the sweep scores them anyway
    r.events = {"u": [Event("u", "z", "purchase", 1)]}
    assert r.uses_model()
    with pytest.raises(AssertionError, match="rank weight 0"):
        r.rerank("u", ["z"])


def test_report_says_when_the_test_users_were_not_scored(tiny_result: dict) -> None:
    md = markdown(_with_llm(tiny_result, 0.0, test_scored=False))
    assert "test not scored (weight 0 serves the stage's order" in md
    assert "(validation)" in md


def test_load_soak_checkpoints_quiesce_the_real_server(tmp_path: Path) -> None:
    """The soak's checkpoints stop the sessions between segments and read the RSS with no turn
    in flight; the sessions and their counts carry on across segments."""
    from benchmarks.load import _quiesced_markdown, soak, start
    from knowledge.store import Store, StoreConfig
    from tests.fixtures.stores import SMALL_EVENTS, SMALL_ITEMS

    path = tmp_path / "store"
    with Store(StoreConfig(path=str(path), embedder="hashing")) as store:
        store.upsert_items(SMALL_ITEMS)
        store.add_events(SMALL_EVENTS)
    url, server, _ = start(path, "hashing", max_concurrency=2)
    try:
        out = soak(url, ["alice", "bob"], 2, seconds=16.0, every=0.5, checkpoint_every=2.0)
    finally:
        server.should_exit = True
    assert out["errors"] == 0 and out["turns"] > 0
    q = out["quiesced"]
    # one before the first segment, then one after each segment of at least 2 s (a checkpoint
    # itself takes a moment, so the number of segments depends on the machine's pace)
    n = len(q["t_s"])
    gaps = [b - a for a, b in zip(q["t_s"], q["t_s"][1:], strict=False)]
    # (the first reading's time is its own gc pass, which is longer in a big test process)
    assert n >= 5 and q["t_s"][-1] >= 16.0
    # the segments before the last two run their full 2 s; the reading after the last segment
    # may follow the one before it closely (a segment can end a moment before the soak does)
    assert all(g >= 2.0 for g in gaps[:-2]) and gaps[-1] > 0
    assert all(r > 0 for r in q["retained_mib"])
    parts = q["parts"]
    assert len(parts["python_objects"]) == n and min(parts["python_objects"]) > 1000
    assert all(a > 0 for a in parts["anon_mib"]) and all(f > 0 for f in parts["file_mib"])
    growth = q["python_types_growth_second_half"]
    assert all(count > 0 and isinstance(name, str) for name, count in growth)
    md = _quiesced_markdown(out)
    assert f"at the {n} checkpoints" in md and "anonymous RSS (MiB)" in md
    assert set(q) >= {"slope_mib_per_min", "slope_second_half_ci95_mib_per_min"}
    assert len(q["after_first"]["ci95_mib_per_min"]) == 2  # four or more readings under load


def test_trend_interval_tells_growth_from_noise() -> None:
    import numpy as np

    from benchmarks.load import _slopes, trend

    x = np.arange(0.0, 3600.0, 180.0)  # an hour of 3-minute checkpoints
    rng = np.random.default_rng(0)
    flat = trend(x, 900.0 + rng.normal(0.0, 3.0, x.size))
    lo, hi = flat["slope_second_half_ci95_mib_per_min"]
    assert lo <= 0 <= hi
    rising = trend(x, 900.0 + 0.5 * x / 60 + rng.normal(0.0, 3.0, x.size))  # 0.5 MiB/min
    lo, hi = rising["slope_second_half_ci95_mib_per_min"]
    assert lo > 0  # a trend: the interval excludes 0
    assert rising["slope_mib_per_min"] == pytest.approx(0.5, abs=0.1)
    assert trend(x[:2], x[:2])["slope_mib_per_min"] is None  # too few points to fit
    falling = trend(x, 900.0 - 0.5 * x / 60 + rng.normal(0.0, 3.0, x.size))
    said = _slopes(falling)
    assert "excludes 0: falling" in said and "growing" not in said
    assert "excludes 0: growing" in _slopes(rising)
    assert "includes 0: no trend detected" in _slopes(flat)
