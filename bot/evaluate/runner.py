"""Run scripted dialogs against an in-process Assistant or a running nextneed server.

Dialogs are isolated from each other: events a dialog adds (its setup, feedback it gives) are
removed when it ends, and a new user starts from an empty history. Checks compare replies with
facts read from the store, never with what the assistant says about itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from bot.evaluate.checks import PrivateData, TurnContext, run_checks
from bot.evaluate.dialogs import Dialog, SetupEvent, load_dialogs
from bot.evaluate.report import DialogResult, RunResult, TurnResult
from bot.recsys.pipeline import PipelineConfig, RecommendationPipeline
from bot.reply import Reply
from knowledge.errors import ConfigError, NextNeedError
from knowledge.schema import Event, Item
from knowledge.store import Store, StoreConfig

__all__ = [
    "RunConfig",
    "Target",
    "AssistantTarget",
    "HttpTarget",
    "DialogRunner",
    "EvaluateConfig",
    "evaluate",
    "build_demo_store",
    "copy_store",
    "open_assistant",
    "NEW_USER_OPENING",
    "DIALOG_REFERENCE",
    "dialog_clock",
]

log = logging.getLogger(__name__)

DAY = 86_400
# What a new user says first when the dialog gives their preferences: the assistant asks (cold
# start), then the preferences are the answer. Both are recorded as setup turns.
NEW_USER_OPENING = "Hi, I'm new here."
# The demo shop the dialogs are written for is generated for this reference date, and the
# assistant's clock reads noon of that day: the dates the dialogs quote stay true.
DIALOG_REFERENCE = dt.date(2025, 6, 30)


def dialog_clock() -> float:
    """Noon (UTC) of ``DIALOG_REFERENCE``: the pinned "now" of dialog runs on the demo shop."""
    day = DIALOG_REFERENCE
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()


@dataclass(frozen=True)
class RunConfig:
    """How dialogs are run."""

    seed: int = 0
    progress: bool = True
    check_private_data: bool = True  # index other users' data for no_other_user_data

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ConfigError(f"RunConfig.seed must be >= 0, got {self.seed}")


class Target(Protocol):
    """Where replies come from: an Assistant object or a server over HTTP."""

    name: str

    def chat(self, user_id: str, message: str, history: list[dict[str, Any]]) -> Reply: ...

    def user_events(self, user_id: str) -> list[Event]: ...

    def begin(self, dialog: Dialog, user_id: str) -> str:
        """Prepare the dialog's user; returns a reason to skip, or ''."""
        ...

    def end(self, dialog: Dialog, user_id: str) -> None: ...


def _setup_event(user_id: str, ev: SetupEvent, clock: int, order: int) -> Event:
    return Event(
        user_id,
        ev.item,
        ev.kind,
        int(clock - ev.days_ago * DAY),
        order,
        rating=ev.rating,
        text=ev.text,
        detail=ev.detail,
        source="dialog-setup",
    )


class AssistantTarget:
    """An in-process :class:`bot.chat.assistant.Assistant` (and its store)."""

    name = "in-process"

    def __init__(self, assistant: Any) -> None:
        self.assistant = assistant
        self.store = assistant.store
        self._before: dict[str, set[str]] = {}

    def chat(self, user_id: str, message: str, history: list[dict[str, Any]]) -> Reply:
        reply: Reply = self.assistant.chat(user_id, message, history)
        return reply

    def user_events(self, user_id: str) -> list[Event]:
        return list(self.store.history(user_id))

    def begin(self, dialog: Dialog, user_id: str) -> str:
        if dialog.user.new:
            self.store.delete_user(user_id)
        self._before[user_id] = {e.event_id for e in self.store.history(user_id)}
        if dialog.setup:
            missing = [ev.item for ev in dialog.setup if not self.store.has_item(ev.item)]
            if missing:
                return f"setup names items not in the catalog: {missing}"
            clock = self.assistant.pipeline.clock or int(time.time())
            self.store.add_events(
                _setup_event(user_id, ev, clock, 10**9 + n) for n, ev in enumerate(dialog.setup)
            )
        return ""

    def end(self, dialog: Dialog, user_id: str) -> None:
        if dialog.user.new:
            self.store.delete_user(user_id)
            return
        before = self._before.pop(user_id, set())
        added = [e.event_id for e in self.store.history(user_id) if e.event_id not in before]
        if added:
            self.store.delete_events(user_id, added)


