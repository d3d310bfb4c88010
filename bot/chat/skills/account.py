"""The customer's own data: what we know about them, an export, and forgetting them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from bot.chat.context import Context, Handler, Turn, record_feedback
from bot.chat.skills.profile import profile_summary
from bot.reply import Reply

__all__ = ["HANDLERS", "profile", "export", "forget"]


def profile(ctx: Context, user_id: str) -> Reply:
    """What we know about ``user_id``, from their own events only, with the preferences their
    reviews stated and where each came from."""
    view = ctx.pipeline.view(user_id)
    text, data = profile_summary(view, ctx.items)
    prefs = ctx.preferences(view)
    if prefs:
        text += (
            "\nFrom your reviews, I leave out: "
            + "; ".join(p.describe(ctx.items) for p in prefs[:5])
            + ". Say \u201cyou can suggest X again\u201d to lift one."
        )
    data["preferences"] = [p.to_dict() for p in prefs]
    return Reply(text=text, intent="profile", data=data)


def on_lift_preference(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    """ "You can suggest Pelle again": lift the review-derived preferences that name it."""
    what = (turn.request.extras.get("lift") or "").lower().strip()
    prefs = [
        p for p in ctx.preferences(turn.view)
        if what and (what in p.value.lower() or p.value.lower() in what)
    ]  # fmt: skip
    if not prefs:
        text = (
            f"I don't have a preference about \u201c{what}\u201d from your reviews."
            if what
            else "Which preference should I lift? Ask \u201cwhat do you know about me?\u201d to see them."
        )
        yield text
        yield Reply(text=text, intent="feedback")
        return
    events = [record_feedback(ctx, turn.user_id, p.item_id, "allow") for p in prefs]
    turn.state.recorded = (turn.state.recorded + [e.event_id for e in events])[-20:]
    text = (
        "Done: I'll suggest "
        + ", ".join(p.value for p in prefs)
        + " again (that came from "
        + "; ".join(p.describe(ctx.items) for p in prefs)
        + "). Say \u201cundo\u201d to keep leaving it out."
    )
    yield text
    yield Reply(text=text, intent="feedback", data={"lifted": [p.to_dict() for p in prefs]})


def export(ctx: Context, user_id: str) -> dict[str, Any]:
    return ctx.store.export_user(user_id)


def forget(ctx: Context, user_id: str) -> int:
    """Delete every stored event of this user; returns how many were deleted."""
    n = ctx.store.delete_user(user_id)
    # the fitted candidate models (popularity, transitions, refill periods) were built from
    # those events too: refit so nothing derived from them is left
    ctx.pipeline.refresh()
    # the model's key/value cache may hold prompt prefixes made of this user's history
    cache = getattr(ctx.generator, "prefix_cache", None)
    if cache is not None:
        cache.clear()
    return n


def on_profile(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    reply = profile(ctx, turn.user_id)
    yield reply.text
    yield reply


def on_forget(ctx: Context, turn: Turn) -> Iterator[str | Reply]:
    msg = turn.message.lower()
    if "export" in msg or "download" in msg:
        data = export(ctx, turn.user_id)
        text = f"Here is everything we store about you: {len(data['events'])} events (attached as JSON)."
        yield text
        yield Reply(text=text, intent="forget", data={"export": data})
        return
    if re.search(r"\b(yes|confirm|i'?m sure|do it)\b", msg):
        n = forget(ctx, turn.user_id)
        text = f"Done: I deleted all {n} of your stored purchases, reviews and feedback. I no longer know anything about you."
        yield text
        yield Reply(text=text, intent="forget", data={"deleted": n})
        return
    text = (
        "I can delete everything we store about you (purchases, reviews, feedback). "
        "This can't be undone. Reply \u201cyes, forget me\u201d to confirm, or \u201cexport my data\u201d for a copy first."
    )
    yield text
    yield Reply(text=text, intent="forget", data={"confirm_required": True})


HANDLERS: dict[str, Handler] = {
    "profile": on_profile,
    "forget": on_forget,
    "lift_preference": on_lift_preference,
}
