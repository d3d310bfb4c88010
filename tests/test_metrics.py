"""Ranking metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from finetune.metrics import (
    bootstrap_ci,
    hit_at_k,
    ndcg_at_k,
    per_user_metrics,
    precision_recall_f1_at_k,
    rank_of,
    ranking_report,
    reciprocal_rank,
    report_with_ci,
)


def test_rank_of_is_one_based_and_none_when_absent() -> None:
    assert rank_of(["a", "b", "c"], "c") == 3
    assert rank_of(["a", "b", "c"], "a") == 1
    assert rank_of(["a", "b"], "z") is None


def test_target_at_rank_three() -> None:
    assert ndcg_at_k(3, 10) == pytest.approx(0.5)  # 1 / log2(4)
    assert hit_at_k(3, 3) == 1.0
    assert hit_at_k(3, 2) == 0.0
    assert ndcg_at_k(3, 2) == 0.0
    assert reciprocal_rank(3) == pytest.approx(1 / 3)


def test_miss_scores_zero_everywhere() -> None:
    assert hit_at_k(None, 20) == 0.0
    assert ndcg_at_k(None, 20) == 0.0
    assert reciprocal_rank(None) == 0.0


def test_report_averages_over_all_users_misses_included() -> None:
    # ranks 1, 3, miss, 7: hr@5 = 2/4; ndcg@5 = (1 + 0.5) / 4; mrr = (1 + 1/3 + 1/7) / 4
    rep = ranking_report([1, 3, None, 7], ks=(5, 10))
    assert rep["hr@5"] == pytest.approx(0.5)
    assert rep["hr@10"] == pytest.approx(0.75)
    assert rep["ndcg@5"] == pytest.approx(1.5 / 4)
    assert rep["ndcg@10"] == pytest.approx((1 + 0.5 + 1 / math.log2(8)) / 4)
    assert rep["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)


def test_per_user_arrays_align_with_input() -> None:
    per = per_user_metrics([2, None], ks=(1, 5))
    assert per["hr@1"].tolist() == [0.0, 0.0]
    assert per["hr@5"].tolist() == [1.0, 0.0]
    assert per["ndcg@5"][0] == pytest.approx(1 / math.log2(3))


def test_precision_recall_f1_multi_item_truth() -> None:
    # top-4 = a b c d; truth = {b, d, x}: 2 hits -> P = 2/4, R = 2/3, F1 = 2PR/(P+R) = 4/7
    p, r, f1 = precision_recall_f1_at_k(["a", "b", "c", "d", "x"], {"b", "d", "x"}, 4)
    assert (p, r) == pytest.approx((0.5, 2 / 3))
    assert f1 == pytest.approx(4 / 7)
    assert precision_recall_f1_at_k(["a"], {"z"}, 3) == (0.0, 0.0, 0.0)
    # a short list is not rewarded: precision still divides by k
    assert precision_recall_f1_at_k(["b"], {"b"}, 5)[0] == pytest.approx(0.2)
    with pytest.raises(ValueError):
        precision_recall_f1_at_k(["a"], {"a"}, 0)


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    values = np.array([0.0] * 70 + [1.0] * 30)
    lo, hi = bootstrap_ci(values, n_resamples=500, seed=1)
    assert (lo, hi) == bootstrap_ci(values, n_resamples=500, seed=1)
    assert lo < 0.3 < hi
    # binomial sd of the mean = sqrt(.3*.7/100) ~ 0.046; the 95% interval is about +-0.09
    assert 0.12 < hi - lo < 0.24
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)


def test_report_with_ci_has_mean_and_interval() -> None:
    rep = report_with_ci([1, None, None, None], ks=(10,), n_resamples=200)
    assert rep["hr@10"]["mean"] == pytest.approx(0.25)
    assert rep["hr@10"]["lo"] <= 0.25 <= rep["hr@10"]["hi"]


def test_the_one_ndcg_on_hand_computed_values() -> None:
    from bot.recsys.metrics import mean_ndcg, ndcg_array

    # ranks 1, 2, 3, 7, 11 (outside @10), miss: 1, 1/log2(3)=0.63093, 1/log2(4)=0.5,
    # 1/log2(8)=1/3, 0, 0
    got = ndcg_array([1, 2, 3, 7, 11, 0], 10)
    assert got.tolist() == pytest.approx([1.0, 0.6309297535714575, 0.5, 1 / 3, 0.0, 0.0])
    assert ndcg_at_k(7, 10) == pytest.approx(1 / 3)
    assert ndcg_at_k(7, 6) == 0.0
    # lists: target first, third, absent -> (1 + 0.5 + 0) / 3
    lists = [["t", "a"], ["a", "b", "t"], ["a", "b"]]
    assert mean_ndcg(lists, ["t", "t", "t"], 10) == pytest.approx(0.5)
    assert mean_ndcg(lists, ["t", "t", "t"], 2) == pytest.approx(1 / 3)  # rank 3 is past @2
    assert mean_ndcg([], [], 10) == 0.0


def test_paired_bootstrap_keeps_users_paired() -> None:
    from finetune.metrics import paired_bootstrap

    # a hits at rank 1 wherever b hits at rank 3, plus 10 users where both miss:
    # NDCG@10 a = 30/40 = 0.75, b = 15/40 = 0.375, difference 0.375, relative +100%
    a = [1] * 30 + [None] * 10
    b = [3] * 30 + [None] * 10
    out = paired_bootstrap(a, b, k=10, n_resamples=300, seed=0)
    assert out["a"] == pytest.approx(0.75) and out["b"] == pytest.approx(0.375)
    assert out["diff"] == pytest.approx(0.375) and out["rel"] == pytest.approx(1.0)
    # every user's a is exactly twice its b, so every resample's relative gain is +100%
    assert out["rel_lo"] == pytest.approx(1.0) and out["rel_hi"] == pytest.approx(1.0)
    assert out["diff_lo"] < 0.375 < out["diff_hi"] and out["diff_lo"] > 0
    with pytest.raises(ValueError):
        paired_bootstrap([1], [1, 2])
