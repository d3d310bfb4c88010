"""Conversation benchmark: natural shopper conversations on a second shop, checked per turn.

    python -m benchmarks.conversation [--parser auto|rules|embedding|model] [--model none|default] [--limit N]

The shop (:mod:`benchmarks.conversation_shop`, not the demo shop) is generated, ingested into a
temporary Chroma store with ``ingest_dataset`` and served by ``Assistant.from_config`` with the
clock pinned to noon of the shop's reference date. Every conversation in
``benchmarks/conversation/*.yaml`` runs in order with a fresh state (``state=reply.state``
passed between its turns); events a conversation wrote are deleted before the next one starts.
The checks are in :mod:`benchmarks.conversation_checks`. Results:
``benchmarks/results/conversation-<variant>.{md,json}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import shlex
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import environment, environment_markdown, summary, table, write_results
from benchmarks.conversation_checks import Conversation, Facts, load_conversations, run_checks
from benchmarks.conversation_shop import REFERENCE, write_shop

__all__ = ["build_assistant", "run_benchmark", "main"]

log = logging.getLogger(__name__)


def _noon(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()


def build_assistant(workdir: Path, parser: str = "auto", model: str = "none",
                    embedder: str = "minilm", backend: str = "auto") -> tuple[Any, str]:  # fmt: skip
    """The shop ingested into ``workdir/store``; the Assistant and the parser actually used."""
    from bot import Assistant, AssistantConfig
    from knowledge import Store, StoreConfig, ingest_dataset

    store_config = StoreConfig(path=str(workdir / "store"), embedder=embedder)
    store = Store(store_config)
    ingest_dataset(store, write_shop(workdir / "shop"), strict=True)
    store.close()
    config = AssistantConfig(store=store_config, parser=parser)
    if model != "none":
        from bot import ModelConfig

        config = dataclasses.replace(config, model=ModelConfig(backend=backend))  # type: ignore[arg-type]
    config = dataclasses.replace(
        config, pipeline=dataclasses.replace(config.pipeline, now=lambda: _noon(REFERENCE))
    )
    assistant = Assistant.from_config(config)
    return assistant, assistant.parser.name


def co_buyer_counter(store: Any) -> Any:
    """``(a, b) -> customers who bought both``, counted from the store's purchase events (the
    check's own count, not the assistant's co-purchase model)."""
    bought: dict[str, set[str]] = defaultdict(set)
    for e in store.iter_events():
        if e.kind == "purchase":
            bought[e.item_id].add(e.user_id)
    return lambda a, b: len(bought.get(a, set()) & bought.get(b, set()))


def _run_one(assistant: Any, conv: Conversation, items: dict[str, Any],
             co_buyers: Any = None) -> list[dict[str, Any]]:  # fmt: skip
    store = assistant.store
    start_ids = {e.event_id for e in store.history(conv.user)}
    state: Any = None
    previous: list[Any] = []
    rows = []
    try:
        for n, turn in enumerate(conv.turns):
            before = store.history(conv.user)
            t0 = time.perf_counter()
            try:
                reply = assistant.chat(conv.user, turn.say, state=state)
                error = ""
            except Exception as exc:  # a crash is a failed turn, not a failed run
                log.warning("%s turn %d crashed: %r", conv.id, n + 1, exc)
                reply, error = None, f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - t0
            row: dict[str, Any] = {"conversation": conv.id, "turn": n + 1, "user": conv.user,
                                   "skill": turn.skill, "say": turn.say, "seconds": round(seconds, 3)}  # fmt: skip
            if reply is None:
                row.update(passed=False, failed={"crash": error}, intent="", text="", items=[])
            else:
                facts = Facts(reply, items, before, store.history(conv.user), previous,
                              co_buyers=co_buyers)  # fmt: skip
                failed = run_checks(turn.expect, facts)
                row["service"] = bool(reply.data.get("service")) or reply.intent == "complaint"
                row.update(passed=not failed, failed=failed, intent=reply.intent,
                           text=reply.text[:400], items=[r.item_id for r in reply.recommendations])  # fmt: skip
                state = reply.state
                if reply.recommendations:
                    previous = list(reply.recommendations)
            rows.append(row)
    finally:
        written = [e.event_id for e in store.history(conv.user) if e.event_id not in start_ids]
        if written:
            store.delete_events(conv.user, written)
    return rows


def run_benchmark(parser: str = "auto", model: str = "none", limit: int | None = None,
                  embedder: str = "minilm", backend: str = "auto",
                  conversations_dir: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """Run every conversation of ``conversations_dir`` (default: the development set; the first
    ``limit``); the result dict that is written out."""
    conversations = (load_conversations(conversations_dir) if conversations_dir
                     else load_conversations())[:limit]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="nextneed-conv-") as tmp:
        t0 = time.perf_counter()
        assistant, used = build_assistant(Path(tmp), parser, model, embedder, backend)
        generator = getattr(assistant.context.generator, "name", None)
        setup_s = time.perf_counter() - t0
        items = {it.item_id: it for it in assistant.store.all_items()}
        co_buyers = co_buyer_counter(assistant.store)
        rows = []
        for conv in conversations:
            rows += _run_one(assistant, conv, items, co_buyers)
        assistant.store.close()
    skills: dict[str, list[bool]] = defaultdict(list)
    causes: dict[str, int] = defaultdict(int)
    for r in rows:
        skills[r["skill"]].append(r["passed"])
        for name in r["failed"]:
            causes[name] += 1
    secs = [r["seconds"] for r in rows]
    return {
        "parser": used, "model": model, "embedder": embedder, "generator": generator,
        "conversation_set": str(conversations_dir or "benchmarks/conversation"),
        "conversations": len(conversations), "turns": len(rows),
        "passed": sum(r["passed"] for r in rows),
        "pass_rate": round(sum(r["passed"] for r in rows) / max(1, len(rows)), 3),
        "skills": {k: {"turns": len(v), "passed": sum(v), "pass_rate": round(sum(v) / len(v), 3)}
                   for k, v in sorted(skills.items())},
        "failed_checks": dict(sorted(causes.items(), key=lambda kv: -kv[1])),
        "halves": _halves(rows),
        "service_by_skill": {k: sum(1 for r in rows if r["skill"] == k and r.get("service"))
                             for k in sorted(skills)
                             if any(r["skill"] == k and r.get("service") for r in rows)},
        "latency_ms": summary(secs), "setup_s": round(setup_s, 1), "rows": rows,
    }  # fmt: skip


def half_of(conversation_id: str) -> str:
    """The half of the held-out set a conversation is in: "sealed" (its failures were never
    read while the assistant was changed) or "open" (by a hash of the id)."""
    return "sealed" if zlib.crc32(conversation_id.encode()) % 2 else "open"


def _halves(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        h = out.setdefault(half_of(r["conversation"]), {"passed": 0, "turns": 0})
        h["passed"] += int(r["passed"])
        h["turns"] += 1
    return dict(sorted(out.items()))


def markdown(result: dict[str, Any], command: str, note: str) -> str:
    lat = result["latency_ms"]
    lines = [f"# Conversation benchmark — {result['variant']}", "", note, "",
             environment_markdown(result["environment"]), "", f"Command: `{command}`", "",
             f"Parser: {result['parser']} · model: {result['model']} · embedder: "
             f"{result['embedder']} · conversations: {result.get('conversation_set', '')} · "
             "shop: benchmarks.conversation_shop (reference "
             f"{REFERENCE.isoformat()}), built and ingested in {result['setup_s']} s", "",
             f"**{result['passed']} / {result['turns']} turns passed "
             f"({100 * result['pass_rate']:.1f}%)** over {result['conversations']} conversations. "
             f"Turn latency p50 {lat.get('p50_ms', 0) / 1000:.2f} s, p95 {lat.get('p95_ms', 0) / 1000:.2f} s "
             "(2-core CPU, shared; see the load average above).", "",
             "Halves by conversation id (the held-out set's sealed half is the one whose "
             "failures were not read): "
             + ", ".join(f"{k} {v['passed']} / {v['turns']}"
                         for k, v in result.get("halves", {}).items()) + ".", "",
             "## Per skill", "",
             table(["skill", "turns", "passed", "pass rate"],
                   [[k, v["turns"], v["passed"], f"{100 * v['pass_rate']:.0f}%"]
                    for k, v in result["skills"].items()]), "",
             "## Service answers (apology and the way to a person) by skill", "",
             "Turns answered as a complaint, or with the shop's service note before a list "
             "(the model's second reading of a request): the complaint turns should have one, "
             "requests should not.", "",
             table(["skill", "turns with a service answer"],
                   [[k, n] for k, n in sorted(result.get("service_by_skill", {}).items())]), "",
             "## Failed checks (turns failing each)", "",
             table(["check", "turns"], list(result["failed_checks"].items())), "",
             "## Failed turns", ""]  # fmt: skip
    if result.get("sealed"):
        lines.append("Not listed: a sealed set (`--sealed`) keeps its messages and failures "
                     "unread; only the counts above are reported.")  # fmt: skip
        return "\n".join(lines)
    fails = [r for r in result["rows"] if not r["passed"]]
    lines.append(table(["turn", "skill", "message", "intent", "failed"],
                       [[f"{r['conversation']}#{r['turn']}", r["skill"], r["say"], r["intent"],
                         "; ".join(f"{k}: {v}" for k, v in r["failed"].items())[:300]]
                        for r in fails]))  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.conversation", description=__doc__)
    ap.add_argument(
        "--parser",
        default="auto",
        choices=("auto", "rules", "embedding", "model"),
        help="AssistantConfig.parser (auto: the model where the adapter is on for it)",
    )
    ap.add_argument("--model", default="none", choices=("none", "default"))
    ap.add_argument("--embedder", default="minilm", help="store embedder (default: shipped)")
    ap.add_argument("--backend", default="auto", choices=("auto", "transformers", "llamacpp"),
                    help="ModelConfig.backend (auto: llama.cpp where installed)")  # fmt: skip
    ap.add_argument("--limit", type=int, default=None, help="only the first N conversations")
    ap.add_argument("--conversations", type=Path, default=None,
                    help="a folder of conversation YAML files (default: benchmarks/conversation; "
                         "benchmarks/conversation_heldout is the held-out set)")  # fmt: skip
    ap.add_argument("--out", default=None, help="result name (default conversation-<variant>)")
    ap.add_argument("--note", default="", help="a line for the report (e.g. 'baseline')")
    ap.add_argument("--sealed", action="store_true",
                    help="report counts only: no messages, replies or failure reasons in the "
                         "results (for benchmarks/conversation_sealed, whose failures stay "
                         "unread)")  # fmt: skip
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    env = environment()
    result = run_benchmark(args.parser, args.model, args.limit, args.embedder, args.backend,
                           args.conversations)  # fmt: skip
    variant = f"{result['parser']}-model-{args.model}"
    result.update(variant=variant, environment=env, environment_end_load=environment()["load_avg"])
    command = shlex.join(
        [".venv/bin/python", "-m", "benchmarks.conversation", *(argv or sys.argv[1:])]
    )
    result["command"] = command
    if args.sealed:
        keep = ("conversation", "turn", "skill", "passed", "service", "seconds")
        result["rows"] = [{k: r[k] for k in keep if k in r} for r in result["rows"]]
        result["failed_checks"] = {}
        result["sealed"] = True
    path = write_results(
        args.out or f"conversation-{variant}", result, markdown(result, command, args.note)
    )
    log.info("%d/%d turns passed; wrote %s", result["passed"], result["turns"], path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