class HttpTarget:
    """A running nextneed server: ``POST /v1/chat/completions`` (the structured reply is in
    the ``nextneed`` field), ``GET /api/export`` and ``POST /api/feedback``/``/api/forget``.
    The user is named in ``X-User-Id``; with ``api_key`` it is sent as a Bearer token."""

    name = "http"

    def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = 300.0):
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s
        )
        self.name = f"http {base_url}"

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, user_id: str, body: dict[str, Any]) -> Any:
        resp = self._client.post(path, json=body, headers={"X-User-Id": user_id})
        return self._json(resp)

    def _json(self, resp: Any) -> Any:
        if resp.status_code >= 400:
            try:
                err = resp.json().get("error", {})
                msg = f"{err.get('type', 'error')}: {err.get('message', resp.text)}"
            except ValueError:
                msg = resp.text[:300]
            raise NextNeedError(
                f"{resp.request.method} {resp.request.url.path} -> {resp.status_code} {msg}"
            )
        return resp.json()

    def chat(self, user_id: str, message: str, history: list[dict[str, Any]]) -> Reply:
        messages = [{"role": t["role"], "content": t["content"]} for t in history]
        body = {"model": "nextneed", "messages": [*messages, {"role": "user", "content": message}]}
        data = self._post("/v1/chat/completions", user_id, body)
        if not isinstance(data.get("nextneed"), dict):
            raise NextNeedError("the server's chat reply has no `nextneed` field; is it nextneed?")
        return Reply.from_dict(data["nextneed"])

    def user_events(self, user_id: str) -> list[Event]:
        data = self._json(self._client.get("/api/export", headers={"X-User-Id": user_id}))
        return [
            Event(
                user_id,
                e["item_id"],
                e["kind"],
                int(e["timestamp"]),
                rating=e.get("rating"),
                text=e.get("text") or "",
                detail=e.get("detail") or "",
            )
            for e in data.get("events", [])
        ]

    def begin(self, dialog: Dialog, user_id: str) -> str:
        bad = [ev for ev in dialog.setup if ev.kind == "review" or ev.days_ago > 0]
        if bad:
            return "setup with reviews or days_ago needs an in-process run (--store/--demo)"
        if dialog.user.new:
            self._post("/api/forget", user_id, {"confirm": True})
        for ev in dialog.setup:
            kind = "bought" if ev.kind == "purchase" else ev.detail
            self._post("/api/feedback", user_id, {"item_id": ev.item, "kind": kind})
        return ""

    def end(self, dialog: Dialog, user_id: str) -> None:
        if dialog.user.new:
            self._post("/api/forget", user_id, {"confirm": True})
        # an existing user's feedback stays on the server: the API can't delete single events


def _seed(seed: int) -> None:
    """Seed every random source in use, so a run is repeatable (decoding itself is greedy)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def user_id_for(dialog: Dialog) -> str:
    """The dialog's user; a new user gets an id of its own, stable across runs."""
    return dialog.user.id if dialog.user.id is not None else f"eval-new-{dialog.id}"


