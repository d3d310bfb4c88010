"""Bad input: odd messages over HTTP, and malformed or hostile ingest files.

tests/test_server.py already covers empty/long/NUL messages and wrong JSON types per endpoint;
this file adds what it does not: emoji and mixed scripts getting a real answer, non-UTF-8 and
non-JSON bodies, bad history entries, and hostile ingest files, each leaving the store exactly
as it was (stats and exports compared before and after).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.chat.assistant import Assistant, AssistantConfig
from bot.serve import ServerConfig
from knowledge.embed import HashingEmbedder
from knowledge.errors import IngestError, InputError
from knowledge.ingest import ingest_dataset, ingest_events, ingest_items
from knowledge.schema import MAX_TEXT_CHARS
from knowledge.store import Store, StoreConfig
from tests.fixtures.app_server import RunningServer, fill_store, start_server

REPO = Path(__file__).resolve().parents[2]
WHO = {"X-User-Id": "carol"}
CSV_INJECTION = "=cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    work = tmp_path_factory.mktemp("bad-input")
    store = Store(StoreConfig(path=str(work / "store"), embedder="hashing"), HashingEmbedder(256))
    fill_store(store, work)
    running = start_server(
        Assistant(store, AssistantConfig()), ServerConfig(trust_user_header=True)
    )
    yield running
    running.stop()
    store.close()


def snapshot(store: Store) -> tuple[Any, ...]:
    """Everything observable about the store's contents."""
    stats = store.stats()
    stats.pop("location")
    exports = tuple(sorted(str(store.export_user(u)) for u in store.users()))
    items = sorted(repr(it) for it in store.all_items())
    return stats, exports, items, tuple(store.popularity())


# -- chat messages --------------------------------------------------------------------------

REAL_ANSWERS = [
    "🧴 shampoo for dry hair please 🙏",
    "shampoo для сухих волос, под $20",  # Latin + Cyrillic
    "推荐 shampoo 谢谢",  # CJK around a category word
    "razor blades ‮ reversed text ‭ and a zero​width space",
    "👍🏽 something under $10 😊",
    "sh\u0430mpoo",  # Cyrillic 'а' inside a Latin word: still an answer, never an error
]


