"""QLoRA fine-tuning recipe: one file, a plain PyTorch loop.

The base model is loaded by ``bot.llm.model.load_model`` (the serving loader; nf4 through
bitsandbytes by default, float32 compute on CPU), LoRA comes from peft, and the loss covers
target tokens only: for ranking, the single label token after the exact serving prompt, so the
adapter learns the one-pass scoring that ``bot.tasks.ranker`` does at serving time.

Checkpoints (adapter + optimizer + scheduler + step + RNG state) are written every
``save_every`` steps; a second run with the same ``output_dir`` resumes from the latest one and
follows the same data order, so an interrupted run ends where an uninterrupted one would.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from finetune.dataset import TASKS, read_jsonl
from knowledge.errors import ConfigError

__all__ = [
    "TrainConfig",
    "TrainResult",
    "DEFAULT_TARGET_MODULES",
    "encode_record",
    "load_examples",
    "build_model",
    "train",
    "latest_checkpoint",
    "write_adapter_meta",
]

log = logging.getLogger(__name__)

DEFAULT_TARGET_MODULES: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)
_STATE = "trainer_state.pt"


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``max_examples`` subsamples the training split (CPU runs)."""

    data_dir: str
    output_dir: str = "runs/adapter"
    base_model: str = "default"
    quantization: Literal["nf4", "bf16", "fp32"] = "nf4"
    tasks: tuple[str, ...] = TASKS
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = DEFAULT_TARGET_MODULES
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 5
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 4
    grad_accum: int = 4
    max_length: int = 1024
    eval_every: int = 50
    eval_examples: int = 64
    save_every: int = 50
    keep_checkpoints: int = 2
    seed: int = 0
    max_examples: int | None = None
    gradient_checkpointing: bool = False
    stop_after: int | None = None  # end this invocation after this step (time-boxed sessions)
    # "found": only ranking prompts whose candidate stage found the true item, at the position the
    # stage gave it (what serving sees); "all" also keeps prompts where prepare inserted the item
    # at a random position, which teaches the model to ignore the stage's order.
    ranking_rows: Literal["all", "found"] = "all"
    threads: int | None = None

    def __post_init__(self) -> None:
        def need(cond: bool, name: str, rule: str) -> None:
            if not cond:
                raise ConfigError(f"TrainConfig.{name} {rule}, got {getattr(self, name)!r}")

        need(bool(str(self.data_dir).strip()), "data_dir", "must name a prepared dataset directory")
        need(bool(str(self.output_dir).strip()), "output_dir", "must be a directory path")
        need(self.quantization in ("nf4", "bf16", "fp32"), "quantization", "must be nf4/bf16/fp32")
        need(bool(self.tasks) and set(self.tasks) <= set(TASKS), "tasks", f"must be within {TASKS}")
        need(self.lora_r >= 1, "lora_r", "must be >= 1")
        need(self.lora_alpha > 0, "lora_alpha", "must be > 0")
        need(0.0 <= self.lora_dropout < 1.0, "lora_dropout", "must be within [0, 1)")
        need(bool(self.target_modules), "target_modules", "must name at least one module")
        need(0.0 < self.lr < 1.0, "lr", "must be within (0, 1)")
        need(self.weight_decay >= 0.0, "weight_decay", "must be >= 0")
        need(self.warmup_steps >= 0, "warmup_steps", "must be >= 0")
        need(self.epochs >= 1, "epochs", "must be >= 1")
        need(self.max_steps is None or self.max_steps >= 1, "max_steps", "must be >= 1 or None")
        need(self.batch_size >= 1, "batch_size", "must be >= 1")
        need(self.grad_accum >= 1, "grad_accum", "must be >= 1")
        need(32 <= self.max_length <= 32768, "max_length", "must be within 32..32768")
        need(self.eval_every >= 1, "eval_every", "must be >= 1")
        need(self.eval_examples >= 0, "eval_examples", "must be >= 0")
        need(self.save_every >= 1, "save_every", "must be >= 1")
        need(self.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1")
        need(
            self.max_examples is None or self.max_examples >= 1,
            "max_examples",
            "must be >= 1 or None",
        )
        need(self.stop_after is None or self.stop_after >= 1, "stop_after", "must be >= 1 or None")
        need(self.ranking_rows in ("all", "found"), "ranking_rows", "must be 'all' or 'found'")
        need(self.threads is None or self.threads >= 1, "threads", "must be >= 1 or None")


@dataclass
class TrainResult:
    """What a run produced and measured."""

    adapter_dir: str
    step: int
    total_steps: int
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    finished: bool = True


# -- data ---------------------------------------------------------------------------------
def encode_record(
    record: dict[str, Any], tokenizer: Any, max_length: int
) -> tuple[list[int], list[int]] | None:
    """``(input_ids, labels)`` with labels -100 outside the target; None if too long/unusable.

    Ranking: the raw prompt (as ``TransformersGenerator.score_choices`` tokenizes it) plus the
    label token. Chat tasks: the chat template with the generation prompt, then target + EOS.
    """
    if record.get("target") is None:
        return None
    if record["task"] == "ranking":
        prompt_ids = tokenizer(record["prompt"], add_special_tokens=False)["input_ids"]
        target_ids = tokenizer.encode(record["target"], add_special_tokens=False)
        if len(target_ids) != 1:
            raise ConfigError(f"ranking label {record['target']!r} is not one token for this model")
    else:
        text = tokenizer.apply_chat_template(
            record["messages"], add_generation_prompt=True, tokenize=False
        )
        prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        target_ids = tokenizer.encode(record["target"], add_special_tokens=False)
        target_ids = target_ids + [tokenizer.eos_token_id]
    ids = list(prompt_ids) + list(target_ids)
    if len(ids) > max_length:  # a truncated prompt is not what is served: drop it
        return None
    return ids, [-100] * len(prompt_ids) + list(target_ids)


def load_examples(
    cfg: TrainConfig, split: str, limit: int | None = None, seed_offset: int = 0
) -> list[dict[str, Any]]:
    """Records of one split for the configured tasks; a seeded subsample when ``limit`` is set."""
    path = Path(cfg.data_dir) / f"{split}.jsonl"
    if not path.is_file():
        raise ConfigError(
            f"TrainConfig.data_dir: {path} not found; run `python -m finetune prepare` first"
        )
    rows = [r for r in read_jsonl(path) if r["task"] in cfg.tasks and r.get("target") is not None]
    if cfg.ranking_rows == "found":
        rows = [r for r in rows if not (r["task"] == "ranking" and r.get("inserted"))]
    if limit is not None and len(rows) > limit:
        rng = random.Random(cfg.seed + seed_offset)
        rows = [rows[i] for i in sorted(rng.sample(range(len(rows)), limit))]
    return rows


def _collate(batch: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ids, lab) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(lab)] = torch.tensor(lab)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}


