"""The demo shop generator: deterministic, big enough, internally consistent, and ingestible."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from knowledge.demo import DemoConfig, DemoData, DemoPaths, demo_items, generate_demo, write_demo
from knowledge.demo_catalog import PERSONAS

DAY = 86_400
REFERENCE = dt.date(2025, 6, 30)  # pinned: the exact bytes depend on the reference date
REFERENCE_TS = 1_751_241_600  # 2025-06-30 00:00 UTC
# each history ends by the reference date; the simulated stories span at most ~18 months
WINDOW = (REFERENCE_TS - 560 * DAY, REFERENCE_TS)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> DemoPaths:
    return write_demo(tmp_path_factory.mktemp("demo"), DemoConfig(reference=REFERENCE))


@pytest.fixture(scope="module")
def data(paths: DemoPaths) -> DemoData:
    """The default shop as read back from its files (the files are the contract)."""
    return DemoData(
        items=_read(paths.items),
        events=_read(paths.events),
        users=_read(paths.users),
        truth=_read(paths.truth),
    )


def _items(data: DemoData) -> dict[str, dict[str, Any]]:
    return {i["item_id"]: i for i in data.items}


def test_two_runs_write_identical_bytes(tmp_path: Path, paths: DemoPaths) -> None:
    again = write_demo(tmp_path / "again", DemoConfig(reference=REFERENCE))
    for name in ("items", "events", "users", "truth", "readme"):
        assert getattr(again, name).read_bytes() == getattr(paths, name).read_bytes(), name
    other = write_demo(tmp_path / "other", DemoConfig(seed=8, reference=REFERENCE))
    assert other.events.read_bytes() != paths.events.read_bytes()


def test_in_memory_data_equals_the_files(data: DemoData) -> None:
    fresh = generate_demo(DemoConfig(reference=REFERENCE))
    assert fresh.items == data.items and fresh.events == data.events
    assert fresh.personas == data.users and fresh.truth == data.truth


def test_sizes_categories_brands_and_prices(data: DemoData) -> None:
    assert len(data.items) >= 300
    assert len({i["item_id"] for i in data.items}) == len(data.items)
    brands: dict[str, set[str]] = defaultdict(set)
    for item in data.items:
        assert len(item["categories"]) == 2 and all(item["categories"])
        assert item["title"] and item["description"] and item["price"] > 0
        brands[item["categories"][0]].add(item["brand"])
    assert len(brands) >= 8
    assert all(len(b) >= 3 for b in brands.values()), brands
    prices = [i["price"] for i in data.items]
    assert sum(p < 20 for p in prices) >= 50 and sum(p >= 100 for p in prices) >= 10
    assert len(data.users) == 600 and len({u["user_id"] for u in data.users}) == 600


def test_variants_group_near_duplicates(data: DemoData) -> None:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in data.items:
        if item["attributes"]["variant_of"]:
            groups[item["attributes"]["variant_of"]].append(item)
    assert len(groups) >= 5
    for members in groups.values():
        assert len(members) >= 2
        assert len({(m["brand"], tuple(m["categories"]), m["price"]) for m in members}) == 1
        assert len({m["attributes"]["shade"] for m in members}) == len(members)


def test_consumables_and_complements(data: DemoData) -> None:
    items = _items(data)
    for item in data.items:
        attrs = item["attributes"]
        assert attrs["consumable"] == (attrs["replenish_days"] is not None)
        assert all(c in items for c in attrs["complements"])

    def complement_types(kind: str) -> set[str]:
        item = next(i for i in data.items if i["attributes"]["type"] == kind)
        return {items[c]["attributes"]["type"] for c in item["attributes"]["complements"]}

    assert complement_types("razor") >= {"blades"}
    assert complement_types("guitar") >= {"strings", "picks", "tuner"}
    assert complement_types("espresso") >= {"beans", "descaler"}
    assert complement_types("shampoo") >= {"conditioner"}
    periods = {i["attributes"]["type"]: i["attributes"]["replenish_days"] for i in data.items}
    assert periods["blades"] == 30 and periods["beans"] == 21 and periods["diapers"] == 10
    assert periods["guitar"] is None


def test_events_are_valid_grouped_and_in_sequence(data: DemoData) -> None:
    items = _items(data)
    seen_users: list[str] = []
    last: dict[str, int] = {}
    bought: set[tuple[str, str]] = set()
    for e in data.events:
        assert e["item_id"] in items
        assert WINDOW[0] <= e["timestamp"] <= WINDOW[1]
        if not seen_users or seen_users[-1] != e["user_id"]:
            assert e["user_id"] not in seen_users, "a user's rows must be contiguous"
            seen_users.append(e["user_id"])
        assert e["timestamp"] >= last.get(e["user_id"], 0)
        last[e["user_id"]] = e["timestamp"]
        if e["kind"] == "purchase":
            assert e["rating"] is None and e["text"] == ""
            bought.add((e["user_id"], e["item_id"]))
        else:
            assert e["kind"] == "review"
            assert 1 <= e["rating"] <= 5 and e["text"]
            assert (e["user_id"], e["item_id"]) in bought, "a review follows its purchase"
    purchases = Counter(e["user_id"] for e in data.events if e["kind"] == "purchase")
    assert set(purchases) == {u["user_id"] for u in data.users}
    assert min(purchases.values()) >= 3 and max(purchases.values()) <= 25
    same_day = Counter(
        (e["user_id"], e["timestamp"]) for e in data.events if e["kind"] == "purchase"
    )
    assert max(same_day.values()) >= 2, "some purchases come as same-day bundles"


def test_reviews_fit_and_mention_only_real_attributes(data: DemoData) -> None:
    items = _items(data)
    reviews = [e for e in data.events if e["kind"] == "review"]
    n_purchases = sum(e["kind"] == "purchase" for e in data.events)
    assert 0.3 <= len(reviews) / n_purchases <= 0.5
    ratings = Counter(e["rating"] for e in reviews)
    assert ratings[5.0] and ratings[3.0] and ratings[1.0] + ratings[2.0] >= 50
    assert len({e["text"] for e in reviews}) >= 0.7 * len(reviews), "varied, not a few templates"
    for e in reviews:
        item = items[e["item_id"]]
        for price in re.findall(r"\$(\d+\.\d\d)", e["text"]):
            assert float(price) == item["price"], e
        for sentence in e["text"].split(". "):
            if shade := re.match(r"The (.+) shade ", sentence):
                assert shade[1] == item["attributes"]["shade"], e
            if size := re.match(r"The (.+) lasted me", sentence):
                assert f"Size: {size[1]}." in item["description"], e


def test_new_items_have_no_events_and_only_content(data: DemoData) -> None:
    new = {i["item_id"] for i in data.items if i["attributes"]["new"]}
    assert len(new) == 12
    assert not new & {e["item_id"] for e in data.events}
    assert not new & {t["held_out_item"] for t in data.truth}
    assert not new & {c for i in data.items for c in i["attributes"]["complements"]}
    assert all("New in our shop." in i["description"] for i in data.items if i["item_id"] in new)


def test_held_out_item_is_the_true_next_need(data: DemoData) -> None:
    items = _items(data)
    kind = {i: item["attributes"]["type"] for i, item in items.items()}
    personas = {p.key: p for p in PERSONAS}
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in data.events:
        if e["kind"] == "purchase":
            history[e["user_id"]].append(e)
    users = {u["user_id"]: u for u in data.users}
    assert [t["user_id"] for t in data.truth] == list(users)
    reasons = Counter(t["reason"] for t in data.truth)
    assert set(reasons) == {"replenishment", "complement", "persona"}
    assert min(reasons.values()) >= 30, reasons
    for t in data.truth:
        held = t["held_out_item"]
        assert held in t["acceptable_items"] and t["need"]
        assert all(kind[a] == kind[held] for a in t["acceptable_items"])
        mine = history[t["user_id"]]
        assert t["timestamp"] >= mine[-1]["timestamp"]
        owned_types = {kind[e["item_id"]] for e in mine}
        if t["reason"] == "replenishment":  # the refill is due by the catalog's own period
            last = max(e["timestamp"] for e in mine if kind[e["item_id"]] == kind[held])
            period = items[held]["attributes"]["replenish_days"]
            assert period and t["timestamp"] - last >= 0.8 * period * DAY
            continue
        assert held not in {e["item_id"] for e in mine}
        assert kind[held] not in owned_types
        if t["reason"] == "complement":
            assert any(held in items[e["item_id"]]["attributes"]["complements"] for e in mine)
        else:
            keys = users[t["user_id"]]["persona"].split("+")
            assert any(kind[held] in personas[k].types for k in keys)


def test_cold_start_users_have_a_need_but_no_events() -> None:
    small = generate_demo(DemoConfig(n_users=20, n_new_items=0, n_new_users=3))
    cold = {u["user_id"] for u in small.users} - {e["user_id"] for e in small.events}
    assert len(cold) == 3 and len(small.users) == 23
    assert {t["user_id"] for t in small.truth if t["reason"] == "persona"} >= cold
    assert not any(i["attributes"]["new"] for i in small.items)


def test_files_parse_and_pass_the_real_ingest_checks(paths: DemoPaths, data: DemoData) -> None:
    from knowledge.ingest import load_events, load_items

    items, item_report = load_items(paths.items)
    events, event_report = load_events(paths.events, known_items={i.item_id for i in items})
    assert item_report.skipped == 0 and len(items) == len(data.items)
    assert event_report.skipped == 0 and len(events) == len(data.events)
    assert [i.item_id for i in demo_items()] == [i.item_id for i in items]
    readme = paths.readme.read_text(encoding="utf-8").lower()
    assert "synthetic" in readme and "seed 7" in readme


@pytest.mark.parametrize(
    ("field", "value"),
    [("n_users", 0), ("n_new_items", -1), ("n_new_users", -2), ("seed", "7"), ("review_rate", 1.5)],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"DemoConfig.{field}"):
        DemoConfig(**{field: value})


def test_timeline_is_relative_to_the_reference_date(data: DemoData) -> None:
    """Every customer's next need is due on the reference date and their history ends before it;
    another reference date moves the timeline and nothing else; the default is today."""
    assert {t["timestamp"] for t in data.truth} == {REFERENCE_TS}
    last: dict[str, int] = {}
    for e in data.events:
        last[e["user_id"]] = max(last.get(e["user_id"], 0), e["timestamp"])
    gaps = sorted((REFERENCE_TS - ts) / DAY for ts in last.values())
    # "recent" is recent: half of the customers bought something in the last three weeks
    assert gaps[0] >= 0 and gaps[len(gaps) // 2] <= 21, gaps[len(gaps) // 2]
    later = generate_demo(DemoConfig(reference=REFERENCE + dt.timedelta(days=10)))
    assert later.items == data.items and later.users == data.users
    assert [(e["user_id"], e["item_id"], e["kind"]) for e in later.events] == [
        (e["user_id"], e["item_id"], e["kind"]) for e in data.events
    ]
    assert all(
        b["timestamp"] - a["timestamp"] == 10 * DAY
        for a, b in zip(data.events, later.events, strict=True)
    )
    today = dt.datetime.now(dt.UTC).date()
    assert DemoConfig().reference_date in (today, today + dt.timedelta(days=1))


def test_reference_must_be_a_date() -> None:
    with pytest.raises(ValueError, match="DemoConfig.reference"):
        DemoConfig(reference="2025-06-30")  # type: ignore[arg-type]
