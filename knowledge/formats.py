"""Dataset adapters: how each supported file layout maps onto nextneed's items and events.

An :class:`Adapter` pairs :class:`ReadOptions` (bytes to table) with a :class:`ColumnMapping`
(source column per field) for a layout's items and events files. :func:`read_table` reads
CSV/TSV, JSON Lines (gzip, Python-literal lines) and Parquet with strict decoding: a bad byte
is an :class:`IngestError` naming byte and line, never a silently replaced character.
"""

from __future__ import annotations

import ast
import codecs
import dataclasses
import gzip
import html
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import numpy as np
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
    "parse_attributes",
    "parse_categories",
    "parse_price",
    "read_table",
]

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
        defaults = {f.name: getattr(ColumnMapping, f.name, None) for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for pair in pairs:
            name, sep, value = (part.strip() for part in pair.partition("="))
            if not sep or name not in defaults:
                raise ConfigError(
                    f"bad mapping {pair!r}: use FIELD=COLUMN, FIELD in {list(defaults)}"
                )
            default = defaults[name]
            try:
                if isinstance(default, bool):
                    changes[name] = value.lower() in ("1", "true", "yes", "on")
                elif isinstance(default, float):
                    changes[name] = float(value)
                elif isinstance(default, tuple):
                    changes[name] = tuple(v.strip() for v in value.split(",") if v.strip())
                else:
                    changes[name] = value or (None if name != "item" else value)
            except ValueError:
                raise ConfigError(f"bad mapping {pair!r}: {name} must be a number") from None
        return dataclasses.replace(self, **changes)


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
    # layout-specific reshaping before the mapping (MovieLens genre flags)
    prepare_items: Callable[[pd.DataFrame], pd.DataFrame] | None = None


# -- reading ---------------------------------------------------------------------------------


def _file_kind(path: Path, opts: ReadOptions) -> tuple[str, str | None]:
    if opts.kind is not None:
        return opts.kind, opts.sep
    suffix = Path(path.name.lower().removesuffix(".gz")).suffix
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
    bom = len(codecs.BOM_UTF8) if encoding.lower() in _UTF8 and raw[:3] == codecs.BOM_UTF8 else 0
    try:
        return raw[bom:].decode("utf-8" if encoding.lower() in _UTF8 else encoding)
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        line = raw[:offset].count(b"\n") + 1
        raise IngestError(
            f"{path}: not valid {encoding} at byte {offset} (line {line}, bytes "
            f"{raw[offset : offset + 4]!r}); nothing was ingested. Re-save the file as UTF-8 or "
            "give its encoding."
        ) from None


def _read_jsonl(text: str, path: Path, literals: bool) -> pd.DataFrame:
    records: list[dict[str, object]] = []
    rows: list[int] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except RecursionError:  # a hostile file, not a crash (issue 21)
            raise IngestError(
                f"{path}: line {lineno} is nested too deeply to be a record; nothing was ingested"
            ) from None
        except json.JSONDecodeError as exc:
            try:  # Amazon 2014 metadata: one Python dict literal per line
                rec = ast.literal_eval(line) if literals else None
            except (ValueError, SyntaxError):
                rec = None
            if rec is None:
                raise IngestError(
                    f"{path}: line {lineno} is not valid JSON ({exc.msg}); nothing was ingested"
                ) from None
        if not isinstance(rec, dict):
            raise IngestError(f"{path}: line {lineno} holds a {type(rec).__name__}, not an object")
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


# -- values as the sources spell them -------------------------------------------------------


def parse_categories(value: Any, sep: str, unescape: bool) -> tuple[str, ...]:
    """A label list from a list, a list of lists (Amazon 2014) or a joined string."""
    if isinstance(value, str):
        labels = value.split(sep)
    elif isinstance(value, list | tuple | np.ndarray):
        labels = [
            str(x) for v in value for x in (v if isinstance(v, list | tuple | np.ndarray) else [v])
        ]
    else:
        labels = []
    labels = [html.unescape(x).strip() if unescape else x.strip() for x in labels]
    return tuple(dict.fromkeys(x for x in labels if x))


_PRICE = re.compile(r"^\s*\$?\s*([0-9][0-9,]*(?:\.[0-9]+)?)(?:\s*-\s*\$?\s*[0-9][0-9,.]*)?\s*$")


def parse_price(value: Any) -> float | None:
    """A price from a number or a shop string ('$12.99', '$1,299', '$5.99 - $9.99' -> 5.99).

    Raises ValueError for anything else."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    if isinstance(value, int | float | np.number):
        price = float(value)
    else:
        match = _PRICE.match(str(value))
        if match is None:
            raise ValueError(value)
        price = float(match.group(1).replace(",", ""))
    if not math.isfinite(price) or price < 0:
        raise ValueError(value)
    return price


def parse_attributes(value: Any) -> dict[str, Any]:
    """A dict from a dict or a JSON object string; raises ValueError for anything else."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return {}
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise ValueError("not an object")
    return dict(parsed)


# -- dataset layouts -------------------------------------------------------------------------

_ML100K_GENRES = tuple(
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western".split()
)
_ML100K_ITEM_COLS = ("movie_id", "title", "release_date", "video_release_date", "imdb_url")


def _ml100k_genres(frame: pd.DataFrame) -> pd.DataFrame:
    """u.item carries one 0/1 flag column per genre; turn them into a category list."""
    flags = frame[list(_ML100K_GENRES)] == "1"
    names = pd.Series(_ML100K_GENRES)
    frame = frame.drop(columns=list(_ML100K_GENRES))
    frame["genres"] = [list(names[row]) for row in flags.to_numpy()]
    return frame


def _layout(name: str, items: dict[str, Any], events: dict[str, Any], **kw: Any) -> Adapter:
    """An adapter whose mappings are the defaults with ``items``/``events`` overrides."""
    return Adapter(
        name,
        ColumnMapping(**{"source": name, **items}),
        ColumnMapping(**{"source": name, **events}),
        **kw,
    )


_NO_ITEM_FIELDS = {"brand": None, "price": None, "description": None, "attributes": None}
_NO_KIND = {"kind": None, "detail": None}  # review files: kind follows from the text
_AMAZON_REVIEWS = {
    **_NO_KIND,
    "user": "reviewerID",
    "item": "asin",
    "timestamp": "unixReviewTime",
    "rating": "overall",
    "text": "reviewText",
    "summary": "summary",
}
_AMAZON_FILES: dict[str, Any] = {
    "items_files": ("meta*",),
    "events_files": ("*.json", "*.json.gz", "*.jsonl", "*.jsonl.gz"),
}
# Amazon 2014 metadata lines are Python dict literals; 2018 ones are JSON (both accepted).
_META = ReadOptions(python_literals=True)
_ML_RATINGS = ("user_id", "item_id", "rating", "timestamp")
_ML_EVENTS = {**_NO_KIND, "text": None, "rating_min": 1.0}

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
        _layout("native", {}, {}, items_files=("items.*",), events_files=("events.*",)),
        _layout(
            "amazon2014",
            {"item": "asin", "attributes": None, "html_unescape": True},
            _AMAZON_REVIEWS,
            items_read=_META,
            **_AMAZON_FILES,
        ),
        _layout(
            "amazon2018",
            {"item": "asin", "categories": "category", "attributes": None, "html_unescape": True}
            | {"extra": ("main_cat",)},
            _AMAZON_REVIEWS,
            items_read=_META,
            **_AMAZON_FILES,
        ),
        _layout(
            "amazon2023",
            {"item": "parent_asin", "brand": "store", "attributes": None}
            | {"extra": ("main_category",)},
            {**_NO_KIND, "item": "parent_asin", "summary": "title", "timestamp_unit": "ms"},
            **_AMAZON_FILES,
        ),
        _layout(
            "movielens100k",
            {**_NO_ITEM_FIELDS, "item": "movie_id", "categories": "genres"}
            | {"extra": ("release_date", "imdb_url")},
            _ML_EVENTS,
            items_read=ReadOptions("split", "|", _ML100K_ITEM_COLS + _ML100K_GENRES, "latin-1"),
            events_read=ReadOptions("split", "\t", _ML_RATINGS),
            items_files=("u.item",),
            events_files=("u.data",),
            prepare_items=_ml100k_genres,
        ),
        _layout(
            "movielens1m",
            {**_NO_ITEM_FIELDS, "item": "movie_id", "categories": "genres", "categories_sep": "|"},
            _ML_EVENTS,
            items_read=ReadOptions("split", "::", ("movie_id", "title", "genres"), "latin-1"),
            events_read=ReadOptions("split", "::", _ML_RATINGS, "latin-1"),
            items_files=("movies.dat",),
            events_files=("ratings.dat",),
        ),
        _layout(
            "benchmark-csv",
            {"attributes": None, "html_unescape": True},
            {**_NO_KIND, "text": None},
            items_files=("items.csv", "items.csv.gz"),
            events_files=("interactions.csv", "interactions.csv.gz"),
        ),
        # Any other layout: name the columns with a mapping; files named like items are items.
        _layout("csv", {}, {}, items_files=("*item*", "*meta*", "*product*"), events_files=("*",)),
    )
}
FORMATS: tuple[str, ...] = tuple(ADAPTERS)