class DialogRunner:
    """Runs dialogs on one target and checks every reply."""

    def __init__(
        self,
        target: Target,
        catalog: dict[str, Item],
        private: PrivateData | None = None,
        config: RunConfig | None = None,
    ) -> None:
        self.target = target
        self.catalog = catalog
        self.private = private
        self.config = config or RunConfig()

    @classmethod
    def for_assistant(cls, assistant: Any, config: RunConfig | None = None) -> DialogRunner:
        """A runner over an in-process Assistant; reference data come from its own store."""
        config = config or RunConfig()
        store = assistant.store
        private = PrivateData(store.iter_events()) if config.check_private_data else None
        return cls(
            AssistantTarget(assistant), {i.item_id: i for i in store.all_items()}, private, config
        )

    def run(self, dialogs: list[Dialog], meta: dict[str, Any] | None = None) -> RunResult:
        """Run every dialog (in order) and collect the results."""
        from tqdm import tqdm

        results = []
        bar = tqdm(dialogs, desc="dialogs", unit="dialog", disable=not self.config.progress)
        for dialog in bar:
            bar.set_postfix_str(dialog.id)
            results.append(self.run_dialog(dialog))
        meta = {"target": self.target.name, **(meta or {})}
        run = RunResult(results, meta)
        c = run.counts()
        log.info("%d/%d dialogs passed, %d failed", c["passed"], c["dialogs"], c["failed"])
        return run

    def run_dialog(self, dialog: Dialog) -> DialogResult:
        _seed(self.config.seed)
        user_id = user_id_for(dialog)
        result = DialogResult(dialog.id, dialog.capability, dialog.source, user_id)
        started = time.perf_counter()
        try:
            result.skipped = self.target.begin(dialog, user_id)
        except Exception as exc:  # the dialog can't run; the others still can
            result.error = f"setup failed: {type(exc).__name__}: {exc}"
            return result
        if result.skipped:
            return result
        history: list[dict[str, Any]] = []
        previous: list[Reply] = []
        opening = [NEW_USER_OPENING, dialog.user.preferences] if dialog.user.preferences else []
        try:
            for message in opening:
                turn, reply = self._turn(user_id, message, history, previous, None)
                turn.setup = True
                result.turns.append(turn)
                if reply is None:
                    return result
            for scripted in dialog.turns:
                turn, reply = self._turn(user_id, scripted.user, history, previous, scripted.expect)
                result.turns.append(turn)
                if reply is None:
                    break
        finally:
            try:
                self.target.end(dialog, user_id)
            except Exception as exc:
                log.warning("cleaning up after dialog %s failed: %s", dialog.id, exc)
            result.seconds = round(time.perf_counter() - started, 3)
        return result

    def _turn(
        self,
        user_id: str,
        message: str,
        history: list[dict[str, Any]],
        previous: list[Reply],
        expect: Any,
    ) -> tuple[TurnResult, Reply | None]:
        t0 = time.perf_counter()
        try:
            reply = self.target.chat(user_id, message, list(history))
        except Exception as exc:  # a crash is a failed turn, with its message in the report
            log.debug("turn failed", exc_info=True)
            return TurnResult(message, error=f"{type(exc).__name__}: {exc}"), None
        latency = time.perf_counter() - t0
        turn = TurnResult(
            message,
            reply.text,
            reply.intent,
            [r.item_id for r in reply.recommendations],
            latency_s=round(latency, 4),
        )
        if expect is not None:
            ctx = TurnContext(
                user_id,
                message,
                reply,
                self.catalog,
                self.target.user_events(user_id),
                list(previous),
                latency,
                self.private,
            )
            turn.checks = run_checks(expect, ctx)
        previous.append(reply)
        history += [
            {"role": "user", "content": message},
            {"role": "assistant", "content": reply.text},
        ]
        return turn, reply


# ---- what to run against ------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluateConfig:
    """One evaluation run: where the store comes from, which model, and which target.

    ``store`` is copied to a temporary folder first (dialogs add and remove events; the
    original is never touched); ``demo`` builds the demo store there instead. With ``server``
    the replies come over HTTP and the store (or demo) is only the reference for the checks.
    """

    store: str | None = None
    demo: bool = False
    embedder: str | None = None  # default: minilm for --store, hashing for --demo
    model: str = "none"  # "none", "default", or a model directory / HF id
    quantization: str = "nf4"
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    server: str | None = None
    api_key: str | None = None
    run: RunConfig = field(default_factory=RunConfig)
    demo_seed: int = 7  # the demo shop `python -m knowledge demo` and the dialogs use

    def __post_init__(self) -> None:
        if (self.store is None) == (not self.demo):
            raise ConfigError(
                "EvaluateConfig: give exactly one of store (a directory) or demo=True"
            )
        if self.store is not None and not Path(self.store).is_dir():
            raise ConfigError(f"EvaluateConfig.store: {self.store} is not a directory")
        if self.embedder not in (None, "minilm", "hashing"):
            raise ConfigError(
                f"EvaluateConfig.embedder must be minilm or hashing, got {self.embedder!r}"
            )
        if self.server is not None and not self.server.startswith(("http://", "https://")):
            raise ConfigError(f"EvaluateConfig.server must be an http(s) URL, got {self.server!r}")
        if self.quantization not in ("nf4", "bf16", "fp32"):
            raise ConfigError("EvaluateConfig.quantization must be nf4, bf16 or fp32")

    @property
    def embedder_name(self) -> str:
        return self.embedder or ("hashing" if self.demo else "minilm")


