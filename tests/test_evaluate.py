"""The dialog evaluator: file format and loader errors, every check on hand-made replies
(pass and fail), the three report formats, the CLI's exit code, and a deliberately broken
assistant that the dialog suite catches."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from bot.evaluate.checks import CHECKS, PrivateData, TurnContext, owned_and_rejected, run_checks
from bot.evaluate.dialogs import (
    CAPABILITIES,
    DialogFileError,
    Expectations,
    Range,
    load_dialogs,
    load_file,
)
from bot.evaluate.report import (
    DialogResult,
    RunResult,
    TurnResult,
    json_report,
    junit_report,
    markdown_report,
    write_reports,
)
from bot.reply import Recommendation, Reply
from knowledge.schema import Event, Item
from tests.fixtures import app_server as server_fixtures

# A real server on 127.0.0.1 (naming the fixture here makes pytest find it).
app_server = server_fixtures.app_server

# ---- the file format ----------------------------------------------------------------------

VALID = """\
dialogs:
  - id: next-need-1
    capability: next_need
    description: a returning customer asks what is next
    user: alice
    setup:
      events:
        - {item: blades, kind: purchase, days_ago: 40}
        - {item: foam, kind: feedback, detail: not_interested}
    turns:
      - user: What should I get next?
        expect:
          intent: recommend
          n_recommendations: {min: 1, max: 5}
          none_owned: true
          text_contains: [razor]
          max_price: 20
      - user: why the first one?
        expect: {intent: [explain, describe], refers_to_previous: 1, feedback_recorded: true}
  - id: new-user
    capability: cold_start
    user: {new: {preferences: "dry hair, under $20"}}
    turns:
      - user: hello
        expect: {n_recommendations: 0}
