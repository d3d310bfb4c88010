"""Wordings shoppers use: prices (figures and number words, currencies and slang, ceilings said
before or after the amount, floors, negated floors, ranges; sizes and ages are no price) and
follow-ups on the list shown ("dearer", "skip the first", "none of those appeal")."""

from __future__ import annotations

import pytest

from bot.recsys.constraints import parse_constraints


@pytest.mark.parametrize(
    ("message", "floor", "ceiling"),
    [
        ("bike lights, no more than 30 bucks", None, 30.0),
        ("a kettle for 40 quid or less", None, 40.0),
        ("tea under a tenner", None, 10.0),
        ("something below twenty dollars", None, 20.0),
        ("twenty-five dollars max", None, 25.0),
        ("budget is 50", None, 50.0),
        ("30 dollars tops", None, 30.0),
        ("no more than £30", None, 30.0),
        ("keep it below 18.50", None, 18.5),
        ("50 max", None, 50.0),
        ("nothing over 20", None, 20.0),
        ("I don't want to pay more than 30", None, 30.0),
        ("not over 45 please", None, 45.0),
        ("something under one hundred", None, 100.0),
        ("around 30", None, 37.5),
        ("30ish", None, 37.5),
        ("over twenty quid", 20.0, None),
        ("at least a tenner", 10.0, None),
        ("something over $50", 50.0, None),
        ("between 20 and 40", 20.0, 40.0),
        ("£10-£20", 10.0, 20.0),
        ("for a 2 year old under 15", None, 15.0),
        # no price: sizes, ages, counts, ordinals
        ("under 2 kg", None, None),
        ("more than one", None, None),
        ("more than 2 cups a day", None, None),
        ("between 2 and 3 years", None, None),
        ("size 10-12", None, None),
        ("the second one", None, None),
    ],
)
def test_price_wordings(message: str, floor: float | None, ceiling: float | None) -> None:
    cons, _cheaper = parse_constraints(message)
    assert (cons.min_price, cons.max_price) == (floor, ceiling)


@pytest.mark.parametrize(
    ("message", "pricier", "not_that"),
    [
        ("got anything dearer?", True, False),
        ("something a bit posher", True, False),
        ("nah, not the top one", False, True),
        ("skip the first", False, True),
        ("skip the second one please", False, True),
        ("I don't fancy the first one", False, True),
        ("not keen on that one", False, True),
        ("show me a premium option", True, False),
        ("I'd pay more for better quality", True, False),
        ("anything a bit more upmarket?", True, False),
        ("happy to splash out", True, False),
        ("show me a few more", False, False),
        ("can you show me some more?", False, False),
        # the whole list waved off: a plain refine, everything shown goes
        ("none of those appeal", False, False),
        ("I'm not sold on any of these", False, False),
    ],
)
def test_follow_up_wordings(message: str, pricier: bool, not_that: bool) -> None:
    from bot.chat.parse import RuleParser
    from bot.chat.state import DialogueState
    from bot.recsys.catalog import CatalogIndex
    from knowledge.schema import Item

    kettles = [Item(f"k{n}", f"Birchmoor Kettle {n}", "Birchmoor", ("Kitchen", "Kettles"), 30.0 + n)
               for n in range(3)]  # fmt: skip
    vocab = CatalogIndex({i.item_id: i for i in kettles})
    request = RuleParser().parse(message, DialogueState(last_list=["k0", "k1", "k2"]), vocab)
    assert request.intent == "refine", request.rule
    assert (request.pricier, request.not_that) == (pricier, not_that)
    assert not request.need, request.need  # the wording of a follow-up is no need to search


