"""Lasting preferences read from a customer's own reviews: allergies, brands and variants to avoid.

A 1-2 star review already keeps its item out of the lists (:class:`~bot.recsys.history.UserView`
treats it as rejected). This module reads what the review *says*: "lavender gave me a rash",
"never buying Pelle again", "way too dark" on a dark roast. Each preference names the review it
came from, and every avoided term is checkable: it occurs in the review's text or in the
reviewed item's facts, and some catalog item carries it (a term nothing carries filters
nothing). The customer can lift a preference ("you can suggest Pelle again"), which is stored
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
_BRAND = re.compile(
    r"\b(?:never|won'?t|will not|not going to|wouldn'?t) (?:buy|buying|order|ordering|trust|use|"
    r"touch|get)(?: anything from| from)? ([A-Z][\w&'-]+(?: [A-Z0-9][\w&'-]+)?)(?: again| ever)\b"
    r"|\b(?:no more|done with|stay away from|avoid) ([A-Z][\w&'-]+(?: [A-Z0-9][\w&'-]+)?)\b",
)
_NEVER_AGAIN = re.compile(
    r"\b(?:never again|would not buy again|wouldn'?t buy again|won'?t buy again|not buying again)\b",
    re.I,
)
_GENERIC = frozenset(
    "it this that them the product item one these those stuff thing things smell scent taste "
    "flavour flavor price size quality packaging delivery".split()
)


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
            for m in _BRAND.finditer(text):
                name = (m.group(1) or m.group(2) or "").strip()
                for cand in (name, name.split()[0] if name else ""):
                    if cand.lower() in brands:
                        add("avoid_brand", brands[cand.lower()], e, m.group(0))
                        break
            if e.rating is not None and e.rating <= 2 and item and item.brand:
                if _NEVER_AGAIN.search(text) and item.brand.lower() in text.lower():
                    add("avoid_brand", item.brand, e, _NEVER_AGAIN.search(text).group(0))  # type: ignore[union-attr]
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
