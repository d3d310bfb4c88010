"""Intent routing.

Rules decide where wording is reliable (orders, forgetting, feedback, ordinals, prices, review
replies, injections); the language model is asked only when no rule matches and the message
looks like a real request (see :meth:`bot.chat.assistant.Assistant._route`). Rules are checked in
order: the first match wins, so specific patterns come before general ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Routed", "route", "ordinal", "INJECTION"]

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
    r"|(?:reveal|print|show|repeat|tell me) (?:me )?(?:your|the) (?:system )?(?:prompt|instructions)"
    r"|system prompt|developer mode|jailbreak|you are now|act as (?:an? )?(?:admin|developer|system)"
    r"|(?:other|another|all|every) (?:users?|customers?)'?s? (?:data|reviews?|history|orders?|purchases?)"
    r"|(?:switch|change|log ?in as|impersonate|pretend (?:to be|i am)) (?:to )?(?:user|customer|account)"
    r"|(?:i am|i'm|this is) (?:user|customer) [\w-]{3,}"
    r"|user[_ ]?id\s*[:=]",
    re.I,
)

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("forget", re.compile(r"\b(forget (?:me|about me|my data|everything)|delete (?:all )?(?:my|all my) (?:data|history|account|profile)|erase my|remove my data|export my data|download my data)\b", re.I)),
    ("review_reply", re.compile(r"\b(?:reply|respond|answer|write a (?:reply|response)) (?:to )?(?:the following|this|the|a|my|that|following)? ?(?:customer )?review\b|^\s*review\s*[:(]", re.I)),
    ("order_question", re.compile(r"\b(did i (?:ever )?(?:buy|order|purchase|get)|when did i (?:buy|order|purchase|get)|what did i (?:buy|order|purchase)|my (?:last|previous|past|recent) (?:order|purchase)s?|order history|purchase history|have i (?:bought|ordered))\b", re.I)),
    ("complaint", re.compile(r"\b(broken|broke|damaged|defective|refund|complain|complaint|never arrived|didn't arrive|did not arrive|wrong item|terrible|awful|disappointed|angry|furious|unacceptable|missing (?:part|item)|leaked|leaking|return (?:it|this|my))\b", re.I)),
    ("feedback", re.compile(r"\b(i (?:just |already )?(?:bought|purchased|ordered|got|own|have) (?!you\b)(?:that|this|it|the|a|an|one|[A-Za-z])|i already have|already own|not interested|no interest in|don'?t (?:want|like|need) (?:the |that |this |it)|not for me|thumbs (?:up|down)|👍|👎|i love (?:the |that |this )|stop (?:recommending|showing))", re.I)),
    ("profile", re.compile(r"\b(what do you know about me|my profile|my (?:interests|preferences|tastes)|summari[sz]e me|about me\b|what (?:do|did) i like|who am i)", re.I)),
    ("explain", re.compile(r"\b(why (?:the |that |this |did you |do you |is |would |recommend|suggest|number|#|first|second|third|fourth|fifth|last|\d)|explain (?:the |that |this |why|your)|how come|what makes (?:the|that|this) )", re.I)),
    ("refine", re.compile(r"\b(cheaper|less expensive|more affordable|another (?:one|option|suggestion)|something else|other options?|different (?:one|options?|brand)|more like (?:the |that |this |#|number )|similar to (?:the |that |this |#|number )|show me more|any others?|more options)\b", re.I)),
    ("off_topic", re.compile(r"\b(weather|president|election|politic|capital of|stock|bitcoin|crypto|football|soccer|recipe|joke|poem|song lyrics|write (?:code|a program|python)|homework|meaning of life|who won|translate)\b", re.I)),
    ("describe", re.compile(r"\b(tell me (?:more )?about|what is (?:the |a |an )|what's (?:the |a |an )|describe|details (?:on|of|about)|info(?:rmation)? (?:on|about)|more about)\b", re.I)),
    ("recommend", re.compile(r"\b(recommend\w*|suggest\w*|what (?:else )?(?:should|could|can|do) i (?:buy|get|order|try|need)|what (?:do|else) (?:i|should i) need|next|need|looking for|show me|any ideas|gift|buy|shopping|options? for|want (?:a|an|some|to buy)|under \$?\d+|below \$?\d+|i'm after|find me|pick for me)\b", re.I)),
    ("greeting", re.compile(r"^\s*(hi|hello|hey|good (?:morning|afternoon|evening)|thanks?|thank you|cheers|bye|goodbye)\b[\s!.,]*(?:there|you)?[\s!.]*$", re.I)),
    # a greeting with an introduction and no request: "Hi, I'm new here.", "Hello! First time here"
    ("greeting", re.compile(r"^\s*(?:(?:hi|hello|hey|good (?:morning|afternoon|evening))\b[\s!.,]*(?:there|everyone|all)?[\s!.,]*)?(?:i'?m|i am) (?:new(?: here| to (?:this|the) (?:shop|store|site))?|just (?:browsing|looking(?: around)?))[\s!.]*$|^\s*(?:(?:hi|hello|hey)\b[\s!.,]*)?(?:(?:it'?s )?(?:my )?first time(?: here)?|how are you\??|nice to meet you)[\s!.]*$", re.I)),
]  # fmt: skip


@dataclass(frozen=True)
class Routed:
    """The routing decision for one message."""

    intent: str
    rule: str  # which rule fired ("injection", a rule name, or "none")
    ordinal: int | None = None
    injection: bool = False


def ordinal(message: str) -> int | None:
    """1-based position named in the message ("the second one", "#3"); -1 for "last"."""
    m = _ORD_RX.search(message)
    if not m:
        return None
    if m.group(2):
        return int(m.group(2))
    return _ORDINALS[m.group(1).lower()]


def route(message: str) -> Routed:
    """Route by rules. ``intent == "unclear"`` means no rule matched."""
    injection = bool(INJECTION.search(message))
    if injection:
        return Routed("off_topic", "injection", None, True)
    for name, rx in _RULES:
        if rx.search(message):
            return Routed(name, name, ordinal(message))
    return Routed("unclear", "none", ordinal(message))
