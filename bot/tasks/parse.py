"""The model's *message -> request* task: a compact reading of one message, checked by code.

The adapter answers in one line, ``intent; key=value; flag`` (``recommend; need=hair mask;
max=20; notbrand=Pelle``). :func:`format_reading` writes that line (fine-tuning targets use it,
so what is trained is what is decoded), :func:`decode` reads it back, and :func:`ground` keeps
only what the message and the catalog support:

- the intent must be one of :data:`~bot.tasks.prompts.PARSE_INTENTS` (never a store-writing one:
  feedback, forget and undo need the rules' explicit wording);
- need words must occur in the message or in the catalog's vocabulary;
- a price must be written in the message;
- a brand must be written in the message; a wanted one the catalog lacks is reported as not
  carried;
- an avoided word must occur in the message.

Whatever does not ground is dropped and listed in :attr:`Reading.dropped` (with why), so the
reply never rests on a slot the customer did not state.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from bot.errors import GenerationError
from bot.tasks.prompts import PARSE_INTENTS, parse_messages

__all__ = ["Reading", "ModelReader", "format_reading", "decode", "ground", "INTENT_NAMES"]

log = logging.getLogger(__name__)

# the model's short labels -> the assistant's intents
INTENT_NAMES = {label: label for label in PARSE_INTENTS} | {"order": "order_question"}
_FLAGS = ("cheaper", "pricier", "more", "otherbrand")
_KEYS = ("need", "max", "min", "brand", "notbrand", "avoid")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"[a-z0-9][a-z0-9'&-]*")


@dataclass(frozen=True)
class Reading:
    """One message as the model read it (after :func:`ground`: only what the message states)."""

    intent: str = "unclear"
    need: str = ""
    max_price: float | None = None
    min_price: float | None = None
    brands: tuple[str, ...] = ()
    exclude_brands: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    cheaper: bool = False
    pricier: bool = False
    more: bool = False
    another_brand: bool = False
    not_carried: tuple[str, ...] = ()
    dropped: tuple[str, ...] = field(default=(), compare=False)
    raw: str = field(default="", compare=False)
    # the model's probability of the intent's label among all labels (the first token of each),
    # None where the backend cannot score or the labels' first tokens are not distinct
    confidence: float | None = field(default=None, compare=False)


def format_reading(
    intent: str,
    need: str = "",
    max_price: float | None = None,
    min_price: float | None = None,
    brands: tuple[str, ...] = (),
    exclude_brands: tuple[str, ...] = (),
    avoid: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
) -> str:
    """The one-line answer for these fields (the label spelling: ``order`` for order questions)."""
    label = next((k for k, v in INTENT_NAMES.items() if v == intent and k != v), intent)
    if label not in PARSE_INTENTS:
        raise ValueError(f"no parse label for intent {intent!r}")
    parts = [label]
    if need:
        parts.append(f"need={' '.join(need.split())}")
    for key, price in (("max", max_price), ("min", min_price)):
        if price is not None:
            parts.append(f"{key}={price:g}")
    parts += [f"brand={b}" for b in brands] + [f"notbrand={b}" for b in exclude_brands]
    parts += [f"avoid={a}" for a in avoid]
    parts += [f for f in _FLAGS if f in flags]
    return "; ".join(parts)


def decode(text: str) -> tuple[str, dict[str, list[str]], set[str]]:
    """``(label, {key: [values]}, flags)`` of one answer line; unknown parts are ignored."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    parts = [p.strip() for p in line.split(";")]
    label = parts[0].lower() if parts else ""
    values: dict[str, list[str]] = {}
    flags: set[str] = set()
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if eq and key in _KEYS and value.strip():
            values.setdefault(key, []).append(value.strip())
        elif not eq and key in _FLAGS:
            flags.add(key)
    return label, values, flags


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def ground(text: str, message: str, vocab: Any) -> Reading:
    """The answer ``text`` with every slot checked against ``message`` and the catalog index
    ``vocab`` (a :class:`bot.recsys.catalog.CatalogIndex`)."""
    label, values, flags = decode(text)
    dropped: list[str] = []
    low = message.lower()
    said = {_stem(w) for w in _WORD.findall(low)}
    intent = INTENT_NAMES.get(label, "")
    if not intent:
        dropped.append(f"intent={label or '(empty)'} (not an intent)")
        intent = "unclear"
    need_words = []
    for word in _WORD.findall(" ".join(values.get("need", [])).lower()):
        if _stem(word) in said or vocab.knows(word):
            need_words.append(word)
        else:
            dropped.append(f"need word {word!r} (neither in the message nor the catalog)")
    numbers = {float(n.replace(",", ".")) for n in _NUMBER.findall(message)}
    prices: dict[str, float | None] = {"max": None, "min": None}
    for key in prices:
        for value in values.get(key, [])[:1]:
            try:
                price = float(value.lstrip("$").replace(",", "."))
            except ValueError:
                dropped.append(f"{key}={value} (not a number)")
                continue
            if price in numbers and price > 0:
                prices[key] = price
            else:
                dropped.append(f"{key}={value} (not written in the message)")
    brands: dict[str, list[str]] = {"brand": [], "notbrand": []}
    not_carried: list[str] = []
    for key in brands:
        for name in values.get(key, []):
            written = re.search(r"\b" + re.escape(name.lower()) + r"\b", low) is not None
            if name.lower() in vocab.brands and written:
                brands[key].append(vocab.brand_spelling(name))
            elif written and key == "brand":
                not_carried.append(name)
            elif written:  # excluding a brand the shop lacks excludes nothing, but was said
                brands[key].append(name)
            else:
                dropped.append(f"{key}={name} (not written in the message)")
    avoid = []
    for value in values.get("avoid", []):
        if all(_stem(w) in said for w in _WORD.findall(value.lower())) and value.strip():
            avoid.append(value.lower())
        else:
            dropped.append(f"avoid={value} (not written in the message)")
    if dropped:
        log.info("model reading %r of %r: dropped %s", text, message[:80], "; ".join(dropped))
    return Reading(
        intent=intent,
        need=" ".join(dict.fromkeys(need_words)),
        max_price=prices["max"],
        min_price=prices["min"],
        brands=tuple(dict.fromkeys(brands["brand"])),
        exclude_brands=tuple(dict.fromkeys(brands["notbrand"])),
        avoid=tuple(dict.fromkeys(avoid)),
        cheaper="cheaper" in flags,
        pricier="pricier" in flags,
        more="more" in flags,
        another_brand="otherbrand" in flags,
        not_carried=tuple(not_carried),
        dropped=tuple(dropped),
        raw=text,
    )