# -- model --------------------------------------------------------------------------------
def build_model(cfg: TrainConfig) -> tuple[Any, Any, str]:
    """Base model through the serving loader, prepared for k-bit training, with fresh LoRA."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from bot.llm.model import ModelConfig, load_model

    # the run's thread count (load_model would otherwise set one per physical core)
    loaded = load_model(
        ModelConfig(
            model=cfg.base_model,
            quantization=cfg.quantization,
            threads=cfg.threads,
            adapter=None,
            warmup=False,
        )
    )
    model = loaded.model
    if cfg.quantization == "nf4":
        try:
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=cfg.gradient_checkpointing
            )
        except Exception as exc:  # older bitsandbytes/CPU combinations: LoRA still works
            log.warning("prepare_model_for_kbit_training failed (%s); continuing without it", exc)
        _keep_4bit_differentiable(model)
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    return model, loaded.tokenizer, loaded.path


def _keep_4bit_differentiable(model: Any) -> None:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference.

    On CPUs with AVX512-BF16, a ``Linear4bit`` in eval mode repacks its weight once for a faster
    kernel (``gemv_4bit``) that has no autograd: after the first validation pass, gradients
    would silently stop flowing through the frozen 4-bit layers to the LoRA weights below them.
    """
    from bitsandbytes.nn import Linear4bit

    for module in model.modules():
        if isinstance(module, Linear4bit):
            module.support_avx512bf16_for_cpu = False


