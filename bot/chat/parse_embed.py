"""The embedding parser: the rule parser first; where it finds no intent, the nearest labelled
examples (``examples.yaml``) by the store's own embedder (MiniLM by default, already loaded).

Slots always come from the rules and the catalog. Intents that write to the store (feedback,
forget) are never inferred from similarity: they need explicit wording.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot.chat.parse import Request, RuleParser
from bot.chat.state import DialogueState
from bot.recsys.catalog import CatalogIndex

__all__ = ["EmbeddingParser", "EXAMPLES_FILE"]

EXAMPLES_FILE = Path(__file__).with_name("examples.yaml")
_NEVER_INFERRED = frozenset({"feedback", "forget", "undo", "lift_preference"})


class EmbeddingParser:
    """Rules, then the intent of the nearest labelled examples (k = 3, cosine >= ``floor``)."""

    name = "embedding"

    def __init__(
        self, store: Any, rules: RuleParser | None = None, floor: float = 0.45, k: int = 3
    ) -> None:
        self.rules = rules or RuleParser()
        self.embedder = store.embedder
        self.floor = floor
        self.k = k
        examples = yaml.safe_load(EXAMPLES_FILE.read_text(encoding="utf-8"))
        self.labels = [
            intent
            for intent, texts in examples.items()
            if intent not in _NEVER_INFERRED
            for _ in texts
        ]
        texts = [t for intent, ts in examples.items() if intent not in _NEVER_INFERRED for t in ts]
        self.vectors = self._unit(np.asarray(self.embedder.embed(texts), dtype=np.float32))

    @staticmethod
    def _unit(m: np.ndarray) -> np.ndarray:
        return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-9)

    def nearest(self, message: str) -> tuple[str, float]:
        """The intent the nearest examples vote for, and their mean similarity."""
        q = self._unit(np.asarray(self.embedder.embed([message]), dtype=np.float32))[0]
        sims = self.vectors @ q
        top = np.argsort(-sims)[: self.k]
        votes: dict[str, float] = {}
        for i in top:
            votes[self.labels[i]] = votes.get(self.labels[i], 0.0) + float(sims[i])
        best = max(votes, key=lambda lab: votes[lab])
        n = sum(1 for i in top if self.labels[i] == best)
        return best, votes[best] / n

    def parse(self, message: str, state: DialogueState, vocab: CatalogIndex) -> Request:
        request = self.rules.parse(message, state, vocab)
        if request.intent != "unclear":
            return request
        intent, sim = self.nearest(message)
        if sim < self.floor:
            return request
        if intent in ("describe", "explain", "refine") and not (state.last_list or state.last_item):
            return request  # nothing on screen to talk about
        from dataclasses import replace

        return replace(request, intent=intent, rule=f"nearest examples ({sim:.2f})")
