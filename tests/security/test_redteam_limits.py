"""Issue 21, findings 7 and 8 against the real server: one key cannot starve the others, keys and
passwords cannot be guessed at speed, and ingest stores only customer ids the server serves.

Before the fix one key with 16 loops made another customer get 503 on 7 of 11 requests, 500
wrong passwords took 1.8 s with no lockout, and ingest stored ``jane doe`` and
``u/../../etc`` whose data ``/api/export`` and ``/api/forget`` then refused.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from knowledge.errors import IngestError
from knowledge.ingest import ingest_events, load_items
from tests.security.redteam import ALICE, BOB, login, shop_assistant, shop_mode, shop_server


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    built = shop_assistant(tmp_path_factory.mktemp("redteam-limits"))
    yield built
    built.store.close()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_one_key_cannot_starve_another(assistant: Any) -> None:
    """Bob's 16 loops against alice's 11 turns, one assistant slot and a short wait (turns
    without a model take milliseconds; the red team's took seconds with the model)."""
    with shop_server(assistant, **shop_mode(max_concurrency=1, busy_wait_s=0.5)) as running:
        stop = threading.Event()
        hog: Counter[int] = Counter()

        def loop() -> None:
            with httpx.Client(timeout=60) as c:
                while not stop.is_set():
                    r = c.post(f"{running.url}/api/recommend", json={}, headers=_bearer(BOB))
                    hog[r.status_code] += 1

        threads = [threading.Thread(target=loop) for _ in range(16)]
        for t in threads:
            t.start()
        try:
            victim = Counter(
                httpx.post(f"{running.url}/api/recommend", json={}, headers=_bearer(ALICE),
                           timeout=60).status_code
                for _ in range(11)
            )  # fmt: skip
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
    assert victim == Counter({200: 11}), (victim, hog)
    assert hog[429] > 0 and hog[200] > 0, hog  # the hog is slowed down, not shut out


def test_rate_limit_per_key(assistant: Any) -> None:
    with shop_server(assistant, **shop_mode(rate_per_s=1, rate_burst=5)) as running:
        codes = [httpx.get(f"{running.url}/api/profile", headers=_bearer(ALICE)) for _ in range(12)]
        limited = [r for r in codes if r.status_code == 429]
        assert len(limited) >= 5 and all(int(r.headers["retry-after"]) >= 1 for r in limited)
        assert limited[0].json()["error"]["type"] == "rate_limited"
        other = httpx.get(f"{running.url}/api/profile", headers=_bearer(BOB))
        assert other.status_code == 200


def test_wrong_passwords_lock_the_address_out(assistant: Any) -> None:
    with shop_server(assistant, **shop_mode()) as running:
        codes = [login(running, "alice", f"guess-{n}").status_code for n in range(14)]
        assert codes[:10] == [400] * 10 and set(codes[10:]) == {429}, codes
        assert login(running).status_code == 429  # even the right one, until the window ends


def test_wrong_api_keys_lock_the_address_out(assistant: Any) -> None:
    with shop_server(assistant, **shop_mode()) as running:
        url = f"{running.url}/api/profile"
        codes = [httpx.get(url, headers=_bearer(f"guess-{n:016d}")).status_code for n in range(14)]
        assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}, codes
        assert httpx.get(url, headers=_bearer(ALICE)).status_code == 429


# ---- 8. one customer-id rule for ingest and server ----------------------------------------------


def test_ingest_refuses_ids_the_server_would_refuse(assistant: Any, tmp_path: Path) -> None:
    bad = ["jane doe", "<script>alert(1)</script>", "u/../../etc", "x" * 300]
    good = "jane.doe@example.com"
    rows = [{"user_id": u, "item_id": "razor", "timestamp": 1_700_900_000 + n}
            for n, u in enumerate([*bad, good])]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report = ingest_events(assistant.store, path)
    assert report.accepted == 1 and report.skipped == 4
    refused = {i.row for i in report.issues if i.column == "user_id" and i.skipped}
    assert refused == {1, 2, 3, 4}
    assert all("not valid" in i.reason for i in report.issues if i.row in refused)
    stored = set(assistant.store.users())
    assert good in stored and not stored & set(bad)
    assistant.refresh()
    # every id ingest stores, the server can export and forget
    with shop_server(assistant, trust_user_header=True) as running:
        who = {"X-User-Id": good}
        exported = httpx.get(f"{running.url}/api/export", headers=who)
        assert exported.status_code == 200 and exported.json()["events"]
        forgot = httpx.post(f"{running.url}/api/forget", json={"confirm": True}, headers=who)
        assert forgot.status_code == 200 and forgot.json()["deleted"] == 1


def test_deeply_nested_jsonl_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"item_id": "a", "title": "ok"}\n{"item_id": "b", "title": %s}\n'
                    % ("[" * 100_000 + "]" * 100_000))  # fmt: skip
    with pytest.raises(IngestError, match="line 2 is nested too deeply"):
        load_items(path)
    path.write_text('{"item_id": "a", "title": %s}\n' % ("[" * 900 + '"Mug"' + "]" * 900))
    items, _ = load_items(path)
    assert [i.title for i in items] == ["Mug"]
