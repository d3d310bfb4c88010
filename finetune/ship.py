"""Copy a trained adapter into the repository, small and self-describing.

``ship(run_dir, dest, tasks_on)`` writes ``dest`` with: the LoRA weights in float16 (half the
size of the float32 training copy; peft casts them back to the base model's dtype on load),
``adapter_config.json``, ``nextneed_adapter.json`` (base model, prompt fingerprints and
``tasks_on``: only the tasks where the evaluation showed a win), ``ranking.json`` with weight 0
when the adapter was not trained on ranking (so loading it never turns the LLM ranker on), the
data manifest, the metrics with the loss curve, and the model card (``README.md``).

    python -m finetune.ship runs/writer finetune/adapters/nextneed \\
        --tasks-on fact_sentence --data-manifest runs/writer-data/manifest.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from knowledge.errors import ConfigError

__all__ = ["ship"]

_FILES = ("README.md", "loss_curve.png", "train_config.json")


def ship(
    run_dir: str | Path,
    dest: str | Path,
    tasks_on: tuple[str, ...],
    data_manifest: str | Path | None = None,
) -> Path:
    """Write the shipped copy of the adapter in ``run_dir`` to ``dest``; returns ``dest``."""
    import torch
    from safetensors.torch import load_file, save_file

    from bot.llm.model import ADAPTER_META, DEFAULT_MODEL_NAME
    from bot.recsys.rerank import record_rank_weight

    run, out = Path(run_dir), Path(dest)
    meta_path = run / ADAPTER_META
    if not (run / "adapter_model.safetensors").is_file() or not meta_path.is_file():
        raise ConfigError(
            f"{run} is not a finished adapter run (needs adapter_model.safetensors and "
            f"{ADAPTER_META}); run `python -m finetune train` to the end first"
        )
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    bad = [t for t in tasks_on if t not in meta["prompts"]]
    if bad:
        raise ConfigError(f"tasks_on {bad} were not trained (trained: {sorted(meta['prompts'])})")
    out.mkdir(parents=True, exist_ok=True)
    weights = load_file(str(run / "adapter_model.safetensors"))
    half = {k: v.to(torch.float16) for k, v in weights.items()}
    save_file(half, str(out / "adapter_model.safetensors"))
    for name in _FILES:
        if (run / name).is_file():
            shutil.copy2(run / name, out / name)
    # no local path in the shipped config: "default" is what ModelConfig/merge resolve
    config = json.loads((run / "adapter_config.json").read_text())
    if meta["base"].get("name") == DEFAULT_MODEL_NAME:
        config["base_model_name_or_path"] = "default"
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    shipped = {**meta, "tasks_on": list(tasks_on)}
    (out / ADAPTER_META).write_text(json.dumps(shipped, indent=2) + "\n")
    if "ranking" not in meta["prompts"]:
        reason = "not trained on the ranking task: the LLM ranker stays off (weight 0)"
        record_rank_weight(out, 0.0, {"reason": reason})
    metrics = json.loads((run / "metrics.json").read_text())
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if data_manifest:
        shutil.copy2(data_manifest, out / "data_manifest.json")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.ship", description=__doc__)
    p.add_argument("run_dir")
    p.add_argument("dest")
    p.add_argument("--tasks-on", nargs="*", default=[])
    p.add_argument("--data-manifest", default=None)
    a = p.parse_args(argv)
    print(ship(a.run_dir, a.dest, tuple(a.tasks_on), a.data_manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
