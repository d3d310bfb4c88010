"""Fast, in-catalog candidate sources over plain item sequences.

Each source implements :class:`CandidateSource`: ``fit(sequences)`` on users' ordered item ids,
then ``candidates(history, k, exclude)`` returns ``(item_id, score)`` pairs, best first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["CandidateSource", "Popularity", "Transitions", "CoOccurrence", "SemanticNeighbours"]


@runtime_checkable
class CandidateSource(Protocol):
    def fit(self, sequences: Sequence[Sequence[str]]) -> None: ...

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]: ...


class Popularity:
    """Most interacted-with items."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._ranked: list[tuple[str, int]] = []

    def fit(self, sequences: Sequence[Sequence[str]]) -> None:
        self.counts = Counter(i for seq in sequences for i in seq)
        self._ranked = self.counts.most_common()

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]:
        out = []
        for item, n in self._ranked:
            if item not in exclude:
                out.append((item, float(n)))
                if len(out) >= k:
                    break
        return out


def _top(scores: dict[str, float], k: int, exclude: set[str]) -> list[tuple[str, float]]:
    ranked = sorted(
        ((s, i) for i, s in scores.items() if i not in exclude), key=lambda x: (-x[0], x[1])
    )
    return [(i, s) for s, i in ranked[:k]]


class Transitions:
    """How often item j directly follows item i; the last few history items vote with decay.

    Strong on Amazon data, where same-day bundles make the next item predictable from the last.
    """

    def __init__(self, last_n: int = 3, decay: float = 0.5) -> None:
        self.last_n, self.decay = last_n, decay
        self.next: dict[str, Counter[str]] = defaultdict(Counter)

    def fit(self, sequences: Sequence[Sequence[str]]) -> None:
        self.next = defaultdict(Counter)
        for seq in sequences:
            for a, b in zip(seq, seq[1:], strict=False):
                if a != b:
                    self.next[a][b] += 1

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]:
        scores: dict[str, float] = defaultdict(float)
        for age, item in enumerate(reversed(history[-self.last_n :])):
            row = self.next.get(item)
            if not row:
                continue
            total = sum(row.values())
            for nxt, n in row.items():
                scores[nxt] += (self.decay**age) * n / total
        return _top(scores, k, exclude)


class CoOccurrence:
    """Items bought within ``window`` positions of each other, either direction, decayed by distance."""

    def __init__(self, window: int = 4, last_n: int = 5, decay: float = 0.7) -> None:
        self.window, self.last_n, self.decay = window, last_n, decay
        self.co: dict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))

    def fit(self, sequences: Sequence[Sequence[str]]) -> None:
        self.co = defaultdict(lambda: defaultdict(float))
        for seq in sequences:
            for i, a in enumerate(seq):
                for d in range(1, self.window + 1):
                    if i + d >= len(seq):
                        break
                    b = seq[i + d]
                    if a != b:
                        w = 1.0 / d
                        self.co[a][b] += w
                        self.co[b][a] += w

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]:
        scores: dict[str, float] = defaultdict(float)
        for age, item in enumerate(reversed(history[-self.last_n :])):
            row = self.co.get(item)
            if not row:
                continue
            total = sum(row.values())
            for other, w in row.items():
                scores[other] += (self.decay**age) * w / total
        return _top(scores, k, exclude)


class SemanticNeighbours:
    """Cosine neighbours of the recent history in item-embedding space (reaches new items)."""

    def __init__(self, vectors: dict[str, np.ndarray], last_n: int = 3) -> None:
        self.ids = list(vectors)
        self.matrix = np.stack([vectors[i] for i in self.ids]) if self.ids else np.zeros((0, 1))
        self.index = {i: n for n, i in enumerate(self.ids)}
        self.last_n = last_n

    def fit(self, sequences: Sequence[Sequence[str]]) -> None:  # content-based: nothing to learn
        return None

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]:
        rows = [self.index[i] for i in history[-self.last_n :] if i in self.index]
        if not rows:
            return []
        query = self.matrix[rows].mean(axis=0)
        sims = self.matrix @ query
        order = np.argsort(-sims)
        out = []
        for n in order:
            item = self.ids[n]
            if item not in exclude and item not in history:
                out.append((item, float(sims[n])))
                if len(out) >= k:
                    break
        return out
