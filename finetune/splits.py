"""Leave-one-out splits over ordered item sequences, and a fast loader for Amazon Beauty.

The order of a user's rows in ``interactions.csv`` *is* the sequence order (same-day ties are
ordered as in the standard P5 / S3-Rec file), so nothing here ever sorts by timestamp.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.errors import ConfigError

__all__ = [
    "LeaveOneOut",
    "leave_one_out",
    "resolve_data_dir",
    "load_beauty_sequences",
    "DEFAULT_DATA_DIR",
]

log = logging.getLogger(__name__)

# The shared datasets live next to the checkout, never inside it.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class LeaveOneOut:
    """A leave-one-out split, aligned by position with ``users``.

    ``train[u]`` is everything before the last two items; ``valid[u]`` the second-to-last item
    and ``test[u]`` the last one. Users too short to split keep their whole sequence in
    ``train`` and have ``None`` targets, so their items still count for fitting.
    """

    users: list[str]
    train: list[list[str]]
    valid: list[str | None]
    test: list[str | None]

    def valid_history(self, u: int) -> list[str]:
        """What a model may see when predicting ``valid[u]``."""
        return self.train[u]

    def test_history(self, u: int) -> list[str]:
        """What a model may see when predicting ``test[u]`` (the validation item included)."""
        v = self.valid[u]
        return self.train[u] + [v] if v is not None else list(self.train[u])

    def fit_sequences(self, stage: str) -> list[list[str]]:
        """Sequences a model may be fitted on for ``stage`` ("valid" or "test")."""
        if stage == "valid":
            return [list(s) for s in self.train]
        if stage == "test":
            return [self.test_history(u) for u in range(len(self.users))]
        raise ConfigError(f"stage must be 'valid' or 'test', got {stage!r}")

    def evaluable(self, stage: str) -> list[int]:
        """Indices of users with a target for ``stage``."""
        targets = self.valid if stage == "valid" else self.test
        return [u for u, t in enumerate(targets) if t is not None]


def leave_one_out(
    sequences: Mapping[str, Sequence[str]] | Sequence[Sequence[str]], min_length: int = 3
) -> LeaveOneOut:
    """Split every sequence: last item test, second-to-last validation, the rest training.

    ``sequences`` is a user -> items mapping (insertion order kept) or a plain list (users are
    then named by position). Sequences shorter than ``min_length`` are not split.
    """
    if min_length < 3:
        raise ConfigError(f"min_length must be >= 3 (train, valid and test), got {min_length}")
    named = (
        list(sequences.items())
        if isinstance(sequences, Mapping)
        else [(str(i), s) for i, s in enumerate(sequences)]
    )
    users: list[str] = []
    train: list[list[str]] = []
    valid: list[str | None] = []
    test: list[str | None] = []
    for user, seq in named:
        seq = list(seq)
        users.append(user)
        if len(seq) < min_length:
            train.append(seq)
            valid.append(None)
            test.append(None)
        else:
            train.append(seq[:-2])
            valid.append(seq[-2])
            test.append(seq[-1])
    return LeaveOneOut(users, train, valid, test)


def resolve_data_dir(
    data_dir: str | os.PathLike[str] | None, dataset: str = "amazon-beauty"
) -> Path:
    """The dataset folder: ``data_dir`` (the data root or the dataset folder itself), else
    ``$NEXTNEED_DATA_DIR``, else ``../shared/data`` next to the repository."""
    from knowledge.settings import env_settings

    root = Path(data_dir or env_settings().data_dir or DEFAULT_DATA_DIR)
    for cand in (root, root / dataset):
        if (cand / "interactions.csv").is_file():
            return cand
    raise ConfigError(
        f"data_dir: no interactions.csv under {root} or {root / dataset}; "
        "pass --data-dir or set NEXTNEED_DATA_DIR"
    )


def load_beauty_sequences(data_dir: str | os.PathLike[str] | None = None) -> dict[str, list[str]]:
    """User -> ordered item ids from ``interactions.csv``, in file row order (users in order of
    first appearance). Takes about a second for Beauty."""
    import pandas as pd

    path = resolve_data_dir(data_dir) / "interactions.csv"
    df = pd.read_csv(path, usecols=["user_id", "item_id"], dtype=str, engine="c")
    # sort=False keeps users in first-appearance order; groupby keeps row order inside a group.
    out = {u: g.tolist() for u, g in df.groupby("user_id", sort=False)["item_id"]}
    log.info("loaded %d users, %d interactions from %s", len(out), len(df), path)
    return out
