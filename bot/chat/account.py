"""The customer's own data: what we know about them, an export, and forgetting them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from bot.chat.context import Context, Handler, Turn
from bot.chat.profile import profile_summary
from bot.reply import Reply

__all__ = ["HANDLERS", "profile", "export", "forget"]


def profile(ctx: Context, user_id: str) -> Reply:
    """What we know about ``user_id``, from their own events only."""
    text, data = profile_summary(ctx.pipeline.view(user_id), ctx.items)
    return Reply(text=text, intent="profile", data=data)


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


HANDLERS: dict[str, Handler] = {"profile": on_profile, "forget": on_forget}
