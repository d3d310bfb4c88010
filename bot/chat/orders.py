"""Order questions ("when did I last buy diapers?") and complaints about an order.

Every read goes through ``turn.view``: the asking customer's own events only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from bot.chat.config import ServiceConfig
from bot.chat.context import Context, Handler, Turn
from bot.chat.reviews import join_words, review_points
from bot.recsys.catalog import STOP_WORDS
from bot.recsys.history import short_date
from bot.reply import Reply
from knowledge.schema import Event, Item

__all__ = ["HANDLERS", "history_matches"]


def history_matches(ctx: Context, turn: Turn, text: str) -> list[tuple[Event, Item]]:
    items = ctx.items
    words = {
        w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP_WORDS and len(w) > 2
    }
    words -= {
        "did",
        "ever",
        "when",
        "order",
        "ordered",
        "bought",
        "purchase",
        "purchased",
        "last",
        "previous",
        "past",
        "recent",
        "history",
    }
    out = []
    for e in reversed(turn.view.purchases):
        item = items.get(e.item_id)
        if item is None or not words:
            continue
        title = set(
            re.findall(r"[a-z0-9]+", (item.title + " " + " ".join(item.categories)).lower())
        )
        stems = {t.rstrip("s") for t in title}
        if any(w in title or w.rstrip("s") in stems for w in words):
            out.append((e, item))
    return out


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
_ORDER_WORDS = re.compile(
    r"(?i)\b(did|do|i|when|what|which|have|ever|last|buy|bought|order(?:ed|s)?|purchase[ds]?|get|got|"
    r"how|long|ago|often|many|times|my|in|during|since|this|year|month|week|from|the|a|an|"
    r"history|recent|previous|past)\b"
)


def _period(text: str, now: int) -> tuple[int, int, str] | None:
    """The [start, end) time range a question names, and how to say it."""
    today = dt.datetime.fromtimestamp(now, dt.UTC)
    low = text.lower()
    if m := _MONTH_RX.search(text):
        month = _MONTHS[m.group(1).lower()]
        if m.group(1).lower() == "may" and not m.group(2) and not re.search(r"\bin may\b", low):
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
    spans = {"last week": 7, "past week": 7, "last month": 31, "past month": 31, "this month": 31,
             "last year": 365, "past year": 365, "this year": 365}  # fmt: skip
    for phrase, days in spans.items():
        if phrase in low:
            return now - days * 86400, now + 1, phrase
    return None


def _product_words(text: str) -> str:
    return " ".join(
        w
        for w in re.findall(r"[A-Za-z][A-Za-z'-]+", _MONTH_RX.sub(" ", _ORDER_WORDS.sub(" ", text)))
        if w.lower() not in STOP_WORDS and len(w) > 2
    )


def _ago(days: float) -> str:
    d = int(days)
    if d < 1:
        return "today"
    if d < 60:
        return f"{d} day{'s' if d != 1 else ''} ago"
    return f"about {round(d / 30.4)} months ago"


def on_order_question(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    """Questions about one's own orders: by month or period, by product, when last, how often.
    Purchase dates are order dates; a review's date is said to be when it was reviewed."""
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
    asked = _product_words(msg)
    period = _period(msg, view.now)

    def line(e: Event) -> str:
        verb = "reviewed" if e.kind == "review" else "ordered"
        return f"- {ctx.items[e.item_id].title}: {verb} on {short_date(e.timestamp)}"

    found = orders
    if asked:
        matched = {e.event_id for e, _i in history_matches(ctx, turn, asked)}
        found = [e for e in found if e.event_id in matched]
    if period:
        found = [e for e in found if period[0] <= e.timestamp < period[1]]
    what = f"\u201c{asked}\u201d" if asked else "anything"
    when = (
        f" in {period[2]}"
        if period and not period[2].startswith(("last", "past", "this"))
        else (f" {period[2]}" if period else "")
    )
    if not orders:
        text = "You have no orders with us yet."
    elif not found:
        text = f"I can't find {what} in your order history{when}."
        recent = orders[-3:][::-1]
        text += "\nYour most recent orders:\n" + "\n".join(line(e) for e in recent)
    elif re.search(r"how often|how many times", low):
        dates = [e.timestamp for e in found]
        text = f"You ordered {what} {len(found)} time{'s' if len(found) != 1 else ''}{when}"
        if len(dates) >= 2:
            gaps = [(b - a) / 86400 for a, b in zip(dates, dates[1:], strict=False)]
            text += f", about every {round(sum(gaps) / len(gaps))} days"
        text += f"; the last time on {short_date(dates[-1])}.\n" + "\n".join(
            line(e) for e in found[-5:][::-1]
        )
    elif re.search(r"\bwhen\b|how long ago|\blast\b", low) and asked:
        last = found[-1]
        verb = "reviewed" if last.kind == "review" else "ordered"
        text = (
            f"You last {verb} {ctx.items[last.item_id].title} on {short_date(last.timestamp)} "
            f"({_ago(view.days_since(last))})."
        )
    elif period or not asked:
        shown = found[::-1][:10] if period else found[::-1][:5]
        head = f"Your orders{when}:" if period else "Your most recent orders:"
        text = head + "\n" + "\n".join(line(e) for e in shown)
        if len(found) > len(shown):
            text += f"\n(and {len(found) - len(shown)} more)"
    else:
        text = f"Yes \u2014 {what} in your order history:\n" + "\n".join(
            line(e) for e in found[::-1][:5]
        )
    yield text
    yield Reply(
        text=text,
        intent="order_question",
        data={
            "orders": [e.event_id for e in found[::-1][:10]],
            "period": list(period[:2]) if period else None,
            "product": asked,
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
    text = complaint_reply(turn.message, order, ctx.config.service)
    yield text
    yield Reply(
        text=text,
        intent="complaint",
        item_id=order[1].item_id if order else None,
        data={"escalate": True, "order_event": order[0].event_id if order else None},
    )


HANDLERS: dict[str, Handler] = {"order_question": on_order_question, "complaint": on_complaint}
