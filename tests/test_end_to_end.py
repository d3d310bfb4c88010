"""End to end with the real parts: the demo shop through the real ingest into Chroma with the
MiniLM embedder, and the real default model in 4-bit nf4 (slow: minutes on a 2-core CPU)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.assistant import Assistant, AssistantConfig
from bot.model import ModelConfig
from knowledge.demo import write_demo
from knowledge.ingest import ingest_events, ingest_items
from knowledge.store import Store, StoreConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo(tmp_path_factory.mktemp("demo")).directory


@pytest.fixture(scope="module")
def assistant(demo_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    cfg = AssistantConfig(
        store=StoreConfig(path=str(tmp_path_factory.mktemp("store")), embedder="minilm"),
        model=ModelConfig("default", "nf4"),
    )
    store = Store(cfg.store)
    assert ingest_items(store, demo_files / "items.jsonl").skipped == 0
    assert ingest_events(store, demo_files / "events.jsonl").skipped == 0
    store.close()
    built = Assistant.from_config(cfg)
    yield built
    built.store.close()


def test_minilm_semantic_search_finds_meaning(assistant: Assistant) -> None:
    hits = assistant.store.search_items("something to keep my cat busy", k=5)
    assert any(item.categories[0] == "Pets" for item, _ in hits)


def test_what_should_i_buy_next_with_the_real_model(assistant: Assistant, demo_files: Path) -> None:
    truth = [
        json.loads(line) for line in (demo_files / "next_needs.jsonl").read_text().splitlines()
    ]
    user = truth[0]["user_id"]
    history = assistant.store.history(user)
    owned = {e.item_id for e in history}
    titles = {assistant.store.get_item(e.item_id).title for e in history}
    reply = assistant.chat(user, "What should I buy next?")
    assert reply.intent == "recommend" and reply.recommendations
    assert reply.timings["rank_s"] > 0  # the language model ranked the candidates
    catalog = assistant.store.item_ids()
    for rec in reply.recommendations:
        assert rec.item_id in catalog
        assert rec.item_id not in owned or rec.replenishment
        assert set(rec.evidence) <= {e.event_id for e in history}
    assert any(title in reply.text for title in titles)  # names the user's real purchases


def test_describe_with_the_real_model_stays_grounded(assistant: Assistant) -> None:
    item = assistant.store.get_item("razor-keenfield-0")
    reply = assistant.describe(item.title)
    assert reply.item_id == item.item_id and item.title in reply.text
    facts = " ".join(reply.data["facts"]).lower()
    import re

    for number in re.findall(r"\d+(?:\.\d+)?", reply.data["generated"]):
        assert number in facts
