"""The one-pass LLM ranker (LlamaRec-style).

Candidates are listed in the prompt with letter labels; one forward pass gives the next-token
log-probability of every label at the answer position, and that is each candidate's score.
Nothing is generated, so every result is a catalog item, and the order is deterministic.
The prompt's instruction and history parts are marked as reusable prefixes
(:class:`bot.tasks.prompts.RankingPrompt`), so a backend with a prefix cache reads a returning
customer's history once per conversation, not once per turn.

A fine-tuned LoRA adapter changes nothing here: it is loaded with the model
(``ModelConfig.adapter``) and the ranker reads the same labels from the same prompt, which
``finetune`` builds with :meth:`LLMRanker.prompt` too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from bot.errors import ConfigError, GenerationError
from bot.tasks.prompts import (
    MAX_HISTORY,
    SNIPPET_CHARS,
    TITLE_CHARS,
    CandidateLine,
    HistoryLine,
    RankingPrompt,
    ranking_prompt_parts,
)

if TYPE_CHECKING:
    from bot.llm.generation import Generator
    from bot.recsys.history import UserView
    from knowledge.schema import Item

T = TypeVar("T")

__all__ = [
    "RankerConfig",
    "LLMRanker",
    "history_lines",
    "candidate_lines",
]


@dataclass(frozen=True)
class RankerConfig:
    """How much history and text the ranking prompt shows. How the model's scores combine with
    the candidate stage's order is the served rank weight (:mod:`bot.recsys.rerank`)."""

    max_history: int = MAX_HISTORY
    snippet_chars: int = SNIPPET_CHARS
    title_chars: int = TITLE_CHARS

    def __post_init__(self) -> None:
        if not 1 <= self.max_history <= 50:
            raise ConfigError(
                f"RankerConfig.max_history must be within 1..50, got {self.max_history!r}"
            )
        if not 0 <= self.snippet_chars <= 300:
            raise ConfigError(
                f"RankerConfig.snippet_chars must be within 0..300, got {self.snippet_chars!r}"
            )
        if not 8 <= self.title_chars <= 200:
            raise ConfigError(
                f"RankerConfig.title_chars must be within 8..200, got {self.title_chars!r}"
            )


def history_lines(
    view: UserView, items: dict[str, Item], limit: int = MAX_HISTORY
) -> list[HistoryLine]:
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


def candidate_lines(candidates: Sequence[Item]) -> list[CandidateLine]:
    """Catalog items as candidate prompt lines."""
    return [CandidateLine(c.title, c.brand, c.category, c.price) for c in candidates]


class LLMRanker:
    """Scores candidates with a :class:`bot.llm.generation.Generator` in one forward pass.

    ``generator`` may be None where only prompts are needed (fine-tuning datasets).
    """

    def __init__(self, generator: Generator | None, config: RankerConfig | None = None) -> None:
        self.generator = generator
        self.config = config or RankerConfig()

    def ranking_prompt(
        self,
        history: Sequence[HistoryLine],
        candidates: Sequence[CandidateLine],
        need_hint: str | None = None,
    ) -> tuple[str, list[str]]:
        """The prompt and labels for these lines, with this ranker's history limits."""
        parts = self.ranking_parts(history, candidates, need_hint)
        return parts.text, parts.labels

    def ranking_parts(
        self,
        history: Sequence[HistoryLine],
        candidates: Sequence[CandidateLine],
        need_hint: str | None = None,
    ) -> RankingPrompt:
        """The prompt, labels and reusable-prefix breaks, with this ranker's limits."""
        return ranking_prompt_parts(
            history,
            candidates,
            need_hint,
            max_history=self.config.max_history,
            snippet_chars=self.config.snippet_chars,
            title_chars=self.config.title_chars,
        )

    def llm_scores(
        self,
        history: Sequence[HistoryLine],
        candidates: Sequence[CandidateLine],
        need_hint: str | None = None,
    ) -> list[float]:
        """One log-probability per candidate, in the candidates' order (one forward pass)."""
        if self.generator is None:
            raise ConfigError("LLMRanker.generator is None: this ranker can only build prompts")
        parts = self.ranking_parts(history, candidates, need_hint)
        labels = parts.labels
        raw = self.generator.score_choices(parts.text, labels, breaks=parts.breaks)
        scores = [float(s) for s in raw]
        if len(scores) != len(labels) or not all(math.isfinite(s) for s in scores):
            raise GenerationError(
                f"{self.generator.name} returned {len(scores)} scores for {len(labels)} "
                "candidates (or a non-finite one)"
            )
        return scores

    # -- store-facing helpers (the pipeline and fine-tuning work from a UserView) -----------
    def prompt(
        self,
        view: UserView,
        candidates: Sequence[Item],
        items: dict[str, Item],
        need_hint: str | None = None,
    ) -> tuple[str, list[str]]:
        """The ranking prompt for a user's view of the store."""
        return self.ranking_prompt(
            history_lines(view, items, self.config.max_history),
            candidate_lines(candidates),
            need_hint,
        )

    def score(
        self,
        view: UserView,
        candidates: Sequence[Item],
        items: dict[str, Item],
        need_hint: str | None = None,
    ) -> list[float]:
        """One LLM log-probability per catalog item, in the candidates' order (no prior: the
        pipeline mixes in its own)."""
        return self.llm_scores(
            history_lines(view, items, self.config.max_history),
            candidate_lines(candidates),
            need_hint,
        )