"""


def write(tmp_path: Path, text: str, name: str = "d.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_parses_every_part(tmp_path: Path) -> None:
    first, second = load_file(write(tmp_path, VALID))
    assert first.id == "next-need-1" and first.user.id == "alice" and not first.user.new
    assert [e.item for e in first.setup] == ["blades", "foam"]
    assert first.setup[0].days_ago == 40.0 and first.setup[1].detail == "not_interested"
    exp = first.turns[0].expect
    assert exp.intent == ("recommend",) and exp.n_recommendations == Range(1, 5)
    assert exp.text_contains == ("razor",) and exp.max_price == 20.0
    assert exp.names() == [
        "intent",
        "n_recommendations",
        "none_owned",
        "max_price",
        "text_contains",
    ]
    assert first.turns[1].expect.feedback_recorded == "any"
    assert first.turns[1].expect.intent == ("explain", "describe")
    assert first.turns[0].line == 11 and first.source.endswith("d.yaml:2:5")
    assert second.user.new and second.user.preferences == "dry hair, under $20"
    assert second.turns[0].expect.n_recommendations == Range(0, 0)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (VALID.replace("max_price: 20", "max_prize: 20"), 17, "unknown key 'max_prize'"),
        (VALID.replace("intent: recommend", "intent: shopping"), 13, "unknown intent 'shopping'"),
        (VALID.replace("capability: next_need", "capability: magic"), 2, "unknown capability"),
        (VALID.replace("{min: 1, max: 5}", "{min: 5, max: 1}"), 14, "min <= max"),
        (VALID.replace("max_price: 20", "max_price: cheap"), 17, "must be an integer or a number"),
        (VALID.replace("none_owned: true", "none_owned: [1]"), 15, "single value"),
        (VALID.replace("    user: alice\n", ""), 2, "needs `user:`"),
        (VALID.replace("- user: hello", "- usr: hello"), 24, "unknown key 'usr' in turn"),
        (VALID.replace("kind: purchase", "kind: stolen"), 8, "kind must be purchase"),
        (VALID.replace("text_contains: [razor]", "text_contains: [razor"), 17, "not valid YAML"),
        (VALID.replace("id: new-user", "id: New User"), 20, "lower-case"),
        (
            VALID.replace("feedback_recorded: true", "feedback_recorded: liked"),
            19,
            "feedback_recorded",
        ),
        ("dialogs: []\n", 1, "non-empty list"),
        ("version: 2\n", 1, "unknown key 'version'"),
    ],
)
def test_loader_errors_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DialogFileError) as err:
        load_file(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert words in message


def test_empty_file_and_missing_path_and_duplicate_ids(tmp_path: Path) -> None:
    with pytest.raises(DialogFileError, match="empty"):
        load_file(write(tmp_path, ""))
    with pytest.raises(DialogFileError, match="no such file"):
        load_dialogs([tmp_path / "nope"])
    folder = tmp_path / "suite"
    folder.mkdir()
    write(folder, VALID, "a.yaml")
    write(folder, VALID, "b.yaml")
    with pytest.raises(
        DialogFileError, match=r"b\.yaml:2:5: dialog id 'next-need-1' is also used at .*a\.yaml:2:5"
    ):
        load_dialogs([folder])


def test_schema_lists_exactly_the_expectation_keys() -> None:
    root = Path(__file__).resolve().parents[1]
    schema = json.loads((root / "docs" / "dialog.schema.json").read_text())
    assert set(schema["$defs"]["expect"]["properties"]) == set(Expectations.__dataclass_fields__)
    caps = schema["$defs"]["dialog"]["properties"]["capability"]["enum"]
    assert tuple(caps) == CAPABILITIES


# ---- checks on hand-made replies ----------------------------------------------------------

CATALOG = {
    i.item_id: i
    for i in [
        Item("razor", "Steel safety razor", "Keen", ("Shaving", "Razors"), 34.0),
        Item("blades", "Razor blades", "Keen", ("Shaving", "Blades"), 6.5),
        Item("foam", "Shaving foam", "Lather", ("Shaving", "Foam"), 4.0),
        Item("strings", "Guitar strings", "Oakline", ("Music", "Strings"), 9.0),
        Item("nomask", "Hair mask", "Aqua", ("Hair Care", "Treatments"), None),
        Item(
            "red",
            "Lipstick red",
            "Rouge",
            ("Makeup", "Lips"),
            12.0,
            attributes={"variant_of": "lip"},
        ),
        Item(
            "pink",
            "Lipstick pink",
            "Rouge",
            ("Makeup", "Lips"),
            12.0,
            attributes={"variant_of": "lip"},
        ),
    ]
}
ALICE = [
    Event("alice", "razor", "purchase", 1_700_000_000, 0),
    Event(
        "alice",
        "foam",
        "review",
        1_700_000_100,
        1,
        rating=4.0,
        text="Rich lather and kind to my skin every day.",
    ),
    Event("alice", "strings", "feedback", 1_700_000_200, 2, detail="not_interested"),
]
BOB = [
    Event(
        "bob",
        "strings",
        "review",
        1_700_000_000,
        0,
        rating=2.0,
        text="The strings snapped after only two days of play.",
    )
]


def rec(
    item_id: str, rank: int = 1, evidence: list[str] | None = None, refill: bool = False
) -> Recommendation:
    item = CATALOG.get(item_id)
    return Recommendation(
        item_id, item.title if item else item_id, rank, 1.0, "because", evidence or [],
        price=item.price if item else None, brand=item.brand if item else "", replenishment=refill,
    )  # fmt: skip


def ctx(
    reply: Reply,
    previous: list[Reply] | None = None,
    latency: float = 0.1,
    events: list[Event] | None = None,
) -> TurnContext:
    return TurnContext(
        "alice", "msg", reply, CATALOG, ALICE if events is None else events, previous or [],
        latency, PrivateData(ALICE + BOB),
    )  # fmt: skip


def recs(*ids: str, **kw: Any) -> Reply:
    return Reply("Here you go", "recommend", [rec(i, n) for n, i in enumerate(ids, 1)], **kw)


LIST = recs("blades", "strings", "foam")
FACTS = ["Title: Razor blades", "Brand: Keen", "Category: Shaving > Blades", "Price: $6.50"]
FEEDBACK_EVENT = ALICE[2]

# (check name, expectation value, a reply that passes, a reply that fails, earlier replies)
CASES: list[tuple[str, Any, Reply, Reply, list[Reply]]] = [
    ("intent", ("recommend", "refine"), recs("blades"), Reply("?", "unclear"), []),
    ("guardrail", "injection", Reply("no", "off_topic", data={"guardrail": "injection"}), Reply("no", "off_topic", data={"guardrail": "off_topic"}), []),
    ("n_recommendations", Range(2, 3), recs("blades", "foam"), recs("blades"), []),
    ("all_in_catalog", True, recs("blades"), recs("blades", "ghost"), []),
    ("none_owned", True, Reply("x", "recommend", [rec("razor", refill=True), rec("blades", 2)]), recs("blades", "razor"), []),
    ("none_rejected", True, recs("blades"), recs("strings"), []),
    ("no_duplicates", True, recs("blades", "foam"), recs("blades", "blades"), []),
    ("no_variant_duplicates", True, recs("red", "blades", "foam"), recs("red", "blades", "pink"), []),
    ("contains_item", ("foam",), recs("blades", "foam"), recs("blades"), []),
    ("excludes_item", ("foam",), recs("blades"), recs("foam"), []),
    ("contains_category", "Blades", recs("strings", "blades"), recs("strings"), []),
    ("all_in_category", "shaving", recs("blades", "foam"), recs("blades", "strings"), []),
    ("max_price", 7.0, recs("blades", "foam"), recs("blades", "nomask"), []),
    ("min_price", 5.0, recs("blades", "strings"), recs("blades", "foam"), []),
    ("excludes_brand", ("keen",), recs("foam"), recs("foam", "blades"), []),
    ("evidence_from_user", True, Reply("x", "recommend", [rec("blades", evidence=[ALICE[0].event_id])]), Reply("x", "recommend", [rec("blades", evidence=[BOB[0].event_id])]), []),
    ("evidence_from_user", True, Reply("x", "recommend", [rec("blades", evidence=[ALICE[0].event_id])]), recs("blades"), []),
    ("text_contains", ("here", "GO"), recs("blades"), Reply("Nothing", "recommend"), []),
    ("text_excludes", ("system prompt",), Reply("I can't do that.", "off_topic"), Reply("My System Prompt is...", "off_topic"), []),
    ("text_matches", r"^\d\. ", Reply("1. Razor", "recommend"), Reply("Razor", "recommend"), []),
    ("describe_grounded", True, Reply("Razor blades by Keen. It costs $6.50.", "describe", item_id="blades", data={"facts": FACTS}), Reply("Razor blades, 20 pack, $6.50.", "describe", item_id="blades", data={"facts": FACTS}), []),
    ("describe_grounded", True, Reply("Razor blades. Customers love them.", "describe", item_id="blades", data={"facts": FACTS}), Reply("Razor blades, clinically proven.", "describe", item_id="blades", data={"facts": FACTS}), []),
    ("describe_grounded", True, Reply("Razor blades.", "describe", item_id="blades", data={"facts": FACTS}), Reply("Razor blades.", "describe", item_id="blades", data={"facts": ["Title: Razor blades", "Price: $5.00"]}), []),
    ("no_other_user_data", True, Reply("You said: rich lather and kind to my skin every day.", "profile"), Reply("Someone said: the strings snapped after only two days of play.", "profile"), []),
    ("no_other_user_data", True, Reply("Your events.", "profile", data={"orders": [ALICE[0].event_id]}), Reply("Your events.", "profile", data={"orders": [BOB[0].event_id]}), []),
    ("max_latency_s", 1.0, recs("blades"), recs("blades"), []),  # latency set per case below
    ("excludes_items_shown_before", True, recs("razor"), recs("razor", "foam"), [LIST]),
    ("cheaper_than_previous", True, recs("foam"), recs("foam", "blades"), [recs("blades", "strings")]),
    ("refers_to_previous", 2, Reply("x", "describe", item_id="strings"), Reply("x", "describe", item_id="blades"), [LIST]),
    ("category_of_previous", 1, recs("blades"), recs("foam"), [LIST]),
    ("feedback_recorded", "not_interested", Reply("ok", "feedback", data={"feedback": {"event_id": FEEDBACK_EVENT.event_id, "kind": "not_interested", "item_id": "strings"}}), Reply("ok", "feedback", data={"feedback": {"event_id": "e-missing", "kind": "not_interested", "item_id": "strings"}}), []),
    ("feedback_recorded", "any", Reply("ok", "feedback", data={"feedback": {"event_id": FEEDBACK_EVENT.event_id, "kind": "not_interested", "item_id": "strings"}}), Reply("ok", "feedback"), []),
    ("item_id", "blades", Reply("x", "describe", item_id="blades"), Reply("x", "describe", item_id="razor"), []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "good", "bad", "previous"), CASES, ids=[c[0] for c in CASES]
)
def test_each_check_passes_and_fails(
    name: str, value: Any, good: Reply, bad: Reply, previous: list[Reply]
) -> None:
    expect = Expectations(**{name: value})
    slow = 5.0 if name == "max_latency_s" else 0.1
    ok = run_checks(expect, ctx(good, previous))
    ko = run_checks(expect, ctx(bad, previous, latency=slow))
    assert [c.name for c in ok] == [name] and ok[0].passed, ok[0].detail
    assert [c.name for c in ko] == [name] and not ko[0].passed, ko[0].detail
    assert ko[0].detail


def test_every_check_is_covered_by_a_case() -> None:
    assert set(CHECKS) == set(Expectations.__dataclass_fields__) == {c[0] for c in CASES}


def test_refill_owned_after_thumbs_up_and_a_check_that_raises() -> None:
    events = ALICE + [Event("alice", "strings", "feedback", 1_700_000_300, 3, detail="thumbs_up")]
    owned, rejected = owned_and_rejected(events)
    assert owned == {"razor", "foam"} and rejected == set()
    broken = Reply("x", "recommend", [rec("blades")])
    broken.recommendations[0].evidence = None  # type: ignore[assignment]
    [result] = run_checks(Expectations(evidence_from_user=True), ctx(broken))
    assert not result.passed and "raised TypeError" in result.detail


def test_reply_round_trips_through_json() -> None:
    reply = Reply("t", "recommend", [rec("blades", evidence=["e-1"])], need="blades", data={"a": 1})
    again = Reply.from_dict(json.loads(json.dumps({**reply.to_dict(), "extra": 1})))
    assert again == reply


# ---- reports ------------------------------------------------------------------------------


def sample_run() -> RunResult:
    from bot.evaluate.checks import CheckResult

    ok = DialogResult(
        "d-ok",
        "next_need",
        "a.yaml:2:5",
        "alice",
        [TurnResult("hi", "hello", "greeting", checks=[CheckResult("intent", True, "fine")])],
        seconds=0.5,
    )
    bad = DialogResult("d-bad", "constraints", "a.yaml:9:5", "bob", [
        TurnResult("under $5", "1. **Razor** ($34.00)", "recommend", ["razor"], [CheckResult("max_price", False, "over 5.0: [('razor', 34.0)]")]),
    ])  # fmt: skip
    skip = DialogResult(
        "d-skip", "constraints", "b.yaml:2:5", "carol", skipped="needs an in-process run"
    )
    return RunResult([ok, bad, skip], {"target": "in-process", "model": "none"})


def test_markdown_report_has_table_and_failure_transcript() -> None:
    text = markdown_report(sample_run())
    assert "| constraints | 2 | 0 | 1 | 1 |" in text
    assert "| next_need | 1 | 1 | 0 | 0 |" in text
    assert "**FAIL**" in text and "1/3 dialogs passed, 1 failed, 1 skipped; 1/2 assertions" in text
    assert "### d-bad (constraints, user bob, a.yaml:9:5)" in text
    assert "> **user:** under $5" in text and "FAIL `max_price`: over 5.0" in text
    assert "- d-skip: needs an in-process run" in text
    assert "d-ok (" not in text  # passing dialogs get no transcript


def test_junit_report_counts_and_failure_text() -> None:
    root = ET.fromstring(junit_report(sample_run()))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert (
        suites["constraints"].get("tests") == "2" and suites["constraints"].get("failures") == "1"
    )
    assert suites["next_need"].get("failures") == "0"
    failure = root.find(".//testcase[@name='d-bad']/failure")
    assert failure is not None and failure.get("message", "").startswith("turn 1: max_price")
    assert "under $5" in (failure.text or "")
    assert root.find(".//testcase[@name='d-skip']/skipped") is not None
    assert root.find(".//testcase[@name='d-ok']/failure") is None


def test_json_report_and_write_reports(tmp_path: Path) -> None:
    run = sample_run()
    data = json.loads(json_report(run))
    assert data["passed"] is False and data["counts"]["failed"] == 1
    assert data["by_capability"]["constraints"]["skipped"] == 1
    bad = next(d for d in data["dialogs"] if d["id"] == "d-bad")
    assert bad["passed"] is False and bad["turns"][0]["checks"][0]["name"] == "max_price"
    paths = write_reports(run, tmp_path / "r.md", tmp_path / "x" / "r.xml", tmp_path / "r.json")
    assert [p.name for p in paths] == ["r.md", "r.xml", "r.json"] and all(
        p.stat().st_size for p in paths
    )
    assert not RunResult([run.dialogs[2]]).passed  # nothing ran: not a pass


# ---- the CLI, on the small hand-made store --------------------------------------------------

SMALL_DIALOGS = """\
dialogs:
  - id: carol-next
    capability: next_need
    user: carol
    setup:
      events: [{item: foam, kind: purchase, days_ago: 1}]
    turns:
      - user: What should I buy next?
        expect: {intent: recommend, all_in_catalog: true, none_owned: true, excludes_item: foam}
  - id: carol-cheap
    capability: constraints
    user: carol
    turns:
      - user: something under $10 please
        expect: {max_price: 10, n_recommendations: {min: 1}}
