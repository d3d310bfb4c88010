"""Answers to one question about an item ("what's it made of?", "does it contain gluten?",
"how long does it keep drinks hot?"), picked from the item's own facts.

The facts are the item's (screened) description, sentence by sentence, its attributes and its
price. A question names a subject (material, contents, duration, size, colour, scent, price,
fit) and often a probe word ("gluten", "valve", "rechargeable"); the answer is the fact lines
that carry them. Nothing is inferred: a probe no fact carries is answered "the listing doesn't
say", never "no".
"""

from __future__ import annotations

import re

from bot.tasks.describe import shown_description
from knowledge.schema import Item
from knowledge.screen import instruction_like, strip_special_tokens

__all__ = [
    "Fact",
    "fact_lines",
    "question_subject",
    "is_item_question",
    "answer",
    "price_line",
    "name_stems",
    "singular",
]

Fact = tuple[str, str]  # (attribute key or "", the sentence a customer reads)

# what a question asks about, and the attribute keys / sentence shapes that answer it
_SUBJECTS: dict[str, tuple[re.Pattern[str], frozenset[str], re.Pattern[str] | None]] = {
    "price": (
        re.compile(r"\bhow much\b(?! (?:does|do|is|are) (?:it|they|the \w+) (?:weigh|hold))"
                   r"|\bprices?\b|\bcost\b|\bexpensive\b", re.I),
        frozenset({"price"}),
        None,
    ),
    "material": (
        re.compile(r"\bmade (?:of|from|with|out of)\b|\bmaterials?\b|\bfabric\b", re.I),
        frozenset({"material", "materials", "fabric"}),
        re.compile(r"\bmade (?:of|from|with)\b|\bmaterial\b", re.I),
    ),
    "contents": (
        re.compile(r"\bcontains?\b|\bingredients?\b|\ballergens?\b|\bgluten\b|\bnuts?\b|\bpeanuts?\b"
                   r"|\bdairy\b|\blactose\b|\bsoy\b|\beggs?\b|\bwhat(?:'s| is) in\b|\brecipe\b", re.I),
        frozenset({"allergens", "ingredients", "contains", "recipe", "flavour", "grain free"}),
        re.compile(r"^(?:contains|ingredients|allergens)\b|\bcontains?\b", re.I),
    ),
    "duration": (
        re.compile(r"\bhow long (?:does|do|will|would|can|did|until|before)\b|\bhow long\b.*\b(?:last|keep)"
                   r"|\bhow many (?:hours|days|weeks|months)\b", re.I),
        frozenset({"lasts"}),
        re.compile(r"\b\d+(?:\.\d+)?\s*(?:hours?|hrs?|days?|weeks?|months?|years?|minutes?|mins?)\b",
                   re.I),
    ),
    "size": (
        re.compile(r"\bsizes?\b|\bhow (?:big|large|tall|wide|heavy|long (?:is|are))\b|\bdimensions?\b|\bcapacity\b"
                   r"|\bvolume\b|\bweigh(?:t|s)?\b", re.I),
        frozenset({"size", "capacity", "volume", "dimensions", "weight"}),
        None,
    ),
    "colour": (
        re.compile(r"\bcolou?rs?\b|\bshades?\b", re.I),
        frozenset({"colour", "color", "shade"}),
        None,
    ),
    "scent": (
        re.compile(r"\bscents?\b|\bsmells?\b|\bfragrance\b|\bscented\b", re.I),
        frozenset({"scent", "fragrance"}),
        None,
    ),
    "fit": (
        re.compile(r"\bfits?\b|\bcompatible\b|\bworks? with\b", re.I),
        frozenset(),
        re.compile(r"\bfits?\b|\bfor\b|\bcompatible\b|\bworks? with\b", re.I),
    ),
}  # fmt: skip
_YES_NO = re.compile(
    r"^\s*(?:(?:and|so|but|ok|okay)[,\s]+)?(?:does|do|is|are|can|will|has|have|would|any)\b"
    r"|\b(?:is|are) there\b",
    re.I,
)
# a request for the whole description, not one fact ("tell me about the travel size balm")
_TELL = re.compile(
    r"\b(?:tell me (?:more )?about|describe|details (?:on|of|about)|info(?:rmation)? (?:on|about)"
    r"|more about)\b",
    re.I,
)
_OPINION = re.compile(
    r"\b(?:any good|good|worth|quality|popular|rating|reviews?|recommend\w*|like it|better|best)\b",
    re.I,
)
_WH = re.compile(
    r"^\s*(?:(?:and|so|but|ok|okay)[,\s]+)?(?:the \w+ one\W+)?(?:what|which|how)\b", re.I
)
# words of a question that are neither the item nor what is asked about it
_FILLER = frozenset(
    "a an the i me my you your it its it's they them their these those this that one ones first "
    "second third fourth fifth last what what's whats which how is are does do did can could "
    "will would has have had of in on for to with from and or please tell about made much long "
    "many big contain contains include includes keep keeps come comes any there be really "
    "actually exactly kind type sort item product thing things use using used get "
    # opinions are the reviews' and the rating's, not a fact to look up
    "good any worth nice quality popular rating reviews like better best great".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_TITLE_SIZE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:cm|mm|m|ml|l|kg|g|oz|in|inch(?:es)?|pack|pairs?|sheets|count|pcs)\b",
    re.I,
)


