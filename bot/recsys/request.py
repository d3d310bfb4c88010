"""Which catalog items match a request: the request's words in the item's facts, and meaning.

A request-driven list ("cleaning stuff for my espresso machine", "something for my dog") shows
only items that match it. An item matches when its facts (title, brand, departments,
description, attribute values) carry enough of the request's rarer words, or when its text is
close in meaning to the request (MiniLM similarity near the best hit and above a floor). Words
no item has ("stuff", "needs") count for nothing. Things the customer said they already have
("my espresso machine") are context: items that *are* that thing are left out, so the list
turns to what goes with it.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Mapping

from knowledge.records import item_words
from knowledge.schema import Item

__all__ = ["RequestMatcher", "stem", "title_head", "content_stems", "request_stop_words"]

_STOP = frozenset(
    "a an the and or for of to in on with my our your me i we you it is are be some any need "
    "needs want wants looking something anything stuff things thing else what which good nice "
    "new please get buy got have has just also really".split()
)


def stem(word: str) -> str:
    """A crude English stem, enough to match "cleaning" with "clean" and "dogs" with "dog"."""
    w = word.lower()
    for suffix in ("ings", "ing", "ers", "ies", "es", "er", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            if suffix == "es" and not (w[-3] in "sxz" or w[-4:-2] in ("ch", "sh")):
                # "tyres", "tubes", "shoes": the plural of "tyre", "tube", "shoe" ("boxes",
                # "dishes" lose "es")
                return w[:-1]
            return w[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return w


class RequestMatcher:
    """Word statistics of one catalog snapshot, for matching requests to items."""

    def __init__(self, items: Mapping[str, Item]) -> None:
        self.items = items
        self.words: dict[str, set[str]] = {}
        # the words of each item's name, brand and departments (stems)
        self.name_words: dict[str, set[str]] = {
            item_id: {
                stem(w)
                for w in re.findall(
                    r"[a-z0-9]+", " ".join([it.title, it.brand, *it.categories]).lower()
                )
            }
            for item_id, it in items.items()
        }
        df: Counter[str] = Counter()
        for item_id, item in items.items():
            words = item_words(item)
            # "grain-free" is a word of its own and its parts
            stems = {stem(w) for w in words} | {
                stem(p) for w in words if "-" in w for p in w.split("-") if p
            }
            self.words[item_id] = stems
            df.update(stems)
        n = max(1, len(items))
        self.idf = {w: math.log(1 + n / c) for w, c in df.items()}

    def terms(self, request: str) -> list[str]:
        """The request's words that some item has, as stems, in order."""
        out = []
        words = re.findall(r"[a-z][a-z'-]+", request.lower())
        for a, b in zip(words, words[1:], strict=False):
            joined = stem(a + "-" + b)  # "grain free" -> the catalog's "grain-free"
            if joined in self.idf and joined not in out:
                out.append(joined)
        for w in words:
            if w in _STOP or len(w) < 3:
                continue
            s = stem(w)
            if s in self.idf and s not in out:
                out.append(s)
        return out

    def lexical(self, request: str) -> dict[str, float]:
        """Item id -> the idf-weighted share of the request's known words its facts carry."""
        terms = self.terms(request)
        total = sum(self.idf[t] for t in terms)
        if not total:
            return {}
        out = {}
        for item_id, words in self.words.items():
            got = sum(self.idf[t] for t in terms if t in words)
            if got:
                out[item_id] = got / total
        return out

    def head(self, item: Item) -> str:
        """The stem of the item's head noun: the last word of its name ("Flowfit 6 mm Yoga
        Mat" -> "mat", "Mat Cleaning Spray" -> "spray")."""
        return title_head(item.title)

    def named_kinds(self, request: str, exclude: tuple[str, ...] = ()) -> set[str]:
        """The request's words that name a kind of item (some item's head noun): "a yoga mat"
        asks for mats, not mat spray. Kinds the customer said they have are left out."""
        heads = {self.head(i) for i in self.items.values()}
        owned = {stem(t.split()[-1]) for t in exclude if t.split()}
        # "ink cartridges for a fountain pen", "a case to go with my guitar": the kind before
        # the purpose is the one asked for; the one after is what it is for
        head_part = re.split(r"\b(?:for|to go with|to fit|that fits?|compatible with)\b", request)[
            0
        ]
        for part in (head_part, request):
            kinds = {t for t in self.terms(part) if t in heads and t not in owned}
            if kinds:
                return kinds
        return set()

    def is_thing(self, item: Item, phrase: str) -> bool:
        """Whether ``item`` is an instance of ``phrase`` ("espresso machine"): the phrase's last
        word is the head noun of the item's name (its last word before any comma or dash) and
        every other word is in the title. Dog treats are not a dog."""
        stems = content_stems(phrase)
        name = re.split(r",| - | for | with | by | in ", item.title.lower())[0]
        words = [stem(w) for w in re.findall(r"[a-z]+", name)]
        if not stems or not words:
            return False
        return title_head(item.title) == stems[-1] and all(s in words for s in stems)


_PACKAGING = frozenset({"set", "sets", "pack", "packs", "kit", "kits", "refill", "refills", "bundle",
                        "pair", "pairs", "count", "multipack"})  # fmt: skip


@functools.lru_cache(maxsize=1 << 16)
def title_head(title: str) -> str:
    """:meth:`RequestMatcher.head` of a title, cached: every request turn asks it for whole
    catalogs (the kinds named, the kinds a review preference touches)."""
    name = re.split(r",| - | for | with | by | in ", title.lower())[0]
    # a size or a code is not the kind ("Notebook A5"), nor is the pack it comes in ("Bike
    # Light Set", "Dish Soap Refill")
    words = [w for w in re.findall(r"[a-z0-9]+", name) if w.isalpha()]
    while len(words) > 1 and words[-1] in _PACKAGING:
        words.pop()
    return stem(words[-1]) if words else ""


def content_stems(text: str) -> list[str]:
    """The stems of ``text``'s words in order, filler ("something", "my", "for") left out."""
    return [stem(w) for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP]


def request_stop_words() -> frozenset[str]:
    """Words of a request that never count as matched (filler: "needs", "stuff", "something")."""
    return _STOP
