"""Preferences read from a customer's own reviews (bot.recsys.preferences): which low reviews
ban a brand, which ban a variant or ingredient, and that each names its review. Pure functions
over a handful of items and events."""

from __future__ import annotations

import pytest

from bot.recsys.catalog import CatalogIndex
from bot.recsys.history import UserView
from bot.recsys.preferences import preference_constraints, review_preferences
from knowledge.schema import Event, Item

ITEMS = {
    it.item_id: it
    for it in [
        Item("helmet-v", "Veloce Bike Helmet - Black M", "Veloce", ("Outdoor", "Helmets"), 80.0,
             "Ventilated helmet.", {"colour": "black", "size": "M", "material": "EPS foam"}),
        Item("helmet-r", "Ridgeway Bike Helmet - Red M", "Ridgeway", ("Outdoor", "Helmets"), 90.0,
             "Ventilated helmet.", {"colour": "red", "size": "M"}),
        Item("soap-s", "Sudsy Dish Soap - Lemon", "Sudsy", ("Kitchen", "Dish Soap"), 5.0,
             "Cuts grease.", {"scent": "lemon"}),
        Item("soap-c", "Clearbrook Dish Soap - Unscented", "Clearbrook", ("Kitchen", "Dish Soap"),
             6.0, "Cuts grease.", {"scent": "unscented"}),
        Item("caps-dark", "Ristora Coffee Capsules - Dark Roast", "Ristora", ("Coffee", "Capsules"),
             20.0, "Espresso capsules.", {"roast": "dark roast"}),
        Item("pouch-pb", "Acorn Baby Food Pouches - Peanut Butter Banana", "Acorn",
             ("Baby", "Baby Food"), 12.0, "Contains: peanut.",
             {"flavour": "peanut butter banana", "allergens": ["peanut"]}),
        Item("pens-s", "Scriba Gel Pens, 10 Pack - Black", "Scriba", ("Stationery", "Pens"), 8.0,
             "Smooth gel ink.", {"colour": "black"}),
        Item("salts-e", "Calmora Bath Salts - Eucalyptus", "Calmora", ("Wellness", "Bath"), 12.0,
             "A relaxing soak.", {"scent": "eucalyptus"}),
    ]
}  # fmt: skip
VOCAB = CatalogIndex(ITEMS)


def prefs(item_id: str, rating: float, text: str) -> list[tuple[str, str]]:
    review = Event("u", item_id, "review", 1_700_000_000, 1, rating, text)
    view = UserView("u", [review], now=1_700_100_000)
    got = review_preferences(view, ITEMS, VOCAB.attribute_words, VOCAB.brand_map)
    assert all(p.review_id == review.event_id and p.item_id == item_id for p in got)
    return [(p.kind, p.value) for p in got]


@pytest.mark.parametrize(
    ("item_id", "text"),
    [
        ("helmet-v", "Veloce helmet pinches at the temples. Not buying Veloce again."),
        ("pens-s", "Scriba gel pens smudge on every page, awful. Never buying Scriba again."),
        ("soap-s", "Left a film on every glass. Never Sudsy again."),
        ("soap-s", "Sudsy is rubbish."),
        ("helmet-v", "Strap broke in a month. Won't buy this brand again."),
        ("helmet-v", "no more veloce for me"),
        ("helmet-v", "Veloce helmets are junk"),
    ],
)
def test_a_low_review_that_blames_the_maker_bans_the_brand(item_id: str, text: str) -> None:
    assert ("avoid_brand", ITEMS[item_id].brand) in prefs(item_id, 1, text)


@pytest.mark.parametrize(
    ("item_id", "text"),
    [
        ("helmet-v", "Pinches at the temples, never again."),  # the maker is not named
        ("caps-dark", "Far too bitter and burnt. I really dislike dark roast, never again."),
        ("soap-s", "The Sudsy lemon is awful, never again."),  # a variant, not the brand
        ("helmet-v", "Veloce fits well but the strap is a bit short."),  # no verdict
    ],
)
def test_one_bad_experience_does_not_ban_the_brand(item_id: str, text: str) -> None:
    assert not any(kind == "avoid_brand" for kind, _ in prefs(item_id, 1, text))


def test_a_good_review_bans_nothing() -> None:
    assert prefs("helmet-v", 5, "Veloce is great, never buying anything else again.") == []


def test_a_named_variant_or_ingredient_is_avoided() -> None:
    assert ("avoid_term", "dark roast") in prefs("caps-dark", 1, "I really dislike dark roast.")
    assert ("avoid_term", "lemon") in prefs("soap-s", 2, "The lemon smell is overpowering.")
    peanut = prefs("pouch-pb", 1, "My daughter has a peanut allergy, I should have read the label.")
    assert peanut == [("avoid_term", "peanut")]
    assert ("avoid_term", "eucalyptus") in prefs("salts-e", 1, "Eucalyptus gave me a rash. Avoid.")


def test_praise_for_a_variant_is_not_a_dislike() -> None:
    assert prefs("soap-s", 2, "Lovely lemon scent. The bottle leaked though.") == []


def test_preferences_become_filter_constraints() -> None:
    got = review_preferences(
        UserView("u", [Event("u", "soap-s", "review", 1, 1, 1.0, "The lemon is awful. Never Sudsy again.")], now=2),
        ITEMS, VOCAB.attribute_words, VOCAB.brand_map,
    )  # fmt: skip
    assert preference_constraints(got) == (("lemon",), ("Sudsy",))
