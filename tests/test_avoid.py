"""What a message rules out (bot.chat.avoid) and how the item filter enforces it: pure functions
over a handful of items, no store, no model."""

from __future__ import annotations

import pytest

from bot.chat.avoid import Avoids, stated_avoids
from bot.chat.parse import RuleParser
from bot.chat.state import DialogueState
from bot.recsys.catalog import CatalogIndex
from bot.recsys.request import RequestMatcher
from knowledge.records import ItemFilter
from knowledge.schema import Item

ITEMS = [
    Item("pouch-pb", "Acorn Baby Food Pouches, 10 Pack - Peanut Butter Banana", "Acorn",
         ("Baby", "Baby Food"), 12.0, "Smooth fruit puree. Contains: peanut.",
         {"flavour": "peanut butter banana", "allergens": ["peanut"]}),
    Item("pouch-ap", "Acorn Baby Food Pouches, 10 Pack - Apple & Pear", "Acorn",
         ("Baby", "Baby Food"), 11.0, "Smooth fruit puree.", {"flavour": "apple & pear"}),
    Item("kib-ch", "Houndly Dog Kibble, 6 kg - Chicken", "Houndly", ("Pets", "Dog Food"), 40.0,
         "Complete dry food.", {"recipe": "chicken", "allergens": ["chicken"]}),
    Item("kib-sa", "Houndly Dog Kibble, 6 kg - Salmon & Rice", "Houndly", ("Pets", "Dog Food"),
         44.0, "Complete dry food.", {"recipe": "salmon & rice", "allergens": ["fish"]}),
    Item("pad", "Calmora Heat Pad - Large", "Calmora", ("Wellness", "Pain Relief"), 30.0,
         "Soothes back pain.", {"material": "fleece"}),
    Item("roller", "Flexa Foam Roller - Smooth 45 cm", "Flexa", ("Wellness", "Recovery"), 20.0,
         "Relieves back tension.", {}),
    Item("kettle", "Birchmoor Electric Kettle, 1.7 L - Red", "Birchmoor", ("Kitchen", "Kettles"),
         39.0, "Boils water fast.", {"colour": "red"}),
    Item("espresso", "Vellano Espresso Machine - Compact", "Vellano",
         ("Coffee & Tea", "Espresso Machines"), 250.0, "A compact machine.", {}),
    Item("caps-dark", "Vellano Coffee Capsules, 50 Pack - Dark Roast", "Vellano",
         ("Coffee & Tea", "Coffee Capsules"), 20.0, "Espresso capsules.", {"roast": "dark roast"}),
    Item("caps-med", "Vellano Coffee Capsules, 50 Pack - Medium Roast", "Vellano",
         ("Coffee & Tea", "Coffee Capsules"), 20.0, "Espresso capsules with dark chocolate notes.",
         {"roast": "medium roast"}),
    Item("salts", "Calmora Bath Salts, 1 kg - Lavender", "Calmora", ("Wellness", "Bath"), 12.0,
         "A relaxing soak.", {"scent": "lavender"}),
    *[
        Item(f"pants-{n}", f"Snugglo Pull-Up Pants - Size {n}, {48 - 4 * n} Count", "Snugglo",
             ("Baby", "Training Pants"), 20.0, "Soft pull-ups.", {"size": f"Size {n}"})
        for n in (3, 4, 5)
    ],
    Item("socks", "Trailfox Hiking Socks, 2 Pairs - Size 39-42", "Trailfox", ("Outdoor", "Socks"),
         18.0, "Merino socks.", {"size": "Size 39-42"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def vocab() -> CatalogIndex:
    return CatalogIndex({it.item_id: it for it in ITEMS})


def avoids(message: str, vocab: CatalogIndex) -> Avoids:
    return stated_avoids(message, vocab)


@pytest.mark.parametrize(
    ("message", "terms"),
    [
        ("baby food pouches without peanuts please, my son is allergic", ("peanut",)),
        ("also snacks for her, remember no peanuts", ("peanut",)),
        ("and food, he's allergic to chicken", ("chicken",)),
        ("my dog can't eat chicken or fish", ("chicken", "fish")),
        ("she has a peanut allergy", ("peanut",)),
        ("nothing with lavender please", ("lavender",)),
        ("I don't like dark roast", ("dark roast",)),
        ("not a fan of lavender", ("lavender",)),
        ("not the red ones", ("red",)),
        ("pouches, no peanut stuff", ("peanut",)),
        ("anything without roasted peanuts?", ("peanut",)),
        ("allergic to peanuts and chicken", ("peanut", "chicken")),
    ],
)
def test_stated_terms_are_grounded_in_item_facts(
    message: str, terms: tuple[str, ...], vocab: CatalogIndex
) -> None:
    got = avoids(message, vocab)
    assert got.terms == terms and got.things == ()


@pytest.mark.parametrize(
    ("message", "things"),
    [
        ("I already have a foam roller and I'm not into heat pads, anything else?", ("heat pad",)),
        ("I got a kettle for christmas so I don't need one. what else is there?", ("kettle",)),
        ("just got a kettle, no need for another", ("kettle",)),
        ("I don't need a new kettle", ("kettle",)),
        ("not a machine, something smaller", ("machine",)),
        ("no more capsules please", ("capsules",)),  # as the catalog names them
    ],
)
def test_stated_kinds_are_head_nouns(
    message: str, things: tuple[str, ...], vocab: CatalogIndex
) -> None:
    got = avoids(message, vocab)
    assert got.things == things and got.terms == ()


@pytest.mark.parametrize(
    "message",
    [
        "no thanks",
        "not sure",
        "I have no idea",
        "without a doubt",
        "no, the red one",
        "no problem",
        "no worries, take your time",
        "not bad",
        "not now",
        "not too expensive",
        "no more than $20",
        "nothing else thanks",
        "I don't need anything else",
        "I don't want to spend much",
        "I don't like it",
        "I don't want a new one",  # "one" names no kind said before
        "he isn't allergic to chicken",
        "I'm not allergic to anything",
        "no food allergies",
        "my son is allergic",
        "without breaking the bank",
        "no sugar please",  # nothing we sell says sugar
        "not a dog person",
        "she outgrew her shoes",
    ],
)
def test_sentences_that_rule_nothing_out(message: str, vocab: CatalogIndex) -> None:
    assert not avoids(message, vocab), message


@pytest.mark.parametrize(
    ("message", "terms", "wanted"),
    [
        ("my son outgrew size 4, what now?", ("size 3", "size 4"), "size 5"),
        ("my son outgrew size 3", ("size 3",), "size 4"),
        ("she outgrew size 4 last week", ("size 3", "size 4"), "size 5"),
        ("size 4 is getting too small", ("size 3", "size 4"), "size 5"),
        ("he's grown out of size 5", ("size 3", "size 4", "size 5"), ""),
        ("size 4 is too big", ("size 4", "size 5"), "size 3"),
    ],
)
def test_outgrown_sizes_and_smaller_ones_are_out(
    message: str, terms: tuple[str, ...], wanted: str, vocab: CatalogIndex
) -> None:
    got = avoids(message, vocab)
    assert got.terms == terms and got.wanted_size == wanted
    assert "size 39" not in got.terms  # "Size 39-42" is a range, not an ordinal size


def test_a_given_matcher_is_used_for_kinds(vocab: CatalogIndex) -> None:
    matcher = RequestMatcher(vocab.items)
    got = stated_avoids("not into heat pads", vocab, matcher)
    assert got.things == ("heat pad",)
    assert any(matcher.is_thing(vocab.items["pad"], t) for t in got.things)
    assert not any(matcher.is_thing(vocab.items["roller"], t) for t in got.things)


def _accepted(words: tuple[str, ...]) -> set[str]:
    filt = ItemFilter(avoid_words=words)
    return {it.item_id for it in ITEMS if filt.accepts(it)}


def test_the_filter_enforces_a_plural_and_a_list_attribute() -> None:
    assert "pouch-pb" not in _accepted(("peanuts",))
    assert "pouch-ap" in _accepted(("peanuts",))
    # "fish" is only in the allergens list, not in the title or description
    assert "kib-sa" not in _accepted(("fish",)) and "kib-ch" in _accepted(("fish",))


def test_the_filter_matches_a_phrase_not_scattered_words() -> None:
    ok = _accepted(("size 4",))
    assert "pants-4" not in ok and {"pants-3", "pants-5", "socks"} <= ok
    # "dark chocolate notes" on a medium roast is not "dark roast"
    ok = _accepted(("dark roast",))
    assert "caps-dark" not in ok and "caps-med" in ok


def test_stated_terms_feed_the_filter(vocab: CatalogIndex) -> None:
    got = stated_avoids("my son outgrew size 4", vocab)
    ok = _accepted(got.terms)
    assert {"pants-3", "pants-4"}.isdisjoint(ok) and "pants-5" in ok
    assert got.wanted_size and vocab.items["pants-5"].attributes["size"].lower() == got.wanted_size


# the rule parser carries what a message rules out into the request: avoided terms filter the
# list, avoided kinds leave the list like things the customer has, a size moved on to is wanted,
# and none of the ruled-out words is searched for


@pytest.mark.parametrize(
    ("message", "avoid", "things", "attributes", "absent"),
    [
        ("baby food pouches without peanuts please", ("peanut",), (), (), "peanut"),
        ("dog food, he's allergic to chicken", ("chicken",), (), (), "chicken"),
        ("I'm not into heat pads, anything for my back?", (), ("heat pad",), (), "pad"),
        ("my son outgrew size 4, what now?", ("size 3", "size 4"), (), ("size 5",), "outgrew"),
    ],
)
def test_parser_carries_what_is_ruled_out(
    vocab: CatalogIndex,
    message: str,
    avoid: tuple[str, ...],
    things: tuple[str, ...],
    attributes: tuple[str, ...],
    absent: str,
) -> None:
    request = RuleParser().parse(message, DialogueState(), vocab)
    assert set(avoid) <= set(request.avoid)
    assert set(things) <= set(request.owned_things)
    assert set(attributes) <= set(request.attributes)
    assert "4" not in request.attributes and "size 4" not in request.attributes
    assert absent not in request.need.lower()
    assert request.intent == "recommend"
