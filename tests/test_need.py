"""The model's next-need phrase: cleaned, grounded in the catalog, used as a query and shown."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from bot.chat.assistant import Assistant, AssistantConfig
from bot.recsys.history import UserView
from bot.tasks.need import NeedPredictor, clean_phrase
from knowledge.errors import ConfigError
from knowledge.store import Store


class CannedGenerator:
    """A Generator that always answers the same text (the model's part is not under test)."""

    name = "canned"

    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer
        self.prompts: list[object] = []

    def generate(self, messages: object, max_new_tokens: int, stop: list[str] | None = None) -> str:
        self.prompts.append(messages)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def stream(
        self, messages: object, max_new_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]:
        yield self.generate(messages, max_new_tokens, stop)

    def score_choices(
        self, prompt: str, choices: list[str], breaks: Sequence[int] = ()
    ) -> list[float]:
        return [0.0] * len(choices)


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        ("Conditioner refill.", "conditioner refill"),
        ("The customer will likely need: guitar strings\nand more", "guitar strings"),
        ('"Razor blades"', "razor blades"),
        ("", ""),
        ("!!!", ""),
        ("This customer will need to order a new toothbrush, and a floss pack soon", ""),
    ],
)
def test_clean_phrase(raw: str, phrase: str) -> None:
    assert clean_phrase(raw) == phrase


def view(store: Store, user: str) -> UserView:
    events = store.history(user)
    return UserView(user, events, now=max(e.timestamp for e in events))


def items(store: Store) -> dict:
    return {i.item_id: i for i in store.all_items()}


def test_kept_phrase_names_its_nearest_catalog_item(small_store: Store) -> None:
    gen = CannedGenerator("Overnight hair mask")
    need = NeedPredictor(gen, small_store).predict(view(small_store, "dave"), items(small_store))
    assert need is not None
    assert need.phrase == "overnight hair mask" and need.nearest.item_id == "newmask"
    # the prompt holds this user's history only
    assert "Moisture conditioner" in str(gen.prompts[0]) and "guitar" not in str(gen.prompts[0])


@pytest.mark.parametrize(
    "answer",
    [
        "- 2d ago: Moisture conditioner",  # the base model continuing the history list
        "Moisture conditioner",  # a copy of an owned title
        "quantum flux capacitor",  # nothing in the catalog is close
        RuntimeError("backend down"),
    ],
)
def test_unusable_answers_are_dropped(small_store: Store, answer: str | Exception) -> None:
    need = NeedPredictor(CannedGenerator(answer), small_store).predict(
        view(small_store, "dave"), items(small_store)
    )
    assert need is None


def test_assistant_shows_the_need_and_retrieves_with_it(small_store: Store) -> None:
    config = AssistantConfig(model_need=True, use_llm_ranker=False, llm_descriptions=False)
    with_need = Assistant(small_store, config, generator=CannedGenerator("overnight hair mask"))
    reply = with_need.chat("dave", "what should I get next?")
    assert reply.need == "overnight hair mask"
    assert "Likely next need: overnight hair mask" in reply.text
    assert "newmask" in [r.item_id for r in reply.recommendations]  # a cold item, reached
    assert "need_s" in reply.timings

    off = AssistantConfig(model_need=False, use_llm_ranker=False, llm_descriptions=False)
    without = Assistant(small_store, off, generator=CannedGenerator("overnight hair mask"))
    plain = without.chat("dave", "what should I get next?")
    assert plain.need != "overnight hair mask"
    assert "newmask" not in [r.item_id for r in plain.recommendations]


def test_need_is_off_by_default_without_an_adapter(small_store: Store) -> None:
    a = Assistant(small_store, AssistantConfig(), generator=CannedGenerator("overnight hair mask"))
    assert a.need is None


def test_need_config_is_checked() -> None:
    from bot.tasks.need import NeedConfig

    with pytest.raises(ConfigError, match="max_new_tokens"):
        NeedConfig(max_new_tokens=0)
