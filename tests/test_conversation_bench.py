"""The conversation benchmark: its checks on hand-made replies, its shop and labelled set, and two
real turns on the benchmark shop with the default (no-model) configuration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from benchmarks.conversation_checks import (
    CHECKS,
    Facts,
    load_conversations,
    related,
    run_checks,
)
from benchmarks.conversation_shop import KIND, NOT_CARRIED, REFERENCE, generate_shop
from bot.reply import Recommendation, Reply
from knowledge.schema import Event, Item


def _item(item_id: str, type_: str, sub: str, brand: str, price: float, **attrs) -> Item:
    return Item(
        item_id=item_id,
        title=f"{brand} {type_} {item_id}",
        brand=brand,
        categories=("Dept", sub),
        price=price,
        attributes={"type": type_, **attrs},
    )


ITEMS = {
    i.item_id: i
    for i in (
        _item("mug-red", "mug", "Mugs", "Thermica", 16.0, colour="red"),
        _item("mug-black", "mug", "Mugs", "Thermica", 15.0, colour="black"),
        _item("caps-dark", "capsules", "Capsules", "Ristora", 24.0, roast="dark roast"),
        _item("caps-med", "capsules", "Capsules", "Vellano", 22.0, roast="medium roast"),
        _item("machine", "espresso", "Machines", "Vellano", 300.0, complements=["capsules"]),
        _item("leash", "leash", "Dog Gear", "Houndly", 12.0),
        _item("kibble-ch", "kibble", "Dog Food", "Pawsome", 30.0, allergens=["chicken"]),
    )
}
MACHINE = Event("u1", "machine", "purchase", 1_700_000_000)
LEASH = Event("u1", "leash", "purchase", 1_700_100_000)
REVIEW = Event("u1", "caps-dark", "review", 1_700_900_000, rating=1.0, text="too bitter")


def _rec(item_id: str, rank: int = 1, evidence: tuple[str, ...] = ()) -> Recommendation:
    it = ITEMS[item_id]
    return Recommendation(item_id, it.title, rank, 1.0, "", list(evidence), price=it.price,
                          brand=it.brand)  # fmt: skip


def _facts(recs=(), text="", before=(MACHINE, LEASH), after=None, previous=(), **kw) -> Facts:
    reply = Reply(text=text, intent=kw.pop("intent", "recommend"), recommendations=list(recs), **kw)
    return Facts(reply, ITEMS, list(before), list(before if after is None else after),
                 list(previous))  # fmt: skip


def test_all_items_price_brand_and_attributes():
    f = _facts([_rec("mug-red"), _rec("mug-black", 2)])
    assert CHECKS["all_items"]({"type_in": ["mug"], "max_price": 16}, f) is None
    assert "15.0 < 15.5" in CHECKS["all_items"]({"min_price": 15.5}, f)
    assert "colour='black'" in CHECKS["all_items"]({"attribute": {"colour": "Red"}}, f)
    assert CHECKS["all_items"]({"brand_not_in": ["thermica"]}, f).startswith("mug-red")
    assert CHECKS["all_items"]({"attribute_not": {"allergens": "chicken"}}, f) is None
    kib = _facts([_rec("kibble-ch")])
    assert "avoided" in CHECKS["all_items"]({"attribute_not": {"allergens": "chicken"}}, kib)
    # no recommendations: vacuously true, which is why turns add min_recommendations
    assert CHECKS["all_items"]({"type_in": ["mug"]}, _facts()) is None


def test_must_include_any_and_counts():
    f = _facts([_rec("mug-red"), _rec("caps-med", 2)])
    assert CHECKS["must_include_any"]({"type": ["capsules"]}, f) is None
    assert CHECKS["must_include_any"]({"item": ["machine"]}, f) is not None
    # an attribute mapping: one item must carry all of it (it was read as a key "attribute")
    assert CHECKS["must_include_any"]({"attribute": {"colour": "red"}}, f) is None
    assert CHECKS["must_include_any"]({"attribute": {"colour": "blue"}}, f) is not None
    assert CHECKS["min_recommendations"](3, f) == "2 recommendations, expected >= 3"
    assert CHECKS["no_recommendations"](True, f) == "2 recommendations, expected none"
    assert CHECKS["no_recommendations"](True, _facts()) is None


def test_store_writes_by_report_and_ordinal():
    shown = [_rec("mug-red"), _rec("mug-black", 2)]
    bought = Event("u1", "mug-black", "feedback", 1_800_000_000, detail="bought")
    f = _facts(after=(MACHINE, LEASH, bought), previous=shown)
    assert CHECKS["store_write"]({"report": "purchase", "item_ref": "second"}, f) is None
    assert "no new purchase on mug-red" in CHECKS["store_write"](
        {"report": "purchase", "item_ref": "first"}, f
    )
    assert CHECKS["store_write"]({"report": "dislike", "item_ref": "second"}, f) is not None
    assert CHECKS["no_store_write"](True, f) == "wrote feedback:bought:mug-black"
    assert CHECKS["no_store_write"](True, _facts()) is None
    # a declared store_write drops the default no_store_write
    assert run_checks({"store_write": {"report": "purchase", "item_ref": "second"}}, f) == {}
    assert set(run_checks({}, f)) == {"no_store_write"}


def test_text_and_dates():
    f = _facts(text="You ordered descaling tablets on 14 Mar 2025 and tea on March 27, 2025.")
    assert CHECKS["dates_in_text"](["2025-03-14", "2025-03-27"], f) is None
    assert CHECKS["dates_in_text"](["2025-03-01"], f) == "text lacks dates ['2025-03-01']"
    assert CHECKS["dates_not_in_text"]([dt.date(2025, 3, 14).isoformat()], f) is not None
    assert CHECKS["text_mentions"](["DESCALING"], f) is None
    assert CHECKS["text_not_mentions"](["tea"], f) == "text mentions ['tea']"
    assert CHECKS["text_mentions_any"](["coffee", "mug"], f) is not None


def test_related_is_type_subcategory_brand_or_complement():
    assert related(ITEMS["caps-med"], ITEMS["machine"])  # complement (and brand)
    assert related(ITEMS["caps-dark"], ITEMS["machine"])  # complement only
    assert related(ITEMS["mug-red"], ITEMS["mug-black"])  # same type
    assert not related(ITEMS["mug-red"], ITEMS["leash"])


def test_reasons_cite_only_related():
    good = _facts([_rec("caps-med", evidence=(MACHINE.event_id,))])
    assert CHECKS["reasons_cite_only_related"](True, good) is None
    bad = _facts([_rec("mug-red", evidence=(LEASH.event_id,))])
    assert "cites unrelated purchase of leash" in CHECKS["reasons_cite_only_related"](True, bad)
    foreign = _facts([_rec("caps-med", evidence=(REVIEW.event_id,))])  # not this user's event
    assert "not one of the user's events" in CHECKS["reasons_cite_only_related"](True, foreign)


def test_refinements_and_references():
    prev = [_rec("caps-dark"), _rec("caps-med", 2)]
    cheaper = _facts([_rec("mug-black")], previous=prev)
    assert CHECKS["cheaper_than_previous"](True, cheaper) is None
    assert CHECKS["cheaper_than_previous"](True, _facts([_rec("machine")], previous=prev))
    assert CHECKS["excludes_previous"]("first", _facts([_rec("caps-med")], previous=prev)) is None
    assert CHECKS["excludes_previous"]("all", _facts([_rec("caps-med")], previous=prev))
    assert (
        CHECKS["brand_differs_from_previous"](True, _facts([_rec("caps-med")], previous=prev))
        is None
    )
    about = _facts(text="x", previous=prev, item_id="caps-med")
    assert CHECKS["refers_to"]("second", about) is None
    assert CHECKS["refers_to"]("first", about) is not None
    both = _facts(text=f"{ITEMS['caps-dark'].title} vs caps-med", previous=prev)
    assert CHECKS["compares"](["first", "second"], both) is None
    assert CHECKS["compares"](["first", "third"], both) == "does not show ['third']"


def test_text_language():
    de = _facts(text="Leider kann ich nur Nachrichten auf Englisch beantworten.")
    assert CHECKS["text_language"]("de", de) is None
    en = _facts(text="Here is what you may need next for your machine.")
    assert CHECKS["text_language"]("de", en) is not None
    es = _facts(text="Lo siento, solo puedo responder en inglés.")
    assert CHECKS["text_language"]("es", es) is None


def test_shop_is_deterministic_and_not_the_demo_shop():
    items, events = generate_shop()
    again = generate_shop()
    assert (items, events) == again
    assert 150 <= len(items) <= 300
    users = {e["user_id"] for e in events}
    assert 40 <= len(users) <= 80
    reference = dt.datetime(REFERENCE.year, REFERENCE.month, REFERENCE.day, tzinfo=dt.UTC)
    days = [(reference.timestamp() - e["timestamp"]) / 86_400 for e in events]
    assert min(days) > 0 and max(days) < 18 * 31
    from knowledge.demo_catalog import PRODUCT_TYPES

    demo_brands = {b for t in PRODUCT_TYPES for b in t.brands}
    assert not demo_brands & {i["brand"] for i in items}
    assert not {b for b in NOT_CARRIED} & {i["brand"] for i in items}
    low = [e for e in events if e["kind"] == "review" and e["rating"] <= 2]
    assert any("allergic" in e["text"] or "allergy" in e["text"] for e in low)
    assert {i["attributes"]["type"] for i in items} == set(KIND)


def test_labelled_set_is_large_and_valid():
    conversations = load_conversations()
    turns = [t for c in conversations for t in c.turns]
    assert len(turns) >= 300
    assert all(1 <= len(c.turns) <= 6 for c in conversations)
    users = {e["user_id"] for e in generate_shop()[1]}
    for c in conversations:  # new customers are named n..; everyone else must exist
        assert c.user in users or c.user.startswith("n"), c.id


def test_heldout_set_is_valid_and_split_in_two_halves():
    from benchmarks.conversation import half_of

    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "conversation_heldout"
    conversations = load_conversations(folder)
    assert sum(len(c.turns) for c in conversations) >= 150
    users = {e["user_id"] for e in generate_shop()[1]}
    assert all(c.user in users or c.user.startswith("n") for c in conversations)
    dev_ids = {c.id for c in load_conversations()}
    assert not dev_ids & {c.id for c in conversations}
    halves = [half_of(c.id) for c in conversations]
    assert {"open", "sealed"} == set(halves)
    assert 0.35 < halves.count("sealed") / len(halves) < 0.65
    assert half_of("ho-svc-late-order") == half_of("ho-svc-late-order")  # stable, not random


@pytest.mark.slow
def test_real_turns_on_the_benchmark_shop(tmp_path: Path):
    from benchmarks.conversation import _run_one, build_assistant
    from benchmarks.conversation_checks import Conversation, Turn

    assistant, parser = build_assistant(tmp_path)
    assert parser == "rules"
    items = {it.item_id: it for it in assistant.store.all_items()}
    before = len(assistant.store.history("c01"))
    conv = Conversation(
        "t",
        "c01",
        (
            Turn("what should I get next?", "next_need", {"min_recommendations": 1}),
            Turn(
                "I bought the first one",
                "feedback_write",
                {"store_write": {"report": "purchase", "item_ref": "first"}},
            ),  # fmt: skip
            Turn("hello!", "greeting", {"no_recommendations": True}),
        ),
    )
    rows = _run_one(assistant, conv, items)
    assert [r["turn"] for r in rows] == [1, 2, 3]
    assert rows[0]["items"] and rows[0]["passed"], rows[0]
    assert all(isinstance(r["failed"], dict) for r in rows)
    # whatever the turns wrote was removed again: conversations do not leak into each other
    assert len(assistant.store.history("c01")) == before
    assistant.store.close()
