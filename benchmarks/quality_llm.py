"""The LLM rankers in the quality benchmark: the candidate stage's top N re-ranked by
:class:`bot.tasks.ranker.LLMRanker`, combined with the stage's order exactly as the product does
(:func:`bot.recsys.rerank.served_order`: log-rank prior + ``rank_weight`` x label log-probability, ties
keep the stage's order).

Importing this module registers two systems with :func:`benchmarks.registry.register`:

- ``LLM zero-shot``: the default base model;
- ``LLM fine-tuned``: the same with the LoRA adapter of ``LLMOptions.adapter``.

Both are ``sample_only``. Unless ``LLMOptions.rank_weight`` is given, each system first scores
``LLMOptions.tune_users`` validation users (their validation-stage candidates, validation item
held out) and keeps the ``rank_weight`` of :data:`RANK_WEIGHTS` with the best validation
NDCG@10; the test users are then ranked with it. A target outside the N candidates is a miss.
When the tuned weight is 0 the served order is the stage's own and the product never calls the
model, so the test users are not scored either (``LLMOptions.test_sweep`` scores them anyway, for
the report's test sweep).
Users are scored in the seeded random order of the sample, so when ``time_budget_s`` runs out
the users done so far are still a random subset of it; the benchmark then reports on that
subset and says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.common import load
from benchmarks.registry import Context, LLMOptions, register
from bot.recsys.history import UserView
from bot.recsys.rerank import (
    RANK_WEIGHT_GRID,
    UNTUNED_RANK_WEIGHT,
    best_rank_weight,
    rank_weight_sweep,
    record_rank_weight,
    served_order,
)
from bot.tasks.ranker import LLMRanker
from finetune.dataset import plain_title
from finetune.metrics import ranking_report
from knowledge.errors import ConfigError
from knowledge.schema import Event

__all__ = ["LLMReranker", "ZERO_SHOT", "FINE_TUNED"]

log = logging.getLogger(__name__)

ZERO_SHOT = "LLM zero-shot"
FINE_TUNED = "LLM fine-tuned"
RANK_WEIGHTS = RANK_WEIGHT_GRID  # 0 is the stage's own order: tuning can always fall back to it


class LLMReranker:
    """Re-ranks the precomputed candidate-stage list of each user with one LLM forward pass."""

    def __init__(self, ctx: Context, options: LLMOptions, adapter: str | None) -> None:
        from bot.llm.generation import TransformersGenerator
        from bot.llm.model import ModelConfig, load_model
        from finetune.dataset import corpus_from_beauty
        from finetune.splits import resolve_data_dir

        corpus = corpus_from_beauty(resolve_data_dir(ctx.data_dir).parent)
        self.events: dict[str, list[Event]] = corpus.events
        self.items = {k: plain_title(v) for k, v in corpus.items.items()}
        self.pos = {u: n for n, u in enumerate(ctx.split.users)}
        self.stage = ctx.per_source["fused"]
        self.options = options
        self.product_rank_weight = UNTUNED_RANK_WEIGHT
        self.rank_weight = options.rank_weight
        self.targets = {u: ctx.split.test[n] for n, u in enumerate(ctx.split.users)}
        self.valid = ctx.valid[: options.tune_users]
        self.tuning: dict[str, Any] = {}
        self.scored: list[
            tuple[list[str], list[float] | None, str | None]
        ] = []  # test, for the report
        t0 = time.perf_counter()
        loaded = load_model(
            ModelConfig(quantization=options.quantization, adapter=adapter, threads=options.threads)  # type: ignore[arg-type]
        )
        self.model_info = {
            "path": loaded.path,
            "quantization": options.quantization,
            "compute_dtype": loaded.dtype,
            "adapter": adapter,
            "load_s": round(time.perf_counter() - t0, 1),
        }
        self.ranker = LLMRanker(TransformersGenerator(loaded))
        self.seconds: list[float] = []  # per scored test user
        self.tune_seconds: list[float] = []  # per scored validation user
        self.n_prompt_candidates: list[int] = []
        self.load_before = load()
        self.load_after: list[float] = []
        self.stopped_early = False

    def _view(self, user: str, history: Sequence[str]) -> UserView:
        events = self.events[user][: len(history)]
        if [e.item_id for e in events] != list(history):
            raise ConfigError(f"user {user}: the benchmark history and the Beauty events differ")
        # "now" is the last known event: nothing about the target's date leaks into the prompt.
        return UserView(user, list(events), now=events[-1].timestamp if events else 0)

    def _top(self, stage: Sequence[str]) -> list[str]:
        """The first N stage candidates that have a title (the ones a prompt can list)."""
        return [i for i in stage[: self.options.n_candidates] if i in self.items]

    def _score(
        self, user: str, history: Sequence[str], stage: Sequence[str]
    ) -> tuple[list[str], list[float] | None]:
        """The top-N stage candidates and the ranker's label log-probabilities for them (None
        where the product skips the ranker: fewer than 2 candidates or no history)."""
        cands = self._top(stage)
        if len(cands) < 2 or not history:
            return cands, None
        llm = self.ranker.score(
            self._view(user, history), [self.items[i] for i in cands], self.items
        )
        return cands, [float(x) for x in llm]

    @staticmethod
    def combine(cands: Sequence[str], llm: Sequence[float] | None, weight: float) -> list[str]:
        """The product's final order: log-rank prior + weight x label log-probability, ties
        keep the stage's order."""
        if llm is None:
            return list(cands)
        return [cands[j] for j in served_order(llm, weight)]

    @staticmethod
    def _ndcg10_by_weight(
        scored: Sequence[tuple[list[str], list[float] | None, str | None]],
    ) -> dict[float, float]:
        records = [(llm, c.index(t) if t in c else None) for c, llm, t in scored]
        return rank_weight_sweep(
            records, lambda ranks: round(float(ranking_report(ranks, (10,))["ndcg@10"]), 5)
        )

    def tune(self) -> float:
        """The rank weight with the best NDCG@10 on the validation users (smallest on ties)."""
        from tqdm import tqdm

        if not self.valid:
            log.warning("no validation users to tune the rank weight: using the product's")
            self.tuning = {"users": 0, "chosen": self.product_rank_weight}
            return self.product_rank_weight
        t0 = time.perf_counter()
        scored = []
        for user, hist, target, stage in tqdm(self.valid, desc="LLM tune", mininterval=30):
            t1 = time.perf_counter()
            cands, llm = self._score(user, hist, stage)
            if llm is not None:
                self.tune_seconds.append(time.perf_counter() - t1)
            scored.append((cands, llm, target))
        by_weight = self._ndcg10_by_weight(scored)
        best = best_rank_weight(by_weight)
        self.tuning = {
            "users": len(scored),
            "valid_ndcg10_by_weight": {str(w): v for w, v in by_weight.items()},
            "chosen": best,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        log.info("rank weight %s (validation NDCG@10 by weight %s)", best, by_weight)
        adapter = self.model_info["adapter"]
        if adapter and self.options.record_rank_weight:
            path = record_rank_weight(
                str(adapter),
                best,
                {
                    "tuned_on": f"Amazon Beauty validation users ({len(scored)}), "
                    "python -m benchmarks.quality",
                    "n_candidates": self.options.n_candidates,
                    "valid_ndcg10_by_weight": self.tuning["valid_ndcg10_by_weight"],
                },
            )
            log.info("recorded rank weight %s in %s", best, path)
        return best

    def uses_model(self) -> bool:
        """Whether the test users are scored: a weight above 0, or the test sweep asked for."""
        return bool(self.rank_weight) or self.options.test_sweep

    def rerank(self, user: str, history: Sequence[str]) -> list[str]:
        """The user's top-N test-stage candidates in the product's final order."""
        if self.rank_weight is None:
            self.rank_weight = self.tune()
        if not self.uses_model():  # weight 0: the stage's order, as the product serves it
            cands = self._top(self.stage[self.pos[user]])
            self.scored.append((cands, None, self.targets[user]))
            return cands
        t0 = time.perf_counter()
        cands, llm = self._score(user, history, self.stage[self.pos[user]])
        if llm is not None:
            self.seconds.append(time.perf_counter() - t0)
            self.n_prompt_candidates.append(len(cands))
        self.scored.append((cands, llm, self.targets[user]))
        return self.combine(cands, llm, self.rank_weight)

    def recommend(
        self,
        users: Sequence[str],
        histories: Sequence[Sequence[str]],
        k: int,
        exclude_history: bool,
    ) -> list[list[str]]:
        """Lists for a prefix of ``users``: all of them unless the time budget ran out."""
        if not exclude_history:
            raise ConfigError("the LLM rankers rank the history-excluded candidate stage only")
        from tqdm import tqdm

        start = time.perf_counter()
        out = []
        budget = self.options.time_budget_s
        for user, hist in tqdm(
            list(zip(users, histories, strict=True)), desc="LLM", mininterval=30
        ):
            out.append(self.rerank(user, hist)[:k])
            if budget is not None and time.perf_counter() - start > budget:
                self.stopped_early = len(out) < len(users)
                break
        self.load_after = load()
        return out

    def report(self) -> dict[str, Any]:
        """Model, dtype, timing and load of this run, for the results file."""
        import numpy as np

        timed = self.seconds or self.tune_seconds
        s = np.asarray(timed) if timed else np.zeros(1)
        return {
            **self.model_info,
            "n_candidates": self.options.n_candidates,
            "threads": self.options.threads,
            "scored_users": len(self.seconds),
            "test_scored": self.uses_model(),
            "timed_on": "test users" if self.seconds else "validation users",
            "mean_candidates": float(np.mean(self.n_prompt_candidates or [0])),
            "s_per_user_mean": round(float(s.mean()), 3),
            "s_per_user_p50": round(float(np.percentile(s, 50)), 3),
            "s_per_user_p95": round(float(np.percentile(s, 95)), 3),
            "load_before": self.load_before,
            "load_after": self.load_after,
            "stopped_early": self.stopped_early,
            "rank_weight": self.rank_weight,
            "product_rank_weight": self.product_rank_weight,
            "tuning": self.tuning,
            # Reported for transparency, never used for the choice (that is the tuning above).
            "test_ndcg10_by_weight": {
                str(w): v for w, v in self._ndcg10_by_weight(self.scored).items()
            }
            if self.uses_model()
            else {},
        }


@register(ZERO_SHOT, sample_only=True, needs_valid=True)
def _zero_shot(ctx: Context) -> LLMReranker:
    return LLMReranker(ctx, ctx.llm, adapter=None)


@register(FINE_TUNED, sample_only=True, needs_valid=True)
def _fine_tuned(ctx: Context) -> LLMReranker:
    if not ctx.llm.adapter:
        raise ConfigError("LLM fine-tuned needs an adapter: pass --adapter PATH")
    return LLMReranker(ctx, ctx.llm, adapter=ctx.llm.adapter)
