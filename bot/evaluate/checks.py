"""The assertions a dialog turn can make about a reply.

Each check reads the reply and facts taken from the store independently of the assistant (the
catalog, the user's events after the turn, other users' private data), so a check never trusts
the code it is checking. ``run_checks`` returns one :class:`CheckResult` per expectation set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.evaluate.dialogs import Expectations
from bot.reply import Reply
from knowledge.schema import Event, Item

__all__ = [
    "CheckResult",
    "TurnContext",
    "PrivateData",
    "run_checks",
    "CHECKS",
    "owned_and_rejected",
]

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CLAIMS = re.compile(
    r"\b(warrant\w*|guarantee\w*|clinically|dermatologist\w*|certified|award\w*|patent\w*|"
    r"organic|vegan|cruelty[- ]free|hypoallergenic|fda|approved|best[- ]selling|number one|proven)\b",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation on one reply."""

    name: str
    passed: bool
    detail: str = ""


class PrivateData:
    """Every user's event ids and review sentences, to find one user's data in another's reply."""

    def __init__(self, events: Iterable[Event], min_chars: int = 30) -> None:
        self.min_chars = min_chars
        self._ids: dict[str, set[str]] = {}
        self._sentences: dict[str, set[str]] = {}
        for e in events:
            self._ids.setdefault(e.user_id, set()).add(e.event_id)
            for s in _sentences(e.text):
                if len(s) >= min_chars:
                    self._sentences.setdefault(e.user_id, set()).add(s.lower())

    def leaks(self, user_id: str, blob: str, own_texts: Iterable[str] = ()) -> list[str]:
        """Other users' event ids or review sentences found in ``blob``. Sentences the user
        also wrote themselves are not counted (templated reviews repeat across users)."""
        low = blob.lower()
        own = {s.lower() for t in own_texts for s in _sentences(t)}
        found = []
        for user, ids in self._ids.items():
            if user == user_id:
                continue
            found += [f"event id {i} of {user}" for i in ids if i.lower() in low]
            found += [
                f"review text of {user}: \u201c{s[:60]}\u201d"
                for s in self._sentences.get(user, ())
                if s in low and s not in own
            ]
        return found


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(" ".join((text or "").split())) if s.strip()]


@dataclass
class TurnContext:
    """Everything a check may look at for one turn."""

    user_id: str
    message: str
    reply: Reply
    catalog: Mapping[str, Item]
    user_events: list[Event]  # this user's events, read after the turn
    previous: list[Reply] = field(default_factory=list)  # earlier replies in this dialog
    latency_s: float = 0.0
    private: PrivateData | None = None


def owned_and_rejected(events: Iterable[Event]) -> tuple[set[str], set[str]]:
    """Items the user has (bought, reviewed, said they own) and has turned down, replaying
    feedback in order: a later thumbs-up lifts an earlier "not interested"."""
    owned: set[str] = set()
    rejected: set[str] = set()
    for e in sorted(events, key=lambda e: (e.timestamp, e.order)):
        if e.kind in ("purchase", "review") or e.detail in ("owned", "bought"):
            owned.add(e.item_id)
        elif e.detail in ("not_interested", "thumbs_down"):
            rejected.add(e.item_id)
        elif e.detail == "thumbs_up":
            rejected.discard(e.item_id)
    return owned, rejected


Check = Callable[[TurnContext, Any], tuple[bool, str]]


def _ids(ctx: TurnContext) -> list[str]:
    return [r.item_id for r in ctx.reply.recommendations]


def _intent(ctx: TurnContext, want: tuple[str, ...]) -> tuple[bool, str]:
    return ctx.reply.intent in want, f"intent {ctx.reply.intent!r}, expected {' or '.join(want)}"


def _guardrail(ctx: TurnContext, want: str) -> tuple[bool, str]:
    got = ctx.reply.data.get("guardrail")
    return got == want, f"guardrail {got!r}, expected {want!r}"


def _n_recs(ctx: TurnContext, want: Any) -> tuple[bool, str]:
    n = len(ctx.reply.recommendations)
    return want.accepts(n), f"{n} recommendations, expected {want}"


