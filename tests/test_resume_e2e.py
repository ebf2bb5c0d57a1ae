"""End to end: ``kill -9`` a running search mid-trial and resume it by running the same
command again: exactly the budget completes and earlier trials stay untouched, and the
optimizer's replay holds with two worker processes. Each search is ``lightning-nas search
CONFIG`` in a process of its own, forked by ``tests.launcher`` from one that imported the
training stack once."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from tests.launcher import Launcher

BUDGET = 6


def _rows(db: Path) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT id, arch, status, score, metrics, started, finished, "
                           "checkpoint FROM trials ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # the driver has not created its tables yet
        return []
    finally:
        con.close()


def _kill_mid_trial(launcher: Launcher, cfg: Path, log: Path, db: Path,
                    min_completed: int) -> list[tuple]:
    """Launch the search, wait until ``min_completed`` trials are done and another is
    running, then SIGKILL it."""
    launcher.launch(["search", cfg], log)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert launcher.exited() is None, log.read_text()
        rows = _rows(db) if db.exists() else []
        done = sum(r[2] == "COMPLETED" for r in rows)
        running = [r for r in rows if r[2] == "RUNNING" and time.time() - r[5] > 0.3]
        if done >= min_completed and running:
            assert launcher.kill() == -signal.SIGKILL
            return _rows(db)
        time.sleep(0.05)
    raise AssertionError("the search never reached the point to kill it")


@pytest.mark.slow
def test_kill_9_and_resume_completes_exactly_the_budget(tmp_path, launcher):
    """Two worker processes (one trial at a time in the search process is killed at random
    in ``test_kill.py``, and its exact replay checked in ``test_warm_resume.py``)."""
    run_dir = tmp_path / "run"
    cfg = tmp_path / "search.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"sleep": 0.05}},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"int": [4, 64]}, "lr": {"float": [0.02, 0.3]}},
                   "budget": BUDGET, "seed": 3,  # the default strategy: tells steer it
                   "num_workers": 2, "run_dir": str(run_dir)},
    }))
    db = run_dir / "search.db"

    log = tmp_path / "log.txt"
    # one kill (was two: a launch more, two worker imports more; kill after kill, with two
    # worker processes, each leaving the completed rows untouched: test_kill's "process")
    before = _kill_mid_trial(launcher, cfg, log, db, min_completed=2)
    assert any(r[2] == "RUNNING" for r in before)  # killed mid-trial

    log.unlink()
    assert launcher.run(["search", cfg], log) == 0, log.read_text()
    out = log.read_text()
    assert "Resuming" in out and "Search finished" in out
    assert "another architecture than before" not in out  # the replay held
    rows = _rows(db)
    assert [r[2] for r in rows] == ["COMPLETED"] * BUDGET
    assert [r[0] for r in rows] == list(range(1, BUDGET + 1))
    earlier = [r for r in before if r[2] == "COMPLETED"]
    by_id = {r[0]: r for r in rows}
    for row in earlier:  # arch, score, metrics, times: identical; only checkpoints may go
        assert by_id[row[0]][:7] == row[:7]
    # the trials running at the kill were re-run with the same architecture
    for interrupted in (r for r in before if r[2] == "RUNNING"):
        assert by_id[interrupted[0]][1] == interrupted[1]
    assert (run_dir / "best.yaml").exists()


def test_a_trial_that_kills_the_search_process_is_failed_after_two_attempts(tmp_path,
                                                                            launcher):
    run_dir = tmp_path / "run"
    cfg = tmp_path / "search.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"die_width": 4}},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 1},
        "search": {"space": {"width": {"fixed": 4}, "lr": {"float": [0.02, 0.3]}},
                   "budget": 1, "max_failures": 0, "run_dir": str(run_dir)},
    }))
    codes, log = [], tmp_path / "log.txt"
    for _ in range(3):
        log.unlink(missing_ok=True)
        codes.append(launcher.run(["search", cfg], log, timeout=120))
    out = log.read_text()
    assert codes[:2] == [3, 3]  # the trial's os._exit(3) ended the whole search, twice
    assert codes[2] == 2 and "1 trial of" in out and "max_failures=0" in out
    rows = _rows(run_dir / "search.db")
    assert [r[2] for r in rows] == ["FAILED"]
    con = sqlite3.connect(run_dir / "search.db")
    error = con.execute("SELECT error FROM trials").fetchone()[0]
    con.close()
    assert "died 2 times while running this trial" in error
