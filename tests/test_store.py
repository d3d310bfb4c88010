"""The Chroma store: embedded and against a real `chroma run` server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.embed import HashingEmbedder
from knowledge.errors import ConfigError, StoreError, StoreUnavailableError, UnknownItemError
from knowledge.schema import Event, Item
from knowledge.store import ItemFilter, Store, StoreConfig
from tests.fixtures.stores import SMALL_EVENTS, SMALL_ITEMS


def test_history_is_in_sequence_order_with_ties_kept(small_store: Store) -> None:
    hist = small_store.history("bob")
    assert [e.item_id for e in hist] == ["guitar", "strings", "tuner"]
    assert hist[2].text == "The clip broke in a week." and hist[2].rating == 2.0


def test_reingest_changes_nothing(small_store: Store) -> None:
    before = small_store.stats()
    small_store.upsert_items(SMALL_ITEMS)
    small_store.add_events(SMALL_EVENTS)
    assert small_store.stats() == before
    assert dict(small_store.popularity())["razor"] == 2


def test_user_search_never_returns_other_users(small_store: Store) -> None:
    hits = small_store.search_user_events("dave", "clip broke guitar tuner", k=10)
    assert hits and all(e.user_id == "dave" for e, _ in hits)
    assert small_store.search_user_events("carol", "anything", k=10) == []  # carol has no reviews


def test_item_search_honours_filters_exactly(small_store: Store) -> None:
    hits = small_store.search_items("hair", k=5, where=ItemFilter(max_price=10.0))
    assert hits and all(i.price is not None and i.price <= 10.0 for i, _ in hits)
    cats = small_store.search_items("anything", k=9, where=ItemFilter(categories=("Music",)))
    assert {i.item_id for i, _ in cats} == {"guitar", "strings", "tuner"}
    nobrand = small_store.search_items("razor", k=9, where=ItemFilter(exclude_brands=("keen",)))
    assert all(i.brand != "Keen" for i, _ in nobrand)


def test_new_item_reachable_by_content(small_store: Store) -> None:
    hits = small_store.search_items("overnight hair mask argan", k=1)
    assert hits[0][0].item_id == "newmask"
    assert "newmask" not in dict(small_store.popularity())


def test_unknown_item_and_events_for_missing_items(small_store: Store) -> None:
    with pytest.raises(UnknownItemError, match="nope"):
        small_store.get_item("nope")
    before = small_store.stats()
    with pytest.raises(StoreError, match="not in the catalog"):
        small_store.add_events([Event("zed", "nope", "purchase", 1, 0)])
    assert small_store.stats() == before


def test_forget_and_export(small_store: Store) -> None:
    exported = small_store.export_user("bob")
    assert [e["item_id"] for e in exported["events"]] == ["guitar", "strings", "tuner"]
    assert small_store.delete_user("bob") == 3
    assert small_store.history("bob") == []
    assert small_store.search_user_events("bob", "clip broke", k=5) == []
    assert "bob" not in small_store.users()
    assert dict(small_store.popularity()).get("guitar", 0) == 0


def test_rebuild_restores_vectors(small_store: Store) -> None:
    before = small_store.stats()
    assert small_store.rebuild() == {"items": 9, "events": 11}
    assert small_store.stats() == before
    assert small_store.search_user_events("dave", "dry hair", k=1)[0][0].item_id == "shampoo"


def test_reopen_persists(tmp_path: Path) -> None:
    cfg = StoreConfig(path=str(tmp_path / "s"), embedder="hashing")
    with Store(cfg, HashingEmbedder()) as s:
        s.upsert_items(SMALL_ITEMS)
        s.add_events(SMALL_EVENTS)
    with Store(cfg, HashingEmbedder()) as s:
        assert s.stats()["events"] == len(SMALL_EVENTS)
        assert s.get_item("tuner").price == 12.0


def test_second_process_is_refused_with_a_clear_message(small_store: Store) -> None:
    code = (
        "from knowledge.store import Store, StoreConfig\n"
        f"Store(StoreConfig(path={small_store.config.path!r}, embedder='hashing'))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "open in another process" in proc.stderr


def test_embedder_mismatch_is_refused(small_store: Store) -> None:
    path = small_store.config.path
    small_store.close()
    with pytest.raises(StoreError, match="embedded with"):
        Store(StoreConfig(path=path, embedder="hashing-64"))


@pytest.mark.parametrize(
    "kwargs, field",
    [({"port": 0}, "port"), ({"batch_size": 9000}, "batch_size"), ({"prefix": "a b"}, "prefix")],
)
def test_config_validation_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        StoreConfig(**kwargs)


def test_http_client_against_real_chroma_server(chroma_server) -> None:  # type: ignore[no-untyped-def]
    cfg = StoreConfig(host="127.0.0.1", port=chroma_server.port, embedder="hashing")
    store = Store(cfg, HashingEmbedder())
    store.upsert_items(SMALL_ITEMS)
    store.add_events(SMALL_EVENTS)
    assert [e.item_id for e in store.history("carol")] == ["razor", "blades"]
    assert store.search_items("guitar strings", k=1)[0][0].item_id == "strings"
    chroma_server.stop()
    with pytest.raises(StoreUnavailableError):
        store.history("carol")
    chroma_server.start()
    assert [e.item_id for e in Store(cfg, HashingEmbedder()).history("carol")] == [
        "razor",
        "blades",
    ]


def test_items_roundtrip_all_fields(tmp_store: Store) -> None:
    item = Item("x", "T", "B", ("A", "B"), None, "desc", {"consumable": True, "replenish_days": 30})
    tmp_store.upsert_items([item])
    assert tmp_store.get_item("x") == item


# -- layout 2: text-less events in per-user records, reviews in the vector index -----------------


def test_textless_events_stay_out_of_the_vector_index(small_store: Store) -> None:
    reviews = [e for e in SMALL_EVENTS if e.kind == "review"]
    assert small_store._reviews_col.count() == len(reviews)
    assert small_store._users_col.count() == len({e.user_id for e in SMALL_EVENTS})
    assert sorted(small_store.users()) == ["alice", "bob", "carol", "dave", "erin"]


def test_purchases_are_searchable_by_their_items_vector(small_store: Store) -> None:
    hits = small_store.search_user_events("bob", "guitar strings", k=3, kinds=("purchase",))
    assert [e.item_id for e, _ in hits][0] == "strings"
    assert {e.kind for e, _ in hits} == {"purchase"}


def test_an_event_that_loses_its_text_moves_out_of_the_index(small_store: Store) -> None:
    first = Event("gail", "tuner", "feedback", 1_700_700_000, 1, detail="owned", text="I have one")
    small_store.add_events([first])
    assert small_store._reviews_col.count() == 4
    again = Event("gail", "tuner", "feedback", 1_700_700_000, 1, detail="owned")  # same event id
    small_store.add_events([again])
    assert small_store.history("gail") == [again]
    assert small_store._reviews_col.count() == 3


def test_a_record_naming_a_review_never_written_is_harmless(small_store: Store) -> None:
    # What a process killed between writing bob's record and his review leaves behind.
    rec = small_store._user_records(["bob"])["bob"]
    rec.review_ids.add("e-never-written")
    small_store._put_or_drop(rec)
    assert [e.item_id for e in small_store.history("bob")] == ["guitar", "strings", "tuner"]
    assert small_store.delete_user("bob") == 3
    assert small_store.history("bob") == [] and "bob" not in small_store.users()


def test_forget_reaches_a_review_its_record_lost(small_store: Store) -> None:
    rec = small_store._user_records(["dave"])["dave"]
    rec.review_ids.clear()  # the review is stored, but the user's record no longer lists it
    small_store._put_or_drop(rec)
    small_store.delete_user("dave")
    assert all(e.user_id != "dave" for e in small_store.iter_events())


def test_user_ids_that_hash_alike_in_spirit_stay_apart(tmp_store: Store) -> None:
    tmp_store.upsert_items(SMALL_ITEMS)
    tmp_store.add_events(
        [Event("Ann", "razor", "purchase", 1), Event("ann", "foam", "purchase", 2)]
    )
    assert [e.item_id for e in tmp_store.history("Ann")] == ["razor"]
    assert [e.item_id for e in tmp_store.history("ann")] == ["foam"]


def _write_layout1(path: Path) -> None:
    """A store as the layout-1 code wrote it: items, and every event in ``nextneed_events``."""
    import chromadb
    from chromadb.config import Settings

    from knowledge.embed import ChromaEmbeddingFunction
    from knowledge.records import event_metadata, item_metadata

    emb = HashingEmbedder()
    ef = ChromaEmbeddingFunction(emb, embedder_name="hashing")
    client = chromadb.PersistentClient(
        path=str(path), settings=Settings(anonymized_telemetry=False)
    )
    meta = {"hnsw:space": "cosine", "embedder": emb.name}
    items = client.get_or_create_collection("nextneed_items", embedding_function=ef, metadata=meta)
    texts = [it.embedding_text() for it in SMALL_ITEMS]
    items.upsert(
        ids=[it.item_id for it in SMALL_ITEMS],
        embeddings=emb.embed(texts),
        documents=texts,
        metadatas=[item_metadata(it) for it in SMALL_ITEMS],
    )
    events = client.get_or_create_collection(
        "nextneed_events", embedding_function=ef, metadata=meta
    )
    events.upsert(
        ids=[e.event_id for e in SMALL_EVENTS],
        embeddings=emb.embed([e.text or e.item_id for e in SMALL_EVENTS]),
        documents=[e.text for e in SMALL_EVENTS],
        metadatas=[event_metadata(e) for e in SMALL_EVENTS],
    )


def test_old_layout_is_refused_then_migrated_by_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "old"
    code = f"from tests.test_store import _write_layout1 as w; from pathlib import Path; w(Path({str(path)!r}))"
    # a fresh process, as Chroma caches an opened path per process
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    cfg = StoreConfig(path=str(path), embedder="hashing")
    with Store(cfg, HashingEmbedder()) as s:
        assert s.get_item("tuner").price == 12.0  # the catalog is unchanged and readable
        with pytest.raises(StoreError, match="python -m knowledge rebuild --store"):
            s.history("bob")
        with pytest.raises(StoreError, match="older layout"):
            s.add_events([Event("bob", "foam", "purchase", 1_800_000_000)])
    proc = subprocess.run(
        [sys.executable, "-m", "knowledge", "rebuild", "--store", str(path), "--embedder", "hashing"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    with Store(cfg, HashingEmbedder()) as s:
        assert [e.item_id for e in s.history("bob")] == ["guitar", "strings", "tuner"]
        assert s.history("bob")[2].text == "The clip broke in a week."
        assert s.stats()["events"] == len(SMALL_EVENTS)
        assert s.search_user_events("dave", "dry hair", k=1)[0][0].item_id == "shampoo"
        assert s._legacy_col is None
