"""The demo shop: a seeded, deterministic synthetic store produced by nextneed's own code.

Products come from :mod:`knowledge.demo_catalog`; users get one or two personas; purchase
sequences are driven by needs (refills when a consumable runs out, complements after a durable,
persona exploration), and reviews fit the persona and the item. Each user's true next purchase
is held out and written to ``next_needs.jsonl``, so tests can check that the recommender finds it.
The files are in the native format that :mod:`knowledge.ingest` reads; only ``items.jsonl`` and
``events.jsonl`` are meant to be ingested.

The timeline is placed relative to a reference date (today, UTC, unless ``DemoConfig.reference``
pins one): each customer's held-out next purchase falls on that date, so their history ends just
before it, "recent" purchases are recent and refills come due at the catalog's own rates. The same
seed and reference date always give the same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.demo_catalog import (
    PERSONAS,
    PRODUCT_TYPES,
    REVIEW_CATCHES,
    REVIEW_CLOSERS,
    REVIEW_OPENERS,
    TYPE_TEXT,
    Persona,
    ProductType,
)
from knowledge.schema import Item

__all__ = [
    "DemoConfig",
    "DemoData",
    "DemoPaths",
    "demo_items",
    "generate_demo",
    "summary",
    "write_demo",
]

log = logging.getLogger(__name__)

DAY = 86_400
# The stories are simulated in this fixed window, then each customer's timeline is moved so that
# their held-out purchase falls on the reference date (the gaps between their events are kept).
_START = 1_704_067_200  # 2024-01-01 00:00 UTC
_END = 1_751_241_600  # 2025-06-30 00:00 UTC
_TYPES = {t.key: t for t in PRODUCT_TYPES}
_MAX_PURCHASES = 25
# The mix of held-out reasons aimed for; a user whose story has no such step gets the nearest one.
_REASON_WEIGHTS = (("replenishment", 0.5), ("complement", 0.3), ("persona", 0.2))


@dataclass(frozen=True)
class DemoConfig:
    """Size and seed of the demo shop. The same config always gives the same bytes."""

    seed: int = 7
    n_users: int = 600
    n_new_items: int = 12  # brand-new items with no events anywhere (cold-start items)
    n_new_users: int = 0  # users with a persona and a next need but no events (cold-start users)
    review_rate: float = 0.4  # share of purchases followed by a review
    # the day the customers' next purchases are due (their histories end before it); None: today
    # (UTC) when the shop is generated. Tests and dialogs that need exact dates pin it.
    reference: dt.date | None = None

    def __post_init__(self) -> None:
        if self.reference is not None and (
            not isinstance(self.reference, dt.date) or isinstance(self.reference, dt.datetime)
        ):
            raise ValueError(
                f"DemoConfig.reference must be a datetime.date or None, got {self.reference!r}"
            )
        limits = {"n_users": (1, 100_000), "n_new_items": (0, 100), "n_new_users": (0, 10_000)}
        for name, (lo, hi) in limits.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"DemoConfig.{name} must be an int in {lo}..{hi}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"DemoConfig.seed must be an int, got {self.seed!r}")
        if not isinstance(self.review_rate, int | float) or not 0 <= self.review_rate <= 1:
            raise ValueError(f"DemoConfig.review_rate must be in 0..1, got {self.review_rate!r}")

    @property
    def reference_date(self) -> dt.date:
        """The pinned reference date, or today (UTC)."""
        return self.reference or dt.datetime.now(dt.UTC).date()

    @property
    def reference_ts(self) -> int:
        """Midnight (UTC) of the reference date, as a Unix timestamp."""
        day = self.reference_date
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


@dataclass
class DemoData:
    """The demo shop in memory, as the JSON-ready rows of the files ``write_demo`` writes."""

    items: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)  # personas (users.jsonl)
    truth: list[dict[str, Any]] = field(default_factory=list)  # next needs (next_needs.jsonl)

    @property
    def personas(self) -> list[dict[str, Any]]:
        """The users' personas (the rows of ``users.jsonl``)."""
        return self.users


