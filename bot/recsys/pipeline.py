"""The recommendation pipeline: candidates -> hard filters -> diversity -> one-pass LLM ranking
-> grounded reasons. Everything after the model is enforced in code: every item is in the
catalog, none is owned (unless a due refill, flagged), none rejected, constraints respected."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.recsys.aspects import AspectScorer
from bot.recsys.constraints import Constraints
from bot.recsys.history import DAY, RepurchaseModel, UserView
from bot.recsys.request import RequestMatcher, content_stems, request_stop_words, stem
from bot.recsys.rerank import UNTUNED_RANK_WEIGHT, check_rank_weight, served_scores
from bot.recsys.sources.copurchase import CoPurchaseConfig, CoPurchaseSupport
from bot.recsys.stage import CACHE_DIRNAME, FittedStage, StageConfig, fit_stage
from bot.reply import Recommendation
from knowledge.errors import ConfigError
from knowledge.schema import Event, Item
from knowledge.store import Store

__all__ = ["PipelineConfig", "RecommendationPipeline", "Ranker", "Scored"]

log = logging.getLogger(__name__)


class Ranker(Protocol):
    """Re-orders candidates for a user; returns one score per candidate (higher is better)."""

    def score(
        self, view: UserView, candidates: list[Item], items: dict[str, Item]
    ) -> list[float]: ...


@dataclass(frozen=True)
class PipelineConfig:
    """How many candidates, how many results, and the guardrails that are on by default."""

    n_candidates: int = 20
    n_results: int = 5
    exclude_owned: bool = True
    diversity: bool = True
    max_per_group: int = 1
    long_tail_slots: int = 1
    replenish_factor: float = 0.8
    # weight of the LLM ranker's label log-probabilities against the stage's log-rank prior;
    # None: UNTUNED_RANK_WEIGHT here; Assistant.from_config settles it for the loaded model
    # (the adapter's tuned ranking.json, the default model's measured weight)
    rank_weight: float | None = None
    # items near the model's stated next need ("conditioner refill") join the fusion as one more
    # source with this weight (transitions have 1.0 by default): a guess, weaker than an explicit
    # request; at most ``need_k`` items at cosine similarity >= 0.3
    need_weight: float = 0.5
    need_k: int = 5
    # The history stage (bot.recsys.stage): from ``tune_min_users`` users with >= 3 purchases
    # or reviews a SASRec is trained and serves only where held-out validation gives it weight;
    # fusion weights are tuned on validation users apart from those that chose SASRec's epoch.
    # None: SASRec's time budget scales with the data (StageConfig); cached with the store.
    sasrec_budget_s: float | None = None
    tune_min_users: int = 200
    cache_models: bool = True  # keep the SASRec and tuned weights next to the store
    # a request-driven list keeps items whose similarity to the request is at least this (and
    # at least 0.7 of the best hit's): below it an item does not match what was asked
    request_min_similarity: float = 0.3
    # the assistant's clock (Unix seconds): None is the real time. Tests and offline benchmarks
    # pin it (``now=lambda: ts``); it is never the newest event in the store, which on real data
    # would judge a refill due today against a stale date.
    now: Callable[[], float] | None = None
    # Co-purchase evidence ("23 customers who bought your X also bought this") needs at least
    # this many shared customers and a count unlikely by chance in a store of this size
    # (one-sided Poisson tail <= alpha; see bot.recsys.sources.copurchase). A history-stage candidate
    # with no such evidence, no catalog relation to what the customer owns and no request behind
    # it is a coincidence of other baskets: "ungrounded" says what happens to it.
    co_purchase_min_customers: int = 3
    co_purchase_alpha: float = 0.01
    ungrounded: str = "drop"  # "drop", "demote" (after the grounded ones) or "keep"

    def __post_init__(self) -> None:
        if self.ungrounded not in ("drop", "demote", "keep"):
            raise ConfigError(
                f"PipelineConfig.ungrounded must be drop, demote or keep, got {self.ungrounded!r}"
            )
        self.co_purchase_config()  # names a bad co_purchase_* value
        if self.now is not None and not callable(self.now):
            raise ConfigError(
                f"PipelineConfig.now must be a function returning Unix seconds, got {self.now!r}"
            )
        if self.rank_weight is not None:
            check_rank_weight(self.rank_weight, "PipelineConfig.rank_weight (or None)")
        if not 1 <= self.n_results <= 20:
            raise ConfigError(f"PipelineConfig.n_results must be 1..20, got {self.n_results}")
        if not self.n_results <= self.n_candidates <= 100:
            raise ConfigError("PipelineConfig.n_candidates must be within n_results..100")
        if self.max_per_group < 1:
            raise ConfigError("PipelineConfig.max_per_group must be >= 1")
        if not 0 <= self.long_tail_slots <= self.n_results:
            raise ConfigError("PipelineConfig.long_tail_slots must be within 0..n_results")
        if not 0 <= self.need_weight <= 1:
            raise ConfigError("PipelineConfig.need_weight must be within 0..1")
        if not 1 <= self.need_k <= 50:
            raise ConfigError("PipelineConfig.need_k must be within 1..50")
        if not 0 < self.replenish_factor <= 2:
            raise ConfigError("PipelineConfig.replenish_factor must be within (0, 2]")
        if self.tune_min_users < 1:
            raise ConfigError("PipelineConfig.tune_min_users must be >= 1")
        if self.sasrec_budget_s is not None and not self.sasrec_budget_s > 0:
            raise ConfigError("PipelineConfig.sasrec_budget_s must be > 0 or None")

    def co_purchase_config(self) -> CoPurchaseConfig:
        """The co-purchase support rule these fields describe."""
        try:
            return CoPurchaseConfig(self.co_purchase_min_customers, self.co_purchase_alpha)
        except ConfigError as exc:
            message = str(exc).replace("CoPurchaseConfig.", "PipelineConfig.co_purchase_")
            raise ConfigError(message) from None

    def stage_config(self) -> StageConfig:
        """The candidate-stage fitting settings these fields describe."""
        return StageConfig(
            sasrec_budget_s=self.sasrec_budget_s,
            tune_min_users=self.tune_min_users,
        )


@dataclass
class Scored:
    item: Item
    score: float
    source: str
    replenishment: bool = False
    reorder: bool = False  # owned, bought again and again, and asked for by name now
    evidence: list[Event] = field(default_factory=list)
    reason: str = ""
    contributions: dict[str, float] = field(default_factory=dict)

    @property
    def main_source(self) -> str:
        """The source that contributed most to the candidate score (drives the wording)."""
        if not self.contributions:
            return self.source
        return max(self.contributions, key=lambda k: self.contributions[k])


def variant_key(item: Item) -> str:
    """Items with the same key are near-duplicates (shades/sizes of one product)."""
    v = (item.attributes or {}).get("variant_of")
    if v:
        return f"v:{v}"
    words = re.findall(r"[a-z]+", item.title.lower())
    return f"t:{item.brand.lower()}:{' '.join(words[:3])}"


class RecommendationPipeline:
    """Holds the fitted candidate models for one store; refresh() after bulk changes."""

    def __init__(
        self, store: Store, config: PipelineConfig | None = None, ranker: Ranker | None = None
    ):
        self.store = store
        self.config = config or PipelineConfig()
        self.ranker = ranker
        self.rank_weight = (
            UNTUNED_RANK_WEIGHT
            if self.config.rank_weight is None
            else float(self.config.rank_weight)
        )
        self.repurchase = RepurchaseModel()
        self._lock = threading.Lock()
        self.items: dict[str, Item] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self.popularity: Counter[str] = Counter()
        self.n_customers = 0
        self.copurchase = CoPurchaseSupport(self.config.co_purchase_config())
        self.stage: FittedStage | None = None
        self._aspect_scorer: AspectScorer | None = None
        self.refresh()

    # -- model fitting -----------------------------------------------------------------
    def refresh(self) -> None:
        """(Re)fit the candidate stage from the store's events (see ``bot.recsys.stage``)."""
        t0 = time.perf_counter()
        timelines: dict[str, list[tuple[int, int, str]]] = {}
        for e in self.store.iter_events():
            if e.kind in ("purchase", "review"):
                timelines.setdefault(e.user_id, []).append((e.timestamp, e.order, e.item_id))
        for tl in timelines.values():
            tl.sort()
        sequences = [[i for *_x, i in tl] for tl in timelines.values()]
        items = {i.item_id: i for i in self.store.all_items()}
        stage = fit_stage(
            sequences,
            self.config.stage_config(),
            self._cache_root(),
            item_vectors=self.store.item_vectors,
        )
        repurchase = RepurchaseModel()
        repurchase.fit(timelines, items)
        copurchase = CoPurchaseSupport(self.config.co_purchase_config()).fit(sequences)
        with self._lock:
            self.items = items
            self.popularity = Counter(i for s in sequences for i in s)
            self.n_customers = len(sequences)  # with purchases or reviews
            self.stage = stage
            self.repurchase = repurchase
            self.copurchase = copurchase
            self.matcher = RequestMatcher(items)
            self._aspect_scorer = None
            self._vectors = {}
        log.info(
            "pipeline fitted on %d users in %.2fs: weights %s%s",
            len(sequences),
            time.perf_counter() - t0,
            {n: round(w, 3) for n, w in stage.weights.items()},
            " (cached)" if stage.info.get("cached") else "",
        )

    def _cache_root(self) -> Path | None:
        """Where fitted models are kept: inside an embedded store's folder, else nowhere."""
        path = getattr(getattr(self.store, "config", None), "path", None)
        if not self.config.cache_models or not path or getattr(self.store.config, "host", None):
            return None
        return Path(path).expanduser() / CACHE_DIRNAME

    def vectors(self, item_ids: list[str]) -> dict[str, np.ndarray]:
        missing = [i for i in item_ids if i not in self._vectors]
        if missing:
            self._vectors.update(self.store.item_vectors(missing))
        return {i: self._vectors[i] for i in item_ids if i in self._vectors}

    @property
    def clock(self) -> int:
        """The assistant's "now" in Unix seconds: ``config.now()`` when set, else the real time."""
        return int(self.config.now() if self.config.now is not None else time.time())

    def view(self, user_id: str) -> UserView:
        return UserView(user_id, self.store.history(user_id), now=self.clock)

    def note_item(self, item: Item) -> None:
        """Make an item added after the last refresh visible."""
        self.items[item.item_id] = item

    # -- the pipeline ------------------------------------------------------------------
    def recommend(
        self,
        view: UserView,
        constraints: Constraints | None = None,
        query: str = "",
        exclude: set[str] | frozenset[str] = frozenset(),
        anchor: Item | None = None,
        n: int | None = None,
        diversity: bool | None = None,
        need_query: str = "",
        request_only: bool = False,
        personal: bool = True,
        exclude_things: tuple[str, ...] = (),
        situation: bool = False,
    ) -> tuple[list[Recommendation], str, dict[str, float]]:
        """Ranked, explained recommendations, the predicted need, and stage timings.

        ``need_query`` is the language model's phrase for the next need (see
        :mod:`bot.tasks.need`): an extra semantic query, weighted by ``config.need_weight``.
        ``request_only``: every item must match the request (its semantic search above
        ``config.request_min_similarity``, or its categories/brands/attributes); the history
        stage and due refills only re-order those, never pad the list. ``personal=False`` (a
        gift for someone else): no refills, no history stage, no owned-item filter.
        ``situation``: the request describes a situation or an interest ("I've started riding
        to work in the dark"), so items may match it by meaning alone."""
        constraints = constraints or Constraints()
        timings: dict[str, float] = {}
        n = n or self.config.n_results
        t0 = time.perf_counter()
        pool = self._candidates(
            view,
            constraints,
            query,
            anchor,
            need_query,
            request_only,
            personal,
            exclude_things,
            situation or not personal,
        )
        timings["candidates_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        if request_only and personal:
            # "hiking socks" from someone who buys the same socks every few months: their usual
            # ones are an answer (a re-order), not an owned item to hide
            for item_id, scored in pool.items():
                scored.reorder = item_id in view.owned and view.times_bought(item_id) >= 2
        allowed = self._filter(view, pool, constraints, set(exclude))
        if request_only:
            allowed = [s for s in allowed if "semantic" in s.contributions]
        if personal and anchor is None and self.config.ungrounded != "keep":
            allowed = self._grounded_first(view, allowed)
        if self.config.diversity if diversity is None else diversity:
            allowed = self._diversify(allowed)
        allowed = allowed[: self.config.n_candidates]
        timings["filter_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        weight = self.rank_weight
        if self.ranker is not None and weight > 0 and len(allowed) > 1 and not view.is_new:
            llm = self.ranker.score(view, [s.item for s in allowed], self.items)
            for s, score in zip(allowed, served_scores(llm, weight), strict=True):
                s.score = score
            allowed.sort(key=lambda s: -s.score)  # stable: ties keep the stage's order
        timings["rank_s"] = time.perf_counter() - t2
        chosen = self._long_tail(allowed, n)
        t3 = time.perf_counter()
        recs = [self.explain(view, s, rank, query, personal) for rank, s in enumerate(chosen, 1)]
        need = self.need_phrase(chosen, view)
        for r in recs:
            r.need = r.need or need
        timings["explain_s"] = time.perf_counter() - t3
        timings["recommend_s"] = time.perf_counter() - t0
        return recs, need, timings

    def _candidates(
        self,
        view: UserView,
        constraints: Constraints,
        query: str,
        anchor: Item | None,
        need_query: str = "",
        request_only: bool = False,
        personal: bool = True,
        exclude_things: tuple[str, ...] = (),
        situation: bool = False,
    ) -> dict[str, Scored]:
        pool: dict[str, Scored] = {}
        k = self.config.n_candidates * 3

        def add(item_id: str, score: float, source: str) -> None:
            item = self.items.get(item_id)
            if item is None:
                return
            if item_id not in pool:
                pool[item_id] = Scored(item, 0.0, source)
            entry = pool[item_id]
            entry.score += score
            entry.contributions[source] = entry.contributions.get(source, 0.0) + score

        history = view.sequence() if personal else []
        if anchor is not None:
            history = history + [anchor.item_id]
        if history and self.stage is not None:
            # Weighted reciprocal-rank fusion, kept per source so the wording can name the
            # source that contributed most; owned items are filtered later (refills stay).
            fused = self.stage.fused
            rrf = fused.config.rrf_k + 1
            if fused.learned is not None:
                # the learned fusion's order, on the RRF scale the query and refill scores
                # are set against, credited to the source that gave each item most
                lists = {n: s.candidates(history, k, set()) for n, s in fused.sources.items()
                         if fused.serves(n)}  # fmt: skip
                total = sum(fused.weights.values())
                ranked = fused.learned.order(lists, fused.config.rrf_k, k, k)
                for rank, (item_id, _score, by) in enumerate(ranked):
                    add(item_id, total / (rank + rrf), max(by, key=lambda n: by[n]))
            else:
                for name, src in fused.sources.items():
                    weight = fused.weights.get(name, 0.0)
                    if weight > 0:
                        for rank, (item_id, _s) in enumerate(src.candidates(history, k, set())):
                            add(item_id, weight / (rank + rrf), name)
        else:
            for rank, (item_id, _c) in enumerate(self.popularity.most_common(k)):
                add(item_id, 0.15 / (rank + 10), "popularity")
        due = (
            view.due_refills(self.items, self.repurchase, self.config.replenish_factor)
            if personal
            else {}
        )
        for item_id, (event, _period) in due.items():
            add(item_id, 0.2, "replenishment")
            pool[item_id].replenishment = True
            pool[item_id].evidence = [event]
        for owned_id in list(view.owned)[-10:] if personal else []:
            item = self.items.get(owned_id)
            for comp in (item.attributes or {}).get("complements", []) if item else []:
                add(comp, 0.12, "complement")
        semantic_query = " ".join(x for x in (query, constraints.purpose) if x).strip()
        if anchor is not None:
            semantic_query = (semantic_query + " " + anchor.embedding_text()).strip()
        named = constraints.named()
        if semantic_query or named:
            # "do you have anything from Pelle?", "something in red": what the conditions name
            # is the search when no words are
            q = semantic_query or " ".join(named)
            filt = constraints.to_filter()
            hits = self.store.search_items(q, k, filt)
            if request_only and semantic_query:
                hits = self._request_hits(semantic_query, hits, filt, exclude_things, situation)
            for rank, (item, _sim) in enumerate(hits):
                self.note_item(item)
                # an explicit request outweighs what the history alone suggests
                add(
                    item.item_id,
                    (1.5 / (rank + 3)) if semantic_query else 0.3 / (rank + 5),
                    "semantic",
                )
        if need_query and self.config.need_weight > 0:
            # the discount of the history stage's fusion (w / (rank + 10) by default)
            rrf = self.stage.fused.config.rrf_k + 1 if self.stage is not None else 10.0
            hits = self.store.search_items(need_query, self.config.need_k, constraints.to_filter())
            for rank, (item, _sim) in enumerate(h for h in hits if h[1] >= 0.3):
                self.note_item(item)
                add(item.item_id, self.config.need_weight / (rank + rrf), "predicted need")
        return pool

    def _aspects(self) -> AspectScorer | None:
        """The aspect scorer of this catalog snapshot (built on first use)."""
        if self._aspect_scorer is None and self.items:
            try:
                vectors = self.vectors(list(self.items))
                self._aspect_scorer = AspectScorer(self.matcher, vectors, self.store.embedder.embed)
            except Exception as exc:  # a store without vectors still answers by words
                log.warning("aspect scores unavailable: %r", exc)
                return None
        return self._aspect_scorer

    def _request_hits(
        self,
        query: str,
        hits: list[tuple[Item, float]],
        filt: Any,
        exclude_things: tuple[str, ...],
        situation: bool = False,
    ) -> list[tuple[Item, float]]:
        """The items that match a request, best first.

        Relevance is the aspect score (:mod:`bot.recsys.aspects`: every content word of the
        request met by the item's words or meaning); items within 75% of the best are kept. A
        request none of whose words the catalog carries ("guitar strings") keeps only items
        whose whole-text similarity is near the best and above
        ``config.request_min_similarity``, unless it describes a situation or a gift
        (``situation``: "my dad just started cycling"), where meaning alone decides. Items
        that are one of ``exclude_things`` (what the customer said they have) are left out; a
        request that names a kind of item ("a yoga mat") gets that kind when there is one."""
        lexical = self.matcher.lexical(query)
        said = set(content_stems(query))
        had = {stem(w) for t in exclude_things for w in re.findall(r"[a-z]+", t.lower())}
        if not lexical and said and said <= had:
            # only a thing they have, and no item names it ("I just got a kettle" in a shop
            # without kettles): what is near it in meaning is another thing like it (an
            # espresso machine), not something for it
            return []
        scorer = self._aspects()
        aspects = scorer.scores(query) if scorer is not None else {}

        # kinds the customer has ("my espresso machine", "an Aquaclar pitcher"): not for sale
        # again, in any brand
        owned_kinds = {stem(t.split()[-1]) for t in exclude_things if t.split()}

        def owned(item: Item) -> bool:
            return self.matcher.head(item) in owned_kinds or any(
                self.matcher.is_thing(item, t) for t in exclude_things
            )

        def wanted(item: Item) -> bool:
            return filt.accepts(item) and not owned(item)

        hits = [(i, sim) for i, sim in hits if wanted(i)]
        top = max((sim for _i, sim in hits), default=0.0)
        floor = max(self.config.request_min_similarity, 0.8 * top)
        pool: dict[str, Item] = {i.item_id: i for i, _sim in hits}
        for item_id in list(lexical) + sorted(aspects, key=lambda i: -aspects[i])[:50]:
            known = self.items.get(item_id)
            if known is not None and item_id not in pool and wanted(known):
                pool[item_id] = known
        if not lexical and not situation:
            # no word of the request is the catalog's: only what is close in meaning
            pool = {i.item_id: i for i, sim in hits if sim >= floor}
        if aspects:
            relevance = {i: aspects.get(i, 0.0) for i in pool}
            # the bar is set by the whole catalog, not by what the conditions left: when the
            # kind asked for is filtered out (another brand, a lower price), its neighbours
            # that share one word are no substitute
            best_relevance = max(
                (v for i, v in aspects.items() if i in self.items and not owned(self.items[i])),
                default=0.0,
            )
            if lexical:
                # the request names words the catalog has ("dog"): an item with none of them
                # must be close to the best in meaning (a cat toy is near "dog", not a dog's)
                relevance = {
                    i: v
                    for i, v in relevance.items()
                    if lexical.get(i, 0.0) > 0 or v >= 0.9 * best_relevance
                }
                pool = {i: pool[i] for i in relevance}
            if situation and not any(v >= 0.75 * best_relevance for v in relevance.values()):
                # a gift or a situation under conditions ("a small gift around $15"): the best
                # of what the conditions allow
                best_relevance = max(relevance.values(), default=0.0)
        else:
            sims = dict((i.item_id, sim) for i, sim in hits)
            relevance = {i: sims.get(i, 0.0) + 0.3 * lexical.get(i, 0.0) for i in pool}
            best_relevance = max(relevance.values(), default=0.0)
        if best_relevance <= 0:
            return []
        kept = sorted(
            (pool[i] for i in pool if relevance[i] >= 0.75 * best_relevance),
            key=lambda it: -relevance[it.item_id],
        )
        kinds = self.matcher.named_kinds(query, exclude_things)
        meant = (
            scorer.kinds_meant(query) - owned_kinds if scorer is not None and not kinds else set()
        )
        by_meaning = sorted(
            (pool[i] for i in pool if self.matcher.head(pool[i]) in meant),
            key=lambda it: -relevance.get(it.item_id, 0.0),
        )
        if by_meaning:
            # a kind meant in other words ("coffee pods", "water filter jugs"): that kind
            kept, kinds = by_meaning, meant
        of_kind = [i for i in kept if self.matcher.head(i) in kinds]
        if (
            of_kind
            and max(relevance[i.item_id] for i in of_kind) >= 0.9 * relevance[kept[0].item_id]
        ):
            # a kind named in a situation ("the machine is getting crusty, what do I use to
            # clean it") is what the request is about, not always what it asks for: it wins
            # only when its items are also among the most relevant
            kept = of_kind
        elif kept:
            # no kind named: the kinds nearest the request, not every kind that shares a word
            best: dict[str, float] = {}
            for i in kept:
                head = self.matcher.head(i)
                best[head] = max(best.get(head, 0.0), relevance[i.item_id])
            top_kind = max(best.values())
            kept = [i for i in kept if best[self.matcher.head(i)] >= 0.85 * top_kind]
        # within a kind, the variants that carry the words the best of them carries ("light
        # roast capsules": not the dark roast; "grain-free dog food": not the salmon & rice)
        share_of_kind: dict[str, float] = {}
        for i in kept:
            head = self.matcher.head(i)
            share_of_kind[head] = max(share_of_kind.get(head, 0.0), lexical.get(i.item_id, 0.0))
        kept = [
            i
            for i in kept
            if lexical.get(i.item_id, 0.0) >= share_of_kind[self.matcher.head(i)] - 0.05
        ]
        return [(item, relevance[item.item_id]) for item in kept]

    def _filter(
        self, view: UserView, pool: dict[str, Scored], constraints: Constraints, exclude: set[str]
    ) -> list[Scored]:
        filt = constraints.to_filter(frozenset(exclude | view.rejected))
        out = []
        for s in pool.values():
            if s.item.item_id not in self.items or not filt.accepts(s.item):
                continue
            if (
                self.config.exclude_owned
                and s.item.item_id in view.owned
                and not (s.replenishment or s.reorder)
            ):
                continue
            out.append(s)
        out.sort(key=lambda s: -s.score)
        return out

    def _grounded_first(self, view: UserView, ranked: list[Scored]) -> list[Scored]:
        """Candidates the list can justify: a due refill, a request or predicted need, a
        catalog complement, or evidence from the customer's own history (a supported
        co-purchase, the same line or brand). The others only came from other baskets by
        chance: kept after the grounded ones when they are in a department the customer shops
        in, else dropped unless the list would run short (``config.ungrounded="drop"``); all
        kept after the grounded ones ("demote")."""
        if view.is_new:
            return ranked
        departments = {self.items[i].categories[:1] for i in view.owned if i in self.items}
        grounded: list[Scored] = []
        loose: list[Scored] = []
        for s in ranked:
            if s.replenishment or {"semantic", "predicted need", "complement"} & set(
                s.contributions
            ):
                grounded.append(s)
                continue
            s.evidence = s.evidence or self.evidence_for(view, s.item)
            (grounded if s.evidence else loose).append(s)
        if self.config.ungrounded == "drop":
            near = [s for s in loose if s.item.categories[:1] in departments]
            # a short list beats a padded one, down to three: below that (a small shop, a new
            # interest) the rest pads it, each saying only "popular with customers in ..."
            far = [s for s in loose if s.item.categories[:1] not in departments]
            short = max(0, min(3, self.config.n_results) - len(grounded) - len(near))
            loose = near + far[:short]
        return grounded + loose

    def _diversify(self, ranked: list[Scored]) -> list[Scored]:
        """At most ``max_per_group`` variants of one product: a shorter list beats a list of
        five shades of the same lipstick. Only where the shop marks variants (``variant_of``)
        is that final; items grouped by a guess from their titles ("Houndly Dog Kibble -
        Chicken" and "- Lamb") fill a list that would be shorter than three."""
        seen: Counter[str] = Counter()
        kept, spare = [], []
        for s in ranked:
            key = variant_key(s.item)
            if seen[key] < self.config.max_per_group:
                seen[key] += 1
                kept.append(s)
            elif key.startswith("t:") and seen[key] == self.config.max_per_group:
                seen[key] += 1
                spare.append(s)
        return kept + spare[: max(0, min(3, self.config.n_results) - len(kept))]

    def _long_tail(self, ranked: list[Scored], n: int) -> list[Scored]:
        """Keep the top n, but give up to ``long_tail_slots`` of them to less popular items
        that scored well, so the head of the catalog doesn't crowd out everything else."""
        top = ranked[:n]
        slots = self.config.long_tail_slots
        if slots == 0 or len(ranked) <= n or not self.popularity:
            return top
        cutoff = _percentile_count(self.popularity, 0.8)
        tail_in_top = sum(1 for s in top if self.popularity[s.item.item_id] < cutoff)
        extra = [s for s in ranked[n : n * 3] if self.popularity[s.item.item_id] < cutoff]
        for s in extra[: max(0, slots - tail_in_top)]:
            top[-1] = s
            top.sort(key=lambda x: -x.score)
        return top

    # -- grounding ---------------------------------------------------------------------
    def evidence_for(
        self, view: UserView, item: Item, limit: int = 2, min_similarity: float = 0.3
    ) -> list[Event]:
        """The user's own events that explain ``item``, strongest first: owned items whose
        catalog ``complements`` list it, then owned items whose fitted transitions or
        co-occurrence row contains it (people who bought that also bought this), then owned
        items at cosine similarity >= ``min_similarity``; if none of these, the one nearest
        owned item by vector, so an existing customer always gets some grounding."""
        if view.is_new:
            return []
        related: dict[str, Event] = {}  # owned item id -> its last purchase, in citation order
        for e in reversed(view.purchases):
            if e.item_id in view.rejected:  # a 1-2 star review or "not interested": no evidence
                continue
            owned = self.items.get(e.item_id)
            comps = (owned.attributes or {}).get("complements", []) if owned else []
            if item.item_id in comps and e.item_id not in related:
                related[e.item_id] = e
        recent = list(
            dict.fromkeys(
                e.item_id for e in reversed(view.purchases) if e.item_id not in view.rejected
            )
        )
        if len(related) < limit:
            strengths = [
                (self._co_purchase_strength(i, item.item_id), n, i)
                for n, i in enumerate(recent)
                if i != item.item_id
            ]
            # strongest first; ties keep the most recent owned item first
            for strength, _n, i in sorted(strengths, key=lambda t: (-t[0], t[1])):
                if strength <= 0 or len(related) >= limit:
                    break
                ev = view.last_purchase(i)
                if ev is not None:
                    related.setdefault(i, ev)
        if len(related) < limit:
            # the same product line, then the same brand in the same department: relations a
            # customer can check on the item page (no "close to your X" by vector alone)
            for i in recent:
                owned = self.items.get(i)
                if owned is None or i == item.item_id or len(related) >= limit:
                    continue
                if relation(owned, item) in ("line", "brand"):
                    ev = view.last_purchase(i)
                    if ev is not None:
                        related.setdefault(i, ev)
        # prefer the user's review of that item when there is one (it carries their words); one
        # event per owned item (two purchases of it would otherwise cite its review twice)
        out: list[Event] = []
        for e in related.values():
            review = next((r for r in reversed(view.reviews) if r.item_id == e.item_id), None)
            out.append(review or e)
            if len(out) >= limit:
                break
        return out

    def _co_purchase_strength(self, owned_id: str, item_id: str) -> float:
        """How many customers bought both, when that passes the support rule
        (``config.co_purchase_*``, see :mod:`bot.recsys.sources.copurchase`); else 0."""
        return float(self.copurchase.supported(owned_id, item_id))

    def _also(self, owned: Item, item: Item) -> str:
        """The second piece of evidence, in the words of its own relation."""
        kind = relation(owned, item)
        if kind == "complement":
            return f"It also goes with your {owned.title}."
        if kind in ("line", "brand"):
            return f"Also {item.brand}, like your {owned.title}."
        n = self.copurchase.customers(owned.item_id, item.item_id)
        return f"{n} customers who bought your {owned.title} bought it too."

    def explain(
        self, view: UserView, s: Scored, rank: int, request: str = "", personal: bool = True
    ) -> Recommendation:
        """One recommendation with a reason that names a true, checkable relation: a refill
        cadence, a catalog complement, the same line or brand as an owned item, other
        customers' baskets, or the words of the request the item's facts contain."""
        item = s.item
        matched = request_matches(request, item)
        # shopping for someone else: their list owes nothing to this customer's history
        evidence = (s.evidence or self.evidence_for(view, item)) if personal else []
        reason = ""
        if s.replenishment and evidence:
            period = self.repurchase.period_days(item) or 0
            days = int(view.days_since(evidence[0]))
            reason = (
                f"You bought this {days} days ago and it usually lasts about {int(period)} days, "
                "so a refill is probably due."
            )
        elif s.reorder and (last := view.last_purchase(item.item_id)) is not None:
            times = view.times_bought(item.item_id)
            reason = (
                f"Your usual: you've bought this {times} times, most recently {_when(view, last)}."
            )
            evidence = [last]  # the item's own purchases, nothing else
        elif evidence:
            first = evidence[0]
            owned = self.items.get(first.item_id)
            title = owned.title if owned else first.item_id
            when = _when(view, first)
            kind = relation(owned, item) if owned else ""
            if kind == "complement":
                reason = f"It goes with your {title} ({when})."
            elif kind == "line":
                reason = f"Same {item.brand} line as your {title} ({when})."
            elif kind == "brand":
                reason = f"From {item.brand}, like your {title} ({when})."
            else:  # other customers' baskets, with the support the rule asked for
                n = self.copurchase.customers(first.item_id, item.item_id)
                reason = f"{n} customers who bought your {title} ({when}) also bought this."
            if len(evidence) > 1 and kind != "complement":
                other = self.items.get(evidence[1].item_id)
                if other is not None:
                    reason += " " + self._also(other, item)
        elif view.is_new:
            reason = (
                "Popular with customers" + (f" in {item.category}" if item.category else "") + "."
            )
        else:
            reason = (
                "Popular with customers" + (f" in {item.category}" if item.category else "") + "."
            )
        if matched:
            said = ", ".join(f"\u201c{w}\u201d" for w in matched[:3])
            reason = f"Matches what you asked for ({said}). " + (reason if evidence else "")
            reason = reason.strip()
        return Recommendation(
            item_id=item.item_id,
            title=item.title,
            rank=rank,
            score=round(float(s.score), 4),
            reason=reason,
            evidence=[e.event_id for e in evidence if e.user_id == view.user_id],
            price=item.price,
            category=item.category,
            brand=item.brand,
            replenishment=s.replenishment,
            source=s.source,
        )

    def need_phrase(self, chosen: list[Scored], view: UserView) -> str:
        """The predicted next need in words, from the top recommendation's grounding."""
        if not chosen:
            return ""
        top = chosen[0]
        cat = (top.item.category or "item").lower()
        if top.replenishment:
            return f"{cat} refill"
        for e in reversed(view.purchases):
            owned = self.items.get(e.item_id)
            if owned and top.item.item_id in (owned.attributes or {}).get("complements", []):
                return f"{cat} for your {owned.category.lower() or owned.title.lower()}"
        return f"{cat}" if view.is_new else f"more {cat}"


def relation(owned: Item, item: Item) -> str:
    """How an owned item relates to another, in terms a customer can check: "complement"
    (the catalog lists it as going with it), "line" (same brand and product line), "brand"
    (same brand, same department), or "" (no catalog relation)."""
    attrs = owned.attributes or {}
    if item.item_id in attrs.get("complements", []):
        return "complement"
    if owned.brand and owned.brand == item.brand:
        line = attrs.get("line")
        if line and line == (item.attributes or {}).get("line"):
            return "line"
        if owned.categories[:1] == item.categories[:1]:
            return "brand"
    return ""


def request_matches(request: str, item: Item) -> list[str]:
    """The words of a request that the item's facts contain (plural forms count)."""
    from knowledge.records import item_words

    if not request.strip():
        return []
    words = item_words(item)
    skip = request_stop_words()
    out = []
    for w in re.findall(r"[a-z][a-z-]+", request.lower()):
        if w in skip:
            continue
        if len(w) > 2 and (w in words or w.rstrip("s") in words or w + "s" in words):
            out.append(w)
    return list(dict.fromkeys(out))


def _percentile_count(counts: Counter[str], q: float) -> int:
    values = sorted(counts.values())
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0


def _snippet(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "\u2026"


def _when(view: UserView, event: Event) -> str:
    days = int((view.now - event.timestamp) / DAY)
    if days <= 1:
        return "recently"
    if days < 60:
        return f"{days} days ago"
    return f"{days // 30} months ago"
