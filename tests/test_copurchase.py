"""Co-purchase support (bot.recsys.sources.copurchase) on hand-counted baskets."""

from __future__ import annotations

import math

import pytest

from bot.recsys.sources.copurchase import CoPurchaseConfig, CoPurchaseSupport
from knowledge.errors import ConfigError

# 10 customers; a and b go together for 4 of them, c is bought by everyone
SEQUENCES = [
    ["a", "b", "c"],
    ["b", "a", "c"],
    ["a", "c", "b", "a"],  # a repeat purchase counts the customer once
    ["a", "b", "c"],
    ["a", "c"],
    ["d", "c"],
    ["d", "c"],
    ["c"],
    ["c", "e"],
    ["c", "d", "e"],
]


def _poisson_tail(k: int, mu: float) -> float:
    return 1 - sum(math.exp(-mu) * mu**i / math.factorial(i) for i in range(k))


def test_counts_expected_and_tail_by_hand() -> None:
    s = CoPurchaseSupport().fit(SEQUENCES)
    assert s.n_customers == 10
    assert s.item_customers["a"] == 5 and s.item_customers["b"] == 4
    assert s.customers("a", "b") == s.customers("b", "a") == 4
    assert s.customers("a", "a") == 0 and s.customers("a", "zzz") == 0
    assert s.expected("a", "b") == pytest.approx(5 * 4 / 10)
    assert s.p_value("a", "b") == pytest.approx(_poisson_tail(4, 2.0))  # 0.1429
    # c is in every basket: sharing it with a is exactly what chance predicts
    assert s.customers("a", "c") == 5 and s.expected("a", "c") == pytest.approx(5.0)


def test_support_needs_the_minimum_and_significance() -> None:
    shipped = CoPurchaseSupport().fit(SEQUENCES)
    assert shipped.supported("a", "b") == 0  # 4 shared, p = 0.14: not beyond chance here
    lenient = CoPurchaseSupport(CoPurchaseConfig(min_customers=3, alpha=0.2)).fit(SEQUENCES)
    assert lenient.supported("a", "b") == 4
    assert lenient.supported("d", "e") == 0  # one shared customer is below the minimum
    assert lenient.supported("a", "c") == 0  # p(>= 5 | 5) = 0.56
    # the same four shared customers in a shop of 200 are far beyond chance (0.1 expected)
    big = CoPurchaseSupport().fit(SEQUENCES + [["x"]] * 190)
    assert big.expected("a", "b") == pytest.approx(5 * 4 / 200)
    assert big.supported("a", "b") == 4


def test_history_is_capped_to_recent_items() -> None:
    s = CoPurchaseSupport(CoPurchaseConfig(max_items_per_customer=2)).fit([["a", "b", "c"]])
    assert s.customers("b", "c") == 1 and s.customers("a", "b") == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_customers", 0), ("alpha", 0.0), ("alpha", 1.5), ("max_items_per_customer", 1)],
)
def test_bad_config_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"CoPurchaseConfig.{field}"):
        CoPurchaseConfig(**{field: value})  # type: ignore[arg-type]
