"""Ranking evaluation of a base model or an adapter on a prepared split (test by default).

Each ranking record is scored exactly as at serving time: ``TransformersGenerator.score_choices``
over the record's prompt and labels (one forward pass). Full-ranking semantics: when the candidate
stage missed the true item it is a miss at every K, never dropped from the average.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from bot.recsys.rerank import check_rank_weight
from finetune.dataset import read_jsonl
from knowledge.errors import ConfigError

__all__ = ["EvalConfig", "rank_of_target", "ranking_metrics", "evaluate_ranking"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate on which records. ``adapter=None`` evaluates the base model zero-shot."""

    data_dir: str
    base_model: str = "default"
    adapter: str | None = None
    quantization: Literal["nf4", "bf16", "fp32"] = "nf4"
    split: Literal["valid", "test"] = "test"
    max_examples: int | None = None
    ks: tuple[int, ...] = (1, 5, 10)
    seed: int = 0
    # the served score, as in the bot: log-rank prior + rank_weight x LLM log-prob
    rank_weight: float = 1.0
    output: str | None = None  # a JSON report path
    # tune the served rank weight (bot.recsys.rerank.RANK_WEIGHT_GRID) on this split and record it in
    # the adapter's ranking.json, which the bot then uses; validation split and adapter only
    record_rank_weight: bool = False

    def __post_init__(self) -> None:
        if not str(self.data_dir).strip():
            raise ConfigError("EvalConfig.data_dir must name a prepared dataset directory")
        if self.quantization not in ("nf4", "bf16", "fp32"):
            raise ConfigError(
                f"EvalConfig.quantization must be nf4/bf16/fp32, got {self.quantization!r}"
            )
        if self.split not in ("valid", "test"):
            raise ConfigError(f"EvalConfig.split must be valid or test, got {self.split!r}")
        if self.max_examples is not None and self.max_examples < 1:
            raise ConfigError("EvalConfig.max_examples must be >= 1 or None")
        check_rank_weight(self.rank_weight, "EvalConfig.rank_weight")
        if self.record_rank_weight and (self.adapter is None or self.split != "valid"):
            raise ConfigError(
                "EvalConfig.record_rank_weight needs an adapter and split='valid' "
                "(tuning on test users would leak the test targets into serving)"
            )
        if not self.ks or any(k < 1 for k in self.ks):
            raise ConfigError(f"EvalConfig.ks must be positive cut-offs, got {self.ks!r}")


def rank_of_target(scores: list[float], target_index: int | None) -> int | None:
    """1-based rank of the target under ``scores`` (ties go to the earlier candidate, i.e. the
    candidate stage's order); None when the target is not among the candidates."""
    if target_index is None:
        return None
    mine = scores[target_index]
    better = sum(1 for i, s in enumerate(scores) if s > mine or (s == mine and i < target_index))
    return better + 1


def ranking_metrics(ranks: list[int | None], ks: tuple[int, ...]) -> dict[str, float]:
    """HR@K, NDCG@K and MRR from 1-based ranks (None = miss), via ``finetune.metrics``."""
    from finetune.metrics import ranking_report

    return {k: float(v) for k, v in ranking_report(ranks, ks).items()}


def _sample(rows: list[dict[str, Any]], n: int | None, seed: int) -> list[dict[str, Any]]:
    if n is None or len(rows) <= n:
        return rows
    rng = random.Random(seed)
    return [rows[i] for i in sorted(rng.sample(range(len(rows)), n))]


