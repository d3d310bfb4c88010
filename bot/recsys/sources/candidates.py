"""Fast, in-catalog candidate sources over plain item sequences.

Each source implements :class:`CandidateSource`: ``fit(sequences)`` on users' ordered item ids,
then ``candidates(history, k, exclude)`` returns ``(item_id, score)`` pairs, best first.
Item-to-item sources keep a row-normalised ``scipy.sparse`` matrix, so scoring a user is a
few sparse row reads plus a top-k over one dense vector (well under a millisecond on Beauty).
:class:`FusedCandidates` merges several sources by weighted reciprocal-rank fusion.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from bot.recsys.metrics import ndcg_array
from knowledge.errors import ConfigError

if TYPE_CHECKING:
    from bot.recsys.sources.sasrec import SASRecConfig, SASRecEnsemble, SASRecModel

__all__ = [
    "CandidateSource",
    "Popularity",
    "Transitions",
    "TransitionsConfig",
    "CoOccurrence",
    "CoOccurrenceConfig",
    "SemanticNeighbours",
    "SequentialModel",
    "FusedCandidates",
    "FusionConfig",
    "tune_weights",
    "fusion_ndcg",
    "LearnedFusion",
    "fit_learned_fusion",
    "learned_ndcg",
]


@runtime_checkable
class CandidateSource(Protocol):
    """Anything that proposes catalogue items for a user's ordered history."""

    def fit(self, sequences: Sequence[Sequence[str]]) -> None: ...

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]: ...


def _index(sequences: Sequence[Sequence[str]]) -> tuple[list[str], dict[str, int], np.ndarray]:
    """Item ids in first-seen order, their positions, and their interaction counts."""
    pos: dict[str, int] = {}
    for seq in sequences:
        for item in seq:
            if item not in pos:
                pos[item] = len(pos)
    counts = np.zeros(len(pos), dtype=np.float64)
    for seq in sequences:
        for item in seq:
            counts[pos[item]] += 1
    return list(pos), pos, counts


def _top_k(
    scores: np.ndarray,
    ids: list[str],
    index: dict[str, int],
    k: int,
    exclude: set[str],
    tiebreak: np.ndarray,
) -> list[tuple[str, float]]:
    """The ``k`` best positive scores, ties broken by ``tiebreak`` (popularity), then by id order."""
    for item in exclude:
        j = index.get(item)
        if j is not None:
            scores[j] = 0.0
    nz = np.flatnonzero(scores > 0)
    if nz.size > k:
        # argpartition keeps this O(n); then an exact sort of the few survivors (plus ties).
        cut = np.partition(scores[nz], nz.size - k)[nz.size - k]
        nz = nz[scores[nz] >= cut]
    order = nz[np.lexsort((nz, -tiebreak[nz], -scores[nz]))][:k]
    return [(ids[j], float(scores[j])) for j in order]


class Popularity:
    """Most interacted-with items."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.counts = np.zeros(0)
        self._order = np.zeros(0, dtype=np.int64)

    def fit(self, sequences: Sequence[Sequence[str]]) -> None:
        self.ids, _pos, self.counts = _index(sequences)
        self._order = np.argsort(-self.counts, kind="stable")

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]:
        out = []
        for j in self._order:
            item = self.ids[j]
            if item not in exclude:
                out.append((item, float(self.counts[j])))
                if len(out) >= k:
                    break
        return out


@dataclass
class TransitionsConfig:
    """``last_n`` history items vote for their observed successors, weighted ``decay**age``."""

    last_n: int = 3
    decay: float = 0.5

    def __post_init__(self) -> None:
        if self.last_n < 1:
            raise ConfigError(f"TransitionsConfig.last_n must be >= 1, got {self.last_n}")
        if not 0 < self.decay <= 1:
            raise ConfigError(f"TransitionsConfig.decay must be in (0, 1], got {self.decay}")


class _ItemToItem:
    """Shared scoring for sources that hold a row-normalised item x item matrix."""

    last_n: int
    decay: float

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.counts = np.zeros(0)
        self.matrix = sp.csr_matrix((0, 0))

    def _set(self, rows: list[int], cols: list[int], w: list[float]) -> None:
        n = len(self.ids)
        m = sp.csr_matrix((np.asarray(w, dtype=np.float64), (rows, cols)), shape=(n, n))
        m.sum_duplicates()
        totals = np.asarray(m.sum(axis=1)).ravel()
        # Row-normalised: a rare item's single neighbour counts as much as a hub's best one.
        self.matrix = sp.csr_matrix(sp.diags(1.0 / np.maximum(totals, 1e-12)) @ m)

    def share(self, item_id: str, other_id: str) -> float:
        """The fitted share of ``item_id``'s row that went to ``other_id`` (0 when unseen)."""
        a, b = self.index.get(item_id), self.index.get(other_id)
        if a is None or b is None:
            return 0.0
        lo, hi = self.matrix.indptr[a], self.matrix.indptr[a + 1]
        hit = np.flatnonzero(self.matrix.indices[lo:hi] == b)
        return float(self.matrix.data[lo + hit[0]]) if hit.size else 0.0

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]:
        rows, weights = [], []
        for age, item in enumerate(reversed(history[-self.last_n :])):
            j = self.index.get(item)
            if j is not None:
                rows.append(j)
                weights.append(self.decay**age)
        if not rows:
            return []
        scores = self.matrix[rows].T @ np.asarray(weights)
        return _top_k(np.asarray(scores).ravel(), self.ids, self.index, k, exclude, self.counts)