@dataclass(frozen=True)
class DemoPaths:
    """Where ``write_demo`` put each file."""

    directory: Path
    items: Path
    events: Path
    users: Path
    truth: Path
    readme: Path


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _price(rng: random.Random, t: ProductType, frac: float) -> float:
    lo, hi = t.price
    raw = lo + (hi - lo) * min(1.0, max(0.0, frac))
    # shop-style prices (.49/.99) keep "under $20" questions crisp at the boundaries
    return max(0.99, math.floor(raw) + rng.choice((0.49, 0.99)))


def _item(
    t: ProductType, brand: str, line: str, shade: str, base: str, price: float, new: bool
) -> dict[str, Any]:
    """One catalog row; shades of one product share ``base`` as their ``variant_of`` group."""
    item_id = f"{base}-{_slug(shade)}" if shade else base
    title = f"{brand} {line} {t.noun}"
    if shade:
        title += f" - {shade}"
    if t.size and "Pack" not in t.noun:  # "20 Pack" already says it
        title += f", {t.size}"
    description = _description(t, brand, line, shade) + (" New in our shop." if new else "")
    return {
        "item_id": item_id,
        "title": title,
        "brand": brand,
        "categories": [t.category, t.sub],
        "price": price,
        "description": description,
        "attributes": {
            "type": t.key,
            "line": line,
            "shade": shade or None,
            "consumable": t.period is not None,
            "replenish_days": t.period,
            "complements": [],
            "variant_of": base if shade else None,
            "new": new,
        },
    }


def _description(t: ProductType, brand: str, line: str, shade: str) -> str:
    """Only facts the catalog holds: the assistant is tested never to add any."""
    parts = [f"{line} {t.noun.split(',')[0].lower()} from {brand}.", TYPE_TEXT[t.key].use]
    if shade:
        parts.append(f"Shade: {shade}.")
    if t.size:
        parts.append(f"Size: {t.size}.")
    if t.material:
        parts.append(f"Material: {t.material}.")
    if t.feature:
        parts.append(f"Power: {t.feature}.")
    if t.period:
        parts.append(f"Lasts about {t.period} days with regular use.")
    return " ".join(parts)


