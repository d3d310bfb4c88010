"""What the parts of :class:`knowledge.store.Store` share: its state and the few primitives
the split-out method groups (:mod:`knowledge.store_scans`, :mod:`knowledge.store_privacy`)
call. ``Store`` implements every method declared here."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from knowledge.embed import Embedder
from knowledge.layout import UserRecord
from knowledge.schema import Event, Item
from knowledge.store_config import StoreConfig

__all__ = ["StoreBase"]


class StoreBase:
    """State and primitives of the store (see :class:`knowledge.store.Store`)."""

    config: StoreConfig
    embedder: Embedder
    _lock: threading.RLock
    _items: dict[str, Item] | None
    _counts: Counter[str] | None
    _client: Any
    _items_col: Any
    _reviews_col: Any
    _users_col: Any
    _legacy_col: Any | None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _current(self) -> None:
        raise NotImplementedError

    def _open_collections(self) -> None:
        raise NotImplementedError

    def _user_records(self, user_ids: list[str], create: bool = False) -> dict[str, UserRecord]:
        raise NotImplementedError

    def history(self, user_id: str, kinds: Sequence[str] | None = None) -> list[Event]:
        raise NotImplementedError

    def all_items(self) -> list[Item]:
        raise NotImplementedError

    def upsert_items(self, items: Iterable[Item], progress: bool = False) -> int:
        raise NotImplementedError

    def add_events(self, events: Iterable[Event], progress: bool = False) -> int:
        raise NotImplementedError
