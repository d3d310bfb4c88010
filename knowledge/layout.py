"""The store's layout in Chroma: which collections exist, their index settings, and how one
user's record is encoded.

Layout 2 (this one) has three collections:

* ``<prefix>_items``: one record per catalog item, embedded from its text.
* ``<prefix>_reviews``: one record per review and per other event that has text, embedded from
  the text (a review without text gets its item's vector). Semantic search over a user's
  reviews reads these vectors.
* ``<prefix>_users``: one record per user, id derived from the user id. Its metadata holds the
  user's text-less events (purchases, feedback) as compact JSON and the ids of the user's
  records in ``_reviews``. This is both where most events live and the per-user index: a
  user's history is one read by id plus one read of their review ids, whatever the size of
  the store (Chroma's ``where`` filter on ``user_id`` scans and grew to ~190 ms p50 at 1M
  events). Text-less events carry no vector of their own, so they stay out of the HNSW
  index, which was most of the ingest write time (measured in benchmarks/results/ingest-*).

Layout 1 kept every event in ``<prefix>_events``. A store still in that layout is detected and
refused with a message to run ``python -m knowledge rebuild``, which migrates it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from knowledge.errors import StoreError
from knowledge.records import event_metadata
from knowledge.schema import Event

__all__ = [
    "LAYOUT_VERSION",
    "UserRecord",
    "collection_names",
    "is_indexed",
    "user_record_id",
    "REVIEWS_HNSW",
    "LIGHT_HNSW",
    "LIGHT_VECTOR",
]

LAYOUT_VERSION = 2

# Reviews are searched only within one user (their ids come from the user record), so a
# cheaper graph costs no recall and halves write time (measured: 763 -> 1,512 events/s for
# 30k 384-d upserts on 2 cores).
REVIEWS_HNSW = {"hnsw:construction_ef": 32, "hnsw:M": 12, "hnsw:sync_threshold": 20000}
# User records are only ever read by id. Chroma still wants a vector per record, so each gets
# the same one-dimensional vector in a minimal graph: nothing to compute, nothing to search.
LIGHT_HNSW = {"hnsw:space": "cosine", "hnsw:construction_ef": 8, "hnsw:M": 4}
LIGHT_VECTOR = [1.0]


def collection_names(prefix: str) -> dict[str, str]:
    """Chroma collection names of this layout, plus ``legacy`` (layout 1's events)."""
    return {
        "items": f"{prefix}_items",
        "reviews": f"{prefix}_reviews",
        "users": f"{prefix}_users",
        "legacy": f"{prefix}_events",
    }


def is_indexed(event: Event) -> bool:
    """Whether an event gets a vector of its own (a review, or anything with text)."""
    return event.kind == "review" or bool(event.text.strip())


def user_record_id(user_id: str) -> str:
    """Deterministic record id of a user's record (a hash: user ids may be any string)."""
    return "u-" + hashlib.sha1(user_id.encode("utf-8")).hexdigest()[:24]


# compact field order of a text-less event inside a user record
_FIELDS = ("item_id", "kind", "timestamp", "order", "rating", "detail", "source")


@dataclass
class UserRecord:
    """One user's text-less events (by event id) and the ids of their ``_reviews`` records.

    ``review_ids`` may name records that were never written (a write killed between the user
    record and the reviews): readers get only the ids that exist, and a re-run fills them in.
    """

    user_id: str
    events: dict[str, Event] = field(default_factory=dict)
    review_ids: set[str] = field(default_factory=set)

    @property
    def record_id(self) -> str:
        return user_record_id(self.user_id)

    def ids(self) -> set[str]:
        return set(self.events) | self.review_ids

    def __len__(self) -> int:
        return len(self.events) + len(self.review_ids)

    def metadata(self) -> dict[str, Any]:
        rows = {}
        for eid, e in sorted(self.events.items()):
            meta = event_metadata(e)
            rows[eid] = [meta.get(f) for f in _FIELDS]
        return {
            "user_id": self.user_id,
            "layout": LAYOUT_VERSION,
            "events": json.dumps(rows, ensure_ascii=False, separators=(",", ":")),
            "reviews": " ".join(sorted(self.review_ids)),
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> UserRecord:
        user_id = str(meta["user_id"])
        try:
            rows = json.loads(meta.get("events") or "{}")
        except ValueError as exc:
            raise StoreError(
                f"the stored record of user {user_id!r} is damaged ({exc}); "
                "re-ingest the user's events or run `python -m knowledge rebuild`"
            ) from exc
        events = {}
        for eid, row in rows.items():
            f = dict(zip(_FIELDS, row, strict=True))
            events[eid] = Event(
                user_id=user_id,
                item_id=str(f["item_id"]),
                kind=str(f["kind"]),
                timestamp=int(f["timestamp"]),
                order=int(f["order"] or 0),
                rating=float(f["rating"]) if f["rating"] is not None else None,
                detail=str(f["detail"] or ""),
                source=str(f["source"] or ""),
            )
        reviews = set(str(meta.get("reviews") or "").split())
        return cls(user_id=user_id, events=events, review_ids=reviews)
