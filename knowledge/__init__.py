"""nextneed's knowledge layer: the Chroma store of items and events, and ingest of shop files.

    from knowledge import Store, StoreConfig, ingest_dataset
    store = Store(StoreConfig(path="shop-store"))
    report = ingest_dataset(store, "exports/")

Heavy parts (Chroma, pandas) load on first use of the names that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from knowledge.errors import (
    ConfigError,
    IngestError,
    InputError,
    ModelNotFoundError,
    NextNeedError,
    StoreError,
    StoreUnavailableError,
    UnknownItemError,
    UnknownUserError,
)

if TYPE_CHECKING:
    from knowledge.ingest import IngestReport, ingest_dataset, ingest_events, ingest_items
    from knowledge.schema import Event, Item
    from knowledge.store import Store
    from knowledge.store_config import StoreConfig

__all__ = [
    "Store",
    "StoreConfig",
    "Item",
    "Event",
    "IngestReport",
    "ingest_dataset",
    "ingest_items",
    "ingest_events",
    "NextNeedError",
    "ConfigError",
    "IngestError",
    "InputError",
    "ModelNotFoundError",
    "StoreError",
    "StoreUnavailableError",
    "UnknownItemError",
    "UnknownUserError",
]

_LAZY = {
    "Store": "knowledge.store",
    "StoreConfig": "knowledge.store_config",
    "Item": "knowledge.schema",
    "Event": "knowledge.schema",
    "IngestReport": "knowledge.ingest",
    "ingest_dataset": "knowledge.ingest",
    "ingest_items": "knowledge.ingest",
    "ingest_events": "knowledge.ingest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