def _catalog(
    rng: random.Random, n_new: int
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    items: list[dict[str, Any]] = []
    by_type: dict[str, list[dict[str, Any]]] = {}
    for t in PRODUCT_TYPES:
        for b, brand in enumerate(t.brands):
            for li, line in enumerate(t.lines):
                # later brands sit higher in the type's price band: budget vs premium choices
                frac = (b / max(1, len(t.brands) - 1)) * 0.6 + rng.random() * 0.4
                price = _price(rng, t, frac)
                base = f"{t.key}-{_slug(brand)}-{li}"
                for shade in t.variants or ("",):
                    item = _item(t, brand, line, shade, base, price, new=False)
                    items.append(item)
                    by_type.setdefault(t.key, []).append(item)
    # brand-new arrivals: no events anywhere, reachable only through their content
    plain = [t for t in PRODUCT_TYPES if not t.variants]
    for n in range(n_new):
        t = plain[(n * 7) % len(plain)]
        brand = ("Novela", "Freshline", "Auralis")[n % 3]
        line = ("Limited Edition", "Eco Refill", "Travel Size", "Pro Series")[n % 4]
        price = _price(rng, t, rng.uniform(0.2, 0.8))
        items.append(_item(t, brand, line, "", f"NEW-{n:03d}", price, new=True))
    # complements point at the established items of the complementary types
    for entry in items:
        attrs = entry["attributes"]
        attrs["complements"] = [
            c["item_id"] for ct in _TYPES[attrs["type"]].complements for c in by_type.get(ct, [])
        ]
    return items, by_type


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _review(rng: random.Random, item: dict[str, Any], persona: Persona) -> tuple[float, str]:
    """A rating and text that fit the persona and mention only the item's real attributes."""
    attrs = item["attributes"]
    t = _TYPES[attrs["type"]]
    words = TYPE_TEXT[t.key]
    liked = any(w.lower() in item["title"].lower() for w in persona.likes)
    disliked = any(w.lower() in item["title"].lower() for w in persona.dislikes)
    roll = rng.random()
    if disliked:
        mood = "bad" if roll < 0.8 else "mixed"
    elif liked:
        mood = "good" if roll < 0.75 else ("mixed" if roll < 0.95 else "bad")
    else:
        mood = "good" if roll < 0.45 else ("mixed" if roll < 0.8 else "bad")
    good, bad = rng.choice(words.good), rng.choice(words.bad)
    if mood == "good":
        rating, body = float(rng.choice((4, 5, 5))), f"{_cap(good)}."
        if rng.random() < 0.4:
            body += f" Works well for {persona.me}."
    elif mood == "mixed":
        # a mild, generic catch: the type's own complaints could contradict the praise
        rating, body = 3.0, f"{_cap(good)}, but {rng.choice(REVIEW_CATCHES)}."
    else:
        rating, body = float(rng.choice((1, 2))), f"{_cap(bad)}."
        if disliked:  # say why it missed this persona, naming the product line it came in
            body += rng.choice(
                (
                    f" The {attrs['line']} version is wrong for {persona.me}.",
                    f" Should not have picked {attrs['line']} for {persona.me}.",
                )
            )
    extras: list[str] = []
    if attrs["shade"]:
        extras.append(
            f"The {attrs['shade']} shade "
            + ("suits me." if mood == "good" else "is not quite what I hoped for.")
        )
    if t.period and t.size and rng.random() < 0.5:  # roughly the catalog's own period
        days = round(t.period * rng.uniform(0.85, 1.15))
        span = f"{days} days" if days < 21 else f"{round(days / 7)} weeks"
        extras.append(f"The {t.size} lasted me about {span}.")
    elif t.material and rng.random() < 0.4:
        extras.append(f"The {t.material} feels " + ("solid." if mood != "bad" else "cheap."))
    if rng.random() < 0.4:
        extras.append(
            {"good": "Worth the ${:.2f}.", "mixed": "A bit pricey at ${:.2f}.", "bad": "Not worth ${:.2f}."}[mood].format(item["price"])
        )  # fmt: skip
    close_key = (
        "good" if mood == "good" and t.period else "good_durable" if mood == "good" else mood
    )
    parts = [rng.choice(REVIEW_OPENERS[mood]), body, *extras, rng.choice(REVIEW_CLOSERS[close_key])]
    return rating, " ".join(p for p in parts if p)


def _pick(rng: random.Random, options: list[dict[str, Any]], persona: Persona) -> dict[str, Any]:
    """Prefer lines the persona likes, avoid dislikes, and lean to the persona's budget."""

    def score(it: dict[str, Any]) -> float:
        title = it["title"].lower()
        s = 2.0 * sum(w.lower() in title for w in persona.likes)
        s -= 3.0 * sum(w.lower() in title for w in persona.dislikes)
        lo, hi = _TYPES[it["attributes"]["type"]].price
        rel = (it["price"] - lo) / max(1e-6, hi - lo)
        return s - 1.5 * abs(rel - persona.budget) + rng.random() * 0.8

    return max(options, key=score)


@dataclass
class _Shopper:
    personas: list[Persona]
    owned: dict[str, dict[str, Any]] = field(default_factory=dict)  # type -> last item (ordered)
    last_bought: dict[str, int] = field(default_factory=dict)  # type -> ts


@dataclass(frozen=True)
class _Step:
    item: dict[str, Any]
    reason: str
    need: str
    acceptable: list[str]
    timestamp: int


def _persona_for(personas: list[Persona], tkey: str) -> Persona:
    return next((p for p in personas if tkey in p.types), personas[0])


def _next_need(
    rng: random.Random, s: _Shopper, now: int, by_type: dict[str, list[dict[str, Any]]]
) -> tuple[dict[str, Any], str, str, str] | None:
    """What this shopper buys next: (item, reason, need phrase, product type), or None."""
    due = []
    for tkey, item in s.owned.items():  # dicts keep insertion order: deterministic
        period = _TYPES[tkey].period
        if period and now - s.last_bought[tkey] >= period * DAY * rng.uniform(0.8, 1.1):
            due.append((now - s.last_bought[tkey] - period * DAY, tkey, item))
    # a refill usually comes first, but not always: people also buy new things while stocked up
    if due and rng.random() < 0.75:
        _over, tkey, item = max(due, key=lambda d: d[0])
        if rng.random() < 0.2:  # sometimes a different product of the same kind
            item = _pick(rng, by_type[tkey], _persona_for(s.personas, tkey))
        return item, "replenishment", f"{_TYPES[tkey].sub.lower()} refill", tkey
    for tkey in s.owned:
        for comp in _TYPES[tkey].complements:
            if comp not in s.owned and comp in by_type and rng.random() < 0.5:
                choice = _pick(rng, by_type[comp], _persona_for(s.personas, comp))
                need = f"{_TYPES[comp].sub.lower()} for the {_TYPES[tkey].noun.lower()}"
                return choice, "complement", need, comp
    persona = rng.choice(s.personas)
    todo = [t for t in persona.types if t not in s.owned]
    if not todo:
        return None
    tkey = todo[0] if rng.random() < 0.7 else rng.choice(todo)
    return _pick(rng, by_type[tkey], persona), "persona", _TYPES[tkey].sub.lower(), tkey


def _story(
    rng: random.Random, personas: list[Persona], by_type: dict[str, list[dict[str, Any]]]
) -> list[_Step]:
    """One shopper's purchases in order, one more than can be kept (so any can be held out)."""
    shopper = _Shopper(personas)
    steps: list[_Step] = []
    now = _START + rng.randint(0, 150) * DAY
    idle = 0
    while len(steps) <= _MAX_PURCHASES and now <= _END and idle < 40:
        need = _next_need(rng, shopper, now, by_type)
        if need is None:  # nothing needed yet: time passes until something runs out
            now += rng.randint(5, 20) * DAY
            idle += 1
            continue
        item, reason, phrase, tkey = need
        acceptable = [i["item_id"] for i in by_type[tkey]]
        steps.append(_Step(item, reason, phrase, acceptable, now))
        fresh = tkey not in shopper.owned
        shopper.owned[tkey] = item
        shopper.last_bought[tkey] = now
        # a new durable often comes home with a complement in the same order (same-day bundle)
        bundle = fresh and _TYPES[tkey].complements and rng.random() < 0.35
        now += 0 if bundle else rng.randint(3, 26) * DAY
    return steps


def _cut(rng: random.Random, steps: list[_Step], target: int) -> int | None:
    """Index of the held-out step: near ``target`` and, where possible, of a drawn reason."""
    last = min(len(steps) - 1, _MAX_PURCHASES)
    if last < 3:
        return None
    roll, want = rng.random(), _REASON_WEIGHTS[-1][0]
    for reason, weight in _REASON_WEIGHTS:
        if roll < weight:
            want = reason
            break
        roll -= weight
    positions = range(3, last + 1)
    fitting = [k for k in positions if steps[k].reason == want] or list(positions)
    return min(fitting, key=lambda k: (abs(k - target), k))


def _personas(rng: random.Random) -> list[Persona]:
    chosen = [rng.choice(PERSONAS)]
    if rng.random() < 0.35:  # some people shop for two interests
        second = rng.choice(PERSONAS)
        if second is not chosen[0]:
            chosen.append(second)
    return chosen


def _user_row(user_id: str, personas: list[Persona]) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "persona": "+".join(p.key for p in personas),
        "persona_description": "; ".join(p.description for p in personas),
        "preferences": sorted({w for p in personas for w in p.likes}),
        "dislikes": sorted({w for p in personas for w in p.dislikes}),
    }


