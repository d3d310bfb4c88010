"""SASRec learns a deterministic pattern on a toy set; save/load keeps its scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bot.recsys.sources.candidates import SequentialModel
from bot.recsys.sources.sasrec import (
    SASRecConfig,
    SASRecEnsemble,
    SASRecModel,
    refit_sasrec,
    train_sasrec,
)
from knowledge.errors import ConfigError, ModelNotFoundError

ITEMS = [f"i{n}" for n in range(12)]


def cycle_data(n_users: int = 60) -> tuple[list[list[str]], list[str], list[str]]:
    """Every user walks the cycle i0 -> i1 -> ... -> i11 -> i0 from a different start."""
    rng = np.random.default_rng(0)
    train, valid, test = [], [], []
    for _u in range(n_users):
        start, length = int(rng.integers(12)), int(rng.integers(5, 10))
        seq = [ITEMS[(start + t) % 12] for t in range(length)]
        train.append(seq[:-2])
        valid.append(seq[-2])
        test.append(seq[-1])
    return train, valid, test


def tiny_config(**kw: object) -> SASRecConfig:
    base: dict[str, object] = dict(
        max_len=8, hidden=16, n_blocks=1, n_heads=1, dropout=0.1, lr=1e-2, batch_size=16,
        max_epochs=30, patience=30, seed=0, num_threads=1,
    )  # fmt: skip
    base.update(kw)
    return SASRecConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained() -> tuple[SASRecModel, list[list[str]], list[str], list[str]]:
    train, valid, test = cycle_data()
    return train_sasrec(train, valid, ITEMS, tiny_config()), train, valid, test


def test_learns_the_cycle(trained: tuple[SASRecModel, list, list, list]) -> None:
    model, train, valid, test = trained
    histories = [t + [v] for t, v in zip(train, valid, strict=True)]
    top1 = model.recommend(histories, 1, [set() for _ in histories])
    hit_rate = np.mean([r[0][0] == t for r, t in zip(top1, test, strict=True)])
    assert hit_rate > 0.9
    assert model.log and model.log[-1]["valid_ndcg@10"] > 0.9


def test_exclusion_and_shapes(trained: tuple[SASRecModel, list, list, list]) -> None:
    model, *_ = trained
    assert model.scores([["i0", "i1"], ["i5"]]).shape == (2, 12)
    out = model.recommend([["i0", "i1"]], 3, [{"i2"}])[0]
    assert len(out) == 3 and "i2" not in [i for i, _s in out]
    src = SequentialModel(model)
    src.fit([])  # already trained: a no-op
    assert src.candidates(["i3", "i4"], 1, set())[0][0] == "i5"


def test_save_load_roundtrip(trained: tuple[SASRecModel, list, list, list], tmp_path: Path) -> None:
    model, train, *_ = trained
    model.save(tmp_path / "m")
    again = SASRecModel.load(tmp_path / "m")
    assert again.item_ids == model.item_ids
    assert again.config == model.config
    np.testing.assert_allclose(again.scores(train[:5]), model.scores(train[:5]), rtol=1e-6)
    with pytest.raises(ModelNotFoundError):
        SASRecModel.load(tmp_path / "missing")


def test_an_ensemble_ranks_by_the_members_mean_logits_and_round_trips(
    trained: tuple[SASRecModel, list, list, list], tmp_path: Path
) -> None:
    model, train, valid, _test = trained
    other = train_sasrec(train, valid, ITEMS, tiny_config(seed=1, max_epochs=3))
    ens = SASRecEnsemble([model, other])
    histories = [["i0", "i1"], ["i7"]]
    mean = (model.scores(histories) + other.scores(histories)) / 2
    np.testing.assert_allclose(ens.scores(histories), mean, rtol=1e-6)
    top = ens.recommend(histories, 3, [{"i2"}, set()])
    for row, m in zip(top, mean, strict=True):
        assert [s for _i, s in row] == sorted((s for _i, s in row), reverse=True)
        assert row[0][1] == pytest.approx(float(np.max(m[[ITEMS.index(i) for i, _s in row]])))
    assert "i2" not in [i for i, _s in top[0]]
    assert {e["member"] for e in ens.log} == {0, 1}
    ens.save(tmp_path / "ens")
    again = SASRecEnsemble.load(tmp_path / "ens")
    assert len(again.members) == 2
    np.testing.assert_allclose(again.scores(histories), ens.scores(histories), rtol=1e-6)
    with pytest.raises(ModelNotFoundError, match="member-0"):
        SASRecEnsemble.load(tmp_path / "missing")
    with pytest.raises(ConfigError, match="one item catalogue"):
        SASRecEnsemble([model, train_sasrec(train, valid, ITEMS[::-1], tiny_config(max_epochs=1))])
    with pytest.raises(ConfigError, match="at least one"):
        SASRecEnsemble([])


def test_training_is_deterministic_with_a_seed() -> None:
    train, valid, _ = cycle_data(20)
    cfg = tiny_config(max_epochs=2)
    a = train_sasrec(train, valid, ITEMS, cfg)
    b = train_sasrec(train, valid, ITEMS, cfg)
    for (ka, va), (_kb, vb) in zip(
        a.net.state_dict().items(), b.net.state_dict().items(), strict=True
    ):
        assert torch.equal(va, vb), ka


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ConfigError, match="n_heads"):
        SASRecConfig(hidden=10, n_heads=3)
    with pytest.raises(ConfigError, match="dropout"):
        SASRecConfig(dropout=1.0)
    with pytest.raises(ConfigError, match="valid_targets"):
        train_sasrec([["i0", "i1"]], [], ITEMS, tiny_config())


def test_sampled_softmax_learns_the_cycle() -> None:
    """Softmax over the target and a few drawn items (the fast loss) still learns the pattern."""
    train, valid, test = cycle_data()
    model = train_sasrec(train, valid, ITEMS, tiny_config(negatives=8, negative_power=0.75))
    histories = [t + [v] for t, v in zip(train, valid, strict=True)]
    top1 = model.recommend(histories, 1, [set() for _ in histories])
    assert np.mean([r[0][0] == t for r, t in zip(top1, test, strict=True)]) > 0.9
    with pytest.raises(ConfigError, match="negatives"):
        SASRecConfig(negatives=0)
    with pytest.raises(ConfigError, match="negative_power"):
        SASRecConfig(negative_power=2.0)


def test_sampled_loss_is_the_logq_corrected_softmax_without_a_drawn_target() -> None:
    """The sampled loss is the softmax over the target and the drawn items, every logit minus
    its item's log sampling probability; a drawn item equal to a position's own target is no
    negative for that position. With no sampling it is the catalogue-wide cross-entropy."""
    from bot.recsys.sources.sasrec import _loss, _net

    torch.manual_seed(0)
    net = _net(6, tiny_config())
    h = torch.randn(3, 16)
    labels = torch.tensor([1, 2, 3])
    q = torch.tensor([0.4, 0.3, 0.1, 0.1, 0.05, 0.05])
    log_q = q.log()
    loss = _loss(net, h, labels, 4, log_q, torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(1)
    drawn = torch.multinomial(log_q.exp(), 4, replacement=True, generator=gen)
    drawn = drawn + 1
    logits = h @ net.items.weight.T - torch.cat([torch.zeros(1), log_q])  # column j = item j
    expected = []
    for b in range(3):
        negs = [int(d) for d in drawn if int(d) != int(labels[b])]
        row = torch.cat([logits[b, labels[b]].reshape(1), logits[b, negs]])
        expected.append(-torch.log_softmax(row, 0)[0])
    assert torch.allclose(loss, torch.stack(expected).mean(), atol=1e-5)
    full = _loss(net, h, labels, None, log_q, None)
    plain = h @ net.items.weight[1:].T
    assert torch.allclose(full, torch.nn.functional.cross_entropy(plain, labels - 1))


def test_length_batches_cover_every_sequence_once_with_similar_lengths() -> None:
    from bot.recsys.sources.sasrec import _length_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 51, 1000)
    batches = _length_batches(lengths, 64, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    by_length = sorted(batches, key=lambda b: int(lengths[b].min()))
    for shorter, longer in zip(by_length, by_length[1:], strict=False):  # never interleaved
        assert lengths[shorter].max() <= lengths[longer].min()
    budget = 64 * float(np.mean(lengths - 1))  # positions per batch, as 64 average sequences
    positions = sorted(int((lengths[b] - 1).sum()) for b in batches)
    assert all(budget <= p < budget + 50 for p in positions[1:])  # the last one may be short
    assert [int(lengths[b].min()) for b in batches] != [int(lengths[b].min()) for b in by_length]


def test_refit_learns_the_held_back_items() -> None:
    """The refit trains on the sequences it is given, the items that chose the epoch included:
    a transition only those items hold (i3 -> i7, where the cycle says i3 -> i4) moves up."""
    train, valid, _test = cycle_data()
    model = train_sasrec(train, valid, ITEMS, tiny_config(max_epochs=10))
    assert refit_sasrec(model, train, 0) is model and not any(r.get("refit") for r in model.log)

    def rank_of_i7() -> int:
        order = np.argsort(-model.scores([["i1", "i2", "i3"]])[0])
        return int(np.where(order == ITEMS.index("i7"))[0][0])

    before = rank_of_i7()
    refit_sasrec(model, [*train, *[["i1", "i2", "i3", "i7"]] * 60], 5)
    assert [r["refit"] for r in model.log if r.get("refit")] == [1] * 5
    assert rank_of_i7() < before
    assert not model.net.training  # left ready to score