@pytest.mark.parametrize(
    ("message", "intent", "recipient", "need"),
    [
        # an open "what next?" in other words: the history answers, no search words
        ("anything I'm about to run out of?", "recommend", "", ""),
        ("what should I stock up on", "recommend", "", ""),
        # a gift by occasion: the recipient is theirs
        ("my dad's birthday is next week, he loves cycling", "recommend", "dad", None),
        ("it's her birthday on friday, she likes tea", "recommend", "someone else", None),
        # a change of topic keeps only the new need
        ("actually scrap that, I need dog food", "recommend", "", "dog food"),
        ("different question: do you do kettles?", "recommend", "", "kettles"),
        # chat shorthand and misspelt request words are neither corrected nor searched
        ("smth for my kettle pls", "recommend", "", "kettle"),
        ("can u recomend a kettle", "recommend", "", "kettle"),
        # the stock market is still off topic
        ("how is the stock market doing", "off_topic", "", None),
    ],
)
def test_open_need_gift_and_topic_change_wordings(
    message: str, intent: str, recipient: str, need: str | None
) -> None:
    from bot.chat.parse import RuleParser
    from bot.chat.state import DialogueState
    from bot.recsys.catalog import CatalogIndex
    from knowledge.schema import Item

    items = [Item("k0", "Birchmoor Kettle", "Birchmoor", ("Kitchen", "Kettles"), 30.0),
             Item("d0", "Houndly Dry Dog Food", "Houndly", ("Pets", "Dog Food"), 20.0)]  # fmt: skip
    vocab = CatalogIndex({i.item_id: i for i in items})
    request = RuleParser().parse(message, DialogueState(last_list=["k0"], need="kettle"), vocab)
    assert request.intent == intent, request.rule
    assert request.recipient == recipient
    if need is not None:
        assert request.need == need


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("hiya", "greeting"),
        ("who are you?", "greeting"),
        ("what can you do?", "greeting"),
        ("help", "greeting"),
        ("help me find a kettle", "recommend"),
        ("do you ship to France?", "off_topic"),
        ("what's your returns policy", "off_topic"),
        ("can I pay with paypal", "off_topic"),
        ("the infuser I got is rubbish, it rusted", "complaint"),
        ("my kettle stopped working after a week", "complaint"),
        ("do you sell rubbish bags?", "recommend"),
        ("I'd like my money back for the kettle", "complaint"),
        ("how can I return a kettle I never used?", "complaint"),
        ("can I send the kettle back?", "complaint"),
        ("send me back to the kettles", "recommend"),
    ],
)
def test_greetings_shop_terms_and_complaints(message: str, intent: str) -> None:
    from bot.chat.parse import RuleParser
    from bot.chat.state import DialogueState
    from bot.recsys.catalog import CatalogIndex
    from knowledge.schema import Item

    items = [Item("k0", "Birchmoor Kettle", "Birchmoor", ("Kitchen", "Kettles"), 30.0),
             Item("b0", "Tidy Rubbish Bags, 50", "Tidy", ("Home", "Bin Bags"), 4.0)]  # fmt: skip
    vocab = CatalogIndex({i.item_id: i for i in items})
    assert RuleParser().parse(message, DialogueState(), vocab).intent == intent


@pytest.mark.parametrize(
    ("message", "avoid", "exclude_brands", "attributes"),
    [
        ("tea except earl grey", ("earl grey",), (), ()),
        ("a kettle, anything other than Birchmoor", (), ("Birchmoor",), ()),
        ("kettle apart from Birchmoor", (), ("Birchmoor",), ()),
        ("a kettle but not a black one", (), (), ()),
    ],
)
def test_exceptions_rule_out_what_they_name(
    message: str, avoid: tuple[str, ...], exclude_brands: tuple[str, ...],
    attributes: tuple[str, ...],
) -> None:  # fmt: skip
    from bot.chat.parse import RuleParser
    from bot.chat.state import DialogueState
    from bot.recsys.catalog import CatalogIndex
    from knowledge.schema import Item

    items = [
        Item("k0", "Birchmoor Kettle - Black", "Birchmoor", ("Kitchen", "Kettles"), 30.0, "",
             {"colour": "black"}),
        Item("k1", "Crema Kettle - Red", "Crema", ("Kitchen", "Kettles"), 40.0, "", {"colour": "red"}),
        Item("t0", "Leafwell Earl Grey Tea", "Leafwell", ("Tea", "Loose Tea"), 9.0, "",
             {"colour": "grey"}),
        Item("t1", "Leafwell Green Tea", "Leafwell", ("Tea", "Loose Tea"), 9.0),
    ]  # fmt: skip
    vocab = CatalogIndex({i.item_id: i for i in items})
    request = RuleParser().parse(message, DialogueState(), vocab)
    assert request.intent == "recommend"
    assert request.exclude_brands == exclude_brands
    assert not request.brands  # the brand ruled out is never the one wanted
    assert set(avoid) <= set(request.avoid)
    assert request.attributes == attributes
    assert "except" not in request.need and "other" not in request.need.split()


