"""Whole-column validation of ingest tables: every problem becomes a row issue.

:func:`items_frame` and :func:`events_frame` take a raw table (one column per source column,
plus the 1-based data row number) and return the valid rows as typed columns, and the issues
found (row, source column, reason). Checks run on whole pandas columns, never row by row, so
200k rows validate in about 3 s.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd

from knowledge.errors import IngestError
from knowledge.formats import ROW, ColumnMapping, parse_attributes, parse_categories, parse_price
from knowledge.schema import EVENT_KINDS, FEEDBACK_KINDS, MAX_TEXT_CHARS, USER_ID_HINT, USER_ID_RULE
from knowledge.screen import (
    INSTRUCTION_LIKE,
    SPECIAL_TOKENS,
    instruction_like,
    strip_special_tokens,
)

__all__ = ["Issues", "items_frame", "events_frame"]


class Issues:
    """Row issues found so far for one frame, and which rows are to be skipped."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.rows: list[tuple[int, str, str, bool]] = []
        self.notes: list[str] = []
        self._row = raw[ROW].to_numpy()
        self.bad = np.zeros(len(raw), dtype=bool)

    def flag(
        self, mask: Any, column: str, reason: str, values: Any = None, skip: bool = True
    ) -> None:
        """Record ``reason`` (formatted with ``{value}`` from ``values``) for masked rows."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        rows = self._row[mask].tolist()
        vals = np.asarray(values, dtype=object)[mask] if values is not None else [None] * len(rows)
        self.rows += [
            (r, column, reason.format(value=v), skip) for r, v in zip(rows, vals, strict=True)
        ]
        if skip:
            self.bad |= mask


def _require(raw: pd.DataFrame, fields: dict[str, str | None], file: str) -> None:
    missing = [f"{col!r} (for {name})" for name, col in fields.items() if col and col not in raw]
    unmapped = [name for name, col in fields.items() if not col]
    if missing or unmapped:
        found = [c for c in raw.columns if c != ROW]
        raise IngestError(
            f"{file}: missing required column(s) {', '.join(missing + unmapped)}; the file has "
            f"{found}. Nothing was written. Fix the file or pass a mapping (--mapping field=column)."
        )


def _column(raw: pd.DataFrame, name: str | None, issues: Issues) -> pd.Series:
    """The source column, or an all-empty one (noted) when the file lacks it."""
    if name and name in raw:
        return raw[name]
    if name:
        issues.notes.append(f"optional column {name!r} is not in the file; read as empty")
    return pd.Series([None] * len(raw), index=raw.index, dtype=object)


def _text(values: pd.Series) -> pd.Series:
    """Values as clean strings: None/NaN -> '', 3.0 -> '3', lists joined by newlines."""
    if values.dtype.kind == "f":
        return values.map(lambda v: "" if pd.isna(v) else (f"{v:.0f}" if v == int(v) else str(v)))
    if values.dtype.kind in "iub":
        return values.astype(str)

    def scalar(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return v if isinstance(v, str) else str(v)

    def one(v: Any) -> str:
        if not isinstance(v, list | tuple | np.ndarray):
            return scalar(v)
        # nested lists flattened with a stack, not recursion: a deeply nested JSON value is
        # text like any other, not a RecursionError (issue 21)
        parts: list[str] = []
        stack = [iter(v)]
        while stack:
            x = next(stack[-1], stack)
            if x is stack:
                stack.pop()
            elif isinstance(x, list | tuple | np.ndarray):
                stack.append(iter(x))
            else:
                parts.append(scalar(x))
        return "\n".join(parts)

    if values.dtype == object:
        return values.map(one).astype(str)
    return values.fillna("").astype(str)  # pandas' string dtype keeps NaN through astype(str)


def _join(frame: pd.DataFrame, cols: list[str]) -> pd.Series:  # a row key, no row-wise apply
    key = frame[cols[0]].astype(str)
    for col in cols[1:]:
        key = key + "\x1f" + frame[col].astype(str)
    return key


def _each(values: pd.Series, parse: Any) -> tuple[list[Any], list[bool]]:  # results, failed
    out: list[Any] = []
    bad: list[bool] = []
    for value in values.tolist():
        try:
            out.append(parse(value))
            bad.append(False)
        except ValueError:  # json.JSONDecodeError is a ValueError too
            out.append(None)
            bad.append(True)
    return out, bad


def _check_text(issues: Issues, values: pd.Series, column: str | None) -> None:
    lengths = values.str.len()
    issues.flag(
        lengths > MAX_TEXT_CHARS,
        column or "text",
        f"text has {{value}} characters, over the limit of {MAX_TEXT_CHARS} (MAX_TEXT_CHARS)",
        lengths,
    )
    # A NUL byte is never text: the file is binary or corrupt there (and chat refuses NULs).
    nul = values.str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
    issues.flag(nul, column or "text", "text contains NUL bytes: binary or corrupt data?")


def _screen(issues: Issues, values: pd.Series, column: str | None, fate: str) -> pd.Series:
    """``values`` without chat-template control tokens (each removal reported; the row is kept),
    and a report line (saying ``fate``) for text that reads as instructions to the assistant:
    it is kept as data, and screened again where it is shown or prompted (knowledge.screen)."""
    special = values.str.contains(SPECIAL_TOKENS, regex=True).fillna(False).to_numpy(dtype=bool)
    if special.any():
        values = values.copy()
        values[special] = values[special].map(strip_special_tokens)
        why = "removed chat-template control tokens (e.g. <|im_start|>) from the text"
        issues.flag(special, column or "text", why, skip=False)
    odd = values.str.contains(INSTRUCTION_LIKE, regex=True).fillna(False).to_numpy(dtype=bool)
    if odd.any():
        reasons = np.asarray([""] * len(values), dtype=object)
        reasons[odd] = values[odd].map(instruction_like).to_numpy()
        why = (
            "quarantined: the text {value} (instructions to the assistant?); "
            f"it is kept, but {fate}"
        )
        issues.flag(odd, column or "text", why, reasons, skip=False)
    return values


def _duplicates(issues: Issues, key: pd.Series, column: str, reason: str) -> None:
    """Flag later rows whose ``key`` equals an earlier valid row's; the first one is kept."""
    valid = ~issues.bad
    rows = pd.Series(issues._row, index=key.index)[valid]
    first = rows.groupby(key[valid].to_numpy(), sort=False).transform("first")
    dup = np.zeros(len(key), dtype=bool)
    dup[np.flatnonzero(valid)] = (first != rows).to_numpy()
    full_first = np.zeros(len(key), dtype=np.int64)
    full_first[np.flatnonzero(valid)] = first.to_numpy()
    issues.flag(dup, column, reason, full_first)


