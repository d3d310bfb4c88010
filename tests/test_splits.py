"""Leave-one-out splits and the Beauty loader."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from finetune.splits import leave_one_out, load_beauty_sequences, resolve_data_dir
from knowledge.errors import ConfigError


def test_last_is_test_second_to_last_is_valid() -> None:
    split = leave_one_out({"u1": ["a", "b", "c", "d"], "u2": ["x", "y", "z"]})
    assert split.users == ["u1", "u2"]
    assert split.train == [["a", "b"], ["x"]]
    assert split.valid == ["c", "y"]
    assert split.test == ["d", "z"]
    assert split.valid_history(0) == ["a", "b"]
    assert split.test_history(0) == ["a", "b", "c"]


def test_no_leakage_into_training_sequences() -> None:
    seqs = [[f"i{u}_{t}" for t in range(3 + u % 4)] for u in range(20)]
    split = leave_one_out(seqs)
    for u in range(20):
        assert split.valid[u] not in split.train[u]
        assert split.test[u] not in split.train[u]
        assert split.test[u] not in split.test_history(u)
        # training positions are exactly a prefix that stops before the held-out positions
        assert split.train[u] == seqs[u][: len(seqs[u]) - 2]
    assert split.fit_sequences("valid") == split.train
    assert all(s[-1] == split.valid[u] for u, s in enumerate(split.fit_sequences("test")))


def test_short_sequences_stay_in_training_only() -> None:
    split = leave_one_out([["a", "b"], ["c", "d", "e"]])
    assert split.train[0] == ["a", "b"] and split.test[0] is None
    assert split.evaluable("test") == [1]
    with pytest.raises(ConfigError):
        leave_one_out([["a"]], min_length=2)


def test_loader_keeps_file_row_order(tmp_path: Path) -> None:
    # Same-day rows deliberately out of item-id order: the file order must win.
    rows = [("u2", "z", 5), ("u1", "b", 9), ("u2", "a", 5), ("u1", "a", 1), ("u2", "m", 1)]
    with open(tmp_path / "interactions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "item_id", "timestamp", "rating"])
        w.writerows([(u, i, t, "") for u, i, t in rows])
    seqs = load_beauty_sequences(tmp_path)
    assert list(seqs) == ["u2", "u1"]
    assert seqs == {"u2": ["z", "a", "m"], "u1": ["b", "a"]}


def test_missing_data_dir_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NEXTNEED_DATA_DIR"):
        resolve_data_dir(tmp_path)


@pytest.mark.data
def test_beauty_counts_and_order(data_dir: Path) -> None:
    seqs = load_beauty_sequences(data_dir)
    assert len(seqs) == 22_363
    assert sum(len(s) for s in seqs.values()) == 198_502
    assert len({i for s in seqs.values() for i in s}) == 12_101
    # Row order kept: the first user's rows, read plainly, in file order.
    path = resolve_data_dir(data_dir) / "interactions.csv"
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        first = next(reader)
        user, items = first["user_id"], [first["item_id"]]
        for row in reader:
            if row["user_id"] != user:
                break
            items.append(row["item_id"])
    assert seqs[user] == items
    split = leave_one_out(seqs)
    assert len(split.evaluable("test")) == 22_363
