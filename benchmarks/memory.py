"""Memory benchmark: the default model's footprint in fp32, bf16 and 4-bit nf4, and the resident
memory of the whole app while it serves.

    .venv/bin/python -m benchmarks.memory                       # all quantizations + the app
    .venv/bin/python -m benchmarks.memory --quantizations nf4,fp32 --no-app

Each quantization loads in a fresh child process (RSS never shrinks after a free, so one process
per measurement): ``model.get_memory_footprint()`` (parameters and buffers as stored) and the
process RSS before and after ``load_model`` (what the machine actually pays: weights, dequant
scratch, torch/transformers code). The app is ``app.py`` on a free 127.0.0.1 port over the demo
store; its RSS (with child processes) is sampled with psutil at start-up, idle, and while it
answers ``/api/recommend`` requests. Writes ``benchmarks/results/memory.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    demo_store,
    demo_users,
    environment,
    environment_markdown,
    load,
    table,
    write_results,
)

__all__ = ["model_memory", "app_memory", "run"]

log = logging.getLogger("benchmarks.memory")

TARGET_RATIO = 0.35
MIB = 2**20


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _malloc_trim() -> int | None:
    """Hand freed heap back to the OS (glibc) and return the RSS after; None elsewhere.

    Shows how much of the RSS is freed-but-kept memory from loading (e.g. the fp32 weights that
    nf4 quantisation reads and drops), i.e. what a trim after load would save."""
    from bot.llm.memory import release_freed_heap

    return _rss() if release_freed_heap() else None


def _one(quantization: str) -> dict[str, Any]:
    """In this process: load the default model once and report its memory (JSON on stdout)."""
    import gc

    import torch  # noqa: F401  (imported before the baseline so its code is not counted)
    import transformers  # noqa: F401

    from bot.llm.model import ModelConfig, ensure_default_model, load_model

    ensure_default_model()
    gc.collect()
    before = _rss()
    t0 = time.perf_counter()
    loaded = load_model(ModelConfig(quantization=quantization))
    load_s = time.perf_counter() - t0
    gc.collect()
    after = _rss()
    model = getattr(loaded, "model", loaded)
    with torch.inference_mode():  # touches every weight page (safetensors are mmapped lazily)
        model(**loaded.tokenizer("Hello there, what should I buy?", return_tensors="pt"))
    after_forward = _rss()
    trimmed = _malloc_trim()
    cache = _prefix_cache_cost(loaded)
    return {
        "quantization": quantization,
        "footprint_mib": round(model.get_memory_footprint() / MIB, 1),
        "rss_before_mib": round(before / MIB, 1),
        "rss_after_mib": round(after / MIB, 1),
        "rss_delta_mib": round((after - before) / MIB, 1),
        "rss_after_forward_delta_mib": round((after_forward - before) / MIB, 1),
        "rss_after_malloc_trim_delta_mib": round((trimmed - before) / MIB, 1) if trimmed else None,
        "load_s": round(load_s, 2),
        "prefix_cache": cache,
        "load_avg": load(),
    }


def _prefix_cache_cost(loaded: Any) -> dict[str, Any]:
    """Bytes the ranker's prefix cache keeps per prompt token, from one ranking prompt with a
    six-line history (what each returning customer's entry costs)."""
    from bot.llm.generation import TransformersGenerator
    from bot.llm.prefix_cache import token_cuts
    from bot.tasks.prompts import CandidateLine, HistoryLine, ranking_prompt_parts

    gen = TransformersGenerator(loaded)
    history = [
        HistoryLine(f"Moisture shampoo for dry hair, size {i}", 40 - i, "review", 4.0, "soft")
        for i in range(6)
    ]
    parts = ranking_prompt_parts(history, [CandidateLine(f"Item {i}", price=i) for i in range(20)])
    gen.score_choices(parts.text, parts.labels, breaks=parts.breaks)
    enc = gen.tokenizer(parts.text, add_special_tokens=False, return_offsets_mapping=True)
    cuts = token_cuts(enc["offset_mapping"], parts.breaks)
    stats = gen.prefix_cache.stats
    # the two entries hold the instruction prefix and instruction + history
    per_token = stats.bytes / max(1, cuts[0] + cuts[-1])
    return {
        "entries": stats.entries,
        "bytes": stats.bytes,
        "history_prefix_tokens": cuts[-1],
        "kib_per_token": round(per_token / 1024, 1),
        "budget_mib": loaded.config.prefix_cache_mib,
        "customers_in_budget": int(loaded.config.prefix_cache_mib * MIB // (per_token * cuts[-1])),
    }


def model_memory(quantization: str) -> dict[str, Any]:
    """Run :func:`_one` in a child process and return its measurements."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--one", quantization],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(f"loading {quantization} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


class _Sampler:
    """Samples the RSS of a process and its children every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self.last = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                self.last = sum(p.memory_info().rss for p in procs if p.is_running())
                self.peak = max(self.peak, self.last)
            except psutil.Error:
                pass
            time.sleep(self.every)

    def reset_peak(self) -> None:
        self.peak = self.last

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def app_memory(quantization: str, requests: int, backend: str = "auto") -> dict[str, Any]:
    """Start app.py over a copy of the demo store and sample its RSS while it serves."""
    import shutil
    import tempfile

    import httpx

    from tests.fixtures.chroma_server import free_port

    src = demo_store()
    with tempfile.TemporaryDirectory(prefix="nextneed-mem-") as tmp:
        store = Path(tmp) / "store"
        shutil.copytree(src, store, ignore=shutil.ignore_patterns(".nextneed.lock"))
        port = free_port()
        cmd = [
            sys.executable,
            "app.py",
            "--store",
            str(store),
            "--port",
            str(port),
            "--quantization",
            quantization,
            "--backend",
            backend,
        ]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        sampler = _Sampler(proc.pid)
        url = f"http://127.0.0.1:{port}"
        try:
            t0 = time.perf_counter()
            while True:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode()[-3000:] if proc.stderr else ""
                    raise RuntimeError(f"app.py exited with {proc.returncode}:\n{err}")
                try:
                    if httpx.get(url + "/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - t0 > 600:
                    raise RuntimeError("app.py did not answer /health within 600 s")
                time.sleep(0.5)
            start_s = time.perf_counter() - t0
            startup_peak = sampler.peak
            time.sleep(3)
            idle = sampler.last
            sampler.reset_peak()
            with httpx.Client(base_url=url, timeout=300) as client:
                users = demo_users()
                t1 = time.perf_counter()
                ok = 0
                for i in range(requests):
                    r = client.post(
                        "/api/recommend",
                        json={},
                        headers={"X-User-Id": users[i % len(users)]},
                    )
                    ok += r.status_code == 200
                serve_s = time.perf_counter() - t1
            serving_peak = sampler.peak
        finally:
            sampler.stop()
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    from bot.llm.model import ModelConfig

    return {
        "quantization": quantization,
        "backend": ModelConfig(backend=backend).backend,  # type: ignore[arg-type]
        "start_s": round(start_s, 1),
        "rss_startup_peak_mib": round(startup_peak / MIB, 1),
        "rss_idle_mib": round(idle / MIB, 1),
        "rss_serving_peak_mib": round(serving_peak / MIB, 1),
        "requests": requests,
        "requests_ok": ok,
        "mean_request_s": round(serve_s / max(1, requests), 2),
        "load_avg": load(),
    }


def run(
    quantizations: list[str],
    app: bool,
    app_quantization: str,
    requests: int,
    app_backend: str = "auto",
) -> dict[str, Any]:
    result: dict[str, Any] = {"environment": environment(), "models": {}, "app": None}
    for q in quantizations:
        log.info("loading the default model in %s", q)
        result["models"][q] = model_memory(q)
        log.info("%s: %s", q, result["models"][q])
    if app:
        result["app"] = app_memory(app_quantization, requests, app_backend)
        log.info("app: %s", result["app"])
    return result


def markdown(r: dict[str, Any]) -> str:
    models = r["models"]
    fp32 = models.get("fp32")
    rows = []
    for q, m in models.items():
        ratio = f"{m['footprint_mib'] / fp32['footprint_mib']:.0%}" if fp32 else "-"
        key = "rss_after_forward_delta_mib"
        rss_ratio = f"{m[key] / fp32[key]:.0%}" if fp32 else "-"
        rows.append(
            [
                q,
                m["footprint_mib"],
                ratio,
                m["rss_delta_mib"],
                m[key],
                rss_ratio,
                m["rss_after_malloc_trim_delta_mib"],
                m["load_s"],
                m["load_avg"][0],
            ]
        )
    lines = [
        "# Memory: default model and the serving app",
        "",
        environment_markdown(r["environment"]),
        "",
        f"Target: the 4-bit model takes <= {TARGET_RATIO:.0%} of the fp32 model's memory. "
        "RSS deltas are against the process before `load_model` (torch and transformers "
        "already imported); weights are mmapped, so the first forward pass is what makes them "
        "resident; malloc_trim shows heap that loading freed but the allocator kept.",
        "",
        table(
            [
                "quantization",
                "get_memory_footprint MiB",
                "vs fp32",
                "RSS delta after load MiB",
                "RSS delta after 1st forward MiB",
                "vs fp32",
                "… after malloc_trim MiB",
                "load s",
                "load 1-min",
            ],
            rows,
        ),
        "",
    ]
    if "nf4" in models and fp32:
        ratio = models["nf4"]["footprint_mib"] / fp32["footprint_mib"]
        lines += [
            f"nf4 / fp32 footprint: {ratio:.0%} (target {'met' if ratio <= TARGET_RATIO else 'NOT met'}).",
            "",
        ]
    cache_rows = [
        [
            q,
            m["prefix_cache"]["kib_per_token"],
            m["prefix_cache"]["history_prefix_tokens"],
            m["prefix_cache"]["budget_mib"],
            m["prefix_cache"]["customers_in_budget"],
        ]
        for q, m in models.items()
        if m.get("prefix_cache")
    ]
    if cache_rows:
        lines += [
            "## Prefix cache (ranking prompt key/values, `ModelConfig.prefix_cache_mib`)",
            "",
            "Key/values the ranker keeps per returning customer: the instruction prefix once, "
            "then instruction + history per customer (a six-line history here). The cache is "
            "an LRU bounded by its budget, on top of the figures above.",
            "",
            table(
                [
                    "quantization",
                    "KiB per token",
                    "history prefix tokens",
                    "budget MiB",
                    "customers in budget",
                ],
                cache_rows,
            ),
            "",
        ]
    if r.get("app"):
        a = r["app"]
        lines += [
            f"## The app serving (app.py, demo store, {a['quantization']}, "
            f"{a.get('backend', 'transformers')} backend)",
            "",
            table(
                [
                    "start-up s",
                    "RSS peak at start-up MiB",
                    "RSS idle MiB",
                    "RSS peak serving MiB",
                    "requests (ok)",
                    "mean s/request",
                    "load 1-min",
                ],
                [
                    [
                        a["start_s"],
                        a["rss_startup_peak_mib"],
                        a["rss_idle_mib"],
                        a["rss_serving_peak_mib"],
                        f"{a['requests']} ({a['requests_ok']})",
                        a["mean_request_s"],
                        a["load_avg"][0],
                    ]
                ],
            ),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quantizations", default="fp32,bf16,nf4")
    p.add_argument("--no-app", action="store_true")
    p.add_argument("--app-quantization", default="nf4", choices=["nf4", "bf16", "fp32"])
    p.add_argument("--app-backend", default="auto", choices=["auto", "transformers", "llamacpp"])
    p.add_argument("--requests", type=int, default=10)
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one)))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    qs = [q.strip() for q in args.quantizations.split(",") if q.strip()]
    result = run(qs, not args.no_app, args.app_quantization, args.requests, args.app_backend)
    write_results("memory", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