def items_frame(raw: pd.DataFrame, m: ColumnMapping, file: str) -> tuple[pd.DataFrame, Issues]:
    """Validated item columns (rows with issues removed) and the issues found."""
    _require(raw, {"item": m.item, "title": m.title}, file)
    issues = Issues(raw)
    ids = _text(raw[m.item]).str.strip()
    issues.flag(ids == "", m.item, "empty item id")
    out = pd.DataFrame({"item_id": ids, ROW: raw[ROW]})
    for name in ("title", "brand", "description"):
        col = getattr(m, name)
        values = _text(_column(raw, col, issues))
        values = values.map(html.unescape) if m.html_unescape else values
        out[name] = _screen(issues, values, col, "descriptions and prompts leave it out")
        _check_text(issues, out[name], col)
    cats = _column(raw, m.categories, issues)
    out["categories"] = cats.map(lambda v: parse_categories(v, m.categories_sep, m.html_unescape))
    prices, bad_price = _each(_column(raw, m.price, issues), parse_price)
    out["price"] = pd.Series(prices, index=out.index, dtype=object)
    why = "not a price: {value!r}; the item was kept without a price"
    issues.flag(bad_price, m.price or "price", why, raw.get(m.price), skip=False)
    attrs, bad_attrs = _each(_column(raw, m.attributes, issues), parse_attributes)
    why = "not a JSON object: {value!r}"
    issues.flag(bad_attrs, m.attributes or "attributes", why, raw.get(m.attributes))
    attrs = [a if a is not None else {} for a in attrs]
    for col in m.extra:
        if col in raw:
            for attr, value in zip(attrs, _text(raw[col]), strict=True):
                if value:
                    attr[col] = value
    out["attributes"] = attrs
    key = _join(out, ["item_id", "title", "brand", "description"])
    key = key + out["categories"].map(repr) + out["price"].map(repr) + out["attributes"].map(repr)
    _duplicates(issues, key, "*", "exact duplicate of row {value}")
    why = "duplicate item id, first given at row {value}; the first one was kept"
    _duplicates(issues, out["item_id"], m.item, why)
    return out[~issues.bad], issues