def get_adapter(name: str) -> Adapter:
    """The adapter for a format name (one of :data:`FORMATS`)."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ConfigError(f"unknown format {name!r}; use one of {', '.join(FORMATS)}") from None


def _peek(path: Path) -> str:  # the first keys of a (gzipped) JSON file
    try:
        with gzip.open(path) if path.name.lower().endswith(".gz") else path.open("rb") as f:
            return f.read(4096).decode("utf-8", errors="replace")  # a peek; the read is strict
    except (OSError, EOFError):
        return ""


def detect_format(paths: Sequence[str | Path]) -> str:
    """Guess the format from file names (and, for Amazon dumps, the first record's keys)."""
    plain = {n.removesuffix(".gz") for n in (Path(p).name.lower() for p in paths)}
    by_name = {"u.data": "movielens100k", "u.item": "movielens100k", "ratings.dat": "movielens1m"}
    by_name |= {"movies.dat": "movielens1m", "interactions.csv": "benchmark-csv"}
    by_name |= {f"{k}.{e}": "native" for k in ("items", "events") for e in ("jsonl", "json")}
    for name, fmt in by_name.items():
        if name in plain:
            return fmt
    heads = " ".join(_peek(Path(p)) for p in paths if not str(p).endswith((".parquet", ".pq")))
    if "parent_asin" in heads:
        return "amazon2023"
    if any(k in heads for k in ('"category"', "'category'", '"vote"')):
        return "amazon2018"
    if any(k in heads for k in ("reviewerID", "'asin'", '"asin"')):
        return "amazon2014"
    return "benchmark-csv" if "items.csv" in plain else "csv"


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
