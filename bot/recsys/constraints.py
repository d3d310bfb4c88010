"""Hard constraints parsed from chat messages ("under $20", "not brand X", "for dry hair").

Parsing is rule-based on purpose: a price limit must be honoured exactly, so it is read by code
and enforced by code after the model, never left to the model's judgement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from knowledge.store import ItemFilter

__all__ = ["Constraints", "parse_constraints"]

_MONEY = r"\$?\s*(\d+(?:[.,]\d{1,2})?)\s*(?:\$|dollars?|usd|eur|euros?|€)?"
_MAX_PRICE = re.compile(
    r"\b(?:under|below|less than|cheaper than|at most|max(?:imum)?|up to|no more than|<)\s*"
    + _MONEY,
    re.I,
)
_MIN_PRICE = re.compile(r"\b(?:over|above|more than|at least|min(?:imum)?|>)\s*" + _MONEY, re.I)
# "around $15", "about 20 bucks": a budget with some room (a quarter above the figure)
_AROUND = re.compile(
    r"\b(?:around|about|roughly|approximately|~)\s*\$?\s*(\d+(?:[.,]\d{1,2})?)\s*"
    r"(?:\$|dollars?|usd|bucks|eur|euros?|€)?(?!\s*(?:%|kg|g\b|ml|l\b|cm|mm|in\b|inch|pack|days?|"
    r"weeks?|months?|years?|hours?|minutes?|km|miles?))",
    re.I,
)
_RANGE = re.compile(r"\bbetween\s*" + _MONEY + r"\s*(?:and|-|to)\s*" + _MONEY, re.I)
_NOT_BRAND = re.compile(
    r"\b(?:not|no|nothing (?:from|by)|avoid|except|without)\s+(?:the\s+)?(?:brand\s+)?"
    r"([A-Z][\w&'-]*(?:\s+[A-Z][\w&'-]*)?)",
)
_NOT_BRAND_LOWER = re.compile(
    r"\b(?:not|no|avoid)\s+(?:from\s+)?(?:the\s+)?brand\s+([\w&'-]+)", re.I
)
_FOR = re.compile(
    r"\bfor\s+(?:my\s+|a\s+|an\s+|the\s+)?([a-z][a-z -]{2,30}?)(?:[.,!?]|$| under| below| and)",
    re.I,
)
_CHEAPER = re.compile(
    r"\b(?:cheaper|cheapest|less expensive|lower price|more affordable|budget|least expensive)\b",
    re.I,
)


@dataclass(frozen=True)
class Constraints:
    """What the user asked for in this conversation so far."""

    max_price: float | None = None
    min_price: float | None = None
    categories: tuple[str, ...] = ()
    exclude_brands: tuple[str, ...] = ()
    purpose: str = ""  # free text such as "dry hair", used as a semantic query
    cheaper_than: float | None = None  # set by "something cheaper"
    brands: tuple[str, ...] = ()  # only these brands ("do you have it from Pelle?")
    attributes: tuple[str, ...] = ()  # words every item's facts must carry ("red", "vegan")
    avoid: tuple[str, ...] = ()  # words no item's facts may carry (allergens, disliked lines)

    def merge(self, newer: Constraints) -> Constraints:
        """Newer constraints override older ones field by field; brand exclusions accumulate."""
        return Constraints(
            max_price=newer.max_price if newer.max_price is not None else self.max_price,
            min_price=newer.min_price if newer.min_price is not None else self.min_price,
            categories=newer.categories or self.categories,
            exclude_brands=tuple(dict.fromkeys(self.exclude_brands + newer.exclude_brands)),
            purpose=newer.purpose or self.purpose,
            cheaper_than=newer.cheaper_than
            if newer.cheaper_than is not None
            else self.cheaper_than,
            brands=newer.brands or self.brands,
            attributes=newer.attributes or self.attributes,
            avoid=tuple(dict.fromkeys(self.avoid + newer.avoid)),
        )

    def named(self) -> tuple[str, ...]:
        """What the conditions name, as words: departments, brands, wanted attributes ("red",
        not its "red:ruby|berry" alternatives). A list asked for by these alone ("anything from
        Pelle?") searches for them and is introduced by them."""
        return (
            *self.categories,
            *self.brands,
            *(a.split(":", 1)[0] for a in self.attributes),
        )

    def effective_max_price(self) -> float | None:
        limits = [p for p in (self.max_price, self.cheaper_than) if p is not None]
        return min(limits) if limits else None

    def to_filter(self, exclude_ids: frozenset[str] = frozenset()) -> ItemFilter:
        maxp = self.effective_max_price()
        return ItemFilter(
            categories=self.categories,
            min_price=self.min_price,
            max_price=maxp - 0.005
            if self.cheaper_than is not None and maxp == self.cheaper_than
            else maxp,
            exclude_brands=self.exclude_brands,
            exclude_ids=exclude_ids,
            brands=self.brands,
            require_words=self.attributes,
            avoid_words=self.avoid,
        )

    def is_empty(self) -> bool:
        return self == Constraints()

    def with_cheaper_than(self, price: float | None) -> Constraints:
        return replace(self, cheaper_than=price)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if value not in (None, (), ""):
                out[key] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Constraints:
        """Constraints from :meth:`to_dict`'s form; a wrong value raises ValueError naming it."""
        if not isinstance(data, dict):
            raise ValueError("constraints must be an object")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("max_price", "min_price", "cheaper_than"):
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int | float) or value < 0
                ):
                    raise ValueError(f"constraints.{key} must be a number >= 0, got {value!r}")
                kwargs[key] = None if value is None else float(value)
            elif key in ("categories", "exclude_brands", "brands", "attributes", "avoid"):
                if not isinstance(value, list) or not all(
                    isinstance(v, str) and len(v) <= 200 for v in value
                ):
                    raise ValueError(f"constraints.{key} must be a list of strings")
                kwargs[key] = tuple(value[:50])
            elif key == "purpose":
                if not isinstance(value, str) or len(value) > 200:
                    raise ValueError("constraints.purpose must be a string of <= 200 characters")
                kwargs[key] = value
            else:
                raise ValueError(f"constraints has no field {key!r}")
        return cls(**kwargs)


