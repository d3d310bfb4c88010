"""One embedded store path, one process: an advisory ``flock`` on ``<path>/.nextneed.lock``.

Chroma's SQLite and HNSW files are not safe to share between processes, and a second
PersistentClient on the same path silently sees a stale view, so a second process is refused
with a message that says how to share a store (a Chroma server).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from knowledge.errors import StoreError

__all__ = ["PathLock"]


class PathLock:
    """Process-wide, re-entrant within a process (several Store objects may share a path)."""

    _held: dict[str, tuple[int, int]] = {}
    _guard = threading.Lock()

    @classmethod
    def acquire(cls, path: Path) -> None:
        key = str(path.resolve())
        with cls._guard:
            if key in cls._held:
                fd, n = cls._held[key]
                cls._held[key] = (fd, n + 1)
                return
            path.mkdir(parents=True, exist_ok=True)
            fd = os.open(path / ".nextneed.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise StoreError(
                    f"the store at {path} is open in another process; stop it first, or run a "
                    f"Chroma server (`chroma run --path {path}`) and connect with --host/--port"
                ) from None
            cls._held[key] = (fd, 1)

    @classmethod
    def release(cls, path: Path) -> None:
        key = str(path.resolve())
        with cls._guard:
            if key not in cls._held:
                return
            fd, n = cls._held[key]
            if n > 1:
                cls._held[key] = (fd, n - 1)
                return
            del cls._held[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
