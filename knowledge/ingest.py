"""Ingest items and events from files into the store, with honest per-row reports.

Reading and layouts live in :mod:`knowledge.formats`, whole-column checks in
:mod:`knowledge.validate`; every skipped row becomes a :class:`RowIssue` (file, 1-based data row, source
column, reason) in the :class:`IngestReport`. A file is fully validated before its first write
and ids are deterministic, so re-running a crashed ingest converges to the same store.

Exports people have are often a reviews or events file alone: a dataset without an items file
creates the items its events name (id, plus title/brand/category columns when present), in a
report flagged ``created_from_events``. A folder's non-data files (README.md, LICENSE) are
skipped with a note.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
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
    "items_from_events",
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
    # items made from the ids (and title/brand/category columns) an events file names, because
    # the dataset had no items file
    created_from_events: bool = False

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
    quiet = len(rows) < 50_000 or not sys.stderr.isatty()  # no bars in logs
    bar = tqdm(values, total=len(rows), desc=f"checking {kind}", disable=quiet)
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


# what ingest can read (optionally gzipped); a folder's other files are skipped with a note
_DATA_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".ndjson", ".parquet", ".pq", ".dat")
_DATA_NAMES = ("u.data", "u.item")  # MovieLens 100k


def _is_data(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith(_DATA_SUFFIXES) or name in _DATA_NAMES


def _expand(paths: str | Path | Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The data files named or found in the folders named, and notes on what was skipped."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    out: list[Path] = []
    notes: list[str] = []
    for p in map(Path, items):
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
            out += [f for f in files if _is_data(f)]
            notes += [f"skipped {f}: not a data file" for f in files if not _is_data(f)]
        elif p.exists():
            out.append(p)
        else:
            raise IngestError(f"{p}: no such file or directory")
    return out, notes


_TITLE_COLUMNS = ("title", "product_title", "item_title", "product_name", "item_name", "name")
_CATEGORY_COLUMNS = ("categories", "category", "main_category", "main_cat")


def _ids(values: pd.Series) -> pd.Series:
    def one(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, float) and v == int(v):
            return f"{v:.0f}"
        return str(v).strip()

    return values.map(one)


def items_from_events(
    path: str | Path, format: str | Adapter = "csv", known_items: set[str] | None = None
) -> tuple[list[Item], IngestReport]:
    """The items an events file names that ``known_items`` lacks, made from its columns: the
    id, and a title, brand and category column when the file has one (else the id is the
    title). For a reviews or events export that came without an items file."""
    start = time.perf_counter()
    adapter = _resolve(format, None, "events")
    m = adapter.events
    path = Path(path)
    report = IngestReport(
        file=str(path), kind="items", format=adapter.name, created_from_events=True
    )
    raw = read_table(path, adapter.events_read)
    if m.item not in raw:  # the events ingest names the missing column
        return [], report
    taken = {m.user, m.timestamp, m.rating, m.text, m.summary, m.kind, m.detail} - {None}

    def pick(*names: str | None) -> str | None:
        return next((c for c in names if c and c in raw and c not in taken), None)

    title = pick(adapter.items.title, *_TITLE_COLUMNS)
    brand = pick(adapter.items.brand, "brand", "store")
    cats = pick(adapter.items.categories, *_CATEGORY_COLUMNS)
    ids = _ids(raw[m.item])
    keep = (ids != "") & ~ids.isin(known_items or set())
    new = pd.DataFrame({ROW: raw[ROW], "item_id": ids})[keep]
    new["title"] = _ids(raw.loc[keep, title]) if title else ""
    new["title"] = new["title"].where(new["title"] != "", new["item_id"])
    new["brand"] = _ids(raw.loc[keep, brand]) if brand else ""
    new["categories"] = raw.loc[keep, cats] if cats else ""
    # one row per item: the first that has a title of its own, else the first
    new["_named"] = new["title"] != new["item_id"]
    new = new.sort_values(["_named", ROW], ascending=[False, True], kind="stable")
    new = new.drop_duplicates("item_id").sort_values(ROW).drop(columns="_named")
    report.rows_read = len(new)
    mapping = ColumnMapping(
        item="item_id",
        title="title",
        brand="brand" if brand else None,
        categories="categories" if cats else None,
        price=None,
        description=None,
        attributes=None,
        categories_sep=adapter.items.categories_sep,
        html_unescape=adapter.items.html_unescape,
        source=adapter.name,
    )
    frame, issues = items_frame(new, mapping, str(path))
    cols = ["item_id", "title", "brand", "categories", "price", "description", "attributes"]
    items = [Item(*args) for args in zip(*(frame[c].tolist() for c in cols), strict=True)]
    found = ", ".join(c for c in (title, brand, cats) if c) or "none"
    report.notes = [
        f"no items file: {len(items)} items created from the ids in this file's {m.item!r} "
        f"column (item columns found: {found})"
        + ("" if title else "; their titles are their ids, add an items file for real names")
    ]
    report.issues = [RowIssue(str(path), int(r), c, why, s) for r, c, why, s in issues.rows]
    report.accepted = len(items)
    report.skipped = report.rows_read - report.accepted
    report.elapsed_s = time.perf_counter() - start
    return items, report


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
    validated before anything is written; with ``strict`` any issue raises instead. A folder's
    non-data files are skipped with a note; without any items file, the events files' items
    are created from them (:func:`items_from_events`).
    """
    paths, notes = _expand(directory_or_files)
    name = format or detect_format(paths)
    adapter = _resolve(name, items_mapping, "items")
    adapter = _resolve(adapter, events_mapping, "events")
    item_files, event_files = classify_files(adapter, paths)
    notes += [
        f"skipped {p}: not a {name} items or events file"
        for p in paths
        if p not in item_files and p not in event_files
    ]
    if not item_files and not event_files:
        raise IngestError(
            f"no {name} items or events files among {[p.name for p in paths]}; expected names "
            f"like {adapter.items_files + adapter.events_files}"
        )
    log.info("ingesting %s: items %s, events %s", name, item_files, event_files)
    loaded_items = [load_items(p, adapter) for p in item_files]
    known = store.item_ids() | {it.item_id for items, _ in loaded_items for it in items}
    if not item_files:  # a reviews/events export on its own: its items come from it
        for p in event_files:
            created = items_from_events(p, adapter, known)
            known |= {it.item_id for it in created[0]}
            loaded_items.append(created)
    loaded_events = [load_events(p, adapter, None, known) for p in event_files]
    loaded: list[tuple[list[Any], IngestReport]] = [*loaded_items, *loaded_events]
    for note in notes:
        log.info("%s", note)
    if loaded:
        loaded[0][1].notes[:0] = notes
    if strict:
        _strict_check([r for _, r in loaded])
    for objects, report in loaded:
        _write(store, report, objects, progress)
    return [r for _, r in loaded]
