"""Ordinary wording the rule parser must read: typos of catalog words, names of brands the shop
does not carry, "X for a Y" (the kind before "for" is asked for), "only the jackets" after a
mixed list, "I already have knives". Pure functions over a handful of items: no store, no model.
"""

from __future__ import annotations

import pytest

from bot.chat.parse import RuleParser, unknown_names
from bot.chat.state import DialogueState
from bot.recsys.catalog import CatalogIndex, english_words
from bot.recsys.request import RequestMatcher
from knowledge.schema import Item

ITEMS = [
    Item("ink", "Inkwell Ink Cartridges, 12 Pack - Black", "Inkwell", ("Stationery", "Ink"), 7.0,
         "Cartridges for fountain pens.", {"colour": "black"}),
    Item("pen", "Inkwell Fountain Pen - Fine Nib", "Inkwell", ("Stationery", "Pens"), 30.0,
         "A steel fountain pen.", {}),
    Item("notebook", "Papyra Notebook A5 - Dotted", "Papyra", ("Stationery", "Notebooks"), 9.0,
         "Dotted pages.", {}),
    Item("board", "Birchmoor Cutting Board - Bamboo", "Birchmoor", ("Kitchen", "Cutting Boards"),
         48.0, "A bamboo board.", {}),
    Item("knife", "Kuroba Chef Knife - 20 cm", "Kuroba", ("Kitchen", "Knives"), 42.0,
         "A sharp knife.", {}),
    Item("kettle", "Birchmoor Electric Kettle, 1.7 L - Black", "Birchmoor", ("Kitchen", "Kettles"),
         39.0, "Boils water fast.", {"colour": "black"}),
    Item("bottle", "Trailfox Water Bottle, 750 ml - Sage", "Trailfox", ("Outdoor", "Bottles"),
         17.0, "Keeps water cold.", {"colour": "sage"}),
    Item("jacket", "Trailfox Rain Jacket - Black M", "Trailfox", ("Outdoor", "Jackets"), 120.0,
         "Waterproof.", {"colour": "black"}),
    Item("lights", "Ridgeway Bike Lights - Front & Rear", "Ridgeway", ("Outdoor", "Lights"), 25.0,
         "Bright LED lights.", {}),
]  # fmt: skip


@pytest.fixture(scope="module")
def vocab() -> CatalogIndex:
    return CatalogIndex({it.item_id: it for it in ITEMS})


def parse(message: str, vocab: CatalogIndex, state: DialogueState | None = None):  # type: ignore[no-untyped-def]
    return RuleParser().parse(message, state or DialogueState(), vocab)


def test_the_word_list_ships_with_the_embedder() -> None:
    words = english_words()
    assert {"gross", "kettle", "maybe"} <= words and "hydrafox" not in words


@pytest.mark.parametrize(
    ("said", "meant"),
    [
        ("a cutting bord please", "a cutting board please"),
        ("i need a new notebok", "i need a new notebook"),
        ("Notebok and ink", "notebook and ink"),
    ],
)
def test_misspelt_catalog_words_are_corrected(vocab: CatalogIndex, said: str, meant: str) -> None:
    assert vocab.respell(said).lower() == meant.lower()


@pytest.mark.parametrize(
    "text",
    ["a Hydrafox water bottle", "our dog rolled in something gross", "kettel", "the Zentro kettle"],
)
def test_words_and_names_are_not_respelt_into_other_words(vocab: CatalogIndex, text: str) -> None:
    # "kettel" is 'kettle' misspelt, but 'kettle' is English and in the catalog: corrected
    out = vocab.respell(text)
    if text == "kettel":
        assert out == "kettle"
    else:
        assert out == text


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("I'm looking for a Hydrafox water bottle", "Hydrafox"),
        ("do you sell Barkley & Co kettles", "Barkley"),
        ("zentro kettle in black??", "zentro"),
        ("do you carry moleskine?", "moleskine"),
    ],
)
def test_brands_we_do_not_carry_are_named(vocab: CatalogIndex, message: str, name: str) -> None:
    assert unknown_names(message, vocab) == [name]
    request = parse(message, vocab)
    assert name in request.not_carried
    assert name.lower() not in request.need.lower()


@pytest.mark.parametrize(
    "message",
    [
        "do you have any kettles",
        "a Trailfox water bottle",
        "a crusty kettle needs cleaning",  # an adjective the word list lacks is not a name
        "the machine is getting crusty inside",
        "a black kettle",
    ],
)
def test_ordinary_words_are_not_brands(vocab: CatalogIndex, message: str) -> None:
    assert unknown_names(message, vocab) == []


