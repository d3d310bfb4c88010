"""The demo shop: a seeded, deterministic synthetic store produced by nextneed's own code.

Products come from :mod:`knowledge.demo_catalog`; users get one or two personas; purchase
sequences are driven by needs (refills when a consumable runs out, complements after a durable,
persona exploration), and reviews fit the persona and the item. Each user's true next purchase
is held out and written to ``next_needs.jsonl``, so tests can check that the recommender finds it.
The files are in the native format that :mod:`knowledge.ingest` reads.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from knowledge.demo_catalog import PERSONAS, PRODUCT_TYPES, Persona, ProductType

__all__ = ["DemoConfig", "DemoData", "DemoPaths", "generate_demo", "write_demo"]

DAY = 86_400
_START = 1_704_067_200  # 2024-01-01 UTC
_END = 1_751_241_600  # 2025-06-30 UTC
_TYPES = {t.key: t for t in PRODUCT_TYPES}


@dataclass(frozen=True)
class DemoConfig:
    """Size and seed of the demo shop."""

    seed: int = 7
    n_users: int = 600
    n_new_items: int = 12
    review_rate: float = 0.4

    def __post_init__(self) -> None:
        if self.n_users < 1:
            raise ValueError("DemoConfig.n_users must be >= 1")
        if not 0 <= self.n_new_items <= 100:
            raise ValueError("DemoConfig.n_new_items must be within 0..100")
        if not 0 <= self.review_rate <= 1:
            raise ValueError("DemoConfig.review_rate must be within 0..1")


@dataclass
class DemoData:
    items: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    truth: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class DemoPaths:
    directory: Path
    items: Path
    events: Path
    users: Path
    truth: Path


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _catalog(
    rng: random.Random, n_new: int
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    items: list[dict[str, Any]] = []
    by_type: dict[str, list[dict[str, Any]]] = {}
    for t in PRODUCT_TYPES:
        for b, brand in enumerate(t.brands):
            for li, line in enumerate(t.lines):
                lo, hi = t.price
                # premium brands sit higher in the type's price band
                frac = (b / max(1, len(t.brands) - 1)) * 0.6 + rng.random() * 0.4
                price = (
                    round(lo + (hi - lo) * frac, 2) - 0.01
                    if hi > 5
                    else round(lo + (hi - lo) * frac, 2)
                )
                shades = t.variants or ("",)
                for shade in shades:
                    title = f"{brand} {line} {t.noun}"
                    if shade:
                        title += f" - {shade}"
                    if t.size and "Pack" not in t.noun:  # "20 Pack" already says it
                        title += f", {t.size}"
                    item_id = f"{t.key}-{_slug(brand)}-{li}" + (f"-{_slug(shade)}" if shade else "")
                    desc = _description(t, brand, line, shade)
                    item: dict[str, Any] = {
                        "item_id": item_id,
                        "title": title,
                        "brand": brand,
                        "categories": [t.category, t.sub],
                        "price": max(0.99, round(price, 2)),
                        "description": desc,
                        "attributes": {
                            "type": t.key,
                            "line": line,
                            "consumable": t.period is not None,
                            "replenish_days": t.period,
                            "complements": [],
                            "variant_of": f"{t.key}-{_slug(brand)}-{li}" if shade else None,
                            "new": False,
                        },
                    }
                    items.append(item)
                    by_type.setdefault(t.key, []).append(item)
    # brand-new arrivals: no events anywhere; reachable only through their content
    types = [t for t in PRODUCT_TYPES if not t.variants]
    for n in range(n_new):
        t = types[(n * 7) % len(types)]
        brand = ["Novela", "Freshline", "Auralis"][n % 3]
        line = ["Limited Edition", "Eco Refill", "Travel Size", "Pro Series"][n % 4]
        title = f"{brand} {line} {t.noun}" + (f", {t.size}" if t.size else "")
        lo, hi = t.price
        items.append(
            {
                "item_id": f"NEW-{n:03d}",
                "title": title,
                "brand": brand,
                "categories": [t.category, t.sub],
                "price": round(lo + (hi - lo) * 0.5, 2),
                "description": _description(t, brand, line, "") + " New in our shop.",
                "attributes": {"type": t.key, "line": line, "consumable": t.period is not None,
                               "replenish_days": t.period, "complements": [], "variant_of": None, "new": True},
            }
        )  # fmt: skip
    # complements point at the established items of the complementary types
    for entry in items:
        attrs: dict[str, Any] = entry["attributes"]
        ptype = _TYPES[attrs["type"]]
        attrs["complements"] = [
            c["item_id"] for ct in ptype.complements for c in by_type.get(ct, [])
        ]
    return items, by_type


def _description(t: ProductType, brand: str, line: str, shade: str) -> str:
    parts = [f"{line} {t.noun.split(',')[0].lower()} from {brand}."]
    if shade:
        parts.append(f"Shade: {shade}.")
    if t.size:
        parts.append(f"Contents: {t.size}.")
    if t.material:
        parts.append(f"Made of {t.material}.")
    if t.period:
        parts.append(f"Lasts about {t.period} days with regular use.")
    return " ".join(parts)


_POSITIVE = [
    "Exactly what I needed, {w}.", "Works really well, {w}.", "Great value and {w}.",
    "Happy with it: {w}.", "Will buy again, {w}.",
]  # fmt: skip
_NEGATIVE = [
    "Not for me: {w}.", "Disappointed, {w}.", "Would not buy again, {w}.", "Returned it, {w}.",
]  # fmt: skip
_TYPE_WORDS: dict[str, tuple[str, str]] = {
    "Hair Care": ("my hair feels soft and smooth", "it left my hair greasy"),
    "Skin Care": ("my skin feels calm and hydrated", "it irritated my sensitive skin"),
    "Makeup": ("the colour lasts all day", "it smudged within an hour"),
    "Shaving": ("a close, comfortable shave", "it tugged and caused razor burn"),
    "Music": ("it sounds bright and stays in tune", "it went dead and out of tune after two weeks"),
    "Coffee": ("rich crema and great flavour", "it tasted stale and bitter"),
    "Pets": ("my pet loves it", "my pet refused to touch it"),
    "Baby": ("gentle on my baby's skin", "it leaked overnight"),
    "Oral Care": ("my teeth feel really clean", "it hurt my sensitive gums"),
    "Fitness": ("solid quality for daily workouts", "the quality is flimsy"),
}


def _review(rng: random.Random, item: dict[str, Any], persona: Persona) -> tuple[float, str]:
    title = item["title"]
    liked = any(w.lower() in title.lower() for w in persona.likes)
    disliked = any(w.lower() in title.lower() for w in persona.dislikes)
    good, bad = _TYPE_WORDS[item["categories"][0]]
    if disliked or (not liked and rng.random() < 0.2):
        rating = float(rng.choice([1, 2]))
        text = rng.choice(_NEGATIVE).format(w=bad)
    elif liked:
        rating = float(rng.choice([4, 5, 5]))
        text = rng.choice(_POSITIVE).format(w=good)
    else:
        rating = float(rng.choice([3, 4]))
        text = f"Decent {item['attributes']['type'].replace('_', ' ')}; {good}, though nothing special."
    return rating, text


def _pick(rng: random.Random, options: list[dict[str, Any]], persona: Persona) -> dict[str, Any]:
    """Prefer lines the persona likes, avoid dislikes, and lean to the persona's budget."""

    def score(it: dict[str, Any]) -> float:
        t = it["title"].lower()
        s = 2.0 * sum(w.lower() in t for w in persona.likes) - 3.0 * sum(
            w.lower() in t for w in persona.dislikes
        )
        lo, hi = _TYPES[it["attributes"]["type"]].price
        rel = (it["price"] - lo) / max(1e-6, hi - lo)
        return s - 1.5 * abs(rel - persona.budget) + rng.random() * 0.8

    return max(options, key=score)