class Transitions(_ItemToItem):
    """How often item j directly follows item i; the last few history items vote with decay.

    Strong on Amazon data, where same-day bundles make the next item predictable from the last.
    """

    def __init__(self, config: TransitionsConfig | None = None) -> None:
        super().__init__()
        self.config = config or TransitionsConfig()
        self.last_n, self.decay = self.config.last_n, self.config.decay

    def fit(self, sequences: Sequence[Sequence[str]]) -> None:
        self.ids, self.index, self.counts = _index(sequences)
        rows, cols = [], []
        for seq in sequences:
            for a, b in zip(seq, seq[1:], strict=False):
                if a != b:
                    rows.append(self.index[a])
                    cols.append(self.index[b])
        self._set(rows, cols, [1.0] * len(rows))


@dataclass
class CoOccurrenceConfig:
    """Pairs within ``window`` positions (either direction) count ``pair_decay**(distance-1)``;
    the last ``last_n`` history items vote with ``decay**age``."""

    window: int = 4
    pair_decay: float = 0.7
    last_n: int = 5
    decay: float = 0.7

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ConfigError(f"CoOccurrenceConfig.window must be >= 1, got {self.window}")
        if self.last_n < 1:
            raise ConfigError(f"CoOccurrenceConfig.last_n must be >= 1, got {self.last_n}")
        for name in ("pair_decay", "decay"):
            v = getattr(self, name)
            if not 0 < v <= 1:
                raise ConfigError(f"CoOccurrenceConfig.{name} must be in (0, 1], got {v}")


class CoOccurrence(_ItemToItem):
    """Items bought within a few positions of each other, either direction, decayed by distance."""

    def __init__(self, config: CoOccurrenceConfig | None = None) -> None:
        super().__init__()
        self.config = config or CoOccurrenceConfig()
        self.last_n, self.decay = self.config.last_n, self.config.decay

    def fit(self, sequences: Sequence[Sequence[str]]) -> None:
        self.ids, self.index, self.counts = _index(sequences)
        rows, cols, w = [], [], []
        for seq in sequences:
            pos = [self.index[i] for i in seq]
            for i, a in enumerate(pos):
                for d in range(1, self.config.window + 1):
                    if i + d >= len(pos):
                        break
                    b = pos[i + d]
                    if a != b:
                        wd = self.config.pair_decay ** (d - 1)
                        rows += [a, b]
                        cols += [b, a]
                        w += [wd, wd]
        self._set(rows, cols, w)


