"""How well each item meets every part of a request, not just its strongest word.

"Our dog rolled in something gross, need something to wash him with" has two aspects, *dog*
and *wash*; one embedding of the whole sentence ranks dog beds first because *dog* dominates.
Here each content word of the request is an aspect. An item meets an aspect when its facts carry
the word (its stem; fully in its name or departments, 0.6 in its description), or by meaning:
the word's MiniLM similarity to the item, rescaled so the catalog's median item scores 0 and its
best item 1. The aspects' mean is weighted by how much each separates items (the spread between
the best and the median item; a word no item is near, such as "weekend" or "started", weighs
little), and averaged with the whole request's rescaled similarity. So "started cycling"
leads to helmets and lights, "loves writing" to notebooks, and "dry food" to kibble rather than
chain lube, which carries only "dry".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np

from bot.recsys.request import RequestMatcher, request_stop_words, stem

__all__ = ["AspectScorer", "aspect_words", "kind_name"]

# how much the request's nearness to an item's department counts (of 1), taken from the whole
# request's share. Conversation benchmark, rules parser (stop 29): 0 -> 310/322 turns, 0.25 ->
# 315, 0.4 -> 316; held-out set 98 / 100 / 98 of 155
DEPARTMENT_WEIGHT = 0.25


def aspect_words(request: str) -> list[str]:
    """The request's content words, in order, without filler."""
    stop = request_stop_words()
    out: list[str] = []
    for w in re.findall(r"[a-z][a-z'-]+", request.lower()):
        if len(w) > 2 and w not in stop and w not in out:
            out.append(w)
    return out[:8]


class AspectScorer:
    """Aspect scores over one catalog snapshot (item vectors normalised once)."""

    def __init__(
        self,
        matcher: RequestMatcher,
        vectors: Mapping[str, np.ndarray],
        embed: Callable[[list[str]], np.ndarray],
    ) -> None:
        self.matcher = matcher
        self.ids = [i for i in matcher.items if i in vectors]
        matrix = np.stack([vectors[i] for i in self.ids]) if self.ids else np.zeros((0, 1))
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.matrix = matrix / np.where(norms > 0, norms, 1.0)
        self.embed = embed
        # each item's department (its category path), described by the kinds of item in it
        paths = [" > ".join(matcher.items[i].categories) for i in self.ids]
        self.departments = sorted({p for p in paths if p})
        index = {p: n for n, p in enumerate(self.departments)}
        self.department_of = np.array([index.get(p, -1) for p in paths], dtype=np.int64)
        kinds: dict[str, list[str]] = {p: [] for p in self.departments}
        for i, p in zip(self.ids, paths, strict=True):
            if p and len(kinds[p]) < 4:
                name = kind_name(matcher.items[i].title, matcher.items[i].brand)
                if name and name not in kinds[p]:
                    kinds[p].append(name)
        # the kinds of item (their names without brand or variant) and each kind's head noun
        heads: dict[str, str] = {}
        for i in self.ids:
            item = matcher.items[i]
            heads.setdefault(kind_name(item.title, item.brand), matcher.head(item))
        self.kind_names = sorted(n for n in heads if n)
        self.kind_heads = [heads[n] for n in self.kind_names]
        self.kind_matrix = (
            _unit(np.asarray(embed(self.kind_names), dtype=np.float32)) if self.kind_names else None
        )
        texts = [f"{p}: {', '.join(kinds[p])}" for p in self.departments]
        self.department_matrix = (
            _unit(np.asarray(embed(texts), dtype=np.float32)) if texts else None
        )

    def kinds_meant(self, request: str, floor: float = 0.65, margin: float = 0.05) -> set[str]:
        """The head nouns of the kinds of item a request means without naming them ("coffee
        pods" -> capsules, "water filter jugs" -> pitcher): kinds whose name is within
        ``margin`` of the nearest one by MiniLM similarity, and at least ``floor``."""
        words = aspect_words(request)
        if self.kind_matrix is None or not words:
            return set()
        # the request and each run of two or three of its words ("coffee pods" in "coffee pods
        # can't stand bitter"; one word alone is too loose: "water" is not a water bottle): the
        # phrase that names the kind best decides
        phrases = list(
            dict.fromkeys(
                [" ".join(words)]
                + [
                    " ".join(words[a:b])
                    for a in range(len(words))
                    for b in range(a + 2, min(a + 3, len(words)) + 1)
                ]  # fmt: skip
            )
        )
        q = _unit(np.asarray(self.embed(phrases), dtype=np.float32))
        sims = (q @ self.kind_matrix.T).max(axis=0)
        best = float(sims.max())
        if best < floor:
            return set()
        return {self.kind_heads[n] for n in np.flatnonzero(sims >= best - margin)}

    def scores(self, request: str) -> dict[str, float]:
        """Item id -> weighted mean aspect score in [0, 1]; empty when the request has no
        content words or the catalog no vectors."""
        words = aspect_words(request)
        if not words or not self.ids:
            return {}
        emb = _unit(np.asarray(self.embed([*words, " ".join(words)]), dtype=np.float32))
        sims = emb @ self.matrix.T  # (words + the whole request) x items
        if self.department_matrix is not None and DEPARTMENT_WEIGHT > 0:
            # the request against each department's description ("riding to work in the dark"
            # is nearest Bike Lights, though helmets mention riding): rescaled over departments
            near = _meaning(self.department_matrix @ emb[-1])
            department = np.where(self.department_of >= 0, near[self.department_of], 0.0)
        else:
            department = np.zeros(len(self.ids))
        total = np.zeros(len(self.ids))
        weights = 0.0
        for word, row in zip(words, sims[:-1], strict=True):
            s = stem(word)
            # the word in the item's name or departments counts fully; in its description, less
            named = np.array([s in self.matcher.name_words.get(i, ()) for i in self.ids], float)
            has = np.array([s in self.matcher.words.get(i, ()) for i in self.ids], float)
            spread = _spread(row)
            weight = max(spread, 0.3) if named.any() else spread
            total += weight * np.maximum(np.maximum(named, 0.6 * has), _meaning(row))
            weights += weight
        if weights <= 0:
            return {}
        # the whole request's meaning counts as much as its parts ("my lower back is killing
        # me" is about the back, though "desk" is a word of the request too)
        whole = _meaning(sims[-1])
        score = 0.5 * total / weights + (0.5 - DEPARTMENT_WEIGHT) * whole
        score = score + DEPARTMENT_WEIGHT * department
        return {i: float(v) for i, v in zip(self.ids, score, strict=True)}


def kind_name(title: str, brand: str) -> str:
    """What kind of thing an item is, from its title: "Vellano Descaling Tablets, 6 Pack -
    Citric" -> "Descaling Tablets"."""
    name = re.split(r",| - | \(", title)[0].strip()
    if brand and name.lower().startswith(brand.lower()):
        name = name[len(brand) :].strip()
    return name[:60]


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return (m / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _spread(row: np.ndarray) -> float:
    return float(row.max()) - float(np.median(row))


def _meaning(row: np.ndarray) -> np.ndarray:
    """Similarities rescaled: the catalog's median item 0, its best item 1."""
    median = float(np.median(row))
    return np.clip((row - median) / max(float(row.max()) - median, 1e-6), 0.0, 1.0)
