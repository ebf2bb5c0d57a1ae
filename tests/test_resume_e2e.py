"""End to end: ``kill -9`` a running search mid-trial, twice, and resume it by running the
same command again: exactly the budget completes and earlier trials stay untouched, and the
optimizer's replay holds with two worker processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
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


def _start(cfg: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "lightning_nas", "search", str(cfg)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _kill_mid_trial(proc: subprocess.Popen, db: Path, min_completed: int) -> list[tuple]:
    """Wait until ``min_completed`` trials are done and another is running, then SIGKILL."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        rows = _rows(db) if db.exists() else []
        done = sum(r[2] == "COMPLETED" for r in rows)
        running = [r for r in rows if r[2] == "RUNNING" and time.time() - r[5] > 0.3]
        if done >= min_completed and running:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return _rows(db)
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the search never reached the point to kill it")


def test_kill_9_and_resume_completes_exactly_the_budget(tmp_path):
    """Two worker processes (one trial at a time in the search process is killed at random
    in ``test_kill.py``, and its exact replay checked in ``test_warm.py``)."""
    run_dir = tmp_path / "run"
    cfg = tmp_path / "search.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"sleep": 0.05}},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 4, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"int": [4, 64]}, "lr": {"float": [0.02, 0.3]}},
                   "budget": BUDGET, "seed": 3,  # the default strategy: tells steer it
                   "num_workers": 2, "run_dir": str(run_dir)},
    }))
    db = run_dir / "search.db"

    before_1 = _kill_mid_trial(_start(cfg), db, min_completed=1)
    assert any(r[2] == "RUNNING" for r in before_1)  # killed mid-trial
    before_2 = _kill_mid_trial(_start(cfg), db, min_completed=3)
    assert any(r[2] == "RUNNING" for r in before_2)
    second = {r[0]: r for r in before_2}
    for row in (r for r in before_1 if r[2] == "COMPLETED"):
        assert second[row[0]][:7] == row[:7]  # the second run left them untouched

    proc = _start(cfg)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "Resuming" in out and "Search finished" in out
    assert "another architecture than before" not in out  # the replay held
    rows = _rows(db)
    assert [r[2] for r in rows] == ["COMPLETED"] * BUDGET
    assert [r[0] for r in rows] == list(range(1, BUDGET + 1))
    earlier = [r for r in before_2 if r[2] == "COMPLETED"]
    by_id = {r[0]: r for r in rows}
    for row in earlier:  # arch, score, metrics, times: identical; only checkpoints may go
        assert by_id[row[0]][:7] == row[:7]
    # the trials running at the second kill were re-run with the same architecture
    for interrupted in (r for r in before_2 if r[2] == "RUNNING"):
        assert by_id[interrupted[0]][1] == interrupted[1]
    assert (run_dir / "best.yaml").exists()


def test_a_trial_that_kills_the_search_process_is_failed_after_two_attempts(tmp_path):
    run_dir = tmp_path / "run"
    cfg = tmp_path / "search.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"die_width": 4}},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 1},
        "search": {"space": {"width": {"fixed": 4}, "lr": {"float": [0.02, 0.3]}},
                   "budget": 1, "max_failures": 0, "run_dir": str(run_dir)},
    }))
    codes = []
    for _ in range(3):
        proc = _start(cfg)
        out, _ = proc.communicate(timeout=120)
        codes.append(proc.returncode)
    assert codes[:2] == [3, 3]  # the trial's os._exit(3) ended the whole search, twice
    assert codes[2] == 2 and "1 trials of" in out and "max_failures=0" in out
    rows = _rows(run_dir / "search.db")
    assert [r[2] for r in rows] == ["FAILED"]
    con = sqlite3.connect(run_dir / "search.db")
    error = con.execute("SELECT error FROM trials").fetchone()[0]
    con.close()
    assert "died 2 times while running this trial" in error
