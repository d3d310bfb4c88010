"""How items and events become Chroma records and back, and the exact item filter.

Chroma metadata holds only scalars, so an item's category path is joined with ``" | "`` and
its attributes are stored as JSON text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from knowledge.schema import Event, Item

__all__ = [
    "ItemFilter",
    "item_words",
    "item_tokens",
    "item_metadata",
    "item_from_record",
    "event_metadata",
    "event_from_record",
]

_SEP = " | "


@dataclass(frozen=True)
class ItemFilter:
    """Hard constraints on items; checked in code, never left to the model."""

    categories: tuple[str, ...] = ()  # item must carry at least one of these labels
    min_price: float | None = None
    max_price: float | None = None
    exclude_brands: tuple[str, ...] = ()
    exclude_ids: frozenset[str] = field(default_factory=frozenset)
    brands: tuple[str, ...] = ()  # item must be of one of these brands
    require_words: tuple[str, ...] = ()  # every word must occur in the item's facts
    avoid_words: tuple[str, ...] = ()  # no phrase may occur (its words in order) in the facts

    def accepts(self, item: Item) -> bool:
        if item.item_id in self.exclude_ids:
            return False
        if self.brands and item.brand.lower() not in {b.lower() for b in self.brands}:
            return False
        if self.require_words or self.avoid_words:
            words = item_words(item)
            if not all(_has(words, w) for w in self.require_words):
                return False
            if self.avoid_words:
                tokens = item_tokens(item)
                if any(_says(tokens, w) for w in self.avoid_words):
                    return False
        if self.categories:
            labels = {c.lower() for c in item.categories}
            if not any(c.lower() in labels for c in self.categories):
                return False
        if self.min_price is not None and (item.price is None or item.price < self.min_price):
            return False
        if self.max_price is not None and (item.price is None or item.price > self.max_price):
            return False
        if self.exclude_brands and item.brand.lower() in {b.lower() for b in self.exclude_brands}:
            return False
        return True

    def chroma_where(self) -> dict[str, Any] | None:
        """The part of the filter Chroma can apply itself (the price range), or None."""
        conds: list[dict[str, Any]] = []
        if self.min_price is not None:
            conds.append({"price": {"$gte": float(self.min_price)}})
        if self.max_price is not None:
            conds.append({"price": {"$lte": float(self.max_price)}})
        if not conds:
            return None
        return conds[0] if len(conds) == 1 else {"$and": conds}


def item_words(item: Item) -> set[str]:
    """The lower-case words of an item's facts: title, brand, categories, description and
    attribute values."""
    parts = [item.title, item.brand, " ".join(item.categories), item.description or ""]
    for value in (item.attributes or {}).values():
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str) and " " in v)
    return set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", " ".join(parts).lower()))


def item_tokens(item: Item) -> list[str]:
    """The lower-case words of an item's facts in order, list attribute values included
    ("allergens": ["peanut"]): what an avoided phrase is looked for in."""
    parts = [item.title, item.brand, " ".join(item.categories), item.description or ""]
    for value in (item.attributes or {}).values():
        values = value if isinstance(value, list) else [value]
        parts.extend(v for v in values if isinstance(v, str))
    return re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", " | ".join(parts).lower())


def _same(token: str, word: str) -> bool:
    """One word, either number ("peanut"/"peanuts", "berry"/"berries")."""
    if token == word:
        return True
    short, long_ = sorted((token, word), key=len)
    return long_ in (short + "s", short + "es") or (
        short.endswith("y") and long_ == short[:-1] + "ies"
    )


def _says(tokens: list[str], term: str) -> bool:
    """Whether the words of ``term`` occur together, in order, in ``tokens`` (a plural counts;
    "grain free" is also "grain-free"); "a|b" is either. "size 4" is not said by "Size 5, 4
    pack"."""
    if ":" in term:
        term = term.split(":", 1)[1]
    if "|" in term:
        return any(_says(tokens, alt) for alt in term.split("|") if alt)
    words = re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", term.lower())
    if not words:
        return False
    joined = "-".join(words)
    n = len(words)
    return any(
        all(_same(tokens[i + j], w) for j, w in enumerate(words))
        for i in range(len(tokens) - n + 1)
    ) or (n > 1 and any(_same(t, joined) for t in tokens))


def _has(words: set[str], term: str) -> bool:
    """Whether a (possibly multi-word) term occurs in ``words`` (plural forms count); "a|b"
    is either."""
    if ":" in term:  # "red:ruby|berry": the customer's word, then what the items carry
        term = term.split(":", 1)[1]
    if "|" in term:
        return any(_has(words, alt) for alt in term.split("|") if alt)
    parts = term.lower().split()
    return all(p in words or p.rstrip("s") in words or p + "s" in words for p in parts)


def item_metadata(item: Item) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "title": item.title,
        "brand": item.brand,
        "category": item.category,
        "top_category": item.categories[0] if item.categories else "",
        "categories": _SEP.join(item.categories),
        "description": item.description,
        "attributes": json.dumps(item.attributes, sort_keys=True, ensure_ascii=False),
    }
    if item.price is not None:
        meta["price"] = float(item.price)
    return meta


def item_from_record(item_id: str, meta: dict[str, Any]) -> Item:
    cats = tuple(c for c in str(meta.get("categories", "")).split(_SEP) if c)
    return Item(
        item_id=item_id,
        title=str(meta.get("title", "")),
        brand=str(meta.get("brand", "")),
        categories=cats,
        price=float(meta["price"]) if "price" in meta and meta["price"] is not None else None,
        description=str(meta.get("description", "")),
        attributes=json.loads(meta.get("attributes") or "{}"),
    )


def event_metadata(event: Event) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "user_id": event.user_id,
        "item_id": event.item_id,
        "kind": event.kind,
        "timestamp": int(event.timestamp),
        "order": int(event.order),
        "detail": event.detail,
        "source": event.source,
    }
    if event.rating is not None:
        meta["rating"] = float(event.rating)
    return meta


def event_from_record(meta: dict[str, Any], document: str | None) -> Event:
    return Event(
        user_id=str(meta["user_id"]),
        item_id=str(meta["item_id"]),
        kind=str(meta["kind"]),
        timestamp=int(meta["timestamp"]),
        order=int(meta.get("order", 0)),
        rating=float(meta["rating"]) if meta.get("rating") is not None else None,
        text=document or "",
        detail=str(meta.get("detail", "")),
        source=str(meta.get("source", "")),
    )
