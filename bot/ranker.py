"""The one-pass LLM ranker (LlamaRec-style): candidates are listed with letter labels and all
of them are scored from the next-token log-probabilities at the answer position. Nothing is
generated, so every result is a catalog item; the order is deterministic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.history import UserView
from bot.prompts import CandidateLine, HistoryLine, ranking_prompt
from knowledge.errors import ConfigError
from knowledge.schema import Item

__all__ = ["RankerConfig", "LLMRanker", "history_lines", "candidate_lines"]


@dataclass(frozen=True)
class RankerConfig:
    max_history: int = 10
    snippet_chars: int = 60

    def __post_init__(self) -> None:
        if not 1 <= self.max_history <= 50:
            raise ConfigError("RankerConfig.max_history must be within 1..50")
        if not 0 <= self.snippet_chars <= 300:
            raise ConfigError("RankerConfig.snippet_chars must be within 0..300")


def history_lines(view: UserView, items: dict[str, Item], limit: int = 10) -> list[HistoryLine]:
    """The user's recent purchases and reviews as prompt lines (oldest first)."""
    out = []
    for e in view.purchases[-limit:]:
        item = items.get(e.item_id)
        if item is None:
            continue
        out.append(
            HistoryLine(
                title=item.title,
                days_ago=int(view.days_since(e)),
                kind=e.kind,
                rating=e.rating,
                snippet=e.text if e.kind == "review" else "",
            )
        )
    return out


def candidate_lines(candidates: list[Item]) -> list[CandidateLine]:
    return [CandidateLine(c.title, c.brand, c.category, c.price) for c in candidates]


class LLMRanker:
    """Scores candidates with a :class:`bot.generation.Generator` in one forward pass."""

    def __init__(self, generator: Any, config: RankerConfig | None = None) -> None:
        self.generator = generator
        self.config = config or RankerConfig()

    def prompt(
        self, view: UserView, candidates: list[Item], items: dict[str, Item]
    ) -> tuple[str, list[str]]:
        return ranking_prompt(
            history_lines(view, items, self.config.max_history),
            candidate_lines(candidates),
            max_history=self.config.max_history,
            snippet_chars=self.config.snippet_chars,
        )

    def score(self, view: UserView, candidates: list[Item], items: dict[str, Item]) -> list[float]:
        """One log-probability per candidate, in the candidates' order."""
        prompt, labels = self.prompt(view, candidates, items)
        return list(self.generator.score_choices(prompt, labels))
