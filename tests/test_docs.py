"""Docs that run: every ``bash`` and ``python`` block in README.md and docs/*.md, verbatim,
against a real server on the demo shop.

The only change made to a block is its address: ``http://127.0.0.1:7860`` becomes the test
server's (a free port, so a running ``make demo`` is never disturbed). Blocks fenced as
```` ```bash no-run ```` (they start servers, install, or need the reader's own files) and
untagged blocks (diagrams, usage lines) are not run; ``test_every_runnable_block_is_collected``
keeps that list honest. The README's Python API example loads the default model, so it runs
with the ``slow`` tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import RunningServer, start_server

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^( *)```([^\n`]*)\n(.*?)^\1```", re.M | re.S)
RUNNABLE = ("bash", "sh", "python")
ADDRESS = "http://127.0.0.1:7860"


def doc_blocks() -> list[tuple[str, str, str]]:
    """(where, language, code) of every block meant to run."""
    out = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            info = m.group(2).split()
            if not info or info[0] not in RUNNABLE or "no-run" in info[1:]:
                continue
            line = text[: m.start()].count("\n") + 1
            out.append((f"{path.name}:{line}", info[0], textwrap.dedent(m.group(3))))
    return out


BLOCKS = doc_blocks()


def _param(where: str, lang: str, code: str) -> Any:
    slow = "ModelConfig(" in code  # loads the default language model
    return pytest.param(lang, code, id=where, marks=[pytest.mark.slow] if slow else [])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        ANONYMIZED_TELEMETRY="False",
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    )
    return env


def _demo_store(work: Path, embedder: str) -> Path:
    """The demo shop as ``make demo`` builds it (today's reference date) at
    ``work/.nextneed/demo-store``, the path the README's example opens."""
    from bot.evaluate.runner import build_demo_store

    store = build_demo_store(work / "build", embedder=embedder)
    (work / ".nextneed").mkdir(exist_ok=True)
    shutil.move(str(store), str(work / ".nextneed" / "demo-store"))
    return work / ".nextneed" / "demo-store"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A demo-mode server (as ``make demo`` runs it, without the language model and with the
    hashing embedder, which keeps this test to a minute) over the demo shop."""
    from bot.chat.assistant import Assistant, AssistantConfig
    from bot.serve import ServerConfig
    from knowledge.store import StoreConfig

    store = _demo_store(tmp_path_factory.mktemp("docs-server"), "hashing")
    assistant = Assistant.from_config(
        AssistantConfig(store=StoreConfig(path=str(store), embedder="hashing"), model=None)
    )
    running = start_server(
        assistant, ServerConfig(mode="demo", trust_user_header=True, rate_per_s=0)
    )
    yield running
    running.stop()
    assistant.store.close()


def test_every_runnable_block_is_collected() -> None:
    where = {w for w, _l, _c in BLOCKS}
    # the ones the issue named: curl, the OpenAI SDK, gradio_client, the Python API
    assert {"embedding.md", "README.md"} <= {w.split(":")[0] for w in where}
    codes = "\n".join(c for _w, _l, c in BLOCKS)
    for needle in ("curl ", "from openai import OpenAI", "gradio_client", "Assistant.from_config"):
        assert needle in codes, needle
    assert "carol" not in codes  # not a demo customer


@pytest.mark.parametrize(("lang", "code"), [_param(*b) for b in BLOCKS])
def test_doc_block_runs_verbatim(
    lang: str, code: str, server: RunningServer, tmp_path: Path
) -> None:
    if ".nextneed/demo-store" in code:  # the README's Python API: the real embedder's store
        _demo_store(tmp_path, "minilm")
    code = code.replace(ADDRESS, server.url)
    if lang == "python":
        cmd = [sys.executable, "-c", code]
    else:
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    done = subprocess.run(
        cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    # an HTTP error body ({"error": {...}}) is a failed example even when curl exits 0
    assert '"error"' not in done.stdout, done.stdout[-3000:]
    assert done.stdout.strip(), "the example printed nothing"
