"""The customer's likely next need, stated by the language model in a few words.

The model reads the same history lines the ranker sees and answers the prompt the fine-tuning
``next_need`` task trains (:func:`bot.tasks.prompts.next_need_messages`), so an adapter trained on it
is what speaks here. Its words are used two ways: as an extra semantic query for candidates
(items the co-purchase statistics would not reach), and shown to the customer ("Likely next
need: conditioner refill"). Free text from a small model can be anything, so a phrase is kept
only when it is short plain words and the catalog has items close to it; otherwise the caller
falls back to the rule-based phrase.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

from bot.recsys.history import UserView
from bot.tasks.prompts import HistoryLine, next_need_messages
from bot.tasks.ranker import history_lines
from knowledge.errors import ConfigError
from knowledge.schema import Item
from knowledge.store import ItemFilter

__all__ = ["NeedConfig", "PredictedNeed", "NeedPredictor", "clean_phrase"]

log = logging.getLogger(__name__)

_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9'&-]*")
_AGO = re.compile(r"\b\d+\s*d(?:ays?)?\s+ago\b", re.I)
# openers a chatty model puts before the phrase ("The customer will need ...")
_LEAD = re.compile(
    r"^(?:the\s+customer\s+(?:will\s+|would\s+|might\s+)?(?:likely\s+)?(?:need|want|buy)s?|"
    r"they\s+(?:will\s+)?(?:need|want)|likely\s+next\s+need|next\s+need|answer)\s*:?\s*",
    re.I,
)


@dataclass(frozen=True)
class NeedConfig:
    """How the next need is asked for and when it is trusted."""

    max_new_tokens: int = 8
    max_words: int = 5
    min_similarity: float = 0.3  # best catalog match needed to keep the phrase

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 32:
            raise ConfigError("NeedConfig.max_new_tokens must be within 1..32")
        if not 1 <= self.max_words <= 10:
            raise ConfigError("NeedConfig.max_words must be within 1..10")
        if not 0.0 <= self.min_similarity <= 1.0:
            raise ConfigError("NeedConfig.min_similarity must be within 0..1")


@dataclass(frozen=True)
class PredictedNeed:
    """A kept phrase, the catalog item closest to it, and how long it took."""

    phrase: str
    nearest: Item
    similarity: float
    seconds: float


class ItemSearch(Protocol):
    def search_items(
        self, query: str, k: int = ..., where: ItemFilter | None = ...
    ) -> list[tuple[Item, float]]: ...


def clean_phrase(raw: str, max_words: int = 5) -> str:
    """The first line of the model's answer as at most ``max_words`` plain words, or ""."""
    line = raw.strip().splitlines()[0] if raw.strip() else ""
    line = _LEAD.sub("", line.strip().strip("\"'*.- "))
    words = _WORDS.findall(line)
    if not words or len(words) > max_words + 3:  # a sentence, not a phrase
        return ""
    return " ".join(words[:max_words]).lower()


def _echoes_history(raw: str, phrase: str, lines: list[HistoryLine]) -> bool:
    if _AGO.search(raw) or raw.lstrip().startswith(("-", "*")):
        return True
    words = set(phrase.split())
    return any(words <= set(_WORDS.findall(line.title.lower())) for line in lines)


class NeedPredictor:
    """Asks a :class:`bot.llm.generation.Generator` for the next need and grounds it in the catalog."""

    def __init__(
        self, generator: Any, search: ItemSearch, config: NeedConfig | None = None
    ) -> None:
        self.generator = generator
        self.search = search
        self.config = config or NeedConfig()

    def predict(self, view: UserView, items: dict[str, Item]) -> PredictedNeed | None:
        """The grounded phrase for this user's next need, or None (new user, model failure,
        or words the catalog has nothing close to)."""
        lines = history_lines(view, items)
        if not lines:
            return None
        t0 = time.perf_counter()
        try:
            raw = self.generator.generate(
                next_need_messages(lines), self.config.max_new_tokens, stop=["\n"]
            )
        except Exception as exc:  # the need is an extra signal; the list stands without it
            log.warning("next-need generation failed: %s", exc)
            return None
        phrase = clean_phrase(raw, self.config.max_words)
        if not phrase or _echoes_history(raw, phrase, lines):
            # the base model often just continues the history list ("- 1d ago: Filtra ...")
            log.info("next need %r not kept: empty or a copy of the history", raw[:60])
            return None
        hits = self.search.search_items(phrase, k=1)
        seconds = time.perf_counter() - t0
        if not hits or hits[0][1] < self.config.min_similarity:
            log.info("next need %r not kept: no catalog item close to it", phrase)
            return None
        return PredictedNeed(phrase, hits[0][0], float(hits[0][1]), seconds)
