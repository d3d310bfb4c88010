"""Ingest items and events from files into the store, with honest per-row reports.

Reading and layouts live in :mod:`knowledge.formats`, whole-column checks in
:mod:`knowledge.validate`; every skipped row becomes a :class:`RowIssue` (file, 1-based data row, source
column, reason) in the :class:`IngestReport`. A file is fully validated before its first write
and ids are deterministic, so re-running a crashed ingest converges to the same store.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from knowledge.errors import IngestError
from knowledge.formats import (
    ROW,
    Adapter,
    ColumnMapping,
    classify_files,
    detect_format,
    get_adapter,
    read_table,
)
from knowledge.schema import Event, Item
from knowledge.validate import events_frame, items_frame

if TYPE_CHECKING:
    from knowledge.store import Store

__all__ = [
    "IngestReport",
    "RowIssue",
    "load_events",
    "load_items",
    "ingest_dataset",
    "ingest_events",
    "ingest_items",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowIssue:
    """One problem with one row. ``skipped`` False means the row was kept without the value."""

    file: str
    row: int
    column: str
    reason: str
    skipped: bool = True

    def __str__(self) -> str:
        what = "skipped" if self.skipped else "kept"
        return f"{self.file}: row {self.row}, column {self.column!r}: {self.reason} ({what})"


@dataclass
class IngestReport:
    """What one file's ingest read, accepted, skipped and why."""

    file: str
    kind: str  # "items" or "events"
    format: str
    rows_read: int = 0
    accepted: int = 0
    skipped: int = 0
    written: int = 0
    issues: list[RowIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # seconds: read, validate, write
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:  # no row had an issue
        return not self.issues

    def summary(self, max_issues: int = 20) -> str:
        """A few lines for people: counts, then the first issues."""
        lines = [
            f"{self.file} ({self.format} {self.kind}): {self.rows_read} rows read, "
            f"{self.accepted} accepted, {self.skipped} skipped, {self.written} written "
            f"in {self.elapsed_s:.1f}s"
        ]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  {issue}" for issue in self.issues[:max_issues]]
        if len(self.issues) > max_issues:
            lines.append(f"  ... and {len(self.issues) - max_issues} more issues")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def _resolve(format: str | Adapter, mapping: ColumnMapping | None, kind: str) -> Adapter:
    adapter = format if isinstance(format, Adapter) else get_adapter(format)
    if mapping is None:
        return adapter
    return replace(adapter, items=mapping) if kind == "items" else replace(adapter, events=mapping)


def _load(
    kind: str,
    path: str | Path,
    format: str | Adapter,
    mapping: ColumnMapping | None,
    known_items: set[str] | None = None,
) -> tuple[list[Any], IngestReport]:
    start = time.perf_counter()
    adapter = _resolve(format, mapping, kind)
    path = Path(path)
    report = IngestReport(file=str(path), kind=kind, format=adapter.name)
    raw = read_table(path, adapter.items_read if kind == "items" else adapter.events_read)
    if kind == "items" and adapter.prepare_items is not None:
        raw = adapter.prepare_items(raw)
    report.rows_read = len(raw)
    report.stages["read"] = time.perf_counter() - start
    t = time.perf_counter()
    objects: list[Any] = []
    if kind == "items":
        frame, issues = items_frame(raw, adapter.items, str(path))
        cols = ["item_id", "title", "brand", "categories", "price", "description", "attributes"]
        make: Any = Item
    else:
        frame, issues = events_frame(raw, adapter.events, str(path), known_items)
        frame["rating"] = frame["rating"].astype(object).where(frame["rating"].notna(), None)
        frame["source"] = adapter.events.source or adapter.name
        cols = ["user_id", "item_id", "kind", "timestamp", ROW, "rating", "text", "detail"]
        cols += ["source"]
        make = Event
    rows = frame[ROW].tolist()
    values = zip(*(frame[c].tolist() for c in cols), strict=True)
    bar = tqdm(values, total=len(rows), desc=f"checking {kind}", disable=len(rows) < 50_000)
    for row, args in zip(rows, bar, strict=True):
        try:
            objects.append(make(*args))
        except ValueError as exc:  # belt and braces: the column checks should catch all of it
            issues.rows.append((row, "*", str(exc), True))
    report.notes = issues.notes
    report.issues = [RowIssue(str(path), int(r), c, why, s) for r, c, why, s in issues.rows]
    report.issues.sort(key=lambda i: i.row)
    report.accepted = len(objects)
    report.skipped = report.rows_read - report.accepted
    report.stages["validate"] = time.perf_counter() - t
    report.elapsed_s = time.perf_counter() - start
    return objects, report


def load_items(
    path: str | Path, format: str | Adapter = "native", mapping: ColumnMapping | None = None
) -> tuple[list[Item], IngestReport]:
    """Read and validate an items file without writing anything."""
    return _load("items", path, format, mapping)


def load_events(
    path: str | Path,
    format: str | Adapter = "native",
    mapping: ColumnMapping | None = None,
    known_items: set[str] | None = None,
) -> tuple[list[Event], IngestReport]:
    """Read and validate an events file without writing anything.

    ``known_items``: the catalog's item ids; rows naming any other item are skipped and
    reported (None skips that check).
    """
    return _load("events", path, format, mapping, known_items)


def _strict_check(reports: Sequence[IngestReport]) -> None:
    issues = [i for r in reports for i in r.issues]
    if issues:
        raise IngestError(
            f"strict mode: {len(issues)} row issue(s), nothing was written; first: {issues[0]}"
        )


def _write(store: Store, report: IngestReport, objects: list[Any], progress: bool) -> None:
    t = time.perf_counter()
    if report.kind == "items":
        report.written = store.upsert_items(objects, progress=progress)
    else:
        report.written = store.add_events(objects, progress=progress)
    report.stages["write"] = time.perf_counter() - t
    report.elapsed_s += report.stages["write"]
    log.info("%s", report.summary(max_issues=5))


def ingest_items(
    store: Store,
    path: str | Path,
    format: str | Adapter = "native",
    mapping: ColumnMapping | None = None,
    strict: bool = False,
    progress: bool = False,
) -> IngestReport:
    """Validate an items file, then upsert the rows that pass. Returns the report."""
    return _ingest_file(store, load_items(path, format, mapping), strict, progress)


def ingest_events(
    store: Store,
    path: str | Path,
    format: str | Adapter = "native",
    mapping: ColumnMapping | None = None,
    strict: bool = False,
    progress: bool = False,
) -> IngestReport:
    """Validate an events file against the store's catalog, then upsert the rows that pass."""
    loaded = load_events(path, format, mapping, store.item_ids())
    return _ingest_file(store, loaded, strict, progress)


def _ingest_file(
    store: Store, loaded: tuple[list[Any], IngestReport], strict: bool, progress: bool
) -> IngestReport:
    objects, report = loaded
    if strict:
        _strict_check([report])
    _write(store, report, objects, progress)
    return report


def _expand(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    out: list[Path] = []
    for p in map(Path, items):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        elif p.exists():
            out.append(p)
        else:
            raise IngestError(f"{p}: no such file or directory")
    return out


def ingest_dataset(
    store: Store,
    directory_or_files: str | Path | Sequence[str | Path],
    format: str | None = None,
    strict: bool = False,
    progress: bool = False,
    items_mapping: ColumnMapping | None = None,
    events_mapping: ColumnMapping | None = None,
) -> list[IngestReport]:
    """Ingest a dataset's items files, then its events files; one report per file.

    ``format`` None guesses it from the file names (see :func:`detect_format`). Every file is
    validated before anything is written; with ``strict`` any issue raises instead.
    """
    paths = _expand(directory_or_files)
    name = format or detect_format(paths)
    adapter = _resolve(name, items_mapping, "items")
    adapter = _resolve(adapter, events_mapping, "events")
    item_files, event_files = classify_files(adapter, paths)
    if not item_files and not event_files:
        raise IngestError(
            f"no {name} items or events files among {[p.name for p in paths]}; expected names "
            f"like {adapter.items_files + adapter.events_files}"
        )
    log.info("ingesting %s: items %s, events %s", name, item_files, event_files)
    loaded_items = [load_items(p, adapter) for p in item_files]
    known = store.item_ids() | {it.item_id for items, _ in loaded_items for it in items}
    loaded_events = [load_events(p, adapter, None, known) for p in event_files]
    loaded: list[tuple[list[Any], IngestReport]] = [*loaded_items, *loaded_events]
    if strict:
        _strict_check([r for _, r in loaded])
    for objects, report in loaded:
        _write(store, report, objects, progress)
    return [r for _, r in loaded]