def _money(text: str) -> float:
    return float(text.replace(",", "."))


_DETERMINER = frozenset("a an any another one some cheap cheaper good new".split())
_AFTER = frozenset(
    "under below over above for with between from that which please and or to around less "
    "at in than but not no cheaper costing priced".split()
)


def _asks_for_one(before: str, after: str) -> bool:
    """Whether a category named in the singular is the thing asked for.

    "an amplifier under $5" asks for an amplifier; "I play guitar" states a hobby, "a guitar
    tuner" asks for a tuner and "strings for my guitar" for strings.
    """
    prev = re.findall(r"[a-z']+", before)[-1:]
    if prev and prev[0] not in _DETERMINER:
        return False
    nxt = re.match(r"\s*([a-z']+|[$\d])", after)
    return nxt is None or not nxt.group(1).isalpha() or nxt.group(1) in _AFTER


def parse_constraints(
    message: str,
    brands: set[str] | frozenset[str] = frozenset(),
    categories: dict[str, str] | None = None,
) -> tuple[Constraints, bool]:
    """Constraints stated in one message, and whether it asked for "something cheaper".

    ``brands`` (lower-case catalog brands) keeps "not X" from matching ordinary words;
    ``categories`` maps lower-case category labels (and simple plurals) to catalog labels.
    """
    maxp = minp = None
    if m := _RANGE.search(message):
        minp, maxp = _money(m.group(1)), _money(m.group(2))
    else:
        if m := _MAX_PRICE.search(message):
            maxp = _money(m.group(1))
        if m := _MIN_PRICE.search(message):
            minp = _money(m.group(1))
        if maxp is None and (m := _AROUND.search(message)):
            maxp = round(_money(m.group(1)) * 1.25, 2)
    excluded: list[str] = []
    for rx in (_NOT_BRAND_LOWER, _NOT_BRAND):
        for m in rx.finditer(message):
            name = m.group(1).strip()
            candidates = [name, name.split()[0]]
            for cand in candidates:
                if cand.lower() in brands and cand.lower() not in [b.lower() for b in excluded]:
                    excluded.append(cand)
                    break
    cats: list[str] = []
    lowered = message.lower()
    for label, canonical in (categories or {}).items():
        if canonical in cats:
            continue
        # forms shorter than the label are singulars ("amplifier" for "Amplifiers"): a mention
        # counts only when it is the thing asked for
        singular = len(label) < len(canonical)
        for m in re.finditer(r"\b" + re.escape(label) + r"\b", lowered):
            if not singular or _asks_for_one(lowered[: m.start()], lowered[m.end() :]):
                cats.append(canonical)
                break
    purpose = ""
    if m := _FOR.search(message):
        purpose = m.group(1).strip()
    cons = Constraints(
        max_price=maxp,
        min_price=minp,
        categories=tuple(cats),
        exclude_brands=tuple(excluded),
        purpose=purpose,
    )
    return cons, bool(_CHEAPER.search(message))
