"""Whole-store reads and maintenance: every event (for training and candidate models),
per-user sequences, popularity, stats, and :meth:`StoreScans.rebuild`, which recreates the
vector index from the stored records and migrates a store from the old layout."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from knowledge.layout import UserRecord, collection_names
from knowledge.records import event_from_record
from knowledge.schema import Event
from knowledge.store_base import StoreBase

__all__ = ["StoreScans"]

_SCAN = 5000  # records per read; under Chroma's cap on one call


class StoreScans(StoreBase):
    """Reads over all users (mixed into :class:`knowledge.store.Store`)."""

    def iter_events(self, batch: int = _SCAN) -> Iterator[Event]:
        """Every event (for training candidate models and building datasets), unordered."""
        self._current()
        yield from self._scan_events(self._users_col, self._reviews_col, batch)

    def _scan_events(self, users_col: Any, reviews_col: Any | None, batch: int) -> Iterator[Event]:
        for _ids, metas, _ in self._scan(users_col, ["metadatas"], batch):
            for m in metas:
                yield from UserRecord.from_metadata(m).events.values()
        if reviews_col is not None:
            for _ids, metas, docs in self._scan(reviews_col, ["metadatas", "documents"], batch):
                for m, d in zip(metas, docs, strict=True):
                    yield event_from_record(m, d)

    def sequences(self, kinds: Sequence[str] = ("purchase", "review")) -> dict[str, list[str]]:
        """Each user's item sequence in order, from purchases and reviews."""
        per_user: dict[str, list[tuple[int, int, str]]] = {}
        for e in self.iter_events():
            if e.kind in kinds:
                per_user.setdefault(e.user_id, []).append((e.timestamp, e.order, e.item_id))
        return {u: [i for *_k, i in sorted(v)] for u, v in per_user.items()}

    def users(self) -> list[str]:
        """Every user with events (one record each: no need to read the events)."""
        self._current()
        return sorted(
            str(m["user_id"]) for _i, metas, _ in self._scan(self._users_col, ["metadatas"])
            for m in metas
        )  # fmt: skip

    def popularity(self, k: int | None = None) -> list[tuple[str, int]]:
        """Items by number of purchases/reviews, most popular first."""
        with self._lock:
            if self._counts is None:
                counts: Counter[str] = Counter(
                    e.item_id for e in self.iter_events() if e.kind in ("purchase", "review")
                )
                self._counts = counts
            return self._counts.most_common(k)

    def stats(self) -> dict[str, Any]:
        kinds: Counter[str] = Counter()
        users: set[str] = set()
        for e in self.iter_events():
            kinds[e.kind] += 1
            users.add(e.user_id)
        return {
            "items": self._call("count", self._items_col.count),
            "events": sum(kinds.values()),
            "users": len(users),
            "events_by_kind": dict(kinds),
            "embedder": self.embedder.name,
            "location": self.config.path
            if not self.config.host
            else f"{self.config.host}:{self.config.port}",
        }

    def rebuild(self, progress: bool = False) -> dict[str, int]:
        """Recreate every collection from the stored records (re-embedding them).

        Also migrates a store in the old layout (all events in one collection) to this one.
        """
        with self._lock:
            items = self.all_items()
            if self._legacy_col is not None:
                events = [
                    event_from_record(m, d)
                    for _i, metas, docs in self._scan(self._legacy_col, ["metadatas", "documents"])
                    for m, d in zip(metas, docs, strict=True)
                ]
            else:
                events = list(self.iter_events())
            names = collection_names(self.config.prefix)
            existing = {
                c if isinstance(c, str) else c.name for c in self._client.list_collections()
            }
            for name in names.values():
                if name in existing:
                    self._call("rebuild", self._client.delete_collection, name)
            self._items = None
            self._counts = None
            self._open_collections()
            self._items = {}
            self.upsert_items(items, progress=progress)
            self.add_events(events, progress=progress)
        return {"items": len(items), "events": len(events)}

    def _scan(
        self, col: Any, include: list[str], batch: int = _SCAN
    ) -> Iterator[tuple[list[str], list[dict[str, Any]], list[str | None]]]:
        offset = 0
        while True:
            got = self._call("scan", col.get, include=include, limit=batch, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            metas = got.get("metadatas") or [{}] * len(ids)
            docs = got.get("documents") or [None] * len(ids)
            yield ids, metas, docs
            offset += len(ids)
