"""The model card (``README.md`` in the adapter directory): data, config, metrics, hardware, time."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

__all__ = ["write_card", "render_card"]


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def render_card(cfg: Any, metrics: dict[str, Any], base_path: str, manifest: dict[str, Any]) -> str:
    """Markdown with a Hugging Face metadata header (``library_name: peft``)."""
    config = asdict(cfg)
    rows = "\n".join(f"| {k} | {_fmt(v)} |" for k, v in metrics.items())
    counts = json.dumps(manifest.get("counts", {}), indent=2)
    return f"""---
library_name: peft
base_model: {base_path}
tags: [lora, qlora, recommendation, nextneed]
---

# nextneed LoRA adapter

A LoRA adapter for the nextneed recommender, trained by `python -m finetune train` on
instruction data built from the store with `python -m finetune prepare`. Prompts are bot's own
serving prompts (`bot.tasks.prompts`), so load it with `ModelConfig(adapter=<this directory>)`.

## Data

- source: `{manifest.get("source", "?")}`
- split rule: {manifest.get("split_rule", "?")}
- seed: {manifest.get("seed", "?")}; training subsample: {_fmt(cfg.max_examples)} examples
- examples per split and task (before subsampling):

```json
{counts}
```

## Training config

```json
{json.dumps(config, indent=2)}
```

Base model: `{base_path}` loaded in `{cfg.quantization}`; LoRA r={cfg.lora_r},
alpha={cfg.lora_alpha}, dropout={cfg.lora_dropout} on {", ".join(cfg.target_modules)}.
Loss only on target tokens (the ranking label token; the target text + EOS for chat tasks).

## Metrics

| metric | value |
| --- | --- |
{rows}

`val_hr1` is the share of validation ranking prompts whose true item's label scores highest
(the true item is inserted among the candidates for validation). Test-split HR/NDCG with
full-ranking semantics come from `python -m finetune evaluate`.

## Merging

Merge into a full-precision copy of the base with `python -m finetune merge`, never into the
4-bit weights.
"""


def write_card(out_dir: str | Path, cfg: Any, metrics: dict[str, Any], base_path: str) -> Path:
    """Write ``README.md`` next to the adapter; reads the dataset manifest if present."""
    manifest_path = Path(cfg.data_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    path = Path(out_dir) / "README.md"
    path.write_text(render_card(cfg, metrics, base_path, manifest), encoding="utf-8")
    return path