def build_demo_store(
    out_dir: str | Path,
    embedder: str = "hashing",
    seed: int = 7,
    reference: dt.date | None = None,
) -> Path:
    """Write the demo files and ingest them into a store at ``out_dir/store``; ``reference``:
    the demo's reference date (None: today)."""
    from knowledge.demo import DemoConfig, write_demo
    from knowledge.ingest import ingest_dataset

    out = Path(out_dir)
    paths = write_demo(out / "data", DemoConfig(seed=seed, reference=reference))
    with Store(StoreConfig(path=str(out / "store"), embedder=embedder)) as store:
        ingest_dataset(store, [paths.items, paths.events], format="native")
        # fit the candidate stage once: its models are cached inside the store folder, so
        # every copy of this store starts without refitting them
        RecommendationPipeline(store, PipelineConfig())
    return out / "store"


def copy_store(src: str | Path, dst: str | Path) -> Path:
    """A private copy of an embedded store (without its process lock file)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".nextneed.lock"))
    return Path(dst)


def open_assistant(store_dir: str | Path, config: EvaluateConfig) -> Any:
    """An Assistant over ``store_dir`` with the configured model (greedy decoding)."""
    from bot.chat.assistant import Assistant, AssistantConfig

    model = None
    if config.model != "none":
        from bot.llm.model import ModelConfig

        model = ModelConfig(config.model, config.quantization)  # type: ignore[arg-type]
    store = StoreConfig(path=str(store_dir), embedder=config.embedder_name)
    return Assistant.from_config(
        AssistantConfig(store=store, model=model, pipeline=config.pipeline)
    )


def evaluate(paths: list[str | Path], config: EvaluateConfig) -> RunResult:
    """Load the dialogs, prepare the store and run them; the caller writes the reports."""
    dialogs = load_dialogs(paths)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "store": f"demo (seed {config.demo_seed})" if config.demo else str(config.store),
        "embedder": config.embedder_name,
        "model": config.model if config.server is None else "(the server's)",
        "pipeline": ", ".join(f"{k}={v}" for k, v in asdict(config.pipeline).items()),
    }
    with tempfile.TemporaryDirectory(prefix="nextneed-eval-") as tmp:
        if config.demo:
            # the dialogs name dates: their shop and clock are pinned (DIALOG_REFERENCE)
            store_dir = build_demo_store(
                tmp, config.embedder_name, config.demo_seed, DIALOG_REFERENCE
            )
            if config.pipeline.now is None:
                config = replace(config, pipeline=replace(config.pipeline, now=dialog_clock))
        else:
            assert config.store is not None
            store_dir = copy_store(config.store, Path(tmp) / "store")
        if config.server is None:
            assistant = open_assistant(store_dir, config)
            try:
                return DialogRunner.for_assistant(assistant, config.run).run(dialogs, meta)
            finally:
                assistant.store.close()
        with Store(StoreConfig(path=str(store_dir), embedder=config.embedder_name)) as ref:
            catalog = {i.item_id: i for i in ref.all_items()}
            private = PrivateData(ref.iter_events()) if config.run.check_private_data else None
        target = HttpTarget(config.server, config.api_key)
        try:
            return DialogRunner(target, catalog, private, config.run).run(dialogs, meta)
        finally:
            target.close()