class ModelReader:
    """Reads messages with a generator (greedy, one short line)."""

    def __init__(self, generator: Any, max_new_tokens: int = 24) -> None:
        self.generator = generator
        self.max_new_tokens = max_new_tokens
        self._firsts: list[str] | None = None

    def read(self, message: str, list_shown: bool, vocab: Any) -> Reading:
        messages = parse_messages(message, list_shown)
        text = self.generator.generate(messages, self.max_new_tokens, stop=["\n"])
        reading = ground(text, message, vocab)
        if reading.intent == "unclear":
            return reading
        return replace(reading, confidence=self._confidence(messages, reading.intent))

    def _first_tokens(self) -> list[str]:
        """The first token of each label, or [] where two labels share one (a tokenizer
        other than the default model's)."""
        if self._firsts is None:
            tokenizer = getattr(self.generator, "tokenizer", None)
            firsts: list[str] = []
            if tokenizer is not None:
                for label in PARSE_INTENTS:
                    ids = tokenizer.encode(label, add_special_tokens=False)
                    firsts.append(str(tokenizer.decode(ids[:1])))
            self._firsts = firsts if len(set(firsts)) == len(PARSE_INTENTS) else []
        return self._firsts

    def _confidence(self, messages: list[dict[str, str]], intent: str) -> float | None:
        """P(the label of ``intent``) against the other labels, from one scoring pass over the
        prompt just generated from (on llama.cpp its key/values are still held, so the pass
        costs one token; on transformers it is one more forward pass over the short prompt)."""
        firsts = self._first_tokens()
        if not firsts:
            return None
        try:
            prompt = self.generator.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            scores = self.generator.score_choices(str(prompt), firsts)
        except (GenerationError, NotImplementedError) as exc:
            log.info("no intent confidence from %s: %s", self.generator.name, exc)
            return None
        top = max(scores)
        total = sum(math.exp(x - top) for x in scores)
        by_intent = {INTENT_NAMES[label]: math.exp(x - top) / total
                     for label, x in zip(PARSE_INTENTS, scores, strict=True)}  # fmt: skip
        return by_intent.get(intent)