def _all_in_catalog(ctx: TurnContext, _: bool) -> tuple[bool, str]:
    bad = [i for i in _ids(ctx) if i not in ctx.catalog]
    return not bad, f"not in the catalog: {bad}" if bad else "all in the catalog"


def _none_owned(ctx: TurnContext, _: bool) -> tuple[bool, str]:
    owned, _rej = owned_and_rejected(ctx.user_events)
    # an owned consumable may come back only as a flagged refill
    bad = [
        r.item_id for r in ctx.reply.recommendations if r.item_id in owned and not r.replenishment
    ]
    return not bad, f"already owned (not a flagged refill): {bad}" if bad else "none owned"


def _none_rejected(ctx: TurnContext, _: bool) -> tuple[bool, str]:
    _own, rejected = owned_and_rejected(ctx.user_events)
    bad = [i for i in _ids(ctx) if i in rejected]
    return not bad, f"turned down earlier: {bad}" if bad else "none turned down"


def _no_duplicates(ctx: TurnContext, _: bool) -> tuple[bool, str]:
    ids = _ids(ctx)
    dup = sorted({i for i in ids if ids.count(i) > 1})
    return not dup, f"repeated: {dup}" if dup else "no repeats"


def _no_variant_duplicates(ctx: TurnContext, _: bool) -> tuple[bool, str]:
    """No two items are variants (shades, sizes) of one product, per the catalog's
    ``variant_of`` attribute (an item without it is its own product)."""
    groups: dict[str, list[str]] = {}
    for i in _ids(ctx):
        item = ctx.catalog.get(i)
        base = str((item.attributes or {}).get("variant_of") or i) if item else i
        groups.setdefault(base, []).append(i)
    bad = {k: v for k, v in groups.items() if len(v) > 1}
    return not bad, f"variants of one product: {bad}" if bad else f"{len(groups)} distinct products"


def _contains_item(ctx: TurnContext, want: tuple[str, ...]) -> tuple[bool, str]:
    missing = [i for i in want if i not in _ids(ctx)]
    return not missing, f"missing {missing} from {_ids(ctx)}" if missing else "present"


def _excludes_item(ctx: TurnContext, want: tuple[str, ...]) -> tuple[bool, str]:
    bad = [i for i in want if i in _ids(ctx)]
    return not bad, f"listed: {bad}" if bad else "absent"


def _categories(ctx: TurnContext, item_id: str) -> set[str]:
    item = ctx.catalog.get(item_id)
    return {c.lower() for c in item.categories} if item else set()


def _contains_category(ctx: TurnContext, want: str) -> tuple[bool, str]:
    hits = [i for i in _ids(ctx) if want.lower() in _categories(ctx, i)]
    return bool(hits), f"{len(hits)} recommendation(s) in {want!r}"


def _all_in_category(ctx: TurnContext, want: str) -> tuple[bool, str]:
    bad = [i for i in _ids(ctx) if want.lower() not in _categories(ctx, i)]
    ok = bool(_ids(ctx)) and not bad
    return ok, f"outside {want!r}: {bad}" if bad else f"{len(_ids(ctx))} in {want!r}"


def _catalog_price(ctx: TurnContext, item_id: str) -> float | None:
    item = ctx.catalog.get(item_id)
    return item.price if item else None


def _max_price(ctx: TurnContext, limit: float) -> tuple[bool, str]:
    bad = [(i, p) for i in _ids(ctx) if (p := _catalog_price(ctx, i)) is None or p > limit + 1e-9]
    return not bad, f"over {limit} or unpriced: {bad}" if bad else f"all <= {limit}"


def _min_price(ctx: TurnContext, limit: float) -> tuple[bool, str]:
    bad = [(i, p) for i in _ids(ctx) if (p := _catalog_price(ctx, i)) is None or p < limit - 1e-9]
    return not bad, f"under {limit} or unpriced: {bad}" if bad else f"all >= {limit}"


def _excludes_brand(ctx: TurnContext, brands: tuple[str, ...]) -> tuple[bool, str]:
    low = {b.lower() for b in brands}
    bad = [
        i for i in _ids(ctx) if (it := ctx.catalog.get(i)) is not None and it.brand.lower() in low
    ]
    return not bad, f"of an excluded brand: {bad}" if bad else "no excluded brand"


