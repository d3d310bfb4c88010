"""What a message says the customer does not want: ingredients, scents, sizes, kinds of item.

"without peanuts", "he's allergic to chicken", "remember no peanuts", "nothing with lavender",
"I'm not into heat pads", "I got a kettle so I don't need one", "not a machine", "my son
outgrew size 4". Everything returned is grounded in the catalog: a term occurs (its words in
order, either number) in some item's facts, a kind of item is some item's head noun. Negations
of nothing we sell ("no thanks", "not sure", "without a doubt", "I have no idea") give nothing.

The words are read by rules on purpose: an allergen must be honoured exactly, so it is read and
enforced by code (``Constraints.avoid`` -> ``ItemFilter.avoid_words``), never left to a model.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

from bot.recsys.catalog import CatalogIndex
from bot.recsys.request import RequestMatcher, stem
from knowledge.records import item_tokens

__all__ = ["Avoids", "stated_avoids"]


@dataclass(frozen=True)
class Avoids:
    """What one message rules out.

    ``terms``: phrases no item's facts may carry ("peanut", "size 4"); ``things``: kinds of item
    not wanted ("heat pad", "kettle"), as :meth:`RequestMatcher.is_thing` reads a phrase;
    ``wanted_size``: the catalog size a child moves on to ("size 5" after "outgrew size 4")."""

    terms: tuple[str, ...] = ()
    things: tuple[str, ...] = ()
    wanted_size: str = ""

    def __bool__(self) -> bool:
        return bool(self.terms or self.things or self.wanted_size)


# what follows an allergy cue is an ingredient, never a kind of item to leave out
_ALLERGY = (
    r"(?:allergic|allergy|allergies|intolerant|intolerance|sensitive|sensitivity|"
    r"reacts?|reacted|reacting) to"
    r"|(?:can'?t|cannot|can not|mustn'?t|must not|shouldn'?t|should not) "
    r"(?:have|eat|drink|tolerate|handle|touch)"
    r"|(?:doesn'?t|does not|don'?t|do not|won'?t|will not) (?:eat|drink|tolerate)"
)
# what follows these is left out: a kind of item if it names one, else a term
_WITHOUT = (
    r"without|w/o|free (?:of|from)|hold the|minus"
    # "something for my dog that isn't food", "anything apart from treats"
    r"|(?:that|which) (?:isn'?t|is not|aren'?t|are not)|other than|apart from|except(?: for)?"
    r"|nothing (?:with|containing|that has|that contains|made (?:with|of|from))"
    r"|(?:don'?t|do not|doesn'?t|does not) want (?:anything|something|any|one|it) "
    r"(?:with|containing|that has|made (?:with|of|from))"
    r"|no"
)
_DISLIKE = (
    r"not (?:really |very )?(?:into|keen on|big on|interested in|looking for)"
    r"|not (?:a |the )?(?:big |huge )?fans? of"
    r"|no more|no longer (?:need|want|use)|no need for|have no use for"
    r"|sick of|tired of|fed up with|bored (?:of|with)|done with"
    r"|hates?|hated|can'?t stand|cannot stand|dislikes?|disliked|avoid|avoiding"
    r"|stay away from|steer clear of"
    r"|(?:don'?t|do not|doesn'?t|does not|didn'?t|did not) (?:really )?(?:like|want|need|use)"
    r"|(?:won'?t|will not|wouldn'?t) (?:need|want|use)"
)
# "not a machine", "not the red ones": a kind, or a value some item's attribute has
_NOT = r"not"
_CUE = re.compile(
    rf"\b(?:(?P<allergy>{_ALLERGY})|(?P<dislike>{_DISLIKE})|(?P<without>{_WITHOUT})"
    rf"|(?P<not>{_NOT}))\s+",
    re.I,
)
# "a peanut allergy", "lactose intolerance": the ingredient comes first
_ALLERGY_AFTER = re.compile(
    r"\b((?:[a-z][a-z'-]*\s+){1,2}?)(?:allergy|allergies|intolerance)\b", re.I
)
# the cue is itself negated: "isn't allergic to", "not allergic", "no food allergies"
_NEGATED = re.compile(r"(?:\bnot|n't|\bnever|\bno)\s+(?:\w+\s+)?$", re.I)

# a child grew out of a size: that size and smaller ones are out, the next one up is wanted
_GROW = re.compile(
    r"\b(?:outgrew|outgrown|outgrowing|grew out of|grown out of|growing out of|too (?:big|large|"
    r"tall) for|too big now for)\s+(?:the\s+|her\s+|his\s+|their\s+|my\s+|our\s+)?size\s+(\d+)\b"
    r"|\bsize\s+(\d+)\s+(?:is|are|was|were|'s|s)\s+(?:getting\s+)?(?:too|a bit|way)\s+(?:small|"
    r"tight)\b|\bsize\s+(\d+)\s+(?:no longer fits?|doesn'?t fit (?:any ?more|now)|"
    r"don'?t fit (?:any ?more|now))",
    re.I,
)
_SHRINK = re.compile(
    r"\bsize\s+(\d+)\s+(?:is|are|was|were|'s|s)\s+(?:a bit|way|much|far)?\s*too\s+(?:big|large|"
    r"loose)\b",
    re.I,
)
_CATALOG_SIZE = re.compile(r"\bsize\s+(\d+)(?![\d.-])", re.I)

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_CLAUSE_END = re.compile(r"[.,;:!?()\n]| - ")
_DETERMINERS = frozenset(
    "a an the any some those these this that my his her their our your its another other "
    "all of more much many such".split()
)
# a piece ends at these: what comes next is a new thought ("no chicken for my dog")
_END = frozenset(
    "please pls plz but so because since as what which who whom whose where when why how if "
    "i i'm i'd i've i'll im we we're he he's she she's they they're it it's you you're me us "
    "him them is are was were be been am do does did can could would should will shall may "
    "might must for in to at on from by with into about than then now today anymore again "
    "either though although thanks thank just right yet instead anything something everything "
    "nothing else anywhere here there ok okay too very really ever btw fyi lol haha tho "
    "actually honestly basically obviously".split()
)
_CONNECTORS = frozenset(("and", "or", "nor"))
# negations of things we don't sell: "no thanks", "no idea", "not sure", "without a doubt"
_NOT_A_THING = frozenset(
    "thanks thank idea ideas clue doubt doubts problem problems worries worry rush hurry way "
    "matter longer later sooner sure bad big much lot reason reasons need luck kidding joke "
    "pressure preference preferences budget limit limits chance offence offense difference "
    "question questions issue issues complaints complaint allergies allergy allergic plans "
    "plan one ones worse better fan fans kidding wonder biggie deal way cheap expensive "
    "pricey fancy food skin severe mild serious seasonal known multiple several".split()
)
# trailing words that name the kind of property, not the property ("peanut stuff")
_GENERIC = frozenset(
    "stuff thing things product products one ones kind kinds type types sort sorts flavour "
    "flavours flavor flavors scent scents smell smells taste tastes version versions option "
    "options item items ingredient ingredients variety varieties bits size sizes colour colours "
    "color colors brand brands price".split()
)
# "I don't need one / another / a new one": the kind named before
_PRONOUNS = frozenset("one ones it them any another those these that more".split())
_PRONOUN_LEAD = frozenset("a an new another second extra spare other more".split())


@dataclass
class _Grounds:
    """The catalog facts a stated avoid is checked against (built once per catalog)."""

    size: int
    tokens: list[list[str]]
    heads: dict[str, str]  # head-noun stem -> a display word ("pad" -> "pad")
    head_words: dict[str, set[str]]  # head stem -> every title word of items of that kind
    words: set[str]  # every word of every item's facts, list attribute values included
    values: set[str]  # attribute values ("dark roast", "lavender", "red", "peanut")
    sizes: list[int]  # ordinal catalog sizes ("Size 3" -> 3), sorted


_CACHE: weakref.WeakKeyDictionary[CatalogIndex, _Grounds] = weakref.WeakKeyDictionary()


def _grounds(vocab: CatalogIndex, matcher: RequestMatcher | None) -> _Grounds:
    cached = _CACHE.get(vocab)
    if cached is not None and cached.size == len(vocab.items):
        return cached
    matcher = matcher or RequestMatcher(vocab.items)
    tokens: list[list[str]] = []
    heads: dict[str, str] = {}
    head_words: dict[str, set[str]] = {}
    values: set[str] = set()
    sizes: set[int] = set()
    for item in vocab.items.values():
        tokens.append(item_tokens(item))
        head = matcher.head(item)
        if head:
            name = re.split(r",| - | for | with | by | in ", item.title.lower())[0]
            last = re.findall(r"[a-z]+", name)[-1]
            heads.setdefault(head, last)
            head_words.setdefault(head, set()).update(_WORD.findall(item.title.lower()))
        for value in (item.attributes or {}).values():
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str) and v.strip():
                    values.add(" ".join(_WORD.findall(v.lower())))
        for text in (item.title, str((item.attributes or {}).get("size") or "")):
            sizes.update(int(n) for n in _CATALOG_SIZE.findall(text))
    words = set(vocab.attribute_words).union(*tokens)
    grounds = _Grounds(len(vocab.items), tokens, heads, head_words, words, values, sorted(sizes))
    _CACHE[vocab] = grounds
    return grounds


def _forms(word: str) -> list[str]:
    """A word as said, then its singular forms ("peanuts" -> "peanut", "berries" -> "berry")."""
    out = [word, stem(word)]
    if word.endswith("es"):
        out.append(word[:-2])
    if word.endswith("s"):
        out.append(word[:-1])
    return list(dict.fromkeys(w for w in out if w))


def _same(token: str, word: str) -> bool:
    return token == word or token in _forms(word) or word in _forms(token)


def _said_by_catalog(words: list[str], g: _Grounds, vocab: CatalogIndex) -> str:
    """The catalog's own spelling of the phrase ``words`` when some item's facts carry it (its
    words in order, either number), else ""."""
    if len(words) == 1:
        return next((f for f in _forms(words[0]) if f in g.words), "")
    n = len(words)
    for tokens in g.tokens:
        for i in range(len(tokens) - n + 1):
            if all(_same(tokens[i + j], w) for j, w in enumerate(words)):
                return " ".join(tokens[i : i + n])
    return ""


def _pieces(rest: str) -> list[list[str]]:
    """The phrases after a cue, up to the end of its clause: "peanuts or eggs please" ->
    [["peanuts"], ["eggs"]]."""
    clause = _CLAUSE_END.split(rest, maxsplit=1)[0]
    pieces: list[list[str]] = [[]]
    for word in _WORD.findall(clause.lower()):
        if word in _CONNECTORS:
            if not pieces[-1] or len(pieces) >= 4:
                break
            pieces.append([])
            continue
        if not pieces[-1] and word in _DETERMINERS:
            continue
        if word in _END or len(pieces[-1]) >= 4:
            break
        pieces[-1].append(word)
    return [p for p in pieces if p]


def _head(word: str, g: _Grounds) -> str:
    """The head-noun stem ``word`` names ("machines" -> "machine"), or ""."""
    if len(word) < 3 or word in _DETERMINERS or word in _END or word in _NOT_A_THING:
        return ""
    return next((stem(f) for f in _forms(word) if stem(f) in g.heads), "")


def _thing(words: list[str], g: _Grounds) -> str:
    """The kind of item a phrase names ("heat pads" -> "heat pad"), or ""."""
    head = _head(words[-1], g)
    if not head:
        return ""
    mods = [w for w in words[:-1] if w in g.head_words[head]]
    return " ".join([*mods, g.heads[head]])


def _term(words: list[str], g: _Grounds, vocab: CatalogIndex, values_only: bool) -> str:
    """The longest tail of the phrase that some item's facts carry ("roasted peanuts" ->
    "peanut"); with ``values_only``, only an attribute value counts ("not the red ones")."""
    while words and words[-1] in _GENERIC:
        words = words[:-1]
    for start in range(len(words)):
        tail = words[start:]
        if tail[0] in _NOT_A_THING or tail[0] in vocab.brand_map or len("".join(tail)) < 3:
            continue
        if all(w.isdigit() for w in tail):
            continue
        said = _said_by_catalog(tail, g, vocab)
        if said and (not values_only or said in g.values):
            return said
    return ""


def _last_kind(text: str, g: _Grounds) -> str:
    """The kind of item a message named last before ``one``/``it`` ("I got a kettle")."""
    words = _WORD.findall(text.lower())
    for i in range(len(words) - 1, -1, -1):
        if _head(words[i], g):
            return _thing(words[max(0, i - 1) : i + 1], g)
    return ""


def _sizes(low: str, g: _Grounds) -> tuple[list[str], str]:
    """Sizes ruled out and the size wanted, from "outgrew size 4" / "size 5 is too big"."""
    if not g.sizes:
        return [], ""
    for m in _GROW.finditer(low):
        n = int(next(x for x in m.groups() if x))
        out = [f"size {s}" for s in g.sizes if s <= n]
        bigger = [s for s in g.sizes if s > n]
        return out, f"size {bigger[0]}" if bigger else ""
    for m in _SHRINK.finditer(low):
        n = int(m.group(1))
        out = [f"size {s}" for s in g.sizes if s >= n]
        smaller = [s for s in g.sizes if s < n]
        return out, f"size {smaller[-1]}" if smaller else ""
    return [], ""


def stated_avoids(
    message: str, vocab: CatalogIndex, matcher: RequestMatcher | None = None
) -> Avoids:
    """The terms and kinds of item a message rules out, grounded in the catalog.

    >>> stated_avoids("baby food pouches without peanuts please", vocab).terms
    ('peanut',)
    """
    g = _grounds(vocab, matcher)
    low = message.replace("\u2019", "'").lower()
    terms: list[str] = []
    things: list[str] = []
    sizes, wanted = _sizes(low, g)
    terms += sizes
    for m in _CUE.finditer(low):
        if _NEGATED.search(low[: m.start()]) and not m.group("dislike"):
            continue  # "isn't allergic to", "not without"
        rest = low[m.end() :]
        family = m.lastgroup or ""
        if family == "dislike" and re.search(r"need|want", m.group(0)):
            first = [w for w in _WORD.findall(_CLAUSE_END.split(rest, 1)[0])[:3]]
            while first and first[0] in _PRONOUN_LEAD and len(first) > 1:
                first = first[1:]
            if first and first[0] in _PRONOUNS:
                if kind := _last_kind(low[: m.start()], g):
                    things.append(kind)  # "I got a kettle so I don't need one"
                continue
        pieces = _pieces(rest)
        for words in pieces:
            thing = "" if family == "allergy" else _thing(words, g)
            term = "" if thing else _term(words, g, vocab, values_only=family == "not")
            if not (thing or term):
                break  # "no peanuts and show me ...": the list ended
            (things if thing else terms).append(thing or term)
    for m in _ALLERGY_AFTER.finditer(low):
        if _NEGATED.search(low[: m.start()]):
            continue
        words = [w for w in _WORD.findall(m.group(1)) if w not in _DETERMINERS]
        if words and (term := _term(words, g, vocab, values_only=False)):
            terms.append(term)
    return Avoids(tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(things)), wanted)
