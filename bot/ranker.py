"""The one-pass LLM ranker (LlamaRec-style).

Candidates are listed in the prompt with letter labels; one forward pass gives the next-token
log-probability of every label at the answer position, and that is each candidate's score.
Nothing is generated, so every result is a catalog item, and the order is deterministic.
The prompt's instruction and history parts are marked as reusable prefixes
(:class:`bot.prompts.RankingPrompt`), so a backend with a prefix cache reads a returning
customer's history once per conversation, not once per turn.

A fine-tuned LoRA adapter changes nothing here: it is loaded with the model
(``ModelConfig.adapter``) and the ranker reads the same labels from the same prompt, which
``finetune`` builds with :meth:`LLMRanker.prompt` too.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.errors import ConfigError, GenerationError, InputError
from bot.prompts import (
    MAX_HISTORY,
    SNIPPET_CHARS,
    TITLE_CHARS,
    CandidateLine,
    HistoryLine,
    RankingPrompt,
    ranking_prompt_parts,
)

if TYPE_CHECKING:
    from bot.generation import Generator
    from bot.history import UserView
    from knowledge.schema import Item

T = TypeVar("T")

__all__ = [
    "RankerConfig",
    "RankedCandidate",
    "LLMRanker",
    "history_lines",
    "candidate_lines",
    "rank_prior",
    "served_scores",
    "served_order",
    "served_rank",
    "rank_weight_sweep",
    "best_rank_weight",
    "check_rank_weight",
    "RANK_WEIGHT_GRID",
    "UNTUNED_RANK_WEIGHT",
    "DEFAULT_MODEL_RANK_WEIGHT",
    "RANKING_FILE",
    "recorded_rank_weight",
    "record_rank_weight",
]


@dataclass(frozen=True)
class RankerConfig:
    """How much history the prompt shows, and how much the candidate stage's order counts.

    ``prior_weight`` w: final score = LLM log-prob + w * prior, where the prior is the candidate
    stage's log-rank (``-log(1 + position)``) unless explicit prior scores are passed. A small
    zero-shot model's label probabilities carry a strong letter bias (" A" and " I" are common
    words), so w = 1 keeps the candidate stage's evidence; with a fine-tuned adapter, w = 0
    ranks by the model alone.
    """

    max_history: int = MAX_HISTORY
    snippet_chars: int = SNIPPET_CHARS
    prior_weight: float = 1.0
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
        if not (math.isfinite(self.prior_weight) and self.prior_weight >= 0):
            raise ConfigError(
                f"RankerConfig.prior_weight must be a finite number >= 0, got {self.prior_weight!r}"
            )


@dataclass(frozen=True)
class RankedCandidate:
    """One ranked candidate: ``index`` into the candidates given, ``rank`` from 1."""

    index: int
    rank: int
    score: float
    llm_logprob: float
    prior: float


def rank_prior(n: int) -> list[float]:
    """The candidate stage's order as a log-rank prior, on the scale of log-probabilities."""
    return [-math.log1p(i) for i in range(n)]


# Weights of the LLM's label log-probabilities against the stage's log-rank prior that
# tuning tries (0 is the candidate stage's own order, so tuning can always fall back to it).
RANK_WEIGHT_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
# A ranker without a tuned weight (an adapter or model nobody measured) counts as much as
# the stage's log-rank prior.
UNTUNED_RANK_WEIGHT = 1.0
# The default model (SmolLM2-135M-Instruct) zero-shot, without an adapter: on 300 Amazon Beauty
# validation users its best weight was 0 (NDCG@10 0.0658 at 0 and 0.1, 0.0631 at 1.0;
# benchmarks/results/quality-beauty.md), so the bot serves the stage's order and skips the pass.
DEFAULT_MODEL_RANK_WEIGHT = 0.0
# The weight tuned for an adapter on validation users, kept inside the adapter directory.
RANKING_FILE = "ranking.json"


def served_scores(llm: Sequence[float], weight: float) -> list[float]:
    """Each candidate's served score: ``-log1p(stage position) + weight x label log-prob``."""
    return [p + weight * float(x) for p, x in zip(rank_prior(len(llm)), llm, strict=True)]