@dataclass
class _Shopper:
    user_id: str
    personas: list[Persona]
    owned: dict[str, dict[str, Any]] = field(default_factory=dict)  # type -> item
    last_bought: dict[str, int] = field(default_factory=dict)  # type -> ts
    done: set[str] = field(default_factory=set)  # types tried


def _next_need(
    rng: random.Random, s: _Shopper, now: int, by_type: dict[str, list[dict[str, Any]]]
) -> tuple[dict[str, Any], str, str, list[str]] | None:
    """What this shopper buys next: (item, reason, need phrase, acceptable item ids)."""
    due = []
    for tkey, item in s.owned.items():
        t = _TYPES[tkey]
        if t.period and now - s.last_bought[tkey] >= t.period * DAY * rng.uniform(0.8, 1.1):
            due.append((now - s.last_bought[tkey] - t.period * DAY, tkey, item))
    # a refill usually comes first, but not always: people also buy new things while stocked up
    if due and rng.random() < 0.75:
        _over, tkey, item = max(due, key=lambda x: x[0])
        if rng.random() < 0.8:
            choice = item
        else:
            choice = _pick(rng, by_type[tkey], s.personas[0])
        same = [i["item_id"] for i in by_type[tkey]]
        return choice, "replenishment", f"{_TYPES[tkey].sub.lower()} refill", same
    for tkey in list(s.owned):
        for comp in _TYPES[tkey].complements:
            if (
                comp not in s.owned
                and comp not in s.done
                and comp in by_type
                and rng.random() < 0.75
            ):
                persona = next((p for p in s.personas if comp in p.types), s.personas[0])
                choice = _pick(rng, by_type[comp], persona)
                need = f"{_TYPES[comp].sub.lower()} for the {_TYPES[tkey].noun.lower()}"
                return choice, "complement", need, [i["item_id"] for i in by_type[comp]]
    persona = rng.choice(s.personas)
    todo = [t for t in persona.types if t not in s.done]
    if not todo:
        return None
    tkey = todo[0] if rng.random() < 0.7 else rng.choice(todo)
    choice = _pick(rng, by_type[tkey], persona)
    return choice, "persona", _TYPES[tkey].sub.lower(), [i["item_id"] for i in by_type[tkey]]


