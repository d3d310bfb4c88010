"""Privacy: export returns a user's data as JSON; "forget me" removes every event, embedding and
derived count of that user, checked by searching the store afterwards every way it can be read."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from bot.chat.assistant import Assistant, AssistantConfig
from knowledge.schema import Event
from knowledge.store import Store

WORDS = "zephyrine quokka marmalade"  # words only this user ever wrote
EXTRA = [
    Event("frank", "tuner", "review", 1_700_600_000, 50, 3.0, f"My {WORDS} tuner review."),
    Event("frank", "newmask", "purchase", 1_700_600_100, 51),
    Event("frank", "newmask", "feedback", 1_700_600_200, 52, detail="thumbs_up"),
]


def test_export_is_the_users_data_as_json(small_store: Store) -> None:
    small_store.add_events(EXTRA)
    data = json.loads(json.dumps(Assistant(small_store).export("frank")))
    assert data["user_id"] == "frank"
    assert {e["event_id"] for e in data["events"]} == {e.event_id for e in EXTRA}
    assert any(WORDS in e["text"] for e in data["events"])
    assert {e["kind"] for e in data["events"]} == {"review", "purchase", "feedback"}


def test_forget_me_leaves_no_trace(small_store: Store) -> None:
    small_store.add_events(EXTRA)
    assistant = Assistant(small_store, AssistantConfig())
    others_before = {u: small_store.export_user(u) for u in small_store.users() if u != "frank"}
    assert small_store.search_user_events("frank", WORDS)  # found before
    assert assistant.pipeline.popularity["newmask"] == 1  # counted before

    reply = assistant.chat("frank", "forget me")
    assert reply.data.get("confirm_required")
    assert small_store.history("frank")  # nothing deleted without confirmation
    done = assistant.chat("frank", "yes, forget me")
    assert done.data["deleted"] == len(EXTRA)

    assert small_store.history("frank") == []
    assert small_store.export_user("frank")["events"] == []
    assert small_store.search_user_events("frank", WORDS, kinds=("review", "purchase")) == []
    assert all(e.user_id != "frank" for e in small_store.iter_events())
    assert "frank" not in small_store.users()
    # the embeddings went with the records: no stored document or vector carries the words
    assert not any(WORDS in e.text for e in small_store.iter_events())
    # derived state: the store's counts and the assistant's fitted models forgot too
    assert dict(small_store.popularity()).get("newmask", 0) == 0
    assert assistant.pipeline.popularity["newmask"] == 0
    assert "newmask" not in assistant.pipeline.popularity
    profile = assistant.profile("frank")
    assert "don't know anything about you" in profile.text
    # and nobody else lost anything
    assert {u: small_store.export_user(u) for u in others_before} == others_before


def test_forget_over_http(small_store: Store) -> None:
    from bot.serve import ServerConfig
    from tests.fixtures.app_server import start_server

    small_store.add_events(EXTRA)
    running = start_server(Assistant(small_store), ServerConfig(trust_user_header=True))
    who = {"X-User-Id": "frank"}
    try:
        exported = httpx.get(running.url + "/api/export", headers=who, timeout=60).json()
        assert len(exported["events"]) == len(EXTRA)
        gone = httpx.post(running.url + "/api/forget", json={"confirm": True}, headers=who)
        assert gone.json() == {"user_id": "frank", "deleted": len(EXTRA)}
        again = httpx.get(running.url + "/api/export", headers=who, timeout=60).json()
        assert again["events"] == []
        prof = httpx.get(running.url + "/api/profile", headers=who, timeout=60).json()
        assert WORDS not in json.dumps(prof) and "tuner" not in prof["text"].lower()
    finally:
        running.stop()


def test_forget_me_clears_the_models_prompt_cache(small_store: Store, tiny_model_dir: Path) -> None:
    """The ranker keeps key/values of prompt prefixes (made of a user's history) in memory."""
    from bot.llm.generation import TransformersGenerator
    from bot.llm.model import ModelConfig, load_model
    from bot.tasks.ranker import LLMRanker

    small_store.add_events(EXTRA)
    gen = TransformersGenerator(
        load_model(ModelConfig(model=str(tiny_model_dir), quantization="fp32", threads=1))
    )
    gen.prefix_cache.clear()
    assistant = Assistant(small_store, AssistantConfig(), generator=gen, ranker=LLMRanker(gen))
    reply = assistant.chat("frank", "what should I get next?")
    assert len(reply.recommendations) > 1  # ranked by the model, so prefixes were cached
    assert len(gen.prefix_cache) > 0
    assistant.forget("frank")
    assert len(gen.prefix_cache) == 0
