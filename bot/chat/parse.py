"""Reading one message: intent and slots, grounded in the catalog.

Every parser implements :class:`Parser`: ``parse(message, state, vocab) -> Request``. The rule
parser reads wording the shop can rely on (prices, ordinals, "not from X", explicit purchase
reports) and grounds every slot in the catalog vocabulary: a brand, colour or attribute that no
item has goes to ``Request.not_carried`` (the reply says so) instead of being dropped. The
embedding parser (:mod:`bot.chat.parse_embed`) and the language model's parser plug into the
same interface.

Facts and actions are kept apart here: "I have a dog" is a fact (conversation context that
shapes the list); only an explicit report about a specific item ("I bought the first one",
"not interested in the Keenfield razor") is feedback that the assistant records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bot.chat.avoid import stated_avoids
from bot.chat.language import detect_language
from bot.chat.state import DialogueState
from bot.recsys.aspects import kind_name
from bot.recsys.catalog import STOP_WORDS, CatalogIndex, english_words
from bot.recsys.constraints import NOT_BRAND_CUES, parse_constraints
from bot.recsys.request import stem, title_head

__all__ = [
    "Request",
    "Parser",
    "SIZE_STEP",
    "RuleParser",
    "COLOURS",
    "INJECTION",
    "fact_phrases",
    "owned_things",
    "ordinal",
    "route",
]

COLOURS = frozenset(
    "red blue green black white pink purple orange yellow brown grey gray beige nude gold "
    "silver navy teal coral burgundy ivory cream rose plum berry".split()
)
# shade names a customer means by a plain colour word ("something in red" -> Ruby, Berry)
COLOUR_FAMILIES: dict[str, tuple[str, ...]] = {
    "red": ("ruby", "cherry", "scarlet", "crimson", "berry", "wine", "burgundy"),
    "pink": ("rose", "blush", "fuchsia", "coral"),
    "brown": ("mocha", "tan", "chocolate", "bronze", "caramel", "espresso"),
    "nude": ("beige", "sand", "natural"),
    "orange": ("coral", "peach", "apricot"),
    "purple": ("plum", "violet", "lilac", "berry"),
    "blue": ("navy", "denim", "teal"),
    "green": ("sage", "mint", "olive", "forest", "emerald", "khaki"),
    "white": ("ivory", "cream", "pearl"),
    "black": ("charcoal", "graphite", "jet"),
    "grey": ("gray", "graphite", "slate"),
    "gray": ("grey", "graphite", "slate"),
}
_ORDINAL_WORDS = r"(?:first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th|#\d|number \d)"
_REFERENT = re.compile(
    r"\b(?:the\s+)?"
    + _ORDINAL_WORDS
    + r"(?:\s+one)?\b|\b(?:it|that|this|that one|this one|them)\b"
    + r"|\bthe\s+[a-z-]+\s+one\b",  # "the red one", "the walnut one"
    re.I,
)
# explicit reports about a specific item: these are the only messages that write to the store
_BOUGHT = re.compile(
    r"\bi(?:'ve| have)?\s+(?:just\s+|already\s+)?(?:bought|purchased|ordered)\b"
    r"|^\s*(?:just\s+|already\s+)(?:bought|purchased|ordered)\b",
    re.I,
)
_OWN = re.compile(r"\bi\s+(?:already\s+)?(?:have|own|got)\b|\balready\s+(?:have|own)\b", re.I)
_NOT_INTERESTED = re.compile(
    r"not interested|no interest in|don'?t (?:want|like|need) (?:the|that|this|it)|not for me"
    r"|stop (?:recommending|showing)|thumbs (?:up|down)|\U0001f44d|\U0001f44e"
    r"|\bi love (?:the|that|this|it)\b|\bnot (?:really )?into (?:the|that|this|it)\b"
    r"|\bexactly what i (?:wanted|need|was looking for)\b|\b(?:that|this|it)'?s perfect\b",
    re.I,
)
_FACT = re.compile(
    r"\b(?:i|we)\s+(?:just\s+|recently\s+|now\s+|already\s+)?(?:have|own|got|bought|adopted|"
    r"started|use|play|drink|run|ride|shave|'ve got|am getting)\s+(?:a|an|two|three|some|my|"
    r"new|the|into)?\b"
    r"|\bmy\s+(?:son|daughter|kid|kids|baby|child|children|dog|cat|puppy|kitten|wife|husband|"
    r"partner|mum|mom|dad|sister|brother|friend|skin|hair|scalp|teeth|gums|back|knees?)\b"
    r"|\bi(?:'m| am)\s+(?:allergic|vegan|pregnant|into|a\s+\w+|an\s+\w+|new to)\b"
    r"|\ballergic to\b"
    # "we've got a new puppy": as "we have a puppy"
    r"|\b(?:i|we)'ve\s+(?:just\s+|recently\s+)?(?:got|bought|adopted)\b"
    # "I cycle 20 km to work every day", "we cook a lot": a statement, not a request
    r"|^\s*(?:i|we)\s+(?!need|want|would|'d|'m looking|am looking|like to|wonder|was wondering"
    r"|think|don'?t know|can|could|should|will)[a-z']+\b[^?]*$"
    r"|\b(?:he|she|they)\s+(?:\w+s|loves?|likes?|enjoys?|has|have)\b",
    re.I,
)
_RECIPIENT = re.compile(
    r"\b(?:gift|present|something)\s+(?:ideas?\s+)?for\s+(?:my\s+|a\s+|our\s+)?"
    r"(sister|brother|mum|mom|mother|dad|father|wife|husband|partner|friend|boss|colleague|"
    r"son|daughter|niece|nephew|grandma|grandpa|girlfriend|boyfriend|teacher|neighbou?r)\b"
    r"|\bfor\s+my\s+(sister|brother|mum|mom|mother|dad|father|wife|husband|partner|friend|boss|"
    r"colleague|niece|nephew|grandma|grandpa|girlfriend|boyfriend)\b"
    # an occasion of theirs: "my dad's birthday is next week"
    r"|\bmy\s+(sister|brother|mum|mom|mother|dad|father|wife|husband|partner|friend|boss|"
    r"colleague|son|daughter|niece|nephew|grandma|grandpa|girlfriend|boyfriend|teacher)'?s\s+"
    r"(?:birthday|anniversary|retirement|graduation|wedding|leaving do|christmas)\b",
    re.I,
)
_GIFT = re.compile(
    r"\b(?:gifts?|presents?|stocking filler|housewarming)\b(?! (?:from|i got|i received))"
    r"|\b(?:for|give|get|buy) (?:her|him|them) (?:for )?(?:a |an |some )?(?:birthday|christmas|"
    r"anniversary)?\b|\bwhat (?:could|can|should) i (?:give|get|buy) (?:her|him|them)\b"
    r"|\b(?:his|her|their)\s+(?:birthday|anniversary|retirement|graduation)\b|\bsecret santa\b",
    re.I,
)
# something the customer received: context, not a gift to choose ("my wife gave me a pen")
_RECEIVED = re.compile(
    r"\b(?:gave|got|bought|sent) me\b|\bfor my (?:birthday|christmas)\b|"
    r"\bi (?:got|received) (?:a|an|the|some) .{1,40} (?:for|as a) ",
    re.I,
)
_WANT_BRAND = re.compile(
    r"\b(?:from|by|brand|made by|of)\s+(?:the\s+)?(?:brand\s+)?([A-Z][\w&'-]*(?:\s+[A-Z0-9][\w&'-]*)?)"
)
# "a bigger one?", "the next size down": the kind on screen in another size
SIZE_STEP = re.compile(
    r"\b(?P<up>bigger|larger|roomier|next size up|(?:a\s+)?size up|brighter|more lumens)\b"
    r"|\b(?P<down>smaller|tinier|next size down|(?:a\s+)?size down|dimmer|less bright)\b",
    re.I,
)
_PICK_VERB = re.compile(
    r"(?i)\b(?:would|could|can|do|will|should)\s+you\s+(?:pick|choose|suggest|recommend)\b"
    r"|\bpick\s+(?:out\s+)?(?:something\s+)?for\s+me\b"
)
_LIFT = re.compile(
    r"\b(?:you can|feel free to|go ahead and|please)?\s*(?:suggest|show|recommend|include)\s+"
    r"([\w&' -]{2,40}?)\s+again\b"
    r"|\bi'?m (?:fine|ok|okay|good) with ([\w&' -]{2,40}?)(?: now| again)?[.!]?$"
    r"|\b(?:forget|remove|drop|clear|lift) (?:my |the )?(?:preference|dislike|allergy|note) "
    r"(?:about|for|of|on|to) ([\w&' -]{2,40})",
    re.I,
)
_REQUEST_SHAPE = re.compile(
    r"\b(?:anything|something|stuff|products?|items?|ideas?)\s+(?:for|to|that|with)\b"
    r"|\bdo you (?:have|sell|carry|stock)\b|\bgot any\b|\bi need\b|\bi'?m (?:looking|after)\b"
    r"|\bneeds?\b|\bwhat about\b|\bhow about\b|\bhelp\W*$",
    re.I,
)
# a question about the item on screen ("is that one any good?", "is it worth it?")
_ITEM_QUESTION = re.compile(
    r"\b(?:any good|worth it|good for|how (?:is|are|good)|is (?:it|that|this)|does (?:it|that|this)"
    r"|tell me|what about|reviews?|rating|made (?:of|from|with)|materials?|contains?|ingredients?"
    r"|allergens?|how (?:long|much|big|heavy|large|many)|what (?:size|colou?r|material)|price"
    r"|cost|valve|fits?|compatible|rechargeable|waterproof|washable|dishwasher)\b",
    re.I,
)
_PRICIER = re.compile(
    r"\b(?:more (?:premium|expensive|upmarket|luxurious)|pricier|dearer|posher|higher[- ](?:end|priced)|"
    r"top of the range|top[- ]end|upmarket|premium (?:option|one|choice|version|pick|range)s?|"
    r"(?:pay|spend) (?:a (?:bit|little|lot) )?more|splash out|money(?:'s| is) no object|"
    r"(?:better|higher|best|top) quality|fancier|classier|swankier|nicer one)\b",
    re.I,
)
# "dog harness for a small dog", "size L only": a size the items carry
# "skip the first", "skip the top one": that item goes (a refinement, not a question about it)
_SKIP_ONE = r"skip (?:the )?(?:first|second|third|last|top)(?: one)?"
_SIZE_WORDS = {"small": "s", "medium": "m", "large": "l", "extra large": "xl"}
_SIZE = re.compile(
    r"\bsize\s+([a-z0-9]{1,3})\b|\b(small|medium|large|extra large)[- ](?:sized?\b|dog|cat|"
    r"breed|one)|\b(?:in|one in|comes? in)\s+(?:an?\s+)?(small|medium|large|extra large)\b",
    re.I,
)


def _size_range(said: str, words: set[str] | frozenset[str]) -> str:
    """The size range the items carry that holds a numeric size ("44" -> "43-46"), or ""."""
    if not said.isdigit():
        return ""
    n = int(said)
    for word in sorted(words):
        if m := re.fullmatch(r"(\d+)-(\d+)", word):
            if int(m.group(1)) <= n <= int(m.group(2)):
                return word
    return ""


_ANOTHER_BRAND = re.compile(
    r"\b(another|different|other)\s+(?:brand|make|maker)\b|\bnot (?:that|this|the same) (?:brand|make)\b",
    re.I,
)
_MORE = re.compile(
    r"^\s*(?:show me\s+)?(?:some\s+|a few\s+|a couple\s+)?more\b|\bany others?\b|\bmore options\b"
    r"|\bshow me (?:a few|a couple|some) more\b|\bwhat else (?:have you got|do you have|is there)\b",
    re.I,
)
_NOT_THAT = re.compile(
    r"\bnot (?:that|this|the (?:first|second|third|last|top)) one\b|\b(?:don'?t|do not) (?:fancy|care "
    r"for|rate) (?:the |that |this )?(?:(?:first|second|third|last|top) )?one\b|\bnot (?:keen on|a fan "
    r"of|sold on) (?:the |that |this )?(?:(?:first|second|third|last|top) )?one\b|\b(?:a |another )?different "
    r"(?:colou?r|one|style|flavou?r|scent)\b|\bother colou?rs?\b|\b" + _SKIP_ONE + r"\b",
    re.I,
)
_COMPARE = re.compile(
    r"\b(compare|comparison|difference between|versus|vs\.?|which (?:one )?is (?:the )?(?:better|best)"
    r"|which of (?:the|these|those|them)\b|better value|how do (?:they|these|those) differ)",
    re.I,
)
_UNDO = re.compile(r"^\s*(?:undo|that'?s wrong|i didn'?t buy (?:it|that)|remove that)\b", re.I)
_ORDER_Q = re.compile(
    # an order gone wrong is a complaint, even when it says "my last order"
    r"^(?!.*\b(?:broken|broke|damaged|defective|faulty|refund|never (?:arrived|came)|didn'?t "
    r"(?:arrive|come)|did not (?:arrive|come)|wrong (?:item|size|colou?r|one)|missing|leak(?:ed|ing|s)?"
    r"|return (?:it|this|my))\b).*?(?:"
    r"\b(?:what|which)\s+(?:[\w-]+\s+){0,3}(?:did|have)\s+i\s+(?:ever\s+)?(?:buy|bought|order|"
    r"purchase|get|got)|\bwhen did i (?:last |first )?(?:buy|order|purchase|get)"
    r"|\bwhen was (?:that|it|this|my|the (?:last|first) time)\b"
    r"|\b(?:last|first) time i (?:bought|ordered|got|purchased)\b"
    r"|\bhow (?:long ago|often|frequently|regularly) (?:did|do|have) i\b|\bhow long (?:since|has it "
    r"been since) i\b|\bhow many times (?:did|have|do) i\b|\bdid i (?:ever )?(?:buy|order|purchase|get)"
    r"|\bhave i (?:ever |already )?(?:bought|ordered|purchased)"
    r"|\bmy (?:last|previous|past|recent|latest) (?:[\w-]+ ){0,3}(?:orders?|purchases?)\b"
    r"|\b(?:show|list|see|view)\s+(?:me\s+)?(?:all\s+)?my\s+(?:orders|purchases)\b"
    r"|\border history|\bpurchase history|\b(?:orders?|purchases?|bought|ordered|got)"
    r" (?:in|during|since|last|from|this) (?:january|february|march|april|may|june|july|august|"
    r"september|october|november|december|\d{4}|week|month|year)\b)",
    re.I | re.S,
)
# words that carry the intent, not the need: left out of the need phrase
_INTENT_WORDS = frozenset(
    "recommend recommendation recommendations suggest suggestion suggestions looking look "
    "shopping shop gift gifts present presents idea ideas cheaper cheapest priciest expensive "
    "affordable another else similar like love loves likes compare first second third fourth fifth last one ones "
    "brand brands colour color price budget dollars euros usd bucks cheap great nice best buy "
    "bought got getting have has had own owns just already also too really maybe perhaps "
    "sister brother mum mom mother dad father wife husband partner friend boss colleague "
    "niece nephew grandma grandpa girlfriend boyfriend who which what where when why how "
    "there here them they she he her his its our your yours their thing things stuff "
    "i'd i'm i've i'll stay keep would could should will let pick choose tried try "
    # time and small talk around an open request ("what do you recommend for me today?")
    "whats what's next today tomorrow tonight soon week weeks month months time times order "
    "orders placing place restock reorder running low due might think list morning evening "
    "afternoon hey hi hello ok okay going gonna yeah yes sure wondering wonder help lately "
    "different please ones kind sort type version variety change happen happens premium "
    "pricier fancier dearer posher upmarket skip quality hmm hm umm uh pricey those these looks look sounds seems "
    "possible pay spend splash luxurious classier swankier see none appeal appeals keen sold "
    # a change of topic: "actually scrap that, I need dog food", "different question: ..."
    "actually instead scrap question nothing it's monday tuesday wednesday thursday friday "
    "yesterday loved enjoyed liked we've i've except apart isn't aren't "
    "saturday sunday weekend "
    "rather".split()
)
# hedges around a wish ("a bit more upmarket", "happy to pay more"): no need words in them
_FILLER = re.compile(
    r"\b(?:an? (?:bit|little|tad|touch)|kind of|sort of|(?:happy|willing|prepared) to|"
    r"(?:don'?t|do not) mind)\b",
    re.I,
)
# an open "what next?" in other words: the history stage answers it, not a search
_OPEN_NEXT = re.compile(
    r"\bwhat'?s\s+next\b|\bwhats\s+next\b|\bnext\s+(?:order|time|thing|purchase|shop|on my list)"
    r"|\b(?:my|the)\s+next\b|\brunning (?:low|out)\b|\brestock|\bstock up\b|\b(?:about to|going to|gonna|soon|might|will) run "
    r"(?:low|out)\b|\bre-?order|\bdue (?:for|soon|now)"
    r"|\bneed soon\b|\bgoing to need\b|\b(?:what|anything) else (?:might|could|would|do|should|"
    r"can) i\b|\b(?:recommend|suggest)\w* for me\b|\bfor me today\b|\bwhat should go in\b"
    r"|\bwhat goes (?:well )?with\b|\bideas? for me\b|\bwhat (?:would|could|might|will) help\b"
    r"|\bwhat (?:should|could|do|would) i (?:have|take|bring|use|buy|get)\b|\bwhich \w+ then\b"
    r"|\bwhat (?:do|would) you (?:recommend|suggest)\b|\bsurprise me\b|\banything i (?:might|may"
    r"|could|should) need\b|\bwhat (?:might|may) i need\b",
    re.I,
)
_AFTER_THAT = re.compile(
    r"\b(?:and |what )?after that\b|\bwhat else\??$|^\s*(?:and )?(?:then|next)\??\s*$", re.I
)


# ---- wording rules: the first match wins, so specific patterns come before general ones ----

_ORDINALS = {
    "first": 1, "1st": 1, "one": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3,
    "three": 3, "fourth": 4, "4th": 4, "four": 4, "fifth": 5, "5th": 5, "five": 5, "last": -1,
}  # fmt: skip
_ORD_RX = re.compile(
    r"\b(?:the\s+)?(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)\b(?:\s+(?:one|item|option|pick))?"
    r"|(?:#|number\s+|no\.?\s*|item\s+|option\s+)(\d)\b",
    re.I,
)

INJECTION = re.compile(
    r"ignore (?:all |any |the )?(?:previous|prior|above|earlier|your)? ?(?:instructions|rules|prompts?)"
    r"|disregard (?:all |the |your )?(?:previous |prior )?(?:instructions|rules)"
    r"|forget (?:all |the |your )?(?:previous |prior |earlier )?(?:instructions|rules|prompt)"
    r"|mark (?:every|all|each) .{1,40} as (?:bought|purchased|ordered|owned)"
    r"|(?:reveal|print|show|repeat|tell me) (?:me )?(?:your|the) (?:system )?(?:prompt|instructions)"
    r"|system prompt|developer mode|jailbreak|you are now|act as (?:an? )?(?:admin|developer|system)"
    r"|(?:other|another|all|every) (?:users?|customers?)'?s? (?:data|reviews?|history|orders?|purchases?)"
    r"|(?:switch|change|log ?in as|impersonate|pretend (?:to be|i am)) (?:to )?(?:user|customer|account)"
    r"|(?:i am|i'm|this is) (?:user|customer) [\w-]{3,}"
    r"|user[_ ]?id\s*[:=]",
    re.I,
)

# the shop's terms, which the catalog and orders do not hold: "do you ship to France?",
# "what's your returns policy", "can I pay with PayPal"
POLICY = re.compile(
    r"\b(?:returns? policy|refund policy|(?:do|can) you (?:ship|deliver|post) (?:to|abroad|internationally|overseas)"
    r"|ship(?:ping)? (?:to|costs?|times?|rates?|options?|abroad|internationally)|delivery (?:costs?|charges?|times?|"
    r"options?|fees?)|postage|free (?:delivery|shipping)|opening (?:hours|times)|(?:pay|payment) (?:with|by|methods?|options?)"
    r"|paypal|klarna|apple pay|gift cards?|(?:discount|promo|voucher) codes?|price match)\b",
    re.I,
)

BASKET = re.compile(
    r"\b(?:add|put|pop|stick) (?:it|that|this|them|those|these|one|both|the (?:[\w-]+ ){0,2}ones?|"
    r"(?:the )?(?:first|second|third|fourth|fifth|last|top)(?: one)?|#?\d) (?:to|in|into|on) (?:my |the )?"
    r"(?:basket|cart|bag|trolley|order)\b|\b(?:i'?ll|i will|i'?d like to|let me) (?:take|have|get|buy|"
    r"order|grab) (?:it|that|this|them|both|that one|this one|one|the (?:first|second|third|fourth|fifth|"
    r"last|top)(?: one)?)\s*[.!]*$|\b(?:check ?out|place (?:the|an|my) order|buy (?:it|that|this) now)\b",
    re.I,
)


# asking what a thing needs or goes with: "what do I need for it", "what goes with X",
# "accessories for X", "anything to go with X"
_GOES_WITH = re.compile(
    r"\b(?:what (?:else )?(?:do|would|should|will|might|could) (?:i|we) (?:need|want|get|buy|use)"
    r"(?: to go)? (?:for|with)|what (?:else )?(?:goes|go|works|pairs) (?:well |nicely )?with"
    r"|(?:anything|something) (?:else )?to go with|accessor(?:y|ies) for"
    r"|what (?:else )?(?:is|are) needed for)\b",
    re.I,
)


def _complements_named(message: str, vocab: CatalogIndex) -> tuple[str, ...]:
    """The kind names of the catalog's complements (``attributes["complements"]``: item ids
    or ``type`` values) of the kind of item ``message`` names: its full kind name ("fountain
    pen") first, else its head noun (``title_head``: "kettle" for "Electric Kettle", "light"
    for "Bike Light Set"); () when none."""
    low = message.lower()
    by_kind: dict[str, list[Any]] = {}
    for item in vocab.items.values():
        by_kind.setdefault(kind_name(item.title, item.brand).lower(), []).append(item)
    named = [k for k in by_kind if k and re.search(r"\b" + re.escape(k) + r"(?:e?s)?\b", low)]
    if named:
        longest = max(map(len, named))  # "fountain pen", not also "pen"
        named = [k for k in named if len(k) == longest]
    else:
        said = {stem(w) for w in re.findall(r"[a-z]+", low)}
        named = [k for k, items in by_kind.items() if title_head(items[0].title) in said]
    wanted = [
        c
        for k in named
        for item in by_kind[k]
        for c in (item.attributes or {}).get("complements", None) or []
    ]
    names: list[str] = []
    for c in dict.fromkeys(map(str, wanted)):
        targets = (
            [vocab.items[c]]
            if c in vocab.items
            else [i for i in vocab.items.values() if i.attributes.get("type") == c][:1]
        )
        names += [kind_name(t.title, t.brand) for t in targets]
    return tuple(dict.fromkeys(names))


def _shown_comparative(message: str, shown: list[str], vocab: CatalogIndex) -> str:
    """The fact word a comparative in ``message`` steps to when items of the kinds on screen
    carry it ("lighter" -> "light" after medium and dark roasts; "milder" -> "mild"), else ""."""
    bases = []
    for word in re.findall(r"[a-z]{4,}er\b", message.lower()):
        bases += [word[:-2], word[:-1]]  # lighter -> light, finer -> fine
        if word[-3] == word[-4]:
            bases.append(word[:-3])  # bigger -> big
        if word.endswith("ier"):
            bases.append(word[:-3] + "y")  # heavier -> heavy
    # a fact word of some item at all, before the whole catalog is read for the kinds on screen
    # ("under", "order", "other" step to no fact word)
    bases = [b for b in bases if b in vocab.attribute_words]
    if not bases:
        return ""
    kinds = {
        item.categories[-1]
        for item_id in shown
        if (item := vocab.items.get(item_id)) is not None and item.categories
    }
    values = {
        w
        for item in vocab.items.values()
        if item.categories and item.categories[-1] in kinds
        for key, value in item.attributes.items()
        if key != "type" and isinstance(value, str)
        for w in value.lower().split()
    }
    return next((b for b in bases if b in values), "")


# words of approval before a thanks or a closing: "brilliant, thank you", "lovely, that's all"
_PRAISE = (
    r"(?:(?:ok(?:ay)?|great|perfect|cool|brilliant|lovely|awesome|amazing|excellent|fab(?:ulous)?"
    r"|fantastic|wonderful|super|nice(?: one)?|ace|sweet|grand|alright|right|good stuff"
    r"|much appreciated)\b[\s!.,]*)*"
)
_RECOMMEND_WORDS = re.compile(
    r"\b(recommend\w*|suggest\w*|what (?:else )?(?:should|could|can|do) i (?:buy|get|order|try|need)|what (?:do|else) (?:i|should i) need|next|need|looking for|show me|any ideas|gift|buy|shopping|options? for|want (?:a|an|some|to buy)|under \$?\d+|below \$?\d+|i'm after|find me|pick for me)\b",
    re.I,
)

# the start of a message that asks for nothing (no request words, no request shape)
_ASKS_NOTHING = r"^(?!.*(?:" + _RECOMMEND_WORDS.pattern + "|" + _REQUEST_SHAPE.pattern + r")).*"

# a thing that failed, said plainly, with no request in the message ("the infuser I got is
# rubbish, it rusted"); "stopped working, I need a new one" is a request
_PLAIN_COMPLAINT = re.compile(
    _ASKS_NOTHING
    + r"\b(?:rubbish(?! (?:bags?|bins?|sacks?))|rust(?:ed|y)|stopped working|(?:doesn'?t|does not|don'?t|won'?t) work(?! for)|not working(?! for)|useless|poor quality|cheaply made|ripped|torn)\b",
    re.I | re.S,
)

# something went wrong with an order or an item: "broken", "never arrived", "wrong size"
COMPLAINT_FACT = re.compile(
    r"\b(broken|broke|damaged|defective|refund|complain|complaint|never arrived|didn't arrive|did not arrive|wrong item|wrong (?:colou?r|size|one|model|flavou?r)|(?:you'?ve|you have|you) sent (?:me )?(?:the wrong|a wrong|a different|an? \w+ one)|sent me the wrong|missing (?:part|item)|leaked|leaking|return (?:it|this|my)|money back|send (?:it|this|that|them|these|those|(?:the|my|a|an) [\w-]+(?: [\w-]+)?) back|send back|how (?:do|can) i (?:return|send)|faulty|never came|arrived (?:late|damaged|open|smashed|cracked)|cracked|smashed|where(?:'s| is) my (?:order|parcel|package|delivery)|(?:order|parcel|package|delivery) (?:is |was |has been )?(?:late|delayed|lost)|(?:hasn't|has not|haven't|have not|still not|not yet) (?:arrived|come|been delivered|received|got)|still waiting for my)\b",
    re.I,
)
# a complaint said only by its mood ("awful", "fed up"): about the shop only when the message
# names what it is about (an order, an item, "it"); "my period cramps are awful" and "fed up
# with blunt knives" are situations to help with (see ``RuleParser.parse``)
COMPLAINT_MOOD = re.compile(
    r"\b(terrible|awful|disappointed|angry|furious|unacceptable|annoyed|upset|unhappy|not happy|"
    r"fed up)\b",
    re.I,
)
_ABOUT_THE_SHOP = re.compile(
    r"\b(?:it|they|them|order\w*|deliver\w*|parcel|package|service|products?|items?|purchase\w*|"
    r"you|your|shop|store|bought|received|arrived|quality|support)\b"
    # "this is rubbish", "that one": a pointing word on its own; not "this winter"
    r"|\b(?:this|that|these|those)\b(?=\s+(?:is|are|was|were|one|ones|thing|things|stuff)\b|"
    r"\s*(?:[.!?,]|$))",
    re.I,
)
_THEIR_THING = re.compile(
    r"\b(?:my|our|the|this|that|these|those)\s+((?:[\w'-]+\s+){0,2}[\w'-]+)", re.I
)
# subjects outside the shop; a message that asks for something is a request whatever its topic
# ("shin pads for football", "it's going to rain, I need a jacket")
OFF_TOPIC = re.compile(
    _ASKS_NOTHING
    + r"\b(weather (?:forecast|today|tomorrow|like)|(?:what'?s|how'?s) the weather|(?:is it|it'?s|will it) (?:going to |gonna )?(?:rain|snow)|forecast|president|election|politic|capital of|stock (?:market|exchange|price)s?|stocks|bitcoin|crypto|football|soccer|recipe|joke|poem|song lyrics|write (?:code|a program|python)|homework|meaning of life|who won|translate)\b",
    re.I | re.S,
)
# a situation, said as a statement: a problem ("the counter is getting scratched when I chop
# veg", "my calves are tight after football"), a plan ("I want to start writing a journal") or
# being fed up with something; the shop helps with it by what it sells (a request by meaning)
SITUATION = re.compile(
    r"^(?![^?]*\?\s*$)(?:\W*(?:ugh|argh|honestly|so|well|oh|help|hmm)\b[,!.\s]*)?(?:"
    r"(?:my|our|the)\s+(?:[\w'-]+\s+){0,3}?(?:is|are|was|were|keeps?|kept|gets?|getting|feels?|"
    r"hurts?|hurting|aches?|aching|won'?t|doesn'?t|don'?t|can'?t|smells?|stinks?|reeks?|tastes?)\b"
    r"|(?:i|we)(?:'d|'m|'re| would| am| are)? (?:want|like|going|plan|planning|hope|hoping) to "
    r"(?:start|take up|get into|try|learn|begin)\b"
    r"|(?:i'?m|i am|we'?re|we are) (?:so |really |totally )?(?:fed up|sick|tired) (?:of|with)\b"
    r")",
    re.I,
)

_RULES: list[tuple[str, re.Pattern[str]]] = [
    # taking an item: "add the first one to my basket", "I'll take the second", "check out"
    ("basket", BASKET),
    ("forget", re.compile(r"\b(forget (?:me|about me|my data|everything)|delete (?:all )?(?:my|all my) (?:data|history|account|profile)|erase my|remove my data|export my data|download my data)\b", re.I)),
    ("review_reply", re.compile(r"\b(?:reply|respond|answer|write a (?:reply|response)) (?:to )?(?:the following|this|the|a|my|that|following)? ?(?:customer )?review\b|^\s*review\s*[:(]", re.I)),
    ("order_question", _ORDER_Q),
    ("complaint", COMPLAINT_FACT),
    ("complaint", COMPLAINT_MOOD),
    ("complaint", _PLAIN_COMPLAINT),
    ("feedback", re.compile(r"\b(i (?:just |already )?(?:bought|purchased|ordered|got|own|have) (?!you\b)(?:that|this|it|the|a|an|one|[A-Za-z])|i already have|already own|not interested|no interest in|don'?t (?:want|like|need) (?:the |that |this |it)|not for me|thumbs (?:up|down)|👍|👎|i love (?:the |that |this )|stop (?:recommending|showing))", re.I)),
    ("profile", re.compile(r"\b(what do you know about me|my profile|my (?:interests|preferences|tastes)|summari[sz]e me|about me\b|what (?:do|did) i like|who am i)", re.I)),
    ("explain", re.compile(r"\b(why (?:the |that |this |did you |do you |are you |were you |have you |is |would |recommend|suggest|number|#|first|second|third|fourth|fifth|last|\d)|explain (?:the |that |this |why|your)|how come|what makes (?:the|that|this) )|^\s*(?:(?:and|but|so|ok|okay|hmm|oh)[,\s]+)?why\s*(?:so|that|this|that one|this one|it|them|these|those)?\s*[?!.]*\s*$", re.I)),
    ("refine", re.compile(r"\b(" + _SKIP_ONE + r"|not the top one|cheaper|less expensive|more affordable|another (?:one|option|suggestion)|something else|other options?|different (?:one|options?|brand)|more like (?:the |that |this |#|number )|similar to (?:the |that |this |#|number )|show me more|any others?|more options"
              # the whole list waved off: "none of those appeal", "not keen on any of these"
              r"|none of (?:those|these|them|the above)|not (?:keen on|sure about|a fan of|sold on|into) "
              r"(?:any of )?(?:those|these|them)|(?:don'?t|do not) (?:like|fancy|want|love) any of "
              r"(?:those|these|them)|(?:those|these) (?:don'?t|do not|won'?t) (?:appeal|suit|do it))\b", re.I)),
    ("off_topic", POLICY),
    ("off_topic", OFF_TOPIC),
    ("describe", re.compile(r"\b(tell me (?:more )?about|what is (?:the |a |an )|what's (?:the |a |an )|describe|details (?:on|of|about)|info(?:rmation)? (?:on|about)|more about)\b", re.I)),
    # a question about a product's facts: "what are the X made of", "does the X contain gluten",
    # "how long does the X keep drinks hot", "what valve do the X have", "how much are they"
    ("describe", re.compile(r"\bwhat(?:'s| is| are|'re)? (?:[\w'-]+ ){0,6}made (?:of|from|with)\b|\bwhat(?:'s| is) in (?:the|this|that|it|these|those)\b|\b(?:ingredients|allergens|materials?) (?:of|in|for)\b|\b(?:does|do|is|are|will|can|would) (?:the|this|that|these|those|it|they|your) (?:[\w'&-]+ ){0,8}?(?:contain|contains|include|includes|have|has|come with|fit|fits|work with|rechargeable|waterproof|washable|dishwasher[- ]safe|gluten|dairy|nuts?|peanuts?|allergens?|compatible|good for|suitable for|safe for|last|keep|made (?:of|from|with)|come in|available in)\b|\bhow (?:long|much|big|heavy|large|tall|wide|warm|many \w+) (?:does|do|is|are|will|can|would|did) (?:the|this|that|these|those|it|they|one|each)\b|\bwhat (?:valve|size|sizes|colou?rs?|material|ingredients|allergens|capacity|volume|weight|dimensions|flavou?rs?|scent) (?:do|does|is|are|comes?)\b|\bwhich \w+ (?:do|does|will|would|can) (?:[\w'&-]+ ){1,5}fit\b|^\s*(?:(?:and|so|but)[,\s]+)?(?:any|(?:is|are) there(?: any)?)\s+[\w-]+ in (?:the|this|that|it|these|those|them)\b", re.I)),
    ("recommend", _RECOMMEND_WORDS),
    ("greeting", re.compile(r"^\s*" + _PRAISE + r"(hi|hiya|howdy|hello|hey|heya|good (?:morning|afternoon|evening)|morning|evening|thanks?|thank you|ta|cheers|bye|goodbye)\b[\s!.,]*(?:there|you|so much|a lot)?[\s!.,:;)(D*^_-]*$", re.I)),
    # a closing: "thanks, that's it", "that's all for today", "all good, bye"
    ("greeting", re.compile(r"^\s*" + _PRAISE + r"(?:(?:thanks?|thank you|cheers|ta)\b[\s!.,]*)*(?:that'?s (?:it|all|everything)|that is (?:it|all)|all good|nothing else|i'?m (?:done|good|all set|off)|i'?ll leave it there|(?:gotta|got to|have to|need to) (?:go|run|dash)|see (?:you|ya)|speak soon|no,? thanks?|bye)\b[\w\s!.,:;)(-]{0,20}$", re.I)),
    # what the assistant is and does: "who are you?", "what can you do?", "how does this work?"
    ("greeting", re.compile(r"^\s*(?:(?:hi|hello|hey)\b[\s!.,]*)?(?:who (?:are|r) (?:you|u)|what (?:are|r) (?:you|u)|what can (?:you|u) (?:do|help with)|what do you do|how does (?:this|it) work|how (?:can|do) (?:you|i use you)|help)[\s?!.]*$", re.I)),
    # a greeting with an introduction and no request: "Hi, I'm new here.", "Hello! First time here"
    ("greeting", re.compile(r"^\s*(?:(?:hi|hello|hey|good (?:morning|afternoon|evening))\b[\s!.,]*(?:there|everyone|all)?[\s!.,]*)?(?:i'?m|i am) (?:new(?: here| to (?:this|the) (?:shop|store|site))?|just (?:browsing|looking(?: around)?))[\s!.]*$|^\s*(?:(?:hi|hello|hey)\b[\s!.,]*)?(?:(?:it'?s )?(?:my )?first time(?: here)?|how are you\??|nice to meet you)[\s!.]*$", re.I)),
]  # fmt: skip


def ordinal(message: str) -> int | None:
    """1-based position named in the message ("the second one", "#3"); -1 for "last"."""
    m = _ORD_RX.search(message)
    if not m:
        return None
    if m.group(2):
        return int(m.group(2))
    return _ORDINALS[m.group(1).lower()]


def route(message: str) -> tuple[str, str]:
    """The intent the wording rules give (first match wins) and the rule's name; "unclear"
    when no rule matches."""
    if INJECTION.search(message):
        return "off_topic", "injection"
    for name, rx in _RULES:
        if rx.search(message):
            return name, name
    return "unclear", "none"


@dataclass(frozen=True)
class Request:
    """What one message asks for, with every slot grounded in the catalog."""

    intent: str
    rule: str = ""
    need: str = ""  # the words naming what is wanted ("cleaning stuff espresso machine")
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()  # wanted brands (catalog spelling)
    exclude_brands: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()  # wanted words found in item facts ("red", "vegan")
    max_price: float | None = None
    min_price: float | None = None
    cheaper: bool = False
    pricier: bool = False  # "something more premium"
    another_brand: bool = False
    more: bool = False
    not_that: bool = False
    recipient: str = ""
    facts: tuple[str, ...] = ()
    not_carried: tuple[str, ...] = ()  # named brands/colours/attributes no item has
    avoid: tuple[str, ...] = ()  # words no item may carry ("not the red ones", "no peanuts")
    ordinal: int | None = None
    ordinals: tuple[int, ...] = ()
    language: str = "en"
    injection: bool = False
    explicit_item: bool = False  # feedback names a specific item (ordinal, pronoun or title)
    owned_things: tuple[str, ...] = ()  # "my espresso machine": context, not for sale again
    extras: dict[str, str] = field(default_factory=dict)

    @property
    def has_need(self) -> bool:
        return bool(self.need or self.categories or self.brands or self.attributes)


class Parser(Protocol):
    """Message + conversation state + catalog vocabulary -> a grounded :class:`Request`."""

    name: str

    def parse(self, message: str, state: DialogueState, vocab: CatalogIndex) -> Request: ...


def _situation(message: str, intent: str, referent: bool, vocab: CatalogIndex) -> bool:
    """A situation said as a statement that no other rule reads, or that a rule reads only by a
    loose word: a mood ("my period cramps are awful": no order or item named) or a topic ("my
    calves are tight after football"). Never about the list on screen."""
    if referent or ordinal(message) is not None or not SITUATION.search(message):
        return False
    if intent == "unclear":
        # "my package is a week late" is the shop's business, not a need
        return not _ABOUT_THE_SHOP.search(message)
    if intent == "complaint":
        return not (
            COMPLAINT_FACT.search(message)
            or _PLAIN_COMPLAINT.search(message)
            or _ABOUT_THE_SHOP.search(message)
            or vocab_names_item(message, vocab)
            # "my kettle is awful": a thing of theirs the shop sells; a complaint to hear out
            or any(
                len(w) > 2 and vocab.knows(w.lower())
                for m in _THEIR_THING.finditer(message)
                for w in re.findall(r"[A-Za-z]+", m.group(1))
            )
        )
    # (an injection never gets here: parse answers it before routing)
    return intent == "off_topic" and not POLICY.search(message)


def fact_phrases(message: str) -> tuple[str, ...]:
    """The clauses of a message that state a fact about the customer ("I have a dog")."""
    out = []
    for clause in re.split(r"[.;!?]|,\s*(?:and|but|so)?\s*|\s+(?:and|but|so)\s+", message):
        clause = clause.strip()
        if clause and _FACT.search(clause) and not _ORDER_Q.search(clause):
            out.append(clause[:120])
    return tuple(out[:5])


_WORDS_OF_THING = (
    r"([a-z]+(?:\s+(?!(?:for|to|and|so|but|with|from|last|this|on|in|at|as)\b)[a-z]+){0,2})"
)
_OWNED_THINGS = (
    re.compile(r"\b(?:my|our)\s+((?:new\s+)?[a-z]+(?:\s+[a-z]+)?)", re.I),
    re.compile(
        r"\b(?:i|we|she|he|they)\s+(?:just\s+|recently\s+|already\s+)?(?:have|has|own|owns|got"
        r"|bought)\s+(?:(?:a|an|the|my|her|his|their|some|enough|plenty of)\s+|(?!(?:always|perhaps|sometimes|this|thus|was|is|has|its|us|less|yes)\b)(?=[a-z]+s\b))"
        r"(?:new\s+)?" + _WORDS_OF_THING,
        re.I,
    ),
    re.compile(r"\b(?:gave|got|bought) me (?:a|an|the) (?:new\s+)?" + _WORDS_OF_THING, re.I),
    # the subject of a problem: "the machine is getting crusty inside", "our kettle keeps
    # tripping", "the pram's wheel squeaks"
    re.compile(
        r"(?:^|[.!?,;]\s*)(?:the|this|that)\s+([a-z]+(?:\s+[a-z]+)?)(?:'s)?\s+(?:is|are|keeps|has|have"
        r"|won'?t|doesn'?t|don'?t|isn'?t|aren'?t|got|gets|getting|smells|leaks|squeaks|broke)\b",
        re.I,
    ),
)
_NOT_THINGS = frozenset(
    "son daughter kid kids baby child children wife husband partner mum mom dad sister brother "
    "friend skin hair scalp teeth gums back knees knee order orders purchase budget favourite "
    "favorite size birthday christmas anniversary week day weekend morning life job work one ones "
    "first second third fourth fifth last other price delivery package parcel item product "
    "colour color quality list rest".split()
)


# a thing that is done for ("our old kettle has finally given up"): a replacement is wanted, so it
# is not a thing they have
_DONE_FOR = re.compile(
    r"\b(?:given up|gave up|giving up|died|dead|broke|broken|worn out|wore out|falling apart|fell "
    r"apart|on its last legs|stopped working|packed up|conked out|lost|wrecked|ruined|too small|"
    r"outgrown|needs replacing|needs a replacement)\b",
    re.I,
)


def owned_things(texts: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Things the customer says they have ("my espresso machine", "I just got a road bike"):
    context for the list, not something to sell them again. A thing said to be done for ("my
    kettle died") is not one: its replacement is what is wanted."""
    out: list[str] = []
    for text in texts:
        for m in (m for rx in _OWNED_THINGS for m in rx.finditer(text)):
            clause = re.split(r"[.;!?,]", text[m.start() :], maxsplit=1)[0]
            if _DONE_FOR.search(clause):
                continue
            words = [
                w
                for w in (m.group(1) or "").lower().split()
                if w not in STOP_WORDS and w not in ("new", "needs", "need", "is", "was")
            ]
            if words and words[0] not in _NOT_THINGS and words[-1] not in _NOT_THINGS:
                phrase = " ".join(words)
                if phrase not in out:
                    out.append(phrase)
    return tuple(out[:5])


def _ordinals(message: str) -> tuple[int, ...]:
    words = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
    found = [
        words[w.lower()]
        for w in re.findall(r"\b(first|second|third|fourth|fifth|last)\b", message, re.I)
    ]
    found += [int(n) for n in re.findall(r"(?:#|number\s+|no\.?\s*)(\d)\b", message, re.I)]
    if _COMPARE.search(message):
        # "compare 1 and 3": bare positions (not prices, sizes or counts)
        found += [
            int(n)
            for n in re.findall(
                r"(?<![$\d.,])\b([1-9])\b(?!\s*(?:\$|%|kg|g\b|ml|l\b|cm|mm|in\b|pack|x\b|[.,]\d))",
                message,
                re.I,
            )
        ]
    if re.search(r"\b(?:first|top)\s+(two|three|2|3)\b", message, re.I):
        n = {"two": 2, "three": 3, "2": 2, "3": 3}[
            re.search(r"\b(?:first|top)\s+(two|three|2|3)\b", message, re.I).group(1).lower()  # type: ignore[union-attr]
        ]
        found = list(range(1, n + 1))
    elif re.search(r"\b(both|the two|these two|those two)\b", message, re.I) and not found:
        found = [1, 2]
    return tuple(dict.fromkeys(found))


class RuleParser:
    """The rule and lexicon parser: wording rules for intents, the catalog for slots."""

    name = "rules"

    def parse(self, message: str, state: DialogueState, vocab: CatalogIndex) -> Request:
        language = detect_language(message)
        if language != "en":
            return Request("unsupported_language", "language", language=language)
        message = vocab.respell(message)  # "cutting bord" -> "cutting board"
        slots = self.slots(message, vocab)
        if INJECTION.search(message):
            return replace(slots, intent="off_topic", rule="injection", injection=True)
        intent, rule = route(message)
        facts = fact_phrases(message)
        referent = bool(_REFERENT.search(message)) and bool(state.last_list or state.last_item)
        if intent in ("complaint", "off_topic") and _situation(message, intent, referent, vocab):
            intent, rule = "recommend", "situation"
            facts = facts or (message[:120],)
        lift = _LIFT.search(message)
        if _UNDO.search(message) and state.recorded:
            intent, rule = "undo", "undo"
        elif lift:
            intent, rule = "lift_preference", "lift preference"
            slots = replace(slots, extras={"lift": next(g for g in lift.groups() if g)})
        elif _COMPARE.search(message) and (state.last_list or slots.has_need):
            intent, rule = "compare", "compare"
        elif _ORDER_Q.search(message):
            intent, rule = "order_question", "order question"
        elif intent != "complaint" and (
            intent == "feedback" or _NOT_INTERESTED.search(message) or _BOUGHT.search(message)
        ):
            named = vocab_names_item(message, vocab)
            if _NOT_INTERESTED.search(message) and (referent or named):
                intent, rule = "feedback", "feedback"
            elif (
                _BOUGHT.search(message)
                and (referent or named)
                and (named or not _is_generic(message))
            ):
                intent, rule = "feedback", "purchase report"
            elif (
                _OWN.search(message)
                and referent
                and not re.search(r"\b(?:have|own|got)\s+(?:a|an|some|two|one)\b", message, re.I)
            ):
                intent, rule = "feedback", "owned report"
            else:
                # "I have a dog", "I just got an espresso machine": context, not a record
                intent, rule = "recommend", "stated fact"
                facts = facts or (message[:120],)
        elif (
            intent in ("unclear", "greeting") and facts
            # "I don't fancy the first one", "I'd pay more": about the list, not a fact
            and not (state.last_list and (slots.not_that or slots.pricier))
        ):  # fmt: skip
            intent, rule = "recommend", "stated fact"
        elif (
            _ONLY.search(message)
            and state.last_list
            and intent in ("unclear", "greeting", "recommend", "refine")
            and known_words(slots.need, vocab)
        ):
            # "only the jackets" after lights and jackets: the same topic, narrowed to a kind
            intent, rule = "refine", "only"
        if not (slots.categories or slots.brands or slots.attributes) and not known_words(
            slots.need, vocab
        ):
            # no word of the need is one the catalog has: "Whats next for me?", "anything I'm
            # running low on?" are open questions for the history stage, not searches
            if _AFTER_THAT.search(message) and state.last_list and intent != "order_question":
                intent, rule = "refine", "more"
                slots = replace(slots, more=True, need="")
            elif _OPEN_NEXT.search(message) and intent in ("recommend", "unclear", "greeting"):
                intent, rule = "recommend", "open next need"
                slots = replace(slots, need="")
            elif (
                intent == "recommend"
                and not _REQUEST_SHAPE.search(message)
                and not facts
                and not slots.recipient
            ):
                slots = replace(slots, need="")
        if intent in ("unclear", "greeting") and slots.recipient:
            intent, rule = "recommend", "gift"
        if intent == "recommend" and _RECIPIENT.search(message):
            rule = "gift"
        refinement_only = not slots.need and not slots.categories and not facts
        # need words count when the catalog knows one of them or the message is shaped as a
        # request ("anything for back pain?"); "hmm" is neither
        known = {w for w in re.findall(r"[a-z]+", slots.need.lower()) if vocab.knows(w)}
        asks = bool(known) or bool(_REQUEST_SHAPE.search(message)) or bool(slots.categories)
        if intent == "unclear" and referent and _ITEM_QUESTION.search(message):
            intent, rule = "describe", "item question"
        elif intent == "unclear" and (
            (slots.has_need and asks) or slots.max_price or slots.min_price
        ):
            # new words of need start a request; prices, brands or attributes alone refine
            intent = "refine" if state.last_list and refinement_only else "recommend"
            rule = "slots"
        refines = (
            slots.another_brand or slots.more or slots.cheaper or slots.pricier or slots.avoid
            or slots.exclude_brands
            or slots.brands or slots.attributes or slots.not_carried or slots.not_that
        )  # fmt: skip
        if intent in ("unclear", "greeting") and refines:
            intent, rule = ("refine" if state.last_list else "recommend"), "refinement"
        elif (
            intent == "recommend" and refinement_only and state.last_list
            and (slots.pricier or slots.not_that or slots.more) and not _OPEN_NEXT.search(message)
        ):  # fmt: skip
            # "show me a premium option", "show me a few more" after a list: the list, pricier
            # or further down; not a fresh start
            intent, rule = "refine", "refinement"
        elif (
            state.last_list
            and intent in ("unclear", "recommend")
            and rule in ("none", "slots")
            and (base := _shown_comparative(message, state.last_list, vocab))
        ):
            # "anything lighter?" after dark roasts: the list's own fact, not another kind
            intent, rule = "refine", "comparative"
            slots = replace(slots, need="", attributes=(*slots.attributes, base))
        elif (
            intent in ("unclear", "recommend")
            and _GOES_WITH.search(message)
            and (complements := _complements_named(message, vocab))
        ):
            # "what goes with a fountain pen?", "got a new kettle, what do I need for it?": the
            # catalog's complements of the kind named, not more of it (nor its brand)
            intent, rule = "recommend", "complement"
            slots = replace(slots, need=" ".join(complements), brands=(), categories=())
        elif intent == "unclear" and state.last_list and SIZE_STEP.search(message):
            intent, rule = "refine", "size step"
            need = " ".join(w for w in SIZE_STEP.sub(" ", slots.need).split() if w != "one")
            slots = replace(slots, need=need)
        ords = _ordinals(message)
        things = owned_things([message])
        said = stated_avoids(message, vocab)
        # "I'm not into heat pads", "I don't want a machine", "without peanuts": the cue and
        # what it rules out are never searched for (filtered where the catalog has them)
        ruled_out = {
            w.rstrip("s") for m in _RULED_OUT.finditer(message) for w in m.group(0).lower().split()
        }
        if said:
            # what is ruled out filters every list that follows; a size moved on to ("outgrew
            # size 4") is the one wanted
            wanted = (said.wanted_size,) if said.wanted_size else ()
            said_words = {w for t in said.terms for w in t.split()}
            attributes = tuple(
                a
                for a in slots.attributes
                if not {a.split(":", 1)[0], "size " + a.split(":", 1)[0]} & set(said.terms)
                and a.split(":", 1)[0] not in said_words  # "except earl grey": no grey wanted
            )
            ruled_out |= {
                w.rstrip("s") for t in (*said.terms, *said.things) for w in t.lower().split()
            } | {"allergic", "allergy", "allergies", "outgrew", "outgrown", "into", "without", "no"}
            slots = replace(
                slots,
                avoid=tuple(dict.fromkeys((*slots.avoid, *said.terms))),
                attributes=tuple(dict.fromkeys((*attributes, *wanted))),
            )
            things = tuple(dict.fromkeys((*things, *said.things)))
            if intent in ("unclear", "greeting"):
                intent, rule = ("refine" if state.last_list else "recommend"), "avoid"
        if ruled_out:
            words = [w for w in slots.need.split() if w.lower().rstrip("s") not in ruled_out]
            slots = replace(slots, need=" ".join(_tidy_for(words)))
        if things and slots.categories:
            # "I just got an espresso machine": the department of what they have is context,
            # not the list's filter
            forms = {
                label: [f for f, lab in vocab.categories.items() if lab == label]
                for label in slots.categories
            }
            kept = tuple(
                c for c in slots.categories if not any(f in t for f in forms[c] for t in things)
            )
            slots = replace(slots, categories=kept)
        if intent == "unclear" and _situation(message, intent, referent, vocab):
            # what no rule read, said as a situation: the shop helps by what it sells
            intent, rule = "recommend", "situation"
            facts = facts or (message[:120],)
        return replace(
            slots,
            intent=intent,
            rule=rule,
            facts=facts,
            ordinal=ordinal(message),
            ordinals=ords,
            explicit_item=referent or bool(vocab_names_item(message, vocab)),
            owned_things=things,
        )

    def slots(self, message: str, vocab: CatalogIndex) -> Request:
        """The catalog-grounded slots of one message (intent left "unclear")."""
        low = message.lower()
        cons, cheaper = parse_constraints(message, vocab.brands, vocab.categories)
        brands = []
        not_carried = []
        for name in vocab.brand_names:
            if (
                re.search(r"\b" + re.escape(name.lower()) + r"\b", low)
                and name not in [b for b in cons.exclude_brands]
                and name.lower() not in [b.lower() for b in cons.exclude_brands]
            ):
                brands.append(name)
        for m in _WANT_BRAND.finditer(message):
            cand = m.group(1).strip()
            first = cand.split()[0]
            if cand.lower() in vocab.brands or first.lower() in vocab.brands:
                continue
            if first.lower() in STOP_WORDS or first.lower() in vocab.vocabulary:
                continue
            if first in ("I", "My", "The", "A", "An") or first.lower() in vocab.categories:
                continue
            not_carried.append(first)
        not_carried += unknown_names(message, vocab)
        for m in re.finditer(
            r"\b(?:" + NOT_BRAND_CUES + r"|nothing)\s+(?:from\s+|by\s+)?(?:the\s+)?(?:brand\s+)?"
            r"([A-Z][\w&'-]+)",
            message,
        ):
            name = m.group(1)
            if name.lower() in vocab.brands and name not in cons.exclude_brands:
                cons_ex = (*cons.exclude_brands, vocab.brand_spelling(name))
                cons = replace(cons, exclude_brands=cons_ex)
        excluded_low = {b.lower() for b in cons.exclude_brands}
        brands = [vocab.brand_spelling(b) for b in brands if b.lower() not in excluded_low]
        attributes = []
        avoid = []
        for m in re.finditer(
            r"\b(?:not|no|nothing|without|except|avoid)\s+(?:in\s+)?(?:the\s+|any\s+)?([a-z]+)"
            r"(?:\s+ones?)?\b",
            low,
        ):
            if m.group(1) in COLOURS and m.group(1) in vocab.attribute_words:
                avoid.append(m.group(1))  # "not the red ones"
        for word in re.findall(r"[a-z]+", low):
            if word in avoid:
                continue
            if word in COLOURS:
                alts = [
                    a for a in (word, *COLOUR_FAMILIES.get(word, ())) if a in vocab.attribute_words
                ]
                if alts == [word]:
                    attributes.append(word)
                elif alts:
                    attributes.append(word + ":" + "|".join(alts))  # said : what items carry
                else:
                    not_carried.append(word)
        sizes = []
        for m in _SIZE.finditer(message):
            said = (m.group(1) or m.group(2) or m.group(3) or "").lower()
            size = _SIZE_WORDS.get(said, said)
            if wider := _size_range(said, vocab.attribute_words):
                # "I'm a size 44": the items carry "Size 43-46"
                sizes.append(said)
                attributes.append(f"{said}:{wider}")
            elif size in vocab.attribute_words:
                sizes.append(said)
                attributes.append(size if size == said else f"{said}:{size}|{said}")
        for word in ("vegan", "unscented", "fragrance-free", "organic", "decaf", "sensitive"):
            if word in low:
                (attributes if word in vocab.attribute_words else not_carried).append(word)
        recipient = ""
        if rm := _RECIPIENT.search(message):
            recipient = next((g for g in rm.groups() if g), "").lower()
        elif _GIFT.search(message) and not _RECEIVED.search(message):
            recipient = "someone else"
        # "what would you pick for me?": the verb is the request, not the need ("guitar picks")
        # and the wording of a refinement ("I don't fancy that one", "better quality") is no need
        wording = _FILLER.sub(" ", _PICK_VERB.sub(" ", message))
        wording = _NOT_THAT.sub(" ", _PRICIER.sub(" ", wording))
        need_words = [
            w
            for w in re.findall(r"[A-Za-z][A-Za-z'-]+", wording)
            if (w.lower() not in STOP_WORDS or w.lower() == "for")
            and w.lower() not in _INTENT_WORDS
            and w.lower() not in COLOURS
            and w.lower()
            not in {p for b in (*brands, *cons.exclude_brands) for p in b.lower().split()}
            and w.lower() not in {n.lower() for n in not_carried}
            and not re.fullmatch(
                r"(?i)not|no|from|by|under|over|less|more|than|around|only|if|but|though", w
            )
            and not (sizes and w.lower() in ("size", "sized", *sizes))
        ]
        return Request(
            intent="unclear",
            need=" ".join(_tidy_for(need_words)[:10]),
            categories=cons.categories,
            brands=tuple(dict.fromkeys(brands)),
            exclude_brands=cons.exclude_brands,
            attributes=tuple(dict.fromkeys(attributes)),
            max_price=cons.max_price,
            min_price=cons.min_price,
            cheaper=cheaper,
            pricier=bool(_PRICIER.search(message)),
            another_brand=bool(_ANOTHER_BRAND.search(message)),
            more=bool(_MORE.search(message)),
            not_that=bool(_NOT_THAT.search(message)),
            recipient=recipient,
            not_carried=tuple(dict.fromkeys(not_carried)),
            avoid=tuple(dict.fromkeys(avoid)),
        )


def _tidy_for(words: list[str]) -> list[str]:
    """Need words with "for" kept only between two others: "ink cartridges for fountain pen"
    asks for ink (the kind before "for"); a "for" at either end or twice says nothing."""
    out: list[str] = []
    for w in words:
        if w.lower() == "for" and (not out or out[-1].lower() == "for"):
            continue
        out.append(w)
    while out and out[-1].lower() == "for":
        out.pop()
    return out


# "not into heat pads", "don't want a machine", "not a fan of scented ones": the cue and what it
# rules out (up to three words, to a comma, a clause or the end)
_RULED_OUT = re.compile(
    r"(?i)\b(?:not into|not a fan of|don'?t (?:want|like|need)|no more)\s+"
    r"(?:a |an |any |the )?[a-z-]+(?:\s+(?!(?:and|but|so|for|anything|something|what)\b)[a-z-]+){0,2}"
)
_ONLY = re.compile(
    r"(?i)^\W*(?:only|just)\s+(?:the\s+|those\s+|these\s+)?[a-z][a-z -]*?"
    r"(?:\s+(?:please|pls|then|thanks))?\W*$"
)
_CARRY_Q = re.compile(
    r"(?i)\b(?:do|does|d'you)\s+(?:you|the shop|your shop)\s+(?:have|sell|carry|stock)\s+"
    r"(?:any(?:thing)?\s+(?:from|by)\s+)?(?:the\s+|any\s+)?([a-z][\w'-]*)"
)
_NAME_BEFORE = re.compile(r"(?:^|\b(?:a|an|the|any|some|for|of)\s+)([A-Za-z][\w'-]{3,})\s+(?=\w)")
# endings of ordinary words a vocabulary may lack ("crusty", "hypoallergenic", "washable")
_WORDLIKE = re.compile(r"(?:ic|able|ible|ous|ful|less|ive|al|ed|ing|y|ish|ly|est|er)$")


def unknown_names(message: str, vocab: CatalogIndex) -> list[str]:
    """Names of things the shop does not carry, said where a brand goes: "do you carry
    moleskine?", "do you sell Barkley & Co dog food", "a Hydrafox water bottle", "zentro kettle
    in black". A name is a word no item and no common English word has (so not a typo of
    either: the parser corrects those first); lower-case ones also must not look like an
    ordinary word the vocabulary lacks."""
    english = english_words()
    stated = vocab.brands

    def is_name(word: str, capital: bool) -> bool:
        low = word.lower()
        if low in STOP_WORDS or low in stated or vocab.knows(low) or low in vocab.categories:
            return False
        if english and low in english:
            return False
        if not english and not capital:
            return False  # without a word list only a capital says it is a name
        return capital or not _WORDLIKE.search(low)

    out = []
    for m in _CARRY_Q.finditer(message):
        word = m.group(1)
        if is_name(word, word[0].isupper()):
            out.append(word)
    for m in _NAME_BEFORE.finditer(message):
        word = m.group(1)
        rest = message[m.end() :]
        nxt = re.match(r"(?:&\s*co\.?\s+)?([a-z]+)", rest, re.I)
        # a name before a kind of thing the catalog has ("Hydrafox water bottle")
        if nxt and vocab.knows(nxt.group(1).lower()) and nxt.group(1).lower() not in STOP_WORDS:
            capital = word[0].isupper() and m.start(1) > 0
            if is_name(word, capital):
                out.append(word)
    return list(dict.fromkeys(out))


def known_words(text: str, vocab: CatalogIndex) -> list[str]:
    """The words of ``text`` that some item's facts carry (plurals count): the grounded part
    of a need."""
    known = vocab.known
    out = []
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        if w in STOP_WORDS or w in _INTENT_WORDS or len(w) < 3:
            continue
        if w in known or w.rstrip("s") in known or (w.endswith("es") and w[:-2] in known):
            out.append(w)
    return out


def _is_generic(message: str) -> bool:
    """ "I just bought a new espresso machine" names a kind of thing, not one of our items."""
    return bool(
        re.search(r"\b(?:bought|purchased|ordered|got)\s+(?:a|an|some|two|new)\b", message, re.I)
    )


def vocab_names_item(message: str, vocab: CatalogIndex) -> bool:
    """Whether the message names one catalog item closely."""
    words = {
        w for w in re.findall(r"[a-z0-9]+", message.lower()) if w not in STOP_WORDS and len(w) > 2
    }
    if not words:
        return False
    # at least two of the message's words, covering most of one item's name ("the Safety razor
    # blades, 10 pack"); "an espresso machine" covers 2 of 7 words of any machine's name
    for tw in vocab.title_words.values():
        common = len(words & tw)
        if common >= 2 and common >= 0.6 * len(tw):
            return True
    return False