def _target_logits(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """Logits at the positions that predict a target token, and those tokens.

    The LM head runs only where a target is predicted: over a 49k vocabulary that saves ~10% of
    the compute and most of the activation memory of a full-sequence logits tensor.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = base.model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state
    shifted = batch["labels"][:, 1:]
    where = shifted != -100
    states = hidden[:, :-1][where]
    return base.get_output_embeddings()(states).float(), shifted[where]


def _loss(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    import torch.nn.functional as F

    logits, targets = _target_logits(model, batch)
    return F.cross_entropy(logits, targets), int(targets.numel())


def _eval_loss(model: Any, encoded: list[tuple[list[int], list[int]]], pad: int, bs: int) -> float:
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(encoded), bs):
            loss, n = _loss(model, _collate(encoded[start : start + bs], pad))
            total += float(loss) * n
            count += n
    return total / max(count, 1)


def _ranking_hr1(model: Any, tokenizer: Any, rows: list[dict[str, Any]], bs: int) -> float | None:
    """Share of ranking records whose true label gets the highest label logit."""
    import torch

    rows = [r for r in rows if r["task"] == "ranking" and r.get("target")]
    if not rows:
        return None
    hits = 0
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    with torch.no_grad():
        for start in range(0, len(rows), bs):
            chunk = rows[start : start + bs]
            enc = [tokenizer(r["prompt"], add_special_tokens=False)["input_ids"] for r in chunk]
            batch = _collate([(ids, ids) for ids in enc], tokenizer.pad_token_id)
            hidden = base.model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).last_hidden_state
            last = batch["attention_mask"].sum(1) - 1
            logits = base.get_output_embeddings()(hidden[torch.arange(len(chunk)), last]).float()
            for row, r in zip(logits, chunk, strict=True):
                ids = [tokenizer.encode(lab, add_special_tokens=False)[0] for lab in r["labels"]]
                hits += int(int(row[ids].argmax()) == r["labels"].index(r["target"]))
    return hits / len(rows)


# -- checkpoints --------------------------------------------------------------------------
def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint under ``output_dir/checkpoints`` (None if there is none)."""
    root = Path(output_dir) / "checkpoints"
    done = [p for p in root.glob("step-*") if (p / _STATE).is_file()] if root.is_dir() else []
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None


def _rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])


def _save_checkpoint(cfg: TrainConfig, model: Any, state: dict[str, Any]) -> Path:
    import torch

    root = Path(cfg.output_dir) / "checkpoints"
    final = root / f"step-{state['step']:06d}"
    tmp = root / f".tmp-step-{state['step']:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    torch.save({**state, "rng": _rng_state()}, tmp / _STATE)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)  # a checkpoint is complete or absent, never half written
    old = sorted(root.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    for p in old[: -cfg.keep_checkpoints]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def _load_checkpoint(path: Path, model: Any) -> dict[str, Any]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(path / "adapter_model.safetensors")))
    state: dict[str, Any] = torch.load(path / _STATE, weights_only=False)
    return state


# -- the loop -----------------------------------------------------------------------------
def _lr_lambda(warmup: int, total: int) -> Any:
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    return f


def _hardware() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    from bot.llm.memory import cpu_name

    return f"CPU {cpu_name()}, {torch.get_num_threads()} threads"


