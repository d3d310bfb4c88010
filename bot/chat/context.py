"""What a turn handler works with: a narrow :class:`Context` and the :class:`Turn` at hand.

Handlers get the store, the recommendation pipeline, the catalog index, the model (if any) and
the settings; never the whole Assistant. Each capability module (``recommend``, ``items``,
``orders``, ``account``, ``reviews``, ``smalltalk``) exports ``HANDLERS``: intent -> handler,
where a handler yields text pieces and then one :class:`~bot.reply.Reply`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bot.chat.config import AssistantConfig
from bot.chat.parse import Request
from bot.chat.state import DialogueState
from bot.recsys.catalog import CatalogIndex
from bot.recsys.history import UserView
from bot.recsys.pipeline import RecommendationPipeline
from bot.recsys.preferences import Preference, review_preferences
from bot.reply import Reply
from bot.tasks.need import NeedPredictor
from knowledge.schema import FEEDBACK_KINDS, Event, Item
from knowledge.store import Store

__all__ = ["Context", "Turn", "Handler", "record_feedback"]


@dataclass
class Context:
    """The parts of the assistant a handler may use."""

    store: Store
    pipeline: RecommendationPipeline
    catalog: CatalogIndex
    config: AssistantConfig
    generator: Any = None  # a bot.llm.generation.Generator, or None
    need: NeedPredictor | None = None

    @property
    def items(self) -> dict[str, Item]:
        return self.pipeline.items

    def preferences(self, view: UserView) -> list[Preference]:
        """What this customer's own reviews say to avoid (with the review each came from)."""
        return review_preferences(
            view, self.items, self.catalog.attribute_words, self.catalog.brand_map
        )

    def find_item(self, text: str, among: list[str] | None = None) -> Item | None:
        """Resolve a loosely named item: exact id or title, best word overlap among ``among``
        (items shown or owned), then semantic search over the catalog."""
        return self.catalog.find(text, self.store, among)


@dataclass
class Turn:
    """One message being answered: who asked, what, their history and the conversation so far.

    ``state`` starts as the previous turn's state and is updated by the handler; it is returned
    with the reply."""

    user_id: str
    message: str
    view: UserView
    state: DialogueState
    request: Request
    started: float


Handler = Callable[[Context, Turn], Iterator[str | Reply]]


def record_feedback(ctx: Context, user_id: str, item_id: str, kind: str) -> Event:
    """Store one explicit feedback event (a purchase for ``bought``); it counts from now on."""
    from knowledge.errors import InputError, UnknownItemError

    if kind not in FEEDBACK_KINDS:
        raise InputError(f"feedback kind {kind!r} is not one of {', '.join(FEEDBACK_KINDS)}")
    if not ctx.store.has_item(item_id):
        raise UnknownItemError(f"item {item_id!r} is not in the catalog")
    event = Event(
        user_id,
        item_id,
        "purchase" if kind == "bought" else "feedback",
        int(time.time()),
        time.time_ns(),
        detail="" if kind == "bought" else kind,
        source="chat",
    )
    ctx.store.add_events([event])
    return event
