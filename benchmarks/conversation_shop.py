"""The conversation benchmark's shop: a second, seeded shop that is *not* the demo shop.

Departments, products and brands differ from :mod:`knowledge.demo` (kitchen, coffee & tea,
outdoor & bikes, pet supplies, baby & toddler, stationery, wellness), with the same kinds of need
(refills, complements, variants). Items carry checkable attributes (colour, size, material,
allergens, roast, scent). Customers ``c01``..``c12`` are scripted: their orders and reviews are
written out below so the labelled conversations can name exact dates, allergies and disliked
brands. The other customers (``s13``..) shop by persona with a seeded random generator. Every
timestamp falls in the 18 months before the pinned reference date, 2025-06-30.

    python -m benchmarks.conversation_shop OUT_DIR   # writes items.jsonl + events.jsonl

The files are in the native format :func:`knowledge.ingest_dataset` reads.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["REFERENCE", "SEED", "NOT_CARRIED", "generate_shop", "write_shop"]

SEED = 18
REFERENCE = dt.date(2025, 6, 30)
_START = dt.date(2024, 1, 1)
# brands that no item has: "do you have it from X?" must be answered "not carried"
NOT_CARRIED = ("Zentro", "Hydrafox", "Barkley & Co", "Moleskine")


@dataclass(frozen=True)
class Kind:
    key: str
    dept: str
    sub: str
    noun: str
    brands: tuple[str, ...]
    variants: tuple[str, ...]
    price: tuple[float, float]
    period: int | None  # days a consumable lasts; None for durables
    complements: tuple[str, ...] = ()
    material: str = ""
    size: str = ""
    variant_attr: str = "variant"  # which attribute the variant names (colour, size, roast...)
    use: str = ""


# fmt: off
KINDS: tuple[Kind, ...] = (
    Kind("knife", "Kitchen", "Knives", "Chef Knife", ("Kuroba", "Steelfield"), ("20 cm", "16 cm"), (35, 120), None, ("board",), "carbon steel", variant_attr="size", use="For slicing, dicing and chopping."),
    Kind("board", "Kitchen", "Cutting Boards", "Cutting Board", ("Steelfield", "Birchmoor"), ("Bamboo", "Walnut"), (18, 60), None, (), variant_attr="material", use="A sturdy board for food prep."),
    Kind("dishsoap", "Kitchen", "Dish Soap", "Dish Soap Refill, 1 L", ("Clearbrook", "Sudsy"), ("Lemon", "Unscented"), (4, 9), 30, (), size="1 L", variant_attr="scent", use="Cuts grease on dishes and pans."),
    Kind("pitcher", "Kitchen", "Water Filters", "Water Filter Pitcher", ("Aquaclar",), ("2.4 L", "3.5 L"), (25, 45), None, ("cartridge",), "BPA-free plastic", variant_attr="size", use="Filters tap water for better taste."),
    Kind("cartridge", "Kitchen", "Water Filters", "Filter Cartridges, 3 Pack", ("Aquaclar",), ("Standard", "Limescale Plus"), (14, 24), 60, (), variant_attr="variant", use="Replacement cartridges for Aquaclar pitchers."),
    Kind("towels", "Kitchen", "Kitchen Textiles", "Kitchen Towels, Set of 3", ("Birchmoor", "Clearbrook"), ("Red", "Navy", "Grey"), (12, 20), None, (), "cotton", variant_attr="colour", use="Absorbent towels for drying dishes."),
    Kind("kettle", "Kitchen", "Kettles", "Electric Kettle, 1.7 L", ("Birchmoor", "Crema Nova"), ("Red", "Black", "White"), (29, 89), None, ("descale",), "stainless steel", variant_attr="colour", use="Boils water fast, auto shut-off."),
    Kind("grinder", "Coffee & Tea", "Grinders", "Burr Grinder", ("Vellano", "Crema Nova"), ("Manual", "Electric"), (35, 160), None, (), "ceramic burr", variant_attr="variant", use="Grinds beans evenly for espresso or filter."),
    Kind("infuser", "Coffee & Tea", "Tea Accessories", "Tea Infuser", ("Teahouse Mori", "Thermica"), ("Basket", "Ball"), (6, 14), None, ("tea",), "stainless steel", variant_attr="variant", use="Steeps loose leaf tea in a mug or pot."),
    Kind("espresso", "Coffee & Tea", "Espresso Machines", "Espresso Machine", ("Vellano", "Crema Nova"), ("Compact", "Dual Boiler"), (180, 620), None, ("capsules", "descale"), "stainless steel", variant_attr="variant", use="Makes espresso and lungo at home."),
    Kind("capsules", "Coffee & Tea", "Coffee Capsules", "Coffee Capsules, 50 Pack", ("Vellano", "Ristora", "Crema Nova"), ("Light Roast", "Medium Roast", "Dark Roast"), (16, 32), 20, (), variant_attr="roast", use="Espresso capsules for Vellano and Crema Nova machines."),
    Kind("descale", "Coffee & Tea", "Machine Cleaning", "Descaling Tablets, 6 Pack", ("Vellano", "CleanCup"), ("Citric", "Lactic"), (8, 16), 90, (), variant_attr="variant", use="Removes limescale from espresso machines and kettles."),
    Kind("tea", "Coffee & Tea", "Loose Leaf Tea", "Loose Leaf Tea, 100 g", ("Teahouse Mori", "Leafwell"), ("Earl Grey", "Green Sencha", "Masala Chai"), (7, 14), 40, ("mug",), variant_attr="flavour", use="Loose leaf tea for the pot or infuser."),
    Kind("mug", "Coffee & Tea", "Travel Mugs", "Travel Mug, 350 ml", ("Thermica",), ("Red", "Black", "Sage"), (15, 28), None, (), "stainless steel", variant_attr="colour", use="Keeps drinks hot for 6 hours."),
    Kind("helmet", "Outdoor & Bikes", "Bike Helmets", "Bike Helmet", ("Veloce", "Ridgeway"), ("Red M", "Black M", "White L"), (45, 140), None, ("lights",), "EPS foam", variant_attr="colour_size", use="Ventilated helmet for road and city riding."),
    Kind("lights", "Outdoor & Bikes", "Bike Lights", "Bike Light Set", ("Lumaro", "Ridgeway"), ("USB 400 lm", "USB 800 lm"), (22, 55), None, (), variant_attr="variant", use="Rechargeable front and rear lights."),
    Kind("tube", "Outdoor & Bikes", "Tyres & Tubes", "Inner Tube", ("Ridgeway",), ("26 in", "28 in", "29 in"), (6, 11), 120, ("lube",), "butyl rubber", variant_attr="size", use="Replacement inner tube with presta valve."),
    Kind("lube", "Outdoor & Bikes", "Bike Care", "Chain Lube, 100 ml", ("Slickchain",), ("Wet", "Dry"), (7, 13), 60, (), variant_attr="variant", use="Keeps the chain quiet and clean."),
    Kind("socks", "Outdoor & Bikes", "Hiking Apparel", "Hiking Socks, 2 Pairs", ("Trailfox",), ("Size 39-42", "Size 43-46"), (16, 26), 180, (), "merino wool", variant_attr="size", use="Cushioned merino socks for long walks."),
    Kind("jacket", "Outdoor & Bikes", "Hiking Apparel", "Rain Jacket", ("Trailfox", "Northmere"), ("Red", "Blue", "Black"), (70, 190), None, ("socks",), "recycled nylon", variant_attr="colour", use="Waterproof, breathable shell."),
    Kind("bottle", "Outdoor & Bikes", "Hydration", "Water Bottle, 750 ml", ("Trailfox", "Ridgeway"), ("Red", "Blue", "Sage"), (12, 30), None, (), "stainless steel", variant_attr="colour", use="Insulated bottle that fits a bike cage."),
    Kind("dogbed", "Pet Supplies", "Dog Beds", "Dog Bed", ("Houndly", "Pawsome Farm"), ("Grey M", "Grey L", "Navy L"), (35, 95), None, (), "orthopaedic foam", variant_attr="colour_size", use="Washable bed that supports older joints."),
    Kind("kibble", "Pet Supplies", "Dog Food", "Dog Kibble, 6 kg", ("Houndly", "Pawsome Farm"), ("Chicken", "Salmon & Rice", "Lamb Grain-Free"), (28, 62), 30, ("chew",), variant_attr="recipe", use="Complete dry food for adult dogs."),
    Kind("harness", "Pet Supplies", "Dog Walking", "Dog Harness", ("Houndly",), ("Red S", "Red M", "Blue L"), (18, 34), None, (), "padded nylon", variant_attr="colour_size", use="No-pull harness with reflective trim."),
    Kind("dogshampoo", "Pet Supplies", "Pet Grooming", "Dog Shampoo, 500 ml", ("Houndly", "Pawsome Farm"), ("Oatmeal", "Tea Tree"), (8, 14), 60, (), variant_attr="scent", use="Gentle shampoo for dogs."),
    Kind("chew", "Pet Supplies", "Dog Toys", "Chew Toy", ("Pawsome Farm",), ("Rubber Bone", "Rope Knot"), (6, 15), None, (), variant_attr="variant", use="Durable toy for chewers."),
    Kind("fishflakes", "Pet Supplies", "Aquarium", "Tropical Fish Flakes, 100 g", ("Finley's",), ("Colour Boost", "Everyday"), (5, 11), 45, (), variant_attr="variant", use="Daily food for tropical fish."),
    Kind("pullups", "Baby & Toddler", "Training Pants", "Pull-Up Pants", ("Snugglo", "Little Acorn"), ("Size 3, 44 Count", "Size 4, 40 Count", "Size 5, 36 Count"), (14, 29), 12, ("pouches",), variant_attr="size", use="Stretchy training pants for toddlers."),
    Kind("pouches", "Baby & Toddler", "Baby Food", "Baby Food Pouches, 10 Pack", ("Little Acorn",), ("Apple & Pear", "Peanut Butter Banana", "Mango Oat"), (9, 15), 10, (), variant_attr="flavour", use="Smooth fruit purees for toddlers."),
    Kind("sippy", "Baby & Toddler", "Feeding", "Sippy Cup", ("Snugglo", "Little Acorn"), ("Yellow", "Mint", "Red"), (7, 13), None, (), "silicone", variant_attr="colour", use="Spill-proof cup with soft spout."),
    Kind("babyshampoo", "Baby & Toddler", "Bath Time", "Baby Shampoo, 250 ml", ("Snugglo", "Little Acorn"), ("Lavender", "Fragrance-Free"), (5, 9), 60, (), variant_attr="scent", use="Tear-free wash for hair and body."),
    Kind("notebook", "Stationery", "Notebooks", "Notebook A5", ("Papyra", "Inkwell"), ("Red Dotted", "Navy Lined", "Sage Dotted"), (8, 22), None, ("pens",), "recycled paper", variant_attr="colour_ruling", use="Hardcover notebook, 192 pages."),
    Kind("pens", "Stationery", "Pens", "Gel Pens, 10 Pack", ("Scriba", "Papyra", "Inkwell"), ("Black", "Assorted Colours"), (6, 14), 60, (), variant_attr="colour", use="Smooth gel ink, 0.5 mm."),
    Kind("fountain", "Stationery", "Pens", "Fountain Pen", ("Inkwell",), ("Fine Nib", "Medium Nib"), (28, 75), None, ("ink",), "brass", variant_attr="nib", use="Refillable fountain pen."),
    Kind("ink", "Stationery", "Ink & Refills", "Ink Cartridges, 12 Pack", ("Inkwell",), ("Blue", "Black"), (6, 10), 45, (), variant_attr="colour", use="Standard cartridges for Inkwell pens."),
    Kind("paper", "Stationery", "Paper", "Printer Paper, 500 Sheets", ("Papyra",), ("A4 80 gsm", "A4 100 gsm"), (6, 12), 90, (), variant_attr="variant", use="Bright white copy paper."),
    Kind("organiser", "Stationery", "Desk Organisers", "Desk Organiser", ("Papyra", "Birchmoor"), ("Bamboo", "Felt Grey", "Felt Red"), (14, 38), None, (), variant_attr="variant", use="Keeps pens and notes tidy on the desk."),
    Kind("heatpad", "Wellness", "Pain Relief", "Heat Pad", ("Calmora",), ("Back & Neck", "Large"), (25, 55), None, (), "fleece", variant_attr="variant", use="Soothes back pain and sore muscles with steady warmth."),
    Kind("roller", "Wellness", "Recovery", "Foam Roller", ("Flexa",), ("Smooth 45 cm", "Textured 33 cm"), (18, 40), None, ("massageball",), "EVA foam", variant_attr="variant", use="Relieves back and muscle tension."),
    Kind("cushion", "Wellness", "Pain Relief", "Lumbar Support Cushion", ("Calmora", "Flexa"), ("Memory Foam", "Gel"), (24, 49), None, (), variant_attr="material", use="Supports the lower back when sitting for long."),
    Kind("massageball", "Wellness", "Recovery", "Massage Ball Set", ("Flexa",), ("Spiky", "Peanut Duo"), (9, 18), None, (), "silicone", variant_attr="variant", use="Targets knots in back, neck and feet."),
    Kind("bathsalts", "Wellness", "Bath & Relax", "Magnesium Bath Salts, 1 kg", ("Calmora", "Flexa"), ("Lavender", "Eucalyptus"), (9, 16), 30, (), variant_attr="scent", use="Relaxing soak for tired muscles."),
)
# fmt: on
KIND = {k.key: k for k in KINDS}
_ALLERGENS = {"Peanut Butter Banana": ["peanut"], "Mango Oat": ["gluten", "oats"],
              "Chicken": ["chicken"], "Salmon & Rice": ["fish"]}  # fmt: skip
_COLOURS = ("Red", "Navy", "Grey", "Black", "Sage", "Blue", "White", "Yellow", "Mint")  # noqa: E501


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def item_id(kind: str, brand: str, variant: str) -> str:
    """The id of one catalog item: ``<kind>-<brand>-<variant>`` as a slug."""
    return f"{kind}-{_slug(brand)}-{_slug(variant)}"


def _attributes(k: Kind, variant: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {"type": k.key, "consumable": k.period is not None,
                             "replenish_days": k.period, "complements": list(k.complements)}  # fmt: skip
    words = variant.split()
    colour = next((w for w in words if w in _COLOURS), None)
    if colour:
        attrs["colour"] = colour.lower()
    if k.variant_attr in ("size", "colour_size"):
        size = variant if k.variant_attr == "size" else words[-1]
        attrs["size"] = size.split(",")[0]
    if k.variant_attr in ("roast", "scent", "flavour", "recipe", "nib", "material"):
        attrs[k.variant_attr] = variant.lower()
    if k.material:
        attrs["material"] = k.material
    if variant in _ALLERGENS:
        attrs["allergens"] = _ALLERGENS[variant]
    if k.key == "kibble":
        attrs["grain_free"] = "Grain-Free" in variant
    return attrs


def catalog() -> list[dict[str, Any]]:
    """Every item row, in a fixed order; prices are seeded and shop-style (.49/.99)."""
    rng = random.Random(SEED)
    rows = []
    for k in KINDS:
        for b, brand in enumerate(k.brands):
            for variant in k.variants:
                lo, hi = k.price
                frac = (b / max(1, len(k.brands) - 1)) * 0.6 + rng.random() * 0.4
                price = int(lo + (hi - lo) * frac) + rng.choice((0.49, 0.99))
                attrs = _attributes(k, variant)
                facts = [f"{brand} {k.noun.split(',')[0]}, {variant}.", k.use]
                facts += [f"{key.replace('_', ' ').capitalize()}: {val}." for key, val in attrs.items()
                          if key in ("colour", "size", "material", "roast", "scent", "flavour")]  # fmt: skip
                if attrs.get("allergens"):
                    facts.append("Contains: " + ", ".join(attrs["allergens"]) + ".")
                if k.period:
                    facts.append(f"Lasts about {k.period} days with regular use.")
                rows.append({
                    "item_id": item_id(k.key, brand, variant),
                    "title": f"{brand} {k.noun} - {variant}",
                    "brand": brand,
                    "categories": [k.dept, k.sub],
                    "price": price,
                    "description": " ".join(facts),
                    "attributes": attrs,
                })  # fmt: skip
    return rows


def _ts(day: dt.date, hour: int = 10) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC).timestamp())


def _event(user: str, item: str, kind: str, day: dt.date, rating: float | None = None,
           text: str = "", hour: int = 10) -> dict[str, Any]:  # fmt: skip
    return {"user_id": user, "item_id": item, "kind": kind, "timestamp": _ts(day, hour),
            "rating": rating, "text": text, "detail": None}  # fmt: skip


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _every(user: str, item: str, first: str, days: int, last: str = "2025-06-20") -> list[dict]:
    out, day = [], _d(first)
    while day <= _d(last):
        out.append(_event(user, item, "purchase", day))
        day += dt.timedelta(days=days)
    return out


def _buy(user: str, item: str, day: str, review: tuple[float, str] | None = None,
         review_day: str | None = None) -> list[dict]:  # fmt: skip
    rows = [_event(user, item, "purchase", _d(day))]
    if review:
        when = _d(review_day) if review_day else _d(day) + dt.timedelta(days=9)
        rows.append(_event(user, item, "review", when, review[0], review[1], hour=18))
    return rows


def scripted() -> list[dict[str, Any]]:
    """The twelve hand-written customers the labelled conversations lean on."""
    e: list[dict[str, Any]] = []
    I = item_id  # noqa: E741
    # c01 coffee at home: espresso machine, capsules every ~3 weeks, hates dark roast (review)
    e += _buy(
        "c01",
        I("espresso", "Vellano", "Compact"),
        "2024-02-10",
        (5, "Lovely compact machine, great crema."),
    )
    e += _every("c01", I("capsules", "Vellano", "Medium Roast"), "2024-02-10", 21, "2025-06-08")
    e += _buy(
        "c01",
        I("capsules", "Ristora", "Dark Roast"),
        "2024-09-03",
        (1, "Far too bitter and burnt. I really dislike dark roast, never again."),
    )
    e += _buy("c01", I("descale", "CleanCup", "Citric"), "2024-08-15")
    e += _buy("c01", I("descale", "CleanCup", "Citric"), "2025-03-14")
    e += _buy("c01", I("mug", "Thermica", "Black"), "2025-03-14")
    e += _buy("c01", I("tea", "Teahouse Mori", "Earl Grey"), "2025-03-27")
    # c02 dog owner; the dog is allergic to chicken (review), buys kibble monthly
    e += _buy(
        "c02",
        I("kibble", "Houndly", "Chicken"),
        "2024-01-20",
        (1, "My dog turned out to be allergic to chicken, itchy skin for weeks. Can't use this."),
    )
    e += _every("c02", I("kibble", "Houndly", "Salmon & Rice"), "2024-02-15", 30)
    e += _buy(
        "c02", I("harness", "Houndly", "Red M"), "2024-04-02", (4, "Fits well, no more pulling.")
    )
    e += _buy("c02", I("dogshampoo", "Houndly", "Oatmeal"), "2024-06-11")
    e += _buy("c02", I("dogshampoo", "Houndly", "Oatmeal"), "2025-01-09")
    e += _buy("c02", I("chew", "Pawsome Farm", "Rope Knot"), "2024-11-30")
    # c03 parent; toddler has a peanut allergy (review); pull-ups size 3 then size 4
    e += _every("c03", I("pullups", "Snugglo", "Size 3, 44 Count"), "2024-03-01", 12, "2024-12-20")
    e += _every("c03", I("pullups", "Snugglo", "Size 4, 40 Count"), "2025-01-02", 12)
    e += _buy(
        "c03",
        I("pouches", "Little Acorn", "Peanut Butter Banana"),
        "2024-05-04",
        (
            1,
            "My daughter has a peanut allergy, I should have read the label. Do not buy if allergic.",
        ),
    )
    e += _every("c03", I("pouches", "Little Acorn", "Apple & Pear"), "2024-05-20", 14, "2025-06-10")
    e += _buy("c03", I("sippy", "Snugglo", "Mint"), "2024-07-19")
    e += _buy("c03", I("babyshampoo", "Snugglo", "Fragrance-Free"), "2024-08-02")
    # c04 cyclist: helmet, lights, tubes and lube; dislikes Veloce (review)
    e += _buy(
        "c04",
        I("helmet", "Veloce", "Black M"),
        "2024-03-18",
        (2, "Veloce helmet pinches at the temples and the strap broke. Not buying Veloce again."),
    )
    e += _buy("c04", I("lights", "Lumaro", "USB 800 lm"), "2024-03-18")
    e += _every("c04", I("lube", "Slickchain", "Dry"), "2024-04-01", 60)
    e += _buy("c04", I("tube", "Ridgeway", "28 in"), "2024-07-07")
    e += _buy("c04", I("tube", "Ridgeway", "28 in"), "2025-02-11")
    e += _buy("c04", I("socks", "Trailfox", "Size 43-46"), "2024-10-05")
    e += _buy("c04", I("jacket", "Trailfox", "Blue"), "2024-10-05", (5, "Stays dry in heavy rain."))
    # c05 writer: fountain pen and ink; Scriba pens smudge (review)
    e += _buy("c05", I("fountain", "Inkwell", "Fine Nib"), "2024-01-12", (5, "Writes beautifully."))
    e += _every("c05", I("ink", "Inkwell", "Blue"), "2024-01-12", 45)
    e += _buy(
        "c05",
        I("pens", "Scriba", "Black"),
        "2024-05-22",
        (1, "Scriba gel pens smudge on every page, awful. Never buying Scriba again."),
    )
    e += _buy("c05", I("notebook", "Papyra", "Navy Lined"), "2024-02-03")
    e += _buy("c05", I("notebook", "Papyra", "Sage Dotted"), "2024-09-14")
    e += _buy("c05", I("notebook", "Inkwell", "Red Dotted"), "2025-03-08")
    e += _every("c05", I("paper", "Papyra", "A4 80 gsm"), "2024-02-20", 90)
    # c06 back pain: heat pad, cushion, bath salts monthly; eucalyptus gives a rash (review)
    e += _buy(
        "c06",
        I("heatpad", "Calmora", "Back & Neck"),
        "2024-06-05",
        (5, "Helps my back pain a lot."),
    )
    e += _buy("c06", I("cushion", "Calmora", "Memory Foam"), "2024-06-05")
    e += _buy(
        "c06",
        I("bathsalts", "Calmora", "Eucalyptus"),
        "2024-07-01",
        (1, "Eucalyptus gave me a rash, I am sensitive to it. Avoid."),
    )
    e += _every("c06", I("bathsalts", "Calmora", "Lavender"), "2024-08-01", 30)
    # c07 kitchen: water filter pitcher + cartridges every 2 months, dish soap monthly
    e += _buy("c07", I("pitcher", "Aquaclar", "2.4 L"), "2024-01-25")
    e += _every("c07", I("cartridge", "Aquaclar", "Standard"), "2024-01-25", 60)
    e += _every("c07", I("dishsoap", "Clearbrook", "Lemon"), "2024-02-01", 30)
    e += _buy("c07", I("knife", "Kuroba", "20 cm"), "2024-11-22", (5, "Razor sharp."))
    e += _buy("c07", I("towels", "Birchmoor", "Grey"), "2024-11-22")
    # c08 tea drinker and stationery; dislikes Sudsy (review)
    e += _every("c08", I("tea", "Teahouse Mori", "Green Sencha"), "2024-01-15", 40)
    e += _buy(
        "c08",
        I("dishsoap", "Sudsy", "Lemon"),
        "2024-04-10",
        (1, "Sudsy soap left a film on every glass, the smell is awful. Never Sudsy again."),
    )
    e += _every("c08", I("dishsoap", "Clearbrook", "Unscented"), "2024-05-10", 30)
    e += _buy("c08", I("notebook", "Papyra", "Red Dotted"), "2024-12-01")
    # c09 aquarium and cat-free home: fish flakes; c10 hiker; c11 new parent; c12 gifts buyer
    e += _every("c09", I("fishflakes", "Finley's", "Everyday"), "2024-01-05", 45)
    e += _buy("c09", I("mug", "Thermica", "Sage"), "2024-06-30")
    e += _buy("c10", I("jacket", "Northmere", "Red"), "2024-09-09", (4, "Warm and bright."))
    e += _every("c10", I("socks", "Trailfox", "Size 39-42"), "2024-09-09", 180)
    e += _buy("c10", I("roller", "Flexa", "Smooth 45 cm"), "2025-04-04")
    e += _every("c11", I("pullups", "Little Acorn", "Size 3, 44 Count"), "2025-03-01", 12)
    e += _buy("c11", I("babyshampoo", "Snugglo", "Lavender"), "2025-03-01")
    e += _buy("c12", I("notebook", "Inkwell", "Navy Lined"), "2024-12-10")
    e += _buy("c12", I("mug", "Thermica", "Red"), "2024-12-10")
    e += _buy("c12", I("massageball", "Flexa", "Spiky"), "2025-05-02")
    return e


_PERSONAS = (("coffee", ("espresso", "capsules", "descale", "grinder", "mug", "tea")),
             ("dog", ("kibble", "harness", "dogshampoo", "chew", "dogbed")),
             ("toddler", ("pullups", "pouches", "sippy", "babyshampoo")),
             ("cyclist", ("helmet", "lights", "tube", "lube", "jacket", "socks", "bottle")),
             ("desk", ("notebook", "pens", "fountain", "ink", "paper", "organiser")),
             ("kitchen", ("pitcher", "cartridge", "dishsoap", "knife", "board", "towels", "kettle")),
             ("wellness", ("heatpad", "roller", "cushion", "massageball", "bathsalts")),
             ("tea", ("tea", "infuser", "mug", "notebook")))  # fmt: skip
_PRAISE = ("Does the job well.", "Good value, would buy again.", "Exactly as described.")
_MEH = ("It's okay, nothing special.", "Fine, but a bit pricey.")


def simulated(n: int, rng: random.Random, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Persona-driven customers: durables once, consumables at about their period."""
    by_kind: dict[str, list[str]] = {}
    for row in items:
        by_kind.setdefault(row["attributes"]["type"], []).append(row["item_id"])
    events: list[dict[str, Any]] = []
    span = (REFERENCE - _START).days
    for i in range(n):
        user = f"s{13 + i:02d}"
        kinds = list(rng.choice(_PERSONAS)[1])
        if rng.random() < 0.3:
            kinds += list(rng.choice(_PERSONAS)[1])[:2]
        for key in dict.fromkeys(kinds):
            if rng.random() < 0.25:
                continue
            item = rng.choice(by_kind[key])
            day = _START + dt.timedelta(days=rng.randrange(0, span - 60))
            period = KIND[key].period
            while day < REFERENCE:
                events.append(_event(user, item, "purchase", day))
                if rng.random() < 0.3:
                    rating = rng.choice((5.0, 5.0, 4.0, 3.0))
                    text = rng.choice(_PRAISE if rating >= 4 else _MEH)
                    events.append(_event(user, item, "review", day + dt.timedelta(days=7), rating, text, 18))  # fmt: skip
                if period is None:
                    break
                day += dt.timedelta(days=round(period * rng.uniform(0.85, 1.2)))
    return [e for e in events if e["timestamp"] < _ts(REFERENCE, 0)]


def generate_shop(n_simulated: int = 50) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(items, events)`` rows of the benchmark shop; the same bytes on every call."""
    items = catalog()
    known = {r["item_id"] for r in items}
    events = scripted() + simulated(n_simulated, random.Random(SEED), items)
    unknown = {e["item_id"] for e in events} - known
    if unknown:
        raise ValueError(f"scripted events name unknown items: {sorted(unknown)}")
    events.sort(key=lambda e: (e["user_id"], e["timestamp"]))
    return items, events


def write_shop(out_dir: str | Path) -> Path:
    """Write ``items.jsonl`` and ``events.jsonl`` into ``out_dir``; returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items, events = generate_shop()
    for name, rows in (("items.jsonl", items), ("events.jsonl", events)):
        with open(out / name, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    return out


if __name__ == "__main__":
    path = write_shop(sys.argv[1] if len(sys.argv) > 1 else "conversation-shop")
    items, events = generate_shop()
    print(f"{path}: {len(items)} items, {len({e['user_id'] for e in events})} customers, "
          f"{len(events)} events")  # fmt: skip
