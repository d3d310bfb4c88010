"""Process memory housekeeping for model serving: glibc heap arenas and returning freed heap.

Model calls allocate and free large activation buffers, often from worker threads; glibc keeps
freed memory in per-thread arenas. These helpers cap the arenas and hand freed pages back.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from bot.errors import ConfigError

__all__ = [
    "DEFAULT_HEAP_ARENAS",
    "FreedMemory",
    "limit_heap_arenas",
    "release_freed_heap",
    "cpu_name",
]


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo), for result files and model cards."""
    import platform
    from pathlib import Path

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load_glibc(name: str) -> Any:
    try:
        import ctypes

        return getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):  # not glibc: nothing to call
        return None


_MALLOC_TRIM = _load_glibc("malloc_trim")
_MALLOPT = _load_glibc("mallopt")
_M_ARENA_MAX = -8  # glibc malloc.h
# 0 keeps glibc's default. A 20-minute soak with 2 arenas (benchmarks/results/
# load-nf4-soak-arenas.md) lowered the peak RSS but not the trend of its floor.
DEFAULT_HEAP_ARENAS = 0


def limit_heap_arenas(arenas: int = DEFAULT_HEAP_ARENAS) -> bool:
    """Cap glibc's malloc arenas (``mallopt(M_ARENA_MAX, arenas)``) for this process.

    glibc gives threads their own arenas, up to 8 per core. A server runs its model calls on
    whichever worker thread is free, so the activations of successive calls are allocated and
    freed in different arenas, and memory freed in one arena is not reused by a thread bound to
    another. Few arenas mean the freed buffers are found again. Call it at start-up, before
    worker threads exist: glibc fixes its arena limit when it first needs one more arena than
    its default test count. ``arenas=0`` or ``MALLOC_ARENA_MAX`` in the environment (which
    glibc reads itself) leave glibc's own setting. False where nothing was set."""
    if arenas < 0:
        raise ConfigError(f"heap arenas must be >= 0 (0 keeps glibc's default), got {arenas!r}")
    if arenas == 0 or _MALLOPT is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(_MALLOPT(_M_ARENA_MAX, arenas))


def release_freed_heap() -> bool:
    """Ask glibc to hand freed heap pages back to the system (``malloc_trim(0)``); False where
    there is no glibc and nothing was done."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True


class FreedMemory:
    """Returns heap that model calls freed to the system, at most once every ``every_s``.

    Each model call allocates and frees activation buffers, often from worker threads; glibc
    keeps freed memory in per-thread arenas, so a serving process's RSS climbs with traffic
    although nothing is kept (benchmarks/results/load-nf4.md: +40 MiB/min over a 10-minute
    soak while Python's heap grew 5 MiB, and ``malloc_trim(0)`` took the RSS below where it
    started). ``maybe_release`` calls ``malloc_trim(0)`` when the interval has passed; where
    there is no glibc it does nothing."""

    def __init__(self, every_s: float = 30.0, clock: Any = time.monotonic) -> None:
        if not every_s >= 0:
            raise ConfigError(f"FreedMemory.every_s must be >= 0, got {every_s!r}")
        self.every_s = every_s
        self.clock = clock
        self.last: float | None = None
        self.releases = 0
        self._lock = threading.Lock()

    def maybe_release(self) -> bool:
        """Trim now if ``every_s`` has passed since the last trim; True when it trimmed."""
        with self._lock:
            now = self.clock()
            if _MALLOC_TRIM is None or (self.last is not None and now - self.last < self.every_s):
                return False
            self.last = now
            release_freed_heap()
            self.releases += 1
            return True
