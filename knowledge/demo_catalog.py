"""The demo shop's catalog blueprint: categories, product types, brands, needs.

Pure data: one entry per product type. ``period`` is the replenishment period in days for
consumables (None for durables); ``complements`` names product types that go with it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProductType", "PRODUCT_TYPES", "PERSONAS", "Persona"]


@dataclass(frozen=True)
class ProductType:
    key: str
    category: str
    sub: str
    noun: str
    brands: tuple[str, ...]
    lines: tuple[
        str, ...
    ]  # product lines (e.g. "Moisture", "Curl"); each becomes one item per brand
    price: tuple[float, float]
    period: int | None = None
    complements: tuple[str, ...] = ()
    size: str = ""
    material: str = ""
    variants: tuple[str, ...] = ()  # shades/colours: near-duplicates of one product


PRODUCT_TYPES: tuple[ProductType, ...] = (
    ProductType("shampoo", "Hair Care", "Shampoo", "Shampoo", ("Aqualis", "Norrow", "Pelle"), ("Moisture", "Volume", "Curl Defining", "Anti-Dandruff", "Clarifying"), (6, 24), 45, ("conditioner",), "300 ml"),
    ProductType("conditioner", "Hair Care", "Conditioner", "Conditioner", ("Aqualis", "Norrow", "Pelle"), ("Moisture", "Volume", "Curl Defining"), (6, 22), 45, ("hairmask",), "250 ml"),
    ProductType("hairmask", "Hair Care", "Treatments", "Hair Mask", ("Aqualis", "Pelle"), ("Argan Repair", "Deep Moisture"), (12, 30), 60, (), "200 ml"),
    ProductType("hairdryer", "Hair Care", "Styling Tools", "Hair Dryer", ("Voltia", "Breezer"), ("Compact", "Ionic Pro", "Travel Fold"), (35, 120), None, ("heatspray",), "", "1800 W"),
    ProductType("heatspray", "Hair Care", "Styling", "Heat Protect Spray", ("Aqualis", "Norrow"), ("Light Hold", "Strong Hold"), (8, 16), 60, (), "150 ml"),
    ProductType("cleanser", "Skin Care", "Cleanser", "Face Cleanser", ("Dermora", "Lumi", "Calmea"), ("Gentle Foaming", "Oil-Free Gel", "Cream"), (7, 26), 60, ("moisturizer",), "150 ml"),
    ProductType("moisturizer", "Skin Care", "Moisturizer", "Moisturizer", ("Dermora", "Lumi", "Calmea"), ("Daily Hydrating", "Rich Night", "Oil-Free"), (10, 38), 60, ("sunscreen",), "50 ml"),
    ProductType("sunscreen", "Skin Care", "Sunscreen", "Sunscreen SPF 50", ("Dermora", "Lumi"), ("Invisible Fluid", "Sport"), (9, 25), 45, (), "50 ml"),
    ProductType("serum", "Skin Care", "Serum", "Serum", ("Lumi", "Calmea"), ("Vitamin C", "Hyaluronic"), (15, 45), 60, (), "30 ml"),
    ProductType("lipstick", "Makeup", "Lipstick", "Lipstick", ("Rouge Atelier", "Glowa"), ("Velvet Matte", "Satin"), (9, 28), None, (), "3.5 g", "", ("Ruby", "Nude Rose", "Coral", "Berry", "Mocha")),
    ProductType("mascara", "Makeup", "Mascara", "Mascara", ("Rouge Atelier", "Glowa", "Lashly"), ("Volume", "Lengthening"), (8, 24), 90, (), "10 ml"),
    ProductType("foundation", "Makeup", "Foundation", "Foundation", ("Rouge Atelier", "Glowa"), ("Natural Finish",), (14, 36), 75, ("brushset",), "30 ml", "", ("Light", "Medium", "Tan")),
    ProductType("brushset", "Makeup", "Tools", "Makeup Brush Set", ("Lashly",), ("5-Piece", "12-Piece"), (12, 40), None, (), "", "synthetic bristles"),
    ProductType("razor", "Shaving", "Razors", "Safety Razor", ("Keenfield", "Barbury", "Steelan"), ("Classic Double-Edge", "Butterfly"), (22, 60), None, ("blades", "shavecream"), "", "chrome-plated brass"),
    ProductType("blades", "Shaving", "Blades", "Double-Edge Razor Blades, 20 Pack", ("Keenfield", "Barbury", "Steelan"), ("Platinum", "Stainless"), (5, 14), 30, (), "20 blades", "stainless steel"),
    ProductType("shavecream", "Shaving", "Shaving Cream", "Shaving Cream", ("Barbury", "Lathera", "Keenfield"), ("Sensitive", "Sandalwood", "Menthol"), (5, 18), 40, ("aftershave",), "150 ml"),
    ProductType("aftershave", "Shaving", "Aftershave", "Aftershave Balm", ("Barbury", "Lathera"), ("Soothing", "Cooling"), (8, 22), 60, (), "100 ml"),
    ProductType("eshaver", "Shaving", "Electric Shavers", "Electric Shaver", ("Voltia", "Breezer"), ("Rotary", "Foil"), (45, 140), None, ("cartridge",), "", "rechargeable"),
    ProductType("cartridge", "Shaving", "Shaver Care", "Shaver Cleaning Cartridge, 3 Pack", ("Voltia", "Breezer"), ("Standard", "Lemon Fresh"), (10, 20), 60, (), "3 cartridges"),
    ProductType("guitar", "Music", "Guitars", "Acoustic Guitar", ("Oakline", "Maple & Co", "Sundae"), ("Dreadnought", "Concert", "Travel"), (120, 420), None, ("strings", "picks", "tuner", "capo"), "", "spruce top"),
    ProductType("eguitar", "Music", "Guitars", "Electric Guitar", ("Oakline", "Sundae"), ("Solid Body",), (220, 520), None, ("estrings", "picks", "amp"), "", "alder body"),
    ProductType("strings", "Music", "Strings", "Acoustic Guitar Strings", ("Oakline", "Wirewell", "Sundae"), ("Phosphor Bronze Light", "80/20 Bronze Medium"), (6, 16), 60, (), "6 strings"),
    ProductType("estrings", "Music", "Strings", "Electric Guitar Strings", ("Wirewell", "Sundae"), ("Nickel 10-46", "Nickel 9-42"), (5, 13), 60, (), "6 strings"),
    ProductType("picks", "Music", "Accessories", "Guitar Picks, 12 Pack", ("Wirewell", "Plectro"), ("Medium", "Thin"), (3, 8), 120, (), "12 picks", "celluloid"),
    ProductType("tuner", "Music", "Accessories", "Clip-On Tuner", ("Plectro", "Wirewell"), ("Chromatic", "Rechargeable"), (9, 25), None, (), "", "battery powered"),
    ProductType("capo", "Music", "Accessories", "Guitar Capo", ("Plectro",), ("Quick-Change", "Trigger"), (8, 22), None, (), "", "aluminium"),
    ProductType("amp", "Music", "Amplifiers", "Practice Amp", ("Sundae", "Ampora"), ("15 W", "30 W"), (60, 180), None, (), "", ""),
    ProductType("espresso", "Coffee", "Machines", "Espresso Machine", ("Baristo", "Crema Casa"), ("Compact 15-Bar", "Dual Boiler"), (130, 480), None, ("beans", "descaler", "frother"), "", "stainless steel"),
    ProductType("dripper", "Coffee", "Brewers", "Pour-Over Dripper", ("Filtra", "Crema Casa"), ("Ceramic", "Glass"), (15, 40), None, ("filters", "beans", "grinder"), "", ""),
    ProductType("beans", "Coffee", "Coffee Beans", "Coffee Beans", ("Roastery 9", "Highland", "Bean & Bloom"), ("Espresso Roast", "Single Origin Ethiopia", "Decaf", "House Blend", "Dark Roast"), (9, 24), 21, (), "1 kg"),
    ProductType("filters", "Coffee", "Filters", "Paper Filters, 100 Pack", ("Filtra", "Crema Casa"), ("Size 02", "Size 01"), (4, 9), 40, (), "100 filters"),
    ProductType("descaler", "Coffee", "Machine Care", "Descaler", ("Baristo", "Crema Casa"), ("Liquid", "Tablets"), (8, 15), 90, (), "500 ml"),
    ProductType("frother", "Coffee", "Accessories", "Milk Frother", ("Baristo", "Filtra"), ("Handheld", "Electric Jug"), (12, 60), None, (), "", ""),
    ProductType("grinder", "Coffee", "Grinders", "Coffee Grinder", ("Filtra", "Baristo"), ("Burr", "Manual Burr"), (30, 140), None, (), "", ""),
    ProductType("catfood", "Pets", "Cat Food", "Cat Food", ("Whiskerly", "PurrFect", "Meadow Pet"), ("Salmon", "Chicken", "Grain-Free Turkey"), (12, 38), 14, ("catlitter",), "2 kg"),
    ProductType("catlitter", "Pets", "Cat Litter", "Clumping Cat Litter", ("Whiskerly", "Meadow Pet"), ("Unscented", "Lavender"), (8, 20), 14, (), "10 l"),
    ProductType("cattoy", "Pets", "Cat Toys", "Cat Toy", ("PurrFect",), ("Feather Wand", "Catnip Mouse Trio"), (4, 12), None, (), "", ""),
    ProductType("scratcher", "Pets", "Cat Furniture", "Scratching Post", ("PurrFect", "Meadow Pet"), ("Sisal 60 cm", "Cardboard Lounger"), (18, 45), None, (), "", "sisal rope"),
    ProductType("dogfood", "Pets", "Dog Food", "Dog Food", ("Barkwell", "Meadow Pet"), ("Lamb & Rice", "Chicken"), (18, 55), 21, ("dogtreats",), "5 kg"),
    ProductType("dogtreats", "Pets", "Dog Treats", "Dog Treats", ("Barkwell",), ("Dental Chews", "Training Bites"), (5, 14), 14, (), "300 g"),
    ProductType("leash", "Pets", "Dog Gear", "Dog Leash", ("Barkwell",), ("Reflective 2 m", "Padded 1.5 m"), (10, 24), None, (), "", "nylon"),
    ProductType("diapers", "Baby", "Diapers", "Diapers", ("Tiny Steps", "Cloudy", "Nestle Soft"), ("Size 2, 84 Count", "Size 3, 72 Count", "Size 4, 60 Count"), (15, 38), 10, ("wipes",), ""),
    ProductType("wipes", "Baby", "Wipes", "Baby Wipes, 6 Pack", ("Tiny Steps", "Cloudy"), ("Sensitive", "Water-Based"), (7, 15), 14, (), "6 x 64 wipes"),
    ProductType("babylotion", "Baby", "Baby Care", "Baby Lotion", ("Cloudy", "Nestle Soft"), ("Fragrance-Free", "Calendula"), (5, 12), 45, (), "300 ml"),
    ProductType("stroller", "Baby", "Strollers", "Stroller", ("Tiny Steps", "Roamly"), ("Lightweight", "All-Terrain"), (140, 480), None, ("raincover",), "", "aluminium frame"),
    ProductType("raincover", "Baby", "Stroller Accessories", "Stroller Rain Cover", ("Roamly",), ("Universal", "Mesh Sun Shade"), (12, 26), None, (), "", "PVC-free"),
    ProductType("etoothbrush", "Oral Care", "Electric Toothbrushes", "Electric Toothbrush", ("Brightly", "Oralis"), ("Sonic", "Rotating"), (30, 140), None, ("brushheads", "toothpaste"), "", "rechargeable"),
    ProductType("brushheads", "Oral Care", "Brush Heads", "Replacement Brush Heads, 4 Pack", ("Brightly", "Oralis"), ("Clean", "Sensitive"), (12, 28), 90, (), "4 heads"),
    ProductType("toothpaste", "Oral Care", "Toothpaste", "Toothpaste", ("Brightly", "Oralis", "Mintara"), ("Whitening", "Sensitive", "Herbal"), (3, 9), 30, ("floss",), "75 ml"),
    ProductType("floss", "Oral Care", "Floss", "Dental Floss", ("Mintara", "Oralis"), ("Mint Waxed", "Unwaxed"), (2, 6), 45, (), "50 m"),
    ProductType("yogamat", "Fitness", "Yoga", "Yoga Mat", ("Flowfit", "Asana Co"), ("6 mm", "Travel 2 mm"), (20, 80), None, ("yogablocks", "matcleaner"), "", "natural rubber"),
    ProductType("yogablocks", "Fitness", "Yoga", "Yoga Blocks, Pair", ("Flowfit", "Asana Co"), ("Cork", "Foam"), (12, 30), None, (), "", ""),
    ProductType("matcleaner", "Fitness", "Yoga", "Mat Cleaning Spray", ("Asana Co",), ("Eucalyptus", "Lavender"), (7, 13), 60, (), "250 ml"),
    ProductType("protein", "Fitness", "Nutrition", "Protein Powder", ("Musclo", "Pure Lift"), ("Vanilla Whey", "Chocolate Whey", "Vegan Pea"), (22, 55), 30, ("shaker",), "1 kg"),
    ProductType("shaker", "Fitness", "Accessories", "Shaker Bottle", ("Musclo",), ("700 ml", "500 ml Steel"), (6, 14), None, (), "", "BPA-free plastic"),
)  # fmt: skip


@dataclass(frozen=True)
class Persona:
    key: str
    description: str
    types: tuple[str, ...]  # product types they shop for, in rough order of first need
    likes: tuple[str, ...]  # words in a product line/title they prefer
    dislikes: tuple[str, ...]
    budget: float  # 0 = cheapest end, 1 = premium end


PERSONAS: tuple[Persona, ...] = (
    Persona("curly", "curly-hair care: sulphate-conscious, loves defining products", ("shampoo", "conditioner", "hairmask", "heatspray", "hairdryer"), ("Curl", "Moisture", "Argan"), ("Volume",), 0.5),
    Persona("dryhair", "dry, frizzy hair; wants moisture on a budget", ("shampoo", "conditioner", "hairmask"), ("Moisture", "Deep"), ("Anti-Dandruff",), 0.2),
    Persona("skincare", "minimalist skincare, sensitive skin", ("cleanser", "moisturizer", "sunscreen", "serum"), ("Gentle", "Hydrating", "Invisible"), ("Oil-Free Gel",), 0.5),
    Persona("makeup", "everyday makeup lover", ("foundation", "mascara", "lipstick", "brushset"), ("Velvet", "Volume", "Natural"), (), 0.6),
    Persona("wetshaver", "wet shaver who switched to a safety razor", ("razor", "blades", "shavecream", "aftershave"), ("Sensitive", "Platinum", "Soothing"), ("Menthol",), 0.5),
    Persona("eshave", "quick electric shave before work", ("eshaver", "cartridge", "aftershave"), ("Foil", "Cooling"), (), 0.6),
    Persona("guitarist", "beginner acoustic guitarist", ("guitar", "strings", "picks", "tuner", "capo"), ("Light", "Medium", "Concert"), (), 0.4),
    Persona("rocker", "electric guitar player", ("eguitar", "estrings", "amp", "picks"), ("Nickel", "30 W"), (), 0.6),
    Persona("barista", "home barista with an espresso machine", ("espresso", "beans", "descaler", "frother", "grinder"), ("Espresso", "Single Origin"), ("Decaf",), 0.7),
    Persona("pourover", "pour-over coffee fan", ("dripper", "filters", "beans", "grinder"), ("Single Origin", "Ceramic"), ("Decaf",), 0.4),
    Persona("catowner", "cat owner", ("catfood", "catlitter", "cattoy", "scratcher"), ("Salmon", "Unscented", "Grain-Free"), ("Lavender",), 0.4),
    Persona("dogowner", "dog owner", ("dogfood", "dogtreats", "leash"), ("Lamb", "Dental"), (), 0.5),
    Persona("parent", "new parent", ("diapers", "wipes", "babylotion", "stroller", "raincover"), ("Sensitive", "Fragrance-Free"), (), 0.5),
    Persona("oralcare", "careful about oral care", ("etoothbrush", "brushheads", "toothpaste", "floss"), ("Sensitive", "Sonic"), ("Whitening",), 0.5),
    Persona("yogi", "yoga at home", ("yogamat", "yogablocks", "matcleaner"), ("Cork", "6 mm"), (), 0.5),
    Persona("gym", "gym-goer", ("protein", "shaker"), ("Vanilla", "Whey"), ("Vegan",), 0.4),
)  # fmt: skip
