"""``show`` and ``report`` of a run folder a newer version wrote: a trial status this version
does not know (``STOPPED``) is counted and said, in text and JSON, without a crash. Real
stores (an objective search, nothing trains), the real command line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lightning_nas import Search
from lightning_nas.cli import main

SPACE = {"w": {"choice": [1, 2, 3, 4]}, "d": {"choice": [1, 2]}}
UNKNOWN = "1 stopped: a status this version of lightning-nas does not know (a newer one's)"


def _acc(arch: dict) -> dict:
    return {"val_acc": arch["w"] * 0.1 + arch["d"] * 0.01}


@pytest.fixture
def newer_run(tmp_path: Path) -> Path:
    """A finished 4-trial run whose trial 1 a newer version marked ``STOPPED``."""
    run = tmp_path / "run"
    Search(None, SPACE, objective=_acc, monitor="val_acc", mode="max", budget=4, seed=0,
           run_dir=run, verbose=False).run()
    with sqlite3.connect(run / "search.db") as db:
        db.execute("UPDATE trials SET status = 'STOPPED' WHERE id = 1")
    db.close()
    return run


def test_show_counts_and_says_a_status_this_version_does_not_know(newer_run, capsys):
    # was: '3 completed, 0 failed, ... 0 running', short by the STOPPED trial, no note
    assert main(["show", str(newer_run)]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.startswith(f"3 completed, 0 failed, 0 rejected, 0 pruned, 0 paused, "
                           f"0 running; {UNKNOWN}, not listed; monitor val_acc (max)")


def test_show_json_counts_a_status_this_version_does_not_know(newer_run, capsys):
    assert main(["show", str(newer_run), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["completed"] == 3
    assert summary["unknown_statuses"] == {"stopped": 1}


def test_show_all_lists_the_known_trials_and_says_the_others(newer_run, capsys):
    # was: ValueError: 'STOPPED' is not a valid TrialStatus
    assert main(["show", str(newer_run), "--status", "all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert UNKNOWN in lines[0]
    assert [line.split()[0] for line in lines[2:]] == ["2", "3", "4"]
    assert main(["show", str(newer_run), "--status", "all", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [row["trial"] for row in shown["trials"]] == [2, 3, 4]
    assert (shown["shown"], shown["of"]) == (3, 3)


def test_report_counts_and_says_a_status_this_version_does_not_know(newer_run):
    # was: ValueError: 'STOPPED' is not a valid TrialStatus (no report written)
    pytest.importorskip("matplotlib")
    assert main(["report", str(newer_run)]) == 0
    page = (newer_run / "report" / "report.html").read_text()
    assert "0 running; 1 stopped: a status this version of lightning-nas does not know " \
           "(a newer one&#x27;s), not listed" in page
