"""Scripted dialog evaluation: YAML dialogs, checks on every reply, reports.

``python -m bot.evaluate dialogs/ --demo`` runs the suite in-process; see ``docs/dialogs.md``.
"""

from bot.evaluate.checks import CheckResult, PrivateData, TurnContext, run_checks
from bot.evaluate.dialogs import Dialog, DialogFileError, Expectations, load_dialogs
from bot.evaluate.report import DialogResult, RunResult, write_reports
from bot.evaluate.runner import AssistantTarget, DialogRunner, HttpTarget, RunConfig

__all__ = [
    "AssistantTarget",
    "CheckResult",
    "Dialog",
    "DialogFileError",
    "DialogResult",
    "DialogRunner",
    "Expectations",
    "HttpTarget",
    "PrivateData",
    "RunConfig",
    "RunResult",
    "TurnContext",
    "load_dialogs",
    "run_checks",
    "write_reports",
]
