"""Load: concurrent chat sessions against the real server (FastAPI + Gradio, uvicorn) on
127.0.0.1, then a soak that samples the process memory (RSS) and fits its growth.

    python -m benchmarks.load                      # quick: 20 s per level, 60 s soak
    python -m benchmarks.load --soak-seconds 600   # the full 10-minute soak
    python -m benchmarks.load --model nf4          # with the default language model in 4-bit
    python -m benchmarks.load --model nf4 --soak-seconds 2400 --rank-weight 1   # the memory test

Every ``--checkpoint-seconds`` (120) the soak pauses its sessions and reads the memory the
process retains with no turn in flight; the warm-up (the prefix cache filling, the allocator's
pools growing) takes 5-10 minutes at 16 sessions, so a memory trend needs a longer soak.

Every session replays a short conversation (recommend, explain, describe, refine) as a
different demo user over ``/v1/chat/completions``. A 503 ``busy`` answer is the server's
explicit back-pressure (counted, not an error); anything else that is not a 200 is an error.
Bounded: each level stops after ``--level-seconds`` or ``--max-turns``, whichever comes first.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from benchmarks.common import (
    demo_store,
    demo_users,
    environment,
    environment_markdown,
    summary,
    table,
    write_results,
)
from bot.errors import ConfigError
from bot.llm.memory import DEFAULT_HEAP_ARENAS, limit_heap_arenas

log = logging.getLogger("benchmarks.load")
DIALOG = [
    "What should I get next?",
    "why the first one?",
    "tell me about the second one",
    "something cheaper",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    store_path: Path,
    embedder: str,
    max_concurrency: int,
    model: str = "none",
    prefix_cache_mib: int | None = None,
    rank_weight: float | None = None,
) -> tuple[str, Any, Any]:
    import uvicorn

    from bot.chat.assistant import Assistant, AssistantConfig
    from bot.recsys.pipeline import PipelineConfig
    from bot.serve import ServerConfig, create_app
    from knowledge.store import StoreConfig

    model_config = None
    if model != "none":
        from bot.llm.model import ModelConfig

        model_config = ModelConfig(quantization=model)  # type: ignore[arg-type]
        if prefix_cache_mib is not None:
            model_config = ModelConfig(
                quantization=model,  # type: ignore[arg-type]
                prefix_cache_mib=prefix_cache_mib,
            )
    assistant = Assistant.from_config(
        AssistantConfig(
            store=StoreConfig(path=str(store_path), embedder=embedder),
            model=model_config,
            pipeline=PipelineConfig(rank_weight=rank_weight),
        )
    )
    # the load test drives many sessions from one address: the per-caller rate limit (a
    # protection for a public server) would measure the limiter, not the server
    config = ServerConfig(
        mode="demo", trust_user_header=True, max_concurrency=max_concurrency, rate_per_s=0.0
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(assistant, config),
            host="127.0.0.1",
            port=port,
            log_level="error",
            timeout_keep_alive=30,  # as app.py serves
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return url, server, assistant
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def session(url: str, user: str, stop_at: float, budget: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"latency": [], "busy": 0, "errors": [], "turns": 0}
    history: list[dict[str, str]] = []
    with httpx.Client(base_url=url, headers={"X-User-Id": user}, timeout=120) as client:
        k = 0
        while time.monotonic() < stop_at:
            with lock:
                if budget["left"] <= 0:
                    break
                budget["left"] -= 1
            text = DIALOG[k % len(DIALOG)]
            if k % len(DIALOG) == 0:
                history = []
            t0 = time.perf_counter()
            try:
                resp = client.post(
                    "/v1/chat/completions",
                    json={"messages": [*history, {"role": "user", "content": text}]},
                )
            except httpx.HTTPError as exc:
                out["errors"].append(type(exc).__name__)
                continue
            dt = time.perf_counter() - t0
            if resp.status_code == 200:
                out["latency"].append(dt)
                out["turns"] += 1
                reply = resp.json()["choices"][0]["message"]["content"]
                history += [
                    {"role": "user", "content": text},
                    {"role": "assistant", "content": reply},
                ]
                k += 1
            elif resp.status_code == 503 and resp.json()["error"]["type"] == "busy":
                out["busy"] += 1
                time.sleep(float(resp.headers.get("Retry-After", "1")) / 4)
            else:
                out["errors"].append(f"{resp.status_code} {resp.text[:120]}")
    return out


lock = threading.Lock()


def _sessions(
    url: str, users: list[str], n: int, seconds: float, max_turns: int
) -> tuple[list[dict[str, Any]], float]:
    """``n`` sessions until ``seconds`` pass or ``max_turns`` are spent; each returns after its
    turn in flight, so when this returns no turn is running. The sessions and their wall time."""
    stop_at = time.monotonic() + seconds
    budget = {"left": max_turns}
    t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        parts = list(
            pool.map(lambda i: session(url, users[i % len(users)], stop_at, budget), range(n))
        )
    return parts, time.perf_counter() - t0


def run_level(url: str, users: list[str], n: int, seconds: float, max_turns: int) -> dict[str, Any]:
    parts, wall = _sessions(url, users, n, seconds, max_turns)
    return _level(parts, n, wall)


def _level(parts: list[dict[str, Any]], n: int, wall: float) -> dict[str, Any]:
    lat = [x for p in parts for x in p["latency"]]
    errors = [e for p in parts for e in p["errors"]]
    return {
        "sessions": n,
        "wall_s": round(wall, 1),
        "turns": sum(p["turns"] for p in parts),
        "turns_per_s": round(sum(p["turns"] for p in parts) / wall, 2),
        "latency": summary(lat),
        "busy": sum(p["busy"] for p in parts),
        "errors": len(errors),
        "error_samples": errors[:5],
    }


def soak(
    url: str,
    users: list[str],
    n: int,
    seconds: float,
    every: float,
    trace: bool = False,
    prefix_cache: Any = None,
    checkpoint_every: float = 0.0,
) -> dict[str, Any]:
    """Run ``n`` sessions for ``seconds`` while sampling the process RSS every ``every`` s.

    With ``trace``, Python's own heap (tracemalloc) is sampled beside the RSS and the sites that
    grew over the second half are listed: a flat Python heap under a rising RSS points at native
    memory (the allocator's arenas, Chroma's Rust core, torch), not at objects the code keeps.
    At the end, glibc's ``malloc_trim`` is called and the RSS read again: what it gives back was
    freed memory the allocator had kept, not a leak. With ``prefix_cache`` (the model's
    key/value cache of prompt prefixes, bounded by design) its bytes are sampled too, and the
    RSS without them is fitted: what grows while the bounded cache fills is not a leak.

    With ``checkpoint_every`` > 0 the sessions stop every that many seconds; with no turn in
    flight, ``gc.collect()`` and ``malloc_trim(0)`` run and the RSS is read (a quiesced
    checkpoint), then new sessions start. Those readings, less the prefix cache, are the memory
    the process retains: the RSS between turns also holds freed memory glibc has not returned,
    which rises and falls with the traffic. Their trend is the test for a leak."""
    import gc
    import tracemalloc

    from bot.llm.memory import release_freed_heap

    proc = psutil.Process()
    samples: list[tuple[float, float, float, float]] = []
    checkpoints: list[tuple[float, float, float]] = []
    parts_at: list[dict[str, float]] = []  # per checkpoint: anonymous/file RSS, Python objects
    types_at: dict[str, Counter[str]] = {}  # Python objects by type: halfway and at the end
    done = threading.Event()
    if trace:
        tracemalloc.start(1)

    def cached_mib() -> float:
        return prefix_cache.stats.bytes / 2**20 if prefix_cache is not None else 0.0

    def checkpoint() -> None:
        gc.collect()
        release_freed_heap()
        rss_now = proc.memory_info().rss / 2**20
        checkpoints.append((time.monotonic() - t0, rss_now, cached_mib()))
        objects = gc.get_objects()
        parts_at.append({**rss_parts(), "python_objects": len(objects)})
        # objects by type only where they are compared: halfway and at the end
        half = "half" not in types_at and checkpoints[-1][0] >= seconds / 2
        if half or checkpoints[-1][0] >= seconds:
            types = Counter(type(o).__qualname__ for o in objects)
            if half:
                types_at["half"] = types
            types_at["end"] = types
        del objects

    def sample() -> None:
        while not done.is_set():
            heap = tracemalloc.get_traced_memory()[0] / 2**20 if trace else 0.0
            cached = cached_mib()
            rss_now = proc.memory_info().rss / 2**20
            samples.append((time.monotonic() - t0, rss_now, heap, cached))
            done.wait(every)

    halfway: list[Any] = []

    def snapshot_at_half() -> None:
        if not done.wait(seconds / 2) and trace:
            halfway.append(tracemalloc.take_snapshot())

    t0 = time.monotonic()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    half_thread = threading.Thread(target=snapshot_at_half, daemon=True)
    half_thread.start()
    parts: list[dict[str, Any]] = []
    if checkpoint_every > 0:
        checkpoint()
    while (left := seconds - (time.monotonic() - t0)) > 0:
        got, _ = _sessions(url, users, n, min(checkpoint_every or left, left), 10**9)
        parts += got
        if checkpoint_every > 0:
            checkpoint()
    if checkpoint_every > 0 and checkpoints[-1][0] < seconds:
        checkpoint()  # a segment's sessions can end a moment early: the last reading is at the end
    level = _level(parts, n, time.monotonic() - t0)
    done.set()
    sampler.join()
    half_thread.join()
    growth: list[dict[str, Any]] = []
    if trace and halfway:
        end = tracemalloc.take_snapshot()
        for stat in end.compare_to(halfway[0], "lineno")[:12]:
            frame = stat.traceback[0]
            growth.append(
                {
                    "site": f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}",
                    "kib": round(stat.size_diff / 1024, 1),
                    "blocks": stat.count_diff,
                }
            )
    if trace:
        tracemalloc.stop()
    gc.collect()
    rss_before_trim = proc.memory_info().rss / 2**20
    trimmed = release_freed_heap()
    rss_after_trim = proc.memory_info().rss / 2**20
    t = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples])
    heap = np.array([s[2] for s in samples])
    cache = np.array([s[3] for s in samples])
    half = len(t) // 2

    def fit(y: Any, part: slice) -> float:
        return float(np.polyfit(t[part], y[part], 1)[0]) * 60 if len(t[part]) > 2 else 0.0

    out = {
        **level,
        "seconds": seconds,
        "rss_mib": {
            "start": round(float(rss[0]), 1),
            "end": round(float(rss[-1]), 1),
            "max": round(float(rss.max()), 1),
            "after_gc": round(rss_before_trim, 1),
            "after_malloc_trim": round(rss_after_trim, 1) if trimmed else None,
        },
        "rss_slope_mib_per_min": round(fit(rss, slice(None)), 2),
        "rss_slope_second_half_mib_per_min": round(fit(rss, slice(half, None)), 2),
        # the floor: RSS between model turns, without their transient activations
        "rss_floor": floor_trend(t, rss),
        "samples": [[round(a, 1), round(b, 1), round(d, 1)] for a, b, _, d in samples],
    }
    if checkpoints:
        ct, crss, ccache = (np.array(c) for c in zip(*checkpoints, strict=True))
        retained = crss - ccache  # what the process keeps, less the bounded prefix cache
        out["quiesced"] = {
            "every_s": checkpoint_every,
            "t_s": [round(float(v), 1) for v in ct],
            "rss_mib": [round(float(v), 1) for v in crss],
            "prefix_cache_mib": [round(float(v), 1) for v in ccache],
            "retained_mib": [round(float(v), 1) for v in retained],
            **trend(ct, retained),
            # the first reading comes before the soak's load; from the second on, after it
            "after_first": trend(ct[1:], retained[1:])
            | {"ci95_mib_per_min": _slope_interval(ct[1:], retained[1:])},
            # heap and other private memory vs mapped files (weights, Chroma's files), and the
            # number of objects Python's collector tracks: which of them moves
            "parts": {k: [p.get(k) for p in parts_at] for k in parts_at[0]},
            "python_types_growth_second_half": _type_growth(types_at),
        }
    if prefix_cache is not None:
        rest = rss - cache
        out["prefix_cache_mib"] = {
            "limit": round(prefix_cache.max_bytes / 2**20, 1),
            "start": round(float(cache[0]), 1),
            "end": round(float(cache[-1]), 1),
            "evictions": prefix_cache.stats.evictions,
        }
        out["rss_without_prefix_cache_mib"] = {
            "start": round(float(rest[0]), 1),
            "end": round(float(rest[-1]), 1),
            "slope_mib_per_min": round(fit(rest, slice(None)), 2),
            "slope_second_half_mib_per_min": round(fit(rest, slice(half, None)), 2),
            "floor": floor_trend(t, rest),
        }
    if trace:
        out["python_heap_mib"] = {
            "start": round(float(heap[0]), 1),
            "end": round(float(heap[-1]), 1),
            "slope_mib_per_min": round(fit(heap, slice(None)), 3),
            "slope_second_half_mib_per_min": round(fit(heap, slice(half, None)), 3),
        }
        out["python_heap_growth_second_half"] = growth
    return out


def _type_growth(types_at: dict[str, Counter[str]], top: int = 10) -> list[list[Any]]:
    """The object types whose count grew most from the halfway checkpoint to the last."""
    if "half" not in types_at:
        return []
    diff = types_at["end"].copy()
    diff.subtract(types_at["half"])
    return [[name, n] for name, n in diff.most_common(top) if n > 0]


def rss_parts() -> dict[str, float]:
    """This process's resident memory split as Linux reports it (``/proc/self/status``):
    anonymous (heap, arenas, tensors) and file-backed (mapped files) MiB; empty elsewhere."""
    out: dict[str, float] = {}
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile"):
            out[key.lower().replace("rss", "") + "_mib"] = round(int(value.split()[0]) / 1024, 1)
    return out


def floor_trend(t: Any, y: Any, window: float = 60.0) -> dict[str, Any]:
    """The lowest value in each ``window`` seconds and its linear trend (MiB/min) over the
    soak and over its second half. The RSS swings by hundreds of MiB with the activations of
    the model turns in flight; the floor between them is where retained memory shows. A last,
    partial window (the soak's final seconds, when sessions stop) is left out."""
    t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
    x, lows = [], []
    end = float(t.max()) if t.size else 0.0
    step = float(np.median(np.diff(t))) if t.size > 1 else 0.0  # the sampling interval
    for start in np.arange(0.0, end - window + step + 1e-9, window):  # whole windows only
        inside = (t >= start) & (t < start + window)
        if inside.sum() >= 3:
            x.append(start + window / 2)
            lows.append(float(y[inside].min()))
    return {"window_s": window, "floors_mib": [round(v, 1) for v in lows], **trend(x, lows)}


def trend(x: Any, y: Any) -> dict[str, Any]:
    """Least-squares slopes of ``y`` (MiB) over ``x`` (seconds), per minute: over all points and
    over the second half, with the second half's 95% interval. The second half is past the
    warm-up (caches filling): its interval says whether memory still grows."""
    x, y = [float(v) for v in x], [float(v) for v in y]
    half = len(x) // 2

    def slope(part: slice) -> float | None:
        xs, ys = x[part], y[part]
        return round(float(np.polyfit(xs, ys, 1)[0]) * 60, 2) if len(xs) > 2 else None

    return {
        "slope_mib_per_min": slope(slice(None)),
        "slope_second_half_mib_per_min": slope(slice(half, None)),
        "slope_second_half_ci95_mib_per_min": _slope_interval(x[half:], y[half:]),
    }


def _slope_interval(x: Sequence[float], y: Sequence[float]) -> list[float] | None:
    """95% interval (Student t) of a least-squares slope, per minute; None under 4 points."""
    from scipy import stats

    if len(x) < 4:
        return None
    fit = stats.linregress(np.asarray(x) / 60.0, np.asarray(y))
    half_width = float(stats.t.ppf(0.975, len(x) - 2)) * float(fit.stderr)
    return [round(float(fit.slope) - half_width, 2), round(float(fit.slope) + half_width, 2)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--level-seconds", type=float, default=20.0)
    p.add_argument("--max-turns", type=int, default=400, help="per level")
    p.add_argument("--soak-seconds", type=float, default=60.0)
    p.add_argument("--soak-sessions", type=int, default=16)
    p.add_argument(
        "--checkpoint-seconds",
        type=float,
        default=120.0,
        help="pause the soak's sessions this often, gc + malloc_trim, read the RSS with no turn "
        "in flight (default %(default)s; 0: never)",
    )
    p.add_argument("--embedder", default="minilm")
    p.add_argument(
        "--trace-python",
        action="store_true",
        help="also sample Python's heap (tracemalloc) in the soak and list the sites that grew",
    )
    p.add_argument("--max-concurrency", type=int, default=2, help="the server's gate (default 2)")
    p.add_argument(
        "--model",
        choices=["none", "nf4", "fp32", "bf16"],
        default="none",
        help="the default language model in this precision (default: none, rules + retrieval)",
    )
    p.add_argument(
        "--prefix-cache-mib",
        type=int,
        default=None,
        help="the model's prefix key/value cache bound (default: ModelConfig's 256)",
    )
    p.add_argument(
        "--rank-weight",
        type=float,
        default=None,
        help="the LLM ranker's weight (default: the product's; 1 runs the ranker on every turn)",
    )
    p.add_argument(
        "--heap-arenas",
        type=int,
        default=DEFAULT_HEAP_ARENAS,
        help="glibc malloc arena cap, as app.py sets it (default %(default)s; 0 = glibc's own)",
    )
    p.add_argument(
        "--name",
        default=None,
        help="results file name (default: load, or load-<model> with a model)",
    )
    args = p.parse_args()
    if not 0 < args.soak_seconds <= 3600 or not 0 < args.level_seconds <= 600:
        p.error("--soak-seconds must be within 0..3600 and --level-seconds within 0..600")
    if not 0 <= args.checkpoint_seconds <= args.soak_seconds:
        p.error("--checkpoint-seconds must be within 0..--soak-seconds (0: no checkpoints)")
    try:
        arenas_set = limit_heap_arenas(args.heap_arenas)  # as app.py does, before any thread
    except ConfigError as exc:
        p.error(f"--heap-arenas: {exc}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    env = environment()
    work = Path(tempfile.mkdtemp(prefix="nextneed-load-"))
    try:
        store = work / "store"
        shutil.copytree(demo_store(args.embedder), store)  # feedback turns write: use a copy
        users = demo_users(args.embedder)
        url, server, assistant = start(
            store,
            args.embedder,
            args.max_concurrency,
            args.model,
            args.prefix_cache_mib,
            args.rank_weight,
        )
        prefix_cache = getattr(assistant.generator, "prefix_cache", None)
        run_level(url, users, 2, 5, 20)  # warm-up (caches, first embeddings)
        levels = []
        for n in args.levels:
            log.info("level %d sessions", n)
            levels.append(run_level(url, users, n, args.level_seconds, args.max_turns))
            log.info("  %s", {k: v for k, v in levels[-1].items() if k != "error_samples"})
        log.info("soak: %d sessions for %.0fs", args.soak_sessions, args.soak_seconds)
        soaked = soak(
            url,
            users,
            args.soak_sessions,
            args.soak_seconds,
            every=2.0,
            trace=args.trace_python,
            prefix_cache=prefix_cache,
            checkpoint_every=args.checkpoint_seconds,
        )
        server.should_exit = True
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model_text = (
        "none (rules, retrieval and candidate models; no language model)"
        if args.model == "none"
        else f"default model (SmolLM2-135M-Instruct) in {args.model}: LLM ranker, model routing, "
        "generated descriptions"
    )
    result = {
        "environment": env,
        "setup": {
            "server": "bot.serve.server.create_app under uvicorn, 127.0.0.1, in this process",
            "store": f"demo store (knowledge.demo, seed 0), {args.embedder} embedder, a copy",
            "model": model_text,
            "gate": f"max_concurrency={args.max_concurrency}, busy_wait_s=3.0",
            "dialog": DIALOG,
            "level_seconds": args.level_seconds,
            "max_turns_per_level": args.max_turns,
            "heap_arenas": args.heap_arenas if arenas_set else "glibc default",
        },
        "levels": levels,
        "soak": soaked,
    }
    rows = [
        [
            lv["sessions"],
            lv["turns"],
            lv["turns_per_s"],
            lv["latency"].get("p50_ms", "-"),
            lv["latency"].get("p95_ms", "-"),
            lv["busy"],
            lv["errors"],
        ]
        for lv in levels
    ]
    s = soaked
    short = (
        " (shortened soak: the full run is --soak-seconds 600)" if args.soak_seconds < 600 else ""
    )
    rerun = "python -m benchmarks.load " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items()
        if v is not None and v is not False and p.get_default(k) != v
    ).replace(" True", "")
    md = f"""# Load: concurrent chat sessions on the real server

{environment_markdown(env)}

Server: `bot.serve.server` (FastAPI + Gradio) under uvicorn on 127.0.0.1, gate
max_concurrency={args.max_concurrency} with a 3 s wait before answering 503 `busy`. Store: the
demo shop ({args.embedder} embedder). Model: {model_text}.
Prefix cache bound: {args.prefix_cache_mib if args.prefix_cache_mib is not None else "default"} MiB.
LLM ranker weight: {args.rank_weight if args.rank_weight is not None else "the product's default"}.
glibc malloc arenas: {result["setup"]["heap_arenas"]} (app.py `--heap-arenas`).
Each session replays: {" / ".join(DIALOG)}. Levels run {args.level_seconds:.0f} s or
{args.max_turns} turns each. Rerun: `{rerun}`.

{table(["sessions", "completed turns", "turns/s", "p50 ms", "p95 ms", "rejected busy", "errors"], rows)}

Errors other than explicit 503 busy: {sum(lv["errors"] for lv in levels) + s["errors"]}.

## Soak{short}

{s["sessions"]} sessions for {s["seconds"]:.0f} s: {s["turns"]} turns, p50 {s["latency"].get("p50_ms")} ms,
p95 {s["latency"].get("p95_ms")} ms, {s["busy"]} busy, {s["errors"]} errors.
RSS of the process (the server and the load clients share it): {s["rss_mib"]["start"]} MiB at start, {s["rss_mib"]["end"]} MiB at the
end, max {s["rss_mib"]["max"]} MiB; linear fit {s["rss_slope_mib_per_min"]} MiB/min over the whole
soak, {s["rss_slope_second_half_mib_per_min"]} MiB/min over its second half. After the soak:
{s["rss_mib"]["after_gc"]} MiB after `gc.collect()`, {s["rss_mib"]["after_malloc_trim"]} MiB after
glibc `malloc_trim(0)` (memory the allocator had kept after it was freed).
The RSS floor (lowest RSS per {s["rss_floor"]["window_s"]:.0f} s, between model turns): {_floors(s["rss_floor"])}.
{_cache_markdown(s)}{_quiesced_markdown(s)}{_heap_markdown(s)}"""
    name = args.name or ("load" if args.model == "none" else f"load-{args.model}")
    write_results(name, result, md)


def _cache_markdown(s: dict[str, Any]) -> str:
    cache = s.get("prefix_cache_mib")
    if not cache:
        return ""
    rest = s["rss_without_prefix_cache_mib"]
    return f"""
The model's prefix key/value cache (bounded at {cache["limit"]} MiB) held {cache["start"]} MiB at
the start of the soak and {cache["end"]} MiB at its end ({cache["evictions"]} evictions). RSS
less those bytes: {rest["start"]} -> {rest["end"]} MiB; linear fit {rest["slope_mib_per_min"]}
MiB/min over the soak, {rest["slope_second_half_mib_per_min"]} MiB/min over its second half; its
floor: {_floors(rest["floor"])}.
"""


def _quiesced_markdown(s: dict[str, Any]) -> str:
    q = s.get("quiesced")
    if not q:
        return ""
    shown = ", ".join(f"{v:.0f}" for v in q["retained_mib"])
    return f"""
Quiesced checkpoints (every {q["every_s"]:.0f} s the sessions stopped; with no turn in flight,
`gc.collect()` + `malloc_trim(0)`, then the RSS was read; new sessions followed). RSS less the
prefix cache at the {len(q["retained_mib"])} checkpoints: {shown} MiB. {_slopes(q)}.
{_after_first(q.get("after_first"))}
{_parts_markdown(q.get("parts", {}))}{_types_markdown(q.get("python_types_growth_second_half"))}
This is the memory the process retains; the floor above also holds freed memory that glibc keeps
while turns run (and, with checkpoints, dips after each trim).
"""


def _after_first(f: dict[str, Any] | None) -> str:
    """The retained memory's trend from the second checkpoint on (the first precedes the load)."""
    if not f or f.get("ci95_mib_per_min") is None:
        return ""
    lo, hi = f["ci95_mib_per_min"]
    verdict = _verdict(lo, hi)
    return (
        f"From the second checkpoint on (under load): {f['slope_mib_per_min']} MiB/min "
        f"(95% interval {lo} to {hi}: {verdict})."
    )


def _parts_markdown(parts: dict[str, list[Any]]) -> str:
    """First, middle and last checkpoint of each part of the quiesced memory."""
    names = {
        "anon_mib": "anonymous RSS (MiB)",
        "file_mib": "file-backed RSS (MiB)",
        "python_objects": "objects Python's collector tracks",
    }
    shown = {label: v for key, label in names.items() if (v := parts.get(key)) and None not in v}
    if not shown:
        return ""
    n = len(next(iter(shown.values())))
    picks = sorted({0, n // 2, n - 1})  # first, middle, last
    which = "first, middle and last" if len(picks) == 3 else "first and last"
    said = [f"{label} " + " -> ".join(str(v[i]) for i in picks) for label, v in shown.items()]
    return f"At the {which} checkpoints: " + "; ".join(said) + "."


def _types_markdown(growth: list[list[Any]] | None) -> str:
    if not growth:
        return ""
    said = ", ".join(f"{name} +{n}" for name, n in growth)
    return f" Python object types that grew most from the halfway checkpoint to the last: {said}."


def _verdict(lo: float, hi: float) -> str:
    """What a slope's 95% interval says: growth, decline, or neither detected."""
    if lo > 0:
        return "excludes 0: growing"
    if hi < 0:
        return "excludes 0: falling"
    return "includes 0: no trend detected"


def _slopes(f: dict[str, Any]) -> str:
    if f["slope_mib_per_min"] is None:
        return "Too few points for a trend"
    ci = f.get("slope_second_half_ci95_mib_per_min")
    second = f"{f['slope_second_half_mib_per_min']} MiB/min over its second half"
    if ci:
        verdict = _verdict(*ci)
        second += f" (95% interval {ci[0]} to {ci[1]}: {verdict})"
    return f"Trend {f['slope_mib_per_min']} MiB/min over the soak, {second}"


def _floors(f: dict[str, Any]) -> str:
    shown = ", ".join(f"{v:.0f}" for v in f["floors_mib"])
    slopes = _slopes(f)
    return f"{shown} MiB; {slopes[:1].lower()}{slopes[1:]}"


def _heap_markdown(s: dict[str, Any]) -> str:
    heap = s.get("python_heap_mib")
    if not heap:
        return ""
    rows = [[g["site"], g["kib"], g["blocks"]] for g in s["python_heap_growth_second_half"]]
    return f"""
Python heap (tracemalloc, `--trace-python`): {heap["start"]} MiB at start, {heap["end"]} MiB at
the end; {heap["slope_mib_per_min"]} MiB/min over the soak, {heap["slope_second_half_mib_per_min"]}
MiB/min over its second half. Sites that grew most over the second half:

{table(["site", "KiB", "blocks"], rows)}
"""


if __name__ == "__main__":
    main()
