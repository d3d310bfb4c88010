"""The demo shop's catalog blueprint: categories, product types, brands, needs.

Pure data: one entry per product type. ``period`` is the replenishment period in days for
consumables (None for durables); ``complements`` names product types that go with it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PERSONAS",
    "PRODUCT_TYPES",
    "REVIEW_CATCHES",
    "REVIEW_CLOSERS",
    "REVIEW_OPENERS",
    "TYPE_TEXT",
    "Persona",
    "ProductType",
    "TypeText",
]


@dataclass(frozen=True)
class ProductType:
    key: str
    category: str
    sub: str
    noun: str
    brands: tuple[str, ...]
    # product lines (e.g. "Moisture", "Curl"); each becomes one item per brand
    lines: tuple[str, ...]
    price: tuple[float, float]
    period: int | None = None
    complements: tuple[str, ...] = ()
    size: str = ""
    material: str = ""
    variants: tuple[str, ...] = ()  # shades/colours: near-duplicates of one product
    feature: str = ""  # a technical fact that is not a material (power, battery)


PRODUCT_TYPES: tuple[ProductType, ...] = (
    ProductType("shampoo", "Hair Care", "Shampoo", "Shampoo", ("Aqualis", "Norrow", "Pelle"), ("Moisture", "Volume", "Curl Defining", "Anti-Dandruff", "Clarifying"), (6, 24), 45, ("conditioner",), "300 ml"),
    ProductType("conditioner", "Hair Care", "Conditioner", "Conditioner", ("Aqualis", "Norrow", "Pelle"), ("Moisture", "Volume", "Curl Defining"), (6, 22), 45, ("hairmask",), "250 ml"),
    ProductType("hairmask", "Hair Care", "Treatments", "Hair Mask", ("Aqualis", "Pelle"), ("Argan Repair", "Deep Moisture"), (12, 30), 60, (), "200 ml"),
    ProductType("hairdryer", "Hair Care", "Styling Tools", "Hair Dryer", ("Voltia", "Breezer"), ("Compact", "Ionic Pro", "Travel Fold"), (35, 120), None, ("heatspray",), "", feature="1800 W"),
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
    ProductType("eshaver", "Shaving", "Electric Shavers", "Electric Shaver", ("Voltia", "Breezer"), ("Rotary", "Foil"), (45, 140), None, ("cartridge",), "", feature="rechargeable"),
    ProductType("cartridge", "Shaving", "Shaver Care", "Shaver Cleaning Cartridge, 3 Pack", ("Voltia", "Breezer"), ("Standard", "Lemon Fresh"), (10, 20), 60, (), "3 cartridges"),
    ProductType("guitar", "Music", "Guitars", "Acoustic Guitar", ("Oakline", "Maple & Co", "Sundae"), ("Dreadnought", "Concert", "Travel"), (120, 420), None, ("strings", "picks", "tuner", "capo"), "", "spruce top"),
    ProductType("eguitar", "Music", "Guitars", "Electric Guitar", ("Oakline", "Sundae"), ("Solid Body",), (220, 520), None, ("estrings", "picks", "amp"), "", "alder body"),
    ProductType("strings", "Music", "Strings", "Acoustic Guitar Strings", ("Oakline", "Wirewell", "Sundae"), ("Phosphor Bronze Light", "80/20 Bronze Medium"), (6, 16), 60, (), "6 strings"),
    ProductType("estrings", "Music", "Strings", "Electric Guitar Strings", ("Wirewell", "Sundae"), ("Nickel 10-46", "Nickel 9-42"), (5, 13), 60, (), "6 strings"),
    ProductType("picks", "Music", "Accessories", "Guitar Picks, 12 Pack", ("Wirewell", "Plectro"), ("Medium", "Thin"), (3, 8), 120, (), "12 picks", "celluloid"),
    ProductType("tuner", "Music", "Accessories", "Clip-On Tuner", ("Plectro", "Wirewell"), ("Chromatic", "Rechargeable"), (9, 25), None, (), "", feature="battery powered"),
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
    ProductType("diapers", "Baby", "Diapers", "Diapers", ("Tiny Steps", "Cloudy", "Nestwell"), ("Size 2, 84 Count", "Size 3, 72 Count", "Size 4, 60 Count"), (15, 38), 10, ("wipes",), ""),
    ProductType("wipes", "Baby", "Wipes", "Baby Wipes, 6 Pack", ("Tiny Steps", "Cloudy"), ("Sensitive", "Water-Based"), (7, 15), 14, (), "6 x 64 wipes"),
    ProductType("babylotion", "Baby", "Baby Care", "Baby Lotion", ("Cloudy", "Nestwell"), ("Fragrance-Free", "Calendula"), (5, 12), 45, (), "300 ml"),
    ProductType("stroller", "Baby", "Strollers", "Stroller", ("Tiny Steps", "Roamly"), ("Lightweight", "All-Terrain"), (140, 480), None, ("raincover",), "", "aluminium frame"),
    ProductType("raincover", "Baby", "Stroller Accessories", "Stroller Rain Cover", ("Roamly",), ("Universal", "Mesh Sun Shade"), (12, 26), None, (), "", "PVC-free"),
    ProductType("etoothbrush", "Oral Care", "Electric Toothbrushes", "Electric Toothbrush", ("Brightly", "Oralis"), ("Sonic", "Rotating"), (30, 140), None, ("brushheads", "toothpaste"), "", feature="rechargeable"),
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
    me: str = "my needs"  # how their reviews refer to themselves: "too oily for my dry hair"


PERSONAS: tuple[Persona, ...] = (
    Persona("curly", "curly-hair care: sulphate-conscious, loves defining products", ("shampoo", "conditioner", "hairmask", "heatspray", "hairdryer"), ("Curl", "Moisture", "Argan"), ("Volume",), 0.5, me="my curls"),
    Persona("dryhair", "dry, frizzy hair; wants moisture on a budget", ("shampoo", "conditioner", "hairmask"), ("Moisture", "Deep"), ("Anti-Dandruff",), 0.2, me="my dry hair"),
    Persona("skincare", "minimalist skincare, sensitive skin", ("cleanser", "moisturizer", "sunscreen", "serum"), ("Gentle", "Hydrating", "Invisible"), ("Oil-Free Gel",), 0.5, me="my sensitive skin"),
    Persona("makeup", "everyday makeup lover", ("foundation", "mascara", "lipstick", "brushset"), ("Velvet", "Volume", "Natural"), (), 0.6, me="my everyday look"),
    Persona("wetshaver", "wet shaver who switched to a safety razor", ("razor", "blades", "shavecream", "aftershave"), ("Sensitive", "Platinum", "Soothing"), ("Menthol",), 0.5, me="my sensitive neck"),
    Persona("eshave", "quick electric shave before work", ("eshaver", "cartridge", "aftershave"), ("Foil", "Cooling"), (), 0.6, me="my morning routine"),
    Persona("guitarist", "beginner acoustic guitarist", ("guitar", "strings", "picks", "tuner", "capo"), ("Light", "Medium", "Concert"), (), 0.4, me="a beginner like me"),
    Persona("rocker", "electric guitar player", ("eguitar", "estrings", "amp", "picks"), ("Nickel", "30 W"), (), 0.6, me="my playing style"),
    Persona("barista", "home barista with an espresso machine", ("espresso", "beans", "descaler", "frother", "grinder"), ("Espresso", "Single Origin"), ("Decaf",), 0.7, me="my espresso routine"),
    Persona("pourover", "pour-over coffee fan", ("dripper", "filters", "beans", "grinder"), ("Single Origin", "Ceramic"), ("Decaf",), 0.4, me="my pour-over mornings"),
    Persona("catowner", "cat owner", ("catfood", "catlitter", "cattoy", "scratcher"), ("Salmon", "Unscented", "Grain-Free"), ("Lavender",), 0.4, me="my cat"),
    Persona("dogowner", "dog owner", ("dogfood", "dogtreats", "leash"), ("Lamb", "Dental"), (), 0.5, me="my dog"),
    Persona("parent", "new parent", ("diapers", "wipes", "babylotion", "stroller", "raincover"), ("Sensitive", "Fragrance-Free"), (), 0.5, me="my baby"),
    Persona("oralcare", "careful about oral care", ("etoothbrush", "brushheads", "toothpaste", "floss"), ("Sensitive", "Sonic"), ("Whitening",), 0.5, me="my sensitive gums"),
    Persona("yogi", "yoga at home", ("yogamat", "yogablocks", "matcleaner"), ("Cork", "6 mm"), (), 0.5, me="my home practice"),
    Persona("gym", "gym-goer", ("protein", "shaker"), ("Vanilla", "Whey"), ("Vegan",), 0.4, me="my training"),
)  # fmt: skip


@dataclass(frozen=True)
class TypeText:
    """Plain words about one product type: what it is for (descriptions) and what buyers say."""

    use: str  # one factual sentence for the description
    good: tuple[str, ...]  # review clauses, lower case, no digits (never a new "fact")
    bad: tuple[str, ...]


TYPE_TEXT: dict[str, TypeText] = {
    "shampoo": TypeText("For washing hair and scalp; lather, rinse, repeat if needed.", ("it lathers well and rinses clean", "my scalp feels fresh for days"), ("it left my hair greasy by the next morning", "the scent is much too strong")),
    "conditioner": TypeText("Apply after shampoo to mid-lengths and ends, then rinse.", ("it detangles in seconds", "my hair feels soft without being weighed down"), ("it weighed my hair down", "too oily for my hair, even in small amounts")),
    "hairmask": TypeText("A weekly treatment: leave on for a few minutes, then rinse.", ("my ends feel repaired after one use", "a little goes a long way"), ("I saw no difference after a month", "it was hard to rinse out")),
    "hairdryer": TypeText("A hand-held hair dryer with heat and speed settings.", ("it dries my hair quickly", "it is quieter than my old one"), ("it gets too hot to hold comfortably", "the cord is too short for my bathroom")),
    "heatspray": TypeText("Spray on damp hair before heat styling.", ("my hair stays smooth after blow-drying", "it does not feel sticky"), ("it made my hair crunchy", "the nozzle clogs")),
    "cleanser": TypeText("For washing the face morning and evening.", ("it cleans without stripping my skin", "it removes sunscreen easily"), ("it left my face tight and dry", "it stung around my eyes")),
    "moisturizer": TypeText("Apply to clean skin on face and neck.", ("it sinks in fast", "my skin stays hydrated all day"), ("it broke me out", "too heavy and shiny for daytime")),
    "sunscreen": TypeText("Apply generously before sun exposure and reapply after swimming.", ("no white cast at all", "it sits well under makeup"), ("it pilled under my moisturizer", "it made my eyes water")),
    "serum": TypeText("Apply a few drops to clean skin before moisturizer.", ("my skin looks brighter", "the texture is light and absorbs quickly"), ("it tingled unpleasantly", "I saw no difference at all")),
    "lipstick": TypeText("A lipstick in a twist-up tube.", ("the colour lasts through lunch", "it feels comfortable on the lips"), ("it dried out my lips", "the colour looks different from the picture")),
    "mascara": TypeText("Mascara with a brush wand; removes with warm water and cleanser.", ("no clumps and no smudging", "it lifts my lashes nicely"), ("it flaked by midday", "it smudged under my eyes")),
    "foundation": TypeText("Liquid foundation in a pump bottle.", ("it blends easily and looks natural", "it lasts through a long day"), ("it oxidised darker on my skin", "it settled into fine lines")),
    "brushset": TypeText("A set of makeup brushes for face and eyes.", ("the brushes are soft and do not shed", "they wash well"), ("the bristles started shedding", "the handles feel cheap")),
    "razor": TypeText("A safety razor that takes standard double-edge blades.", ("a close, comfortable shave", "it feels solid and well balanced"), ("it tugged and caused razor burn", "the head came loose")),
    "blades": TypeText("Double-edge blades that fit standard safety razors.", ("sharp and smooth for several shaves", "consistently sharp from blade to blade"), ("they dulled after two shaves", "they tugged on my beard")),
    "shavecream": TypeText("Whip with a brush or wet hands into a lather before shaving.", ("a rich, slick lather", "my skin feels calm after shaving"), ("the lather is thin and dries fast", "the scent is overpowering")),
    "aftershave": TypeText("Apply to the skin after shaving.", ("it soothes any redness", "it absorbs quickly without stickiness"), ("it stung badly", "it left my face greasy")),
    "eshaver": TypeText("An electric shaver for wet or dry use.", ("a quick, close shave", "the battery lasts for weeks"), ("it pulls on longer stubble", "it is loud")),
    "cartridge": TypeText("Cleaning cartridges for the matching electric shaver cleaning station.", ("the shaver comes out clean and fresh", "easy to swap"), ("the fluid evaporates too quickly", "the smell is too strong")),
    "guitar": TypeText("An acoustic steel-string guitar, supplied with light-gauge strings.", ("it stays in tune and sounds warm", "it is comfortable to play"), ("the action is too high", "the tuners slip")),
    "eguitar": TypeText("An electric guitar with two pickups; needs an amplifier.", ("it plays smoothly and sounds great", "it holds its tuning"), ("the frets have sharp edges", "the output jack crackles")),
    "strings": TypeText("A set of six steel strings for acoustic guitar.", ("bright and they stay in tune", "easy on my fingertips"), ("the strings went dead after two weeks", "one string broke while tuning up")),
    "estrings": TypeText("A set of six nickel-wound strings for electric guitar.", ("they bend easily and sound bright", "they last a good while"), ("they lost their brightness quickly", "the high E snapped on day one")),
    "picks": TypeText("Guitar picks in a pack.", ("a good grip and they do not slip", "just the right flex"), ("they wear down fast", "too slippery in my hand")),
    "tuner": TypeText("A tuner that clips onto the guitar headstock.", ("it picks up notes instantly", "the display is easy to read"), ("it struggles with the low E", "the clip broke")),
    "capo": TypeText("A capo that clamps across the strings to change key.", ("no buzzing and quick to move", "it holds firm"), ("it pulls the strings out of tune", "the spring is too stiff")),
    "amp": TypeText("A practice amplifier for electric guitar.", ("loud enough and clean at low volume", "the headphone output is handy"), ("it hums at high gain", "the knobs feel flimsy")),
    "espresso": TypeText("An espresso machine with a steam wand; needs regular descaling.", ("it pulls a rich shot with great crema", "it heats up quickly"), ("it leaks from the group head", "the steam wand is weak")),
    "dripper": TypeText("A pour-over dripper that takes paper cone filters.", ("a clean, bright cup", "easy to use and to rinse"), ("it drains far too fast", "it cracked within a month")),
    "beans": TypeText("Whole roasted coffee beans.", ("rich flavour and fresh aroma", "a smooth cup with no bitterness"), ("it tasted stale and bitter", "too oily for my grinder")),
    "filters": TypeText("Paper cone filters for pour-over brewers.", ("no paper taste", "they fit my dripper perfectly"), ("they tear when wet", "they give the coffee a papery taste")),
    "descaler": TypeText("Removes limescale from coffee machines; follow the machine's descaling cycle.", ("my machine runs like new again", "easy to use"), ("it left a taste in the next few cups", "it took several cycles to work")),
    "frother": TypeText("Froths milk for lattes and cappuccinos.", ("thick foam in seconds", "easy to clean"), ("the foam collapses quickly", "it stopped working after a month")),
    "grinder": TypeText("A coffee grinder with adjustable grind size.", ("a consistent grind", "easy to adjust"), ("it is very loud", "too many fines in the grind")),
    "catfood": TypeText("Dry complete food for adult cats.", ("my cat finishes every bowl", "good for a sensitive stomach"), ("my cat refused to touch it", "it upset my cat's stomach")),
    "catlitter": TypeText("Clumping litter for cat litter trays.", ("it clumps well and controls odour", "low dust"), ("it tracks all over the floor", "the clumps fall apart")),
    "cattoy": TypeText("A toy for indoor cats.", ("my cat plays with it every day", "it keeps my cat busy"), ("it fell apart in a day", "my cat ignored it")),
    "scratcher": TypeText("A scratching surface for cats.", ("my cat uses it instead of the sofa", "stable and sturdy"), ("it wobbles", "it sheds bits everywhere")),
    "dogfood": TypeText("Dry complete food for adult dogs.", ("my dog loves it", "a shiny coat and good digestion"), ("my dog turned up his nose", "it gave my dog an upset stomach")),
    "dogtreats": TypeText("Treats for dogs; feed in moderation.", ("perfect for training", "my dog goes crazy for them"), ("they crumble in the bag", "too hard for my older dog")),
    "leash": TypeText("A leash with a clip for a collar or harness.", ("comfortable to hold on long walks", "the clip feels secure"), ("the stitching frayed", "the clip is hard to open")),
    "diapers": TypeText("Disposable diapers; sizes follow the baby's weight.", ("no leaks overnight", "soft and gentle on my baby's skin"), ("it leaked overnight", "the tabs tear easily")),
    "wipes": TypeText("Baby wipes in resealable packs.", ("gentle on my baby's skin", "thick and they do not tear"), ("they dried out quickly", "they caused a rash")),
    "babylotion": TypeText("A lotion for baby skin after bathing.", ("soaks in and keeps skin soft", "gentle on sensitive skin"), ("it feels sticky", "my baby got a rash")),
    "stroller": TypeText("A folding stroller for babies and toddlers.", ("it folds easily and steers well", "a smooth ride for my baby"), ("it is heavy to lift into the car", "one wheel rattles")),
    "raincover": TypeText("A cover that fits over most strollers.", ("it keeps my baby dry", "it fits our stroller well"), ("it fogs up inside", "it is hard to attach")),
    "etoothbrush": TypeText("An electric toothbrush with a charging base.", ("my teeth feel really clean", "the battery lasts for weeks"), ("too harsh for my sensitive gums", "it stopped charging")),
    "brushheads": TypeText("Replacement heads for the matching electric toothbrush.", ("they fit perfectly", "soft bristles, a good clean"), ("the bristles splay quickly", "they do not click in firmly")),
    "toothpaste": TypeText("Fluoride toothpaste for twice-daily brushing.", ("fresh breath all morning", "no sensitivity since switching"), ("the taste is too strong", "it hurt my sensitive gums")),
    "floss": TypeText("Dental floss on a spool in a dispenser.", ("it slides easily between my teeth", "it does not shred"), ("it shreds between my back teeth", "the dispenser cutter is dull")),
    "yogamat": TypeText("A yoga mat for home practice.", ("great grip even when I sweat", "comfortable cushioning for my knees"), ("it is slippery at first", "a strong rubber smell")),
    "yogablocks": TypeText("Blocks for support and alignment in yoga poses.", ("sturdy and easy to grip", "they help my alignment"), ("the edges chip", "too soft to trust")),
    "matcleaner": TypeText("A spray for cleaning yoga mats; wipe off after use.", ("my mat feels fresh and not slippery", "a pleasant mild scent"), ("it leaves my mat slippery", "the spray nozzle leaks")),
    "protein": TypeText("Protein powder; mix one scoop with water or milk.", ("it mixes smoothly and tastes good", "easy on my stomach"), ("clumpy even in a shaker", "too sweet for me")),
    "shaker": TypeText("A shaker bottle with a screw lid for protein drinks.", ("no leaks in my gym bag", "it mixes without lumps"), ("the lid leaks", "it holds on to smells")),
}  # fmt: skip

# Review openers/closers by mood; "good_durable" closes praise of things one buys only once.
REVIEW_OPENERS: dict[str, tuple[str, ...]] = {
    "good": ("Exactly what I needed.", "Really happy with this.", "Great buy.", "Impressed.", ""),
    "mixed": ("Mixed feelings.", "It's okay.", "Decent, with one catch.", ""),
    "bad": ("Disappointed.", "Not for me.", "Would not buy again.", "Sadly this didn't work out."),
}
REVIEW_CLOSERS: dict[str, tuple[str, ...]] = {
    "good": ("Will buy again.", "Already ordered a refill.", "My new favourite."),
    "good_durable": ("Would recommend.", "Glad I chose this one.", "Happy I bought it."),
    "mixed": ("Might try another brand next time.", "Fine for the price.", ""),
    "bad": ("Going back to my old one.", "Returned it.", ""),
}
REVIEW_CATCHES: tuple[str, ...] = (
    "it is a little pricey for what it is",
    "the packaging could be better",
    "it took a while to get used to",
    "it arrived a few days late",
    "I expected a bit more",
)