@pytest.mark.parametrize("text", REAL_ANSWERS)
def test_emoji_and_mixed_scripts_get_a_real_answer(server: RunningServer, text: str) -> None:
    for path, body in (
        ("/api/recommend", {"message": text}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": text}]}),
    ):
        resp = httpx.post(server.url + path, json=body, headers=WHO, timeout=60)
        assert resp.status_code == 200, resp.text
        reply = resp.json() if path.startswith("/api") else resp.json()["nextneed"]
        assert reply["text"].strip()
        assert reply["intent"] in ("recommend", "refine", "feedback", "unclear")
    if "shampoo" in text or "under $10" in text:
        rec = httpx.post(server.url + "/api/recommend", json={"message": text}, headers=WHO).json()
        assert rec["recommendations"], rec["text"]


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("/api/recommend", b"\xff\xfe\x00binary\x80\x81", "application/json"),
    ("/api/recommend", b'{"message": "caf\xe9"}', "application/json"),  # Latin-1, not UTF-8
    ("/api/recommend", b"message=hello", "application/x-www-form-urlencoded"),
    ("/api/recommend", b"null", "application/json"),
    ("/api/recommend", b'{"message": "ok", "history": [{"role": "user"}]}', "application/json"),
    ("/api/recommend", b'{"message": "ok", "history": [{"content": "hi"}]}', "application/json"),
    ("/api/recommend", b'{"message": "ok", "history": [["user", "hi"]]}', "application/json"),
    (
        "/api/recommend",
        b'{"message": "ok", "history": [{"role": "user", "content": 5}]}',
        "application/json",
    ),
    ("/api/recommend", b'{"message": {"text": "hi"}}', "application/json"),
    ("/api/recommend", b'{"message": "ok"' + b" " * 10 + b"}}", "application/json"),
    ("/api/feedback", b'{"item_id": null, "kind": "bought"}', "application/json"),
    ("/api/feedback", b'{"item_id": "razor", "kind": ["bought"]}', "application/json"),
    ("/api/describe", b'{"item": {"$ne": null}}', "application/json"),
    ("/api/describe", b'{"item": "razor\\u0000"}', "application/json"),
    ("/api/review-reply", b'{"review": "ok", "rating": NaN}', "application/json"),
    ("/api/review-reply", b'{"review": "ok", "rating": 1e999}', "application/json"),
    ("/api/review-reply", b'{"review": "ok", "item_id": 12}', "application/json"),
    ("/api/forget", b'{"confirm": 1}', "application/json"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user"}]}', "application/json"),
    (
        "/v1/chat/completions",
        b'{"messages": [{"role": "user", "content": [{"type": "text", "text": 7}]}]}',
        "application/json",
    ),
    (
        "/v1/chat/completions",
        b'{"messages": [{"role": "user", "content": "\\u001b[2J"}]}',
        "application/json",
    ),
]


@pytest.mark.parametrize(
    ("path", "raw", "ctype"),
    BAD_BODIES,
    ids=[f"{p}-{i}" for i, (p, _r, _c) in enumerate(BAD_BODIES)],
)
def test_bad_bodies_are_clear_4xx(server: RunningServer, path: str, raw: bytes, ctype: str) -> None:
    before = snapshot(server.assistant.store)
    resp = httpx.post(server.url + path, content=raw, headers={**WHO, "Content-Type": ctype})
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    error = resp.json()["error"]
    assert error["type"] == "invalid_request" and len(error["message"]) > 5
    assert "Traceback" not in resp.text
    assert httpx.get(server.url + "/health").status_code == 200
    assert snapshot(server.assistant.store) == before


def test_python_api_refuses_odd_messages(server: RunningServer) -> None:
    assistant = server.assistant
    for bad in ("", " \t\n ", "x" * 100_000, "a\x00b", b"bytes", None, 42, ["list"]):
        with pytest.raises(InputError):
            assistant.chat("carol", bad)  # type: ignore[arg-type]
    for user in ("", "a b", "x" * 200, "../../etc/passwd", "carol\n", None):
        with pytest.raises(InputError):
            assistant.chat(user, "hello")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        assistant.chat("carol", "hi", history="not a list")  # type: ignore[arg-type]
    # control characters other than NUL are blanked, not an error
    assert assistant.chat("carol", "what should I get\x07 next?").recommendations


# -- hostile ingest files -----------------------------------------------------------------------

ITEMS_HEADER = "item_id,title,brand,categories,price,description\n"


def _write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


HOSTILE_FILES: dict[str, tuple[str, str | bytes]] = {
    "wrong-columns": ("items.csv", "sku,name\nA1,Thing\n"),
    "no-header": ("items.csv", ""),
    "binary": ("items.csv", os.urandom(4096)),
    "utf16": ("items.csv", (ITEMS_HEADER + "x1,Title,B,C,1,d\n").encode("utf-16")),
    "not-json": ("items.jsonl", "{not json at all\n"),
    "json-array": ("items.jsonl", '[{"item_id": "x1", "title": "T"}]\n'),
    "fake-gzip": ("items.csv.gz", b"\x1f\x8b\x08not really gzip"),
    "events-wrong-columns": ("events.csv", "who,what\nu1,razor\n"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FILES))
def test_hostile_files_raise_ingest_error_and_change_nothing(
    small_store: Store, tmp_path: Path, case: str
) -> None:
    name, data = HOSTILE_FILES[case]
    path = _write(tmp_path / name, data)
    before = snapshot(small_store)
    ingest = ingest_events if name.startswith("events") else ingest_items
    with pytest.raises(IngestError) as err:
        ingest(small_store, path)
    assert str(path.name) in str(err.value) or "column" in str(err.value)
    assert snapshot(small_store) == before


def test_bad_rows_are_reported_and_skipped(small_store: Store, tmp_path: Path) -> None:
    huge = "y" * (MAX_TEXT_CHARS + 1)
    rows = [
        "n1,New lamp,Glow,Home,12.5,A lamp.",  # fine
        f'n2,Big description,Glow,Home,3,"{huge}"',  # huge field
        "n1,Duplicate id,Glow,Home,1,Second n1.",  # duplicate id
        "n3,Negative price,Glow,Home,-4,Bad price.",  # kept without a price
        ",No id,Glow,Home,1,Empty id.",
        "n5,Tit\x00le,Glow,Home,1,A NUL byte in the title.",
        f'n4,{CSV_INJECTION},Glow,Home,1,"=HYPERLINK(""http://127.0.0.1/x"")"',
    ]
    path = _write(tmp_path / "items.csv", ITEMS_HEADER + "\n".join(rows) + "\n")
    report = ingest_items(small_store, path)
    reasons = " ".join(str(i) for i in report.issues)
    assert "over the limit" in reasons and "duplicate item id" in reasons
    assert "empty item id" in reasons and "not a price" in reasons and "NUL" in reasons
    assert small_store.has_item("n1") and not small_store.has_item("n2")
    assert not small_store.has_item("n5")
    assert small_store.get_item("n1").title == "New lamp"  # the first of the duplicates
    assert small_store.get_item("n3").price is None
    # formula-like text is data: stored and returned verbatim, never evaluated or rewritten
    assert small_store.get_item("n4").title == CSV_INJECTION
    assert small_store.get_item("n4").description.startswith("=HYPERLINK(")
    before = snapshot(small_store)
    events = "user_id,item_id,timestamp,rating,text\n" + "\n".join(
        [
            "u9,n1,1700000000,5,fine",
            f"u9,n1,1700000000,5,{CSV_INJECTION}",  # same event id as the row above
            "u9,ghost,1700000000,5,unknown item",
            "u9,n1,not-a-time,5,bad time",
            "u9,n1,1700000100,11,rating out of range",
            f'u9,n4,1700000200,4,"{huge}"',
        ]
    )
    report = ingest_events(small_store, _write(tmp_path / "events.csv", events + "\n"))
    assert report.accepted == 1 and report.skipped == 5 and len(report.issues) == 5
    assert [e.text for e in small_store.history("u9")] == ["fine"]
    assert snapshot(small_store) != before  # exactly one event was added
    strict_before = snapshot(small_store)
    with pytest.raises(IngestError, match="strict mode"):
        ingest_dataset(small_store, [tmp_path / "items.csv"], format="native", strict=True)
    assert snapshot(small_store) == strict_before


def test_cli_reports_a_hostile_file_without_a_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.csv", os.urandom(2048))
    gz = _write(tmp_path / "events.csv.gz", gzip.compress(b"who,what\n"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    store = tmp_path / "store"
    for target in (path, gz):
        proc = subprocess.run(
            [sys.executable, "-m", "knowledge", "ingest", str(target), "--store", str(store),
             "--embedder", "hashing", "--format", "native"],
            capture_output=True, text=True, timeout=120, env=env, cwd=REPO,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
