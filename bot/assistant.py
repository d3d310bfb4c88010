"""The Assistant: one Python object behind the web UI, the HTTP API, the CLI and the evaluator.

``chat(user_id, message, history)`` returns a typed :class:`~bot.reply.Reply`; ``stream`` yields
text as it is ready and the structured reply last. The user id always comes from the caller
(session or API key), never from the message; every read of events is filtered to that user.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.constraints import Constraints, parse_constraints
from bot.conversation import ASKED_PREFERENCES, ConversationState, clean_message, read_state
from bot.describe import describe_messages, fact_description, grounded_sentences, item_facts
from bot.history import UserView
from bot.intents import Routed, route
from bot.pipeline import PipelineConfig, RecommendationPipeline, Scored
from bot.profile import profile_summary
from bot.reply import Recommendation, Reply, ReplyChunk
from bot.service import ServiceConfig, complaint_reply, order_answer, reply_to_review
from knowledge.errors import ConfigError, InputError, UnknownItemError
from knowledge.schema import Event, Item
from knowledge.store import Store, StoreConfig

__all__ = ["AssistantConfig", "Assistant"]

log = logging.getLogger(__name__)

_VARIANTS = re.compile(r"\b(shades?|colou?rs?|variants?|sizes?|all of them)\b", re.I)
_USER_ID = re.compile(r"^[\w.@:+-]{1,128}$")
_STOP = set(
    "a an the i me my to for of and or is it this that some something any please can you could "
    "would what which should get buy need want about tell more show find with on in next else "
    "recommend suggest thanks thank me us hi hello option options ideas idea good new other "
    # filler and price words: left in, they became the semantic query ("do", "under")
    "do does did am are be have has just anything under below over above than less between "
    "dollars suggestions recommendations".split()
)


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
    llm_descriptions: bool = True
    describe_max_tokens: int = 48
    max_message_chars: int = 2000
    max_history_turns: int = 40

    def __post_init__(self) -> None:
        if not 1 <= self.max_message_chars <= 100_000:
            raise ConfigError("AssistantConfig.max_message_chars must be within 1..100000")
        if not 2 <= self.max_history_turns <= 1000:
            raise ConfigError("AssistantConfig.max_history_turns must be within 2..1000")
        if not 0 <= self.describe_max_tokens <= 512:
            raise ConfigError("AssistantConfig.describe_max_tokens must be within 0..512")


@dataclass
class _Turn:
    user_id: str
    message: str
    view: UserView
    state: ConversationState
    routed: Routed
    started: float


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
        self._index_catalog()

    @classmethod
    def from_config(cls, config: AssistantConfig) -> Assistant:
        """Open the store, load the model (if configured) and fit the candidate models."""
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
        if generator is not None and config.use_llm_ranker:
            from bot.ranker import LLMRanker

            ranker = LLMRanker(generator)
        return cls(store, config, generator, ranker)

    # -- catalog lookups ----------------------------------------------------------------
    def _index_catalog(self) -> None:
        items = self.pipeline.items
        self._titles = {it.title.strip().lower(): it.item_id for it in items.values()}
        self._brands = frozenset(it.brand.lower() for it in items.values() if it.brand)
        cats: dict[str, str] = {}
        for it in items.values():
            for c in it.categories[1:] or it.categories:
                low = c.lower()
                cats[low] = c
                if not low.endswith("s"):
                    cats[low + "s"] = c
        self._categories = cats
        self._title_words = {
            it.item_id: set(re.findall(r"[a-z0-9]+", (it.title + " " + it.brand).lower()))
            for it in items.values()
        }

    def refresh(self) -> None:
        """Refit candidate models after a bulk ingest."""
        self.pipeline.refresh()
        self._index_catalog()

    def find_item(self, text: str, among: list[str] | None = None) -> Item | None:
        """Resolve a loosely named item: exact id or title, best word overlap among ``among``,
        then semantic search over the catalog."""
        text = text.strip()
        items = self.pipeline.items
        if text in items:
            return items[text]
        if text.lower() in self._titles:
            return items[self._titles[text.lower()]]
        words = {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 2}
        if not words:
            return None
        best, best_score = None, 0.0
        for item_id in among or []:
            item = items.get(item_id)
            if item is None:
                continue
            title_words = self._title_words.get(item_id) or set(
                re.findall(r"[a-z0-9]+", (item.title + " " + item.brand).lower())
            )
            score = len(words & title_words) / len(words)
            if score > best_score:
                best, best_score = item, score
        # a shown or owned item wins ties, but not over an item whose title matches more of the
        # words ("the Roamly rain cover" is not the Roamly stroller the user owns)
        catalog_best = max(
            (len(words & tw) / len(words) for tw in self._title_words.values()), default=0.0
        )
        if best is not None and best_score >= 0.3 and best_score >= catalog_best:
            return best
        hits = self.store.search_items(" ".join(sorted(words)), k=1)
        if hits and hits[0][1] >= 0.25:
            return hits[0][0]
        return None

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
            history, self._titles, self._brands, self._categories, self.config.max_history_turns
        )
        view = self.pipeline.view(user_id)
        turn = _Turn(user_id, text, view, state, self._route(text, state, view), started)
        handler = getattr(self, f"_on_{turn.routed.intent}")
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
        return n

    def export(self, user_id: str) -> dict[str, Any]:
        return self.store.export_user(self._check_user(user_id))

    def describe(self, item_ref: str, user_id: str | None = None) -> Reply:
        item = self.find_item(clean_message(item_ref, self.config.max_message_chars))
        if item is None:
            raise UnknownItemError(f"no catalog item matches {item_ref!r}")
        view = self.pipeline.view(self._check_user(user_id)) if user_id else None
        return self._describe_item(item, view, time.perf_counter())

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
        cons, cheaper = parse_constraints(text, self._brands, self._categories)
        if routed.intent == "unclear":
            if not cons.is_empty() or cheaper:
                routed = Routed(
                    "refine" if state.last_list else "recommend", "constraints", routed.ordinal
                )
            elif state.asked_preferences and not state.last_list:
                routed = Routed("recommend", "preferences", None)
            elif state.last_list and routed.ordinal is not None:
                routed = Routed("describe", "ordinal", routed.ordinal)
            elif self.generator is not None and len(text.split()) >= 3:
                routed = self._route_by_model(text)
        if view.is_new and routed.intent in ("recommend", "greeting", "unclear"):
            asked_now = state.asked_preferences
            if not asked_now and cons.is_empty() and not self._mentions_need(text):
                return Routed("cold_start", "new user", None)
        return routed

    def _mentions_need(self, text: str) -> bool:
        low = text.lower()
        return any(re.search(r"\b" + re.escape(c) + r"\b", low) for c in self._categories)

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
        turn: _Turn,
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
        recs, need, timings = self.pipeline.recommend(
            view,
            constraints,
            query=query,
            exclude=exclude or set(),
            anchor=anchor,
            diversity=diversity,
        )
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

    def _query_from(self, text: str) -> str:
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", text) if w.lower() not in _STOP]
        return " ".join(words[:12])

    def _on_recommend(self, turn: _Turn) -> Iterator[str | Reply]:
        cons, _cheaper = parse_constraints(turn.message, self._brands, self._categories)
        constraints = turn.state.constraints.merge(cons)
        query = self._query_from(turn.message)
        if turn.view.is_new:
            query = query or self._query_from(turn.state.stated_preferences)
        diversity = False if _VARIANTS.search(turn.message) else None
        yield from self._recommend(turn, "recommend", constraints, query=query, diversity=diversity)

    def _on_refine(self, turn: _Turn) -> Iterator[str | Reply]:
        state, msg = turn.state, turn.message.lower()
        cons, cheaper = parse_constraints(turn.message, self._brands, self._categories)
        constraints = state.constraints.merge(cons)
        anchor = None
        exclude = set(state.shown)
        items = self.pipeline.items
        if cheaper and state.last_list:
            ref = self._ordinal_item(turn)
            prices: list[float] = [
                p
                for i in ([ref.item_id] if ref else state.last_list)
                if i in items and (p := items[i].price) is not None
            ]
            if prices:
                constraints = constraints.with_cheaper_than(min(prices))
        if re.search(r"more like|similar to", msg):
            anchor = self._ordinal_item(turn) or (
                items.get(state.last_list[0]) if state.last_list else None
            )
        query = self._query_from(
            re.sub(
                r"(?i)cheaper|another|something else|more like|similar to|the (first|second|third|last) one",
                " ",
                turn.message,
            )
        )
        yield from self._recommend(
            turn, "refine", constraints, query=query, exclude=exclude, anchor=anchor
        )

    def _ordinal_item(self, turn: _Turn) -> Item | None:
        pos = turn.routed.ordinal
        lst = turn.state.last_list
        if pos is None or not lst:
            return None
        idx = len(lst) - 1 if pos == -1 else pos - 1
        return self.pipeline.items.get(lst[idx]) if 0 <= idx < len(lst) else None

    def _referenced_item(self, turn: _Turn, text: str) -> Item | None:
        """The item a message points at: an ordinal, "it/that", or a (loose) name."""
        item = self._ordinal_item(turn)
        if item is not None:
            return item
        among = turn.state.last_list + [e.item_id for e in turn.view.purchases]
        named = self.find_item(text, among=among) if self._query_from(text) else None
        if named is not None:
            return named
        if re.search(r"\b(it|that|this|those|them|one)\b", text, re.I):
            ref = turn.state.last_item or (
                turn.state.last_list[0] if turn.state.last_list else None
            )
            return self.pipeline.items.get(ref) if ref else None
        return None

    def _on_explain(self, turn: _Turn) -> Iterator[str | Reply]:
        item = self._referenced_item(
            turn, re.sub(r"(?i)\bwhy\b|recommend\w*|suggest\w*", " ", turn.message)
        )
        if item is None:
            text = "Which suggestion should I explain? Say for example \u201cwhy the second one?\u201d after I've shown you a list."
            yield text
            yield Reply(text=text, intent="explain")
            return
        view = turn.view
        due = view.due_refills(
            self.pipeline.items, self.pipeline.repurchase, self.pipeline.config.replenish_factor
        )
        scored = Scored(item, 0.0, "explain", replenishment=item.item_id in due)
        if item.item_id in due:
            scored.evidence = [due[item.item_id][0]]
        rec = self.pipeline._explain(view, scored, 1)
        lines = [f"Why {item.title}: {rec.reason}"]
        events = {e.event_id: e for e in view.events}
        for eid in rec.evidence:
            ev = events.get(eid)
            if ev is not None and ev.item_id in self.pipeline.items:
                what = "reviewed" if ev.kind == "review" else "bought"
                lines.append(
                    f"- You {what} {self.pipeline.items[ev.item_id].title} on {_date(ev.timestamp)}."
                )
        if not rec.evidence:
            lines.append(
                "- I have no purchases of yours that relate to it; it was chosen for its popularity."
            )
        text = "\n".join(lines)
        yield text
        yield Reply(text=text, intent="explain", recommendations=[rec], item_id=item.item_id)

    def _on_describe(self, turn: _Turn) -> Iterator[str | Reply]:
        ref = re.sub(
            r"(?i)\b(tell me (more )?about|what is|what's|describe|details (on|of|about)|info(rmation)? (on|about)|more about)\b",
            " ",
            turn.message,
        )
        item = self._referenced_item(turn, ref)
        if item is None:
            text = "Which product would you like to know about? Tell me its name, or pick one from a list I showed."
            yield text
            yield Reply(text=text, intent="describe")
            return
        yield from self._describe_parts(item, turn.view)

    def _describe_item(self, item: Item, view: UserView | None, started: float) -> Reply:
        reply = None
        for piece in self._describe_parts(item, view):
            if isinstance(piece, Reply):
                reply = piece
        assert reply is not None
        return reply

    def _describe_parts(self, item: Item, view: UserView | None) -> Iterator[str | Reply]:
        """The fact-based description first (instant), then the model's grounded sentences."""
        rating = self.store.item_review_stats(item.item_id)
        facts = item_facts(item, rating)
        text = fact_description(item, rating)
        yield text
        generated = ""
        t0 = time.perf_counter()
        if (
            self.generator is not None
            and self.config.llm_descriptions
            and self.config.describe_max_tokens
        ):
            try:
                raw = self.generator.generate(
                    describe_messages(facts), self.config.describe_max_tokens
                )
                kept = [s for s in grounded_sentences(raw, facts) if s.lower() not in text.lower()]
                generated = " ".join(kept[:2])
            except Exception as exc:  # the fact-based description stands on its own
                log.warning("description generation failed: %s", exc)
        tail = "\n" + generated if generated else ""
        if view is not None:
            own = next((e for e in reversed(view.reviews) if e.item_id == item.item_id), None)
            if own is not None and own.rating is not None:
                tail += f"\nYou rated it {own.rating:.0f}/5 on {_date(own.timestamp)}."
            elif item.item_id in view.owned:
                tail += "\nYou already have this one."
        if tail:
            yield tail
        yield Reply(
            text=text + tail,
            intent="describe",
            item_id=item.item_id,
            timings={"describe_s": round(time.perf_counter() - t0, 4)},
            data={"facts": facts, "generated": generated},
        )

    def _on_profile(self, turn: _Turn) -> Iterator[str | Reply]:
        reply = self.profile(turn.user_id)
        yield reply.text
        yield reply

    def _on_forget(self, turn: _Turn) -> Iterator[str | Reply]:
        msg = turn.message.lower()
        if "export" in msg or "download" in msg:
            data = self.export(turn.user_id)
            text = f"Here is everything we store about you: {len(data['events'])} events (attached as JSON)."
            yield text
            yield Reply(text=text, intent="forget", data={"export": data})
            return
        if re.search(r"\b(yes|confirm|i'?m sure|do it)\b", msg):
            n = self.forget(turn.user_id)
            text = f"Done: I deleted all {n} of your stored purchases, reviews and feedback. I no longer know anything about you."
            yield text
            yield Reply(text=text, intent="forget", data={"deleted": n})
            return
        text = (
            "I can delete everything we store about you (purchases, reviews, feedback). "
            "This can't be undone. Reply \u201cyes, forget me\u201d to confirm, or \u201cexport my data\u201d for a copy first."
        )
        yield text
        yield Reply(text=text, intent="forget", data={"confirm_required": True})

    def _on_review_reply(self, turn: _Turn) -> Iterator[str | Reply]:
        m = re.search(
            r"review\s*(?:[:\-]|\bsaying\b|\bthat says\b)\s*(.+)", turn.message, re.I | re.S
        )
        review = (m.group(1) if m else turn.message).strip().strip("\"\u201c\u201d'")
        stars = re.search(r"\b([1-5])\s*(?:/\s*5|stars?)\b", turn.message, re.I)
        reply = self.review_reply(review or turn.message, float(stars.group(1)) if stars else None)
        yield reply.text
        yield reply

    def _history_matches(self, turn: _Turn, text: str) -> list[tuple[Event, Item]]:
        items = self.pipeline.items
        words = {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 2}
        words -= {
            "did",
            "ever",
            "when",
            "order",
            "ordered",
            "bought",
            "purchase",
            "purchased",
            "last",
            "previous",
            "past",
            "recent",
            "history",
        }
        out = []
        for e in reversed(turn.view.purchases):
            item = items.get(e.item_id)
            if item is None or not words:
                continue
            title = set(
                re.findall(r"[a-z0-9]+", (item.title + " " + " ".join(item.categories)).lower())
            )
            stems = {t.rstrip("s") for t in title}
            if any(w in title or w.rstrip("s") in stems for w in words):
                out.append((e, item))
        return out

    def _on_order_question(self, turn: _Turn) -> Iterator[str | Reply]:
        asked = self._query_from(
            re.sub(
                r"(?i)\b(did i|when did i|have i|what did i|ever|buy|bought|order(ed)?|purchase[d]?|get)\b",
                " ",
                turn.message,
            )
        )
        matches = self._history_matches(turn, asked)
        items = self.pipeline.items
        recent = [
            (e, items[e.item_id]) for e in reversed(turn.view.purchases) if e.item_id in items
        ]
        text = order_answer(matches, asked, recent)
        yield text
        yield Reply(
            text=text,
            intent="order_question",
            data={"orders": [e.event_id for e, _ in (matches or recent[:5])]},
        )

    def _on_complaint(self, turn: _Turn) -> Iterator[str | Reply]:
        matches = self._history_matches(turn, turn.message)
        order = matches[0] if matches else None
        text = complaint_reply(turn.message, order, self.config.service)
        yield text
        yield Reply(
            text=text,
            intent="complaint",
            item_id=order[1].item_id if order else None,
            data={"escalate": True, "order_event": order[0].event_id if order else None},
        )

    def _on_feedback(self, turn: _Turn) -> Iterator[str | Reply]:
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
        item = self._referenced_item(turn, ref)
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

    def _on_cold_start(self, turn: _Turn) -> Iterator[str | Reply]:
        tops = sorted({c for it in self.pipeline.items.values() for c in it.categories[:1]})
        text = (
            f"Welcome! {ASKED_PREFERENCES}, what are you shopping for today? "
            f"For example: {', '.join(tops[:6])}. And is there a budget I should keep to?"
        )
        yield text
        yield Reply(text=text, intent="cold_start", data={"questions": 2})

    def _on_greeting(self, turn: _Turn) -> Iterator[str | Reply]:
        if re.search(r"thank|cheers", turn.message, re.I):
            text = "You're welcome! Anything else I can help you find?"
        elif re.search(r"bye", turn.message, re.I):
            text = "Goodbye, and thanks for shopping with us!"
        else:
            text = (
                "Hi! I can suggest what you might need next, tell you about a product, answer questions "
                "about your orders or help with a problem. Try \u201cwhat should I get next?\u201d"
            )
        yield text
        yield Reply(text=text, intent="greeting")

    def _on_off_topic(self, turn: _Turn) -> Iterator[str | Reply]:
        if turn.routed.injection:
            text = (
                "I can only help with shopping in this store, for your own account: suggestions, "
                "product questions, your orders and reviews. I can't change my instructions or share other customers' data."
            )
        else:
            text = (
                "That's outside what I can help with \u2014 I'm this shop's assistant. I can suggest what "
                "you might need next, describe a product, or help with an order."
            )
        yield text
        yield Reply(
            text=text,
            intent="off_topic",
            data={"guardrail": "injection" if turn.routed.injection else "off_topic"},
        )

    def _on_unclear(self, turn: _Turn) -> Iterator[str | Reply]:
        text = (
            "Sorry, I didn't quite get that. Are you looking for a suggestion (e.g. \u201csomething for dry hair "
            "under $20\u201d), details about a product, or help with an order?"
        )
        yield text
        yield Reply(text=text, intent="unclear")


def _format_rec(r: Recommendation) -> str:
    price = f" (${r.price:.2f})" if r.price is not None else ""
    flag = " [refill due]" if r.replenishment else ""
    return f"{r.rank}. **{r.title}**{price}{flag} \u2014 {r.reason}"


def _date(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d %b %Y")