def test_a_comparative_of_a_shown_fact_refines_the_list() -> None:
    """ "anything lighter?" after roasts steps to the light roast; with bike lights as a kind in
    the catalog it is still no search for lights. A comparative of no shown fact changes nothing."""
    from bot.chat.parse import RuleParser
    from bot.chat.state import DialogueState
    from bot.recsys.catalog import CatalogIndex
    from knowledge.schema import Item

    items = [Item(f"c{n}", f"Vellano Coffee Capsules - {r.title()} Roast", "Vellano",
                  ("Coffee & Tea", "Coffee Capsules"), 20.0, attributes={"roast": f"{r} roast"})
             for n, r in enumerate(("light", "medium", "dark"))]  # fmt: skip
    items.append(Item("l0", "Lumaro Bike Light Set", "Lumaro", ("Outdoor", "Bike Lights"), 30.0))
    vocab = CatalogIndex({i.item_id: i for i in items})
    state = DialogueState(last_list=["c1", "c2"])
    request = RuleParser().parse("anything lighter? the dark one is too strong", state, vocab)
    assert (request.intent, request.rule) == ("refine", "comparative")
    assert "light" in request.attributes and not request.need
    # nothing on screen carries "light": the rules read it as before (a search)
    other = RuleParser().parse("anything lighter?", DialogueState(last_list=["l0"]), vocab)
    assert other.rule != "comparative"


def test_what_goes_with_a_thing_asks_for_its_complements() -> None:
    """The catalog's complements (a kind, by ``type``, or an item id) of the kind named; the
    named thing's brand is not carried over."""
    from bot.chat.parse import RuleParser
    from bot.chat.state import DialogueState
    from bot.recsys.catalog import CatalogIndex
    from knowledge.schema import Item

    items = [
        Item("f0", "Inkwell Fountain Pen - Black", "Inkwell", ("Stationery", "Pens"), 30.0,
             attributes={"type": "fountain", "complements": ["ink"]}),
        Item("g0", "Papyra Gel Pens, 10 Pack", "Papyra", ("Stationery", "Pens"), 5.0,
             attributes={"type": "pens"}),
        Item("i0", "Papyra Ink Cartridges - Blue", "Papyra", ("Stationery", "Ink"), 6.0,
             attributes={"type": "ink"}),
        Item("k0", "Birchmoor Electric Kettle", "Birchmoor", ("Kitchen", "Kettles"), 40.0,
             attributes={"type": "kettle", "complements": ["d0"]}),
        Item("d0", "CleanCup Descaling Tablets, 6 Pack", "CleanCup", ("Kitchen", "Cleaning"), 9.0,
             attributes={"type": "descale"}),
        Item("l0", "Lumaro Bike Light Set", "Lumaro", ("Outdoor", "Bike Lights"), 30.0,
             attributes={"type": "lights", "complements": ["mount"]}),
        Item("m0", "Lumaro Handlebar Mount", "Lumaro", ("Outdoor", "Bike Parts"), 8.0,
             attributes={"type": "mount"}),
    ]  # fmt: skip
    vocab = CatalogIndex({i.item_id: i for i in items})
    for message, need in (
        ("I was given an Inkwell fountain pen, what do I need for it?", "Ink Cartridges"),
        ("what goes with a kettle?", "Descaling Tablets"),
        ("anything to go with my new electric kettle", "Descaling Tablets"),
        # the kind's head noun, not the pack it comes in ("Bike Light Set" -> light)
        ("what goes with my new bike lights?", "Handlebar Mount"),
    ):
        request = RuleParser().parse(message, DialogueState(), vocab)
        assert (request.intent, request.rule, request.need) == ("recommend", "complement", need)
        assert not request.brands
    # a kind with no complements, or none named: the rules read it as before
    for message in ("what goes with gel pens?", "what goes with a picnic?"):
        assert RuleParser().parse(message, DialogueState(), vocab).rule != "complement"
