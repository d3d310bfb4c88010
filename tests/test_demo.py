"""The demo shop generator: deterministic, big enough, and internally consistent."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from knowledge.demo import DemoConfig, generate_demo, write_demo


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_two_runs_write_identical_bytes(tmp_path: Path) -> None:
    a = write_demo(tmp_path / "a")
    b = write_demo(tmp_path / "b")
    for name in ("items", "events", "users", "truth"):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes()
    assert (
        write_demo(tmp_path / "c", DemoConfig(seed=8)).events.read_bytes() != a.events.read_bytes()
    )


def test_sizes_and_categories() -> None:
    data = generate_demo()
    assert len(data.items) >= 300
    assert len({i["categories"][0] for i in data.items}) >= 8
    assert len(data.users) >= 500
    per_user = Counter(e["user_id"] for e in data.events if e["kind"] == "purchase")
    assert min(per_user.values()) >= 3
    assert len({i["item_id"] for i in data.items}) == len(data.items)


def test_events_refer_to_catalog_and_ratings_fit() -> None:
    data = generate_demo()
    ids = {i["item_id"] for i in data.items}
    assert all(e["item_id"] in ids for e in data.events)
    reviews = [e for e in data.events if e["kind"] == "review"]
    assert reviews and all(1 <= e["rating"] <= 5 and e["text"] for e in reviews)
    low = [e for e in reviews if e["rating"] <= 2]
    assert low, "some reviews are negative"


def test_new_items_have_no_events() -> None:
    data = generate_demo()
    new = {i["item_id"] for i in data.items if i["attributes"]["new"]}
    assert len(new) == 12
    assert not new & {e["item_id"] for e in data.events}


def test_needs_structure_consumables_and_complements() -> None:
    data = generate_demo()
    by_id = {i["item_id"]: i for i in data.items}
    assert any(i["attributes"]["replenish_days"] for i in data.items)
    razor = next(i for i in data.items if i["attributes"]["type"] == "razor")
    assert any(
        by_id[c]["attributes"]["type"] == "blades" for c in razor["attributes"]["complements"]
    )
    assert any(i["attributes"]["variant_of"] for i in data.items)


def test_held_out_item_is_true_next_need() -> None:
    data = generate_demo()
    owned: dict[str, set[str]] = {}
    for e in data.events:
        owned.setdefault(e["user_id"], set()).add(e["item_id"])
    assert len(data.truth) == len(data.users)
    reasons = Counter(t["reason"] for t in data.truth)
    assert set(reasons) == {"replenishment", "complement", "persona"}
    kind = {i["item_id"]: i["attributes"]["type"] for i in data.items}
    for t in data.truth:
        assert t["held_out_item"] in t["acceptable_items"]
        mine = owned[t["user_id"]]
        if t["reason"] != "replenishment":
            assert t["held_out_item"] not in mine
        else:  # a refill: the same product, or the same kind of product from another brand
            assert kind[t["held_out_item"]] in {kind[i] for i in mine}


def test_files_are_json_lines_in_native_format(tmp_path: Path) -> None:
    paths = write_demo(tmp_path)
    items = _read(paths.items)
    events = _read(paths.events)
    assert set(items[0]) >= {
        "item_id",
        "title",
        "brand",
        "categories",
        "price",
        "description",
        "attributes",
    }
    assert set(events[0]) >= {"user_id", "item_id", "kind", "timestamp", "rating", "text"}
    assert "synthetic" in (tmp_path / "README.md").read_text(encoding="utf-8").lower()