def train(cfg: TrainConfig) -> TrainResult:
    """Run (or resume) one training run; writes the adapter, card, curve and metrics."""
    import torch

    from finetune.card import write_card

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    model, tokenizer, base_path = build_model(cfg)
    pad = tokenizer.pad_token_id

    train_rows = load_examples(cfg, "train", cfg.max_examples)
    encoded = [e for e in (encode_record(r, tokenizer, cfg.max_length) for r in train_rows) if e]
    if not encoded:
        raise ConfigError(f"TrainConfig.data_dir: no usable training examples in {cfg.data_dir}")
    if len(encoded) < len(train_rows):
        log.warning("dropped %d examples longer than max_length", len(train_rows) - len(encoded))
    valid_rows = load_examples(cfg, "valid", cfg.eval_examples, seed_offset=1)
    valid_enc = [e for e in (encode_record(r, tokenizer, cfg.max_length) for r in valid_rows) if e]

    per_epoch = math.ceil(len(encoded) / cfg.batch_size)
    total = cfg.max_steps or math.ceil(cfg.epochs * per_epoch / cfg.grad_accum)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg.warmup_steps, total))

    step, history, tokens, train_s = 0, [], 0, 0.0
    ckpt = latest_checkpoint(out)
    if ckpt is not None:
        state = _load_checkpoint(ckpt, model)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, history = state["step"], state["history"]
        tokens, train_s = state["tokens"], state["train_s"]
        _set_rng_state(state["rng"])
        log.info("resumed from %s (step %d of %d)", ckpt, step, total)

    def order(epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        return [int(i) for i in torch.randperm(len(encoded), generator=g)]

    def micro_batch(m: int) -> dict[str, Any]:
        epoch, offset = divmod(m, per_epoch)
        idx = order(epoch)[offset * cfg.batch_size : (offset + 1) * cfg.batch_size]
        return _collate([encoded[i] for i in idx], pad)

    def evaluate(at: int) -> dict[str, Any]:
        model.eval()
        row: dict[str, Any] = {"step": at}
        if valid_enc:
            row["val_loss"] = _eval_loss(model, valid_enc, pad, cfg.batch_size)
        if "ranking" in cfg.tasks:
            row["val_hr1"] = _ranking_hr1(model, tokenizer, valid_rows, cfg.batch_size)
        model.train()
        log.info("eval at step %d: %s", at, row)
        return row

    if step == 0:
        history.append(evaluate(0))
    model.train()
    end = min(total, cfg.stop_after) if cfg.stop_after else total
    bar = tqdm(total=total, initial=step, desc="train", unit="step")
    while step < end:
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for j in range(cfg.grad_accum):
            batch = micro_batch(step * cfg.grad_accum + j)
            loss, _n = _loss(model, batch)
            (loss / cfg.grad_accum).backward()
            step_loss += float(loss.detach()) / cfg.grad_accum
            tokens += int(batch["attention_mask"].sum())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        train_s += time.perf_counter() - t0
        row: dict[str, Any] = {
            "step": step,
            "train_loss": step_loss,
            "lr": scheduler.get_last_lr()[0],
        }
        if step % cfg.eval_every == 0 or step == total:
            row.update(evaluate(step))
        history.append(row)
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.3f}", tok_s=f"{tokens / max(train_s, 1e-9):.0f}")
        if step % cfg.save_every == 0 or step == end:
            state = {
                "step": step,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "history": history,
                "tokens": tokens,
                "train_s": train_s,
            }
            _save_checkpoint(cfg, model, state)
    bar.close()

    finished = step >= total
    metrics = _summary(history, tokens, train_s, len(encoded), step, total)
    metrics["hardware"] = _hardware()
    result = TrainResult(str(out), step, total, history, metrics, finished)
    if finished:
        model.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))
        _plot(history, out / "loss_curve.png")
        (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
        (out / "metrics.json").write_text(json.dumps({**metrics, "history": history}, indent=2))
        write_card(out, cfg, metrics, base_path)
        write_adapter_meta(out, cfg, model, base_path)
        log.info("adapter saved to %s", out)
    return result


def write_adapter_meta(out: Path, cfg: TrainConfig, model: Any, base_path: str) -> Path:
    """``nextneed_adapter.json``: the base model (refused at load if another is loaded) and
    each trained task's prompt fingerprint (refused if the prompt changed since)."""
    from bot.llm.model import ADAPTER_META, base_fingerprint
    from bot.tasks.adapter import prompt_fingerprint

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    meta = {
        "base": base_fingerprint(base, base_path),
        "prompts": {task: prompt_fingerprint(task) for task in cfg.tasks},
    }
    path = out / ADAPTER_META
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def _summary(
    history: list[dict[str, Any]], tokens: int, train_s: float, n: int, step: int, total: int
) -> dict[str, Any]:
    evals = [h for h in history if "val_loss" in h or "val_hr1" in h]
    losses = [h["train_loss"] for h in history if "train_loss" in h]
    first, last = (evals[0], evals[-1]) if evals else ({}, {})
    k = max(1, min(5, len(losses) // 4))
    return {
        "train_examples": n,
        "steps": step,
        "total_steps": total,
        "tokens": tokens,
        "train_seconds": round(train_s, 1),
        "tokens_per_second": round(tokens / train_s, 1) if train_s else None,
        "train_loss_first": sum(losses[:k]) / k if losses else None,
        "train_loss_last": sum(losses[-k:]) / k if losses else None,
        "val_loss_before": first.get("val_loss"),
        "val_loss_after": last.get("val_loss"),
        "val_hr1_before": first.get("val_hr1"),
        "val_hr1_after": last.get("val_hr1"),
    }


def _plot(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    tr = [(h["step"], h["train_loss"]) for h in history if "train_loss" in h]
    va = [(h["step"], h["val_loss"]) for h in history if h.get("val_loss") is not None]
    if tr:
        ax.plot(*zip(*tr, strict=True), label="train loss", alpha=0.7)
    if va:
        ax.plot(*zip(*va, strict=True), "o-", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy on target tokens")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
