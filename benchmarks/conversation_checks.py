"""The conversation benchmark's labelled set and checks (runner: :mod:`benchmarks.conversation`).

Conversations live in ``benchmarks/conversation/*.yaml``. Each
turn's expectations are small pure functions over the structured reply, the catalog's facts and
the user's events before/after the turn (never over the assistant's own reading of them).

Defaults every turn gets unless it says otherwise: ``no_store_write: true`` (dropped when the
turn declares ``store_write``) and ``reasons_cite_only_related: true``. "Related" (checkable from
the catalog alone): an evidence event's item and the recommended item share their product type
or their sub-category (``categories[1]``) or their brand, or one's type lists the other's type
among its ``attributes.complements`` (the catalog's co-purchase relation); or the reason states
"N customers who bought ..." with N >= 3 and the store's purchase events confirm at least N
customers who bought both (the runner counts them, independently of the assistant's code).

"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CHECKS", "Conversation", "Facts", "Turn", "load_conversations", "run_checks", "related"]

log = logging.getLogger(__name__)
DATA = Path(__file__).resolve().parent / "conversation"
ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}
_STOPWORDS = {
    "en": {"the", "and", "you", "for", "is", "to", "of", "your", "with", "this", "i", "it", "can"},
    "de": {"der", "die", "das", "und", "ich", "nicht", "sie", "ist", "mit", "für", "leider", "ein",
           "eine", "zu", "auf", "wir", "kann", "nur", "es"},
    "es": {"el", "la", "los", "las", "y", "de", "que", "no", "para", "con", "lo", "siento", "es",
           "un", "una", "puedo", "solo", "en", "por"},
}  # fmt: skip


@dataclass
class Facts:
    """What the checks see: the reply and independent facts from the catalog and the store."""

    reply: Any  # bot.reply.Reply
    items: Mapping[str, Any]  # item_id -> knowledge.schema.Item (the catalog)
    before: Sequence[Any] = ()  # the user's events before the turn (knowledge.schema.Event)
    after: Sequence[Any] = ()  # ... and after it
    previous: Sequence[Any] = ()  # the previous reply's recommendations in this conversation
    # customers who bought both of two items, counted by the runner from the store's events
    co_buyers: Callable[[str, str], int] | None = None


def _attr(item: Any, key: str) -> Any:
    if key == "brand":
        return item.brand
    if key == "category":
        return list(item.categories)
    return (item.attributes or {}).get(key)


def _matches(value: Any, wanted: Any) -> bool:
    """Case-insensitive: a list matches if any element does; a string wanted may be a list."""
    wants = [str(w).lower() for w in (wanted if isinstance(wanted, list) else [wanted])]
    values = [str(v).lower() for v in (value if isinstance(value, list) else [value])]
    return any(v == w for v in values for w in wants)


def _recs(f: Facts) -> list[tuple[Any, Any]]:
    return [(r, f.items.get(r.item_id)) for r in f.reply.recommendations]


def _item_ok(item: Any, rule: Mapping[str, Any]) -> str | None:
    """Why ``item`` breaks the ``all_items`` rule, or None."""
    if item is None:
        return "not a catalog item"
    cats = [c.lower() for c in item.categories]
    attrs = item.attributes or {}
    if "category_in" in rule and not set(cats) & {c.lower() for c in rule["category_in"]}:
        return f"category {list(item.categories)} not in {rule['category_in']}"
    if "category_not_in" in rule and set(cats) & {c.lower() for c in rule["category_not_in"]}:
        return f"category {list(item.categories)} is excluded"
    if "type_in" in rule and attrs.get("type") not in rule["type_in"]:
        return f"type {attrs.get('type')} not in {rule['type_in']}"
    if "type_not_in" in rule and attrs.get("type") in rule["type_not_in"]:
        return f"type {attrs.get('type')} is excluded"
    if "brand_in" in rule and not _matches(item.brand, rule["brand_in"]):
        return f"brand {item.brand} not in {rule['brand_in']}"
    if "brand_not_in" in rule and _matches(item.brand, rule["brand_not_in"]):
        return f"brand {item.brand} is excluded"
    if "max_price" in rule and (item.price is None or item.price > rule["max_price"]):
        return f"price {item.price} > {rule['max_price']}"
    if "min_price" in rule and (item.price is None or item.price < rule["min_price"]):
        return f"price {item.price} < {rule['min_price']}"
    if "item_not_in" in rule and item.item_id in rule["item_not_in"]:
        return "an excluded item"
    for key, want in (rule.get("attribute") or {}).items():
        if not _matches(_attr(item, key), want):
            return f"{key}={_attr(item, key)!r}, wanted {want!r}"
    for key, avoid in (rule.get("attribute_not") or {}).items():
        if _attr(item, key) is not None and _matches(_attr(item, key), avoid):
            return f"{key}={_attr(item, key)!r} is avoided"
    return None


# -- the checks: (argument, facts) -> None when passed, else why it failed ------------------


def intent_in(arg: Sequence[str], f: Facts) -> str | None:
    return None if f.reply.intent in arg else f"intent {f.reply.intent!r} not in {list(arg)}"


def no_recommendations(arg: bool, f: Facts) -> str | None:
    n = len(f.reply.recommendations)
    return None if not arg or n == 0 else f"{n} recommendations, expected none"


def min_recommendations(arg: int, f: Facts) -> str | None:
    n = len(f.reply.recommendations)
    return None if n >= arg else f"{n} recommendations, expected >= {arg}"


def must_include_any(arg: Mapping[str, Any], f: Facts) -> str | None:
    """At least one recommended item has one of the listed values (category/brand/type/item),
    or all of one ``attribute: {key: value}`` mapping."""
    for _, item in _recs(f):
        if item is None:
            continue
        for key, wanted in arg.items():
            if key == "attribute":
                if all(_matches(_attr(item, k), v) for k, v in wanted.items()):
                    return None
                continue
            value = item.item_id if key == "item" else _attr(item, key)
            if _matches(value, wanted):
                return None
    return f"no recommendation with {dict(arg)}"


def all_items(arg: Mapping[str, Any], f: Facts) -> str | None:
    """Every recommended item satisfies the rule (vacuously true with no recommendations)."""
    for rec, item in _recs(f):
        why = _item_ok(item, arg)
        if why:
            return f"{rec.item_id}: {why}"
    return None


def _new_events(f: Facts) -> list[Any]:
    seen = {e.event_id for e in f.before}
    return [e for e in f.after if e.event_id not in seen]


def no_store_write(arg: bool, f: Facts) -> str | None:
    new = _new_events(f)
    if not arg or not new:
        return None
    return "wrote " + ", ".join(f"{e.kind}:{e.detail or ''}:{e.item_id}" for e in new)


def _ref(ref: str, f: Facts) -> str | None:
    if ref in ORDINALS:
        i = ORDINALS[ref]
        prev = list(f.previous)
        return prev[i].item_id if -len(prev) <= i < len(prev) else None
    return ref


# what an explicit report may be stored as: a purchase event or feedback of a matching kind
REPORTS = {
    "purchase": (("purchase", None), ("feedback", "bought"), ("feedback", "owned")),
    "owned": (("feedback", "owned"), ("feedback", "bought"), ("purchase", None)),
    "dislike": (("feedback", "not_interested"), ("feedback", "thumbs_down")),
    "like": (("feedback", "thumbs_up"),),
}


def store_write(arg: Mapping[str, Any], f: Facts) -> str | None:
    """A new event for ``report`` (see REPORTS) on ``item_ref`` (ordinal into the last list)."""
    new = _new_events(f)
    target = _ref(str(arg["item_ref"]), f) if "item_ref" in arg else None
    if "item_ref" in arg and target is None:
        return f"no {arg['item_ref']} item in the previous list"
    allowed = REPORTS[arg.get("report", "purchase")]
    for e in new:
        kind_ok = any(e.kind == k and (d is None or e.detail == d) for k, d in allowed)
        item_ok = target is None or e.item_id == target
        type_ok = "type" not in arg or (
            e.item_id in f.items
            and (f.items[e.item_id].attributes or {}).get("type") == arg["type"]
        )
        if kind_ok and item_ok and type_ok:
            return None
    wrote = [(e.kind, e.detail, e.item_id) for e in new]
    return f"no new {arg.get('report', 'purchase')} on {target or arg.get('type')}; new: {wrote}"


def text_mentions(arg: Sequence[str], f: Facts) -> str | None:
    missing = [w for w in arg if w.lower() not in f.reply.text.lower()]
    return f"text lacks {missing}" if missing else None


def text_mentions_any(arg: Sequence[str], f: Facts) -> str | None:
    hit = any(w.lower() in f.reply.text.lower() for w in arg)
    return None if hit else f"text mentions none of {list(arg)}"


def text_not_mentions(arg: Sequence[str], f: Facts) -> str | None:
    found = [w for w in arg if w.lower() in f.reply.text.lower()]
    return f"text mentions {found}" if found else None


def date_forms(day: dt.date) -> list[str]:
    """Ways a reply may write a date: ISO, '14 March 2025', 'March 14, 2025', 'Mar 14', '14/03'."""
    month, mon = day.strftime("%B"), day.strftime("%b")
    return [day.isoformat(), f"{day.day} {month} {day.year}", f"{month} {day.day}, {day.year}",
            f"{month} {day.day}", f"{day.day} {month}", f"{mon} {day.day}", f"{day.day} {mon}",
            f"{day.day:02d}/{day.month:02d}/{day.year}", f"{day.month}/{day.day}/{day.year}"]  # fmt: skip


def _has_date(text: str, day: dt.date) -> bool:
    low = text.lower()
    for form in date_forms(day):
        for m in re.finditer(re.escape(form.lower()), low):
            after = low[m.end() : m.end() + 1]
            if not after.isdigit():  # "March 1" must not match "March 14"
                return True
    return False


def dates_in_text(arg: Sequence[str], f: Facts) -> str | None:
    missing = [str(d) for d in arg if not _has_date(f.reply.text, dt.date.fromisoformat(str(d)))]
    return f"text lacks dates {missing}" if missing else None


def dates_not_in_text(arg: Sequence[str], f: Facts) -> str | None:
    found = [str(d) for d in arg if _has_date(f.reply.text, dt.date.fromisoformat(str(d)))]
    return f"text shows dates {found} (e.g. review dates as order dates)" if found else None


def related(a: Any, b: Any) -> bool:
    """Same type, same sub-category, same brand, or a catalog complement in either direction."""
    ta, tb = (a.attributes or {}).get("type"), (b.attributes or {}).get("type")
    if ta and ta == tb:
        return True
    if len(a.categories) > 1 and len(b.categories) > 1 and a.categories[1] == b.categories[1]:
        return True
    if a.brand and a.brand == b.brand:
        return True
    ca, cb = (
        (a.attributes or {}).get("complements") or [],
        (b.attributes or {}).get("complements") or [],
    )
    return bool(tb and tb in ca) or bool(ta and ta in cb)


_CO_BOUGHT = re.compile(r"(\d+) customers who bought")


def reasons_cite_only_related(arg: bool, f: Facts) -> str | None:
    if not arg:
        return None
    events = {e.event_id: e for e in f.after}
    for rec, item in _recs(f):
        for ev_id in rec.evidence:
            ev = events.get(ev_id)
            if ev is None:
                return f"{rec.item_id} cites {ev_id}, not one of the user's events"
            cited = f.items.get(ev.item_id)
            if item is None or cited is None or related(item, cited):
                if item is None or cited is None:
                    return f"{rec.item_id} cites unrelated {ev.kind} of {ev.item_id}"
                continue
            # a co-purchase reason is related when it states a count the events confirm
            m = _CO_BOUGHT.search(rec.reason or "")
            if (
                m
                and f.co_buyers is not None
                and 3 <= int(m.group(1)) <= f.co_buyers(rec.item_id, ev.item_id)
            ):
                continue
            return f"{rec.item_id} cites unrelated {ev.kind} of {ev.item_id}"
    return None


def cheaper_than_previous(arg: bool, f: Facts) -> str | None:
    prices = [r.price for r in f.reply.recommendations if r.price is not None]
    before = [r.price for r in f.previous if r.price is not None]
    if not arg:
        return None
    if not prices or not before:
        return "no prices to compare"
    if max(prices) > max(before) or sum(prices) / len(prices) >= sum(before) / len(before):
        return f"prices {prices} not cheaper than {before}"
    return None


def excludes_previous(arg: str, f: Facts) -> str | None:
    """``first``/``second``/...: that item is gone; ``all``: no item of the last list repeats."""
    shown = {r.item_id for r in f.reply.recommendations}
    gone = [r.item_id for r in f.previous] if arg == "all" else [_ref(arg, f)]
    back = [i for i in gone if i in shown]
    return f"still shows {back}" if back else None


def brand_differs_from_previous(arg: bool, f: Facts) -> str | None:
    if not arg or not f.previous:
        return None
    old = f.previous[0].brand
    same = [r.item_id for r in f.reply.recommendations if r.brand == old]
    return f"still brand {old}: {same}" if same else None


def refers_to(arg: str, f: Facts) -> str | None:
    """The reply is about the ``arg`` item of the previous list (reply.item_id or its title)."""
    target = _ref(arg, f)
    if target is None:
        return f"no {arg} item in the previous list"
    if f.reply.item_id == target:
        return None
    item = f.items.get(target)
    if item is not None and item.title.lower() in f.reply.text.lower():
        return None
    return f"reply is not about {target} (item_id={f.reply.item_id})"


def compares(arg: Sequence[str], f: Facts) -> str | None:
    """Every referenced item is named (title or id) in the text or the reply's data."""
    blob = (f.reply.text + json.dumps(f.reply.data, default=str)).lower()
    missing = []
    for ref in arg:
        target = _ref(ref, f)
        item = f.items.get(target or "")
        if target is None or (
            target.lower() not in blob and (item is None or item.title.lower() not in blob)
        ):
            missing.append(ref)
    return f"does not show {missing}" if missing else None


