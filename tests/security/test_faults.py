"""Faults: a killed ingest, a damaged vector index, a Chroma server that goes away, a missing
or corrupt model. Each ends in a clear error and a recovery path, and no acknowledged data is
lost."""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.chat.assistant import Assistant, AssistantConfig
from bot.serve import ServerConfig
from knowledge.embed import HashingEmbedder
from knowledge.errors import ModelNotFoundError, StoreUnavailableError
from knowledge.schema import Event
from knowledge.store import Store, StoreConfig
from tests.fixtures.app_server import fill_store, start_server
from tests.fixtures.stores import SMALL_EVENTS, SMALL_ITEMS

REPO = Path(__file__).resolve().parents[2]
KILL_RUNS = 3


def write_dataset(path: Path, n_items: int = 60, n_events: int = 600) -> list[Event]:
    """A native dataset; returns the events its rows stand for (the source of truth)."""
    path.mkdir()
    rng = random.Random(11)
    with open(path / "items.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "title", "brand", "categories", "price", "description"])
        for i in range(n_items):
            w.writerow([f"i{i}", f"Item {i}", "Brand", "Home|Kitchen", i + 1, f"Thing {i}."])
    events = []
    with open(path / "events.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "item_id", "timestamp", "rating", "text"])
        for k in range(n_events):
            user, item = f"u{rng.randrange(80)}", f"i{rng.randrange(n_items)}"
            ts = 1_700_000_000 + k * 60
            text = f"review {k}" if k % 3 == 0 else ""
            rating = float(rng.randint(1, 5)) if text else None
            w.writerow([user, item, ts, "" if rating is None else int(rating), text])
            kind = "review" if text else "purchase"
            events.append(Event(user, item, kind, ts, rating=rating, text=text))
    return events


def run_worker(store: Path, dataset: Path, kill_after_acks: int | None, delay: float) -> set[str]:
    """Run the ingest worker; SIGKILL it after ``kill_after_acks`` acknowledged batches (plus
    ``delay`` seconds), or let it finish. Returns the acknowledged event ids."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.security.ingest_worker", str(store), str(dataset)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )
    acked: set[str] = set()
    acks = 0
    deadline = time.monotonic() + 120
    try:
        assert proc.stdout is not None
        if kill_after_acks == -1:  # during start-up and validation, before any write
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        for line in proc.stdout:
            if line.startswith("ACK "):
                acked |= set(line.split()[1:])
                acks += 1
                if kill_after_acks is not None and acks >= kill_after_acks:
                    time.sleep(delay)
                    proc.send_signal(signal.SIGKILL)
                    break
            assert time.monotonic() < deadline, "ingest worker ran too long"
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if kill_after_acks is None:
        assert proc.returncode == 0
    return acked


def stored_ids(store: Path) -> set[str]:
    """The stored event ids, read by a fresh process (see ingest_worker's docstring)."""
    if not store.exists():
        return set()
    proc = subprocess.run(
        [sys.executable, "-m", "tests.security.ingest_worker", str(store), "--list"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(proc.stdout.split())


def test_killed_ingest_loses_no_acknowledged_event_and_duplicates_none(tmp_path: Path) -> None:
    source = write_dataset(tmp_path / "data")
    store_path = tmp_path / "store"
    rng = random.Random(2024)
    n_batches = -(-len(source) // 40)
    all_acked: set[str] = set()
    kills = [-1] + [rng.randrange(1, n_batches) for _ in range(KILL_RUNS - 1)]
    for kill_after in kills:
        acked = run_worker(store_path, tmp_path / "data", kill_after, rng.uniform(0.0, 0.3))
        all_acked |= acked
        stored = stored_ids(store_path)
        missing = all_acked - stored
        assert not missing, f"{len(missing)} acknowledged events lost after a SIGKILL"
    run_worker(store_path, tmp_path / "data", None, 0.0)  # the re-run
    with Store(StoreConfig(path=str(store_path), embedder="hashing"), HashingEmbedder(256)) as s:
        events = list(s.iter_events())
        ids = [e.event_id for e in events]
        assert len(ids) == len(set(ids))
        assert set(ids) == {e.event_id for e in source}  # all of the file, nothing else
        assert Counter(i for i, _n in s.popularity() for _ in range(_n)) == Counter(
            e.item_id for e in source
        )
        by_id = {e.event_id: e for e in events}
        for e in source:
            got = by_id[e.event_id]
            assert (got.user_id, got.item_id, got.kind, got.text) == (
                e.user_id,
                e.item_id,
                e.kind,
                e.text,
            )
        assert s.search_user_events(source[0].user_id, "review") is not None


def _segment_files(path: Path) -> list[Path]:
    return [p for p in path.rglob("*.bin") if p.is_file()]


@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_rebuild_restores_a_damaged_vector_index(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "store"
    config = StoreConfig(path=str(path), embedder="hashing")
    many = [
        Event(
            f"v{k % 50}", SMALL_ITEMS[k % 9].item_id, "review", 1_700_000_000 + k, k, 4.0, f"w{k}"
        )
        for k in range(1200)
    ]  # enough records that Chroma writes its HNSW segment files
    with Store(config, HashingEmbedder(256)) as store:
        store.upsert_items(SMALL_ITEMS)
        store.add_events(SMALL_EVENTS + many)
        before = {
            "stats": store.stats(),
            "hits": [it.item_id for it, _ in store.search_items("guitar strings", 3)],
            "carol": store.export_user("carol"),
        }
    files = [f for f in _segment_files(path) if f.stat().st_size > 0]
    assert files, "no HNSW segment files were written"
    rng = random.Random(5)
    for f in files:
        if damage == "deleted":
            shutil.rmtree(f.parent, ignore_errors=True)
        else:
            data = bytearray(f.read_bytes())
            for _ in range(max(1, len(data) // 50)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            f.write_bytes(bytes(data))
    # rebuild runs in a fresh process, as `python -m knowledge rebuild` does after damage
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "knowledge", "rebuild", "--store", str(path), "--embedder", "hashing"],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    with Store(config, HashingEmbedder(256)) as store:
        assert store.stats() == before["stats"]
        assert [it.item_id for it, _ in store.search_items("guitar strings", 3)] == before["hits"]
        assert store.export_user("carol") == before["carol"]
        assert store.search_user_events("v1", "w1")[0][0].text.startswith("w")
        reply = Assistant(store).chat("carol", "What should I get next?")
        assert reply.recommendations


def test_chroma_server_down_mid_conversation_then_back(chroma_server: Any, tmp_path: Path) -> None:
    config = StoreConfig(host="127.0.0.1", port=chroma_server.port, embedder="hashing")
    store = Store(config, HashingEmbedder(256))
    fill_store(store, tmp_path)
    assistant = Assistant(store, AssistantConfig())
    running = start_server(assistant, ServerConfig(trust_user_header=True, busy_wait_s=0.5))
    who = {"X-User-Id": "carol"}
    url = running.url + "/api/recommend"
    try:
        first = httpx.post(
            url, json={"message": "What should I get next?"}, headers=who, timeout=60
        )
        assert first.status_code == 200
        chroma_server.stop()
        down = httpx.post(url, json={"message": "another option"}, headers=who, timeout=120)
        assert down.status_code == 503, down.text
        assert down.json()["error"]["type"] == "unavailable" and down.headers["Retry-After"]
        with pytest.raises(StoreUnavailableError):
            assistant.chat("carol", "What should I get next?")
        stream = httpx.post(
            running.url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "what next?"}], "stream": True},
            headers=who,
            timeout=120,
        )
        assert stream.status_code == 503 or '"unavailable"' in stream.text
        assert httpx.get(running.url + "/health").status_code == 200  # the server stays up
        chroma_server.start()
        back = httpx.post(url, json={"message": "What should I get next?"}, headers=who, timeout=60)
        assert back.status_code == 200 and back.json()["recommendations"]
    finally:
        running.stop()
        store.close()


def test_missing_or_corrupt_model_fails_at_start_up(tiny_model_dir: Path, tmp_path: Path) -> None:
    from bot.llm.model import ModelConfig

    store_cfg = StoreConfig(path=str(tmp_path / "store"), embedder="hashing")
    corrupt = tmp_path / "corrupt-model"
    shutil.copytree(tiny_model_dir, corrupt)
    for weights in corrupt.glob("*.safetensors"):
        weights.write_bytes(os.urandom(1024))
    no_adapter_config = tmp_path / "adapter-empty"
    no_adapter_config.mkdir()
    bad_adapter = tmp_path / "adapter-bad"
    bad_adapter.mkdir()
    (bad_adapter / "adapter_config.json").write_text("{not json")
    (bad_adapter / "adapter_model.safetensors").write_bytes(os.urandom(256))
    cases = [
        ModelConfig(model=str(tmp_path / "no-such-model"), quantization="fp32"),
        ModelConfig(model=str(tmp_path), quantization="fp32"),  # a directory, not a model
        ModelConfig(model=str(corrupt), quantization="fp32"),
        ModelConfig(model=str(tiny_model_dir), quantization="fp32", adapter=str(tmp_path / "nope")),
        ModelConfig(model=str(tiny_model_dir), quantization="fp32", adapter=str(no_adapter_config)),
        ModelConfig(model=str(tiny_model_dir), quantization="fp32", adapter=str(bad_adapter)),
    ]
    for model in cases:
        with pytest.raises(ModelNotFoundError) as err:
            Assistant.from_config(AssistantConfig(store=store_cfg, model=model))
        assert (
            "Fix" in str(err.value) or "does not exist" in str(err.value) or "no " in str(err.value)
        ), str(err.value)
        # the store lock taken for the failed start is released: a retry can open it
        Store(store_cfg, HashingEmbedder(256)).close()
