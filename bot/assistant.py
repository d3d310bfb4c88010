"""The Assistant: one Python object behind the web UI, the HTTP API, the CLI and the evaluator.

``chat(user_id, message, history)`` returns a typed :class:`~bot.reply.Reply`; ``stream`` yields
text as it is ready and the structured reply last. The user id always comes from the caller
(session or API key), never from the message; every read of events is filtered to that user.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.constraints import Constraints, parse_constraints
from bot.conversation import ConversationState, Turn, clean_message, read_state
from bot.helpdesk import HANDLERS, query_from
from bot.history import UserView
from bot.intents import Routed, route
from bot.item_turns import describe_parts, on_describe, on_explain, ordinal_item, referenced_item
from bot.lookup import CatalogIndex
from bot.need import NeedConfig, NeedPredictor
from bot.pipeline import PipelineConfig, RecommendationPipeline
from bot.profile import profile_summary
from bot.reply import Recommendation, Reply, ReplyChunk
from bot.service import ServiceConfig, reply_to_review
from knowledge.errors import ConfigError, InputError, UnknownItemError
from knowledge.schema import Event, Item
from knowledge.store import Store, StoreConfig

__all__ = ["AssistantConfig", "Assistant"]

log = logging.getLogger(__name__)

_VARIANTS = re.compile(r"\b(shades?|colou?rs?|variants?|sizes?|all of them)\b", re.I)
_USER_ID = re.compile(r"^[\w.@:+-]{1,128}$")


@dataclass(frozen=True)
class AssistantConfig:
    """Everything an Assistant is built from."""

    store: StoreConfig = field(default_factory=StoreConfig)
    model: Any = None  # bot.model.ModelConfig, or None for no language model
    llm_base_url: str | None = None  # an OpenAI-compatible server instead of in-process weights
    llm_model: str = "nextneed"
    llm_api_key: str | None = None
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    use_llm_ranker: bool = True
    # the model states the next need in words (bot.need): shown, and an extra semantic query.
    # None: only with a LoRA adapter (trained on the next_need task). Measured on the demo shop,
    # the base SmolLM2-135M just continued the history list instead of naming a need (4 of 4
    # users), and the ~8 generated tokens cost ~1.5 s per turn in nf4 on 2 CPU cores.
    model_need: bool | None = None
    need: NeedConfig = field(default_factory=NeedConfig)
    llm_descriptions: bool = True
    describe_max_tokens: int = 32  # one sentence; generation stops at its end
    max_message_chars: int = 2000
    max_history_turns: int = 40

    def __post_init__(self) -> None:
        if not 1 <= self.max_message_chars <= 100_000:
            raise ConfigError("AssistantConfig.max_message_chars must be within 1..100000")
        if not 2 <= self.max_history_turns <= 1000:
            raise ConfigError("AssistantConfig.max_history_turns must be within 2..1000")
        if not 0 <= self.describe_max_tokens <= 512:
            raise ConfigError("AssistantConfig.describe_max_tokens must be within 0..512")


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
        if use_need is None:
            use_need = getattr(self.config.model, "adapter", None) is not None
        self.need = (
            NeedPredictor(generator, store, self.config.need)
            if generator is not None and use_need
            else None
        )
        self._index_catalog()
        # intent -> handler; each yields text pieces, then one Reply
        self._handlers: dict[str, Callable[[Turn], Iterator[str | Reply]]] = {
            **{name: partial(fn, self) for name, fn in HANDLERS.items()},
            "recommend": self._on_recommend,
            "refine": self._on_refine,
            "explain": partial(on_explain, self),
            "describe": partial(on_describe, self),
            "feedback": self._on_feedback,
        }

    @classmethod
    def from_config(cls, config: AssistantConfig) -> Assistant:
        """Open the store, load the model (if configured) and fit the candidate models."""
        config = _with_rank_weight(config)  # a broken ranking.json fails before any loading
        store = Store(config.store)
        generator: Any = None
        ranker: Any = None
        if config.llm_base_url:
            from bot.generation import OpenAIHTTPGenerator

            generator = OpenAIHTTPGenerator(
                config.llm_base_url, config.llm_model, api_key=config.llm_api_key
            )
        elif config.model is not None:
            from bot.generation import TransformersGenerator
            from bot.model import load_model

            generator = TransformersGenerator(load_model(config.model))
        if generator is not None and config.use_llm_ranker and config.pipeline.rank_weight != 0:
            from bot.ranker import LLMRanker

            ranker = LLMRanker(generator)
        return cls(store, config, generator, ranker)

    # -- catalog lookups ----------------------------------------------------------------
    def _index_catalog(self) -> None:
        self.lookup = CatalogIndex(self.pipeline.items)

    def refresh(self) -> None:
        """Refit candidate models after a bulk ingest."""
        self.pipeline.refresh()
        self._index_catalog()

    def find_item(self, text: str, among: list[str] | None = None) -> Item | None:
        """Resolve a loosely named item: exact id or title, best word overlap among ``among``
        (items shown or owned), then semantic search over the catalog."""
        return self.lookup.find(text, self.store, among)

    def users(self, limit: int = 50) -> list[str]:
        return self.store.users()[:limit]

    # -- public API -----------------------------------------------------------------------
    def chat(
        self, user_id: str, message: str, history: list[dict[str, Any]] | None = None
    ) -> Reply:
        """Answer one message from ``user_id`` given the earlier turns of this conversation."""
        reply = None
        for chunk in self.stream(user_id, message, history):
            if chunk.reply is not None:
                reply = chunk.reply
        assert reply is not None
        return reply

    def stream(
        self, user_id: str, message: str, history: list[dict[str, Any]] | None = None
    ) -> Iterator[ReplyChunk]:
        """Yield text deltas as they are ready, then one chunk carrying the full Reply."""
        started = time.perf_counter()
        user_id = self._check_user(user_id)
        text = clean_message(message, self.config.max_message_chars)
        state = read_state(
            history,
            self.lookup.titles,
            self.lookup.brands,
            self.lookup.categories,
            self.config.max_history_turns,
        )
        view = self.pipeline.view(user_id)
        turn = Turn(user_id, text, view, state, self._route(text, state, view), started)
        handler = self._handlers[turn.routed.intent]
        reply: Reply | None = None
        for piece in handler(turn):
            if isinstance(piece, Reply):
                reply = piece
            else:
                yield ReplyChunk(delta=piece)
        assert reply is not None
        reply.timings["total_s"] = round(time.perf_counter() - started, 4)
        if state.truncated:
            reply.data["history_truncated"] = True
        yield ReplyChunk(reply=reply)

    def recommend(
        self, user_id: str, message: str = "", history: list[dict[str, Any]] | None = None
    ) -> Reply:
        """Ranked next-need recommendations (the structured JSON endpoint)."""
        return self.chat(user_id, message or "What should I get next?", history)

    def feedback(self, user_id: str, item_id: str, kind: str) -> Event:
        """Record feedback now; it is used from the next turn on."""
        user_id = self._check_user(user_id)
        if kind not in ("bought", "not_interested", "owned", "thumbs_up", "thumbs_down"):
            raise InputError(
                f"feedback kind {kind!r} is not one of bought, not_interested, owned, thumbs_up, thumbs_down"
            )
        if not self.store.has_item(item_id):
            raise UnknownItemError(f"item {item_id!r} is not in the catalog")
        now = int(time.time())
        order = time.time_ns()
        kind_ = "purchase" if kind == "bought" else "feedback"
        event = Event(
            user_id,
            item_id,
            kind_,
            now,
            order,
            detail="" if kind == "bought" else kind,
            source="chat",
        )
        self.store.add_events([event])
        return event

    def profile(self, user_id: str) -> Reply:
        view = self.pipeline.view(self._check_user(user_id))
        text, data = profile_summary(view, self.pipeline.items)
        return Reply(text=text, intent="profile", data=data)

    def forget(self, user_id: str) -> int:
        """Delete every stored event of this user; returns how many were deleted."""
        n = self.store.delete_user(self._check_user(user_id))
        # the fitted candidate models (popularity, transitions, refill periods) were built from
        # those events too: refit so nothing derived from them is left
        self.pipeline.refresh()
        # the model's key/value cache may hold prompt prefixes made of this user's history
        cache = getattr(self.generator, "prefix_cache", None)
        if cache is not None:
            cache.clear()
        return n

    def export(self, user_id: str) -> dict[str, Any]:
        return self.store.export_user(self._check_user(user_id))

    def describe(self, item_ref: str, user_id: str | None = None) -> Reply:
        item = self.find_item(clean_message(item_ref, self.config.max_message_chars))
        if item is None:
            raise UnknownItemError(f"no catalog item matches {item_ref!r}")
        view = self.pipeline.view(self._check_user(user_id)) if user_id else None
        reply = None
        for piece in describe_parts(self, item, view):
            if isinstance(piece, Reply):
                reply = piece
        assert reply is not None
        return reply

    def review_reply(
        self, review_text: str, rating: float | None = None, item_id: str | None = None
    ) -> Reply:
        """A customer-service reply to a review (the review text is data, not instructions)."""
        text = clean_message(review_text, self.config.max_message_chars)
        if rating is not None and not (isinstance(rating, int | float) and 0 <= rating <= 5):
            raise InputError(f"rating must be a number within 0..5, got {rating!r}")
        item = None
        if item_id is not None:
            item = self.store.get_item(item_id)
        reply, data = reply_to_review(text, rating, item, self.config.service)
        return Reply(text=reply, intent="review_reply", item_id=item_id, data=data)

    # -- routing --------------------------------------------------------------------------
    def _check_user(self, user_id: Any) -> str:
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            raise InputError("user id must be 1-128 characters of letters, digits and . @ : + - _")
        return user_id

    def _route(self, text: str, state: ConversationState, view: UserView) -> Routed:
        routed = route(text)
        cons, cheaper = parse_constraints(text, self.lookup.brands, self.lookup.categories)
        if routed.intent == "unclear":
            if not cons.is_empty() or cheaper:
                routed = Routed(
                    "refine" if state.last_list else "recommend", "constraints", routed.ordinal
                )
            elif state.asked_preferences and not state.last_list:
                routed = Routed("recommend", "preferences", None)
            elif state.last_list and routed.ordinal is not None:
                routed = Routed("describe", "ordinal", routed.ordinal)
            elif self.lookup.names_products(text):
                routed = Routed("recommend", "product words", None)
            elif self.generator is not None and len(text.split()) >= 3:
                routed = self._route_by_model(text)
                if routed.intent == "describe" and not state.last_list:
                    # no product named and no list shown: there is nothing to describe (the 4-bit
                    # default model put "Hi, I'm new here." here and a random item was described)
                    routed = Routed("unclear", "model: nothing to describe")
        if view.is_new and routed.intent in ("recommend", "greeting", "unclear"):
            asked_now = state.asked_preferences
            if not asked_now and cons.is_empty() and not self._mentions_need(text):
                return Routed("cold_start", "new user", None)
        return routed

    def _mentions_need(self, text: str) -> bool:
        return self.lookup.mentions_category(text)

    def _route_by_model(self, text: str) -> Routed:
        """Ask the model when no rule fits: one forward pass over three labelled options."""
        prompt = (
            "Classify the shop customer's message.\n"
            "A: wants product recommendations\nB: asks about a specific product\nC: something else\n"
            f"Message: {text[:300]}\nAnswer:"
        )
        try:
            scores = self.generator.score_choices(prompt, [" A", " B", " C"])
        except Exception as exc:  # a routing hint is optional; fall back to asking
            log.warning("model routing failed: %s", exc)
            return Routed("unclear", "none")
        best = max(range(3), key=lambda i: scores[i])
        return Routed(("recommend", "describe", "unclear")[best], "model")

    # -- handlers (each yields text pieces, then one Reply) ---------------------------------
    def _recommend(
        self,
        turn: Turn,
        intent: str,
        constraints: Constraints,
        query: str = "",
        exclude: set[str] | None = None,
        anchor: Item | None = None,
        intro: str = "",
        diversity: bool | None = None,
    ) -> Iterator[str | Reply]:
        view = turn.view
        if not intro:
            if view.is_new:
                intro = "Here are some popular picks"
                intro += f" for \u201c{query}\u201d" if query else ""
                intro += ":"
            else:
                titles = (
                    self.pipeline.items[e.item_id].title
                    for e in reversed(view.purchases)
                    if e.item_id in self.pipeline.items
                )
                recent = list(dict.fromkeys(titles))[:2]
                intro = (
                    "Based on your recent purchases ("
                    + "; ".join(recent)
                    + "), here is what you may need next:"
                )
        yield intro + "\n"
        predicted = None
        if self.need is not None and not view.is_new and not query and anchor is None:
            predicted = self.need.predict(view, self.pipeline.items)
        recs, need, timings = self.pipeline.recommend(
            view,
            constraints,
            query=query,
            exclude=exclude or set(),
            anchor=anchor,
            diversity=diversity,
            need_query=predicted.phrase if predicted else "",
        )
        if predicted is not None:
            need = predicted.phrase
            timings["need_s"] = round(predicted.seconds, 4)
            for r in recs:
                r.need = need
        if not recs:
            text = intro + "\n" + self._nothing_found(constraints)
            yield text[len(intro) + 1 :]
            yield Reply(
                text=text, intent=intent, constraints=constraints.to_dict(), timings=timings
            )
            return
        lines = [_format_rec(r) for r in recs]
        tail = f"\nLikely next need: {need}." if need and not view.is_new else ""
        for i, line in enumerate(lines):
            yield line + ("\n" if i < len(lines) - 1 else "")
        if tail:
            yield tail
        text = intro + "\n" + "\n".join(lines) + tail
        yield Reply(
            text=text,
            intent=intent,
            recommendations=recs,
            need=need,
            constraints=constraints.to_dict(),
            timings=timings,
        )

    def _nothing_found(self, constraints: Constraints) -> str:
        if not constraints.is_empty():
            return (
                "I couldn't find anything that meets all of your conditions ("
                + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in constraints.to_dict().items())
                + "). Try relaxing one of them."
            )
        return "I don't have a good suggestion right now. Tell me what you're looking for?"

    def _on_recommend(self, turn: Turn) -> Iterator[str | Reply]:
        cons, _cheaper = parse_constraints(turn.message, self.lookup.brands, self.lookup.categories)
        constraints = turn.state.constraints.merge(cons)
        query = query_from(turn.message)
        if turn.view.is_new:
            query = query or query_from(turn.state.stated_preferences)
        diversity = False if _VARIANTS.search(turn.message) else None
        yield from self._recommend(turn, "recommend", constraints, query=query, diversity=diversity)

    def _on_refine(self, turn: Turn) -> Iterator[str | Reply]:
        state, msg = turn.state, turn.message.lower()
        cons, cheaper = parse_constraints(turn.message, self.lookup.brands, self.lookup.categories)
        constraints = state.constraints.merge(cons)
        anchor = None
        exclude = set(state.shown)
        items = self.pipeline.items
        if cheaper and state.last_list:
            ref = ordinal_item(self, turn)
            prices: list[float] = [
                p
                for i in ([ref.item_id] if ref else state.last_list)
                if i in items and (p := items[i].price) is not None
            ]
            if prices:
                constraints = constraints.with_cheaper_than(min(prices))
        if re.search(r"more like|similar to", msg):
            anchor = ordinal_item(self, turn) or (
                items.get(state.last_list[0]) if state.last_list else None
            )
        query = query_from(
            re.sub(
                r"(?i)cheaper|another|something else|more like|similar to|the (first|second|third|last) one",
                " ",
                turn.message,
            )
        )
        yield from self._recommend(
            turn, "refine", constraints, query=query, exclude=exclude, anchor=anchor
        )

    def _on_feedback(self, turn: Turn) -> Iterator[str | Reply]:
        msg = turn.message
        low = msg.lower()
        if re.search(
            r"not interested|no interest|don'?t (?:want|like|need)|not for me|stop (?:recommending|showing)",
            low,
        ):
            kind = "not_interested"
        elif "thumbs down" in low or "\U0001f44e" in msg:
            kind = "thumbs_down"
        elif "thumbs up" in low or "\U0001f44d" in msg or re.search(r"\bi love\b", low):
            kind = "thumbs_up"
        elif re.search(r"already (?:have|own)|\bi (?:own|have)\b", low):
            kind = "owned"
        else:
            kind = "bought"
        ref = re.sub(
            r"(?i)\b(i|just|already|have|own|bought|purchased|ordered|got|not interested in|no interest in|don'?t want|don'?t like|don'?t need|not for me|stop recommending|stop showing|thumbs up|thumbs down|i love)\b",
            " ",
            msg,
        )
        item = referenced_item(self, turn, ref)
        if item is None:
            text = "Which item do you mean? Name it, or say for example \u201cnot interested in the second one\u201d."
            yield text
            yield Reply(text=text, intent="feedback")
            return
        event = self.feedback(turn.user_id, item.item_id, kind)
        done = {
            "not_interested": f"Noted \u2014 I won't suggest {item.title} again.",
            "thumbs_down": f"Thanks for the feedback \u2014 I won't suggest {item.title} again.",
            "thumbs_up": f"Glad you like {item.title}! I'll keep suggestions in that direction.",
            "owned": f"Got it \u2014 you already have {item.title}, so I'll leave it out.",
            "bought": f"Great, I've added {item.title} to your purchases.",
        }[kind]
        turn.view = self.pipeline.view(turn.user_id)  # the feedback counts from this very reply on
        exclude = set(turn.state.shown) | {item.item_id}
        pieces = list(
            self._recommend(
                turn,
                "feedback",
                turn.state.constraints,
                exclude=exclude,
                intro=done + " Other options:",
            )
        )
        reply = pieces[-1]
        assert isinstance(reply, Reply)
        reply.item_id = item.item_id
        reply.data["feedback"] = {"event_id": event.event_id, "kind": kind, "item_id": item.item_id}
        yield from pieces


def _format_rec(r: Recommendation) -> str:
    price = f" (${r.price:.2f})" if r.price is not None else ""
    flag = " [refill due]" if r.replenishment else ""
    return f"{r.rank}. **{r.title}**{price}{flag} \u2014 {r.reason}"


def _with_rank_weight(config: AssistantConfig) -> AssistantConfig:
    """``config`` with the LLM ranker's weight settled: the configured one; else the one tuned
    for the adapter (its ``ranking.json``); else, for the default model without an adapter,
    :data:`bot.ranker.DEFAULT_MODEL_RANK_WEIGHT` (measured); else
    :data:`bot.ranker.UNTUNED_RANK_WEIGHT`. Weight 0 serves the candidate stage's order and
    skips the ranker's forward pass."""
    from dataclasses import replace

    from bot.ranker import DEFAULT_MODEL_RANK_WEIGHT, UNTUNED_RANK_WEIGHT, recorded_rank_weight

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