def generate_demo(config: DemoConfig | None = None) -> DemoData:
    """Build the demo shop in memory."""
    config = config or DemoConfig()
    rng = random.Random(config.seed)
    items, by_type = _catalog(rng, config.n_new_items)
    data = DemoData(items=items)
    for u in range(config.n_users):
        user_id = f"u{u + 1:04d}"
        personas = [rng.choice(PERSONAS)]
        if rng.random() < 0.35:
            second = rng.choice(PERSONAS)
            if second is not personas[0]:
                personas.append(second)
        shopper = _Shopper(user_id, personas)
        target_len = rng.randint(3, 25)
        now = _START + rng.randint(0, 150) * DAY
        order_events: list[dict[str, Any]] = []
        held_out = None
        purchases = idle = 0
        while idle < 40:
            need = _next_need(rng, shopper, now, by_type)
            if need is None:  # nothing needed yet: time passes until something runs out
                now += rng.randint(5, 20) * DAY
                idle += 1
                continue
            item, reason, phrase, acceptable = need
            if purchases >= target_len or now > _END:
                held_out = (item, reason, phrase, acceptable)
                break
            tkey = item["attributes"]["type"]
            order_events.append(
                {
                    "user_id": user_id,
                    "item_id": item["item_id"],
                    "kind": "purchase",
                    "timestamp": now,
                    "rating": None,
                    "text": "",
                }
            )
            purchases += 1
            if rng.random() < config.review_rate:
                persona = next((p for p in personas if tkey in p.types), personas[0])
                rating, text = _review(rng, item, persona)
                order_events.append(
                    {
                        "user_id": user_id,
                        "item_id": item["item_id"],
                        "kind": "review",
                        "timestamp": now + rng.randint(2, 9) * DAY,
                        "rating": rating,
                        "text": text,
                    }
                )
            shopper.owned[tkey] = item
            shopper.last_bought[tkey] = now
            shopper.done.add(tkey)
            # complements often arrive in the same order (same-day bundles)
            now += (
                0 if (reason == "complement" and rng.random() < 0.3) else rng.randint(3, 26) * DAY
            )
        if purchases < 3 or held_out is None:
            continue  # too short a story to be a useful demo customer
        order_events.sort(key=lambda e: e["timestamp"])  # stable: same-day rows keep their order
        data.events.extend(order_events)
        data.users.append({
            "user_id": user_id,
            "persona": "+".join(p.key for p in personas),
            "persona_description": "; ".join(p.description for p in personas),
            "preferences": sorted({w for p in personas for w in p.likes}),
            "dislikes": sorted({w for p in personas for w in p.dislikes}),
        })  # fmt: skip
        if held_out is not None:
            item, reason, phrase, acceptable = held_out
            data.truth.append(
                {
                    "user_id": user_id,
                    "held_out_item": item["item_id"],
                    "acceptable_items": acceptable,
                    "need": phrase,
                    "reason": reason,
                }
            )
    return data


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    tmp.replace(path)  # a crash never leaves a half-written file under the final name


def write_demo(out_dir: str | Path, config: DemoConfig | None = None) -> DemoPaths:
    """Generate the demo shop and write it as native JSON Lines files into ``out_dir``."""
    config = config or DemoConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = generate_demo(config)
    paths = DemoPaths(
        out,
        out / "items.jsonl",
        out / "events.jsonl",
        out / "users.jsonl",
        out / "next_needs.jsonl",
    )
    _jsonl(paths.items, data.items)
    _jsonl(paths.events, data.events)
    _jsonl(paths.users, data.users)
    _jsonl(paths.truth, data.truth)
    (out / "README.md").write_text(
        "# nextneed demo shop\n\nSynthetic data generated by `knowledge.demo` "
        f"(seed {config.seed}, {len(data.users)} users, {len(data.items)} items, {len(data.events)} events). "
        "No real people or products. `next_needs.jsonl` holds each user's held-out next purchase "
        "(ground truth for tests); it is never ingested.\n",
        encoding="utf-8",
    )
    return paths


def summary(data: DemoData) -> dict[str, Any]:
    """Counts, for logs and docs."""
    return {
        "items": len(data.items),
        "categories": len({i["categories"][0] for i in data.items}),
        "users": len(data.users),
        "events": len(data.events),
        "reviews": sum(e["kind"] == "review" for e in data.events),
        "config": asdict(DemoConfig()),
    }
