"""The systems of the quality benchmark and what their factories receive.

``benchmarks.quality`` runs every registered system; ``benchmarks.quality_llm`` adds the LLM
rankers by calling :func:`register` at import. Both import this module and neither imports the
other's internals, so there is no cycle between them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Recommender", "Context", "LLMOptions", "System", "SYSTEMS", "register"]


class Recommender(Protocol):
    """A system under test: ranked item ids for a batch of users (best first)."""

    def recommend(
        self,
        users: Sequence[str],
        histories: Sequence[Sequence[str]],
        k: int,
        exclude_history: bool,
    ) -> list[list[str]]: ...


@dataclass(frozen=True)
class LLMOptions:
    """How the LLM rankers run: N stage candidates per prompt, model precision, adapter."""

    n_candidates: int = 20
    quantization: str = "fp32"  # fp32 is the fastest on this CPU; nf4 ranks the same
    adapter: str | None = None
    threads: int | None = 2
    time_budget_s: float | None = None  # per LLM system; users done by then are reported
    rank_weight: float | None = None  # None: tuned on `tune_users` validation users
    tune_users: int = 300
    record_rank_weight: bool = False  # write the weight tuned for the adapter to its ranking.json
    test_sweep: bool = False  # score the test users even when the tuned weight 0 needs no model

    def __post_init__(self) -> None:
        if not 2 <= self.n_candidates <= 26:
            raise ValueError(f"LLMOptions.n_candidates must be 2..26, got {self.n_candidates}")
        if self.quantization not in ("nf4", "bf16", "fp32"):
            raise ValueError(
                f"LLMOptions.quantization must be nf4, bf16 or fp32, got {self.quantization!r}"
            )
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError("LLMOptions.time_budget_s must be > 0 or None")
        if self.rank_weight is not None and not self.rank_weight >= 0:
            raise ValueError("LLMOptions.rank_weight must be >= 0 or None (tuned)")
        if self.tune_users < 1:
            raise ValueError("LLMOptions.tune_users must be >= 1")


@dataclass
class Context:
    """What a system factory may use; everything is fitted without test targets.

    ``stage`` is the product's :class:`bot.recsys.stage.FittedStage` (its ``sasrec`` is the
    SASRec baseline); ``per_source`` holds every source's and the stage's (``fused``) test
    lists, history excluded, by user position. ``valid`` (only built when a system asks for it,
    see :func:`benchmarks.quality.validation_stage`) holds seeded validation users: id, history
    with the validation item held out, validation target, the stage's candidate list."""

    split: Any  # finetune.splits.LeaveOneOut
    stage: Any  # bot.recsys.stage.FittedStage
    per_source: dict[str, list[list[str]]] = field(default_factory=dict)
    data_dir: str | None = None
    llm: LLMOptions = field(default_factory=LLMOptions)
    valid: list[tuple[str, list[str], str, list[str]]] = field(default_factory=list)
    dataset: str = "beauty"


@dataclass
class System:
    factory: Callable[[Context], Recommender]
    sample_only: bool = False
    needs_valid: bool = False  # the factory reads Context.valid


SYSTEMS: dict[str, System] = {}


def register(
    name: str, sample_only: bool = False, needs_valid: bool = False
) -> Callable[[Callable[[Context], Any]], Any]:
    """Decorator: add a system factory to the benchmark under ``name``."""

    def deco(factory: Callable[[Context], Recommender]) -> Callable[[Context], Recommender]:
        SYSTEMS[name] = System(factory, sample_only, needs_valid)
        return factory

    return deco
