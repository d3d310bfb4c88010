"""The parse task's training grammar: deterministic, grounded targets, wording kept apart from
the conversation benchmark and the held-out parser set."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.recsys.catalog import CatalogIndex
from bot.tasks.parse import ground
from finetune.dataset import DatasetConfig, build_examples
from finetune.requests import GENERIC_KINDS, parse_examples
from knowledge.schema import Item

ROOT = Path(__file__).resolve().parents[1]
ITEMS = [
    Item("s1", "Aqualis Moisture Shampoo 300 ml", "Aqualis", ("Beauty", "Hair Care", "Shampoo"), 9.0),
    Item("r1", "Keenfield Classic Safety Razor", "Keenfield", ("Beauty", "Shaving", "Razors"), 30.0),
    Item("b1", "Roastery 9 Coffee Beans, 1 kg", "Roastery 9", ("Coffee", "Coffee Beans"), 15.0),
]  # fmt: skip


def _shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9$']+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _benchmark_messages() -> list[str]:
    said: list[str] = []
    sets = ("conversation", "conversation_heldout", "conversation_sealed")
    for path in [p for name in sets for p in sorted((ROOT / "benchmarks" / name).glob("*.yaml"))]:
        for conv in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            said += [t["say"] for t in conv.get("turns", []) if isinstance(t.get("say"), str)]
    for name in ("heldout.yaml", "fresh.yaml"):
        held = yaml.safe_load((ROOT / "benchmarks" / "parser" / name).read_text())
        said += [c["message"] for c in held]
    return said


def test_grammar_is_deterministic_and_distinct() -> None:
    a = parse_examples(ITEMS, 300, seed=3)
    assert a == parse_examples(ITEMS, 300, seed=3)
    assert a != parse_examples(ITEMS, 300, seed=4)
    assert len({(r["message"].lower(), r["list_shown"]) for r in a}) == len(a) == 300
    labels = Counter(r["target"].split(";")[0] for r in a)
    assert set(labels) >= {"recommend", "refine", "describe", "order", "off_topic", "unclear"}


def test_every_target_survives_grounding() -> None:
    """The model is taught only answers that the serving code keeps in full."""
    vocab = CatalogIndex({i.item_id: i for i in ITEMS})
    for row in parse_examples(ITEMS, 600, seed=0):
        reading = ground(row["target"], row["message"], vocab)
        assert not reading.dropped, (row["message"], row["target"], reading.dropped)


def test_wording_is_apart_from_the_benchmarks() -> None:
    """No generated message shares a five-word run (or is equal) with a message of the
    conversation benchmark or the held-out parser set."""
    rows = parse_examples(ITEMS, 1200, seed=0)
    reference = _benchmark_messages()
    assert len(reference) > 300
    ref_shingles = set().union(*(_shingles(m) for m in reference))
    ref_exact = {" ".join(m.lower().split()) for m in reference}
    shared = [r["message"] for r in rows if _shingles(r["message"]) & ref_shingles]
    equal = [r["message"] for r in rows if " ".join(r["message"].lower().split()) in ref_exact
             and len(r["message"].split()) > 2]  # fmt: skip
    assert not shared and not equal, (shared[:5], equal[:5])


def test_needs_are_not_the_held_out_shops_kinds() -> None:
    """The held-out set's catalog (the conversation shop) is unseen: no generic kind is one of
    its product names."""
    from benchmarks.conversation_shop import KINDS

    nouns = {re.sub(r",.*", "", k.noun).lower() for k in KINDS}
    assert not nouns & set(GENERIC_KINDS)


def test_prepare_builds_parse_rows() -> None:
    from finetune.dataset import Corpus

    corpus = Corpus({}, {i.item_id: i for i in ITEMS}, source="test")
    out = build_examples(corpus, DatasetConfig(tasks=("parse",), parse_examples=40))
    rows = out["train"] + out["valid"]
    assert len(rows) == 40 and not out["test"]
    assert all(r["task"] == "parse" and r["messages"][1]["content"].startswith("List on screen")
               for r in rows)  # fmt: skip


@pytest.mark.parametrize("bad", [0, 100_001])
def test_parse_example_count_is_checked(bad: int) -> None:
    from knowledge.errors import ConfigError

    with pytest.raises(ConfigError, match="parse_examples"):
        DatasetConfig(parse_examples=bad)
