"""Lasting preferences read from a customer's own reviews: allergies, brands and variants to avoid.

A 1-2 star review already keeps its item out of the lists (:class:`~bot.recsys.history.UserView`
treats it as rejected). This module reads what the review *says*: "lavender gave me a rash",
"never buying Pelle again", "way too dark" on a dark roast. Each preference names the review it
came from, and every avoided term is checkable: it occurs in the review's text or in the
reviewed item's facts, and some catalog item carries it (a term nothing carries filters
nothing). A brand is avoided only when a 1-2 star review names it (or "this brand") with a
verdict on the maker ("never buying Veloce again", "Sudsy is rubbish") and no variant of the
item; a review that names a variant or ingredient ("the lemon is awful", "a peanut allergy")
avoids that, not the brand. The customer can lift a preference ("you can suggest Pelle again"), which is stored
as an ``allow`` feedback event on the reviewed item.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bot.recsys.history import UserView, short_date
from knowledge.records import item_words
from knowledge.schema import Item

__all__ = ["Preference", "review_preferences", "preference_constraints"]

_TERM = r"([a-z][a-z -]{1,30}?)"
_END = r"(?=[.,;!?)]|$|\s+(?:and|but|so|which|that|it|in)\b)"
_ALLERGY = [
    re.compile(r"\ballergic to (?:the |any )?" + _TERM + _END, re.I),
    re.compile(r"\bsensitive to (?:the |any )?" + _TERM + _END, re.I),
    re.compile(r"\b(?:react|reacted|reacts) (?:badly )?to (?:the )?" + _TERM + _END, re.I),
    re.compile(
        r"\b(?:the )?([a-z][a-z-]{2,20}(?: [a-z][a-z-]{2,20})?) (?:gave|gives|caused|causes) me "
        r"(?:a |an )?(?:rash|hives|breakouts?|itch(?:ing)?|reaction|headaches?|redness)",
        re.I,
    ),
    re.compile(r"\bcontains " + _TERM + r",? which i can'?t", re.I),
    re.compile(
        r"\b(?:allergy|allergies|intolerance|intolerant) to (?:the |any )?" + _TERM + _END, re.I
    ),
    re.compile(
        r"\b(?!(?:severe|bad|mild|food|skin|serious|nasty|terrible|an?|the|no|any)\b)"
        r"([a-z][a-z-]{2,20}) (?:allergy|allergies|intolerance)\b",
        re.I,
    ),
]
_DISLIKE = [
    re.compile(
        r"\b(?:hate|hated|dislike|disliked|can'?t stand|don'?t like|didn'?t like) (?:the )?"
        + _TERM
        + r"(?: scent| smell| flavou?r| taste| one| version)?"
        + _END,
        re.I,
    ),
    re.compile(
        r"\b(?:way |far |much )?too (dark|strong|bitter|sweet|light|weak|oily|greasy|sticky)\b",
        re.I,
    ),
]
# a verdict on the whole maker, not on one purchase: "never buying X again", "no more X",
# "won't buy this brand", "X is rubbish"
_REPEAT = re.compile(
    r"\b(?:never|not|won'?t|will not|wouldn'?t|shan'?t|don'?t|do not)\s+(?:\w+\s+){0,2}?"
    r"(?:buy|buying|bought|order|ordering|get|getting|use|using|touch|trust|try|trying|"
    r"recommend|go(?:ing)? back to)\b[^.!?]*?\b(?:again|ever|anymore|any more)\b"
    r"|\bnever\b[^.!?]{0,40}?\bagain\b"
    r"|\b(?:won'?t|will not|wouldn'?t|never|not)\s+(?:be\s+)?(?:buy|buying|order|ordering)\s+"
    r"(?:from\s+|anything\s+(?:from|by)\s+)?(?:this|that|the)\s+(?:brand|company|maker|make)\b"
    r"|\b(?:no more|done with|stay(?:ing)? away from|steer clear of|avoid|boycott)\b",
    re.I,
)
_BAD = re.compile(
    r"\b(?:rubbish|junk|garbage|trash|terrible|awful|useless|crap|crappy|worst|shoddy|horrible|"
    r"dreadful|flimsy|cheaply made|poor quality|low quality|broke|broken|fell apart|falls apart|"
    r"defective|waste of money|a joke|disgusting|nasty)\b",
    re.I,
)
_GENERIC = frozenset(
    "it this that them the product item one these those stuff thing things smell scent taste "
    "flavour flavor price size quality packaging delivery".split()
)
_THIS_BRAND = re.compile(r"\b(?:this|that|the) (?:brand|company|maker|make)\b", re.I)
_GOOD = re.compile(
    r"\b(?:love|loved|like|liked|great|good|nice|lovely|fine|ok|okay|perfect)\b", re.I
)
# attributes that describe what the item *is* made of or tastes/smells like; a low review that
# names one ("the lemon scent is awful") avoids that value, not the brand
_VARIANT_KEYS = frozenset(
    "flavour flavor scent fragrance roast size material recipe allergens ingredients line "
    "variant strength blend".split()
)
_NOT_VARIANT = frozenset("type complements consumable replenish_days".split())


@dataclass(frozen=True)
class Preference:
    """One lasting preference and where it came from."""

    kind: str  # "avoid_term" (an ingredient, scent, roast...) or "avoid_brand"
    value: str
    review_id: str  # the event id of the customer's own review
    item_id: str  # the item that review is about
    quote: str  # the words of the review it was read from
    date: str  # when the review was written

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, items: Mapping[str, Item]) -> str:
        title = items[self.item_id].title if self.item_id in items else self.item_id
        what = f"nothing from {self.value}" if self.kind == "avoid_brand" else f"no {self.value}"
        return f"{what} (your review of {title}, {self.date}: \u201c{self.quote}\u201d)"


def _clean(term: str) -> str:
    words = [w for w in term.lower().split() if w not in ("the", "a", "an", "any", "all", "my")]
    return " ".join(words).strip(" -")


def review_preferences(
    view: UserView, items: Mapping[str, Item], catalog_words: set[str], brands: Mapping[str, str]
) -> list[Preference]:
    """The preferences the customer's own reviews state, newest review first.

    ``catalog_words``: every word of the catalog's item facts; ``brands``: lower-case brand ->
    catalog spelling."""
    out: list[Preference] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, value: str, e: Any, quote: str) -> None:
        if (kind, value.lower()) in seen or e.item_id in view.allowed:
            return
        seen.add((kind, value.lower()))
        out.append(
            Preference(
                kind, value, e.event_id, e.item_id, quote.strip()[:120], short_date(e.timestamp)
            )
        )

    for e in reversed(view.reviews):
        text = e.text or ""
        if not text:
            continue
        item = items.get(e.item_id)
        facts = item_words(item) if item else set()
        negative = e.rating is None or e.rating <= 3
        for rx in _ALLERGY:
            for m in rx.finditer(text):
                term = _clean(m.group(1))
                if term and term not in _GENERIC and _known(term, catalog_words):
                    add("avoid_term", term, e, m.group(0))
        if negative:
            for rx in _DISLIKE:
                for m in rx.finditer(text):
                    term = _clean(m.group(1))
                    if not term or term in _GENERIC:
                        continue
                    if rx is _DISLIKE[1]:
                        # "too dark" is about this item's variant: avoid its line when the line
                        # names it ("Dark Roast")
                        line = str((item.attributes or {}).get("line") or "") if item else ""
                        if term in line.lower():
                            add("avoid_term", line.lower(), e, m.group(0))
                    elif _known(term, catalog_words) and (term in text.lower() or _in(term, facts)):
                        add("avoid_term", term, e, m.group(0))
            if e.rating is not None and e.rating <= 2 and item is not None:
                for kind, value, quote in _low_review(text, item, brands, catalog_words):
                    add(kind, value, e, quote)
    return out


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\s+but\s+", text) if s.strip()]


def _names(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words (a plural counts)."""
    return bool(re.search(r"\b" + re.escape(phrase.lower()) + r"(?:s|es)?\b", text.lower()))


