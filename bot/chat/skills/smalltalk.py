"""Greetings, the first question to a new customer, off-topic and unclear messages."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.chat.context import Context, Handler, Turn
from bot.chat.language import UNSUPPORTED_REPLY
from bot.chat.parse import POLICY
from bot.reply import Reply

__all__ = ["HANDLERS"]


def on_cold_start(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    tops = sorted({c for it in ctx.items.values() for c in it.categories[:1]})
    text = (
        "Welcome! To get you started, what are you shopping for today? "
        f"For example: {', '.join(tops[:6])}. And is there a budget I should keep to?"
    )
    yield text
    turn.state.asked_preferences = True
    yield Reply(text=text, intent="cold_start", data={"questions": 2})


def on_greeting(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    if re.search(r"thank|cheers", turn.message, re.I):
        text = "You're welcome! Anything else I can help you find?"
    elif re.search(r"bye", turn.message, re.I):
        text = "Goodbye, and thanks for shopping with us!"
    else:
        text = (
            "Hi! I can suggest what you might need next, tell you about a product, answer questions "
            "about your orders or help with a problem. Try \u201cwhat should I get next?\u201d"
        )
    yield text
    yield Reply(text=text, intent="greeting")


def on_off_topic(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    if turn.request.injection:
        text = (
            "I can only help with shopping in this store, for your own account: suggestions, "
            "product questions, your orders and reviews. I can't change my instructions or share other customers' data."
        )
    elif POLICY.search(turn.message):
        service = ctx.config.service
        text = (
            f"I can't answer questions about {service.shop_name}'s delivery, returns or payment "
            f"terms here: please ask {service.support_contact}. I can suggest products, tell you "
            "about one, or help with your orders."
        )
    else:
        text = (
            "That's outside what I can help with \u2014 I'm this shop's assistant. I can suggest what "
            "you might need next, describe a product, or help with an order."
        )
    yield text
    yield Reply(
        text=text,
        intent="off_topic",
        data={"guardrail": "injection" if turn.request.injection else "off_topic"},
    )


def on_unclear(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    text = (
        "Sorry, I didn't quite get that. Are you looking for a suggestion (e.g. \u201csomething for dry hair "
        "under $20\u201d), details about a product, or help with an order?"
    )
    yield text
    yield Reply(text=text, intent="unclear")


def on_unsupported_language(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    """A message in a language the assistant doesn't serve: say so in that language."""
    lang = turn.request.language
    text = UNSUPPORTED_REPLY.get(lang, UNSUPPORTED_REPLY["de"])
    yield text
    yield Reply(text=text, intent="unsupported_language", data={"language": lang})


HANDLERS: dict[str, Handler] = {
    "unsupported_language": on_unsupported_language,
    "cold_start": on_cold_start,
    "greeting": on_greeting,
    "off_topic": on_off_topic,
    "unclear": on_unclear,
}
