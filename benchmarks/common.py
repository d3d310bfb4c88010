"""What every benchmark result carries: the machine, the versions, the date and how busy the
machine was, plus percentile summaries and writing ``benchmarks/results/<name>.{md,json}``.

Timings on a shared machine are only comparable with the load average next to them, so
:func:`load` is sampled before and after each measurement and :func:`environment` records it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from bot.llm.memory import cpu_name  # noqa: F401  (re-exported for the benchmarks)

__all__ = [
    "REPO",
    "RESULTS",
    "BENCH_DIR",
    "cpu_name",
    "environment",
    "environment_markdown",
    "load",
    "summary",
    "table",
    "demo_store",
    "demo_users",
    "write_results",
]

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BENCH_DIR = REPO / ".nextneed" / "bench"  # git-ignored; big stores built once live here
_PACKAGES = ("torch", "transformers", "bitsandbytes", "chromadb", "sentence-transformers", "numpy")


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma")
                return [f for f in wanted if f in flags]
    except OSError:
        pass
    return []


def _memory_gib() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        return None


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Hardware, versions, commit, date and the load average right now."""
    threads = None
    try:
        import torch

        threads = torch.get_num_threads()
    except ImportError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "cpu": cpu_name(),
        "cpu_flags": _cpu_flags(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "gpu": None,
        "torch_threads": threads,
        "load_avg": load(),
        "python": platform.python_version(),
        "versions": {p: v for p in _PACKAGES if (v := _version(p)) is not None},
    }


def environment_markdown(env: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    return (
        f"{env['date']} · commit {env['commit']} · {env['cpu']} ({env['cores']} cores visible, "
        f"shared; flags {', '.join(env['cpu_flags']) or 'none'}), {env['memory_gib']} GiB, no GPU · "
        f"load average at start {env['load_avg']} · Python {env['python']}, {versions}"
    )


def summary(seconds: Sequence[float]) -> dict[str, float]:
    """n, p50, p95, mean and max of a list of durations, in milliseconds."""
    a = np.asarray(seconds, dtype=np.float64) * 1000.0
    if a.size == 0:
        return {"n": 0}
    return {
        "n": int(a.size),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "mean_ms": round(float(a.mean()), 2),
        "max_ms": round(float(a.max()), 2),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def demo_store(embedder: str = "minilm", seed: int = 0) -> Path:
    """The demo store (``knowledge.demo``), built once under ``.nextneed/bench/`` and reused.

    Benchmarks that write to it work on a copy."""
    out = BENCH_DIR / f"demo-{embedder}-{seed}"
    if not (out / "users.json").exists():
        import shutil

        from bot.evaluate.runner import build_demo_store
        from knowledge.store import Store, StoreConfig

        shutil.rmtree(out, ignore_errors=True)
        log.info("building the demo store in %s", out)
        path = build_demo_store(out, embedder, seed)
        with Store(StoreConfig(path=str(path), embedder=embedder)) as store:
            users = store.users()
        (out / "users.json").write_text(json.dumps(users))
    return out / "store"


def demo_users(embedder: str = "minilm", seed: int = 0) -> list[str]:
    """The user ids of :func:`demo_store`, sorted."""
    demo_store(embedder, seed)
    return list(json.loads((BENCH_DIR / f"demo-{embedder}-{seed}" / "users.json").read_text()))


def write_results(name: str, result: dict[str, Any], markdown: str) -> Path:
    """Write ``results/<name>.json`` and ``results/<name>.md``; returns the Markdown path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    path = RESULTS / f"{name}.md"
    path.write_text(markdown.rstrip() + "\n")
    log.info("wrote %s", path)
    return path
