"""Hard constraints parsed from chat messages ("under $20", "not brand X", "for dry hair").

Parsing is rule-based on purpose: a price limit must be honoured exactly, so it is read by code
and enforced by code after the model, never left to the model's judgement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from knowledge.store import ItemFilter

__all__ = ["Constraints", "NOT_BRAND_CUES", "parse_constraints"]

_UNITS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_NUMBER_WORDS = {
    **_UNITS, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "tenner": 10, "fiver": 5, "score": 20,
}  # fmt: skip
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_WORD_NUMBER = (
    rf"(?:a\s+)?(?:(?:{_TENS})(?:[\s-](?:{'|'.join(_UNITS)}))?|ten|eleven|twelve|fifteen|"
    r"(?:a\s+|one\s+)?hundred|tenner|fiver|" + "|".join(_UNITS) + ")"
)
# an amount of money: "$30", "£12.50", "30 bucks", "forty quid", "a tenner", "30ish"; never a
# size or a time ("under 2 kg", "over 3 years")
_AMOUNT = (
    r"(?:[$£€]\s*)?(\d+(?:[.,]\d{1,2})?|" + _WORD_NUMBER + r")\b\s*(?:ish\b)?\s*"
    r"(?:[$£€]|dollars?\b|bucks?\b|quid\b|pounds?\b|euros?\b|usd\b|gbp\b|eur\b)?"
    r"(?!\s*(?:%|kg\b|g\b|ml\b|l\b|cm\b|mm\b|in\b|inch|pack|days?\b|weeks?\b|months?\b|"
    r"years?\b|yrs?\b|hours?\b|minutes?\b|km\b|miles?\b|lbs?\b|oz\b|people\b|cups?\b|w\b))"
)
_CEILING = (
    r"under|below|beneath|less than|cheaper than|at most|at the most|max(?:imum)?|up to|"
    r"no more than|within|sub|budget(?:\s+(?:is|of))?:?|<"
)
_MAX_PRICE = re.compile(rf"\b(?:{_CEILING})\s*{_AMOUNT}", re.I)
# "30 bucks tops", "40 quid or less", "50 max"
_MAX_AFTER = re.compile(
    rf"{_AMOUNT}\s*(?:tops|max(?:imum)?|at (?:the )?most|or (?:less|under|below|cheaper))\b",
    re.I,
)
# a floor: figures, or number words with a currency ("more than one" is no price)
_MIN_PRICE = re.compile(
    rf"\b(?:over|above|more than|at least|min(?:imum)?|>)\s*(?=[$£€\d]|{_WORD_NUMBER}\s*"
    rf"(?:dollars?|bucks?|quid|pounds?|euros?)\b|(?:a\s+)?(?:tenner|fiver)\b){_AMOUNT}",
    re.I,
)
# a floor said with a negation is a ceiling: "nothing over 20", "I don't want to pay more than
# 30", "not above 45"
_NEGATED = re.compile(
    r"\b(?:no|not|nothing|never|don'?t|doesn'?t|won'?t|can'?t|cannot|shouldn'?t)\b[\w\s']{0,24}$",
    re.I,
)
# "around $15", "about 20 bucks", "30ish": a budget with some room (a quarter above the figure)
_AROUND = re.compile(rf"\b(?:around|about|roughly|approximately|~)\s*{_AMOUNT}|\b(\d+)ish\b", re.I)
_RANGE = re.compile(
    rf"\b(?:between|from)\s*{_AMOUNT}\s*(?:and|-|–|to)\s*{_AMOUNT}"
    r"|([$£€]\s*\d+(?:[.,]\d{1,2})?)\s*(?:-|–|to)\s*[$£€]?\s*(\d+(?:[.,]\d{1,2})?)",
    re.I,
)
# the words before a brand that rule it out ("not Pelle", "anything other than Birchmoor");
# the chat parser's own brand exclusion reads the same cues
NOT_BRAND_CUES = r"not|no|avoid|except|without|other than|apart from|anything but"
_NOT_BRAND = re.compile(
    r"\b(?:" + NOT_BRAND_CUES + r"|nothing (?:from|by))\s+(?:the\s+)?(?:brand\s+)?"
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
    """An amount as a number: "12,50" -> 12.5, "$20" -> 20, "forty-five" -> 45, "a tenner" -> 10."""
    text = text.lower().strip().lstrip("$£€").strip()
    if re.fullmatch(r"\d+(?:[.,]\d{1,2})?", text):
        return float(text.replace(",", "."))
    words = [w for w in re.split(r"[\s-]+", text) if w not in ("a", "")]
    if words and words[0] == "one" and words[1:] == ["hundred"]:
        return 100.0
    return float(sum(_NUMBER_WORDS[w] for w in words))


def _prices(message: str) -> tuple[float | None, float | None]:
    """(floor, ceiling) of the price a message states, or None for each it does not."""
    if m := _RANGE.search(message):
        low, high = [g for g in m.groups() if g is not None][:2]
        return _money(low), _money(high)
    maxp = minp = None
    if m := _MAX_PRICE.search(message) or _MAX_AFTER.search(message):
        maxp = _money(m.group(1))
    for m in _MIN_PRICE.finditer(message):
        if _NEGATED.search(message[: m.start()]):
            maxp = _money(m.group(1)) if maxp is None else min(maxp, _money(m.group(1)))
        elif minp is None:
            minp = _money(m.group(1))
    if maxp is None and (m := _AROUND.search(message)):
        maxp = round(_money(m.group(1) or m.group(2)) * 1.25, 2)
    return minp, maxp


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
    minp, maxp = _prices(message)
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
    if found := _FOR.search(message):
        purpose = found.group(1).strip()
    cons = Constraints(
        max_price=maxp,
        min_price=minp,
        categories=tuple(cats),
        exclude_brands=tuple(excluded),
        purpose=purpose,
    )
    return cons, bool(_CHEAPER.search(message))
