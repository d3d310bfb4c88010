"""Targets for the writing tasks, built from facts by a small paraphrase grammar.

Two tasks a 135M model can learn on a CPU:

- ``fact_sentence``: one fluent sentence that restates only the item's facts (the prompt is the
  served :func:`bot.tasks.prompts.describe_messages`). Every slot a template fills comes from
  a fact line, so each target passes :func:`bot.tasks.describe.grounded_sentences` by
  construction (checked when the row is built; a target that fails is not used).
- ``review_reply``: a shop's reply to one review (the served
  :func:`bot.tasks.prompts.review_reply_messages`): thanks for praise, apology and a concrete
  next step for complaints, escalation wording for safety and health reports. The reply names
  only the item title and the issue the review raised; it never offers refunds, replacements,
  prices or dates (checked with :func:`bot.tasks.review_reply.reply_checks`).

Safety reports are rare in a shop's reviews, so some are composed from a grammar of subjects
and symptoms (``synthetic_reviews``), worded apart from the evaluation's hand-written reports.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from bot.tasks.describe import grounded_sentences
from bot.tasks.review_reply import reply_checks, review_kind
from knowledge.schema import Item

__all__ = [
    "SyntheticReview",
    "fact_sentences",
    "reply_target",
    "synthetic_reviews",
]


def _slots(item: Item, rating: tuple[float, int] | None) -> dict[str, str]:
    attrs = item.attributes or {}
    brand = item.brand.strip()
    line = str(attrs.get("line") or "").strip()
    desc = " ".join((item.description or "").split())
    kind = ""
    m = re.match(rf"{re.escape(line)} (.+?) from {re.escape(brand)}\.", desc) if line else None
    if m:
        kind = m.group(1).strip()
    elif item.categories:
        kind = item.categories[-1].lower()
    s: dict[str, str] = {"brand": brand, "line": line, "kind": kind}
    if item.categories:
        s["category"] = item.categories[-1].lower()
    if item.price is not None:
        s["price"] = f"${item.price:.2f}"
    size = re.search(r"\bSize: ([^.]+?)\.(?:\s|$)", desc)
    if size:
        s["size"] = size.group(1)
    material = re.search(r"\bMaterial: ([^.]+?)\.(?:\s|$)", desc)
    if material:
        s["material"] = material.group(1).lower()
    if attrs.get("replenish_days"):
        s["days"] = str(attrs["replenish_days"])
    if attrs.get("shade"):
        s["shade"] = str(attrs["shade"])
    if "New in our shop" in desc:
        s["new"] = "yes"
    if rating is not None and rating[1] >= 3:
        s["rating"] = f"{rating[0]:.1f}"
        s["reviews"] = str(rating[1])
    plural = kind.endswith("s") and not kind.endswith(("ss", "us"))
    s.update({v: _PLURAL[v] if plural else v for v in _VERBS})
    s["makes"] = "makes"
    return {k: v for k, v in s.items() if v}


# Each template names the slots it needs; {Brand} etc. are filled as written.
_DESCRIBE: tuple[str, ...] = (
    "{brand}'s {line} {kind} {comes} in a {size} size for {price}.",
    "This {line} {kind} from {brand} {holds} {size} and {lasts} about {days} days with regular "
    "use.",
    "A {size} {kind} from the {line} line by {brand}, priced at {price}.",
    "The {line} {kind} by {brand} {is} a {category} choice that {lasts} around {days} days.",
    "{brand} {makes} this {line} {kind} in the shade {shade}, in a {size} size.",
    "In the shade {shade}, this {line} {kind} from {brand} {costs} {price}.",
    "Customers rate this {line} {kind} from {brand} {rating} out of 5 across {reviews} reviews.",
    "New in the shop: the {line} {kind} from {brand}, at {price}.",
    "This {kind} from {brand}'s {line} range {is} made of {material} and {costs} {price}.",
    "At {price}, the {line} {kind} from {brand} {is} a {size} pack that {lasts} about {days} days.",
    "From {brand}'s {line} range, this {kind} {sells} for {price}.",
    "The {line} {kind} {is} a {category} product from {brand}.",
)
# verbs that agree with the kind ("strings last", "shampoo lasts"); "makes" agrees with the brand
_VERBS = ("comes", "holds", "lasts", "is", "costs", "sells")
_PLURAL = {"comes": "come", "holds": "hold", "lasts": "last", "is": "are", "costs": "cost",
           "sells": "sell"}  # fmt: skip
_FIELD = re.compile(r"\{(\w+)\}")


def fact_sentences(
    item: Item, facts: list[str], rating: tuple[float, int] | None, rng: random.Random, n: int
) -> list[str]:
    """Up to ``n`` different one-sentence descriptions of ``item`` whose every slot is a fact
    and which pass the serving grounding filter against ``facts``."""
    slots = _slots(item, rating)
    usable = [t for t in _DESCRIBE if set(_FIELD.findall(t)) <= set(slots)]
    rng.shuffle(usable)
    out: list[str] = []
    for template in usable:
        text = template.format(**slots)
        text = text[0].upper() + text[1:]
        if "this" in text.split() and slots.get("is") == "are":
            text = text.replace("this ", "these ").replace("This ", "These ")
        if list(grounded_sentences(text, facts)) == [text]:
            out.append(text)
        if len(out) == n:
            break
    return out


# -- review replies ---------------------------------------------------------------------------
_ISSUES: tuple[tuple[str, str], ...] = (
    (r"arriv\w* (?:a few days )?late|late deliver|took (?:too )?long to arrive", "the late delivery"),
    (r"get used to", "the time it took to get used to it"),
    (r"pricey|expensive|overpriced", "the price"),
    (r"leak\w*", "the leak"),
    (r"broke\w*|broken|crack\w*|fell apart", "the breakage"),
    (r"stopped working|didn'?t work|doesn'?t work|not work\w*", "it not working as it should"),
    (r"damaged|dented|torn", "the damage"),
    (r"missing", "the missing part"),
    (r"wrong (?:shade|size|colou?r|item|flavou?r)", "receiving the wrong item"),
    (r"stale", "the stale product"),
    (r"flimsy|cheap(?:ly)? made", "the build quality"),
    (r"smell\w*|odou?r", "the smell"),
    (r"expected (?:a bit )?more", "it falling short of what you expected"),
)  # fmt: skip


def _issue(text: str) -> str:
    hits = [(m.start(), phrase) for pat, phrase in _ISSUES if (m := re.search(pat, text, re.I))]
    return min(hits)[1] if hits else ""


@dataclass(frozen=True)
class SyntheticReview:
    """A composed review, its rating, its expected kind, and for safety reports who was harmed
    and how (so the reply can name it without reading it back from text)."""

    text: str
    rating: float
    kind: str
    who: str = ""
    what: str = ""


_PET_ITEMS = ("dog", "cat", "pet", "puppy", "kitten")
_SAFETY_WHO = {
    "person": (("I", "you"), ("my son", "your son"), ("my daughter", "your daughter"),
               ("my partner", "your partner"), ("my baby", "your baby")),
    "pet": (("my dog", "your dog"), ("my cat", "your cat"), ("my puppy", "your puppy")),
}  # fmt: skip
_SAFETY_WHAT = {
    "person": (("got a rash", "got a rash"), ("had an allergic reaction", "had a reaction"),
               ("got a burning feeling on the skin", "had a burning feeling"),
               ("felt sick", "felt unwell"), ("broke out in hives", "broke out in hives")),
    "pet": (("got sick", "got sick"), ("was vomiting", "was unwell"),
            ("had diarrhoea", "had an upset stomach"), ("threw up twice", "was unwell")),
}  # fmt: skip
_WHEN = ("after the first use", "the same evening", "a day after we started", "right after")
_COMPLAINTS = (
    "The lid cracked in the first week.",
    "It stopped working after a few days.",
    "The bottle arrived damaged and half empty.",
    "Mine came with a missing part.",
    "I was sent the wrong shade.",
    "It leaks every time I use it.",
    "It arrived two weeks late.",
    "It feels flimsy and cheaply made.",
    "The smell is really off-putting.",
    "Honestly it didn't work for me at all.",
)


def synthetic_reviews(item: Item, rng: random.Random, n: int) -> list[SyntheticReview]:
    """``n`` composed safety reports and complaints about ``item`` (pets for pet items)."""
    pet = any(w in " ".join((item.title, *item.categories)).lower() for w in _PET_ITEMS)
    group = "pet" if pet else "person"
    out = []
    for k in range(n):
        if k % 2 == 0:
            (who, who_r), (what, what_r) = (
                rng.choice(_SAFETY_WHO[group]),
                rng.choice(_SAFETY_WHAT[group]),
            )
            when = rng.choice(_WHEN)
            text = f"{who[0].upper() + who[1:]} {what} {when}."
            text += rng.choice(("", " Not happy.", " Please look into this.", " Be careful."))
            out.append(SyntheticReview(text, float(rng.choice((1, 2))), "safety", who_r, what_r))
        else:
            text = rng.choice(_COMPLAINTS)
            out.append(SyntheticReview(text, float(rng.choice((1, 2))), "complaint"))
    return out


def reply_target(
    review: str,
    rating: float | None,
    title: str,
    rng: random.Random,
    kind: str | None = None,
    who: str = "",
    what: str = "",
) -> str:
    """A reply of the right kind for the review, naming only the title and its issue."""
    kind = kind or review_kind(review, rating)
    issue = _issue(review)
    about = rng.choice(("your review of", "your feedback on", "taking the time to review"))
    if kind == "safety":
        harmed = f"{who} {what}" if who and what else "you had a problem like this"
        first = rng.choice(
            (
                f"We're very sorry to hear that {harmed}.",
                f"We're so sorry that {harmed}; thank you for telling us.",
            )
        )
        vet = "a vet" if who.startswith("your") and who.split()[-1] in _PET_ITEMS else "a doctor"
        care = rng.choice(
            (
                f"Please stop using {title} and ask {vet} for advice if needed.",
                f"Please stop using it for now and speak to {vet} if you are worried.",
            )
        )
        step = rng.choice(
            (
                "We are escalating your report to our product safety team; please contact our "
                "customer service team with your order details so they can follow up.",
                "Your report goes straight to our product safety team, and our customer service "
                "team would like you to contact them with your order number.",
            )
        )
        reply = f"{first} {care} {step}"
    elif kind == "complaint":
        sorry = (
            f"We're sorry about {issue}, and thank you for {about} {title}."
            if issue
            else f"We're sorry {title} let you down, and thank you for telling us."
        )
        step = rng.choice(
            (
                "Please contact our customer service team with your order details so we can "
                "look into it.",
                "Please get in touch with our customer service team and share your order number, "
                "and we will look into what went wrong.",
            )
        )
        reply = f"{sorry} {step}"
    elif kind == "mixed":
        first = f"Thank you for {about} {title}."
        mid = (
            f"We're sorry about {issue}, and glad the rest worked for you."
            if issue
            else "We're glad parts of it worked for you."
        )
        step = "If anything isn't right, our customer service team is happy to help."
        reply = f"{first} {mid} {step}"
    else:
        reply = rng.choice(
            (
                f"Thank you for {about} {title}! We're glad it works so well for you.",
                f"Thank you so much for {about} {title}. It's great to hear you're happy with it.",
                f"Thanks for {about} {title}! We're delighted it suits you.",
            )
        )
    if not all(reply_checks(reply, review, rating, title, kind).values()):
        raise ValueError(f"reply grammar produced a reply that fails its checks: {reply!r}")
    return reply