def _truth_row(user_id: str, step: _Step, shift: int = 0) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "held_out_item": step.item["item_id"],
        "acceptable_items": step.acceptable,
        "need": step.need,
        "reason": step.reason,
        "timestamp": step.timestamp + shift,  # when the user buys it: the reference date
    }


def generate_demo(config: DemoConfig | None = None) -> DemoData:
    """Build the demo shop in memory (``DemoConfig()`` when no config is given)."""
    config = config or DemoConfig()
    rng = random.Random(config.seed)
    reference = config.reference_ts
    items, by_type = _catalog(rng, config.n_new_items)
    data = DemoData(items=items)
    for u in range(config.n_users):
        user_id = f"u{u + 1:04d}"
        personas = _personas(rng)
        steps = _story(rng, personas, by_type)
        k = _cut(rng, steps, target=rng.randint(3, _MAX_PURCHASES))
        if k is None:  # too short a story to be a useful demo customer
            log.debug("demo user %s skipped: only %d purchases", user_id, len(steps))
            continue
        held = steps[k]
        rows: list[dict[str, Any]] = []
        for step in steps[:k]:
            rows.append(_event(user_id, step.item["item_id"], "purchase", step.timestamp))
            if rng.random() < config.review_rate:
                persona = _persona_for(personas, step.item["attributes"]["type"])
                delay = rng.randint(2, 9) * DAY
                rating, text = _review(rng, step.item, persona)
                # never after the held-out purchase: the history must end before the truth
                ts = min(step.timestamp + delay, held.timestamp, _END)
                rows.append(_event(user_id, step.item["item_id"], "review", ts, rating, text))
        rows.sort(key=lambda e: e["timestamp"])  # stable: same-day rows keep their order
        # the held-out purchase is due on the reference date: the whole story moves with it
        shift = reference - held.timestamp
        for row in rows:
            row["timestamp"] += shift
        data.events.extend(rows)
        data.users.append(_user_row(user_id, personas))
        data.truth.append(_truth_row(user_id, held, shift))
    for n in range(config.n_new_users):  # cold-start users: a persona and a first need only
        user_id = f"u{config.n_users + n + 1:04d}"
        personas = _personas(rng)
        tkey = personas[0].types[0]
        first = _pick(rng, by_type[tkey], personas[0])
        acceptable = [i["item_id"] for i in by_type[tkey]]
        step = _Step(first, "persona", _TYPES[tkey].sub.lower(), acceptable, reference)
        data.users.append(_user_row(user_id, personas))
        data.truth.append(_truth_row(user_id, step))
    log.info("demo shop: %s", summary(data))
    return data


