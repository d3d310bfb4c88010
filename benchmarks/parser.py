"""Parser accuracy on held-out messages: rules vs embedding vs model vs rules + model.

``python -m benchmarks.parser [--adapter DIR|default] [--quantization nf4|fp32]
[--parsers rules embedding model rules+model] [--label NAME]``

The messages (``benchmarks/parser/heldout.yaml``) were written by hand apart from the training
grammar and the conversation benchmark; the catalog is the conversation benchmark's shop, which
the adapter never saw. Per message: the intent, and each stated slot (need, price, brand, avoided
word) read correctly; a price or brand read where none was stated counts as a wrong slot.
"model" is the adapter's reading alone (grounded, no rules); "rules+model" is what
``AssistantConfig.parser = "model"`` serves (rules; the model where no rule decides, and in
place of a generic rule where its reading is confident: ``bot.chat.parse_model``).
Writes ``results/parser-<label>.{md,json}``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import environment, environment_markdown, write_results
from benchmarks.conversation_shop import catalog
from bot.chat.parse import Request, RuleParser
from bot.chat.state import DialogueState
from bot.recsys.catalog import CatalogIndex
from knowledge.schema import Item

HELDOUT = Path(__file__).with_name("parser") / "heldout.yaml"
FRESH = Path(__file__).with_name("parser") / "fresh.yaml"  # written after the policy was chosen
PARSERS = ("rules", "embedding", "model", "rules+model")


def shop_items() -> dict[str, Item]:
    rows = catalog()
    return {
        r["item_id"]: Item(r["item_id"], r["title"], r["brand"], tuple(r["categories"]),
                           r["price"], r["description"], r["attributes"])
        for r in rows
    }  # fmt: skip


def load_cases(path: Path = HELDOUT) -> list[dict[str, Any]]:
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [dict(c, shown=bool(c.get("shown"))) for c in cases]


def score(case: dict[str, Any], request: Request) -> dict[str, Any]:
    """Intent and slot correctness of one parsed message."""
    slots: dict[str, bool] = {}
    if case.get("need"):
        text = " ".join((request.need, *request.categories, *request.brands,
                         *request.not_carried)).lower()  # fmt: skip
        slots["need"] = any(w.lower() in text for w in case["need"])
    for key, got in (("max", request.max_price), ("min", request.min_price)):
        if case.get(key) is not None or got is not None:
            slots[key] = case.get(key) is not None and got is not None and got == case[key]
    brands = {b.lower() for b in (*request.brands, *request.not_carried)}
    if case.get("brand") or request.brands:
        slots["brand"] = bool(case.get("brand")) and case["brand"].lower() in brands
    if case.get("notbrand") or request.exclude_brands:
        slots["notbrand"] = bool(case.get("notbrand")) and case["notbrand"].lower() in {
            b.lower() for b in request.exclude_brands
        }
    if case.get("avoid"):
        said = " ".join(request.avoid).lower()
        slots["avoid"] = all(a.lower() in said for a in case["avoid"])
    intent_ok = request.intent == case["intent"]
    return {"intent_ok": intent_ok, "slots": slots, "exact": intent_ok and all(slots.values())}


class _Embedding:
    """What EmbeddingParser needs of a store: its embedder (MiniLM, as the product's default)."""

    def __init__(self) -> None:
        from knowledge.embed import make_embedder

        self.embedder = make_embedder("minilm")


def build_parsers(
    names: Sequence[str], adapter: str | None, quantization: str, backend: str = "auto"
) -> dict[str, Any]:
    parsers: dict[str, Any] = {}
    generator = None
    if {"model", "rules+model"} & set(names):
        from bot.llm.backends import local_generator
        from bot.llm.model import ModelConfig

        generator = local_generator(
            ModelConfig(quantization=quantization, adapter=adapter, backend=backend)  # type: ignore[arg-type]
        )
    for name in names:
        if name == "rules":
            parsers[name] = RuleParser()
        elif name == "embedding":
            from bot.chat.parse_embed import EmbeddingParser

            parsers[name] = EmbeddingParser(_Embedding())
        elif name == "rules+model":
            from bot.chat.parse_model import ModelParser

            parsers[name] = ModelParser(generator)
        elif name == "model":
            parsers[name] = _ModelAlone(generator)
        else:
            raise SystemExit(f"unknown parser {name!r}; choose from {PARSERS}")
    return parsers


class _ModelAlone:
    """The adapter's grounded reading with no rules (an ablation, never served)."""

    name = "model"

    def __init__(self, generator: Any) -> None:
        from bot.tasks.parse import ModelReader

        self.reader = ModelReader(generator)

    def parse(self, message: str, state: DialogueState, vocab: CatalogIndex) -> Request:
        from bot.chat.parse_model import merge_reading

        shown = bool(state.last_list or state.last_item)
        return merge_reading(
            Request("unclear"), self.reader.read(message, shown, vocab), state, vocab
        )


def _evaluate(parser: Any, cases: list[dict[str, Any]], vocab: CatalogIndex,
              shown_ids: list[str]) -> dict[str, Any]:  # fmt: skip
    rows, times = [], []
    for case in cases:
        state = DialogueState(last_list=list(shown_ids) if case["shown"] else [])
        t0 = time.perf_counter()
        request = parser.parse(case["message"], state, vocab)
        times.append(time.perf_counter() - t0)
        rows.append({"message": case["message"], "gold": case["intent"], "intent": request.intent,
                     "rule": request.rule, "need": request.need, **score(case, request)})  # fmt: skip
    slot_values = [ok for r in rows for ok in r["slots"].values()]
    return {
        "intent_accuracy": round(sum(r["intent_ok"] for r in rows) / len(rows), 3),
        "slot_accuracy": round(sum(slot_values) / max(len(slot_values), 1), 3),
        "slots_scored": len(slot_values),
        "exact": round(sum(r["exact"] for r in rows) / len(rows), 3),
        "p50_s": round(statistics.median(times), 3),
        "p95_s": round(sorted(times)[int(0.95 * (len(times) - 1))], 3),
        "rows": rows,
    }


def run(
    names: Sequence[str], adapter: str | None, quantization: str, backend: str = "auto"
) -> dict[str, Any]:
    items = shop_items()
    vocab = CatalogIndex(items)
    shown_ids = sorted(items)[:3]
    parsers = build_parsers(names, adapter, quantization, backend)
    out: dict[str, Any] = {"sets": {}}
    for set_name, path in (("heldout", HELDOUT), ("fresh", FRESH)):
        cases = load_cases(path)
        out["sets"][set_name] = {
            "cases": len(cases),
            "parsers": {n: _evaluate(p, cases, vocab, shown_ids) for n, p in parsers.items()},
        }
    return out


_SETS = {
    "heldout": "`benchmarks/parser/heldout.yaml`: the set the model parser's policy (which rules' "
    "outcomes ask the model) was chosen on",
    "fresh": "`benchmarks/parser/fresh.yaml`: written after that choice; its results have been "
    "read since (stop 29 on), so it is no longer unseen",
}


def markdown(result: dict[str, Any], label: str, command: str) -> str:
    lines = [
        f"# Parser accuracy on held-out messages ({label})", "",
        environment_markdown(result["env"]), "", f"Command: `{command}`", "",
        "Hand-written messages over the conversation shop's catalog (unseen in training); "
        f"adapter: {result['adapter']}, {result['quantization']}, backend "
        f"{result.get('backend', 'transformers')}. Intent: the routed intent is "
        "the gold one; slot: each stated need/price/brand/avoided word read right (a price or "
        "brand read where none was stated counts as wrong); all right: intent and every slot.",
    ]  # fmt: skip
    for set_name, data in result["sets"].items():
        lines += ["", f"## {set_name}: {data['cases']} messages ({_SETS[set_name]})", "",
                  "| parser | intent accuracy | slot accuracy | slots scored | all right | p50 s "
                  "| p95 s |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for name, r in data["parsers"].items():
            lines.append(
                f"| {name} | {r['intent_accuracy']:.1%} | {r['slot_accuracy']:.1%} | "
                f"{r['slots_scored']} | {r['exact']:.1%} | {r['p50_s']} | {r['p95_s']} |"
            )
    for set_name, data in result["sets"].items():
        for name, r in data["parsers"].items():
            wrong = [x for x in r["rows"] if not x["exact"]]
            lines += ["", f"### {set_name}, {name}: {len(wrong)} messages not fully right", "",
                      "| message | gold | intent | rule | need | wrong slots |",
                      "|---|---|---|---|---|---|"]  # fmt: skip
            for x in wrong:
                bad = ", ".join(k for k, ok in x["slots"].items() if not ok)
                rule = x["rule"].replace("|", "/")
                lines.append(f"| {x['message']} | {x['gold']} | {x['intent']} | {rule} | "
                             f"{x['need']} | {bad} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.parser", description=__doc__)
    p.add_argument("--parsers", nargs="+", default=list(PARSERS))
    p.add_argument("--adapter", default="default", help="adapter directory, default or none")
    p.add_argument("--quantization", default="nf4", choices=("nf4", "fp32"))
    p.add_argument("--backend", default="auto", choices=("auto", "transformers", "llamacpp"))
    p.add_argument("--label", default=None)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = run(a.parsers, a.adapter, a.quantization, a.backend)
    result.update(adapter=a.adapter, quantization=a.quantization, backend=a.backend, env=environment(),
                  when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))  # fmt: skip
    label = a.label or f"{a.quantization}"
    command = "python -m benchmarks.parser " + " ".join(argv or __import__("sys").argv[1:])
    write_results(f"parser-{label}", result, markdown(result, label, command))


if __name__ == "__main__":
    main()