def test_the_kind_before_for_is_the_one_asked_for(vocab: CatalogIndex) -> None:
    request = parse("do you have black ink cartridges for a fountain pen", vocab)
    matcher = RequestMatcher(vocab.items)
    assert matcher.named_kinds(request.need) == {"cartridge"}
    # with nothing named before "for", the kind after it is still a kind
    assert matcher.named_kinds("something for fountain pen") == {"pen"}


def test_typos_reach_the_request(vocab: CatalogIndex) -> None:
    request = parse("i already have knives, what about a cutting bord", vocab)
    assert "board" in request.need and "knives" in request.owned_things
    assert request.categories == ("Cutting Boards",)


def test_only_the_kind_narrows_the_last_list(vocab: CatalogIndex) -> None:
    state = DialogueState()
    state.need = "dark commute lights jacket"
    state.last_list = ["lights", "jacket"]
    request = parse("only the jackets", vocab, state)
    assert (request.intent, request.rule) == ("refine", "only")
    assert request.need == "jackets"
    # with no list shown it is not a refinement
    assert parse("only the jackets", vocab).rule != "only"


@pytest.mark.parametrize(
    ("message", "need"),
    [
        # nothing in this shop is a heat pad: nothing to filter, but not a search either
        ("I'm not into heat pads, anything for my kettle?", "kettle"),
        ("I don't want a pen, something for notebooks", "notebooks"),
    ],
)
def test_ruled_out_words_are_not_searched(vocab: CatalogIndex, message: str, need: str) -> None:
    assert parse(message, vocab).need == need


@pytest.mark.parametrize(
    "message",
    [
        "the tiles keep cracking when I drop pans",  # a problem, said as a statement
        "my wrists ache after a day of typing",
        "I'd like to take up sketching this winter",  # a plan
        "we're hoping to start birdwatching",
        "we're so fed up with soggy sandwiches at lunch",
        "my ankles are sore after rugby",  # a topic word in a situation
        "our lawn is awful after the dry summer",  # a mood word about no order or item
    ],
)
def test_a_situation_is_a_request_by_meaning(vocab: CatalogIndex, message: str) -> None:
    r = RuleParser().parse(message, DialogueState(), vocab)
    assert (r.intent, r.rule) == ("recommend", "situation")
    assert r.facts  # read by meaning, as a stated situation (nothing is written to the store)


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("my kettle is awful", "complaint"),  # a thing the shop sells: a complaint to hear out
        ("this is terrible", "complaint"),
        ("my package is a week late", None),  # the shop's business, never a situation
        ("I'm fed up, my order still hasn't arrived", "complaint"),
        ("I'm really disappointed with the service", "complaint"),
        ("who won the rugby last night", "off_topic"),  # a question about a topic: not ours
        ("what's the weather like today", "off_topic"),
        ("I need a rain jacket for football", "recommend"),  # a request, whatever its topic
        ("is the kettle any good?", None),  # a question is never a situation
    ],
)
def test_situations_leave_complaints_topics_and_questions_alone(
    vocab: CatalogIndex, message: str, intent: str | None
) -> None:
    r = RuleParser().parse(message, DialogueState(), vocab)
    assert r.intent == (intent or r.intent) and r.rule != "situation"


def test_a_statement_about_the_list_on_screen_is_not_a_situation(vocab: CatalogIndex) -> None:
    state = DialogueState()
    state.last_list = ["kettle", "bottle"]
    r = RuleParser().parse("the second one looks nice", state, vocab)
    assert r.rule != "situation"


@pytest.mark.parametrize(
    ("title", "head"),
    [
        ("Lumaro Bike Light Set - USB 400 lm", "light"),  # the pack is not the kind
        ("Flexa Massage Ball Set - Spiky", "ball"),  # (both were "set": one kind)
        ("Clearbrook Dish Soap Refill, 1 L - Lemon", "soap"),
        ("Papyra Notebook A5 - Red Dotted", "notebook"),  # nor is a size code
        ("Inkwell Ink Cartridges, 12 Pack - Blue", "cartridge"),
        ("Flowfit 6 mm Yoga Mat", "mat"),
        ("Kit", "kit"),  # a name of one word keeps it
    ],
)
def test_an_items_kind_is_its_head_noun(title: str, head: str) -> None:
    item = Item("x", title, "", (), 1.0, "", {})
    assert RequestMatcher({"x": item}).head(item) == head
