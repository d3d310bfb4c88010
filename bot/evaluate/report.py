"""Results of a dialog run, and the Markdown, JUnit XML and JSON reports written from them."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.evaluate.checks import CheckResult

__all__ = [
    "TurnResult",
    "DialogResult",
    "RunResult",
    "markdown_report",
    "junit_report",
    "json_report",
    "write_reports",
]

log = logging.getLogger(__name__)


@dataclass
class TurnResult:
    """One user message, the reply, and the checks run on it."""

    message: str
    reply_text: str = ""
    intent: str = ""
    recommendations: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    latency_s: float = 0.0
    error: str = ""
    setup: bool = False  # an opening turn the runner sent (new user's stated preferences)

    @property
    def passed(self) -> bool:
        return not self.error and all(c.passed for c in self.checks)


@dataclass
class DialogResult:
    """One dialog: passed when every turn passed; ``skipped`` says why it could not run."""

    id: str
    capability: str
    source: str
    user_id: str
    turns: list[TurnResult] = field(default_factory=list)
    error: str = ""
    skipped: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.skipped and not self.error and all(t.passed for t in self.turns)

    def failures(self) -> list[str]:
        out = [f"error: {self.error}"] if self.error else []
        for n, t in enumerate((t for t in self.turns if not t.setup), 1):
            if t.error:
                out.append(f"turn {n}: error: {t.error}")
            out += [f"turn {n}: {c.name}: {c.detail}" for c in t.checks if not c.passed]
        return out


@dataclass
class RunResult:
    """All dialogs of one run, and how it was run (target, model, store, date)."""

    dialogs: list[DialogResult]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(d.passed or d.skipped for d in self.dialogs) and any(
            not d.skipped for d in self.dialogs
        )

    def counts(self) -> dict[str, int]:
        return {
            "dialogs": len(self.dialogs),
            "passed": sum(d.passed for d in self.dialogs),
            "failed": sum(not d.passed and not d.skipped for d in self.dialogs),
            "skipped": sum(bool(d.skipped) for d in self.dialogs),
            "assertions": sum(len(t.checks) for d in self.dialogs for t in d.turns),
            "assertions_failed": sum(
                not c.passed for d in self.dialogs for t in d.turns for c in t.checks
            ),
        }

    def by_capability(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for d in self.dialogs:
            row = table.setdefault(
                d.capability, {"dialogs": 0, "passed": 0, "failed": 0, "skipped": 0}
            )
            row["dialogs"] += 1
            key = "skipped" if d.skipped else "passed" if d.passed else "failed"
            row[key] += 1
        return dict(sorted(table.items()))


def _transcript(d: DialogResult) -> list[str]:
    lines = []
    for t in d.turns:
        tag = " (setup)" if t.setup else ""
        lines.append(f"> **user{tag}:** {t.message}")
        if t.error:
            lines.append(f"> **error:** {t.error}")
            continue
        reply = t.reply_text.replace("\n", "\n>   ")
        lines.append(f"> **assistant** [{t.intent}, {t.latency_s:.2f}s]: {reply}")
        if t.recommendations:
            lines.append(f">   items: {', '.join(t.recommendations)}")
        for c in t.checks:
            mark = "PASS" if c.passed else "FAIL"
            lines.append(f">   - {mark} `{c.name}`: {c.detail}")
        lines.append(">")
    return lines


def markdown_report(run: RunResult) -> str:
    """A summary table by capability, every dialog's status, and the transcript of failures."""
    c = run.counts()
    lines = ["# Dialog evaluation", ""]
    lines += [f"- {k}: {v}" for k, v in run.meta.items()]
    lines += [
        f"- result: **{'PASS' if run.passed else 'FAIL'}** - {c['passed']}/{c['dialogs']} dialogs "
        f"passed, {c['failed']} failed, {c['skipped']} skipped; "
        f"{c['assertions'] - c['assertions_failed']}/{c['assertions']} assertions passed",
        "",
        "| capability | dialogs | passed | failed | skipped |",
        "|---|---:|---:|---:|---:|",
    ]
    for cap, row in run.by_capability().items():
        lines.append(
            f"| {cap} | {row['dialogs']} | {row['passed']} | {row['failed']} | {row['skipped']} |"
        )
    lines += ["", "| dialog | capability | result | turns | seconds |", "|---|---|---|---:|---:|"]
    for d in run.dialogs:
        status = "skipped" if d.skipped else "pass" if d.passed else "**FAIL**"
        lines.append(f"| {d.id} | {d.capability} | {status} | {len(d.turns)} | {d.seconds:.2f} |")
    failed = [d for d in run.dialogs if not d.passed and not d.skipped]
    if failed:
        lines += ["", "## Failures"]
        for d in failed:
            lines += ["", f"### {d.id} ({d.capability}, user {d.user_id}, {d.source})", ""]
            lines += [f"- {f}" for f in d.failures()] + [""]
            lines += _transcript(d)
    skipped = [d for d in run.dialogs if d.skipped]
    if skipped:
        lines += ["", "## Skipped", ""] + [f"- {d.id}: {d.skipped}" for d in skipped]
    return "\n".join(lines) + "\n"


def junit_report(run: RunResult) -> str:
    """JUnit XML: one testsuite per capability, one testcase per dialog."""
    root = ET.Element("testsuites", name="nextneed-dialogs")
    for cap, row in run.by_capability().items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=cap,
            tests=str(row["dialogs"]),
            failures=str(row["failed"]),
            skipped=str(row["skipped"]),
            errors="0",
        )
        for d in (d for d in run.dialogs if d.capability == cap):
            case = ET.SubElement(
                suite, "testcase", name=d.id, classname=f"dialogs.{cap}", time=f"{d.seconds:.3f}"
            )
            if d.skipped:
                ET.SubElement(case, "skipped", message=d.skipped)
            elif not d.passed:
                fails = d.failures()
                node = ET.SubElement(case, "failure", message=fails[0] if fails else "failed")
                node.text = "\n".join(fails + [""] + _transcript(d))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def json_report(run: RunResult) -> str:
    """Every dialog, turn and check as JSON (with the summary and by-capability table)."""
    data = {
        "meta": run.meta,
        "passed": run.passed,
        "counts": run.counts(),
        "by_capability": run.by_capability(),
        "dialogs": [{**asdict(d), "passed": d.passed} for d in run.dialogs],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_reports(
    run: RunResult,
    markdown: str | Path | None = None,
    junit: str | Path | None = None,
    json_path: str | Path | None = None,
) -> list[Path]:
    """Write the requested reports; returns the paths written."""
    out = []
    for path, render in (
        (markdown, markdown_report),
        (junit, junit_report),
        (json_path, json_report),
    ):
        if path is None:
            continue
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(render(run), encoding="utf-8")
        log.info("wrote %s", p)
        out.append(p)
    return out