def _evidence_from_user(ctx: TurnContext, _: bool) -> tuple[bool, str]:
    mine = {e.event_id for e in ctx.user_events}
    cited = [eid for r in ctx.reply.recommendations for eid in r.evidence]
    cited += (ctx.reply.data.get("explained") or {}).get("evidence", [])  # an explain turn
    foreign = [eid for eid in cited if eid not in mine]
    if foreign:
        return False, f"evidence not from this user: {foreign}"
    repeated = [
        r.item_id for r in ctx.reply.recommendations if len(set(r.evidence)) < len(r.evidence)
    ]
    if repeated:
        return False, f"the same evidence event cited twice for {repeated}"
    return bool(cited), f"{len(cited)} evidence event(s), all the user's own"


def _text_contains(ctx: TurnContext, words: tuple[str, ...]) -> tuple[bool, str]:
    low = ctx.reply.text.lower()
    missing = [w for w in words if w.lower() not in low]
    return not missing, f"text lacks {missing}" if missing else "all present"


def _text_excludes(ctx: TurnContext, words: tuple[str, ...]) -> tuple[bool, str]:
    low = ctx.reply.text.lower()
    found = [w for w in words if w.lower() in low]
    return not found, f"text contains {found}" if found else "none present"


def _text_matches(ctx: TurnContext, pattern: str) -> tuple[bool, str]:
    ok = re.search(pattern, ctx.reply.text, re.M) is not None
    return ok, f"/{pattern}/ {'matches' if ok else 'does not match'}"


def _describe_grounded(ctx: TurnContext, _: bool) -> tuple[bool, str]:
    """Every number and claim in the text is in the item's facts (or the user's own event on
    it: "you rated it 4/5 on 02 Mar 2024"), and the facts agree with the catalog."""
    reply = ctx.reply
    facts = reply.data.get("facts")
    item = ctx.catalog.get(reply.item_id or "")
    if not isinstance(facts, list) or item is None:
        return False, f"no facts or unknown item (item_id={reply.item_id!r})"
    fact_text = " ".join(map(str, facts)).lower()
    if item.title.lower() not in fact_text:
        return False, f"facts do not name the catalog title {item.title!r}"
    if item.price is not None and f"{item.price:.2f}" not in fact_text:
        return False, f"facts do not carry the catalog price {item.price:.2f}"
    allowed = set(_NUMBER.findall(fact_text))
    for e in ctx.user_events:
        if e.item_id == item.item_id:
            day = datetime.fromtimestamp(e.timestamp, UTC)
            allowed |= {str(day.day), f"{day.day:02d}", str(day.year), "5"}
            if e.rating is not None:
                allowed |= {f"{e.rating:.0f}", f"{e.rating:g}", f"{e.rating:.1f}"}
    numbers = [n for n in _NUMBER.findall(reply.text) if n not in allowed]
    claims = [
        m.group(0) for m in _CLAIMS.finditer(reply.text) if m.group(0).lower() not in fact_text
    ]
    if numbers or claims:
        return False, f"not in the facts: numbers {numbers}, claims {claims}"
    return True, f"{len(_NUMBER.findall(reply.text))} number(s), all in the facts"


def _no_other_user_data(ctx: TurnContext, _: bool) -> tuple[bool, str]:
    if ctx.private is None:
        return False, "no reference store to look for other users' data in"
    blob = json.dumps(ctx.reply.to_dict(), ensure_ascii=False)
    leaks = ctx.private.leaks(ctx.user_id, blob, [e.text for e in ctx.user_events])
    return not leaks, f"leaked: {leaks[:3]}" if leaks else "no other user's data"


def _max_latency(ctx: TurnContext, limit: float) -> tuple[bool, str]:
    return ctx.latency_s <= limit, f"{ctx.latency_s:.2f}s (limit {limit}s)"


def _shown_before(ctx: TurnContext) -> list[str]:
    return [r.item_id for p in ctx.previous for r in p.recommendations]


def _excludes_shown(ctx: TurnContext, _: bool) -> tuple[bool, str]:
    before = set(_shown_before(ctx))
    bad = [i for i in _ids(ctx) if i in before]
    return not bad, f"shown before: {bad}" if bad else "all new"