class SemanticNeighbours:
    """Cosine neighbours of the recent history in item-embedding space.

    Content-based, so it reaches items nobody has bought yet. Takes the vectors as input
    (``{item_id: vector}`` or ``(ids, matrix)``) rather than importing an embedder.
    """

    def __init__(
        self,
        vectors: Mapping[str, np.ndarray] | tuple[Sequence[str], np.ndarray],
        last_n: int = 3,
    ) -> None:
        if last_n < 1:
            raise ConfigError(f"SemanticNeighbours last_n must be >= 1, got {last_n}")
        if isinstance(vectors, tuple):
            ids, matrix = list(vectors[0]), np.asarray(vectors[1], dtype=np.float32)
        else:
            ids = list(vectors)
            matrix = (
                np.stack([np.asarray(vectors[i], dtype=np.float32) for i in ids])
                if ids
                else np.zeros((0, 1), dtype=np.float32)
            )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.ids = ids
        self.matrix = matrix / np.maximum(norms, 1e-12)
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
        sims = self.matrix @ self.matrix[rows].mean(axis=0)
        # The history items are their own nearest neighbours; never propose them back.
        skip = set(exclude) | set(history)
        out = []
        for n in np.argsort(-sims, kind="stable"):
            item = self.ids[n]
            if item not in skip:
                out.append((item, float(sims[n])))
                if len(out) >= k:
                    break
        return out


class SequentialModel:
    """A trained SASRec (``bot.recsys.sources.sasrec``), or an ensemble of them, as a candidate
    source.

    Pass a trained model, or a config to train one in :meth:`fit` (the last item of each
    sequence is then held out for early stopping).
    """

    score_kind = "logit"  # its scores are logits: the learned fusion reads gaps to the top one

    def __init__(
        self,
        model: SASRecModel | SASRecEnsemble | None = None,
        config: SASRecConfig | None = None,
    ):
        self.model = model
        self.config = config

    def fit(self, sequences: Sequence[Sequence[str]]) -> None:
        if self.model is not None and self.config is None:
            return  # already trained; refitting needs an explicit config
        from bot.recsys.sources.sasrec import SASRecConfig, train_sasrec

        train = [list(s[:-1]) for s in sequences]
        valid = [s[-1] if len(s) >= 2 else None for s in sequences]
        catalogue = sorted({i for s in sequences for i in s})
        self.model = train_sasrec(train, valid, catalogue, self.config or SASRecConfig())

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]:
        if self.model is None:
            raise ConfigError("SequentialModel: call fit() or pass a trained model first")
        return self.model.recommend([history], k, [exclude])[0]


@dataclass
class FusionConfig:
    """Weighted reciprocal-rank fusion: an item at 0-based rank r in source s earns
    ``weight_s / (rrf_k + r)``; each source contributes its top ``depth`` items."""

    top_n: int = 50
    rrf_k: float = 10.0
    depth: int = 100

    def __post_init__(self) -> None:
        if self.top_n < 1:
            raise ConfigError(f"FusionConfig.top_n must be >= 1, got {self.top_n}")
        if self.rrf_k < 0:
            raise ConfigError(f"FusionConfig.rrf_k must be >= 0, got {self.rrf_k}")
        if self.depth < 1:
            raise ConfigError(f"FusionConfig.depth must be >= 1, got {self.depth}")