def _variant_values(item: Item) -> list[str]:
    """The values of the item's describing attributes ("lemon", "dark roast", "peanut")."""
    out: list[str] = []
    for key, value in (item.attributes or {}).items():
        if key in _NOT_VARIANT or (
            key not in _VARIANT_KEYS and not key.endswith(("scent", "flavour"))
        ):
            continue
        values = value if isinstance(value, list) else [value]
        out += [v.strip().lower() for v in values if isinstance(v, str) and len(v.strip()) >= 3]
    return out


def _brands_named(sentence: str, brands: Mapping[str, str]) -> set[str]:
    """The catalog brands (lower case) a sentence names, as whole words."""
    words = re.findall(r"[\w&'-]+", sentence.lower())
    grams = {" ".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
    return {g for g in grams if g in brands}


def _low_review(
    text: str, item: Item, brands: Mapping[str, str], catalog_words: set[str]
) -> list[tuple[str, str, str]]:
    """What a 1-2 star review blames: ``(kind, value, quote)``.

    The brand, when a sentence names it (or "this brand") together with a verdict on the maker
    ("never buying Veloce again", "Scriba is rubbish") and no variant of the item; a variant
    value or ingredient of the item (its scent, roast, flavour, size, allergen) when a sentence
    without praise names it. One bad experience with a variant bans the variant, not the brand.
    """
    out: list[tuple[str, str, str]] = []
    values = _variant_values(item)
    own = item.brand.strip()
    for sentence in _sentences(text):
        named = [v for v in values if _names(sentence, v)]
        # "not good" is no praise
        if not _GOOD.search(re.sub(r"\b(?:not|never|no|\w+n't)\s+(?:\w+\s+)?\w+", " ", sentence)):
            out += [("avoid_term", v, sentence) for v in named if _known(v, catalog_words)]
        verdict = _REPEAT.search(sentence) or _BAD.search(sentence)
        if not verdict or named:
            continue
        for low in _brands_named(sentence, brands) | (
            {own.lower()} if own and _THIS_BRAND.search(sentence) else set()
        ):
            # the reviewed item's maker, or another catalog brand a repeat-verdict names
            if low in brands and (low == own.lower() or _REPEAT.search(sentence)):
                out.append(("avoid_brand", brands[low], sentence))
    return out


def _in(term: str, words: set[str]) -> bool:
    return all(w in words or w.rstrip("s") in words for w in term.split())


def _known(term: str, catalog_words: set[str]) -> bool:
    """Some catalog item carries the term (else avoiding it filters nothing)."""
    return _in(term, catalog_words)


def preference_constraints(prefs: list[Preference]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(terms to avoid, brands to exclude) for the item filter."""
    terms = tuple(dict.fromkeys(p.value for p in prefs if p.kind == "avoid_term"))
    brands = tuple(dict.fromkeys(p.value for p in prefs if p.kind == "avoid_brand"))
    return terms, brands
