"""What the assistant knows about one user at one moment: their ordered events, what they own,
what they rejected, and which consumables are due for a refill."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from knowledge.schema import Event, Item

__all__ = ["short_date", "UserView", "RepurchaseModel", "DAY"]

DAY = 86_400


class RepurchaseModel:
    """Replenishment periods: an item's own ``replenish_days`` attribute if the catalog has it,
    else the median gap between repeat purchases of that item (or its category) in the store."""

    def __init__(self) -> None:
        self.item_days: dict[str, float] = {}
        self.category_days: dict[str, float] = {}

    def fit(self, timelines: dict[str, list[tuple[int, int, str]]], items: dict[str, Item]) -> None:
        item_gaps: dict[str, list[float]] = defaultdict(list)
        cat_gaps: dict[str, list[float]] = defaultdict(list)
        for events in timelines.values():
            last_item: dict[str, int] = {}
            last_cat: dict[str, int] = {}
            for ts, _order, item_id in events:
                if item_id in last_item and ts > last_item[item_id]:
                    item_gaps[item_id].append((ts - last_item[item_id]) / DAY)
                last_item[item_id] = ts
                cat = items[item_id].category if item_id in items else ""
                if cat:
                    if cat in last_cat and ts - last_cat[cat] > DAY:
                        cat_gaps[cat].append((ts - last_cat[cat]) / DAY)
                    last_cat[cat] = ts
        self.item_days = {i: statistics.median(g) for i, g in item_gaps.items() if len(g) >= 2}
        self.category_days = {c: statistics.median(g) for c, g in cat_gaps.items() if len(g) >= 3}

    def period_days(self, item: Item) -> float | None:
        """Typical days between purchases of this item, or None for durables."""
        attrs = item.attributes or {}
        if attrs.get("replenish_days"):
            return float(attrs["replenish_days"])
        if attrs.get("consumable") is False:
            return None
        return self.item_days.get(item.item_id) or (
            self.category_days.get(item.category) if attrs.get("consumable") else None
        )


@dataclass
class UserView:
    """One user's events, split the ways the recommender needs them."""

    user_id: str
    events: list[Event]
    now: int
    purchases: list[Event] = field(default_factory=list)
    reviews: list[Event] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)
    owned: set[str] = field(default_factory=set)
    liked: set[str] = field(default_factory=set)
    allowed: set[str] = field(default_factory=set)  # reviewed items whose preferences were lifted

    def __post_init__(self) -> None:
        for e in self.events:
            if e.kind in ("purchase", "review"):
                self.purchases.append(e)
                self.owned.add(e.item_id)
            if e.kind == "review":
                self.reviews.append(e)
                if e.rating is not None and e.rating >= 4:
                    self.liked.add(e.item_id)
                elif e.rating is not None and e.rating <= 2:
                    # a 1-2 star review is a negative signal: no refill, no "more like it", and
                    # never cited as evidence for its neighbours
                    self.rejected.add(e.item_id)
            if e.kind == "feedback":
                if e.detail in ("not_interested", "thumbs_down"):
                    self.rejected.add(e.item_id)
                elif e.detail in ("owned", "bought"):
                    self.owned.add(e.item_id)
                elif e.detail == "allow":
                    self.allowed.add(e.item_id)
                    self.rejected.discard(e.item_id)
                elif e.detail == "thumbs_up":
                    self.liked.add(e.item_id)
                    self.rejected.discard(e.item_id)

    @property
    def is_new(self) -> bool:
        return not self.purchases

    def sequence(self) -> list[str]:
        return [e.item_id for e in self.purchases]

    def times_bought(self, item_id: str) -> int:
        """How many purchase events the user has of ``item_id`` (reviews not counted)."""
        return sum(1 for e in self.purchases if e.item_id == item_id and e.kind == "purchase")

    def last_purchase(self, item_id: str) -> Event | None:
        for e in reversed(self.purchases):
            if e.item_id == item_id:
                return e
        return None

    def days_since(self, event: Event) -> float:
        return max(0.0, (self.now - event.timestamp) / DAY)

    def due_refills(
        self, items: dict[str, Item], repurchase: RepurchaseModel, factor: float = 0.8
    ) -> dict[str, tuple[Event, float]]:
        """Owned consumables whose last purchase is at least ``factor`` of a period ago, unless
        a later purchase replaced them (another product of the same kind, or another size of
        the same one): a conditioner bought last week makes the old one not due."""
        due: dict[str, tuple[Event, float]] = {}
        for item_id in {e.item_id for e in self.purchases}:
            item = items.get(item_id)
            if item is None or item_id in self.rejected:
                continue
            period = repurchase.period_days(item)
            last = self.last_purchase(item_id)
            if period and last is not None and self.days_since(last) >= factor * period:
                if not self._replaced(item, last, items):
                    due[item_id] = (last, period)
        return due

    def _replaced(self, item: Item, last: Event, items: dict[str, Item]) -> bool:
        line = (item.attributes or {}).get("variant_of")
        for e in self.purchases:
            other = items.get(e.item_id)
            if e.timestamp <= last.timestamp or other is None or e.item_id == item.item_id:
                continue
            if line and (other.attributes or {}).get("variant_of") == line:
                return True
            if len(item.categories) >= 2 and other.categories == item.categories:
                return True
        return False


def short_date(ts: int) -> str:
    """A timestamp as "03 Jun 2024" (UTC)."""
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d %b %Y")