class FusedCandidates:
    """Several named, weighted sources merged into one top-N list.

    ``per_source`` exposes every source's own list so its recall can be reported, and ``fuse``
    works on such lists, so weights can be tuned on validation lists computed once.
    """

    def __init__(
        self,
        sources: Sequence[tuple[str, CandidateSource, float]],
        config: FusionConfig | None = None,
    ) -> None:
        names = [n for n, _s, _w in sources]
        if len(set(names)) != len(names):
            raise ConfigError(f"FusedCandidates: source names must be unique, got {names}")
        if any(w < 0 for _n, _s, w in sources):
            raise ConfigError("FusedCandidates: weights must be >= 0")
        self.sources = {n: s for n, s, _w in sources}
        self.weights = {n: float(w) for n, _s, w in sources}
        self.config = config or FusionConfig()
        # set by the stage where held-out validation prefers it to the weighted RRF
        self.learned: LearnedFusion | None = None

    def kinds(self) -> dict[str, str]:
        """Each source's score kind: ``"logit"`` (SASRec) or ``"ratio"`` (counts, cosines)."""
        return {n: getattr(s, "score_kind", "ratio") for n, s in self.sources.items()}

    def fit(self, sequences: Sequence[Sequence[str]]) -> None:
        for src in self.sources.values():
            src.fit(sequences)

    def per_source(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> dict[str, list[tuple[str, float]]]:
        return {n: s.candidates(history, k, exclude) for n, s in self.sources.items()}

    def fuse(
        self,
        lists: Mapping[str, Sequence[tuple[str, float]] | Sequence[str]],
        k: int | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> list[tuple[str, float]]:
        """Weighted RRF over ready-made lists (items or ``(item, score)`` pairs); with a
        learned fusion and no explicit ``weights``, its score (``(item, score)`` pairs needed)."""
        k = k or self.config.top_n
        if self.learned is not None and weights is None:
            top = self.learned.order(lists, self.config.rrf_k, self.config.depth, k)
            return [(item, score) for item, score, _parts in top]
        weights = self.weights if weights is None else weights
        scores: dict[str, float] = {}
        for name, ranked in lists.items():
            w = weights.get(name, 0.0)
            if w <= 0:
                continue
            for r, entry in enumerate(ranked[: self.config.depth]):
                item = str(entry[0]) if isinstance(entry, tuple) else str(entry)
                scores[item] = scores.get(item, 0.0) + w / (self.config.rrf_k + r + 1)
        return sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:k]

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]:
        depth = max(self.config.depth, k)
        # A source at weight 0 (a SASRec validation left out, say) costs nothing to serve.
        lists = {
            n: s.candidates(history, depth, exclude)
            for n, s in self.sources.items()
            if self.serves(n)
        }
        return self.fuse(lists, k)

    def serves(self, name: str) -> bool:
        """Whether source ``name`` takes part in the fused list."""
        if self.learned is not None:
            return name in self.learned.rank
        return self.weights.get(name, 0.0) > 0


# Scale of a logit gap in the learned fusion's score feature: 5 logits below the top item
# read as 0, as a count of nothing does against the top count.
LOGIT_SCALE = 5.0


def _score_feature(kind: str, score: float, top: float) -> float:
    if kind == "logit":
        return 1.0 + (score - top) / LOGIT_SCALE
    return score / top if top > 0 else 0.0


def _rank_feature(rank: int, rrf_k: float) -> float:
    # the RRF term, x10 so that learned and RRF weights read on one scale (about 1)
    return 10.0 / (rrf_k + rank + 1)


def _entries(
    ranked: Sequence[tuple[str, float]], kind: str, rrf_k: float, depth: int
) -> Iterator[tuple[str, float, float]]:
    """Each listed item of one source with its rank and score features, top ``depth``."""
    if not ranked:
        return
    top = float(ranked[0][1])
    for r, (item, sc) in enumerate(ranked[:depth]):
        yield str(item), _rank_feature(r, rrf_k), _score_feature(kind, float(sc), top)


