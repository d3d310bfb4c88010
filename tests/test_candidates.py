"""Candidate sources on toy sequences where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from bot.recsys.sources.candidates import (
    CandidateSource,
    CoOccurrence,
    CoOccurrenceConfig,
    FusedCandidates,
    FusionConfig,
    LearnedFusion,
    Popularity,
    SemanticNeighbours,
    Transitions,
    TransitionsConfig,
    fit_learned_fusion,
    fusion_ndcg,
    learned_ndcg,
    tune_weights,
)
from knowledge.errors import ConfigError

SEQS = [
    ["a", "b", "c"],
    ["a", "b", "d"],
    ["x", "a", "b"],
    ["c", "d", "e"],
    ["e", "d", "c"],
    ["p", "q", "r", "d"],
]


def ids(pairs: list[tuple[str, float]]) -> list[str]:
    return [i for i, _s in pairs]


def test_popularity_order_and_exclusion() -> None:
    pop = Popularity()
    pop.fit(SEQS)
    # counts: d=4, a=3, b=3, c=3, e=2 ... ties keep first-seen order (a, b, c)
    assert ids(pop.candidates([], 4, set())) == ["d", "a", "b", "c"]
    assert pop.candidates([], 1, set()) == [("d", 4.0)]
    assert ids(pop.candidates([], 2, {"d", "a"})) == ["b", "c"]


def test_transitions_rank_the_observed_successor_first() -> None:
    tr = Transitions()
    tr.fit(SEQS)
    out = tr.candidates(["z", "a"], 5, set())
    assert ids(out) == ["b"]  # a -> b always, and nothing else ever follows a
    assert out[0][1] == pytest.approx(1.0)
    # b is followed by c once and d once: equal probability, ties go to the more popular d
    assert ids(tr.candidates(["b"], 5, set())) == ["d", "c"]
    assert tr.candidates(["a"], 5, {"b"}) == []
    assert tr.candidates(["unknown"], 5, set()) == []


def test_share_is_the_fitted_row_share_of_a_pair() -> None:
    tr = Transitions()
    tr.fit(SEQS)
    assert tr.share("a", "b") == pytest.approx(1.0)  # a -> b every time
    assert tr.share("b", "c") == pytest.approx(0.5)  # b -> c once, b -> d once
    assert tr.share("b", "d") == pytest.approx(0.5)
    assert tr.share("c", "a") == 0.0  # never followed
    assert tr.share("a", "unknown") == 0.0 and tr.share("unknown", "a") == 0.0


def test_transitions_decay_weights_recent_items_more() -> None:
    tr = Transitions(TransitionsConfig(last_n=2, decay=0.5))
    tr.fit([["a", "b"], ["q", "r"]])
    # last item q votes r with 1.0, older a votes b with 0.5
    assert tr.candidates(["a", "q"], 5, set()) == [("r", 1.0), ("b", 0.5)]
    with pytest.raises(ConfigError, match="decay"):
        TransitionsConfig(decay=0)


def test_cooccurrence_is_symmetric_and_windowed() -> None:
    co = CoOccurrence(CoOccurrenceConfig(window=1, last_n=1))
    co.fit([["a", "b", "c"]])
    # window 1: a-b and b-c only; a and c never co-occur
    assert co.candidates(["b"], 5, set()) == [("a", 0.5), ("c", 0.5)]  # tie: first-seen order
    assert ids(co.candidates(["a"], 5, set())) == ["b"]
    assert ids(co.candidates(["c"], 5, set())) == ["b"]
    wide = CoOccurrence(CoOccurrenceConfig(window=2, pair_decay=0.5, last_n=1))
    wide.fit([["a", "b", "c"]])
    scores = dict(wide.candidates(["a"], 5, set()))
    assert scores["b"] == pytest.approx(1 / 1.5) and scores["c"] == pytest.approx(0.5 / 1.5)
    assert "a" not in dict(wide.candidates(["c"], 5, {"a"}))


def test_semantic_neighbours_reach_items_without_interactions() -> None:
    vecs = {
        "lipstick": np.array([1.0, 0.0, 0.1]),
        "lip gloss": np.array([0.9, 0.1, 0.0]),  # never bought by anyone
        "shampoo": np.array([0.0, 1.0, 0.0]),
        "conditioner": np.array([0.1, 0.9, 0.1]),
    }
    sem = SemanticNeighbours(vecs)
    sem.fit([])
    assert ids(sem.candidates(["lipstick"], 1, set())) == ["lip gloss"]
    assert "lipstick" not in ids(sem.candidates(["lipstick"], 3, set()))
    assert "lip gloss" not in ids(sem.candidates(["lipstick"], 3, {"lip gloss"}))
    assert sem.candidates(["unknown"], 3, set()) == []


def test_sources_satisfy_the_protocol() -> None:
    for src in (Popularity(), Transitions(), CoOccurrence(), SemanticNeighbours({})):
        assert isinstance(src, CandidateSource)


def test_fusion_merges_and_exposes_each_source() -> None:
    fused = FusedCandidates(
        [("transitions", Transitions(), 1.0), ("popularity", Popularity(), 0.1)],
        FusionConfig(top_n=3, rrf_k=0),
    )
    fused.fit(SEQS)
    per = fused.per_source(["a"], 10, {"a"})
    assert ids(per["transitions"]) == ["b"]
    assert ids(per["popularity"])[0] == "d"
    out = fused.candidates(["a"], 3, {"a"})
    # b: 1/1 from transitions + a popularity share; nothing else gets more than 0.1
    assert ids(out)[0] == "b" and len(out) == 3
    assert "a" not in ids(out)
    # hand-computed RRF with rrf_k = 0: score = sum w / (rank + 1)
    lists = {"transitions": ["b", "c"], "popularity": ["c", "d"]}
    got = dict(fused.fuse(lists, 3))
    assert got == pytest.approx({"b": 1.0, "c": 0.5 + 0.1, "d": 0.05})
    with pytest.raises(ConfigError):
        FusedCandidates([("x", Popularity(), 1.0), ("x", Popularity(), 1.0)])


def test_tune_weights_picks_the_informative_source() -> None:
    fused = FusedCandidates(
        [("good", Popularity(), 1.0), ("bad", Popularity(), 1.0)], FusionConfig(rrf_k=0)
    )
    lists = [{"good": ["t1", "z"], "bad": ["z", "t1"]}, {"good": ["t2", "y"], "bad": ["y", "t2"]}]
    best, score = tune_weights(fused, lists, ["t1", "t2"], {"bad": [0.0, 0.5, 2.0]}, k=1)
    assert best["bad"] < 1.0 and score == pytest.approx(1.0)
    assert fused.weights == best


def test_vectorised_fusion_ndcg_ranks_exactly_as_fuse_does() -> None:
    """Random lists with shared items (so ties at equal weights happen): the one-pass score of
    every weight set equals fusing each user's lists one by one."""
    from bot.recsys.metrics import mean_ndcg

    rng = np.random.default_rng(3)
    items = [f"i{n:02d}" for n in range(30)]
    lists = [
        {s: list(rng.choice(items, 12, replace=False)) for s in ("a", "b", "c")} for _ in range(60)
    ]
    targets = [str(rng.choice(items)) for _ in lists]
    fused = FusedCandidates(
        [(s, Popularity(), 1.0) for s in "abc"], FusionConfig(rrf_k=9.0, depth=10)
    )
    sets = [
        {"a": 1.0, "b": 1.0, "c": 1.0},
        {"a": 1.0, "b": 0.0, "c": 0.5},
        {"a": 0.0, "b": 2.0, "c": 0.0},
    ]
    got = fusion_ndcg(fused, lists, targets, sets, k=10)
    for weights, value in zip(sets, got, strict=True):
        ranked = [[i for i, _s in fused.fuse(per, 10, weights)] for per in lists]
        assert value == pytest.approx(mean_ndcg(ranked, targets, 10), abs=1e-12)
    assert got.max() > 0


