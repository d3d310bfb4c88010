"""A simulated user with a hidden target item (as in iEvaLM / InteRecAgent).

The user opens with a plain "what next?", then, while the target is not in the list, says
"something else" and reveals one more attribute of the target per turn (category, then brand,
then price band) without ever naming it, and accepts as soon as the target is recommended.
Turn 1 alone is the non-conversational baseline: the same assistant, no dialogue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.reply import Reply
from knowledge.errors import ConfigError
from knowledge.schema import Item

__all__ = [
    "SimulatorConfig",
    "SimulatedUser",
    "Session",
    "SimulationResult",
    "simulate",
    "price_band",
]

log = logging.getLogger(__name__)

_BANDS = (0.0, 10.0, 25.0, 50.0, 100.0)


@dataclass(frozen=True)
class SimulatorConfig:
    """How a simulated user behaves."""

    max_turns: int = 5
    opening: str = "What should I get next?"
    reveal: tuple[str, ...] = ("category", "brand", "price")

    def __post_init__(self) -> None:
        if not 1 <= self.max_turns <= 20:
            raise ConfigError(f"SimulatorConfig.max_turns must be 1..20, got {self.max_turns}")
        bad = [r for r in self.reveal if r not in ("category", "brand", "price")]
        if bad:
            raise ConfigError(f"SimulatorConfig.reveal: unknown attribute {bad[0]!r}")


def price_band(price: float) -> tuple[float, float | None]:
    """The fixed band a price falls in (so the user never tells the exact price)."""
    for lo, hi in zip(_BANDS, _BANDS[1:], strict=False):
        if price < hi:
            return lo, hi
    return _BANDS[-1], None


class SimulatedUser:
    """Knows its target item; talks about it only through its attributes."""

    def __init__(self, user_id: str, target: Item, config: SimulatorConfig | None = None):
        self.user_id = user_id
        self.target = target
        self.config = config or SimulatorConfig()
        self._to_reveal = [a for a in self.config.reveal if self._has(a)]

    def _has(self, attribute: str) -> bool:
        t = self.target
        return bool(
            {"category": t.category, "brand": t.brand, "price": t.price is not None}[attribute]
        )

    def accepts(self, reply: Reply) -> bool:
        return any(r.item_id == self.target.item_id for r in reply.recommendations)

    def _phrase(self, attribute: str) -> str:
        t = self.target
        if attribute == "category":
            return f"I'm looking for {t.category.lower()}"
        if attribute == "brand":
            return f"ideally by {t.brand}"
        assert t.price is not None
        lo, hi = price_band(t.price)
        return f"between ${lo:.0f} and ${hi:.0f}" if hi is not None else f"over ${lo:.0f}"

    def next_message(self, reply: Reply) -> str:
        """The answer to a reply that did not contain the target."""
        asked = not reply.recommendations and reply.text.rstrip().endswith("?")
        if self._to_reveal:
            hint = self._phrase(self._to_reveal.pop(0))
            if asked:  # answer the assistant's question rather than ask for more
                return hint[0].upper() + hint[1:] + "."
            return f"Something else, please: {hint}."
        return "Any other options?"


@dataclass
class Session:
    """One simulated conversation."""

    user_id: str
    target: str
    turns_to_success: int | None
    messages: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class SimulationResult:
    """All sessions of one run, with the success curve over turns."""

    sessions: list[Session]
    max_turns: int

    def success_at(self, k: int) -> float:
        """Share of sessions whose target was recommended within ``k`` turns."""
        if not self.sessions:
            return 0.0
        hits = sum(1 for s in self.sessions if s.turns_to_success and s.turns_to_success <= k)
        return hits / len(self.sessions)

    def mean_turns_successful(self) -> float | None:
        done = [s.turns_to_success for s in self.sessions if s.turns_to_success]
        return sum(done) / len(done) if done else None

    def mean_turns(self) -> float:
        """Turns per session, a failed session counting all ``max_turns``."""
        if not self.sessions:
            return 0.0
        used = [s.turns_to_success or self.max_turns for s in self.sessions]
        return sum(used) / len(used)

    def errors(self) -> int:
        return sum(bool(s.error) for s in self.sessions)


def simulate(
    assistant: Any,
    targets: Iterable[tuple[str, Item]],
    config: SimulatorConfig | None = None,
    progress: bool = True,
) -> SimulationResult:
    """Run one simulated conversation per (user id, hidden target item)."""
    from tqdm import tqdm

    config = config or SimulatorConfig()
    pairs = list(targets)
    sessions = []
    for user_id, target in tqdm(pairs, desc="simulated users", disable=not progress):
        sim = SimulatedUser(user_id, target, config)
        session = Session(user_id, target.item_id, None)
        history: list[dict[str, str]] = []
        message = config.opening
        for turn in range(1, config.max_turns + 1):
            if target.title and target.title.lower() in message.lower():
                raise AssertionError("the simulated user must never name its target")
            session.messages.append(message)
            try:
                reply = assistant.chat(user_id, message, history)
            except Exception as exc:  # count it and go on with the next user
                session.error = f"{type(exc).__name__}: {exc}"
                log.warning("simulated user %s: %s", user_id, session.error)
                break
            session.intents.append(reply.intent)
            if sim.accepts(reply):
                session.turns_to_success = turn
                break
            history += [
                {"role": "user", "content": message},
                {"role": "assistant", "content": reply.text},
            ]
            message = sim.next_message(reply)
        sessions.append(session)
    return SimulationResult(sessions, config.max_turns)