@dataclass(frozen=True)
class LearnedFusion:
    """A linear score per candidate over every source's rank and score.

    Weighted RRF sees only ranks: a SASRec sure of its top item and one torn between fifty
    look the same to it. Here an item earns, per source that lists it, ``rank[s] * 10 / (rrf_k
    + r + 1) + score[s] * f_s`` where ``f_s`` is its score against the list's top one (a
    ratio for counts and cosines, a logit gap for SASRec). Fitted on validation lists by
    :func:`fit_learned_fusion`; the stage serves it only where held-out users prefer it."""

    rank: Mapping[str, float]
    score: Mapping[str, float]
    kinds: Mapping[str, str]

    def contributions(
        self, lists: Mapping[str, Sequence[Any]], rrf_k: float, depth: int
    ) -> dict[str, dict[str, float]]:
        """``{item: {source: its part of the item's score}}`` over ready-made lists."""
        out: dict[str, dict[str, float]] = {}
        for name, ranked in lists.items():
            if name not in self.rank or not ranked:
                continue
            if not isinstance(ranked[0], tuple):
                raise ConfigError(f"learned fusion needs (item, score) pairs from {name!r}")
            a, b = self.rank[name], self.score.get(name, 0.0)
            for item, fr, fs in _entries(ranked, self.kinds.get(name, "ratio"), rrf_k, depth):
                out.setdefault(item, {})[name] = a * fr + b * fs
        return out

    def order(
        self, lists: Mapping[str, Sequence[Any]], rrf_k: float, depth: int, k: int
    ) -> list[tuple[str, float, dict[str, float]]]:
        """The top ``k`` items by learned score (ties by item id), each with its score and
        each source's part of it."""
        parts = self.contributions(lists, rrf_k, depth)
        totals = {item: sum(by.values()) for item, by in parts.items()}
        ranked = sorted(totals, key=lambda i: (-totals[i], i))[:k]
        return [(i, totals[i], parts[i]) for i in ranked]

    def to_json(self) -> dict[str, Any]:
        return {"rank": dict(self.rank), "score": dict(self.score), "kinds": dict(self.kinds)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LearnedFusion:
        return cls(
            {n: float(v) for n, v in data["rank"].items()},
            {n: float(v) for n, v in data["score"].items()},
            {n: str(v) for n, v in data["kinds"].items()},
        )


def _features(
    lists: Sequence[Mapping[str, Sequence[Any]]],
    names: Sequence[str],
    kinds: Mapping[str, str],
    rrf_k: float,
    depth: int,
) -> list[tuple[list[str], np.ndarray]]:
    """Per user: the candidate ids and their ``[n, 2 * len(names)]`` features (rank terms,
    then score terms; 0 where a source does not list the item)."""
    out = []
    for per in lists:
        row: dict[str, int] = {}
        cells: list[tuple[int, int, float, float]] = []
        for s, name in enumerate(names):
            for item, fr, fs in _entries(per.get(name, []), kinds.get(name, "ratio"), rrf_k, depth):
                cells.append((row.setdefault(item, len(row)), s, fr, fs))
        x = np.zeros((len(row), 2 * len(names)))
        for j, s, fr, fs in cells:
            x[j, s], x[j, len(names) + s] = fr, fs
        out.append((list(row), x))
    return out


def fit_learned_fusion(
    lists: Sequence[Mapping[str, Sequence[tuple[str, float]]]],
    targets: Sequence[str],
    kinds: Mapping[str, str],
    start: Mapping[str, float],
    rrf_k: float,
    depth: int,
    l2: float = 1e-3,
) -> LearnedFusion | None:
    """Fit the learned fusion's weights on validation lists (``(item, score)`` pairs per source)
    and their targets: softmax cross-entropy of the target among each user's candidates, from
    the RRF weights ``start`` (score weights 0), with an L2 pull of strength ``l2`` toward that
    start; every weight stays >= 0. Users whose target no source lists teach nothing; None when none is left."""
    from scipy.optimize import minimize

    names = sorted(start)
    feats = _features(lists, names, kinds, rrf_k, depth)
    xs, ts = [], []
    for (ids, x), target in zip(feats, targets, strict=True):
        if target in ids:
            xs.append(x)
            ts.append(ids.index(target))
    if not xs:
        return None
    width = max(len(x) for x in xs)
    big = np.zeros((len(xs), width, 2 * len(names)))
    mask = np.zeros((len(xs), width), dtype=bool)
    for u, x in enumerate(xs):
        big[u, : len(x)], mask[u, : len(x)] = x, True
    tgt = np.asarray(ts)
    w0 = np.array([start[n] for n in names] + [0.0] * len(names))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = np.where(mask, big @ w, -np.inf)
        zmax = z.max(axis=1, keepdims=True)
        e = np.exp(z - zmax)
        total = e.sum(axis=1)
        nll = -(z[np.arange(len(tgt)), tgt] - zmax[:, 0] - np.log(total))
        grad_z = e / total[:, None]  # softmax, minus 1 at the target
        grad_z[np.arange(len(tgt)), tgt] -= 1.0
        grad = np.einsum("uc,ucf->f", grad_z, big) / len(tgt) + 2 * l2 * (w - w0)
        return float(nll.mean() + l2 * ((w - w0) ** 2).sum()), grad

    # weights >= 0: more evidence from a source never counts against an item (negative
    # weights fitted validation quirks, such as counts that serving, fitted on more events,
    # then turned against the very items they predict)
    bounds = [(0.0, None)] * len(w0)
    fit = minimize(loss, w0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 200})
    w = fit.x
    return LearnedFusion(
        {n: round(float(w[i]), 4) for i, n in enumerate(names)},
        {n: round(float(w[len(names) + i]), 4) for i, n in enumerate(names)},
        {n: kinds.get(n, "ratio") for n in names},
    )