"""


def test_cli_exit_codes_and_reports(small_store: Any, tmp_path: Path) -> None:
    from bot.evaluate.__main__ import main

    store_dir = small_store.config.path
    small_store.close()  # the CLI copies the folder; nothing else may hold it open
    good = write(tmp_path, SMALL_DIALOGS, "good.yaml")
    common = ["--store", store_dir, "--embedder", "hashing", "--no-progress"]
    report = tmp_path / "out" / "report.md"
    assert (
        main([str(good), *common, "--report", str(report), "--json", str(tmp_path / "r.json")]) == 0
    )
    assert "| constraints | 1 | 1 | 0 | 0 |" in report.read_text()
    bad = write(tmp_path, SMALL_DIALOGS.replace("max_price: 10", "max_price: 1"), "bad.yaml")
    junit = tmp_path / "r.xml"
    assert main([str(bad), *common, "--junit", str(junit)]) == 1
    failure = ET.parse(junit).getroot().find(".//testcase[@name='carol-cheap']/failure")
    assert failure is not None and "max_price" in failure.get("message", "")
    broken = write(
        tmp_path, SMALL_DIALOGS.replace("capability: constraints", "capability: nope"), "x.yaml"
    )
    assert main([str(broken), *common]) == 2
    # setup events went into a copy: the original store still has carol's two events only
    from knowledge.store import Store, StoreConfig

    with Store(StoreConfig(path=store_dir, embedder="hashing")) as again:
        assert len(again.history("carol")) == 2


def test_http_target_runs_dialogs_against_a_real_server(app_server: Any, tmp_path: Path) -> None:
    from bot.evaluate.runner import DialogRunner, HttpTarget, RunConfig

    store = app_server.assistant.store
    dialogs = load_file(write(tmp_path, SMALL_DIALOGS))
    target = HttpTarget(app_server.url)
    try:
        catalog = {i.item_id: i for i in store.all_items()}
        runner = DialogRunner(
            target, catalog, PrivateData(store.iter_events()), RunConfig(progress=False)
        )
        run = runner.run(dialogs)
        bad = runner.run(
            load_file(
                write(tmp_path, SMALL_DIALOGS.replace("max_price: 10", "max_price: 1"), "b.yaml")
            )
        )
    finally:
        target.close()
    by_id = {d.id: d for d in run.dialogs}
    assert by_id["carol-next"].skipped.startswith("setup with reviews or days_ago")
    cheap = by_id["carol-cheap"]
    assert cheap.passed and cheap.turns[0].recommendations and cheap.turns[0].intent == "recommend"
    assert run.passed and run.meta["target"] == f"http {app_server.url}"
    assert not bad.passed and "max_price" in bad.dialogs[1].failures()[0]
