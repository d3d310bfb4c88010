"""Start-up output a newcomer can trust: no warnings they cannot act on, no progress bars in
logs, one line per stage (issue 20)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from knowledge.demo import DemoConfig, write_demo
from knowledge.ingest import ingest_dataset
from knowledge.store import Store


def test_bitsandbytes_kernels_hint_is_silenced_and_nothing_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.llm.model import _BNB_CPU_LOGGER, _quiet_bitsandbytes

    _quiet_bitsandbytes()
    _quiet_bitsandbytes()  # idempotent: one filter
    logger = logging.getLogger(_BNB_CPU_LOGGER)
    assert len(logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger=_BNB_CPU_LOGGER):
        logger.warning(
            "Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure "
            "you already `pip install kernels` and the kernels >= 0.11.1",
            "offline",
        )
        logger.warning("some other bitsandbytes problem")
    assert [r.getMessage() for r in caplog.records] == ["some other bitsandbytes problem"]


def test_no_progress_bars_when_stderr_is_not_a_terminal() -> None:
    from knowledge.store import _bar

    bar = _bar(10, True, "items")  # pytest captures stderr: not a terminal
    assert bar.disable
    bar.close()


def test_demo_files_ingest_without_notes(tmp_store: Store, tmp_path: Path) -> None:
    paths = write_demo(tmp_path, DemoConfig(n_users=20))
    reports = ingest_dataset(tmp_store, [paths.items, paths.events], format="native")
    assert [r.notes for r in reports] == [[], []]
    assert all(r.ok for r in reports)


def test_one_line_per_stage(tmp_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    from app import log_ready
    from bot import AssistantConfig
    from bot.chat.assistant import Assistant
    from tests.fixtures.stores import SMALL_EVENTS, SMALL_ITEMS

    tmp_store.upsert_items(SMALL_ITEMS)
    tmp_store.add_events(SMALL_EVENTS)
    assistant = Assistant(tmp_store)
    with caplog.at_level(logging.INFO, logger="nextneed"):
        log_ready(assistant, "http://127.0.0.1:7860/")
    assert [r.getMessage() for r in caplog.records] == [
        f"store opened: {len(SMALL_ITEMS)} items, 5 customers",
        "model tasks on: none (no language model)",
        "serving the web chat and the API at http://127.0.0.1:7860/",
    ]

    class Answers:  # a real, minimal Generator: one fixed answer
        name = "fixed"

        def generate(self, messages: object, max_new_tokens: int, stop: object = None) -> str:
            return "unclear"

    caplog.clear()
    reading = Assistant(tmp_store, AssistantConfig(parser="model"), generator=Answers())
    with caplog.at_level(logging.INFO, logger="nextneed"):
        log_ready(reading, "http://127.0.0.1:7860/")
    tasks = caplog.records[1].getMessage()
    assert tasks.startswith("model tasks on: reading messages the rules cannot route, a sure "
                            "reading in place of a generic rule, a second reading of requests "
                            "for complaints to the shop"), tasks  # fmt: skip


def test_attaching_the_adapter_warns_nothing(tiny_model_dir: Path, tmp_path: Path) -> None:
    """peft asks the model for a deprecated transformers property; loading an adapter must not
    print that FutureWarning at start-up."""
    import warnings

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from bot.llm.model import _attach_adapter

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    lora = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    lora.save_pretrained(str(tmp_path / "adapter"))
    fresh = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _attach_adapter(fresh, str(tmp_path / "adapter"))
    assert not [w for w in seen if "is_gradient_checkpointing" in str(w.message)]