def text_language(arg: str, f: Facts) -> str | None:
    """The reply's words are mostly in language ``arg`` (stop-word counts for en/de/es)."""
    words = re.findall(r"[a-zà-ÿß]+", f.reply.text.lower())
    counts = {lang: sum(w in stops for w in words) for lang, stops in _STOPWORDS.items()}
    best = max(counts, key=lambda k: counts[k])
    return None if counts[arg] > 0 and best == arg else f"reply language looks {best}: {counts}"


CHECKS: dict[str, Callable[[Any, Facts], str | None]] = {
    f.__name__: f
    for f in (intent_in, no_recommendations, min_recommendations, must_include_any, all_items,
              no_store_write, store_write, text_mentions, text_mentions_any, text_not_mentions,
              dates_in_text, dates_not_in_text, reasons_cite_only_related, cheaper_than_previous,
              excludes_previous, brand_differs_from_previous, refers_to, compares, text_language)
}  # fmt: skip


def run_checks(expect: Mapping[str, Any], facts: Facts) -> dict[str, str]:
    """The failed checks of one turn, ``{name: why}``; defaults applied (see module doc)."""
    full = {"no_store_write": True, "reasons_cite_only_related": True, **expect}
    if "store_write" in expect and "no_store_write" not in expect:
        full.pop("no_store_write")
    failed = {}
    for name, arg in full.items():
        if name not in CHECKS:
            raise ValueError(f"unknown check {name!r}; known: {sorted(CHECKS)}")
        why = CHECKS[name](arg, facts)
        if why:
            failed[name] = why
    return failed


# -- the labelled set ------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    say: str
    skill: str
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    id: str
    user: str
    turns: tuple[Turn, ...]
    source: str = ""


def load_conversations(directory: Path = DATA) -> list[Conversation]:
    """Every conversation of ``directory/*.yaml``, in file then file order; checks validated."""
    out, ids = [], set()
    for path in sorted(directory.glob("*.yaml")):
        for i, raw in enumerate(yaml.safe_load(path.read_text(encoding="utf-8")) or []):
            where = f"{path.name}, conversation {i + 1}"
            if raw.get("id") in ids or not raw.get("id") or not raw.get("user"):
                raise ValueError(f"{where}: needs a unique id and a user, got {raw.get('id')!r}")
            ids.add(raw["id"])
            turns = []
            for t in raw["turns"]:
                unknown = set(t.get("expect") or {}) - set(CHECKS)
                if unknown or not t.get("say") or not t.get("skill"):
                    raise ValueError(
                        f"{where}: turn {t!r} needs say/skill; unknown checks {unknown}"
                    )
                turns.append(Turn(str(t["say"]), t["skill"], dict(t.get("expect") or {})))
            out.append(Conversation(raw["id"], str(raw["user"]), tuple(turns), path.name))
    return out
