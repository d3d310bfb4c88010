"""Each dataset adapter maps the real column names of its tiny fixture onto Items and Events."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.formats import ColumnMapping, classify_files, detect_format, get_adapter
from knowledge.ingest import load_events, load_items

DATA = Path(__file__).parent / "data"


def _load(fmt: str, folder: str):
    adapter = get_adapter(fmt)
    item_files, event_files = classify_files(adapter, sorted((DATA / folder).iterdir()))
    items, item_report = load_items(item_files[0], fmt)
    known = {i.item_id for i in items}
    events, event_report = load_events(event_files[0], fmt, known_items=known)
    return {i.item_id: i for i in items}, events, item_report, event_report


@pytest.mark.parametrize(
    ("folder", "fmt"),
    [
        ("native", "native"),
        ("amazon2014", "amazon2014"),
        ("amazon2018", "amazon2018"),
        ("amazon2023", "amazon2023"),
        ("movielens100k", "movielens100k"),
        ("movielens1m", "movielens1m"),
        ("benchmark", "benchmark-csv"),
    ],
)
def test_format_is_detected_from_the_files(folder: str, fmt: str) -> None:
    assert detect_format(sorted((DATA / folder).iterdir())) == fmt


def test_native_lists_strings_and_attributes() -> None:
    items, events, _, report = _load("native", "native")
    assert items["razor"].categories == ("Shaving", "Razors")
    assert items["blades"].categories == ("Shaving", "Blades")  # " | "-joined string
    assert items["foam"].price is None and items["foam"].attributes == {"size_ml": 200}
    assert items["brush"].price == 22.0
    assert [e.kind for e in events] == [
        "purchase",
        "purchase",
        "purchase",
        "review",
        "review",
        "feedback",
    ]
    assert events[4].rating == 2.0 and events[4].text == ""  # rating-only review is fine
    assert events[5].detail == "not_interested"
    assert report.ok


def test_amazon2014_python_literal_meta_and_reviews() -> None:
    items, events, _, _ = _load("amazon2014", "amazon2014")
    serum = items["0205616461"]
    assert serum.title == "Bio-Active Anti-Aging Serum & Lotion"  # HTML unescaped
    # list of lists flattened, order kept, duplicates ('Beauty') once
    assert serum.categories == ("Beauty", "Skin Care", "Face", "Creams & Moisturizers", "Makeup")
    assert serum.price == 15.99
    first, bare, third = events
    assert (first.kind, first.rating, first.timestamp) == ("review", 4.0, 1391040000)
    assert first.text == "Nice serum\nVery oily and creamy."  # summary is the first line
    assert (bare.kind, bare.rating, bare.text) == ("purchase", 5.0, "")
    assert third.text == "Soft bristles."


def test_amazon2018_gzip_price_strings_and_description_lists() -> None:
    items, events, item_report, _ = _load("amazon2018", "amazon2018")
    assert items["B00004U9V2"].price == 12.99
    assert items["B00004U9V2"].brand == "Moroccan & Co"
    assert items["B00004U9V2"].description == "Gentle shampoo.\nFor all hair."
    assert items["B00004U9V2"].categories == ("Beauty", "Hair Care", "Shampoo")
    assert items["B00004U9V2"].attributes == {"main_cat": "All Beauty"}
    assert items["B0000530HU"].price == 1299.0  # thousands separator
    assert items["B00006L9LC"].price == 5.99  # a range gives its lower bound
    assert items["B0000CC64W"].price is None  # CSS junk is not a price: kept, reported
    [issue] = item_report.issues
    assert (issue.row, issue.column, issue.skipped) == (4, "price", False)
    assert item_report.skipped == 0
    assert events[1].kind == "review" and events[1].text == "Broke"  # summary only


def test_amazon2023_millisecond_timestamps_and_parent_asin() -> None:
    items, events, _, _ = _load("amazon2023", "amazon2023")
    assert items["B01CUPMQZE"].brand == "Howard Products"  # store -> brand
    assert items["B076WQZGPM"].price == 8.97 and items["B01CUPMQZE"].price is None
    assert events[0].timestamp == 1588687728  # 1588687728923 ms
    assert events[0].item_id == "B076WQZGPM"  # parent_asin, not asin
    assert events[0].text.startswith("Such a lovely scent")
    assert events[1].kind == "purchase" and events[1].rating == 4.0


def test_movielens100k_latin1_and_genre_flags() -> None:
    items, events, _, _ = _load("movielens100k", "movielens100k")
    assert items["1116"].title == "Cité des enfants perdus, La (1995)"
    assert items["1"].categories == ("Animation", "Children's", "Comedy")
    assert items["1"].attributes["release_date"] == "01-Jan-1995"
    assert [(e.user_id, e.item_id, e.rating, e.timestamp) for e in events][0] == (
        "196",
        "1",
        3.0,
        881250949,
    )


def test_movielens1m_double_colon_and_latin1() -> None:
    items, events, _, _ = _load("movielens1m", "movielens1m")
    assert items["1116"].title == "Cité des enfants perdus, La (1995)"
    assert items["1116"].categories == ("Adventure", "Sci-Fi")
    assert [e.rating for e in events] == [5.0, 3.0, 4.0]


def test_benchmark_csv_unescapes_titles_and_keeps_leading_zeros() -> None:
    items, events, _, _ = _load("benchmark-csv", "benchmark")
    assert items["B00BZ1QN2C"].title.startswith("Freeman Facial Charcoal & Black Sugar")
    assert "0000031852" in items  # ids stay strings
    assert items["B004756YJA"].categories == ("Makeup", "Nails", "Nail Polish")
    assert events[0].rating is None and events[3].rating == 4.0
    assert {e.kind for e in events} == {"purchase"}


def test_rating_scale_is_normalised_to_five(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("uid,iid,when,stars\nu1,i1,2024-01-02T03:04:05Z,8\n")
    mapping = ColumnMapping(user="uid", item="iid", timestamp="when", rating="stars")
    mapping = mapping.with_pairs(["timestamp_unit=iso", "rating_scale=10"])
    [event], report = load_events(path, "csv", mapping)
    assert event.rating == 4.0 and event.timestamp == 1704164645
    assert report.ok


def test_parquet_gzip_and_bom_read_the_same(tmp_path: Path) -> None:
    import gzip

    import pandas as pd

    rows = [
        {"user_id": "u1", "item_id": "i1", "timestamp": 1700000000, "text": "Good"},
        {"user_id": "u2", "item_id": "i2", "timestamp": 1700000001, "text": ""},
    ]
    pd.DataFrame(rows).to_parquet(tmp_path / "events.parquet")
    csv = "user_id,item_id,timestamp,text\nu1,i1,1700000000,Good\nu2,i2,1700000001,\n"
    (tmp_path / "events.csv.gz").write_bytes(gzip.compress(csv.encode()))
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + csv.encode())
    loaded = [
        load_events(tmp_path / name, "csv")[0]
        for name in ("events.parquet", "events.csv.gz", "bom.csv")
    ]
    assert loaded[0] == loaded[1] == loaded[2]
    assert [(e.user_id, e.kind, e.timestamp) for e in loaded[0]] == [
        ("u1", "review", 1700000000),
        ("u2", "purchase", 1700000001),
    ]
