"""The knowledge store: catalog items and user events in Chroma.

Collections and the per-user record are described in :mod:`knowledge.layout`: items and
reviews are embedded (HNSW), text-less events live in one record per user, which also lists the
user's reviews, so every per-user read is a read by id. Chroma keeps documents and metadata in
SQLite and vectors in HNSW files; :meth:`Store.rebuild` recreates the vectors from the records.

Every read of events is for one user id; there is deliberately no method that searches events
across users. Whole-store reads (scans, popularity, stats, rebuild) are in
:mod:`knowledge.store_scans`.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embed import ChromaEmbeddingFunction, Embedder, make_embedder
from knowledge.errors import StoreError, StoreUnavailableError, UnknownItemError
from knowledge.layout import (
    LAYOUT_VERSION,
    LIGHT_HNSW,
    LIGHT_VECTOR,
    REVIEWS_HNSW,
    UserRecord,
    collection_names,
    is_indexed,
    user_record_id,
)
from knowledge.path_lock import PathLock
from knowledge.records import (
    ItemFilter,
    event_from_record,
    event_metadata,
    item_from_record,
    item_metadata,
)
from knowledge.schema import Event, Item
from knowledge.store_config import StoreConfig, default_store_path
from knowledge.store_privacy import StorePrivacy
from knowledge.store_scans import StoreScans

__all__ = ["StoreConfig", "Store", "ItemFilter", "default_store_path"]

log = logging.getLogger(__name__)


class Store(StoreScans, StorePrivacy):
    """Items and events in Chroma, with per-user reads. Thread-safe for one process."""

    def __init__(self, config: StoreConfig | None = None, embedder: Embedder | None = None):
        self.config = config or StoreConfig()
        self.embedder: Embedder = embedder or make_embedder(self.config.embedder)
        self._lock = threading.RLock()
        self._items: dict[str, Item] | None = None
        self._counts: Counter[str] | None = None
        self._path: Path | None = None
        self._client = self._connect()
        self._ef = ChromaEmbeddingFunction(self.embedder, embedder_name=self.config.embedder)
        self._open_collections()

    # -- connection -------------------------------------------------------------------
    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        if self.config.host:
            try:
                return chromadb.HttpClient(
                    host=self.config.host, port=self.config.port, settings=settings
                )
            except Exception as exc:  # chromadb raises plain Exceptions/ValueErrors here
                raise StoreUnavailableError(
                    f"cannot reach the Chroma server at {self.config.host}:{self.config.port}: "
                    f"{exc}. Start it with `chroma run --path <dir> --port {self.config.port}`."
                ) from exc
        assert self.config.path is not None
        self._path = Path(self.config.path).expanduser()
        PathLock.acquire(self._path)
        try:
            return chromadb.PersistentClient(path=str(self._path), settings=settings)
        except Exception as exc:
            PathLock.release(self._path)
            raise StoreError(f"cannot open the store at {self._path}: {exc}") from exc

    def _open_collections(self) -> None:
        names = collection_names(self.config.prefix)
        meta = {"hnsw:space": "cosine", "embedder": self.embedder.name}
        create = self._client.get_or_create_collection
        try:
            self._items_col = create(names["items"], embedding_function=self._ef, metadata=meta)
            reviews_meta = dict(meta, layout=LAYOUT_VERSION, **REVIEWS_HNSW)
            self._reviews_col = create(
                names["reviews"], embedding_function=self._ef, metadata=reviews_meta
            )
            users_meta = dict(LIGHT_HNSW, layout=LAYOUT_VERSION)
            self._users_col = create(
                names["users"], embedding_function=self._ef, metadata=users_meta
            )
            self._legacy_col = self._existing(names["legacy"])
        except Exception as exc:
            raise StoreUnavailableError(f"cannot open the store collections: {exc}") from exc
        stored = (self._items_col.metadata or {}).get("embedder")
        if stored and stored != self.embedder.name:
            raise StoreError(
                f"this store was embedded with {stored!r} but the embedder is "
                f"{self.embedder.name!r}; use the same embedder or run `python -m knowledge rebuild`"
            )

    def _existing(self, name: str) -> Any | None:
        names = {c if isinstance(c, str) else c.name for c in self._client.list_collections()}
        return (
            self._client.get_collection(name, embedding_function=self._ef)
            if name in names
            else None
        )

    def _current(self) -> None:
        """Refuse event reads and writes on a store in the old layout (all events in one
        collection), rather than silently showing users an empty history."""
        if self._legacy_col is not None:
            where = self.config.path or f"{self.config.host}:{self.config.port}"
            flag = f"--store {where}" if self.config.path else f"--host {self.config.host}"
            raise StoreError(
                f"the store at {where} was built with an older layout (every event in "
                f"{self._legacy_col.name!r}); run `python -m knowledge rebuild {flag}` once to "
                f"migrate it (layout {LAYOUT_VERSION}: purchases in per-user records)"
            )

    def close(self) -> None:
        """Release the process lock on an embedded store path."""
        if self._path is not None:
            PathLock.release(self._path)
            self._path = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a Chroma call, turning connection failures into StoreUnavailableError."""
        try:
            return fn(*args, **kwargs)
        except (ConnectionError, OSError) as exc:
            raise StoreUnavailableError(f"the store is unreachable during {what}: {exc}") from exc
        except Exception as exc:
            name = type(exc).__name__
            if "Connect" in name or "Timeout" in name or "Transport" in name:
                raise StoreUnavailableError(
                    f"the store is unreachable during {what}: {exc}"
                ) from exc
            raise

    # -- writes -----------------------------------------------------------------------
    def upsert_items(self, items: Iterable[Item], progress: bool = False) -> int:
        """Insert or update items (idempotent). Returns how many were written."""
        n = 0
        for batch in _batches(list(items), self.config.batch_size, progress, "items"):
            texts = [it.embedding_text() for it in batch]
            vecs = self.embedder.embed(texts)
            with self._lock:
                self._call(
                    "upsert_items",
                    self._items_col.upsert,
                    ids=[it.item_id for it in batch],
                    embeddings=vecs,
                    documents=texts,
                    metadatas=[item_metadata(it) for it in batch],
                )
                if self._items is not None:
                    for it in batch:
                        self._items[it.item_id] = it
            n += len(batch)
        return n

    def add_events(self, events: Iterable[Event], progress: bool = False) -> int:
        """Upsert events by their deterministic id (re-adding the same event changes nothing).

        Every event's item must already be in the catalog (else nothing is written). Reviews
        and events with text are embedded; the rest go into their user's record.
        """
        self._current()
        # One id per event: the same event given twice (same user, item, kind, timestamp) is
        # one fact; the last copy wins, as in upsert.
        unique = {e.event_id: e for e in events}
        missing = {e.item_id for e in unique.values()} - self.item_ids()
        if missing:
            raise StoreError(
                f"{len(missing)} event(s) refer to items not in the catalog, e.g. "
                f"{sorted(missing)[:3]}; ingest the items first"
            )
        by_user: dict[str, list[tuple[str, Event]]] = {}
        for eid, e in unique.items():
            by_user.setdefault(e.user_id, []).append((eid, e))
        # Whole users per write, so each user record is read and written once per call; a
        # write holds at most batch_size user records and batch_size reviews per Chroma call.
        size = self.config.batch_size
        chunk: list[tuple[str, Event]] = []
        users = indexed = 0
        with _bar(len(unique), progress and len(unique) > size, "events") as bar:
            for evs in by_user.values():
                chunk += evs
                users += 1
                indexed += sum(is_indexed(e) for _, e in evs)
                if users >= size or indexed >= size:
                    self._write_users(chunk)
                    bar.update(len(chunk))
                    chunk, users, indexed = [], 0, 0
            if chunk:
                self._write_users(chunk)
                bar.update(len(chunk))
        return len(unique)

    def _write_users(self, batch: list[tuple[str, Event]]) -> None:
        """Write events of whole users: their records first (a superset index of their
        reviews, harmless if the review write is then interrupted), then the reviews."""
        indexed = [(eid, e) for eid, e in batch if is_indexed(e)]
        # outside the lock: embedding is the slow part
        vecs = self._event_vectors([e for _, e in indexed])
        size = self.config.batch_size
        with self._lock:
            records = self._user_records(sorted({e.user_id for _, e in batch}), create=True)
            moved: list[str] = []  # events that lost their text: out of the reviews collection
            fresh: list[str] = []
            for eid, e in batch:
                rec = records[e.user_id]
                if eid not in rec.ids() and e.kind in ("purchase", "review"):
                    fresh.append(e.item_id)
                if is_indexed(e):
                    rec.events.pop(eid, None)
                    rec.review_ids.add(eid)
                else:
                    if eid in rec.review_ids:
                        rec.review_ids.discard(eid)
                        moved.append(eid)
                    rec.events[eid] = e
            recs = list(records.values())
            for start in range(0, len(recs), size):
                some = recs[start : start + size]
                self._call(
                    "add_events",
                    self._users_col.upsert,
                    ids=[r.record_id for r in some],
                    embeddings=[LIGHT_VECTOR] * len(some),
                    metadatas=[r.metadata() for r in some],
                )
            for start in range(0, len(indexed), size):
                part = indexed[start : start + size]
                self._call(
                    "add_events",
                    self._reviews_col.upsert,
                    ids=[eid for eid, _ in part],
                    embeddings=vecs[start : start + size],
                    documents=[e.text for _, e in part],
                    metadatas=[event_metadata(e) for _, e in part],
                )
            if moved:
                self._call("add_events", self._reviews_col.delete, ids=moved)
            if self._counts is not None:  # only events new to the store change popularity
                self._counts.update(fresh)

    def _event_vectors(self, events: list[Event]) -> np.ndarray:
        """Text embeddings; a review without text gets its item's vector."""
        vecs = np.zeros((len(events), self.embedder.dim), dtype=np.float32)
        text_rows = [i for i, e in enumerate(events) if e.text.strip()]
        if text_rows:
            vecs[text_rows] = self.embedder.embed([events[i].text for i in text_rows])
        bare = [i for i, e in enumerate(events) if not e.text.strip()]
        if bare:
            item_vecs = self._item_vectors(sorted({events[i].item_id for i in bare}))
            for i in bare:
                vecs[i] = item_vecs[events[i].item_id]
        return vecs

    def _user_records(self, user_ids: list[str], create: bool = False) -> dict[str, UserRecord]:
        """Stored records of these users (new empty ones for the others when ``create``)."""
        self._current()
        got = self._call(
            "user_records",
            self._users_col.get,
            ids=[user_record_id(u) for u in user_ids],
            include=["metadatas"],
        )
        out: dict[str, UserRecord] = {}
        for meta in got["metadatas"]:
            rec = UserRecord.from_metadata(meta)
            out[rec.user_id] = rec
        wrong = set(out) - set(user_ids)
        if wrong:  # a 96-bit hash collision, or a record written by hand
            raise StoreError(f"user records {sorted(wrong)[:3]} are stored under other users' ids")
        if create:
            for u in user_ids:
                out.setdefault(u, UserRecord(u))
        return out

    def _item_vectors(self, item_ids: list[str]) -> dict[str, np.ndarray]:
        got = self._call("item_vectors", self._items_col.get, ids=item_ids, include=["embeddings"])
        vecs = {
            i: np.asarray(v, dtype=np.float32)
            for i, v in zip(got["ids"], got["embeddings"], strict=True)
        }
        lost = [i for i in item_ids if i not in vecs]
        if lost:  # vector index damaged: recompute rather than fail
            items = self.get_items(lost)
            for i, v in zip(
                lost, self.embedder.embed([items[i].embedding_text() for i in lost]), strict=True
            ):
                vecs[i] = v
        return vecs

    # -- catalog reads ----------------------------------------------------------------
    def _catalog(self) -> dict[str, Item]:
        with self._lock:
            if self._items is None:
                items: dict[str, Item] = {}
                for ids, metas, _ in self._scan(self._items_col, ["metadatas"]):
                    for i, m in zip(ids, metas, strict=True):
                        items[i] = item_from_record(i, m)
                self._items = items
            return self._items

    def item_ids(self) -> set[str]:
        return set(self._catalog())

    def all_items(self) -> list[Item]:
        return list(self._catalog().values())

    def has_item(self, item_id: str) -> bool:
        return item_id in self._catalog()

    def get_item(self, item_id: str) -> Item:
        item = self._catalog().get(item_id)
        if item is None:
            raise UnknownItemError(f"item {item_id!r} is not in the catalog")
        return item

    def get_items(self, item_ids: Iterable[str]) -> dict[str, Item]:
        cat = self._catalog()
        return {i: cat[i] for i in item_ids if i in cat}

    def search_items(
        self, query: str, k: int = 10, where: ItemFilter | None = None
    ) -> list[tuple[Item, float]]:
        """Items nearest to a text query (cosine similarity), honouring ``where`` exactly."""
        if not query.strip():
            return []
        vec = self.embedder.embed([query])
        total = max(1, len(self._catalog()))
        n = min(total, k * 8 if where else k)
        res = self._call(
            "search_items",
            self._items_col.query,
            query_embeddings=vec,
            n_results=n,
            where=where.chroma_where() if where is not None else None,
            include=["distances"],
        )
        out: list[tuple[Item, float]] = []
        cat = self._catalog()
        for i, d in zip(res["ids"][0], res["distances"][0], strict=True):
            item = cat.get(i)
            if item is None or (where is not None and not where.accepts(item)):
                continue
            out.append((item, 1.0 - float(d)))
            if len(out) >= k:
                break
        return out

    def item_vectors(self, item_ids: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Stored item vectors (all items when ``item_ids`` is None)."""
        ids = list(item_ids) if item_ids is not None else sorted(self._catalog())
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), self.config.batch_size):
            out.update(self._item_vectors(ids[start : start + self.config.batch_size]))
        return out

    # -- event reads (always one user, always by id) ----------------------------------
    def _user_events(
        self, user_id: str, vectors: bool = False
    ) -> list[tuple[Event, np.ndarray | None]]:
        """One user's events, in sequence order, with their review vectors if asked."""
        rec = self._user_records([user_id]).get(user_id)
        if rec is None:
            return []
        out: list[tuple[Event, np.ndarray | None]] = [(e, None) for e in rec.events.values()]
        if rec.review_ids:
            include = ["metadatas", "documents"] + (["embeddings"] if vectors else [])
            got = self._call(
                "history", self._reviews_col.get, ids=sorted(rec.review_ids), include=include
            )
            embs = got["embeddings"] if vectors else [None] * len(got["ids"])
            for m, d, v in zip(got["metadatas"], got["documents"], embs, strict=True):
                if m["user_id"] == user_id:  # belt and braces: never another user's event
                    out.append((event_from_record(m, d), v))
        out.sort(key=lambda p: (p[0].timestamp, p[0].order))
        return out

    def history(self, user_id: str, kinds: Sequence[str] | None = None) -> list[Event]:
        """One user's events in sequence order (timestamp, then source order)."""
        events = [e for e, _ in self._user_events(user_id)]
        return [e for e in events if e.kind in kinds] if kinds else events

    def search_user_events(
        self, user_id: str, query: str, k: int = 5, kinds: Sequence[str] = ("review",)
    ) -> list[tuple[Event, float]]:
        """Semantic search over ONE user's own events (reviews by default).

        A text-less event (a purchase) is scored by its item's vector, as before the layout
        kept such events out of the vector index.
        """
        if not query.strip():
            return []
        wanted = set(kinds)
        pairs = [(e, v) for e, v in self._user_events(user_id, vectors=True) if e.kind in wanted]
        if not pairs:
            return []
        bare = sorted({e.item_id for e, v in pairs if v is None})
        item_vecs = self._item_vectors(bare) if bare else {}
        # Exact cosine over this user's handful of vectors, in numpy: no Chroma query needed.
        vecs = np.asarray(
            [v if v is not None else item_vecs[e.item_id] for e, v in pairs], dtype=np.float32
        )
        q = self.embedder.embed([query])[0].astype(np.float32)
        norms = np.linalg.norm(vecs, axis=1) * max(float(np.linalg.norm(q)), 1e-12)
        sims = (vecs @ q) / np.maximum(norms, 1e-12)
        top = np.argsort(-sims, kind="stable")[:k]
        return [(pairs[j][0], float(sims[j])) for j in top]

    def item_review_stats(self, item_id: str) -> tuple[float, int]:
        """Mean rating and number of rated reviews of one item (aggregates only, no text)."""
        self._current()
        got = self._call(
            "item_review_stats",
            self._reviews_col.get,
            where={"item_id": item_id},
            include=["metadatas"],
        )
        ratings = [
            float(m["rating"])
            for m in got["metadatas"]
            if m.get("kind") == "review" and m.get("rating") is not None
        ]
        return (sum(ratings) / len(ratings), len(ratings)) if ratings else (0.0, 0)


def _bar(total: int, show: bool, what: str) -> Any:
    from tqdm import tqdm

    # a bar only where someone watches: in a log file it is noise
    return tqdm(
        total=total, desc=f"writing {what}", unit=what, disable=not show or not sys.stderr.isatty()
    )


def _batches(rows: list[Any], size: int, progress: bool, what: str) -> Iterator[list[Any]]:
    with _bar(len(rows), progress and len(rows) > size, what) as bar:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            yield chunk
            bar.update(len(chunk))