def _event(
    user_id: str, item_id: str, kind: str, ts: int, rating: float | None = None, text: str = ""
) -> dict[str, Any]:
    # every native column present (detail is for feedback events): ingest has nothing to note
    return {"user_id": user_id, "item_id": item_id, "kind": kind, "timestamp": ts,
            "rating": rating, "text": text, "detail": None}  # fmt: skip


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    tmp.replace(path)  # a crash never leaves a half-written file under the final name


def write_demo(out_dir: str | Path, config: DemoConfig | None = None) -> DemoPaths:
    """Generate the demo shop and write it as native JSON Lines files into ``out_dir``."""
    config = config or DemoConfig()
    # settle "today" once, so the files and their README agree even across midnight
    config = dataclasses.replace(config, reference=config.reference_date)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = generate_demo(config)
    paths = DemoPaths(
        directory=out,
        items=out / "items.jsonl",
        events=out / "events.jsonl",
        users=out / "users.jsonl",
        truth=out / "next_needs.jsonl",
        readme=out / "README.md",
    )
    for path, rows in ((paths.items, data.items), (paths.events, data.events),
                       (paths.users, data.users), (paths.truth, data.truth)):  # fmt: skip
        _jsonl(path, rows)
    counts = summary(data)
    paths.readme.write_text(
        "# nextneed demo shop\n\n"
        f"Synthetic data generated by nextneed (`knowledge.demo`, seed {config.seed}, "
        f"reference date {config.reference_date.isoformat()}): "
        f"{counts['users']} users, {counts['items']} items in {counts['categories']} categories, "
        f"{counts['events']} events ({counts['reviews']} reviews). No real people, brands or "
        "products.\n\n"
        "- `items.jsonl`, `events.jsonl`: the shop, in nextneed's native format (ingest these).\n"
        "- `users.jsonl`: each user's persona, for tests and docs; never ingested.\n"
        "- `next_needs.jsonl`: each user's held-out next purchase (ground truth for tests and "
        "evaluation); never ingested.\n",
        encoding="utf-8",
    )
    return paths


def demo_items(data: DemoData | None = None) -> list[Item]:
    """The demo catalog as :class:`~knowledge.schema.Item` objects (generated when not given)."""
    rows = (data or generate_demo()).items
    # the row keys are exactly Item's fields; categories become the tuple Item expects
    return [Item(**{**r, "categories": tuple(r["categories"])}) for r in rows]


def summary(data: DemoData) -> dict[str, Any]:
    """Counts, for logs and docs."""
    return {
        "items": len(data.items),
        "new_items": sum(bool(i["attributes"]["new"]) for i in data.items),
        "categories": len({i["categories"][0] for i in data.items}),
        "users": len(data.users),
        "events": len(data.events),
        "purchases": sum(e["kind"] == "purchase" for e in data.events),
        "reviews": sum(e["kind"] == "review" for e in data.events),
    }
