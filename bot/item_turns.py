"""Turns about one item: why it was suggested ("why the second one?") and what it is
("tell me about the Keenfield razor").

Handlers take the :class:`~bot.assistant.Assistant` and the :class:`~bot.conversation.Turn`
and yield text pieces, then one :class:`~bot.reply.Reply`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bot.conversation import Turn
from bot.describe import fact_description, generated_sentence, item_facts
from bot.helpdesk import query_from, short_date
from bot.history import UserView
from bot.pipeline import Scored
from bot.reply import Reply
from knowledge.schema import Item

if TYPE_CHECKING:
    from bot.assistant import Assistant

__all__ = ["ordinal_item", "referenced_item", "on_explain", "on_describe", "describe_parts"]

log = logging.getLogger(__name__)


def ordinal_item(a: Assistant, turn: Turn) -> Item | None:
    pos = turn.routed.ordinal
    lst = turn.state.last_list
    if pos is None or not lst:
        return None
    idx = len(lst) - 1 if pos == -1 else pos - 1
    return a.pipeline.items.get(lst[idx]) if 0 <= idx < len(lst) else None


def referenced_item(a: Assistant, turn: Turn, text: str) -> Item | None:
    """The item a message points at: an ordinal, "it/that", or a (loose) name."""
    item = ordinal_item(a, turn)
    if item is not None:
        return item
    among = turn.state.last_list + [e.item_id for e in turn.view.purchases]
    named = a.find_item(text, among=among) if query_from(text) else None
    if named is not None:
        return named
    if re.search(r"\b(it|that|this|those|them|one)\b", text, re.I):
        ref = turn.state.last_item or (turn.state.last_list[0] if turn.state.last_list else None)
        return a.pipeline.items.get(ref) if ref else None
    return None


def on_explain(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
    item = referenced_item(
        a, turn, re.sub(r"(?i)\bwhy\b|recommend\w*|suggest\w*", " ", turn.message)
    )
    if item is None:
        text = "Which suggestion should I explain? Say for example \u201cwhy the second one?\u201d after I've shown you a list."
        yield text
        yield Reply(text=text, intent="explain")
        return
    view = turn.view
    due = view.due_refills(
        a.pipeline.items, a.pipeline.repurchase, a.pipeline.config.replenish_factor
    )
    scored = Scored(item, 0.0, "explain", replenishment=item.item_id in due)
    if item.item_id in due:
        scored.evidence = [due[item.item_id][0]]
    rec = a.pipeline._explain(view, scored, 1)
    lines = [f"Why {item.title}: {rec.reason}"]
    events = {e.event_id: e for e in view.events}
    for eid in rec.evidence:
        ev = events.get(eid)
        if ev is not None and ev.item_id in a.pipeline.items:
            what = "reviewed" if ev.kind == "review" else "bought"
            lines.append(
                f"- You {what} {a.pipeline.items[ev.item_id].title} on {short_date(ev.timestamp)}."
            )
    if not rec.evidence:
        lines.append(
            "- I have no purchases of yours that relate to it; it was chosen for its popularity."
        )
    text = "\n".join(lines)
    yield text
    yield Reply(text=text, intent="explain", recommendations=[rec], item_id=item.item_id)


def on_describe(a: Assistant, turn: Turn) -> Iterator[str | Reply]:
    ref = re.sub(
        r"(?i)\b(tell me (more )?about|what is|what's|describe|details (on|of|about)|info(rmation)? (on|about)|more about)\b",
        " ",
        turn.message,
    )
    item = referenced_item(a, turn, ref)
    if item is None:
        text = "Which product would you like to know about? Tell me its name, or pick one from a list I showed."
        yield text
        yield Reply(text=text, intent="describe")
        return
    yield from describe_parts(a, item, turn.view)


def describe_parts(a: Assistant, item: Item, view: UserView | None) -> Iterator[str | Reply]:
    """The fact-based description first (instant), then one grounded model-written sentence."""
    rating = a.store.item_review_stats(item.item_id)
    facts = item_facts(item, rating)
    text = fact_description(item, rating)
    yield text
    generated = ""
    t0 = time.perf_counter()
    if a.generator is not None and a.config.llm_descriptions and a.config.describe_max_tokens:
        try:
            # one sentence, the model stopped at its end (bot.describe.generated_sentence)
            generated = generated_sentence(a.generator, facts, text, a.config.describe_max_tokens)
        except Exception as exc:  # the fact-based description stands on its own
            log.warning("description generation failed: %s", exc)
    tail = "\n" + generated if generated else ""
    if view is not None:
        own = next((e for e in reversed(view.reviews) if e.item_id == item.item_id), None)
        if own is not None and own.rating is not None:
            tail += f"\nYou rated it {own.rating:.0f}/5 on {short_date(own.timestamp)}."
        elif item.item_id in view.owned:
            tail += "\nYou already have this one."
    if tail:
        yield tail
    yield Reply(
        text=text + tail,
        intent="describe",
        item_id=item.item_id,
        timings={"describe_s": round(time.perf_counter() - t0, 4)},
        data={"facts": facts, "generated": generated},
    )
