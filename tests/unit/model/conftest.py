"""Prints how much of the model ran (``make test`` shows it in its summary)."""

from __future__ import annotations

from typing import Any

from .model import PROFILE, STATS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not STATS["examples"]:
        return
    terminalreporter.write_line(
        "model-based test ({max_examples} examples × {stateful_step_count} steps at most): ".format(**PROFILE)
        + "{examples:.0f} examples run, {steps:.0f} steps ({quiet:.0f} quiet), {passes:.0f} reconcile "
        "passes, {drains:.0f} drains, {crashes:.0f} crashes mid-pass, {seconds:.1f} s".format(**STATS)
    )
