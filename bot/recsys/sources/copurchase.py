"""Co-purchase support: how many customers bought both of two items, and whether that is more
than chance in a store of this size.

On a 600-customer shop two unrelated items that each sold to 25 customers are expected to share
one buyer by chance (25 * 25 / 600); a count of one or two is a coincidence, not "customers who
bought your strings also bought this". A pair is *supported* when at least ``min_customers``
customers bought both and the count is unlikely under independence: its one-sided Poisson tail
at the expected count ``n_a * n_b / N`` is at most ``alpha``. The expectation grows with the
store, so the same rule asks more of a popular pair in a big shop and of any pair in a small one.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.errors import ConfigError

__all__ = ["CoPurchaseConfig", "CoPurchaseSupport"]


@dataclass(frozen=True)
class CoPurchaseConfig:
    """The support rule for co-purchase evidence (see the module docstring)."""

    min_customers: int = 3
    alpha: float = 0.01
    # only each customer's most recent distinct items form pairs: bounds the work on long
    # histories (30 items: 435 pairs per customer)
    max_items_per_customer: int = 30

    def __post_init__(self) -> None:
        if isinstance(self.min_customers, bool) or not 1 <= self.min_customers <= 10_000:
            raise ConfigError(
                f"CoPurchaseConfig.min_customers must be 1..10000, got {self.min_customers!r}"
            )
        if not 0 < self.alpha <= 1:
            raise ConfigError(f"CoPurchaseConfig.alpha must be in (0, 1], got {self.alpha!r}")
        if not 2 <= self.max_items_per_customer <= 1000:
            raise ConfigError(
                "CoPurchaseConfig.max_items_per_customer must be 2..1000, "
                f"got {self.max_items_per_customer!r}"
            )


class CoPurchaseSupport:
    """Customer counts per item and per unordered pair of items, fitted on purchase sequences."""

    def __init__(self, config: CoPurchaseConfig | None = None) -> None:
        self.config = config or CoPurchaseConfig()
        self.n_customers = 0
        self.item_customers: Counter[str] = Counter()
        self.pair_customers: Counter[tuple[str, str]] = Counter()
        self._tail: dict[tuple[int, float], float] = {}

    def fit(self, sequences: Sequence[Sequence[str]]) -> CoPurchaseSupport:
        """Count, per item and per pair, the customers whose history holds them."""
        items: Counter[str] = Counter()
        pairs: Counter[tuple[str, str]] = Counter()
        cap = self.config.max_items_per_customer
        n = 0
        for seq in sequences:
            distinct = list(dict.fromkeys(reversed(seq)))[:cap]  # most recent first
            if not distinct:
                continue
            n += 1
            items.update(distinct)
            pairs.update(itertools.combinations(sorted(distinct), 2))
        self.n_customers, self.item_customers, self.pair_customers = n, items, pairs
        self._tail = {}
        return self

    def customers(self, a: str, b: str) -> int:
        """How many customers bought both ``a`` and ``b``."""
        if a == b:
            return 0
        return self.pair_customers.get((a, b) if a < b else (b, a), 0)

    def expected(self, a: str, b: str) -> float:
        """The number of shared customers expected if the two items sold independently."""
        if not self.n_customers:
            return 0.0
        return self.item_customers[a] * self.item_customers[b] / self.n_customers

    def p_value(self, a: str, b: str) -> float:
        """One-sided Poisson tail: the chance of at least this many shared customers by chance."""
        k, mu = self.customers(a, b), self.expected(a, b)
        if k == 0:
            return 1.0
        key = (k, round(mu, 6))
        if key not in self._tail:
            from scipy.stats import poisson

            self._tail[key] = float(poisson.sf(k - 1, mu)) if mu > 0 else 0.0
        return self._tail[key]

    def supported(self, a: str, b: str) -> int:
        """The shared-customer count when the pair passes the rule, else 0."""
        k = self.customers(a, b)
        if k < self.config.min_customers:
            return 0
        return k if self.p_value(a, b) <= self.config.alpha else 0
