"""Which model tasks a LoRA adapter serves, and whether it was trained on today's prompts.

``python -m finetune train`` writes ``nextneed_adapter.json`` next to the adapter weights: the
base model it was trained on (checked by :func:`bot.llm.model.load_model`), the tasks it was
trained on with a fingerprint of each task's prompt, and ``tasks_on``: the tasks where the
evaluation showed it beats the non-model path (set when an adapter is shipped). An adapter
trained on other prompt wording is refused with a clear error: the model would see prompts it
never learnt. An adapter without the file (older runs) is trusted for every task, as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.llm.model import ADAPTER_META
from bot.tasks.prompts import (
    describe_messages,
    explanation_messages,
    next_need_messages,
    parse_messages,
    review_reply_messages,
)

__all__ = [
    "ADAPTER_META",
    "PROMPT_TASKS",
    "prompt_fingerprint",
    "adapter_meta",
    "adapter_tasks",
    "serves",
]


def _probe(task: str) -> Any:
    """The prompt each task builds for fixed probe inputs: its wording, not its data."""
    from bot.tasks.prompts import CandidateLine, HistoryLine

    history = [HistoryLine("Probe item", 3, "review", 4.0, "probe snippet")]

    if task in ("description", "fact_sentence"):
        return describe_messages(["Title: Probe", "Price: $1.00"])
    if task == "review_reply":
        return review_reply_messages("Probe review.", 3.0, "Probe item")
    if task == "next_need":
        return next_need_messages(history)
    if task == "parse":
        return parse_messages("Probe message", True)
    if task == "explanation":
        return explanation_messages(history, CandidateLine("Probe", "Brand", "Kind", 1.0))
    return None


PROMPT_TASKS = (
    "description", "fact_sentence", "review_reply", "next_need", "explanation", "parse",
)  # fmt: skip


def prompt_fingerprint(task: str) -> str | None:
    """A short hash of the prompt ``task`` builds today (None for tasks without a chat prompt,
    such as ranking, whose prompt is versioned by the ranker)."""
    probe = _probe(task)
    if probe is None:
        return None
    text = json.dumps(probe, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def adapter_meta(adapter: str | Path) -> dict[str, Any] | None:
    """The adapter's ``nextneed_adapter.json``, or None when it has none."""
    path = Path(adapter).expanduser() / ADAPTER_META
    if not path.is_file():
        return None
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc}); retrain or restore the adapter"
        ) from exc
    return meta


def adapter_tasks(adapter: str | Path) -> tuple[str, ...] | None:
    """The tasks the adapter is on for (``tasks_on``, else every trained task), after checking
    that each was trained on the prompt this code builds. None: no metadata (trust it for all)."""
    meta = adapter_meta(adapter)
    if meta is None:
        return None
    trained: dict[str, str | None] = meta.get("prompts", {})
    on = tuple(meta.get("tasks_on", list(trained)))
    for task in on:
        if task not in trained:
            raise ConfigError(
                f"adapter {adapter}: tasks_on names {task!r}, which it was not trained on "
                f"(trained: {sorted(trained)}). Fix: edit {ADAPTER_META} or retrain."
            )
        now = prompt_fingerprint(task)
        if trained[task] != now:
            raise ConfigError(
                f"adapter {adapter} was trained on another version of the {task!r} prompt "
                f"(fingerprint {trained[task]}, this code builds {now}). Fix: retrain it with "
                "`python -m finetune prepare` and `python -m finetune train` (see "
                "docs/finetune.md), or run without it (ModelConfig.adapter = None)."
            )
    return on


def serves(adapter: str | Path | None, task: str) -> bool:
    """Whether the model should do ``task`` with this adapter loaded (True for an adapter
    without metadata, as before; False without an adapter)."""
    if adapter is None:
        return False
    on = adapter_tasks(adapter)
    return on is None or task in on
