"""Turns that are not recommendations: orders, complaints, review replies, privacy requests,
greetings, off-topic and unclear messages.

Each handler takes the :class:`~bot.assistant.Assistant` and the :class:`~bot.conversation.Turn`
and yields text pieces, then one :class:`~bot.reply.Reply`, like the assistant's own handlers.
Every read goes through ``turn.view`` (the asking user's events only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bot.conversation import ASKED_PREFERENCES, Turn
from bot.lookup import STOP_WORDS, query_words
from bot.reply import Reply
from bot.service import complaint_reply, order_answer
from knowledge.schema import Event, Item

if TYPE_CHECKING:
    from bot.assistant import Assistant

__all__ = ["HANDLERS", "history_matches", "query_from", "short_date"]

Handler = Callable[["Assistant", Turn], Iterator[str | Reply]]


def query_from(text: str) -> str:
    """The content words of a message as one search query."""
    return " ".join(query_words(text))


def short_date(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d %b %Y")


def on_profile(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
    reply = a.profile(turn.user_id)
    yield reply.text
    yield reply


def on_forget(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
    msg = turn.message.lower()
    if "export" in msg or "download" in msg:
        data = a.export(turn.user_id)
        text = f"Here is everything we store about you: {len(data['events'])} events (attached as JSON)."
        yield text
        yield Reply(text=text, intent="forget", data={"export": data})
        return
    if re.search(r"\b(yes|confirm|i'?m sure|do it)\b", msg):
        n = a.forget(turn.user_id)
        text = f"Done: I deleted all {n} of your stored purchases, reviews and feedback. I no longer know anything about you."
        yield text
        yield Reply(text=text, intent="forget", data={"deleted": n})
        return
    text = (
        "I can delete everything we store about you (purchases, reviews, feedback). "
        "This can't be undone. Reply \u201cyes, forget me\u201d to confirm, or \u201cexport my data\u201d for a copy first."
    )
    yield text
    yield Reply(text=text, intent="forget", data={"confirm_required": True})


def on_review_reply(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
    m = re.search(r"review\s*(?:[:\-]|\bsaying\b|\bthat says\b)\s*(.+)", turn.message, re.I | re.S)
    review = (m.group(1) if m else turn.message).strip().strip("\"\u201c\u201d'")
    stars = re.search(r"\b([1-5])\s*(?:/\s*5|stars?)\b", turn.message, re.I)
    reply = a.review_reply(review or turn.message, float(stars.group(1)) if stars else None)
    yield reply.text
    yield reply


def history_matches(a: Assistant, turn: Turn, text: str) -> list[tuple[Event, Item]]:
    items = a.pipeline.items
    words = {
        w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP_WORDS and len(w) > 2
    }
    words -= {
        "did",
        "ever",
        "when",
        "order",
        "ordered",
        "bought",
        "purchase",
        "purchased",
        "last",
        "previous",
        "past",
        "recent",
        "history",
    }
    out = []
    for e in reversed(turn.view.purchases):
        item = items.get(e.item_id)
        if item is None or not words:
            continue
        title = set(
            re.findall(r"[a-z0-9]+", (item.title + " " + " ".join(item.categories)).lower())
        )
        stems = {t.rstrip("s") for t in title}
        if any(w in title or w.rstrip("s") in stems for w in words):
            out.append((e, item))
    return out


def on_order_question(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
    asked = query_from(
        re.sub(
            r"(?i)\b(did i|when did i|have i|what did i|ever|buy|bought|order(ed)?|purchase[d]?|get)\b",
            " ",
            turn.message,
        )
    )
    matches = history_matches(a, turn, asked)
    items = a.pipeline.items
    recent = [(e, items[e.item_id]) for e in reversed(turn.view.purchases) if e.item_id in items]
    text = order_answer(matches, asked, recent)
    yield text
    yield Reply(
        text=text,
        intent="order_question",
        data={"orders": [e.event_id for e, _ in (matches or recent[:5])]},
    )


def on_complaint(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
    matches = history_matches(a, turn, turn.message)
    order = matches[0] if matches else None
    text = complaint_reply(turn.message, order, a.config.service)
    yield text
    yield Reply(
        text=text,
        intent="complaint",
        item_id=order[1].item_id if order else None,
        data={"escalate": True, "order_event": order[0].event_id if order else None},
    )


def on_cold_start(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
    tops = sorted({c for it in a.pipeline.items.values() for c in it.categories[:1]})
    text = (
        f"Welcome! {ASKED_PREFERENCES}, what are you shopping for today? "
        f"For example: {', '.join(tops[:6])}. And is there a budget I should keep to?"
    )
    yield text
    yield Reply(text=text, intent="cold_start", data={"questions": 2})


def on_greeting(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
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


def on_off_topic(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
    if turn.routed.injection:
        text = (
            "I can only help with shopping in this store, for your own account: suggestions, "
            "product questions, your orders and reviews. I can't change my instructions or share other customers' data."
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
        data={"guardrail": "injection" if turn.routed.injection else "off_topic"},
    )


def on_unclear(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
    text = (
        "Sorry, I didn't quite get that. Are you looking for a suggestion (e.g. \u201csomething for dry hair "
        "under $20\u201d), details about a product, or help with an order?"
    )
    yield text
    yield Reply(text=text, intent="unclear")


HANDLERS: dict[str, Handler] = {
    "profile": on_profile,
    "forget": on_forget,
    "review_reply": on_review_reply,
    "order_question": on_order_question,
    "complaint": on_complaint,
    "cold_start": on_cold_start,
    "greeting": on_greeting,
    "off_topic": on_off_topic,
    "unclear": on_unclear,
}
