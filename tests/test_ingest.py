"""Ingest into a real (temporary) Chroma store: idempotence, row order, and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.__main__ import main as cli
from knowledge.errors import IngestError
from knowledge.ingest import ingest_dataset, ingest_events, ingest_items
from knowledge.store import Store

DATA = Path(__file__).parent / "data"
HEADER = "user_id,item_id,kind,timestamp,rating,text,detail\n"
GOOD = "alice,razor,purchase,1700000000,,,\n"
INJECTION = "=cmd|' /C calc'!A0"


@pytest.fixture()
def catalog(tmp_store: Store) -> Store:
    ingest_items(tmp_store, DATA / "native" / "items.jsonl")
    return tmp_store


def test_dataset_ingest_is_idempotent(tmp_store: Store) -> None:
    first = ingest_dataset(tmp_store, DATA / "amazon2014")
    before = tmp_store.stats()
    again = ingest_dataset(tmp_store, DATA / "amazon2014")
    assert before["items"] == 2 and before["events"] == 3
    assert tmp_store.stats() == before
    assert [r.written for r in first] == [r.written for r in again] == [2, 3]


def test_same_timestamp_ties_keep_file_order(catalog: Store) -> None:
    ingest_events(catalog, DATA / "native" / "events.jsonl")
    history = catalog.history("alice")
    # three purchases share one timestamp; the file order is the true sequence
    assert [e.item_id for e in history] == ["razor", "foam", "blades", "foam"]
    assert [e.order for e in history] == [1, 2, 3, 4]


# case -> (file name, content, expected IngestError text or (row, column, reason), events kept)
BAD_INPUTS = {
    "missing column": ("e.csv", "user_id,item_id\nalice,razor\n", "missing required column(s) 'timestamp'", 0),
    "unparsable timestamp": ("e.csv", HEADER + "alice,razor,purchase,yesterday,,,\n" + GOOD.replace("razor", "foam"), (1, "timestamp", "unparsable timestamp 'yesterday' (timestamp_unit=s)"), 1),
    "milliseconds as seconds": ("e.csv", HEADER + "alice,razor,purchase,1700000000000,,,\n", (1, "timestamp", "out of range for timestamp_unit=s (milliseconds? set timestamp_unit=ms)"), 0),
    "rating out of range": ("e.csv", HEADER + GOOD + "bob,foam,review,1700000000,7,Nice,\n", (2, "rating", "rating 7 outside 0..5"), 1),
    "unknown item id": ("e.csv", HEADER + GOOD + "bob,ghost,purchase,1700000000,,,\n", (2, "item_id", "unknown item id 'ghost': not in the catalog (ingest its item first)"), 1),
    "exact duplicate row": ("e.csv", HEADER + GOOD + GOOD, (2, "*", "exact duplicate of row 1"), 1),
    "same event id": ("e.csv", HEADER + GOOD + "alice,razor,purchase,1700000000,4,,\n", (2, "user_id,item_id,timestamp", "same user, item, kind and timestamp as row 1"), 1),
    "empty id": ("e.csv", HEADER + GOOD + ",foam,purchase,1700000000,,,\n", (2, "user_id", "empty user id"), 1),
    "empty text review": ("e.csv", HEADER + GOOD + "bob,foam,review,1700000000,,,\n", (2, "text", "empty text: a review needs text or a rating, this one has neither"), 1),
    "oversized text": ("e.csv", HEADER + GOOD + "bob,foam,review,1700000000,5," + "x" * 20_001 + ",\n", (2, "text", "text has 20001 characters, over the limit of 20000 (MAX_TEXT_CHARS)"), 1),
    "bad feedback detail": ("e.csv", HEADER + GOOD + "bob,foam,feedback,1700000000,,,meh\n", (2, "detail", "feedback detail 'meh' is not one of"), 1),
    "bad encoding": ("e.csv", (HEADER + GOOD).encode() + b"bob,foam,review,1700000000,5,caf\xe9,\n", "not valid utf-8 at byte 117 (line 3", 0),
    "empty file": ("e.csv", "", "is empty: nothing to ingest", 0),
    "wrong file type": ("e.xlsx", HEADER + GOOD, "unsupported file type '.xlsx'", 0),
    "not JSON": ("e.jsonl", HEADER + GOOD, "line 1 is not valid JSON", 0),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_table(catalog: Store, tmp_path: Path, case: str) -> None:
    name, content, expected, kept = BAD_INPUTS[case]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    if isinstance(expected, str):
        with pytest.raises(IngestError) as err:
            ingest_events(catalog, path, "csv")
        assert expected in str(err.value) and str(path) in str(err.value)
    else:
        report = ingest_events(catalog, path, "csv")
        row, column, reason = expected
        [issue] = report.issues
        assert (issue.file, issue.row, issue.column) == (str(path), row, column)
        assert reason in issue.reason
        assert report.skipped == 1 and report.accepted == kept
    assert catalog.stats()["events"] == kept  # only the valid rows were written


def test_csv_injection_text_is_stored_verbatim(catalog: Store, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(HEADER + f'bob,foam,review,1700000000,5,"{INJECTION}",\n')
    report = ingest_events(catalog, path, "csv")
    assert report.ok
    [event] = catalog.history("bob")
    assert event.text == INJECTION and event.kind == "review"


def test_duplicate_item_id_keeps_the_first(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("item_id,title\na,First\na,Second\n")
    report = ingest_items(tmp_store, path, "csv")
    [issue] = report.issues
    assert (issue.row, issue.column) == (2, "item_id")
    assert tmp_store.get_item("a").title == "First"


def test_strict_mode_writes_nothing(tmp_store: Store) -> None:
    bad = DATA / "amazon2018"  # one unparsable price
    with pytest.raises(IngestError, match="strict mode: 1 row issue"):
        ingest_dataset(tmp_store, bad, strict=True)
    assert tmp_store.stats()["items"] == 0 and tmp_store.stats()["events"] == 0


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--store", str(tmp_path / "s"), "--embedder", "hashing"]
    report = tmp_path / "report.json"
    assert cli(["ingest", str(DATA / "native"), *store, "--report", str(report)]) == 0
    assert [r["written"] for r in json.loads(report.read_text())["reports"]] == [4, 6]
    assert cli(["ingest", str(DATA / "amazon2018"), *store]) == 1  # an issue was reported
    assert cli(["ingest", str(tmp_path / "missing.csv"), *store]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli(["rebuild", *store]) == 0
    assert cli(["stats", *store]) == 0
    assert '"items": 8' in capsys.readouterr().out


@pytest.mark.data
def test_beauty_slice(data_dir: Path, tmp_store: Store, tmp_path: Path) -> None:
    source = data_dir / "amazon-beauty"
    lines = (source / "interactions.csv").read_text().splitlines()[:2001]
    (tmp_path / "interactions.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "items.csv").write_bytes((source / "items.csv").read_bytes())
    items, events = ingest_dataset(tmp_store, tmp_path)
    assert (items.written, events.written, events.skipped) == (12101, 2000, 0)
    first_user = lines[1].split(",")[0]
    n = sum(1 for line in lines[1:] if line.startswith(first_user + ","))
    assert [e.item_id for e in tmp_store.history(first_user)] == [
        line.split(",")[1] for line in lines[1 : n + 1]
    ]


def test_cli_demo_writes_and_ingests(tmp_path: Path) -> None:
    pytest.importorskip("knowledge.demo", reason="knowledge.demo has not landed yet")
    store = ["--store", str(tmp_path / "s"), "--embedder", "hashing"]
    assert cli(["demo", "--out", str(tmp_path / "demo"), "--seed", "1", "--ingest", *store]) == 0
    assert cli(["stats", *store]) == 0