def events_frame(
    raw: pd.DataFrame, m: ColumnMapping, file: str, known_items: set[str] | None
) -> tuple[pd.DataFrame, Issues]:
    """Validated event columns (rows with issues removed) and the issues found."""
    _require(raw, {"user": m.user, "item": m.item, "timestamp": m.timestamp}, file)
    assert m.user is not None and m.timestamp is not None
    issues = Issues(raw)
    out = pd.DataFrame({ROW: raw[ROW]})
    for name, col in (("user_id", m.user), ("item_id", m.item)):
        out[name] = _text(raw[col]).str.strip()
        issues.flag(out[name] == "", col, f"empty {name.replace('_', ' ')}")
    # the server refuses other ids (bot.chat.assistant), so their data could never be exported
    # or forgotten: refuse them here too
    bad_user = (out["user_id"] != "") & ~out["user_id"].str.fullmatch(USER_ID_RULE.pattern)
    why = f"user id {{value!r}} is not valid: use {USER_ID_HINT}"
    issues.flag(bad_user.to_numpy(dtype=bool), m.user, why, out["user_id"].str.slice(0, 60))
    if known_items is not None:
        unknown = ~out["item_id"].isin(known_items) & (out["item_id"] != "")
        why = "unknown item id {value!r}: not in the catalog (ingest its item first)"
        issues.flag(unknown, m.item, why, out["item_id"])
    stamps = raw[m.timestamp]
    if m.timestamp_unit == "iso":
        when = pd.to_datetime(_text(stamps), utc=True, errors="coerce", format="ISO8601")
        seconds = (when - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    else:
        num = pd.to_numeric(_text(stamps).str.strip(), errors="coerce")
        seconds = num // 1000 if m.timestamp_unit == "ms" else np.floor(num)
    unparsable = seconds.isna().to_numpy()
    why = f"unparsable timestamp {{value!r}} (timestamp_unit={m.timestamp_unit})"
    issues.flag(unparsable, m.timestamp, why, stamps)
    limit = 1e11  # Unix seconds past year 5000 are milliseconds given as seconds
    odd = ~unparsable & ((seconds < 0) | (seconds > limit)).to_numpy()
    why = f"timestamp {{value!r}} is out of range for timestamp_unit={m.timestamp_unit}"
    issues.flag(odd, m.timestamp, why + " (milliseconds? set timestamp_unit=ms)", stamps)
    out["timestamp"] = seconds.fillna(0).clip(0, limit).astype(np.int64).to_numpy()
    raw_rating = _text(_column(raw, m.rating, issues)).str.strip()
    rating = pd.to_numeric(raw_rating, errors="coerce")
    rcol = m.rating or "rating"
    issues.flag(rating.isna() & (raw_rating != ""), rcol, "unparsable rating {value!r}", raw_rating)
    outside = (rating < m.rating_min) | (rating > m.rating_scale)
    why = f"rating {{value}} outside {m.rating_min:g}..{m.rating_scale:g}"
    issues.flag(outside, rcol, why, raw_rating)
    out["rating"] = rating * (5.0 / m.rating_scale)
    text = _text(_column(raw, m.text, issues)).str.strip()
    if m.summary:
        summary = _text(_column(raw, m.summary, issues)).str.strip()
        both = (summary != "") & (text != "")
        text = (summary + np.where(both, "\n", "") + text).astype(str)
    tcol = m.text or "text"
    text = _screen(issues, text, tcol, "it is never quoted to the model")
    out["text"] = text
    _check_text(issues, text, tcol)
    derived = np.where(text != "", "review", "purchase")
    kind = _text(_column(raw, m.kind, issues)).str.strip().str.lower()
    out["kind"] = kind.where(kind != "", derived)
    why = f"unknown kind {{value!r}}; use one of {', '.join(EVENT_KINDS)}"
    issues.flag(~out["kind"].isin(EVENT_KINDS), m.kind or "kind", why, kind)
    out["detail"] = _text(_column(raw, m.detail, issues)).str.strip()
    bad_detail = (out["kind"] == "feedback") & ~out["detail"].isin(FEEDBACK_KINDS)
    why = f"feedback detail {{value!r}} is not one of {', '.join(FEEDBACK_KINDS)}"
    issues.flag(bad_detail, m.detail or "detail", why, out["detail"])
    empty = (text == "") & (out["kind"] == "review") & rating.isna()
    issues.flag(empty, tcol, "empty text: a review needs text or a rating, this one has neither")
    if m.require_text:
        issues.flag(text == "", tcol, "empty text (this mapping requires text)")
    cols = ["user_id", "item_id", "kind", "timestamp", "detail"]
    id_key = _join(out, cols)
    key = id_key + "\x1f" + out["rating"].map(repr) + "\x1f" + out["text"]
    _duplicates(issues, key, "*", "exact duplicate of row {value}")
    why = "same user, item, kind and timestamp as row {value} (one event id); kept the first"
    _duplicates(issues, id_key, ",".join(c for c in (m.user, m.item, m.timestamp) if c), why)
    return out[~issues.bad], issues
