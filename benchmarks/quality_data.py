"""Datasets for the quality benchmark, read through the product's own loaders.

Any interactions file the product can ingest (``knowledge.formats`` adapters, validated by
``knowledge.validate.events_frame``) becomes user -> ordered item ids. The file's row order is
the sequence order; nothing is re-sorted by timestamp. Files without a timestamp column (the
S3-Rec Sports file) get a constant one before validation, since the benchmark never reads it.
Named presets point at ``../shared/data``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from knowledge.formats import classify_files, get_adapter, read_table
from knowledge.ingest import load_items
from knowledge.schema import Item
from knowledge.validate import events_frame

__all__ = ["Dataset", "PRESETS", "load_dataset", "resolve_preset"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preset:
    folder: str  # under the data root
    format: str
    title: str


PRESETS = {
    "beauty": Preset("amazon-beauty", "benchmark-csv", "Amazon Beauty"),
    "sports": Preset("amazon-sports", "benchmark-csv", "Amazon Sports and Outdoors"),
}


@dataclass
class Dataset:
    name: str
    title: str
    path: str  # the events file
    format: str
    sequences: dict[str, list[str]]  # users in first-appearance order, items in row order
    items: list[Item] | None  # the catalogue's items when the dataset has an items file
    n_events: int


def resolve_preset(name: str, data_root: str | None) -> tuple[Path, str, str]:
    """(folder, format, title) of a named preset under ``data_root`` (default: the setting
    ``NEXTNEED_DATA_DIR``, else ``../shared/data``)."""
    from finetune.splits import resolve_data_dir

    if name not in PRESETS:
        raise ValueError(f"unknown dataset {name!r}: use one of {sorted(PRESETS)} or --data PATH")
    p = PRESETS[name]
    return resolve_data_dir(data_root, p.folder), p.format, p.title


def _files(path: Path, format: str) -> tuple[Path, Path | None]:
    if path.is_file():
        return path, None
    items, events = classify_files(get_adapter(format), sorted(path.iterdir()))
    if not events:
        raise ValueError(f"no {format} events file in {path}")
    return events[0], (items[0] if items else None)


def load_dataset(path: str | Path, format: str, name: str, title: str | None = None) -> Dataset:
    """Read ``path`` (an events file, or a folder holding the adapter's files)."""
    events_path, items_path = _files(Path(path), format)
    adapter = get_adapter(format)
    raw = read_table(events_path, adapter.events_read)
    stamp = adapter.events.timestamp
    if stamp and stamp not in raw:  # the sequence is the row order: a timestamp is never read
        raw[stamp] = 0
    frame, issues = events_frame(raw, adapter.events, str(events_path), None)
    if issues.rows:
        log.warning("%s: %d rows skipped by the product's checks", events_path, len(issues.rows))
    frame = frame[frame["kind"].isin(("purchase", "review"))]  # what the product learns from
    by_user = frame.groupby("user_id", sort=False)["item_id"]
    sequences = {str(u): [str(i) for i in g.tolist()] for u, g in by_user}
    items = load_items(items_path, format)[0] if items_path is not None else None
    log.info("%s: %d users, %d events", events_path, len(sequences), len(frame))
    return Dataset(name, title or name, str(events_path), format, sequences, items, int(len(frame)))