def _confident_or_not(n_users: int, seed: int) -> tuple[list[dict], list[str]]:
    """A logit source ("seq") is right when sure of its top item (a wide gap to the next) and
    wrong when unsure; then a ratio source ("cnt") has the target at rank 1. Ranks alone
    cannot tell the two cases apart; scores can."""
    rng = np.random.default_rng(seed)
    lists, targets = [], []
    for u in range(n_users):
        sure = rng.random() < 0.5
        a, b, c = f"a{u}", f"b{u}", f"c{u}"
        gap = 4.0 if sure else 0.1
        seq = [(a, 8.0), (b, 8.0 - gap), (c, 8.0 - gap - 0.1)]
        cnt = [(c, 10.0), (b, 9.0), (a, 1.0)]
        lists.append({"seq": seq, "cnt": cnt})
        targets.append(a if sure else b)
    return lists, targets


def test_learned_fusion_reads_a_sources_confidence_where_rrf_cannot() -> None:
    fused = FusedCandidates(
        [("seq", Popularity(), 1.0), ("cnt", Popularity(), 1.0)], FusionConfig(rrf_k=9)
    )
    kinds = {"seq": "logit", "cnt": "ratio"}
    lists, targets = _confident_or_not(300, 0)
    learned = fit_learned_fusion(lists, targets, kinds, {"seq": 1.0, "cnt": 1.0}, 9.0, 100)
    assert learned is not None
    assert all(w >= 0 for w in [*learned.rank.values(), *learned.score.values()])
    assert learned.score["seq"] > 0  # the gap to the top logit carries the signal
    held_lists, held_targets = _confident_or_not(300, 1)
    grid = [{"seq": s, "cnt": c} for s in (0.0, 0.5, 1.0, 2.0) for c in (0.0, 0.5, 1.0, 2.0)]
    best_rrf = float(fusion_ndcg(fused, held_lists, held_targets, grid).max())
    assert learned_ndcg(learned, held_lists, held_targets, 9.0, 100) > best_rrf + 0.1
    # served: fuse ranks by the learned score, and the JSON form serves the same
    fused.learned = LearnedFusion.from_json(learned.to_json())
    assert fused.serves("seq") and fused.serves("cnt")
    for per, target in zip(held_lists[:20], held_targets[:20], strict=True):
        assert fused.fuse(per, 1)[0][0] == target
    with pytest.raises(ConfigError, match="'seq'"):
        fused.fuse({"seq": ["a0", "b0"]}, 1)  # ranks without scores cannot be scored


def test_learned_fusion_needs_a_listed_target() -> None:
    lists = [{"seq": [("a", 1.0)]}]
    assert fit_learned_fusion(lists, ["zz"], {"seq": "logit"}, {"seq": 1.0}, 9.0, 100) is None
