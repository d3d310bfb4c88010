"""Simulated-user benchmark: does talking help the assistant find a user's next purchase?

    .venv/bin/python benchmarks/simulated_users.py --dataset demo
    NEXTNEED_DATA_DIR=../shared/data .venv/bin/python benchmarks/simulated_users.py --dataset beauty

Each test user's held-out next purchase is the hidden target (demo: ``next_needs.jsonl``;
Amazon Beauty: the last item of a seeded sample of users, removed from the store before
ingest). A :class:`bot.evaluate.simulator.SimulatedUser` talks to the Assistant for up to five
turns. Writes ``benchmarks/results/simulated-users-<dataset>.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.evaluate.simulator import SimulationResult, SimulatorConfig, simulate  # noqa: E402
from knowledge.schema import Item  # noqa: E402
from knowledge.store import Store, StoreConfig  # noqa: E402

log = logging.getLogger("benchmarks.simulated_users")


def demo_store(work: Path, embedder: str, seed: int) -> tuple[Path, list[tuple[str, str]]]:
    """The demo store and its ground truth (user, held-out item)."""
    from knowledge import demo
    from knowledge.ingest import ingest_dataset

    data = work / "data"
    paths = demo.write_demo(data, demo.DemoConfig(seed=seed))
    with Store(StoreConfig(path=str(work / "store"), embedder=embedder)) as store:
        ingest_dataset(store, [paths.items, paths.events], format="native", progress=True)
    truth = [
        json.loads(line) for line in (data / "next_needs.jsonl").read_text().splitlines() if line
    ]
    return work / "store", [(t["user_id"], t["held_out_item"]) for t in truth]


def beauty_store(
    work: Path, embedder: str, n_users: int, seed: int
) -> tuple[Path, list[tuple[str, str]]]:
    """Amazon Beauty with the last item of ``n_users`` sampled users held out."""
    import pandas as pd

    from knowledge.ingest import ingest_dataset

    src = (
        Path(os.environ.get("NEXTNEED_DATA_DIR", REPO.parent / "shared" / "data")) / "amazon-beauty"
    )
    if not (src / "interactions.csv").exists():
        raise SystemExit(f"skipped: Amazon Beauty not found at {src} (set NEXTNEED_DATA_DIR)")
    frame = pd.read_csv(src / "interactions.csv", dtype=str, keep_default_na=False)
    users = sorted(frame["user_id"].unique())
    sample = random.Random(seed).sample(users, min(n_users, len(users)))
    last = frame.groupby("user_id", sort=False).tail(1)  # the file order is the sequence order
    held = last[last["user_id"].isin(set(sample))]
    data = work / "data"
    data.mkdir(parents=True)
    frame.drop(index=held.index).to_csv(data / "interactions.csv", index=False)
    (data / "items.csv").write_bytes((src / "items.csv").read_bytes())
    with Store(StoreConfig(path=str(work / "store"), embedder=embedder)) as store:
        ingest_dataset(store, data, format="benchmark-csv", progress=True)
    order = {u: i for i, u in enumerate(sample)}
    pairs = sorted(zip(held["user_id"], held["item_id"], strict=True), key=lambda p: order[p[0]])
    return work / "store", pairs


def long_list_hits(assistant: Any, targets: list[tuple[str, Item]], n: int) -> float:
    """A second baseline: one non-conversational list of ``n`` items (the most a chat of
    five turns of five items can show is 25)."""
    from bot.recsys.pipeline import PipelineConfig, RecommendationPipeline

    pipe = RecommendationPipeline(assistant.store, PipelineConfig(n_results=n, n_candidates=100))
    hits = 0
    for user_id, target in targets:
        recs, _need, _t = pipe.recommend(pipe.view(user_id), n=n)
        hits += any(r.item_id == target.item_id for r in recs)
    return hits / max(1, len(targets))


def hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs visible (shared), no GPU, Python {platform.python_version()}"


def report(
    name: str, result: SimulationResult, long_hits: float, long_n: int, meta: dict[str, Any]
) -> str:
    n = len(result.sessions)
    lines = [f"# Simulated users: {name}", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += [
        "",
        "| | success | users |",
        "|---|---:|---:|",
        f"| non-conversational baseline (turn-1 list, 5 items) | {result.success_at(1):.1%} | {n} |",
        f"| non-conversational, one list of {long_n} items | {long_hits:.1%} | {n} |",
    ]
    for k in range(2, result.max_turns + 1):
        lines.append(f"| conversational, within {k} turns | {result.success_at(k):.1%} | {n} |")
    mean_ok = result.mean_turns_successful()
    lines += [
        "",
        f"- average turns to success (successful sessions): {mean_ok:.2f}"
        if mean_ok
        else "- no session succeeded",
        f"- average turns per session (a failure counts {result.max_turns}): {result.mean_turns():.2f}",
        f"- sessions that hit an error: {result.errors()}",
        "",
        "The simulated user opens with \u201cWhat should I get next?\u201d; while its target is not "
        "listed it says \u201cSomething else, please: \u2026\u201d and reveals one attribute per turn "
        "(category, then brand, then a price band) without naming the item, and accepts when the "
        "target is recommended. See `bot/evaluate/simulator.py`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dataset", choices=["demo", "beauty"], required=True)
    p.add_argument("--users", type=int, default=200, help="Beauty: how many users to sample")
    p.add_argument("--seed", type=int, default=0, help="Beauty: the user sample's seed")
    p.add_argument("--demo-seed", type=int, default=7, help="demo: the shop's seed")
    p.add_argument("--embedder", choices=["hashing", "minilm"], default="hashing")
    p.add_argument("--model", default="none", help="'none' (default), 'default' or a model path")
    p.add_argument("--max-turns", type=int, default=5)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from bot.chat.assistant import Assistant, AssistantConfig

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="nextneed-sim-") as tmp:
        work = Path(tmp)
        if args.dataset == "demo":
            store_dir, truth = demo_store(work, args.embedder, args.demo_seed)
        else:
            store_dir, truth = beauty_store(work, args.embedder, args.users, args.seed)
        built = time.time() - started
        model = None
        if args.model != "none":
            from bot.llm.model import ModelConfig

            model = ModelConfig(args.model)
        cfg = AssistantConfig(
            store=StoreConfig(path=str(store_dir), embedder=args.embedder), model=model
        )
        assistant = Assistant.from_config(cfg)
        items = assistant.pipeline.items
        targets = [(u, items[i]) for u, i in truth if i in items]
        owned = [u for u, t in targets if t.item_id in assistant.pipeline.view(u).owned]
        if owned:
            log.warning("%d targets are already in their user's history", len(owned))
        t0 = time.time()
        result = simulate(assistant, targets, SimulatorConfig(max_turns=args.max_turns))
        sim_s = time.time() - t0
        long_n = 20
        long_hits = long_list_hits(assistant, targets, long_n)
        stats = assistant.store.stats()
        assistant.store.close()
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "hardware": hardware(),
        "command": "python benchmarks/simulated_users.py " + " ".join(argv or sys.argv[1:]),
        "store": f"{stats['items']} items, {stats['events']} events, {stats['users']} users; "
        f"embedder {args.embedder}",
        "model": args.model
        + (
            " (rule-based routing, retrieval and candidate models only)"
            if args.model == "none"
            else ""
        ),
        "test users": f"{len(targets)} (targets held out of the store; {len(owned)} already owned)",
        "time": f"store built in {built:.0f}s, {len(targets)} conversations in {sim_s:.0f}s",
    }
    out = Path(args.out) / f"simulated-users-{args.dataset}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    name = {"demo": "demo store", "beauty": "Amazon Beauty (2014, 5-core)"}[args.dataset]
    out.write_text(report(name, result, long_hits, long_n, meta), encoding="utf-8")
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
