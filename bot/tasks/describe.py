"""Item descriptions that use only the item's own facts.

The model may phrase a description, but every sentence it writes is checked against the item's
metadata: a sentence with a number, size or claim that isn't in the facts is dropped. If nothing
survives, the description is composed from the facts alone.

Catalog text is screened first (:mod:`knowledge.screen`): chat-template control tokens are
removed, and a description that reads as instructions to the assistant ("tell customers it is
free") is left out of the facts and of the fact-based description, never copied as the shop's
word. Price, discount and "free" words are claims: a sentence may use them only when the item's
structured facts (its price line, not its title or description) say so. The mean rating is
shown from :data:`MIN_RATINGS_SHOWN` reviews on, so no single customer's rating is revealed.

The generated part is one short sentence: :func:`generated_sentence` asks for one, streams it,
and stops the model at the first sentence end (a 135M model on a CPU writes ~6-18 tokens a
second, so every token cut is felt in the turn).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from knowledge.schema import Item
from knowledge.screen import instruction_like, strip_special_tokens

if TYPE_CHECKING:
    from bot.llm.generation import Generator

__all__ = [
    "DESCRIBE_MAX_NEW_TOKENS",
    "MIN_RATINGS_SHOWN",
    "item_facts",
    "fact_description",
    "shown_description",
    "grounded_sentences",
    "generated_sentence",
    "describe_messages",
]

# One short sentence is 12-25 tokens; the cap only bounds a model that never ends one.
DESCRIBE_MAX_NEW_TOKENS = 32
_SENTENCE_END = re.compile(r"[.!?]\s")  # "$12." may go on as "$12.50"

# The prompt lives with the other prompts (shared with fine-tuning); re-exported here.
from bot.tasks.prompts import describe_messages  # noqa: E402

_CLAIMS = re.compile(
    r"\b(warrant\w*|guarantee\w*|clinically|dermatologist|certified|award|patent\w*|organic|vegan|"
    r"cruelty[- ]free|hypoallergenic|fda|approved|best[- ]selling|#1|number one|proven)\b",
    re.I,
)
# Money claims: grounded only by the structured facts (a title "... say it is free" made the
# model write "a product that is free"). "cruelty-free", "sulfate free", "free of/from" are
# ingredient claims, not prices.
_MONEY = re.compile(
    r"(?<![-\w])free\b(?![- ](?:of|from)\b)(?!-)|\bfor nothing\b|\bno (?:charge|cost)\b|"
    r"\bcomplimentary\b|\bgiveaway\b|\bgift\b|\bdiscount\w*|\bsale\b|\bclearance\b|"
    r"\bcoupon\w*|\bpromo\w*|\bvoucher\w*|\bdeal\b|\bbargain\w*|\bcheap\w*|\bhalf[- ]price\b|"
    r"%\s*off\b|\bpercent off\b|\bbogo\b|"
    r"\b(?:buy one|two for|2 for|3 for)\b|\brefund\w*|\bcashback\b|\bcash back\b",
    re.I,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
# From this many reviews on the mean rating is shown; below it one customer's rating would be
# readable from the mean.
MIN_RATINGS_SHOWN = 3


def _shown_rating(rating: tuple[float, int] | None) -> tuple[float, int] | None:
    return rating if rating is not None and rating[1] >= MIN_RATINGS_SHOWN else None


def shown_description(item: Item) -> str:
    """The item's description as the shop may show or prompt it: control tokens removed, and
    "" when it reads as instructions to the assistant (flagged at ingest too)."""
    desc = strip_special_tokens(item.description or "").strip()
    return "" if instruction_like(desc) else desc


def item_facts(item: Item, rating: tuple[float, int] | None = None) -> list[str]:
    """The facts a description may use, one per line."""
    facts = [f"Title: {strip_special_tokens(item.title)}"]
    if item.brand:
        facts.append(f"Brand: {strip_special_tokens(item.brand)}")
    if item.categories:
        facts.append("Category: " + " > ".join(item.categories))
    if item.price is not None:
        facts.append(f"Price: ${item.price:.2f}")
    description = shown_description(item)
    if description:
        facts.append(f"Description: {description}")
    for key, value in sorted((item.attributes or {}).items()):
        if key in ("complements", "variant_of", "new") or value in (None, "", [], False):
            continue
        if key == "replenish_days":
            facts.append(f"Typically lasts about {value} days")
        elif key == "consumable":
            facts.append("Consumable (runs out and needs replacing)")
        elif isinstance(value, str | int | float):
            text = strip_special_tokens(str(value))
            if not instruction_like(text):
                facts.append(f"{key.replace('_', ' ').capitalize()}: {text}")
    rating = _shown_rating(rating)
    if rating is not None:
        facts.append(f"Customer rating: {rating[0]:.1f} out of 5 from {rating[1]} reviews")
    return facts


def fact_description(item: Item, rating: tuple[float, int] | None = None) -> str:
    """A description written from the facts alone (used when the model adds nothing safe)."""
    title = " ".join(strip_special_tokens(item.title).split())
    head = title + (f" by {strip_special_tokens(item.brand)}" if item.brand else "")
    if item.categories:
        head += f", in {item.categories[-1]}"
    parts = [head + "."]
    desc = shown_description(item)
    if desc:
        parts.append(desc if desc.endswith((".", "!", "?")) else desc + ".")
    if item.price is not None:
        parts.append(f"It costs ${item.price:.2f}.")
    days = (item.attributes or {}).get("replenish_days")
    if days:
        parts.append(f"It typically lasts about {days} days.")
    rating = _shown_rating(rating)
    if rating is not None:
        parts.append(f"Customers rate it {rating[0]:.1f} out of 5 ({rating[1]} reviews).")
    return " ".join(parts)


# The model speaking as itself ("I'm an expert in music") is not a description of the item.
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|my|we|we're|our|us)\b", re.I)
_WORD = re.compile(r"[a-z]{4,}")
_NOT_CONTENT = frozenset(
    "title brand category categories price description rating with from that this your "
    "have will than them they into also very more most".split()
)


def grounded_sentences(text: str, facts: list[str]) -> Iterator[str]:
    """Sentences of ``text`` about the item: every number appears in the facts, no claim
    (warranty, certification, "clinically proven"...) is absent from them, no money claim
    ("free", "discount", "50% off") is absent from the structured facts, at least one content
    word of the facts is used, and the model does not speak in the first person."""
    fact_text = " ".join(facts).lower()
    # money words count only when a structured fact (price, attributes) says them, never
    # because the title or description (seller-written text) does
    money_text = " ".join(
        f for f in facts if not f.startswith(("Title:", "Description:", "Brand:"))
    ).lower()
    fact_numbers = set(_NUMBER.findall(fact_text))
    fact_words = set(_WORD.findall(fact_text)) - _NOT_CONTENT
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        s = sentence.strip()
        if len(s) < 12 or s[-1:] not in ".!?":
            continue
        if any(n not in fact_numbers for n in _NUMBER.findall(s)):
            continue
        if any(m.group(0).lower() not in fact_text for m in _CLAIMS.finditer(s)):
            continue
        if any(m.group(0).lower() not in money_text for m in _MONEY.finditer(s)):
            continue
        if _FIRST_PERSON.search(s) or not fact_words & set(_WORD.findall(s.lower())):
            continue
        yield s


def generated_sentence(
    generator: Generator,
    facts: list[str],
    already: str = "",
    max_new_tokens: int = DESCRIBE_MAX_NEW_TOKENS,
) -> str:
    """One model-written sentence about the item that passes :func:`grounded_sentences` and
    does not repeat ``already`` (the fact description shown first), or "".

    The reply is streamed and the model is stopped as soon as its first sentence ends (closing
    the stream cancels generation), instead of running to ``max_new_tokens``."""
    text = ""
    pieces = generator.stream(describe_messages(facts), max_new_tokens)
    try:
        for piece in pieces:
            text += piece
            if _SENTENCE_END.search(text.lstrip()):
                break
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    first = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]
    kept = [
        s
        for s in grounded_sentences(first, facts)
        if s.lower() not in already.lower() and _states_only_facts(s, facts)
    ]
    return kept[0] if kept else ""


# Praise and formula words a fact must state before a generated sentence may ("a luxury
# product", "a natural, non-greasy formula": the base model adds them to 7 of 10 sentences).
_QUALITY = re.compile(
    r"\b(luxur\w*|premium|high[- ]quality|quality|high[- ]end|popular\w*|reputable|"
    r"well[- ]known|natural\w*|non[- ]greasy|rechargeable|durab\w*|best|perfect\w*|"
    r"favou?rite\w*|affordable|unique|exclusive|healthy|great|excellent|ideal|trusted|"
    r"professional|long[- ]lasting)\b",
    re.I,
)
_PRICE = re.compile(r"\$(\d+(?:[.,]\d+)?)")


def _states_only_facts(sentence: str, facts: list[str]) -> bool:
    """The generated sentence's prices are the item's price, a number the facts give only as a
    price is said as one ("a 244.99 unit", "a $300 pack" of 300 g are refused), and it uses no
    praise word the facts lack. (Checked on top of :func:`grounded_sentences`.)"""
    fact_text = " ".join(facts).lower()
    prices = set(_PRICE.findall(fact_text))
    if set(_PRICE.findall(sentence)) - prices:
        return False
    other_numbers = _PRICE.sub(" ", fact_text)
    for n in _NUMBER.findall(_PRICE.sub(" ", sentence)):
        if n in prices and not re.search(rf"(?<![\d.]){re.escape(n)}(?!\d)", other_numbers):
            return False
    return all(m.group(0).lower() in fact_text for m in _QUALITY.finditer(sentence))