def served_order(llm: Sequence[float], weight: float) -> list[int]:
    """Candidate positions in the served order, best first; ties keep the candidate stage's
    order."""
    score = served_scores(llm, weight)
    return sorted(range(len(score)), key=lambda j: (-score[j], j))


def served_rank(llm: Sequence[float] | None, target: int | None, weight: float) -> int | None:
    """1-based served rank of candidate ``target`` (None: the true item was not a candidate);
    ``llm`` None is a prompt the ranker skipped, served in the stage's order."""
    if target is None:
        return None
    return target + 1 if llm is None else served_order(llm, weight).index(target) + 1


def rank_weight_sweep(
    records: Sequence[tuple[Sequence[float] | None, int | None]],
    metrics: Callable[[list[int | None]], T],
    weights: Sequence[float] = RANK_WEIGHT_GRID,
) -> dict[float, T]:
    """``metrics`` of the served ranks at each weight, for (label log-probs, target position)
    records."""
    return {w: metrics([served_rank(llm, t, w) for llm, t in records]) for w in weights}


def best_rank_weight(metric_by_weight: Mapping[Any, float]) -> float:
    """The weight (keys: weights or their strings) with the best metric; the smallest on ties."""
    return float(max(metric_by_weight, key=lambda w: (metric_by_weight[w], -float(w))))


def check_rank_weight(weight: object, where: str) -> float:
    """``weight`` as a float when it is a number within 0..100, else a ConfigError naming
    ``where``."""
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 100:
        raise ConfigError(f"{where} must be a number within 0..100, got {weight!r}")
    return float(weight)


def recorded_rank_weight(adapter: str | os.PathLike[str]) -> float | None:
    """The rank weight recorded in ``<adapter>/ranking.json``, or None when there is none."""
    path = Path(adapter).expanduser() / RANKING_FILE
    if not path.is_file():
        return None
    try:
        weight = json.loads(path.read_text(encoding="utf-8"))["rank_weight"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: cannot read its rank_weight ({exc}). Fix: rerun `python -m finetune "
            "evaluate --split valid --record-rank-weight`, or delete the file."
        ) from exc
    return check_rank_weight(weight, f"{path}: rank_weight")


def record_rank_weight(
    adapter: str | os.PathLike[str], weight: float, evidence: Mapping[str, Any]
) -> Path:
    """Write ``<adapter>/ranking.json`` (the weight and how it was chosen) atomically."""
    folder = Path(adapter).expanduser()
    if not (folder / "adapter_config.json").is_file():
        raise ConfigError(f"{folder} is not an adapter directory (no adapter_config.json)")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ranking-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"rank_weight": float(weight), **evidence}, f, indent=2)
        f.write("\n")
    os.replace(tmp, folder / RANKING_FILE)
    return folder / RANKING_FILE


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
    """Scores candidates with a :class:`bot.generation.Generator` in one forward pass.

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

    def rank(
        self,
        history: Sequence[HistoryLine],
        candidates: Sequence[CandidateLine],
        need_hint: str | None = None,
        prior_scores: Sequence[float] | None = None,
    ) -> list[RankedCandidate]:
        """All candidates, best first. ``prior_scores`` (higher is better, log scale) default to
        the log-rank of the given order; ties keep the given order."""
        if prior_scores is not None and len(prior_scores) != len(candidates):
            raise InputError(
                f"prior_scores has {len(prior_scores)} values for {len(candidates)} candidates"
            )
        llm = self.llm_scores(history, candidates, need_hint)
        prior = list(prior_scores) if prior_scores is not None else rank_prior(len(candidates))
        final = [ls + self.config.prior_weight * p for ls, p in zip(llm, prior, strict=True)]
        order = sorted(range(len(candidates)), key=lambda i: (-final[i], i))
        return [
            RankedCandidate(index=i, rank=r, score=final[i], llm_logprob=llm[i], prior=prior[i])
            for r, i in enumerate(order, 1)
        ]

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