def singular(word: str) -> str:
    """A word without its plural ending ("pouches" -> "pouch", "salts" -> "salt")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _stems(text: str) -> set[str]:
    return {singular(w) for w in _WORD.findall(text.lower())} | {
        singular(p) for w in _WORD.findall(text.lower()) if "-" in w for p in w.split("-")
    }


def name_stems(text: str) -> set[str]:
    """The words of a message that may name an item: not question words, plurals folded."""
    return {singular(w) for w in _WORD.findall(text.lower()) if w not in _FILLER and len(w) > 2} | {
        singular(p)
        for w in _WORD.findall(text.lower())
        if "-" in w
        for p in w.split("-")
        if p not in _FILLER and len(p) > 2
    }


def price_line(item: Item) -> str:
    return f"${item.price:.2f}" if item.price is not None else "price not listed"


def fact_lines(item: Item) -> list[Fact]:
    """The item's facts as sentences: description sentences (``Key: value.`` ones keyed),
    attribute lines the description lacks, the price."""
    out: list[Fact] = []
    seen: set[str] = set()
    desc = shown_description(item)
    for sentence in re.split(r"(?<=[.!?])\s+", desc):
        sentence = sentence.strip()
        if not sentence:
            continue
        m = re.match(r"([A-Za-z][A-Za-z _-]{1,30}):\s", sentence)
        out.append(((m.group(1).strip().lower() if m else ""), sentence))
        seen.add(sentence.lower())
    said = " ".join(seen)
    for key, value in sorted((item.attributes or {}).items()):
        if key in ("complements", "variant_of", "new", "type", "consumable") or value in (
            None,
            "",
            [],
            False,
        ):
            continue
        name = key.replace("_", " ")
        if key == "replenish_days":
            line, name = f"Lasts about {value} days with regular use.", "lasts"
        elif value is True:
            line = f"{name.capitalize()}: yes."
        elif isinstance(value, list):
            words = [
                strip_special_tokens(str(v)) for v in value if isinstance(v, str | int | float)
            ]
            if not words:
                continue
            line = f"{name.capitalize()}: {', '.join(words)}."
        elif isinstance(value, str | int | float):
            text = strip_special_tokens(str(value))
            if instruction_like(text):
                continue
            line = f"{name.capitalize()}: {text}."
        else:
            continue
        if line.lower() in said:
            continue
        if key == "allergens" and re.search(r"\bcontains:", said):
            continue
        out.append((name, line))
    if not any(key in ("size", "dimensions", "capacity", "volume") for key, _l in out):
        # "Foam Roller - Smooth 45 cm", "Coffee Capsules, 50 Pack": the size is in the name
        m = _TITLE_SIZE.search(item.title)
        if m:
            out.append(("size", f"Size: {m.group(0)}."))
    if item.price is not None:
        out.append(("price", f"It costs {price_line(item)}."))
    return out


def question_subject(message: str) -> str | None:
    """What a question asks about an item: price, material, contents, duration, size, colour,
    scent, fit; None for none of them."""
    for name, (rx, _keys, _shape) in _SUBJECTS.items():
        if rx.search(message):
            return name
    return None


def is_item_question(message: str) -> bool:
    """Whether a message asks one thing about an item (not "tell me about it")."""
    return question_subject(message) is not None or bool(_YES_NO.search(message))


def _probes(message: str, item: Item) -> dict[str, str]:
    """The words a question asks about that are not the item's own name ("gluten", "valve"),
    stem -> the word as said."""
    own = _stems(" ".join((item.title, item.brand, *item.categories)))
    return {
        singular(w): w
        for w in _WORD.findall(message.lower())
        if w not in _FILLER and len(w) > 2 and singular(w) not in own and not w.isdigit()
    }


def answer(item: Item, message: str) -> str | None:
    """The answer to ``message`` from ``item``'s facts, or None when it asks nothing specific
    (then the whole description answers: "tell me about it", "is it any good?")."""
    if _TELL.search(message):
        return None
    subject = question_subject(message)
    if subject is None and _OPINION.search(message):
        return None
    yes_no = bool(_YES_NO.search(message))
    probes = _probes(message, item)
    facts = fact_lines(item)
    if subject is None and not yes_no:
        # "what valve do they have?": a question whose word some fact carries
        carried = {p for p in probes for _k, line in facts if p in _stems(line)}
        if not (_WH.search(message) and carried):
            return None
    title = " ".join(strip_special_tokens(item.title).split())
    if subject == "price":
        return f"{title} costs {price_line(item)}."
    keys, shape = (_SUBJECTS[subject][1], _SUBJECTS[subject][2]) if subject else (frozenset(), None)
    scored = []
    for key, line in facts:
        if key == "price":
            continue
        words = _stems(line)
        score = 2 * len(probes.keys() & words) + (3 if key in keys else 0)
        if shape is not None and shape.search(line):
            score += 2
        if score:
            scored.append((score, line))
    best = max((s for s, _l in scored), default=0)
    lines = [line for s, line in scored if s == best][:3]
    missing = [w for p, w in probes.items() if not any(p in _stems(line) for line in lines)]
    if yes_no and probes and not missing:
        return f"Yes \u2014 the listing of {title} says: " + " ".join(lines)
    if yes_no and missing:
        head = f"The listing of {title} doesn't say anything about {' '.join(missing)}"
        if subject == "contents":
            listed = [line for key, line in facts if key in ("contains", "allergens")]
            head += (
                "; it lists: " + " ".join(listed)
                if listed
                else "; it lists no allergens or ingredients, so please check the pack if it matters"
            )
        said = lines or [line for key, line in facts if not key][:2]
        return head + "." + (" What it does say: " + " ".join(said) if said else "")
    if yes_no:
        # all that is asked is in the item's own name: "does the peanut butter pouch contain
        # peanuts?", "does the Veloce helmet come in white?" (the White L one)
        asked = name_stems(message)
        support = [line for line in lines if asked & _stems(line)]
        if support:
            return f"Yes \u2014 the listing of {title} says: " + " ".join(support)
        if subject is None:
            return f"Yes \u2014 {title} ({price_line(item)})."
    if not lines:
        return f"The listing of {title} doesn't say anything about its {subject or 'that'}."
    return f"{title}: " + " ".join(lines)
