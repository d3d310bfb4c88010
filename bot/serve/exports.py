"""Data exports of the web UI, kept private and short-lived.

Gradio can only offer a download from a file, and by default it copies such files into its
upload folder (``/tmp/gradio``), which every Gradio server on the machine shares and serves to
anyone who knows the path. nextneed's exports instead live in one private directory per server
instance (mode 0700, files 0600, each in a random 128-bit folder), which is the download
component's cache, so Gradio never copies them. A file is deleted

- after its first complete download (the server's guard sees the response end),
- when it is older than ``max_age_s`` (checked on every export and purge),
- when its customer is forgotten, and
- with the whole directory when the server shuts down (or the process exits).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

__all__ = ["ExportFiles"]

log = logging.getLogger(__name__)


class ExportFiles:
    """A private directory of one server instance's export files."""

    def __init__(self, max_age_s: float = 600.0) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="nextneed-exports-")).resolve()  # mode 0700
        self.max_age_s = max_age_s
        self._files: dict[Path, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def write(self, user: str, data: Any) -> str:
        """Write ``data`` as ``nextneed-<user>.json`` in a fresh random folder; its path."""
        self.sweep()
        folder = self.path / secrets.token_hex(16)
        folder.mkdir(mode=0o700)
        path = folder / f"nextneed-{user}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False, default=str)
        with self._lock:
            self._files[path] = (user, time.monotonic())
        return str(path)

    def holds(self, path: str | Path) -> bool:
        """Whether ``path`` is one of this instance's export files."""
        try:
            resolved = Path(path).resolve()
        except (OSError, ValueError):
            return False
        with self._lock:
            return resolved in self._files

    def remove(self, path: str | Path) -> None:
        """Delete one export file (after its download)."""
        resolved = Path(path).resolve()
        with self._lock:
            self._files.pop(resolved, None)
        _unlink(resolved)

    def purge(self, user: str | None = None) -> int:
        """Delete every export of ``user`` (all when None) and every expired one; how many."""
        now = time.monotonic()
        with self._lock:
            doomed = [
                p
                for p, (who, made) in self._files.items()
                if user is None or who == user or now - made > self.max_age_s
            ]
            for p in doomed:
                del self._files[p]
        for p in doomed:
            _unlink(p)
        return len(doomed)

    def sweep(self) -> int:
        """Delete expired exports."""
        return self.purge(user="\x00none")  # no customer id holds a NUL

    def close(self) -> None:
        """Delete the directory and everything in it."""
        with self._lock:
            self._files.clear()
        self._finalizer()


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
        path.parent.rmdir()
    except OSError as exc:  # a second download racing the first; the sweep retries
        log.debug("export %s: %s", path, exc)
