"""Scripted dialogs: the YAML format, its loader and its validation.

A file holds one or more dialogs (``dialogs: [...]`` or a bare list). Every mistake is reported
as a :class:`DialogFileError` naming the file, the line and the column (from YAML's node marks)
and what to write instead. The format is documented in ``docs/dialogs.md`` and as a JSON schema
in ``docs/dialog.schema.json``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import DialogFileError
from bot.reply import INTENTS
from knowledge.schema import FEEDBACK_KINDS

__all__ = [
    "CAPABILITIES",
    "DialogFileError",
    "Dialog",
    "DialogUser",
    "SetupEvent",
    "Turn",
    "Expectations",
    "Range",
    "load_dialogs",
    "load_file",
    "find_dialog_files",
]

log = logging.getLogger(__name__)

CAPABILITIES: tuple[str, ...] = (
    "next_need",
    "constraints",
    "refinement",
    "explain",
    "describe",
    "profile",
    "review_reply",
    "order_question",
    "complaint",
    "cold_start",
    "new_item",
    "feedback",
    "diversity",
    "off_topic",
    "prompt_injection",
    "memory",
    "privacy",
    "forget",
    "replenishment",
    "greeting",
)
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,79}$")


@dataclass(frozen=True)
class Range:
    """An inclusive integer range; ``max`` None means unbounded."""

    min: int = 0
    max: int | None = None

    def __post_init__(self) -> None:
        if self.min < 0 or (self.max is not None and self.max < self.min):
            raise ValueError(f"range needs 0 <= min <= max, got min={self.min} max={self.max}")

    def accepts(self, n: int) -> bool:
        return n >= self.min and (self.max is None or n <= self.max)

    def __str__(self) -> str:
        if self.max == self.min:
            return str(self.min)
        return f"{self.min}..{'' if self.max is None else self.max}"


@dataclass(frozen=True)
class Expectations:
    """What one assistant reply must satisfy. Unset fields are not checked."""

    intent: tuple[str, ...] = ()
    guardrail: str | None = None
    n_recommendations: Range | None = None
    all_in_catalog: bool = False
    none_owned: bool = False
    none_rejected: bool = False
    no_duplicates: bool = False
    no_variant_duplicates: bool = False
    contains_item: tuple[str, ...] = ()
    excludes_item: tuple[str, ...] = ()
    contains_category: str | None = None
    all_in_category: str | None = None
    max_price: float | None = None
    min_price: float | None = None
    excludes_brand: tuple[str, ...] = ()
    evidence_from_user: bool = False
    text_contains: tuple[str, ...] = ()
    text_excludes: tuple[str, ...] = ()
    text_matches: str | None = None
    describe_grounded: bool = False
    no_other_user_data: bool = False
    max_latency_s: float | None = None
    excludes_items_shown_before: bool = False
    cheaper_than_previous: bool = False
    refers_to_previous: int | None = None
    category_of_previous: int | None = None
    feedback_recorded: str | None = None  # a feedback kind, or "any"
    item_id: str | None = None

    def __post_init__(self) -> None:
        bad = [i for i in self.intent if i not in INTENTS]
        if bad:
            raise ValueError(f"unknown intent {bad[0]!r}; use one of {', '.join(INTENTS)}")
        if self.text_matches is not None:
            try:
                re.compile(self.text_matches)
            except re.error as exc:
                raise ValueError(f"text_matches is not a valid regular expression: {exc}") from None
        for name in ("max_price", "min_price", "max_latency_s"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        for name in ("refers_to_previous", "category_of_previous"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= 20:
                raise ValueError(f"{name} is a 1-based list position (1..20), got {value}")
        if self.feedback_recorded not in (None, "any", *FEEDBACK_KINDS):
            raise ValueError(
                f"feedback_recorded must be true or one of {', '.join(FEEDBACK_KINDS)}, "
                f"got {self.feedback_recorded!r}"
            )

    def names(self) -> list[str]:
        """The expectation keys that are set (in declaration order)."""
        unset: dict[str, Any] = {f: Expectations.__dataclass_fields__[f].default for f in _FIELDS}
        return [f for f in _FIELDS if getattr(self, f) != unset[f] and getattr(self, f) != ()]


_FIELDS = tuple(Expectations.__dataclass_fields__)


@dataclass(frozen=True)
class Turn:
    """One user message and what the reply to it must satisfy."""

    user: str
    expect: Expectations = field(default_factory=Expectations)
    line: int = 0


@dataclass(frozen=True)
class SetupEvent:
    """An event added for one dialog (and removed after it), ``days_ago`` before the store's
    latest event."""

    item: str
    kind: str = "purchase"
    days_ago: float = 0.0
    rating: float | None = None
    text: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("purchase", "review", "feedback"):
            raise ValueError(f"kind must be purchase, review or feedback, got {self.kind!r}")
        if self.kind == "feedback" and self.detail not in FEEDBACK_KINDS:
            raise ValueError(f"a feedback event needs detail: one of {', '.join(FEEDBACK_KINDS)}")
        if self.days_ago < 0:
            raise ValueError(f"days_ago must be >= 0, got {self.days_ago}")
        if self.rating is not None and not 0 <= self.rating <= 5:
            raise ValueError(f"rating must be within 0..5, got {self.rating}")


@dataclass(frozen=True)
class DialogUser:
    """An existing user id, or a new user (``new``) with optional stated preferences."""

    id: str | None = None
    new: bool = False
    preferences: str = ""

    def __post_init__(self) -> None:
        if self.new == (self.id is not None):
            raise ValueError("user is either an existing user id or `new: {...}`")


@dataclass(frozen=True)
class Dialog:
    """A scripted conversation with one user."""

    id: str
    capability: str
    user: DialogUser
    turns: tuple[Turn, ...]
    description: str = ""
    setup: tuple[SetupEvent, ...] = ()
    source: str = ""  # "file:line"

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"id {self.id!r} must be lower-case letters, digits, '_', '-', '.'")
        if self.capability not in CAPABILITIES:
            raise ValueError(
                f"unknown capability {self.capability!r}; use one of {', '.join(CAPABILITIES)}"
            )
        if not self.turns:
            raise ValueError("a dialog needs at least one turn")


# ---- loading --------------------------------------------------------------------------------


class _Ctx:
    """Carries the file name so every error says where it is."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._constructor = yaml.SafeLoader("")

    def where(self, node: yaml.Node) -> str:
        mark = node.start_mark
        return f"{self.path}:{mark.line + 1}:{mark.column + 1}"

    def fail(self, node: yaml.Node, message: str) -> DialogFileError:
        return DialogFileError(f"{self.where(node)}: {message}")

    def value(self, node: yaml.Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, what: str, allowed: Iterable[str]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (key: value lines)")
        allowed = tuple(allowed)
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = self.value(k)
            if not isinstance(key, str) or key not in allowed:
                raise self.fail(
                    k, f"unknown key {key!r} in {what}; allowed keys: {', '.join(allowed)}"
                )
            if key in out:
                raise self.fail(k, f"duplicate key {key!r} in {what}")
            out[key] = v
        return out

    def scalar(self, node: yaml.Node, what: str, types: tuple[type, ...]) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value, not a list or mapping")
        value = self.value(node)
        if isinstance(value, bool) and bool not in types:
            raise self.fail(node, f"{what} must be {_names(types)}, got {value!r}")
        if not isinstance(value, types):
            raise self.fail(node, f"{what} must be {_names(types)}, got {value!r}")
        return value

    def strings(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        """One string or a list of strings."""
        if isinstance(node, yaml.SequenceNode):
            return tuple(str(self.scalar(n, what, (str, int))) for n in node.value)
        return (str(self.scalar(node, what, (str, int))),)


def _names(types: tuple[type, ...]) -> str:
    words = {str: "text", int: "an integer", float: "a number", bool: "true/false"}
    return " or ".join(words.get(t, t.__name__) for t in types)


_BOOL_KEYS = (
    "all_in_catalog",
    "none_owned",
    "none_rejected",
    "no_duplicates",
    "no_variant_duplicates",
    "evidence_from_user",
    "describe_grounded",
    "no_other_user_data",
    "excludes_items_shown_before",
    "cheaper_than_previous",
)
_LIST_KEYS = (
    "intent",
    "contains_item",
    "excludes_item",
    "excludes_brand",
    "text_contains",
    "text_excludes",
)


def _expectations(ctx: _Ctx, node: yaml.Node) -> Expectations:
    raw = ctx.mapping(node, "expect", _FIELDS)
    kw: dict[str, Any] = {}
    for key, v in raw.items():
        if key in _BOOL_KEYS:
            kw[key] = ctx.scalar(v, key, (bool,))
        elif key in _LIST_KEYS:
            kw[key] = ctx.strings(v, key)
        elif key == "n_recommendations":
            kw[key] = _range(ctx, v)
        elif key in ("max_price", "min_price", "max_latency_s"):
            kw[key] = float(ctx.scalar(v, key, (int, float)))
        elif key in ("refers_to_previous", "category_of_previous"):
            kw[key] = ctx.scalar(v, key, (int,))
        elif key == "feedback_recorded":
            got = ctx.scalar(v, key, (bool, str))
            if got is False:
                raise ctx.fail(v, "feedback_recorded: false is not a check; leave the key out")
            kw[key] = "any" if got is True else got
        else:  # guardrail, text_matches, contains_category, all_in_category, item_id
            kw[key] = str(ctx.scalar(v, key, (str, int)))
    try:
        return Expectations(**kw)
    except ValueError as exc:
        raise ctx.fail(node, f"expect: {exc}") from None


def _range(ctx: _Ctx, node: yaml.Node) -> Range:
    try:
        if isinstance(node, yaml.MappingNode):
            raw = ctx.mapping(node, "n_recommendations", ("min", "max"))
            lo = ctx.scalar(raw["min"], "min", (int,)) if "min" in raw else 0
            hi = ctx.scalar(raw["max"], "max", (int,)) if "max" in raw else None
            return Range(lo, hi)
        n = ctx.scalar(node, "n_recommendations", (int,))
        return Range(n, n)
    except ValueError as exc:
        if isinstance(exc, DialogFileError):
            raise
        raise ctx.fail(node, f"n_recommendations: {exc}") from None


def _user(ctx: _Ctx, node: yaml.Node) -> DialogUser:
    if isinstance(node, yaml.ScalarNode):
        return DialogUser(id=str(ctx.scalar(node, "user", (str, int))))
    raw = ctx.mapping(node, "user", ("new",))
    if "new" not in raw:
        raise ctx.fail(node, "user must be a user id or `new: {preferences: ...}`")
    new = raw["new"]
    if isinstance(new, yaml.ScalarNode) and ctx.value(new) in (None, True):
        return DialogUser(new=True)
    prefs = ctx.mapping(new, "user.new", ("preferences",))
    text = ctx.scalar(prefs["preferences"], "preferences", (str,)) if "preferences" in prefs else ""
    return DialogUser(new=True, preferences=text)


def _setup(ctx: _Ctx, node: yaml.Node) -> tuple[SetupEvent, ...]:
    raw = ctx.mapping(node, "setup", ("events",))
    if "events" not in raw:
        return ()
    seq = raw["events"]
    if not isinstance(seq, yaml.SequenceNode):
        raise ctx.fail(seq, "setup.events must be a list of events")
    out = []
    for ev in seq.value:
        fields = ctx.mapping(ev, "setup event", SetupEvent.__dataclass_fields__)
        if "item" not in fields:
            raise ctx.fail(ev, "a setup event needs `item: <item id>`")
        kw: dict[str, Any] = {}
        for key, v in fields.items():
            if key in ("days_ago", "rating"):
                kw[key] = float(ctx.scalar(v, key, (int, float)))
            else:
                kw[key] = str(ctx.scalar(v, key, (str, int)))
        try:
            out.append(SetupEvent(**kw))
        except ValueError as exc:
            raise ctx.fail(ev, f"setup event: {exc}") from None
    return tuple(out)


def _turns(ctx: _Ctx, node: yaml.Node) -> tuple[Turn, ...]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise ctx.fail(node, "turns must be a non-empty list of `- user: ...` entries")
    out = []
    for t in node.value:
        raw = ctx.mapping(t, "turn", ("user", "expect"))
        if "user" not in raw:
            raise ctx.fail(t, "a turn needs `user: <message>`")
        message = ctx.scalar(raw["user"], "user", (str,))
        if not message.strip():
            raise ctx.fail(raw["user"], "the user message is empty")
        expect = _expectations(ctx, raw["expect"]) if "expect" in raw else Expectations()
        out.append(Turn(message, expect, t.start_mark.line + 1))
    return tuple(out)


_DIALOG_KEYS = ("id", "capability", "description", "user", "setup", "turns")


def _dialog(ctx: _Ctx, node: yaml.Node) -> Dialog:
    raw = ctx.mapping(node, "dialog", _DIALOG_KEYS)
    for key in ("id", "capability", "user", "turns"):
        if key not in raw:
            raise ctx.fail(node, f"a dialog needs `{key}:`")
    try:
        return Dialog(
            id=str(ctx.scalar(raw["id"], "id", (str,))),
            capability=str(ctx.scalar(raw["capability"], "capability", (str,))),
            user=_user(ctx, raw["user"]),
            turns=_turns(ctx, raw["turns"]),
            description=str(ctx.scalar(raw["description"], "description", (str,)))
            if "description" in raw
            else "",
            setup=_setup(ctx, raw["setup"]) if "setup" in raw else (),
            source=ctx.where(node),
        )
    except DialogFileError:
        raise
    except ValueError as exc:
        raise ctx.fail(node, str(exc)) from None


def load_file(path: str | Path) -> list[Dialog]:
    """The dialogs of one YAML file."""
    path = Path(path)
    ctx = _Ctx(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DialogFileError(f"{path}: cannot read the file: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise DialogFileError(f"{where}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:  # e.g. several documents in one file
        raise DialogFileError(f"{path}: not valid YAML: {exc}") from None
    if root is None:
        raise DialogFileError(f"{path}: the file is empty; write `dialogs:` and a list of dialogs")
    if isinstance(root, yaml.MappingNode):
        seq = ctx.mapping(root, "the file", ("dialogs",)).get("dialogs")
        if seq is None:
            raise ctx.fail(root, "the file needs a `dialogs:` list")
    else:
        seq = root
    if not isinstance(seq, yaml.SequenceNode) or not seq.value:
        raise ctx.fail(seq, "`dialogs` must be a non-empty list of dialogs")
    return [_dialog(ctx, n) for n in seq.value]


def find_dialog_files(paths: Iterable[str | Path]) -> list[Path]:
    """YAML files named directly, or found (sorted) under the named folders."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml"))
        elif p.is_file():
            out.append(p)
        else:
            raise DialogFileError(f"{p}: no such file or folder")
    return out


def load_dialogs(paths: Iterable[str | Path]) -> list[Dialog]:
    """Every dialog in the named files and folders; dialog ids must be unique."""
    dialogs: list[Dialog] = []
    seen: dict[str, str] = {}
    for path in find_dialog_files(paths):
        for d in load_file(path):
            if d.id in seen:
                raise DialogFileError(
                    f"{d.source}: dialog id {d.id!r} is also used at {seen[d.id]}"
                )
            seen[d.id] = d.source
            dialogs.append(d)
    log.info("loaded %d dialogs", len(dialogs))
    return dialogs
