"""Turn latency benchmark: the default model in fp32, bf16 and 4-bit nf4 behind the Assistant.

    .venv/bin/python -m benchmarks.latency                        # fp32,nf4,bf16; >= 60 turns each
    .venv/bin/python -m benchmarks.latency --quantizations fp32 --turns 20

Each quantization runs in a fresh child process over a copy of the seed-7 demo store (the shop
the dialog suite is written for; MiniLM embedder, as served). Turns come from the scripted
dialog suite (``dialogs/``): every dialog with a recommend, refine, explain or describe turn is
replayed whole through :class:`bot.evaluate.runner.DialogRunner` (its setup events, history and
clean-up), passes repeating until ``--turns`` such turns are counted. Other turns of those
dialogs run but are not counted; the first two counted turns are warm-up. Per turn: time to
the first streamed text, time to the first recommendation line, the full turn, and
``Reply.timings`` per stage. A run is bounded by ``--max-s`` per quantization.
Writes ``benchmarks/results/latency.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    demo_store,
    environment,
    environment_markdown,
    load,
    summary,
    table,
    write_results,
)

__all__ = ["TIMED_INTENTS", "select_dialogs", "run_turns", "run"]

log = logging.getLogger("benchmarks.latency")

TIMED_INTENTS = ("recommend", "refine", "explain", "describe")
DEMO_SEED = 7  # the shop the dialogs are written for
WARM_UP = 2
TARGET_FIRST_P50_S = 1.0
TARGET_TURN_P95_S = 3.0
STAGES = ("candidates_s", "filter_s", "rank_s", "explain_s", "recommend_s", "describe_s", "total_s")


def select_dialogs() -> list[Any]:
    """Dialogs of the suite with at least one recommend/refine/explain/describe turn."""
    from bot.evaluate.dialogs import load_dialogs

    return [
        d
        for d in load_dialogs([REPO / "dialogs"])
        if any(set(t.expect.intent) & set(TIMED_INTENTS) for t in d.turns if t.expect)
    ]


class _TimedTarget:
    """The in-process target of the dialog runner, timing each turn through ``stream``."""

    def __init__(self, assistant: Any) -> None:
        from bot.evaluate.runner import AssistantTarget

        self.inner = AssistantTarget(assistant)
        self.name = "in-process (timed)"
        self.records: list[dict[str, Any]] = []
        self.dialog = ""

    def chat(self, user_id: str, message: str, history: list[dict[str, Any]]) -> Any:
        t0 = time.perf_counter()
        first = first_rec = None
        reply = None
        for chunk in self.inner.assistant.stream(user_id, message, history):
            now = time.perf_counter() - t0
            if chunk.delta:
                first = first if first is not None else now
                if first_rec is None and chunk.delta.lstrip().startswith("1."):
                    first_rec = now
            if chunk.reply is not None:
                reply = chunk.reply
        total = time.perf_counter() - t0
        assert reply is not None
        self.records.append(
            {
                "dialog": self.dialog,
                "user": user_id,
                "message": message,
                "intent": reply.intent,
                "first_text_s": first if first is not None else total,
                "first_rec_s": first_rec,
                "total_s": total,
                "timings": dict(reply.timings),
                "load_1m": load()[0],
            }
        )
        return reply

    def user_events(self, user_id: str) -> list[Any]:
        return self.inner.user_events(user_id)

    def begin(self, dialog: Any, user_id: str) -> str:
        self.dialog = dialog.id
        return str(self.inner.begin(dialog, user_id))

    def end(self, dialog: Any, user_id: str) -> None:
        self.inner.end(dialog, user_id)


def run_turns(quantization: str, turns: int, max_s: float, threads: int | None) -> dict[str, Any]:
    """In this process: build the Assistant and replay dialogs until ``turns`` timed turns."""
    from bot.chat.assistant import Assistant, AssistantConfig
    from bot.evaluate.checks import PrivateData
    from bot.evaluate.runner import DialogRunner, RunConfig, copy_store
    from bot.llm.model import ModelConfig
    from knowledge.store import StoreConfig

    dialogs = select_dialogs()
    with tempfile.TemporaryDirectory(prefix="nextneed-latency-") as tmp:
        path = copy_store(demo_store("minilm", DEMO_SEED), Path(tmp) / "store")
        t0 = time.perf_counter()
        assistant = Assistant.from_config(
            AssistantConfig(
                store=StoreConfig(path=str(path), embedder="minilm"),
                model=ModelConfig(quantization=quantization, threads=threads),
            )
        )
        start_s = time.perf_counter() - t0
        target = _TimedTarget(assistant)
        store = assistant.store
        runner = DialogRunner(
            target,  # type: ignore[arg-type]
            {i.item_id: i for i in store.all_items()},
            PrivateData(store.iter_events()),  # the dialogs' no_other_user_data checks need it
            RunConfig(progress=False),
        )
        began = time.perf_counter()
        passes = checks = failed = 0
        failures: list[str] = []
        try:
            while (
                _counted(target.records) < turns + WARM_UP and time.perf_counter() - began < max_s
            ):
                passes += 1
                for dialog in dialogs:
                    result = runner.run_dialog(dialog)
                    for t in result.turns:
                        checks += len(t.checks)
                        failed += sum(not c.passed for c in t.checks)
                        failures += [
                            f"{dialog.id}: {t.message[:40]!r}: {c.name}: {c.detail[:160]}"
                            for c in t.checks
                            if not c.passed
                        ]
                    if (
                        _counted(target.records) >= turns + WARM_UP
                        or time.perf_counter() - began > max_s
                    ):
                        break
        finally:
            store.close()
    records = [r for r in target.records if r["intent"] in TIMED_INTENTS]
    for i, r in enumerate(records):
        r["warm_up"] = i < WARM_UP
    return {
        "quantization": quantization,
        "start_s": round(start_s, 2),
        "dialogs": len(dialogs),
        "passes": passes,
        "checks": checks,
        "checks_failed": failed,
        "failed_checks": failures[:20],
        "other_turns": len(target.records) - len(records),
        "turns": records,
    }


def _counted(records: list[dict[str, Any]]) -> int:
    return sum(r["intent"] in TIMED_INTENTS for r in records)


def _child(quantization: str, turns: int, max_s: float, threads: int | None) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.latency",
        "--child",
        quantization,
        "--turns",
        str(turns),
        "--max-s",
        str(max_s),
    ]
    if threads:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=max_s + 1200)
    if out.returncode != 0:
        raise RuntimeError(f"latency run for {quantization} failed:\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def aggregate(raw: dict[str, Any]) -> dict[str, Any]:
    """Percentiles over the counted turns, overall and per intent, and stage breakdowns."""
    turns = [t for t in raw["turns"] if not t["warm_up"]]
    by_intent: dict[str, list[dict[str, Any]]] = {}
    for t in turns:
        by_intent.setdefault(t["intent"], []).append(t)
    recs = [t["first_rec_s"] for t in turns if t["first_rec_s"] is not None]
    out: dict[str, Any] = {
        "start_s": raw["start_s"],
        # the very first turn after start-up pays lazy loading (embedder, first forward)
        "cold_first_turn_s": round(raw["turns"][0]["total_s"], 2) if raw["turns"] else None,
        "n_turns": len(turns),
        "first_text": summary([t["first_text_s"] for t in turns]),
        "first_recommendation": summary(recs),
        "turn": summary([t["total_s"] for t in turns]),
        "recommendation_turn": summary(
            [t["total_s"] for t in turns if t["intent"] in ("recommend", "refine")]
        ),
        "load_1m": [min(t["load_1m"] for t in turns), max(t["load_1m"] for t in turns)]
        if turns
        else [],
        "by_intent": {},
    }
    for intent, ts in sorted(by_intent.items()):
        stages = {
            s: summary([t["timings"][s] for t in ts if s in t["timings"]])
            for s in STAGES
            if any(s in t["timings"] for t in ts)
        }
        out["by_intent"][intent] = {
            "first_text": summary([t["first_text_s"] for t in ts]),
            "turn": summary([t["total_s"] for t in ts]),
            "stages": stages,
        }
    return out


def run(quantizations: list[str], turns: int, max_s: float, threads: int | None) -> dict[str, Any]:
    demo_store("minilm", DEMO_SEED)  # build once before the timed children
    result: dict[str, Any] = {
        "environment": environment(),
        "dialogs": [d.id for d in select_dialogs()],
        "runs": {},
    }
    for q in quantizations:
        log.info("latency with %s", q)
        raw = _child(q, turns, max_s, threads)
        summary_ = aggregate(raw)
        for key in ("dialogs", "passes", "checks", "checks_failed", "failed_checks", "other_turns"):
            summary_[key] = raw[key]
        result["runs"][q] = {"summary": summary_, "turns": raw["turns"]}
        log.info("%s: %s", q, json.dumps(result["runs"][q]["summary"])[:800])
    return result


def _ms(s: dict[str, Any], key: str) -> str:
    return f"{s[key] / 1000:.2f}" if s.get("n") else "-"


def markdown(r: dict[str, Any]) -> str:
    rows, stage_rows = [], []
    for q, run_ in r["runs"].items():
        s = run_["summary"]
        ft, fr, tt = s["first_text"], s["first_recommendation"], s["turn"]
        rt = s["recommendation_turn"]
        rows.append(
            [
                q,
                s["n_turns"],
                f"{_ms(ft, 'p50_ms')} / {_ms(ft, 'p95_ms')}",
                "met" if ft.get("n") and ft["p50_ms"] <= TARGET_FIRST_P50_S * 1000 else "NOT met",
                f"{_ms(fr, 'p50_ms')} / {_ms(fr, 'p95_ms')}",
                f"{_ms(tt, 'p50_ms')} / {_ms(tt, 'p95_ms')}",
                f"{_ms(rt, 'p50_ms')} / {_ms(rt, 'p95_ms')}",
                "met" if rt.get("n") and rt["p95_ms"] <= TARGET_TURN_P95_S * 1000 else "NOT met",
                s["start_s"],
                s["cold_first_turn_s"],
                "–".join(str(x) for x in s["load_1m"]),
            ]
        )
        for intent, d in s["by_intent"].items():
            st = d["stages"]
            stage_rows.append(
                [q, intent, d["turn"]["n"], f"{_ms(d['first_text'], 'p50_ms')}"]
                + [f"{_ms(st[k], 'p50_ms')}" if k in st else "" for k in STAGES]
            )
    lines = [
        "# Turn latency (default model, CPU)",
        "",
        environment_markdown(r["environment"]),
        "",
        f"Turns: the recommend/refine/explain/describe turns of the {len(r['dialogs'])} dialogs "
        "of the suite that have one, replayed whole (setup, history, clean-up) on the seed-7 "
        "demo shop until enough turns were counted; the first two are warm-up. Seconds, p50 / "
        f"p95. Targets: first streamed text p50 <= {TARGET_FIRST_P50_S} s; full recommendation "
        f"turn p95 <= {TARGET_TURN_P95_S} s (recommend and refine turns).",
        "",
        table(
            [
                "model",
                "turns",
                "first text",
                "target",
                "first recommendation line",
                "full turn (all)",
                "recommend/refine turn",
                "target",
                "start-up s",
                "cold 1st turn s",
                "load 1-min",
            ],
            rows,
        ),
        "",
        "Per run: "
        + "; ".join(
            f"{q}: {run_['summary'].get('passes', '?')} pass(es) over the dialogs, "
            f"{run_['summary'].get('other_turns', '?')} other turns not counted, dialog checks "
            f"{run_['summary'].get('checks', 0) - run_['summary'].get('checks_failed', 0)}"
            f"/{run_['summary'].get('checks', 0)} passed"
            for q, run_ in r["runs"].items()
        )
        + ". Cores shared with other engineers' jobs: see the load column.",
        "",
        *[
            f"- {q} failed check: {f}"
            for q, run_ in r["runs"].items()
            for f in run_["summary"].get("failed_checks", [])
        ],
        "",
        "## Where the time goes (p50 seconds per stage, from Reply.timings)",
        "",
        table(["model", "intent", "turns", "first text"] + list(STAGES), stage_rows),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quantizations", default="fp32,nf4,bf16")
    p.add_argument("--turns", type=int, default=60)
    p.add_argument("--max-s", type=float, default=600.0, help="time bound per quantization")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: the model's)")
    p.add_argument("--out", default="latency", help="results name under benchmarks/results/")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        logging.basicConfig(level=logging.WARNING)
        print(json.dumps(run_turns(args.child, args.turns, args.max_s, args.threads)))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    qs = [q.strip() for q in args.quantizations.split(",") if q.strip()]
    result = run(qs, args.turns, args.max_s, args.threads)
    write_results(args.out, result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