def evaluate_ranking(cfg: EvalConfig, generator: Any | None = None) -> dict[str, Any]:
    """Score every sampled ranking record; return the model's and the candidate stage's metrics.

    ``generator`` (anything with ``score_choices``) is built from the config when not given.
    """
    path = Path(cfg.data_dir) / f"{cfg.split}.jsonl"
    if not path.is_file():
        raise ConfigError(
            f"EvalConfig.data_dir: {path} not found; run `python -m finetune prepare`"
        )
    rows = _sample(
        [r for r in read_jsonl(path) if r["task"] == "ranking"], cfg.max_examples, cfg.seed
    )
    if not rows:
        raise ConfigError(f"EvalConfig.data_dir: {path} holds no ranking records")
    if generator is None:
        from bot.llm.generation import TransformersGenerator
        from bot.llm.model import ModelConfig, load_model

        generator = TransformersGenerator(
            load_model(ModelConfig(cfg.base_model, cfg.quantization, adapter=cfg.adapter))
        )
    from bot.recsys.rerank import served_scores

    model_ranks: list[int | None] = []
    served_ranks: list[int | None] = []
    stage_ranks: list[int | None] = []
    per_example: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    scored = 0
    for r in tqdm(rows, desc=f"evaluate {cfg.split}", unit="prompt"):
        target = r["labels"].index(r["target"]) if r.get("target") else None
        if target is None:  # a miss whatever the model says: no need to run it
            model_ranks.append(None)
            served_ranks.append(None)
            stage_ranks.append(None)
            continue
        scores = [float(x) for x in generator.score_choices(r["prompt"], r["labels"])]
        served = served_scores(scores, cfg.rank_weight)
        scored += 1
        model_ranks.append(rank_of_target(scores, target))
        served_ranks.append(rank_of_target(served, target))
        stage_ranks.append(target + 1)
        per_example.append({"user_id": r["user_id"], "target_index": target, "scores": scores})
    seconds = time.perf_counter() - t0
    hit_model = [k for k in model_ranks if k is not None]
    hit_stage = [k for k in stage_ranks if k is not None]
    report = {
        "config": asdict(cfg),
        "examples": len(rows),
        "scored": scored,
        "candidate_recall": len(hit_stage) / len(rows),
        "model": ranking_metrics(model_ranks, cfg.ks),
        "model_with_prior": ranking_metrics(served_ranks, cfg.ks),
        "candidate_stage": ranking_metrics(stage_ranks, cfg.ks),
        # the same, only over prompts whose candidates hold the true item (the ranker's own job)
        "model_given_candidates": ranking_metrics(list(hit_model), cfg.ks) if hit_model else {},
        "candidate_stage_given_candidates": (
            ranking_metrics(list(hit_stage), cfg.ks) if hit_stage else {}
        ),
        "seconds": round(seconds, 1),
        "seconds_per_scored_prompt": round(seconds / max(scored, 1), 3),
        "per_example": per_example,
    }
    sweep = _rank_weight_sweep(model_ranks, per_example, cfg.ks)
    report["rank_weight_sweep"] = sweep
    if cfg.record_rank_weight and cfg.adapter:
        from bot.recsys.rerank import best_rank_weight, record_rank_weight

        ndcg = f"ndcg@{max(cfg.ks)}"
        best = best_rank_weight({w: m[ndcg] for w, m in sweep.items()})
        report["recorded_rank_weight"] = best
        record_rank_weight(
            cfg.adapter,
            best,
            {
                "tuned_on": f"{path} ({len(rows)} ranking prompts), python -m finetune evaluate",
                f"valid_{ndcg.replace('@', '')}_by_weight": {w: m[ndcg] for w, m in sweep.items()},
            },
        )
    if cfg.output:
        Path(cfg.output).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log.info("ranking %s: %s", cfg.split, report["model"])
    return report


def _rank_weight_sweep(
    model_ranks: list[int | None], per_example: list[dict[str, Any]], ks: tuple[int, ...]
) -> dict[str, dict[str, float]]:
    """Served metrics for every weight of ``bot.recsys.rerank.RANK_WEIGHT_GRID`` (prompts whose
    candidates missed the true item stay misses)."""
    from bot.recsys.rerank import rank_weight_sweep

    misses: list[tuple[None, None]] = [(None, None)] * (len(model_ranks) - len(per_example))
    records = misses + [(ex["scores"], ex["target_index"]) for ex in per_example]
    by_weight = rank_weight_sweep(records, lambda ranks: ranking_metrics(ranks, ks))
    return {str(w): m for w, m in by_weight.items()}
