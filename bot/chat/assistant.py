"""The Assistant: one Python object behind the web UI, the HTTP API, the CLI and the evaluator.

``chat(user_id, message, state=..., history=...)`` returns a typed :class:`~bot.reply.Reply`
whose ``state`` is the conversation's new :class:`~bot.chat.state.DialogueState`; ``stream``
yields text as it is ready and the structured reply last. The user id always comes from the
caller (session or API key), never from the message; every read of events is filtered to that
user. The assistant routes a message to one capability module's handler, which gets a narrow
:class:`~bot.chat.context.Context`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from bot.chat.config import AssistantConfig
from bot.chat.context import Context, Handler, Turn, record_feedback
from bot.chat.parse import Parser, Request, RuleParser
from bot.chat.skills import account, items, orders, recommend, reviews, smalltalk
from bot.chat.state import DialogueState, StateMemo, clean_message, message_content
from bot.recsys.catalog import CatalogIndex
from bot.recsys.pipeline import RecommendationPipeline
from bot.reply import Reply, ReplyChunk
from bot.tasks.need import NeedPredictor
from knowledge.errors import ConfigError, InputError, UnknownItemError
from knowledge.schema import USER_ID_RULE, Event, Item
from knowledge.store import Store

__all__ = ["AssistantConfig", "Assistant"]

log = logging.getLogger(__name__)

_USER_ID = USER_ID_RULE  # shared with ingest (knowledge.schema)
_HANDLERS: dict[str, Handler] = {
    **recommend.HANDLERS,
    **items.HANDLERS,
    **orders.HANDLERS,
    **account.HANDLERS,
    **reviews.HANDLERS,
    **smalltalk.HANDLERS,
}


class Assistant:
    """A shop assistant over one store (and optionally one language model)."""

    def __init__(
        self,
        store: Store,
        config: AssistantConfig | None = None,
        generator: Any = None,
        ranker: Any = None,
    ) -> None:
        self.config = config or AssistantConfig()
        self.store = store
        self.generator = generator
        self.pipeline = RecommendationPipeline(store, self.config.pipeline, ranker)
        use_need = self.config.model_need
        if use_need is None:  # only with an adapter trained (and on) for the next_need task
            from bot.tasks.adapter import serves

            use_need = serves(getattr(self.config.model, "adapter", None), "next_need")
        need = (
            NeedPredictor(generator, store, self.config.need)
            if generator is not None and use_need
            else None
        )
        self.context = Context(
            store, self.pipeline, CatalogIndex(self.pipeline.items), self.config, generator, need
        )
        self.memo = StateMemo()
        self.parser = self._parser(generator)

    def _parser(self, generator: Any) -> Parser:
        choice = self.config.parser
        if choice == "auto":
            from bot.tasks.adapter import serves

            adapter = getattr(self.config.model, "adapter", None)
            choice = "model" if generator is not None and serves(adapter, "parse") else "rules"
        if choice == "embedding":
            from bot.chat.parse_embed import EmbeddingParser

            return EmbeddingParser(self.store, RuleParser())
        if choice == "model":
            if generator is None:
                raise ConfigError(
                    "AssistantConfig.parser='model' needs a language model (set model, or use "
                    "parser='rules')"
                )
            from bot.chat.parse_model import ModelParser

            log.info("messages the rules cannot route are read by the model (parse task)")
            return ModelParser(generator)
        return RuleParser()

    @classmethod
    def from_config(cls, config: AssistantConfig) -> Assistant:
        """Open the store, load the model (if configured) and fit the candidate models."""
        config = _with_rank_weight(config)  # a broken ranking.json fails before any loading
        store = Store(config.store)
        generator: Any = None
        ranker: Any = None
        if config.llm_base_url:
            from bot.llm.generation import OpenAIHTTPGenerator

            generator = OpenAIHTTPGenerator(
                config.llm_base_url, config.llm_model, api_key=config.llm_api_key
            )
        elif config.model is not None:
            from bot.llm.backends import local_generator

            generator = local_generator(config.model)
        if generator is not None and config.use_llm_ranker and config.pipeline.rank_weight != 0:
            from bot.tasks.ranker import LLMRanker

            ranker = LLMRanker(generator)
        return cls(store, config, generator, ranker)

    @property
    def lookup(self) -> CatalogIndex:
        return self.context.catalog

    @property
    def need(self) -> NeedPredictor | None:
        return self.context.need

    def refresh(self) -> None:
        """Refit candidate models after a bulk ingest."""
        self.pipeline.refresh()
        self.context.catalog = CatalogIndex(self.pipeline.items)

    def find_item(self, text: str, among: list[str] | None = None) -> Item | None:
        """Resolve a loosely named item (exact id or title, word overlap, then semantic)."""
        return self.context.find_item(text, among)

    def users(self, limit: int = 50) -> list[str]:
        return self.store.users()[:limit]

    # -- public API -----------------------------------------------------------------------
    def chat(
        self,
        user_id: str,
        message: str,
        history: list[dict[str, Any]] | None = None,
        state: DialogueState | dict[str, Any] | None = None,
    ) -> Reply:
        """Answer one message from ``user_id``. ``state`` is the previous reply's state; without
        it, the state is taken from ``history`` (see :meth:`prior_state`)."""
        reply = None
        for chunk in self.stream(user_id, message, history, state):
            if chunk.reply is not None:
                reply = chunk.reply
        assert reply is not None
        return reply

    def stream(
        self,
        user_id: str,
        message: str,
        history: list[dict[str, Any]] | None = None,
        state: DialogueState | dict[str, Any] | None = None,
    ) -> Iterator[ReplyChunk]:
        """Yield text deltas as they are ready, then one chunk carrying the full Reply."""
        started = time.perf_counter()
        user_id = self._check_user(user_id)
        text = clean_message(message, self.config.max_message_chars)
        prior = self.prior_state(user_id, history, state)
        view = self.pipeline.view(user_id)
        request = self._route(self.parser.parse(text, prior, self.context.catalog), prior, view)
        turn = Turn(user_id, text, view, prior.copy(), request, started)
        turn.state.turns += 1
        turn.state.language = request.language
        if turn.state.asked_preferences and not turn.state.stated_preferences:
            turn.state.stated_preferences = text[:500]
        recommend.track_request(self.context, turn)
        reply: Reply | None = None
        for piece in _HANDLERS[turn.request.intent](self.context, turn):
            if isinstance(piece, Reply):
                reply = piece
            else:
                yield ReplyChunk(delta=piece)
        assert reply is not None
        reply.timings["total_s"] = round(time.perf_counter() - started, 4)
        if turn.state.truncated:
            reply.data["history_truncated"] = True
        reply.state = turn.state.to_dict()
        self.memo.put(user_id, reply.text, turn.state)
        yield ReplyChunk(reply=reply)

    def prior_state(
        self,
        user_id: str,
        history: list[dict[str, Any]] | None,
        state: DialogueState | dict[str, Any] | None = None,
    ) -> DialogueState:
        """The state a turn starts from: the one given; else the one carried by the last
        assistant message of ``history`` (its ``nextneed.state``); else the one this assistant
        produced for that exact reply text; else a fresh state."""
        if isinstance(state, DialogueState):
            return state.copy()
        if state is not None:
            return DialogueState.from_dict(state)
        if not history:
            return DialogueState()
        if not isinstance(history, list) or not all(isinstance(t, dict) for t in history):
            raise InputError("history must be a list of {'role': ..., 'content': ...} objects")
        truncated = len(history) > self.config.max_history_turns
        found = DialogueState()
        for turn in reversed(history):
            if turn.get("role") != "assistant":
                continue
            meta = turn.get("nextneed") or turn.get("metadata") or {}
            if isinstance(meta, dict) and isinstance(meta.get("state"), dict):
                found = DialogueState.from_dict(meta["state"])
            else:
                found = self.memo.get(user_id, message_content(turn)) or DialogueState()
            break
        found.truncated = found.truncated or truncated
        return found

    def recommend(
        self,
        user_id: str,
        message: str = "",
        history: list[dict[str, Any]] | None = None,
        state: DialogueState | dict[str, Any] | None = None,
    ) -> Reply:
        """Ranked next-need recommendations (the structured JSON endpoint)."""
        return self.chat(user_id, message or "What should I get next?", history, state)

    def feedback(self, user_id: str, item_id: str, kind: str) -> Event:
        """Record feedback now; it is used from the next turn on."""
        return record_feedback(self.context, self._check_user(user_id), item_id, kind)

    def profile(self, user_id: str) -> Reply:
        return account.profile(self.context, self._check_user(user_id))

    def forget(self, user_id: str) -> int:
        """Delete every stored event of this user; returns how many were deleted."""
        n = account.forget(self.context, self._check_user(user_id))
        self.memo.forget_user(user_id)
        return n

    def export(self, user_id: str) -> dict[str, Any]:
        return account.export(self.context, self._check_user(user_id))

    def describe(self, item_ref: str, user_id: str | None = None) -> Reply:
        item = self.find_item(clean_message(item_ref, self.config.max_message_chars))
        if item is None:
            raise UnknownItemError(f"no catalog item matches {item_ref!r}")
        view = self.pipeline.view(self._check_user(user_id)) if user_id else None
        reply = None
        for piece in items.describe_parts(self.context, item, view):
            if isinstance(piece, Reply):
                reply = piece
        assert reply is not None
        return reply

    def review_reply(
        self, review_text: str, rating: float | None = None, item_id: str | None = None
    ) -> Reply:
        """A customer-service reply to a review (the review text is data, not instructions)."""
        text = clean_message(review_text, self.config.max_message_chars)
        return reviews.review_reply(self.context, text, rating, item_id)

    # -- routing --------------------------------------------------------------------------
    def _check_user(self, user_id: Any) -> str:
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            raise InputError("user id must be 1-128 characters of letters, digits and . @ : + - _")
        return user_id

    def _route(self, request: Request, state: DialogueState, view: Any) -> Request:
        """The parser's request, with what only the conversation knows: a new customer with
        no stated need is asked what they shop for first."""
        if request.intent == "unclear" and state.asked_preferences and not state.last_list:
            return replace(request, intent="recommend", rule="preferences")
        if request.intent == "unclear" and state.last_list and request.ordinal is not None:
            return replace(request, intent="describe", rule="ordinal")
        fresh = not (state.need or state.last_list or state.stated_preferences)
        if view.is_new and fresh and request.intent in ("recommend", "greeting", "unclear"):
            asks = request.has_need or request.max_price or request.min_price or request.facts
            if not state.asked_preferences and not asks and not request.not_carried:
                return replace(request, intent="cold_start", rule="new user")
        return request


def _with_rank_weight(config: AssistantConfig) -> AssistantConfig:
    """``config`` with the LLM ranker's weight settled: the configured one; else the one tuned
    for the adapter (its ``ranking.json``); else, for the default model without an adapter,
    :data:`bot.recsys.rerank.DEFAULT_MODEL_RANK_WEIGHT` (measured); else
    :data:`bot.recsys.rerank.UNTUNED_RANK_WEIGHT`. Weight 0 serves the candidate stage's order and
    skips the ranker's forward pass."""
    from bot.recsys.rerank import (
        DEFAULT_MODEL_RANK_WEIGHT,
        UNTUNED_RANK_WEIGHT,
        recorded_rank_weight,
    )

    if config.pipeline.rank_weight is not None:
        return config
    model = None if config.llm_base_url else config.model
    adapter = getattr(model, "adapter", None)
    recorded = recorded_rank_weight(adapter) if adapter else None
    if recorded is not None:
        weight = recorded
        log.info("LLM ranker weight %s, as tuned for the adapter %s", weight, adapter)
    elif model is not None and adapter is None and getattr(model, "model", None) == "default":
        weight = DEFAULT_MODEL_RANK_WEIGHT
        log.info("LLM ranker weight %s: the default model's measured weight", weight)
    else:
        weight = UNTUNED_RANK_WEIGHT
    return replace(config, pipeline=replace(config.pipeline, rank_weight=weight))
