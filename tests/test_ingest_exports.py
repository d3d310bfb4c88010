"""Exports people have: a reviews/events file without an items file, an Amazon 2014 review
dump without its metadata, and folders that also hold a README. Real (temporary) Chroma."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from knowledge.__main__ import main as cli
from knowledge.ingest import ingest_dataset
from knowledge.store import Store

DATA = Path(__file__).parent / "data"

REVIEWS_CSV = """\
user_id,item_id,timestamp,rating,text,title,brand,category
ana,strings-01,1700000000,5,Bright and long-lasting.,Phosphor bronze strings,Wirewell,Music | Strings
ana,tuner-7,1700000100,4,Easy to read.,Clip-on tuner,Tunely,Music | Tuners
ben,strings-01,1700000200,3,Fine.,,Wirewell,Music | Strings
ben,picks-3,1700000300,4,Good grip.,,,
"""


def test_reviews_csv_alone_creates_its_items(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text(REVIEWS_CSV, encoding="utf-8")
    created, reviews = ingest_dataset(tmp_store, path)
    assert created.created_from_events and created.kind == "items"
    assert created.accepted == created.written == 3 and not created.issues
    assert "3 items created" in created.notes[0] and "title, brand, category" in created.notes[0]
    assert reviews.rows_read == reviews.accepted == 4 and reviews.skipped == 0
    strings = tmp_store.get_item("strings-01")
    assert strings.title == "Phosphor bronze strings" and strings.brand == "Wirewell"
    assert strings.categories == ("Music", "Strings")
    # a row without a title of its own: the item's id stands in, and nothing is invented
    picks = tmp_store.get_item("picks-3")
    assert picks.title == "picks-3" and picks.brand == "" and picks.categories == ()
    assert [e.item_id for e in tmp_store.history("ben")] == ["strings-01", "picks-3"]


def test_items_already_in_the_store_are_not_recreated(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text(REVIEWS_CSV, encoding="utf-8")
    ingest_dataset(tmp_store, path)
    more = tmp_path / "more.csv"
    more.write_text(
        "user_id,item_id,timestamp,rating,text\ncai,tuner-7,1700000500,5,Great.\n"
        "cai,capo-2,1700000600,4,Solid.\n",
        encoding="utf-8",
    )
    created, events = ingest_dataset(tmp_store, more)
    assert created.accepted == 1 and events.accepted == 2
    assert tmp_store.get_item("tuner-7").title == "Clip-on tuner"  # kept, not overwritten
    assert "titles are their ids" in created.notes[0]


def test_amazon2014_reviews_without_metadata(tmp_store: Store, tmp_path: Path) -> None:
    reviews = DATA / "amazon2014" / "reviews_Beauty_5.json"
    n_rows = len(reviews.read_text(encoding="utf-8").splitlines())
    created, events = ingest_dataset(tmp_store, reviews)
    assert created.created_from_events and created.format == "amazon2014"
    assert events.rows_read == n_rows and events.accepted == n_rows and events.skipped == 0
    asins = {json.loads(line)["asin"] for line in reviews.read_text(encoding="utf-8").splitlines()}
    assert created.accepted == len(asins) == 2
    assert all(tmp_store.get_item(a).title == a for a in asins)


def test_folder_with_a_readme_skips_it_with_a_note(tmp_store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    shutil.copytree(DATA / "native", folder)
    (folder / "README.md").write_text("# my shop export\n", encoding="utf-8")
    (folder / "LICENSE").write_text("CC0\n", encoding="utf-8")
    reports = ingest_dataset(tmp_store, folder)
    assert [r.kind for r in reports] == ["items", "events"] and not reports[0].created_from_events
    assert f"skipped {folder / 'LICENSE'}: not a data file" in reports[0].notes
    assert f"skipped {folder / 'README.md'}: not a data file" in reports[0].notes
    assert all(r.skipped == 0 for r in reports)


def test_cli_ingests_a_reviews_folder(tmp_path: Path, capsys: object) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "reviews.csv").write_text(REVIEWS_CSV, encoding="utf-8")
    (folder / "README.md").write_text("notes\n", encoding="utf-8")
    code = cli(["ingest", str(folder), "--store", str(tmp_path / "store"), "--embedder", "hashing"])
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert code == 0, out
    assert "3 items created" in out and "README.md: not a data file" in out
    assert "4 rows read, 4 accepted, 0 skipped" in out
