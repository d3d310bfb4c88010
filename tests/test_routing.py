"""Routing of messages no product rule covers: greetings with an introduction, and what happens
when the model's routing vote says "a specific product" while nothing names one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from bot.chat.assistant import Assistant, AssistantConfig
from bot.chat.parse import route
from knowledge.store import Store


class VotesB:
    """A Generator whose routing vote is always B ("asks about a specific product"): the worst
    case the 4-bit default model produced for "Hi, I'm new here." (the model's part is not
    under test; the assistant's handling of its vote is)."""

    name = "votes-b"

    def score_choices(
        self, prompt: str, choices: list[str], breaks: Sequence[int] = ()
    ) -> list[float]:
        return [0.0 if c.strip() == "B" else -5.0 for c in choices]

    def generate(self, messages: object, max_new_tokens: int, stop: list[str] | None = None) -> str:
        return "I'm an expert in the world of music."

    def stream(
        self, messages: object, max_new_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]:
        yield self.generate(messages, max_new_tokens, stop)


@pytest.mark.parametrize(
    "text",
    [
        "Hi, I'm new here.",
        "Hello! First time here",
        "hey there, i'm new",
        "I am just browsing",
        "I'm new to this shop",
        "how are you?",
    ],
)
def test_greetings_with_an_introduction_are_greetings(text: str) -> None:
    assert route(text)[0] == "greeting"


@pytest.mark.parametrize(
    "text",
    [
        "lovely, thanks so much",
        "brilliant, thank you",
        "awesome, cheers, that's everything for now",
        "ok thanks, I'm off",
        "right, gotta dash",
    ],
)
def test_approval_then_thanks_or_a_closing_is_a_greeting(text: str) -> None:
    assert route(text)[0] == "greeting"


@pytest.mark.parametrize(
    "text",
    [
        "Hi, I'm looking for shampoo",
        "Hi, I'm new here, can you recommend a shampoo?",
        "brilliant, now show me some shampoo",
    ],
)
def test_a_request_after_a_greeting_is_still_a_request(text: str) -> None:
    assert route(text)[0] == "recommend"


def test_a_describe_reading_needs_an_item_on_screen(small_store: Store) -> None:
    """The routing is the parser's: a model that would always vote "describe" changes nothing
    (the model's routing vote claimed requests nobody made and is gone)."""
    config = AssistantConfig(use_llm_ranker=False, llm_descriptions=False)
    a = Assistant(small_store, config, generator=VotesB())
    # a new user, an unclear message, no list shown: there is no item to describe
    reply = a.chat("newcomer", "well that is interesting")
    assert reply.intent != "describe" and reply.item_id is None
    assert "expert in the world of music" not in reply.text
    # with a list on screen, a question about "that one" is about the item shown
    shown = a.chat("dave", "what should I get next?")
    assert shown.recommendations
    history = [
        {"role": "user", "content": "what should I get next?"},
        {"role": "assistant", "content": shown.text},
    ]
    assert a.chat("dave", "is that one any good", history).intent == "describe"
