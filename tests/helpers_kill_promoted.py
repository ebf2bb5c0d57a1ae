"""The killed ASHA search that ``test_kill_time`` and ``test_kill_logs`` assert on, made
once per test session (``shared_run``): of eight trials (rungs at 1 and 4 epochs, steps of
``SLEEP`` seconds, the default logger, ``tests.helpers.FitSpans``), trial 1 is killed in its
first fit (it goes on from its ``last.ckpt`` where epoch 0's was in place), then the search
is killed again while a promoted trial trains epoch 3, and resumed to its end; beside it the
same search run uninterrupted (no sleep: the same values).

Example:
    >>> spans_of = fit_spans  # each fit's (setup, teardown) times of a trial folder
    >>> spans_of(Path("/nonexistent"))
    []
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import yaml

from lightning_nas.search.pending_last import LAST_PENDING
from tests.helpers_kill import json_lines, kill_config, kill_rows, kill_when
from tests.launcher import Launcher

__all__ = ["SLEEP", "fit_spans", "fit_time", "killed_promoted_run", "trial_folder"]

SLEEP = 0.2  # seconds per training step of the killed search


def fit_time(db: Path, trial_id: int) -> float | None:
    """The stored ``fit_time`` of trial ``trial_id``."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT fit_time FROM trials WHERE id = ?", (trial_id,)).fetchone()[0]
    finally:
        con.close()


def fit_spans(folder: Path) -> list[tuple[float, float | None]]:
    """Each fit's (setup, teardown) wall times, from ``fits.jsonl`` (None: it never ended)."""
    spans: list[tuple[float, float | None]] = []
    for line in json_lines(folder / "fits.jsonl"):
        if line["event"] == "setup":
            spans.append((line["time"], None))
        else:
            spans[-1] = (spans[-1][0], line["time"])
    return spans


def trial_folder(run_dir: Path, trial_id: int) -> Path:
    """The folder of trial ``trial_id`` in ``run_dir``."""
    return run_dir / "trials" / f"trial_{trial_id:04d}"


def _config(folder: Path, name: str, sleep: float) -> tuple[Path, Path]:
    cfg, run_dir = kill_config(folder, name, 8, executor="inline", scheduler="asha",
                               min_epochs=1, eta=4, max_epochs=4, monitor="val_loss",
                               mode="min", seed=3)
    config = yaml.safe_load(cfg.read_text())
    config["model"]["init_args"] = {"sleep": sleep}
    del config["trainer"]["logger"]
    config["trainer"]["callbacks"].append({"class_path": "tests.helpers.FitSpans"})
    cfg.write_text(yaml.safe_dump(config))
    return cfg, run_dir


def _promoted_in_epoch_3(run_dir: Path, rows: dict[int, dict]) -> bool:
    """A promoted trial (RUNNING with a curve) logged epoch 3's start and its ``last.ckpt``
    (epoch 2's) is in place: no ``LAST_PENDING`` left (the epoch-start hook that logs epoch 3
    may run before the checkpoint's, which puts epoch 2's file in place)."""
    return any(r["status"] == "RUNNING" and r["curve"] != "[]" and 3 in [
        e["epoch"] for e in json_lines(trial_folder(run_dir, i) / "epochs.jsonl")]
        and not (trial_folder(run_dir, i) / LAST_PENDING).exists() for i, r in rows.items())


def _make(folder: Path, launcher: Launcher) -> dict[str, Any]:
    clean_cfg, _ = _config(folder, "clean", 0.0)
    log = folder / "clean.log"
    assert launcher.run(["search", clean_cfg], log) == 0, log.read_text()[-3000:]

    cfg, run_dir = _config(folder, "killed", SLEEP)
    log, db, first_trial = folder / "killed.log", run_dir / "search.db", trial_folder(run_dir, 1)
    # 1. trial 1 killed in its first fit, after a second of it
    first = kill_when(launcher, cfg, log, lambda rows: any(
        time.time() - start > 1.0 for start, _ in fit_spans(first_trial)))
    first_spans = fit_spans(first_trial)
    first_last = (first_trial / "last.ckpt").is_file()  # epoch 0's: it goes on from there
    # 2. killed while the promoted trial trains epoch 3
    second = kill_when(launcher, cfg, log, lambda rows: _promoted_in_epoch_3(run_dir, rows))
    rows = kill_rows(db)
    promoted = [i for i, r in rows.items() if r["status"] == "RUNNING" and r["curve"] != "[]"]
    at_kill = {"promoted": promoted,
               "fit_time": {i: fit_time(db, i) for i in (*promoted, 1)},
               "epochs": {i: [e["epoch"] for e in json_lines(trial_folder(run_dir, i)
                                                              / "epochs.jsonl")]
                          for i in promoted},
               "spans": {i: fit_spans(trial_folder(run_dir, i)) for i in (*promoted, 1)},
               "log_versions": {i: len(list(trial_folder(run_dir, i).glob("logs_resumed_*")))
                                for i in promoted}}
    # 3. resumed to its end
    launcher.launch(["search", cfg], log)
    assert launcher.wait(300) == 0, log.read_text()[-3000:]
    return {"first": first, "first_spans": first_spans, "first_last": first_last,
            "second": second, "at_kill": at_kill}


def killed_promoted_run(shared_run: Any, launcher: Launcher) -> tuple[Path, dict[str, Any]]:
    """``(folder, made)``: the session's killed search (``folder/killed``, its uninterrupted
    twin ``folder/clean``) and what was seen at its kills (``first``, ``second``: the times
    right after them; ``first_spans``: trial 1's fits at the first; ``first_last``: whether
    its ``last.ckpt`` (epoch 0's) was in place then; ``at_kill``: at the
    second, the ``promoted`` trial ids and their ``fit_time``, ``epochs`` logged, ``spans``
    and ``log_versions`` (``logs_resumed_*`` folders), with trial 1's ``fit_time`` and
    ``spans``; JSON: the trial ids as strings)."""
    return shared_run("kill_promoted", lambda folder: _make(folder, launcher))
