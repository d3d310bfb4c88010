"""Merge a LoRA adapter into a full-precision copy of its base model.

The base is loaded in fp32 (or bf16) and ``merge_and_unload`` folds the LoRA deltas into it.
Never merge into the 4-bit weights: re-quantising W + BA loses most of the small delta. The
merged model's logits are checked against the unmerged adapter on the same base and precision.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from knowledge.errors import ConfigError, ModelNotFoundError

__all__ = ["MergeConfig", "MergeResult", "merge_adapter", "adapter_base_model"]

log = logging.getLogger(__name__)

_CHECK_PROMPT = (
    "Customer history (oldest first):\n- 3d ago: Moisture shampoo for dry hair\n"
    "Candidates:\nA) Moisture conditioner\nB) Guitar strings\nAnswer:"
)


@dataclass(frozen=True)
class MergeConfig:
    """Which adapter, onto which base (default: the adapter's own), in which precision."""

    adapter: str
    output_dir: str
    base_model: str | None = None
    dtype: Literal["fp32", "bf16"] = "fp32"
    check_prompt: str = _CHECK_PROMPT
    atol: float | None = None  # default: 1e-3 for fp32, 5e-2 for bf16

    def __post_init__(self) -> None:
        if not str(self.adapter).strip():
            raise ConfigError("MergeConfig.adapter must be an adapter directory")
        if not str(self.output_dir).strip():
            raise ConfigError("MergeConfig.output_dir must be a directory path")
        if self.dtype not in ("fp32", "bf16"):
            raise ConfigError(
                f"MergeConfig.dtype must be fp32 or bf16 (never 4-bit), got {self.dtype!r}"
            )
        if self.atol is not None and self.atol <= 0:
            raise ConfigError(f"MergeConfig.atol must be > 0, got {self.atol!r}")
        if not self.check_prompt.strip():
            raise ConfigError("MergeConfig.check_prompt must be non-empty")


@dataclass
class MergeResult:
    output_dir: str
    max_abs_diff: float
    atol: float


def adapter_base_model(adapter: str | Path) -> str:
    """The base model recorded in ``adapter_config.json``."""
    path = Path(adapter) / "adapter_config.json"
    if not path.is_file():
        raise ModelNotFoundError(f"{path} not found: {adapter} is not a PEFT adapter directory")
    base = json.loads(path.read_text()).get("base_model_name_or_path")
    if not base:
        raise ModelNotFoundError(f"{path} names no base model; pass --base")
    return str(base)


def _last_logits(model: Any, tokenizer: Any, prompt: str) -> Any:
    import torch

    enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model(**{k: v.to(model.device) for k, v in enc.items()}).logits[0]
    return out.float()


def merge_adapter(cfg: MergeConfig) -> MergeResult:
    """Merge, verify logits within ``atol``, save model + tokenizer; raises if they drift."""
    from bot.llm.model import ModelConfig, load_model

    base = cfg.base_model or adapter_base_model(cfg.adapter)
    atol = cfg.atol if cfg.atol is not None else (1e-3 if cfg.dtype == "fp32" else 5e-2)
    loaded = load_model(
        ModelConfig(model=base, quantization=cfg.dtype, adapter=cfg.adapter, merge_adapter=False)
    )  # the unmerged adapter's logits are the reference
    model, tokenizer = loaded.model, loaded.tokenizer
    before = _last_logits(model, tokenizer, cfg.check_prompt)
    merged = model.merge_and_unload()
    after = _last_logits(merged, tokenizer, cfg.check_prompt)
    diff = float((before - after).abs().max())
    log.info("merged vs adapter logits: max |diff| = %.2e (atol %.0e)", diff, atol)
    if diff > atol:
        raise ModelNotFoundError(
            f"merged logits drift from the adapter's by {diff:.3g} > {atol:g}; the merge is not "
            "faithful (check that the base model matches the one the adapter was trained on)"
        )
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    (out / "merge.json").write_text(
        json.dumps(
            {"base": base, "adapter": str(cfg.adapter), "dtype": cfg.dtype, "max_abs_diff": diff},
            indent=2,
        )
        + "\n"
    )
    return MergeResult(str(out), diff, atol)
