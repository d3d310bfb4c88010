"""Category words and loose product names read from messages (bot.recsys.catalog, bot.recsys.constraints)."""

from __future__ import annotations

import pytest

from bot.recsys.catalog import CatalogIndex, category_forms
from bot.recsys.constraints import parse_constraints
from knowledge.schema import Item

ITEMS = {
    it.item_id: it
    for it in [
        Item(
            "amp-1", "Sundae 15 W Practice Amp", brand="Sundae", categories=("Music", "Amplifiers")
        ),
        Item(
            "gtr-1",
            "Oakline Concert Acoustic Guitar",
            brand="Oakline",
            categories=("Music", "Guitars"),
        ),
        Item(
            "pick-1",
            "Plectro Thin Guitar Picks, 12 Pack",
            brand="Plectro",
            categories=("Music", "Accessories"),
        ),
        Item(
            "str-1",
            "Wirewell Acoustic Guitar Strings",
            brand="Wirewell",
            categories=("Music", "Strings"),
        ),
        Item(
            "brush-1", "Lashly Makeup Brush Set", brand="Lashly", categories=("Makeup", "Brushes")
        ),
    ]
}


@pytest.mark.parametrize(
    ("label", "forms"),
    [
        ("Amplifiers", {"amplifiers", "amplifier"}),
        ("Accessories", {"accessories", "accessory"}),
        ("Brushes", {"brushes", "brush"}),
        ("Lipstick", {"lipstick", "lipsticks"}),
        ("Hair Care", {"hair care", "hair cares"}),
        ("Glass", {"glass", "glasses"}),
        ("Battery", {"battery", "batteries"}),
    ],
)
def test_category_forms(label: str, forms: set[str]) -> None:
    assert category_forms(label) == forms


@pytest.mark.parametrize(
    ("message", "categories"),
    [
        ("an amplifier under $5", ("Amplifiers",)),
        ("amplifiers under $5", ("Amplifiers",)),
        ("a guitar for my son", ("Guitars",)),
        ("guitar", ("Guitars",)),
        ("I play guitar, under $15", ()),  # a hobby, not the thing asked for
        ("guitar picks please", ()),  # "guitar" qualifies "picks"
        ("strings for my guitar", ("Strings",)),
        ("an accessory for my guitar", ("Accessories",)),
        ("a brush under $20", ("Brushes",)),
    ],
)
def test_singular_categories_count_only_when_asked_for(
    message: str, categories: tuple[str, ...]
) -> None:
    index = CatalogIndex(ITEMS)
    cons, _cheaper = parse_constraints(message, index.brands, index.categories)
    assert cons.categories == categories


def test_names_products() -> None:
    index = CatalogIndex(ITEMS)
    assert index.names_products("guitar picks please")
    assert index.names_products("Oakline strings")
    assert not index.names_products("tell me a joke")
    assert not index.names_products("please")  # no content words
    assert not index.names_products("guitar picks strings amp brush set")  # not a short name


class FixedSearch:
    """Semantic search that always returns one item (the catalog fallback of ``find``)."""

    def __init__(self, item: Item | None, score: float = 0.9) -> None:
        self.hit = [(item, score)] if item else []

    def search_items(self, query: str, k: int = 1) -> list[tuple[Item, float]]:
        return list(self.hit)


def test_find_resolves_loose_names() -> None:
    index = CatalogIndex(ITEMS)
    none = FixedSearch(None)
    assert index.find("gtr-1", none) == ITEMS["gtr-1"]
    assert index.find("sundae 15 w practice amp", none) == ITEMS["amp-1"]
    # an owned/shown item wins when no catalog title matches more of the words
    assert index.find("the Wirewell strings", none, among=["str-1"]) == ITEMS["str-1"]
    # but not over a title that matches more words: that goes to semantic search
    assert index.find("the Oakline concert guitar", none, among=["str-1"]) is None
    found = index.find("the Oakline concert guitar", FixedSearch(ITEMS["gtr-1"]), among=["str-1"])
    assert found == ITEMS["gtr-1"]
    assert index.find("xyzzy", FixedSearch(ITEMS["gtr-1"], score=0.1)) is None
