"""Training data for the *message -> request* task: a paraphrase grammar over a catalog.

Each example is one customer message composed from templates and fillers, with the compact
answer the model must give (:func:`bot.tasks.parse.format_reading`). Needs come from the store's
catalog (leaf categories and short product names) and from a list of everyday product kinds
written here, so the model learns to copy whatever the customer names rather than a shop's fixed
list; brands likewise from the catalog and from made-up names. The slot values are always words
of the message, as :func:`bot.tasks.parse.ground` requires.

The wording here is written apart from the conversation benchmark's messages and from the
held-out parser set (``benchmarks/parser/heldout.yaml``); ``tests/test_parse_data.py`` checks that
no generated message shares a five-word run with either.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot.tasks.parse import format_reading
from bot.tasks.prompts import parse_messages
from knowledge.schema import Item

__all__ = ["GENERIC_KINDS", "MADE_UP_BRANDS", "parse_examples", "catalog_kinds"]

# everyday product kinds of many shops (none of them a kind of the conversation benchmark's shop)
GENERIC_KINDS = (
    "garden hose", "plant pots", "potting soil", "phone case", "screen protector", "usb cable",
    "wireless earbuds", "laptop stand", "desk lamp", "light bulbs", "batteries", "extension lead",
    "scented candles", "photo frame", "throw pillow", "bed sheets", "duvet cover", "bath towels",
    "shower curtain", "laundry detergent", "fabric softener", "dish rack", "storage boxes",
    "frying pan", "saucepan", "baking tray", "measuring cups", "wine glasses", "ice cube tray",
    "lunch box", "running shoes", "tennis balls", "swim goggles", "jump rope", "dumbbells",
    "resistance bands", "camping stove", "sleeping bag", "tent pegs", "headlamp", "sunglasses",
    "wallet", "backpack", "umbrella", "winter gloves", "wool scarf", "beanie", "rain boots",
    "board game", "jigsaw puzzle", "colouring pencils", "sketchbook", "acrylic paint",
    "knitting yarn", "hamster bedding", "bird seed", "car wax", "wiper blades", "phone charger",
    "smart plug", "hdmi cable", "keyboard", "mouse pad", "webcam", "hand cream", "lip balm",
    "nail polish", "eye shadow palette", "hair clips", "body wash", "deodorant", "face mask",
    "vitamin d tablets", "hot water bottle", "slippers", "pyjamas", "alarm clock", "door mat",
    "picture hooks", "paint brushes", "cat bed", "rabbit food", "puppy pads", "guitar strap",
    "drum sticks", "piano book", "yoga strap", "kettlebell", "climbing chalk", "ski wax",
)  # fmt: skip
MADE_UP_BRANDS = (
    "Orlo", "Brightwell", "Kestrel", "Marlow", "Tidewater", "Nordvik", "Solace", "Pebblecraft",
    "Halcyon", "Quillon", "Verdant", "Copperleaf", "Ashby", "Fenwick", "Lindqvist", "Moorland",
)  # fmt: skip
_AVOID = (
    "fragrance", "parabens", "sulfates", "peanuts", "gluten", "alcohol", "plastic", "nickel",
    "latex", "dairy", "soy", "perfume", "palm oil", "wool", "silicone",
)  # fmt: skip
_PEOPLE = ("my mum", "my dad", "my sister", "a friend", "my partner", "my boss", "my nephew")
_OPENERS = ("", "", "", "hi, ", "hey, ", "hello! ", "ok so ", "quick one: ", "morning! ", "um ")
_ASKS = (
    "i need {x}", "i'm looking for {x}", "could you find me {x}", "got any {x}?",
    "do you sell {x}", "do you stock {x}?", "i want to buy {x}", "can i get {x}",
    "where would i find {x}", "help me choose {x}", "i'd like {x}", "searching for {x}",
    "in the market for {x}", "point me to {x}", "show me your {x}", "any decent {x}?",
    "need to order {x}", "what {x} do you carry", "i'm after {x}", "recommend me {x}",
    "what {x} would you suggest", "{x} please", "looking to pick up {x}", "have you got {x}",
    "time to buy {x}", "i should probably get {x}", "is there {x} you like",
)  # fmt: skip
_MAX = (
    " under ${n}", " below {n} dollars", " for less than ${n}", " no more than ${n}",
    " up to ${n}", " max {n} bucks", " with a budget of ${n}", " that costs under {n}",
    ", nothing over ${n}", " for ${n} or less",
)  # fmt: skip
_MIN = (" over ${n}", " above {n} dollars", " at least ${n}", " more than ${n}")
_BRAND = (" from {b}", " by {b}", ", ideally {b}", ", {b} if you have it", " made by {b}")
_NOT_BRAND = (" but not {b}", ", nothing from {b}", ", any brand except {b}", ", no {b} please")
_AVOID_T = (" without {a}", " with no {a}", " that is free of {a}", ", no {a} in it")
_REFINE = {
    "cheaper": (
        "cheaper?", "anything less pricey", "too expensive for me", "can you go lower on price",
        "a bit more budget friendly?", "those cost too much", "lower priced ones?",
        "what's the most affordable", "i can't spend that much",
    ),
    "pricier": (
        "something fancier?", "higher end options?", "show me premium ones", "better quality, "
        "money is no issue", "a more luxurious one",
    ),
    "more": (
        "let me see a couple more", "other ones?", "what other options are there", "keep going",
        "any alternatives", "more please", "next few?", "anything beyond these",
    ),
    "otherbrand": (
        "a different maker please", "not that brand", "another make?", "other brands?",
        "something from a different company",
    ),
}  # fmt: skip
_DESCRIBE = (
    "what's the {o} one like", "tell me about number {d}", "more info on the {o} please",
    "details on #{d}", "how big is the {o} one", "what is the {o} made of",
    "can you describe the {o} item", "what do i get with #{d}", "is the {o} one any good",
)  # fmt: skip
_EXPLAIN = (
    "why pick that", "why did you pick the {o}", "what makes #{d} a good fit",
    "how is #{d} relevant to me", "reason for the {o}?", "why are you showing me these",
    "why would i want the {o} one", "what's the logic behind #{d}",
)  # fmt: skip
_COMPARE = (
    "which is better, {d} or {e}", "how do the {o} and {p} differ", "{d} vs {e}?",
    "difference between #{d} and #{e}", "the {o} or the {p}, which would you take",
    "put {d} and {e} side by side",
)  # fmt: skip
_ORDER = (
    "what date was my last {x} order", "what did i order last month", "have i bought {x} before",
    "show my past orders", "list what i've purchased", "how often do i get {x}",
    "what was my last order", "did i ever get {x} from you", "my order history please",
)  # fmt: skip
_COMPLAINT = (
    "my {x} arrived broken", "the parcel never showed up", "i'd like a full refund on that {x}",
    "the {x} stopped working after a week", "wrong {x} in the box", "the {x} came damaged",
    "still no sign of my delivery", "the {x} is faulty, what now",
    # the shop's part is named: what it sent, delivered, charged or must take back
    "the {x} you sent me has a crack in it", "you charged me twice for the {x}",
    "the driver dumped my {x} outside and it got soaked", "i was sent the wrong size {x}",
    "please refund the {x}, it fell apart in days", "the {x} i ordered from you is scratched",
    "my delivery is {d} days overdue", "the box was empty, no {x} inside",
    "how do i return the {x} i bought here", "tracking says delivered but nothing came",
    "half my order is missing", "the {x} from your shop broke the first time i used it",
)  # fmt: skip
# a problem with the customer's own things is a request, not a complaint to the shop: the need
# is the kind they name ("our old {x} has given up" -> need={x})
_PROBLEMS = (
    "our old {x} has given up, time for a new one", "we've run out of {x}",
    "the {x} we have is worn out", "my {x} is on its last legs", "we're nearly out of {x}",
    "my {x} has seen better days", "ours fell apart, so {x} please",
    "the kids wrecked the {x}, need a replacement", "used up the last of the {x}",
    "the dog chewed through my {x}", "lost my {x} on holiday", "my {x} is too small now",
)  # fmt: skip
_PROFILE = (
    "what have you figured out about me", "what do you think i like", "my shopping profile please",
    "what's on file about my tastes", "sum up what i usually buy",
)  # fmt: skip
_GREETING = (
    "hi", "hello there", "thanks a lot", "cheers, that's all", "good evening", "hey!",
    "thank you so much", "ok great, bye", "perfect, thanks", "yo",
)  # fmt: skip
_OFF_TOPIC = (
    "what's the capital of peru", "know any good jokes", "who will win the match tonight",
    "compose a little verse about penguins", "how do i fix my car engine", "what time is it in tokyo",
    "can you do my maths homework", "who is the prime minister", "explain black holes",
    "what's a good movie to watch",
)  # fmt: skip
_UNCLEAR = ("hmm", "ok", "maybe", "not sure", "asdf", "what?", "hm ok", "...", "well", "eh")
_ORD = (("first", 1), ("second", 2), ("third", 3), ("last", -1))


def _plain_kind(text: str) -> str:
    text = html.unescape(text).lower()
    text = re.sub(r",.*$|\(.*?\)|\b\d+(?:[.,]\d+)?\s*(?:ml|l|g|kg|cm|mm|pack|count|w)\b", "", text)
    words = re.findall(r"[a-z][a-z'-]+", text)
    return " ".join(words[-3:])


def catalog_kinds(items: Iterable[Item]) -> tuple[list[str], list[str]]:
    """Need phrases (leaf categories and short product names, brand removed) and brand names."""
    kinds: set[str] = set()
    brands: set[str] = set()
    for it in items:
        if it.brand.strip():
            brands.add(it.brand.strip())
        if it.categories:
            kinds.add(_plain_kind(it.categories[-1]))
        title = it.title.replace(it.brand, "") if it.brand else it.title
        kinds.add(_plain_kind(title))
    return sorted(k for k in kinds if k), sorted(brands)


def _price(rng: random.Random) -> int:
    return rng.choice((10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 80, 100, 150, 200))


def _case(rng: random.Random, text: str) -> str:
    text = text[0].upper() + text[1:] if rng.random() < 0.5 and text else text
    return text.rstrip() if rng.random() < 0.7 else text.rstrip("?") + rng.choice(("?", "!", "."))


def _recommend(rng: random.Random, kinds: Sequence[str], brands: Sequence[str]) -> tuple[str, str]:
    kind = rng.choice(kinds)
    if rng.random() < 0.15:
        return rng.choice(_OPENERS) + rng.choice(_PROBLEMS).format(x=kind), format_reading(
            "recommend", need=kind
        )
    article = rng.choice(("", "", "a ")) if not kind.endswith("s") else ""
    ask = rng.choice(_ASKS).format(x=article + kind)
    extra = ""
    fields: dict[str, Any] = {"need": kind}
    roll = rng.random()
    if roll < 0.3:
        n = _price(rng)
        extra += rng.choice(_MAX).format(n=n)
        fields["max_price"] = n
    elif roll < 0.38:
        n = _price(rng)
        extra += rng.choice(_MIN).format(n=n)
        fields["min_price"] = n
    roll = rng.random()
    if roll < 0.2:
        b = rng.choice(brands)
        extra += rng.choice(_BRAND).format(b=b)
        fields["brands"] = (b,)
    elif roll < 0.32:
        b = rng.choice(brands)
        extra += rng.choice(_NOT_BRAND).format(b=b)
        fields["exclude_brands"] = (b,)
    if rng.random() < 0.15:
        a = rng.choice(_AVOID)
        extra += rng.choice(_AVOID_T).format(a=a)
        fields["avoid"] = (a,)
    if rng.random() < 0.1:
        extra += " for " + rng.choice(_PEOPLE)
    if extra and ask.endswith("?"):
        ask, extra = ask[:-1], extra + "?"
    return rng.choice(_OPENERS) + ask + extra, format_reading("recommend", **fields)


def _refine(rng: random.Random, brands: Sequence[str]) -> tuple[str, str]:
    if rng.random() < 0.2:
        n = _price(rng)
        text = rng.choice(("only ones under ${n}", "keep it below ${n}", "just under {n} dollars"))
        return text.format(n=n), format_reading("refine", max_price=n)
    if rng.random() < 0.12:
        b = rng.choice(brands)
        text = rng.choice(("any from {b}?", "just the {b} ones", "only {b} please"))
        return text.format(b=b), format_reading("refine", brands=(b,))
    flag = rng.choice(tuple(_REFINE))
    return rng.choice(_REFINE[flag]), format_reading("refine", flags=(flag,))


def _one(rng: random.Random, kinds: Sequence[str], brands: Sequence[str]) -> tuple[str, bool, str]:
    """One (message, list shown, answer)."""
    (o, d), (p, e) = rng.sample(_ORD, 2)
    d, e = (d if d > 0 else 4), (e if e > 0 else 4)
    kind = rng.choice(kinds)
    roll = rng.random()
    if roll < 0.42:
        text, answer = _recommend(rng, kinds, brands)
        return text, rng.random() < 0.3, answer
    if roll < 0.55:
        text, answer = _refine(rng, brands)
        return text, True, answer
    simple = (
        (0.62, "describe", _DESCRIBE, True),
        (0.67, "explain", _EXPLAIN, True),
        (0.71, "compare", _COMPARE, True),
        (0.78, "order_question", _ORDER, None),
        (0.84, "complaint", _COMPLAINT, None),
        (0.87, "profile", _PROFILE, None),
        (0.92, "greeting", _GREETING, None),
        (0.97, "off_topic", _OFF_TOPIC, None),
        (1.01, "unclear", _UNCLEAR, None),
    )
    for bound, intent, templates, shown in simple:
        if roll < bound:
            text = rng.choice(templates).format(o=o, d=d, p=p, e=e, x=kind)
            return text, shown if shown is not None else rng.random() < 0.4, format_reading(intent)
    raise AssertionError("unreachable")


def parse_examples(
    items: Iterable[Item], n: int, seed: int = 0, valid_fraction: float = 0.05
) -> list[dict[str, Any]]:
    """``n`` distinct parse examples (``split`` train or valid), seeded and deterministic."""
    kinds, brands = catalog_kinds(items)
    kinds = sorted(set(kinds) | set(GENERIC_KINDS))
    brands = sorted(set(brands) | set(MADE_UP_BRANDS))
    rng = random.Random(f"parse:{seed}")
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, bool]] = set()
    for _attempt in range(n * 20):
        if len(rows) >= n:
            break
        text, shown, answer = _one(rng, kinds, brands)
        text = _case(rng, text)
        if (text.lower(), shown) in seen:
            continue
        seen.add((text.lower(), shown))
        split = "valid" if rng.random() < valid_fraction else "train"
        rows.append(
            {
                "split": split,
                "task": "parse",
                "message": text,
                "list_shown": shown,
                "messages": parse_messages(text, shown),
                "target": answer,
            }
        )
    return rows
