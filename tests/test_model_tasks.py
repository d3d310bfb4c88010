"""benchmarks.model_tasks: the description faithfulness check, on sentences judged by hand."""

from __future__ import annotations

import pytest

from benchmarks.model_tasks import claims_in_facts

_FACTS = [
    "Title: Barkwell Dental Chews Dog Treats, 300 g",
    "Brand: Barkwell",
    "Price: $6.49",
    "Description: Dental Chews dog treats from Barkwell. Size: 300 g.",
    "Typically lasts about 14 days",
]
_VOCAB = {"whiskerly", "salmon", "barkwell", "chews"}


@pytest.mark.parametrize(
    ("sentence", "faithful"),
    [
        ("Dental Chews dog treats from Barkwell, a 300 g pack for $6.49.", True),
        ("These treats last about 14 days.", True),
        ("A $300 pack of dog treats.", False),  # the size read as a price
        ("Priced at 6.49 units.", False),  # a price that is not said as one
        ("A 500 g pack.", False),  # a number the facts lack
        ("A great, natural treat from Barkwell.", False),  # quality claims
        ("Salmon dog treats from Barkwell.", False),  # another item's flavour
        ("Free shipping on Barkwell treats.", False),  # money word
    ],
)
def test_claims_in_facts(sentence: str, faithful: bool) -> None:
    assert claims_in_facts(sentence, _FACTS, _VOCAB) is faithful