def _last_list(ctx: TurnContext) -> list[str]:
    for p in reversed(ctx.previous):
        if p.recommendations:
            return [r.item_id for r in p.recommendations]
    return []


def _cheaper(ctx: TurnContext, _: bool) -> tuple[bool, str]:
    prices = [p for i in _last_list(ctx) if (p := _catalog_price(ctx, i)) is not None]
    if not prices:
        return False, "no earlier priced list to compare with"
    floor = min(prices)
    bad = [(i, p) for i in _ids(ctx) if (p := _catalog_price(ctx, i)) is None or p >= floor]
    ok = bool(_ids(ctx)) and not bad
    return ok, f"not under {floor}: {bad}" if bad else f"{len(_ids(ctx))} under {floor}"


def _previous_item(ctx: TurnContext, pos: int) -> str | None:
    lst = _last_list(ctx)
    return lst[pos - 1] if 0 < pos <= len(lst) else None


def _refers_to(ctx: TurnContext, pos: int) -> tuple[bool, str]:
    want = _previous_item(ctx, pos)
    ok = want is not None and ctx.reply.item_id == want
    return ok, f"about {ctx.reply.item_id!r}, expected item {pos} of the last list ({want!r})"


def _category_of(ctx: TurnContext, pos: int) -> tuple[bool, str]:
    want = _previous_item(ctx, pos)
    item = ctx.catalog.get(want or "")
    if item is None or not item.category:
        return False, f"item {pos} of the last list has no category"
    return _contains_category(ctx, item.category)


def _feedback_recorded(ctx: TurnContext, kind: str) -> tuple[bool, str]:
    fb = ctx.reply.data.get("feedback")
    if not isinstance(fb, dict):
        return False, "the reply carries no data['feedback']"
    if kind != "any" and fb.get("kind") != kind:
        return False, f"feedback kind {fb.get('kind')!r}, expected {kind!r}"
    stored = [e for e in ctx.user_events if e.event_id == fb.get("event_id")]
    if not stored or stored[0].item_id != fb.get("item_id"):
        return False, f"event {fb.get('event_id')!r} is not in the user's stored events"
    return True, f"{fb.get('kind')} on {fb.get('item_id')} stored"


def _item_id(ctx: TurnContext, want: str) -> tuple[bool, str]:
    return ctx.reply.item_id == want, f"item_id {ctx.reply.item_id!r}, expected {want!r}"


CHECKS: dict[str, Check] = {
    "intent": _intent,
    "guardrail": _guardrail,
    "n_recommendations": _n_recs,
    "all_in_catalog": _all_in_catalog,
    "none_owned": _none_owned,
    "none_rejected": _none_rejected,
    "no_duplicates": _no_duplicates,
    "no_variant_duplicates": _no_variant_duplicates,
    "contains_item": _contains_item,
    "excludes_item": _excludes_item,
    "contains_category": _contains_category,
    "all_in_category": _all_in_category,
    "max_price": _max_price,
    "min_price": _min_price,
    "excludes_brand": _excludes_brand,
    "evidence_from_user": _evidence_from_user,
    "text_contains": _text_contains,
    "text_excludes": _text_excludes,
    "text_matches": _text_matches,
    "describe_grounded": _describe_grounded,
    "no_other_user_data": _no_other_user_data,
    "max_latency_s": _max_latency,
    "excludes_items_shown_before": _excludes_shown,
    "cheaper_than_previous": _cheaper,
    "refers_to_previous": _refers_to,
    "category_of_previous": _category_of,
    "feedback_recorded": _feedback_recorded,
    "item_id": _item_id,
}


def run_checks(expect: Expectations, ctx: TurnContext) -> list[CheckResult]:
    """Run every expectation that is set; an exception inside a check is a failure."""
    out = []
    for name in expect.names():
        value = getattr(expect, name)
        try:
            ok, detail = CHECKS[name](ctx, value)
        except Exception as exc:  # a broken reply must not stop the run
            ok, detail = False, f"check raised {type(exc).__name__}: {exc}"
        out.append(CheckResult(name, bool(ok), detail))
    return out
