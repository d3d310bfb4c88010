"""The product's candidate stage: fused sources, SASRec above a size threshold, tuned weights,
a cache next to the store that never outlives a forgotten user's events."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.recsys.pipeline import PipelineConfig, RecommendationPipeline
from bot.recsys.stage import (
    CACHE_DIRNAME,
    DEFAULT_WEIGHTS,
    TOTAL_WEIGHT,
    StageConfig,
    fit_stage,
    sequences_key,
)
from knowledge.errors import ConfigError
from knowledge.schema import Event, Item
from knowledge.store import Store

# A shop where the next item is fixed by the last one: a -> b -> c -> d -> e -> a ...
CYCLE = ["a", "b", "c", "d", "e", "f"]


def cyclic_sequences(n_users: int, length: int = 6) -> list[list[str]]:
    return [[CYCLE[(u + t) % len(CYCLE)] for t in range(length)] for u in range(n_users)]


FAST = StageConfig(sasrec_min_users=30, tune_min_users=20, sasrec_budget_s=20, sasrec_max_epochs=8)


def test_small_store_keeps_the_fixed_mix_without_sasrec() -> None:
    stage = fit_stage(cyclic_sequences(10), StageConfig())
    assert stage.weights == DEFAULT_WEIGHTS
    assert "sequential" not in stage.fused.sources
    assert stage.info["users_with_sequences"] == 10
    # the fused stage predicts the cycle from the last item
    assert stage.fused.candidates(["c", "d"], 1, {"c", "d"})[0][0] == "e"


def test_enough_users_add_sasrec_and_tuned_weights_at_the_fixed_total() -> None:
    stage = fit_stage(cyclic_sequences(40), FAST)
    assert set(stage.fused.sources) == {"transitions", "co-occurrence", "popularity", "sequential"}
    assert sum(stage.weights.values()) == pytest.approx(TOTAL_WEIGHT)
    assert stage.info["tune_users"] == 40
    assert stage.info["valid_ndcg10"] == pytest.approx(1.0)  # the cycle is fully predictable
    assert stage.info["sasrec_epochs"] >= 1


def _pairs_only_embeddings_reveal(n_users: int = 60) -> tuple[list[list[str]], dict]:
    """Each user ends on x_u -> y_u, a pair nobody else bought, where y_u is x_u's embedding
    neighbour: transitions never saw the pair, the semantic source can find it."""
    import numpy as np

    rng = np.random.default_rng(0)
    vectors = {"p": rng.normal(size=16), "q": rng.normal(size=16)}
    seqs = []
    for u in range(n_users):
        base = rng.normal(size=16)
        vectors[f"x{u}"], vectors[f"y{u}"] = base, base + 0.05 * rng.normal(size=16)
        seqs.append(["p", "q", f"x{u}", f"y{u}"])
    return seqs, {k: (v / np.linalg.norm(v)).astype("float32") for k, v in vectors.items()}


def test_embedding_neighbours_join_only_where_validation_gives_them_weight() -> None:
    seqs, vectors = _pairs_only_embeddings_reveal()
    config = StageConfig(tune_min_users=20, sasrec_min_users=10_000)
    calls = []

    def item_vectors() -> dict:
        calls.append(1)
        return vectors

    stage = fit_stage(seqs, config, item_vectors=item_vectors)
    assert stage.info["tuned_weights"]["semantic"] > 0
    assert stage.weights["semantic"] > 0 and "semantic" in stage.fused.sources
    ranked = [i for i, _s in stage.fused.candidates(["p", "q", "x7"], 5, {"p", "q", "x7"})]
    assert ranked[0] == "y7"
    # cyclic shop: transitions already predict everything, so the source is left out
    cyc = fit_stage(cyclic_sequences(40), config, item_vectors=lambda: vectors)
    assert "semantic" not in cyc.fused.sources
    # switched off, or no vectors: never asked for them
    calls.clear()
    off = fit_stage(seqs, StageConfig(tune_min_users=20, sasrec_min_users=10_000, semantic=False),
                    item_vectors=item_vectors)  # fmt: skip
    assert "semantic" not in off.fused.sources and calls == []


def test_tuned_weights_must_beat_the_defaults_by_the_margin() -> None:
    seqs = cyclic_sequences(40)
    strict = fit_stage(seqs, StageConfig(**{**FAST.__dict__, "tune_min_gain": 10.0}))
    assert strict.info["weights_from"] == "default"
    expected = {**DEFAULT_WEIGHTS, "sequential": 1.0}
    scale = TOTAL_WEIGHT / sum(expected.values())
    assert strict.weights == pytest.approx({n: w * scale for n, w in expected.items()})


def test_cache_is_reused_and_dropped_when_the_sequences_change(tmp_path: Path) -> None:
    root = tmp_path / CACHE_DIRNAME
    seqs = cyclic_sequences(40)
    first = fit_stage(seqs, FAST, root)
    key = sequences_key(seqs, FAST)
    assert not first.info["cached"]
    assert (root / key / "stage.json").is_file()
    assert (root / key / "sasrec" / "model.pt").is_file()
    again = fit_stage(seqs, FAST, root)
    assert again.info["cached"]
    assert again.weights == first.weights
    history = ["a", "b"]
    assert again.fused.candidates(history, 3, set(history)) == first.fused.candidates(
        history, 3, set(history)
    )
    assert fit_stage(list(reversed(seqs)), FAST, root).info["cached"]  # users in another order
    changed = fit_stage(seqs[1:], FAST, root)
    assert not changed.info["cached"]
    assert [p.name for p in root.iterdir()] == [sequences_key(seqs[1:], FAST)]


def test_a_small_store_leaves_no_cache(tmp_path: Path) -> None:
    root = tmp_path / CACHE_DIRNAME
    fit_stage(cyclic_sequences(40), FAST, root)
    assert any(root.iterdir())
    fit_stage(cyclic_sequences(5), FAST, root)  # below both thresholds
    assert list(root.iterdir()) == []


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ConfigError, match="tune_users"):
        StageConfig(tune_users=0)
    with pytest.raises(ConfigError, match="sasrec_budget_s"):
        StageConfig(sasrec_budget_s=0)
    with pytest.raises(ConfigError, match="sasrec_min_users"):
        PipelineConfig(sasrec_min_users=0)
    with pytest.raises(ConfigError, match="sasrec_budget_s"):
        PipelineConfig(sasrec_budget_s=-1)


def _cyclic_store(store: Store, n_users: int) -> None:
    items = [Item(i, f"Product {i}", "Brand", ("Shop", f"Cat {i}"), 5.0, "") for i in CYCLE]
    items.append(Item("rare", "Only the leaver buys this", "Brand", ("Shop", "Rare"), 5.0, ""))
    store.upsert_items(items)
    events = []
    for u, seq in enumerate(cyclic_sequences(n_users, length=4)):
        for t, item in enumerate(seq):
            events.append(Event(f"user{u}", item, "purchase", 1_700_000_000 + t * 86400, t))
    events.append(Event("leaver", "a", "purchase", 1_700_000_000, 0))
    events.append(Event("leaver", "rare", "purchase", 1_700_086_400, 1))
    events.append(Event("leaver", "b", "purchase", 1_700_172_800, 2))
    store.add_events(events)


def test_pipeline_serves_the_fused_stage_and_forgets_into_the_sasrec(tmp_store: Store) -> None:
    _cyclic_store(tmp_store, 40)
    cfg = PipelineConfig(sasrec_min_users=30, tune_min_users=20, sasrec_budget_s=20)
    pipe = RecommendationPipeline(tmp_store, cfg)
    assert pipe.stage is not None and "sequential" in pipe.stage.fused.sources
    sasrec = pipe.stage.fused.sources["sequential"].model  # type: ignore[attr-defined]
    assert "rare" in sasrec.item_ids
    root = Path(tmp_store.config.path or "") / CACHE_DIRNAME
    old = {p.name for p in root.iterdir()}
    assert len(old) == 1
    # user3 bought d, e, f, a: the cycle continues with b; owned items never come back
    recs, _need, _t = pipe.recommend(pipe.view("user3"))
    assert recs[0].item_id == "b"
    assert not {"d", "e", "f", "a"} & {r.item_id for r in recs}

    tmp_store.delete_user("leaver")
    pipe.refresh()
    new = {p.name for p in root.iterdir()}
    assert len(new) == 1 and not new & old  # the fit that saw the leaver is gone
    sasrec = pipe.stage.fused.sources["sequential"].model  # type: ignore[attr-defined]
    assert "rare" not in sasrec.item_ids
    assert pipe.popularity["rare"] == 0


def test_pipeline_without_cache_writes_nothing(tmp_store: Store) -> None:
    _cyclic_store(tmp_store, 40)
    cfg = PipelineConfig(
        sasrec_min_users=30, tune_min_users=20, sasrec_budget_s=20, cache_models=False
    )
    RecommendationPipeline(tmp_store, cfg)
    assert not (Path(tmp_store.config.path or "") / CACHE_DIRNAME).exists()