def learned_ndcg(
    learned: LearnedFusion,
    lists: Sequence[Mapping[str, Sequence[tuple[str, float]]]],
    targets: Sequence[str],
    rrf_k: float,
    depth: int,
    k: int = 10,
) -> float:
    """Mean NDCG@k of the learned fusion over validation lists (ties by item id, as ``fuse``)."""
    names = sorted(learned.rank)
    w = np.array([learned.rank[n] for n in names] + [learned.score.get(n, 0.0) for n in names])
    ranks = np.zeros(len(lists), dtype=np.int64)
    for u, ((ids, x), target) in enumerate(
        zip(_features(lists, names, learned.kinds, rrf_k, depth), targets, strict=True)
    ):
        if target not in ids:
            continue
        score = x @ w
        t = ids.index(target)
        ahead = int((score > score[t]).sum())
        tied = sum(1 for j, i in enumerate(ids) if score[j] == score[t] and i < target)
        ranks[u] = ahead + tied + 1
    return float(ndcg_array(ranks[:, None], k).mean()) if len(lists) else 0.0


def fusion_ndcg(
    fused: FusedCandidates,
    lists: Sequence[Mapping[str, Sequence[Any]]],
    targets: Sequence[str],
    weight_sets: Sequence[Mapping[str, float]],
    k: int = 10,
) -> np.ndarray:
    """Mean NDCG@k of :meth:`FusedCandidates.fuse` under each of ``weight_sets`` (one value
    per set), over precomputed per-source lists. Vectorised over the weight sets: the same
    ranks as calling ``fuse`` per user and set, ties included (by item id)."""
    names = sorted({n for per in lists for n in per})
    w = np.array([[ws.get(n, 0.0) for ws in weight_sets] for n in names], dtype=np.float64)
    w = np.where(w > 0, w, 0.0)  # fuse skips sources at weight <= 0
    ranks = np.zeros((len(lists), len(weight_sets)), dtype=np.int64)
    depth, rrf_k = fused.config.depth, fused.config.rrf_k
    for u, (per, target) in enumerate(zip(lists, targets, strict=True)):
        row: dict[str, int] = {}
        entries: list[tuple[int, int, float]] = []
        for s, name in enumerate(names):
            for r, entry in enumerate(per.get(name, [])[:depth]):
                item = str(entry[0]) if isinstance(entry, tuple) else str(entry)
                j = row.setdefault(item, len(row))
                entries.append((j, s, 1.0 / (rrf_k + r + 1)))
        t = row.get(target)
        if t is None:
            continue
        contrib = np.zeros((len(row), len(names)))
        for j, s, v in entries:
            contrib[j, s] += v
        score = contrib @ w  # [items, sets]
        ts = score[t]
        eps = 1e-12 * np.maximum(np.abs(ts), 1e-300)
        ahead = (score > ts + eps).sum(axis=0)
        ids = np.array(list(row))
        tied = (np.abs(score - ts) <= eps) & (ids < target)[:, None]
        rank = ahead + tied.sum(axis=0) + 1
        ranks[u] = np.where(ts > 0, rank, 0)  # a target no weighted source lists is a miss
    return ndcg_array(ranks, k).mean(axis=0) if len(lists) else np.zeros(len(weight_sets))


def tune_weights(
    fused: FusedCandidates,
    lists: Sequence[Mapping[str, Sequence[Any]]],
    targets: Sequence[str],
    grid: Mapping[str, Sequence[float]],
    k: int = 10,
) -> tuple[dict[str, float], float]:
    """Grid-search fusion weights for NDCG@k over precomputed per-source lists.

    Use validation users only. Returns the best weights (the first best in grid order) and
    their NDCG@k; a source left out of ``grid`` keeps its current weight.
    """
    import itertools

    names = list(grid)
    combos = [
        {**fused.weights, **dict(zip(names, combo, strict=True))}
        for combo in itertools.product(*(grid[n] for n in names))
    ]
    scores = fusion_ndcg(fused, lists, targets, combos, k)
    best = int(np.argmax(scores))
    fused.weights = dict(combos[best])
    return dict(combos[best]), float(scores[best])
