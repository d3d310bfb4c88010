"""Questions about one's orders and about one product (no language model): routing, the
purchase the question means, and answers picked from the item's own facts, on a small shop in a
real (temporary) Chroma store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from bot import Assistant, AssistantConfig, DialogueState
from bot.chat.parse import RuleParser
from bot.chat.skills.product_questions import answer
from bot.recsys.catalog import CatalogIndex
from knowledge.schema import Event, Item
from knowledge.store import Store


def _ts(y: int, m: int, d: int) -> int:
    return int(dt.datetime(y, m, d, 10, tzinfo=dt.UTC).timestamp())


ITEMS = [
    Item("caps-medium", "Vellano Coffee Capsules, 50 Pack - Medium Roast", "Vellano",
         ("Coffee", "Coffee Capsules"), 21.99, "Espresso capsules for Vellano machines.",
         {"roast": "medium roast", "type": "capsules"}),
    Item("caps-dark", "Ristora Coffee Capsules, 50 Pack - Dark Roast", "Ristora",
         ("Coffee", "Coffee Capsules"), 24.49, "Espresso capsules for Vellano machines.",
         {"roast": "dark roast", "type": "capsules"}),
    Item("mug-red", "Thermica Travel Mug, 350 ml - Red", "Thermica", ("Coffee", "Travel Mugs"),
         17.99, "Keeps drinks hot for 6 hours. Material: stainless steel.",
         {"colour": "red", "material": "stainless steel", "type": "mug"}),
    Item("pouch-mango", "Little Acorn Baby Food Pouches, 10 Pack - Mango Oat", "Little Acorn",
         ("Baby", "Baby Food"), 9.49, "Smooth fruit purees for toddlers.",
         {"flavour": "mango oat", "allergens": ["gluten", "oats"], "type": "pouches"}),
    Item("pouch-apple", "Little Acorn Baby Food Pouches, 10 Pack - Apple & Pear", "Little Acorn",
         ("Baby", "Baby Food"), 10.49, "Smooth fruit purees for toddlers.",
         {"flavour": "apple & pear", "type": "pouches"}),
    Item("tube-26", "Ridgeway Inner Tube - 26 in", "Ridgeway", ("Bikes", "Tyres & Tubes"), 6.99,
         "Replacement inner tube with presta valve.", {"size": "26 in", "type": "tube"}),
    Item("socks", "Trailfox Hiking Socks, 2 Pairs - Size 39-42", "Trailfox", ("Outdoor", "Socks"),
         19.99, "Cushioned socks for long walks.", {"material": "merino wool", "type": "socks"}),
    Item("roller-a", "Flexa Foam Roller - Smooth 45 cm", "Flexa", ("Wellness", "Recovery"), 25.99,
         "Relieves muscle tension.", {"material": "EVA foam", "type": "roller"}),
    Item("roller-b", "Flexa Foam Roller - Textured 33 cm", "Flexa", ("Wellness", "Recovery"),
         23.49, "Relieves muscle tension.", {"material": "EPP foam", "type": "roller"}),
    Item("harness", "Houndly Dog Harness - Red M", "Houndly", ("Pets", "Dog Walking"), 24.49,
         "No-pull harness.", {"type": "harness"}),
    Item("salts", "Calmora Magnesium Bath Salts, 1 kg - Lavender", "Calmora",
         ("Wellness", "Bath & Relax"), 9.49, "Relaxing soak.", {"type": "bathsalts"}),
    Item("soap", "Sudsy Dish Soap Refill, 1 L - Lemon", "Sudsy", ("Kitchen", "Dish Soap"), 4.99,
         "Cuts grease.", {"type": "dishsoap"}),
]  # fmt: skip

EVENTS = [
    Event("ana", "caps-dark", "purchase", _ts(2026, 3, 3), 1),
    Event("ana", "caps-dark", "review", _ts(2026, 3, 12), 2, 1.0, "Far too bitter, hated it."),
    Event("ana", "harness", "purchase", _ts(2026, 4, 2), 3),
    Event("ana", "harness", "review", _ts(2026, 4, 11), 4, 4.0, "Fits well."),
    Event("ana", "soap", "purchase", _ts(2026, 4, 10), 5),
    *(Event("ana", "salts", "purchase", _ts(2026, m, 5), 10 + m) for m in range(1, 7)),
    *(Event("ana", "caps-medium", "purchase", _ts(2026, 5, d), 30 + d) for d in (1, 22)),
    Event("bo", "mug-red", "purchase", _ts(2026, 1, 5), 50),
]  # fmt: skip


@pytest.fixture
def shop(tmp_store: Store) -> Iterator[Assistant]:
    tmp_store.upsert_items(ITEMS)
    tmp_store.add_events(EVENTS)
    yield Assistant(tmp_store, AssistantConfig())


def _talk(a: Assistant, user: str, *messages: str) -> list[Any]:
    replies, state = [], None
    for m in messages:
        r = a.chat(user, m, state=state)
        replies.append(r)
        state = r.state
    return replies


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("When was my last bath salts order?", "order_question"),
        ("and the harness, when was that?", "order_question"),
        ("Can you show my orders from May 2026", "order_question"),
        ("how often do I buy it?", "order_question"),
        ("my last order arrived broken and I'm really annoyed", "complaint"),
        ("where is my parcel? it's been a week", "complaint"),
        ("does the Little Acorn mango oat pouch contain gluten?", "describe"),
        ("what are the trailfox hiking socks made of", "describe"),
        ("how long does the Thermica travel mug keep drinks hot?", "describe"),
        ("what valve do the Ridgeway inner tubes have", "describe"),
        ("why are you suggesting the first one?", "explain"),
        ("do you have capsules from Ristora?", "recommend"),
    ],
)
def test_routing_of_order_and_product_questions(message: str, intent: str) -> None:
    vocab = CatalogIndex({it.item_id: it for it in ITEMS})
    state = DialogueState(last_list=["roller-a", "roller-b"])
    assert RuleParser().parse(message, state, vocab).intent == intent


def test_the_purchase_meant_is_the_best_named_one_with_its_order_date(shop: Assistant) -> None:
    dark = shop.chat("ana", "When did I buy those dark roast capsules I hated?")
    assert dark.intent == "order_question" and dark.item_id == "caps-dark"
    assert "03 Mar 2026" in dark.text and "12 Mar 2026" not in dark.text  # not the review date
    soap = shop.chat("ana", "when did I buy the Sudsy soap?")
    assert "10 Apr 2026" in soap.text
    salts = shop.chat("ana", "When was my last bath salts order?")
    assert salts.intent == "order_question" and not salts.recommendations
    assert "05 Jun 2026" in salts.text


def test_follow_ups_ask_about_the_item_discussed_or_the_thing_named(shop: Assistant) -> None:
    first, often, harness = _talk(
        shop, "ana", "when did I last buy bath salts", "how often do I buy it?",
        "and the harness, when was that?",
    )  # fmt: skip
    assert often.intent == "order_question" and often.item_id == "salts"
    assert "6 times" in often.text and "every 30 days" in often.text
    assert harness.intent == "order_question" and not harness.recommendations
    assert "02 Apr 2026" in harness.text and "11 Apr 2026" not in harness.text


def test_orders_of_a_month_named_may(shop: Assistant) -> None:
    may = shop.chat("ana", "Can you show my orders from May 2026")
    assert may.intent == "order_question" and not may.recommendations
    assert "01 May 2026" in may.text and "22 May 2026" in may.text and "05 May 2026" in may.text
    assert "05 Jun 2026" not in may.text


def test_a_complaint_about_the_last_order_names_it(shop: Assistant) -> None:
    reply = shop.chat("ana", "my last order arrived broken and I'm really annoyed")
    assert reply.intent == "complaint" and not reply.recommendations
    assert reply.item_id == "salts"  # the most recent purchase (05 Jun 2026)


def test_a_question_about_a_named_product_answers_from_its_facts(shop: Assistant) -> None:
    gluten = shop.chat("bo", "does the Little Acorn mango oat pouch contain gluten?")
    assert gluten.intent == "describe" and gluten.item_id == "pouch-mango"
    assert not gluten.recommendations and "gluten" in gluten.text
    nuts = shop.chat("bo", "any nuts in the apple & pear pouches?")
    assert nuts.item_id == "pouch-apple" and "doesn't say" in nuts.text  # never "nut-free"
    mug = shop.chat("bo", "how long does the Thermica travel mug keep drinks hot?")
    assert mug.item_id == "mug-red" and "6 hours" in mug.text
    tube = shop.chat("bo", "what valve do the Ridgeway inner tubes have")
    assert "presta" in tube.text and not tube.recommendations
    socks = shop.chat("bo", "what are the trailfox hiking socks made of")
    assert "merino" in socks.text


def test_questions_about_shown_items(shop: Assistant) -> None:
    shown, price, made, why = _talk(
        shop, "bo", "foam rollers", "how much are they", "the second one - what's it made of",
        "why?",
    )  # fmt: skip
    ids = [r.item_id for r in shown.recommendations]
    assert set(ids) == {"roller-a", "roller-b"}
    assert "$25.99" in price.text and "$23.49" in price.text and not price.recommendations
    assert made.item_id == ids[1] and ("EPP" if ids[1] == "roller-b" else "EVA") in made.text
    assert why.intent == "explain" and why.item_id == ids[0]
    again = shop.chat("bo", "what's it made of?", state=made.state)
    assert again.item_id == ids[1]


def test_answers_never_invent_a_fact() -> None:
    mug = ITEMS[2]
    assert answer(mug, "is it waterproof?") is not None
    assert "doesn't say" in (answer(mug, "is it waterproof?") or "")
    assert "stainless steel" in (answer(mug, "what's it made of?") or "")
    assert answer(mug, "tell me about it") is None  # the whole description answers that
    assert answer(mug, "is it any good?") is None  # opinions are the reviews' to give
