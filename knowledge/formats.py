"""Dataset adapters: how each supported file layout maps onto nextneed's items and events.

An :class:`Adapter` pairs a :class:`ReadOptions` (how to turn bytes into a table) with a
:class:`ColumnMapping` (which source column holds which field) for the items file and the
events file of one dataset layout. :func:`read_table` does the reading for every adapter:
CSV/TSV, JSON Lines (also a JSON array, gzip, Python-literal lines) and Parquet, with strict
decoding, so an undecodable byte is an :class:`IngestError` naming the byte and line, never a
silently replaced character.
"""

from __future__ import annotations

import ast
import codecs
import dataclasses
import gzip
import io
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pandas as pd

from knowledge.errors import ConfigError, IngestError

__all__ = [
    "ROW",
    "ADAPTERS",
    "FORMATS",
    "Adapter",
    "ColumnMapping",
    "ReadOptions",
    "classify_files",
    "detect_format",
    "get_adapter",
    "read_table",
]

log = logging.getLogger(__name__)

#: Name of the column :func:`read_table` adds: the 1-based data row (JSON Lines: the line).
ROW = "__row__"

_TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
_JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_UTF8 = ("utf-8", "utf8", "utf-8-sig")


@dataclass(frozen=True)
class ReadOptions:
    """How to read one file. ``kind`` None means: decide by the file extension."""

    kind: str | None = None  # "csv", "jsonl", "parquet" or "split" (plain split on ``sep``)
    sep: str | None = None  # None: "," for .csv, a tab for .tsv
    names: tuple[str, ...] = ()  # column names for header-less files
    encoding: str = "utf-8"
    python_literals: bool = False  # Amazon 2014 metadata lines are Python dicts, not JSON

    def __post_init__(self) -> None:
        if self.kind not in (None, "csv", "jsonl", "parquet", "split"):
            raise ConfigError(f"ReadOptions.kind must be csv, jsonl, parquet or split: {self.kind}")
        if self.kind == "split" and not (self.sep and self.names):
            raise ConfigError("ReadOptions.kind='split' needs sep and names")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ConfigError(f"ReadOptions.encoding is unknown: {self.encoding!r}") from None


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column holds each field; None when the source has no such column.

    ``user``, ``item`` and ``timestamp`` are required in an events file, ``item`` and
    ``title`` in an items file; every other mapped column is optional (read as empty when the
    file lacks it, and the report says so). ``rating_scale`` is the top of the source's rating
    scale: ratings are checked against ``rating_min..rating_scale`` and stored on 0..5.
    """

    user: str | None = "user_id"
    item: str = "item_id"
    timestamp: str | None = "timestamp"
    rating: str | None = "rating"
    text: str | None = "text"
    summary: str | None = None  # review headline, kept as the first line of the text
    kind: str | None = "kind"  # absent: a row with text is a review, one without a purchase
    detail: str | None = "detail"
    title: str | None = "title"
    brand: str | None = "brand"
    categories: str | None = "categories"
    price: str | None = "price"
    description: str | None = "description"
    attributes: str | None = "attributes"
    extra: tuple[str, ...] = ()  # further item columns copied into Item.attributes
    categories_sep: str = " | "
    timestamp_unit: str = "s"  # "s", "ms" or "iso"
    rating_scale: float = 5.0
    rating_min: float = 0.0
    html_unescape: bool = False
    require_text: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        if not self.item or not self.item.strip():
            raise ConfigError("ColumnMapping.item must name the item id column")
        if self.timestamp_unit not in ("s", "ms", "iso"):
            raise ConfigError(
                f"ColumnMapping.timestamp_unit must be 's', 'ms' or 'iso', got "
                f"{self.timestamp_unit!r}"
            )
        if not self.rating_scale > self.rating_min:
            raise ConfigError(
                f"ColumnMapping.rating_scale ({self.rating_scale}) must be above rating_min "
                f"({self.rating_min})"
            )
        if not self.categories_sep:
            raise ConfigError("ColumnMapping.categories_sep must not be empty")

    def with_pairs(self, pairs: Sequence[str]) -> ColumnMapping:
        """A copy with ``field=value`` overrides (the CLI's ``--mapping``); ``field=`` unmaps."""
        kinds = {f.name: f.type for f in dataclasses.fields(self)}
        changes: dict[str, object] = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            name = name.strip()
            if not sep or name not in kinds:
                raise ConfigError(
                    f"bad mapping {pair!r}: use field=column with field one of {sorted(kinds)}"
                )
            typ = str(kinds[name])
            if name == "extra":
                changes[name] = tuple(v.strip() for v in value.split(",") if v.strip())
            elif typ == "bool":
                changes[name] = value.strip().lower() in ("1", "true", "yes", "on")
            elif typ == "float":
                try:
                    changes[name] = float(value)
                except ValueError:
                    raise ConfigError(f"bad mapping {pair!r}: {name} must be a number") from None
            elif "None" in typ:
                changes[name] = value or None
            else:
                changes[name] = value
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


Prepare = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class Adapter:
    """One dataset layout: how to read and map its items file and its events file."""

    name: str
    items: ColumnMapping
    events: ColumnMapping
    items_read: ReadOptions = field(default_factory=ReadOptions)
    events_read: ReadOptions = field(default_factory=ReadOptions)
    items_files: tuple[str, ...] = ()  # file-name patterns (fnmatch, lower case)
    events_files: tuple[str, ...] = ()
    prepare_items: Prepare | None = None  # layout-specific reshaping before the mapping


# -- reading ---------------------------------------------------------------------------------


def _file_kind(path: Path, opts: ReadOptions) -> tuple[str, str | None]:
    if opts.kind is not None:
        return opts.kind, opts.sep
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in _TABLE_SUFFIXES:
        return "csv", opts.sep or _TABLE_SUFFIXES[suffix]
    if suffix in _JSON_SUFFIXES:
        return "jsonl", None
    if suffix in _PARQUET_SUFFIXES:
        return "parquet", None
    raise IngestError(
        f"{path}: unsupported file type {suffix or '(no extension)'!r}; nextneed reads .csv, "
        ".tsv, .jsonl/.json/.ndjson and .parquet files (optionally gzip-compressed, .gz)"
    )


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if path.name.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise IngestError(f"{path}: not a valid gzip file ({exc})") from exc
    if not raw.strip():
        raise IngestError(f"{path} is empty: nothing to ingest")
    return raw


def _decode(raw: bytes, path: Path, encoding: str) -> str:
    if encoding.lower() not in _UTF8:
        return raw.decode(encoding)  # single-byte encodings such as latin-1 decode every byte
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        line = raw[:offset].count(b"\n") + 1
        bad = raw[offset : offset + 4]
        raise IngestError(
            f"{path}: not valid UTF-8 at byte {offset} (line {line}, bytes {bad!r}); nothing "
            "was ingested. Re-save the file as UTF-8 or give its encoding."
        ) from None


def _read_jsonl(text: str, path: Path, literals: bool) -> pd.DataFrame:
    records: list[dict[str, object]] = []
    rows: list[int] = []
    if text.lstrip().startswith("["):  # a plain JSON array of objects
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IngestError(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
        pairs = list(enumerate(data, 1))
    else:
        pairs = [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    for lineno, value in pairs:
        rec = value
        if isinstance(value, str):
            try:
                rec = json.loads(value)
            except json.JSONDecodeError as exc:
                if not literals:
                    raise IngestError(
                        f"{path}: line {lineno} is not valid JSON ({exc.msg}); nothing was ingested"
                    ) from None
                try:  # Amazon 2014 metadata: one Python dict literal per line
                    rec = ast.literal_eval(value)
                except (ValueError, SyntaxError):
                    raise IngestError(
                        f"{path}: line {lineno} is neither JSON nor a Python literal"
                    ) from None
        if not isinstance(rec, dict):
            raise IngestError(
                f"{path}: line {lineno} holds a JSON {type(rec).__name__}, not an object"
            )
        records.append(rec)
        rows.append(lineno)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame[ROW] = rows
    return frame


def _read_split(text: str, path: Path, sep: str, names: tuple[str, ...]) -> pd.DataFrame:
    """Header-less files with a separator and no quoting (MovieLens)."""
    lines = pd.Series(text.splitlines(), dtype=object)
    rows = pd.Series(range(1, len(lines) + 1))
    keep = lines.str.strip() != ""
    lines, rows = lines[keep], rows[keep]
    counts = lines.str.count(re.escape(sep)) + 1
    wrong = counts != len(names)
    if wrong.any():
        first = int(rows[wrong].iloc[0])
        raise IngestError(
            f"{path}: line {first} has {int(counts[wrong].iloc[0])} fields separated by "
            f"{sep!r}, expected {len(names)}; nothing was ingested"
        )
    if lines.empty:
        return pd.DataFrame({**{n: [] for n in names}, ROW: []})
    parts = lines.str.split(sep, regex=False, expand=True)
    parts.columns = list(names)
    parts[ROW] = rows.to_numpy()
    return parts.reset_index(drop=True)


def read_table(path: str | Path, options: ReadOptions | None = None) -> pd.DataFrame:
    """Read one file into a DataFrame of raw values plus the :data:`ROW` column.

    CSV values stay strings (ids such as ``0001`` keep their zeros; empty cells are ``""``).
    Raises :class:`IngestError` for an empty, unreadable, undecodable or malformed file.
    """
    path = Path(path)
    opts = options or ReadOptions()
    kind, sep = _file_kind(path, opts)
    if kind == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types for a bad file
            raise IngestError(f"{path}: not a readable Parquet file ({exc})") from exc
        frame[ROW] = range(1, len(frame) + 1)
        return frame
    text = _decode(_read_bytes(path), path, opts.encoding)
    if kind == "jsonl":
        return _read_jsonl(text, path, opts.python_literals)
    if kind == "split":
        assert sep is not None
        return _read_split(text, path, sep, opts.names)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep or ",",
            dtype=str,
            na_filter=False,
            header=None if opts.names else "infer",
            names=list(opts.names) or None,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise IngestError(f"{path}: not a readable CSV file ({exc}); nothing was ingested") from exc
    frame[ROW] = range(1, len(frame) + 1)
    return frame


# -- dataset layouts -------------------------------------------------------------------------

_ML100K_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()
_ML100K_ITEM_COLS = ("movie_id", "title", "release_date", "video_release_date", "imdb_url")


def _ml100k_genres(frame: pd.DataFrame) -> pd.DataFrame:
    """u.item carries one 0/1 flag column per genre; turn them into a category list."""
    flags = frame[list(_ML100K_GENRES)] == "1"
    names = pd.Series(_ML100K_GENRES)
    frame = frame.drop(columns=list(_ML100K_GENRES))
    frame["genres"] = [list(names[row]) for row in flags.to_numpy()]
    return frame


_NO_ITEM_FIELDS: dict[str, Any] = {
    "brand": None,
    "price": None,
    "description": None,
    "attributes": None,
}
_REVIEW_EVENTS: dict[str, Any] = {"kind": None, "detail": None}

NATIVE = Adapter(
    name="native",
    items=ColumnMapping(source="native"),
    events=ColumnMapping(source="native"),
    items_files=("items.*",),
    events_files=("events.*",),
)
_AMAZON_OLD_EVENTS = ColumnMapping(
    user="reviewerID",
    item="asin",
    timestamp="unixReviewTime",
    rating="overall",
    text="reviewText",
    summary="summary",
    **_REVIEW_EVENTS,
)
_META_READ = ReadOptions(python_literals=True)
AMAZON2014 = Adapter(
    name="amazon2014",
    items=ColumnMapping(item="asin", attributes=None, html_unescape=True, source="amazon2014"),
    events=dataclasses.replace(_AMAZON_OLD_EVENTS, source="amazon2014"),
    items_read=_META_READ,
    items_files=("meta*",),
    events_files=("*.json", "*.json.gz", "*.jsonl", "*.jsonl.gz"),
)
AMAZON2018 = Adapter(
    name="amazon2018",
    items=ColumnMapping(
        item="asin",
        categories="category",
        attributes=None,
        extra=("main_cat",),
        html_unescape=True,
        source="amazon2018",
    ),
    events=dataclasses.replace(_AMAZON_OLD_EVENTS, source="amazon2018"),
    items_read=_META_READ,
    items_files=AMAZON2014.items_files,
    events_files=AMAZON2014.events_files,
)
AMAZON2023 = Adapter(
    name="amazon2023",
    items=ColumnMapping(
        item="parent_asin",
        brand="store",
        attributes=None,
        extra=("main_category",),
        source="amazon2023",
    ),
    events=ColumnMapping(
        item="parent_asin",
        summary="title",
        timestamp_unit="ms",
        source="amazon2023",
        **_REVIEW_EVENTS,
    ),
    items_files=AMAZON2014.items_files,
    events_files=AMAZON2014.events_files,
)
MOVIELENS100K = Adapter(
    name="movielens100k",
    items=ColumnMapping(
        item="movie_id",
        categories="genres",
        extra=("release_date", "imdb_url"),
        source="movielens100k",
        **_NO_ITEM_FIELDS,
    ),
    events=ColumnMapping(text=None, source="movielens100k", rating_min=1.0, **_REVIEW_EVENTS),
    items_read=ReadOptions(
        kind="split", sep="|", names=_ML100K_ITEM_COLS + tuple(_ML100K_GENRES), encoding="latin-1"
    ),
    events_read=ReadOptions(
        kind="split", sep="\t", names=("user_id", "item_id", "rating", "timestamp")
    ),
    items_files=("u.item",),
    events_files=("u.data",),
    prepare_items=_ml100k_genres,
)
MOVIELENS1M = Adapter(
    name="movielens1m",
    items=ColumnMapping(
        item="movie_id",
        categories="genres",
        categories_sep="|",
        source="movielens1m",
        **_NO_ITEM_FIELDS,
    ),
    events=ColumnMapping(text=None, source="movielens1m", rating_min=1.0, **_REVIEW_EVENTS),
    items_read=ReadOptions(
        kind="split", sep="::", names=("movie_id", "title", "genres"), encoding="latin-1"
    ),
    events_read=ReadOptions(
        kind="split",
        sep="::",
        names=("user_id", "item_id", "rating", "timestamp"),
        encoding="latin-1",
    ),
    items_files=("movies.dat",),
    events_files=("ratings.dat",),
)
BENCHMARK_CSV = Adapter(
    name="benchmark-csv",
    items=ColumnMapping(attributes=None, html_unescape=True, source="benchmark-csv"),
    events=ColumnMapping(text=None, source="benchmark-csv", **_REVIEW_EVENTS),
    items_files=("items.csv", "items.csv.gz"),
    events_files=("interactions.csv", "interactions.csv.gz"),
)
GENERIC = Adapter(
    name="csv",
    items=ColumnMapping(source="csv"),
    events=ColumnMapping(source="csv"),
    items_files=("*item*", "*meta*", "*movie*", "*product*", "*catalog*"),
    events_files=("*",),
)

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
        NATIVE,
        AMAZON2014,
        AMAZON2018,
        AMAZON2023,
        MOVIELENS100K,
        MOVIELENS1M,
        BENCHMARK_CSV,
        GENERIC,
    )
}
FORMATS: tuple[str, ...] = tuple(ADAPTERS)


def get_adapter(name: str) -> Adapter:
    """The adapter for a format name (one of :data:`FORMATS`)."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ConfigError(f"unknown format {name!r}; use one of {', '.join(FORMATS)}") from None


def _peek_keys(path: Path) -> str:
    """The start of the first record of a JSON file (enough to tell Amazon vintages apart)."""
    try:
        raw = _read_bytes(path)[:4096]
    except IngestError:
        return ""
    return raw.decode("utf-8", errors="replace")  # a peek only; the real read is strict


def detect_format(paths: Sequence[str | Path]) -> str:
    """Guess the format from file names (and, for Amazon dumps, the first record's keys)."""
    names = {Path(p).name.lower() for p in paths}
    plain = {n[:-3] if n.endswith(".gz") else n for n in names}
    if "u.data" in plain or "u.item" in plain:
        return "movielens100k"
    if "ratings.dat" in plain or "movies.dat" in plain:
        return "movielens1m"
    if "interactions.csv" in plain:
        return "benchmark-csv"
    if plain & {"items.jsonl", "events.jsonl", "items.json", "events.json"}:
        return "native"
    heads = " ".join(_peek_keys(Path(p)) for p in paths if Path(p).suffix != ".parquet")
    if "parent_asin" in heads:
        return "amazon2023"
    if '"category"' in heads or "'category'" in heads or '"vote"' in heads:
        return "amazon2018"
    if "reviewerID" in heads or "'asin'" in heads or '"asin"' in heads:
        return "amazon2014"
    if "items.csv" in plain:
        return "benchmark-csv"
    return "csv"


def classify_files(adapter: Adapter, paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """Split files into (items files, events files) by the adapter's name patterns."""
    items, events = [], []
    for p in paths:
        name = p.name.lower()
        if any(fnmatch(name, pat) for pat in adapter.items_files):
            items.append(p)
        elif any(fnmatch(name, pat) for pat in adapter.events_files):
            events.append(p)
    return items, events
