"""Privacy: a user's data out (export) and gone (delete some events, or "forget me").

Forgetting deletes the user's record (their purchases and feedback) and every review of theirs
with its vector; nothing derived from them stays in the store's cached counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from knowledge.layout import LIGHT_VECTOR, UserRecord, user_record_id
from knowledge.store_base import StoreBase

__all__ = ["StorePrivacy"]


class StorePrivacy(StoreBase):
    """Export and deletion of one user's events (mixed into :class:`knowledge.store.Store`)."""

    def delete_events(self, user_id: str, event_ids: Sequence[str]) -> int:
        """Delete some of one user's events; ids of other users are ignored."""
        own = {e.event_id for e in self.history(user_id)}
        ids = sorted({i for i in event_ids if i in own})
        if not ids:
            return 0
        with self._lock:
            rec = self._user_records([user_id])[user_id]
            reviews = [i for i in ids if i in rec.review_ids]
            if reviews:  # reviews first: a record naming a deleted review is harmless
                self._call("delete_events", self._reviews_col.delete, ids=reviews)
            for i in ids:
                rec.events.pop(i, None)
                rec.review_ids.discard(i)
            self._put_or_drop(rec)
            self._counts = None
        return len(ids)

    def delete_user(self, user_id: str) -> int:
        """Forget a user: delete every event (and so every embedding) of theirs."""
        n = len(self.history(user_id))
        with self._lock:
            rec = self._user_records([user_id]).get(user_id)
            if rec is not None and rec.review_ids:
                ids = sorted(rec.review_ids)
                self._call("delete_user", self._reviews_col.delete, ids=ids)
            # Belt and braces: a review written by a killed process after its record was lost
            # would not be listed; the filter finds it (slow at 1M events, but forgetting is rare).
            self._call("delete_user", self._reviews_col.delete, where={"user_id": user_id})
            self._call("delete_user", self._users_col.delete, ids=[user_record_id(user_id)])
            self._counts = None
        return n

    def _put_or_drop(self, rec: UserRecord) -> None:
        if len(rec):
            self._call(
                "write",
                self._users_col.upsert,
                ids=[rec.record_id],
                embeddings=[LIGHT_VECTOR],
                metadatas=[rec.metadata()],
            )
        else:
            self._call("write", self._users_col.delete, ids=[rec.record_id])

    def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything stored about one user, as JSON-serialisable data."""
        events = self.history(user_id)
        return {
            "user_id": user_id,
            "events": [
                {
                    "event_id": e.event_id,
                    "item_id": e.item_id,
                    "kind": e.kind,
                    "timestamp": e.timestamp,
                    "rating": e.rating,
                    "text": e.text,
                    "detail": e.detail,
                }
                for e in events
            ],
        }
