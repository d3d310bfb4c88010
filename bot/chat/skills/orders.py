"""Order questions ("when did I last buy diapers?") and complaints about an order.

Every read goes through ``turn.view``: the asking customer's own events only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from bot.chat.config import ServiceConfig
from bot.chat.context import Context, Handler, Turn
from bot.chat.skills.product_questions import singular as _stem
from bot.chat.skills.reviews import join_words, review_points
from bot.recsys.catalog import STOP_WORDS
from bot.recsys.history import short_date
from bot.reply import Reply
from knowledge.schema import Event, Item

__all__ = ["HANDLERS", "history_matches"]


def _words(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())}


def history_matches(ctx: Context, turn: Turn, text: str) -> list[tuple[Event, Item]]:
    """The customer's purchases (newest first) of the items that best match ``text``: those whose
    title, brand and departments carry the most of its words ("dark roast capsules" is the dark
    roast, not every capsule). A word no item of theirs carries is ignored."""
    items = ctx.items
    words = {
        _stem(w)
        for w in re.findall(r"[a-z0-9]+", text.lower())
        if w not in STOP_WORDS and len(w) > 2 and not _ORDER_WORDS.fullmatch(w)
    }
    if not words:
        return []
    scored: list[tuple[int, Event, Item]] = []
    for e in reversed(turn.view.purchases):
        item = items.get(e.item_id)
        if item is None:
            continue
        have = _words(" ".join((item.title, item.brand, *item.categories)))
        score = len(words & have)
        if score:
            scored.append((score, e, item))
    best = max((s for s, _e, _i in scored), default=0)
    return [(e, item) for s, e, item in scored if s == best]


_MONTHS = {
    m: i
    for i, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")],
        1,
    )
    for m in names
}  # fmt: skip
_MONTH_RX = re.compile(
    r"\b(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?(?:\s+(\d{4}))?", re.I
)
# meteorological seasons (northern hemisphere): their first month; a season lasts three
_SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
_SEASON_RX = re.compile(r"\b(spring|summer|autumn|fall|winter)\b(?:\s+(?:of\s+)?(\d{4}))?", re.I)


def _three_months_on(d: dt.datetime) -> dt.datetime:
    """The first of the month three months after ``d``'s month (a season's end)."""
    return dt.datetime(d.year + (d.month + 3 > 12), (d.month + 2) % 12 + 1, 1, tzinfo=dt.UTC)


_ORDER_WORDS = re.compile(
    r"(?i)\b(did|do|i|when|what|which|have|ever|last|buy|bought|order(?:ed|s)?|purchase[ds]?|get|got|"
    r"how|long|ago|often|many|times|my|in|during|since|this|year|month|week|from|the|a|an|"
    r"history|recent|previous|past|show|list|see|tell|give|can|could|you|please|was|were|is|"
    r"that|it|those|these|them|they|this|ones?|times?|first|recently|lately|before|again|any|all|everything|"
    r"stuff|things?|and|about|much)\b"
)


def _period(text: str, now: int) -> tuple[int, int, str] | None:
    """The [start, end) time range a question names, and how to say it."""
    today = dt.datetime.fromtimestamp(now, dt.UTC)
    low = text.lower()
    if m := _MONTH_RX.search(text):
        month = _MONTHS[m.group(1).lower()]
        if (
            m.group(1).lower() == "may"
            and not m.group(2)
            and not re.search(r"\b(?:in|from|during|since|of|last|this) may\b", low)
        ):
            m = None  # "may" as a verb
        else:
            year = int(m.group(2)) if m.group(2) else today.year
            if not m.group(2) and (year, month) > (today.year, today.month):
                year -= 1  # "in March" means the last March
            start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
            end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.UTC)
            return int(start.timestamp()), int(end.timestamp()), start.strftime("%B %Y")
    if y := re.search(r"\b(?:in|during)\s+(\d{4})\b", low):
        year = int(y.group(1))
        start, end = (
            dt.datetime(year, 1, 1, tzinfo=dt.UTC),
            dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC),
        )
        return int(start.timestamp()), int(end.timestamp()), str(year)
    if se := _SEASON_RX.search(low):
        season = se.group(1).lower()
        year = int(se.group(2)) if se.group(2) else today.year
        start = dt.datetime(year, _SEASONS[season], 1, tzinfo=dt.UTC)
        ongoing = start <= today < _three_months_on(start)
        if not se.group(2) and (start > today or (ongoing and f"last {season}" in low)):
            start = start.replace(year=year - 1)  # "in the spring", "last winter": the last one
        end = _three_months_on(start)
        name = "autumn" if season == "fall" else season
        said = f"{name} {start.year}" + (
            f"-{end.year % 100:02d}" if end.year != start.year and end.month > 1 else ""
        )
        return int(start.timestamp()), int(end.timestamp()), said
    spans = {"last week": 7, "past week": 7, "last month": 31, "past month": 31, "this month": 31,
             "last year": 365, "past year": 365, "this year": 365}  # fmt: skip
    for phrase, days in spans.items():
        if phrase in low:
            return now - days * 86400, now + 1, phrase
    return None


def _product_words(text: str, known: set[str]) -> str:
    """The words naming what the question is about: those the catalog knows ("those dark roast
    capsules I hated" -> "dark roast capsules"); all content words when it knows none of them
    (so "did I ever buy a unicorn?" is answered "can't find", not with every order)."""
    words = [
        w
        for w in re.findall(
            r"[A-Za-z][A-Za-z'-]+",
            _SEASON_RX.sub(" ", _MONTH_RX.sub(" ", _ORDER_WORDS.sub(" ", text))),
        )
        if w.lower() not in STOP_WORDS and len(w) > 2
    ]
    stems = {_stem(k) for k in known}
    kept = [w for w in words if any(_stem(p) in stems for p in re.findall(r"[a-z0-9]+", w.lower()))]
    return " ".join(kept or words)


def _ago(days: float) -> str:
    d = int(days)
    if d < 1:
        return "today"
    if d < 60:
        return f"{d} day{'s' if d != 1 else ''} ago"
    return f"about {round(d / 30.4)} months ago"


def _every(days: float) -> str:
    """A typical gap between orders, in words ("30 days (about once a month)")."""
    d = round(days)
    if 26 <= d <= 35:
        return f"{d} days (about once a month)"
    if d >= 50:
        return f"{d} days (about every {round(d / 30.4)} months)"
    return f"{d} days"


def on_order_question(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    """Questions about one's own orders: by month or period, by product, when last, how often.
    Purchase dates are order dates; a review's date is said to be when it was reviewed. A
    question without product words about "it"/"that" is about the item discussed last."""
    view, msg = turn.view, turn.message
    low = msg.lower()
    purchases = [e for e in view.events if e.kind == "purchase" and e.item_id in ctx.items]
    reviews = [e for e in view.events if e.kind == "review" and e.item_id in ctx.items]
    bought_ids = {e.item_id for e in purchases}
    # a review without a recorded purchase still shows the customer had the item
    orders = sorted(
        purchases + [r for r in reviews if r.item_id not in bought_ids],
        key=lambda e: (e.timestamp, e.order),
    )
    asked = _product_words(msg, ctx.catalog.vocabulary)
    period = _period(msg, view.now)
    referred = turn.state.last_item if turn.state.last_item in ctx.items else None
    follow_up = (
        not asked
        and referred is not None
        and re.search(r"\b(?:it|that|them|those|these|they|th(?:is|at) one)\b", low) is not None
    )

    def line(e: Event) -> str:
        verb = "reviewed" if e.kind == "review" else "ordered"
        return f"- {ctx.items[e.item_id].title}: {verb} on {short_date(e.timestamp)}"

    found = orders
    if asked:
        matched = {e.event_id for e, _i in history_matches(ctx, turn, asked)}
        found = [e for e in found if e.event_id in matched]
    elif follow_up:
        found = [e for e in found if e.item_id == referred]
    if period:
        found = [e for e in found if period[0] <= e.timestamp < period[1]]
    kinds = {e.item_id for e in found}
    if len(kinds) == 1 and (asked or follow_up):
        what = ctx.items[next(iter(kinds))].title
    elif asked:
        what = f"\u201c{asked}\u201d"
    elif follow_up and referred:
        what = ctx.items[referred].title
    else:
        what = "anything"
    when = (
        f" in {period[2]}"
        if period and not period[2].startswith(("last", "past", "this"))
        else (f" {period[2]}" if period else "")
    )
    about = asked or follow_up
    if not orders:
        text = "You have no orders with us yet."
    elif not found:
        text = f"I can't find {what} in your order history{when}."
        recent = orders[-3:][::-1]
        text += "\nYour most recent orders:\n" + "\n".join(line(e) for e in recent)
    elif re.search(r"how often|how many times|how frequently|how regularly", low):
        dates = [e.timestamp for e in found]
        text = f"You ordered {what} {len(found)} time{'s' if len(found) != 1 else ''}{when}"
        if len(dates) >= 2:
            gaps = [(b - a) / 86400 for a, b in zip(dates, dates[1:], strict=False)]
            text += f", about every {_every(sum(gaps) / len(gaps))}"
        text += f"; the last time on {short_date(dates[-1])}.\n" + "\n".join(
            line(e) for e in found[-5:][::-1]
        )
    elif re.search(r"\bwhen\b|how long (?:ago|since)|\blast\b", low) and about:
        last = found[-1]
        verb = "reviewed" if last.kind == "review" else "ordered"
        text = (
            f"You last {verb} {ctx.items[last.item_id].title} on {short_date(last.timestamp)} "
            f"({_ago(view.days_since(last))})."
        )
        if len(found) > 1:
            text += (
                f" You've ordered it {len(found)} times{when}, the first on "
                f"{short_date(found[0].timestamp)}."
            )
    elif period or not about:
        shown = found[::-1][:10] if period else found[::-1][:5]
        head = f"Your orders{when}:" if period else "Your most recent orders:"
        text = head + "\n" + "\n".join(line(e) for e in shown)
        if len(found) > len(shown):
            text += f"\n(and {len(found) - len(shown)} more)"
    else:
        head = "Yes \u2014 " if re.match(r"\s*(?:did|have|do)\b", low) else "Found "
        text = f"{head}{what} in your order history:\n" + "\n".join(
            line(e) for e in found[::-1][:5]
        )
    if about and found:
        turn.state.last_item = found[-1].item_id  # "how often do I buy it?" next
    yield text
    yield Reply(
        text=text,
        intent="order_question",
        item_id=found[-1].item_id if about and found else None,
        data={
            "orders": [e.event_id for e in found[::-1][:10]],
            "period": list(period[:2]) if period else None,
            "product": asked or (what if follow_up else ""),
        },
    )


def complaint_reply(message: str, order: tuple[Event, Item] | None, config: ServiceConfig) -> str:
    """A polite answer to a complaint, with the matching order if we found one and a way to a person."""
    points = review_points(message)
    parts = ["I'm sorry about this."]
    if order is not None:
        event, item = order
        parts.append(f"I can see your order of {item.title} ({short_date(event.timestamp)}).")
    if points:
        parts.append(f"I've noted the problem with {join_words(points)}.")
    parts.append(
        f"To sort it out, please contact {config.support_contact}: a person will review the order "
        f"and the options under {config.shop_name}'s return policy. "
        "If you tell me what went wrong, I can also help you find an alternative."
    )
    return " ".join(parts)


def on_complaint(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    matches = history_matches(ctx, turn, turn.message)
    order = matches[0] if matches else None
    if order is None and re.search(
        r"\b(?:my|the)\s+(?:last|latest|recent)?\s*order\b", turn.message, re.I
    ):
        # "my last order arrived broken": the most recent purchase is the order meant
        last = next((e for e in reversed(turn.view.purchases) if e.item_id in ctx.items), None)
        order = (last, ctx.items[last.item_id]) if last is not None else None
    text = complaint_reply(turn.message, order, ctx.config.service)
    yield text
    yield Reply(
        text=text,
        intent="complaint",
        item_id=order[1].item_id if order else None,
        data={"escalate": True, "order_event": order[0].event_id if order else None},
    )


HANDLERS: dict[str, Handler] = {"order_question": on_order_question, "complaint": on_complaint}
