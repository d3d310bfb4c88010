"""Item descriptions that use only the item's own facts.

The model may phrase a description, but every sentence it writes is checked against the item's
metadata: a sentence with a number, size or claim that isn't in the facts is dropped. If nothing
survives, the description is composed from the facts alone.

The generated part is one short sentence: :func:`generated_sentence` asks for one, streams it,
and stops the model at the first sentence end (a 135M model on a CPU writes ~6-18 tokens a
second, so every token cut is felt in the turn).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from knowledge.schema import Item

if TYPE_CHECKING:
    from bot.llm.generation import Generator

__all__ = [
    "DESCRIBE_MAX_NEW_TOKENS",
    "item_facts",
    "fact_description",
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
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def item_facts(item: Item, rating: tuple[float, int] | None = None) -> list[str]:
    """The facts a description may use, one per line."""
    facts = [f"Title: {item.title}"]
    if item.brand:
        facts.append(f"Brand: {item.brand}")
    if item.categories:
        facts.append("Category: " + " > ".join(item.categories))
    if item.price is not None:
        facts.append(f"Price: ${item.price:.2f}")
    if item.description:
        facts.append(f"Description: {item.description}")
    for key, value in sorted((item.attributes or {}).items()):
        if key in ("complements", "variant_of", "new") or value in (None, "", [], False):
            continue
        if key == "replenish_days":
            facts.append(f"Typically lasts about {value} days")
        elif key == "consumable":
            facts.append("Consumable (runs out and needs replacing)")
        elif isinstance(value, str | int | float):
            facts.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    if rating is not None and rating[1] > 0:
        facts.append(f"Customer rating: {rating[0]:.1f} out of 5 from {rating[1]} reviews")
    return facts


def fact_description(item: Item, rating: tuple[float, int] | None = None) -> str:
    """A description written from the facts alone (used when the model adds nothing safe)."""
    head = item.title + (f" by {item.brand}" if item.brand else "")
    if item.categories:
        head += f", in {item.categories[-1]}"
    parts = [head + "."]
    if item.description:
        desc = item.description.strip()
        parts.append(desc if desc.endswith((".", "!", "?")) else desc + ".")
    if item.price is not None:
        parts.append(f"It costs ${item.price:.2f}.")
    days = (item.attributes or {}).get("replenish_days")
    if days:
        parts.append(f"It typically lasts about {days} days.")
    if rating is not None and rating[1] > 0:
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
    (warranty, certification, "clinically proven"...) is absent from them, at least one content
    word of the facts is used, and the model does not speak in the first person."""
    fact_text = " ".join(facts).lower()
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
    kept = [s for s in grounded_sentences(first, facts) if s.lower() not in already.lower()]
    return kept[0] if kept else ""
