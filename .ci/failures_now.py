"""A pytest plugin for runs that may be cut off (``.ci/gpu_check.sh``): each failure or
error is appended to ``$FAILURES_NOW`` with its traceback the moment its report comes
(under pytest-xdist, in the controller), so a run killed at its time limit still says
what failed and why.

Example:
    FAILURES_NOW=fails.txt PYTHONPATH=.ci python -m pytest -p failures_now -n 4
"""

from __future__ import annotations

import os

import pytest

__all__ = ["pytest_runtest_logreport"]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Append a failed setup, call or teardown to ``$FAILURES_NOW``."""
    path = os.environ.get("FAILURES_NOW")
    if path and report.failed and not os.environ.get("PYTEST_XDIST_WORKER"):  # once
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"=== {report.nodeid} ({report.when})\n{report.longreprtext}\n\n")
