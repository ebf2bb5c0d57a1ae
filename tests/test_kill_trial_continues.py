"""End to end: a trial of a search without a scheduler, killed (SIGKILL) mid-way, goes on
from its latest ``last.ckpt`` when the search resumes (was: trained again from epoch 0),
and ends as an uninterrupted search's same trial: the same ``metrics.csv`` rows, score,
curve and best epoch (its random state is in ``last.ckpt``: the shuffles after the kill are
the ones an uninterrupted fit draws). Real Trainers, a real process killed by the logger it
asks to log epoch 1's training row (``tests.helpers.RowKiller``: after the epoch-end hooks
wrote that epoch's ``last.ckpt``).

Under ASHA the same holds for a trial killed before its first pause (was: trained again
from epoch 0), and one killed as the fit its rule paused ends (``tests.helpers.FitEndKiller``:
its result not yet stored) pauses again from its ``last.ckpt``, training nothing. A
``ReduceLROnPlateau`` of a trial continued so takes the step of the epoch its ``last.ckpt``
was written at the end of (was: missed): its rates are an uninterrupted run's.
"""

from __future__ import annotations

import csv
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers_kill import (
    KILL_AT,
    KILL_END,
    KILL_GROUP,
    KILLED,
    json_lines,
    kill_config,
    kill_rows,
)
from tests.helpers_kill_promoted import trial_folder

_KEPT = ("status", "score", "metrics", "curve", "epochs", "arch_key")


def _config(tmp_path: Path, name: str, *callbacks: str, **search: Any) -> tuple[Path, Path]:
    """Two trials run inline (``search``: more settings), a ``RowKiller`` logger, and the
    callbacks at the import paths ``callbacks``."""
    cfg, run_dir = kill_config(tmp_path, name, 2, **{"executor": "inline", **search})
    config = yaml.safe_load(cfg.read_text())
    config["trainer"]["logger"] = {"class_path": "tests.helpers.RowKiller"}
    config["trainer"]["callbacks"] += [{"class_path": path} for path in callbacks]
    cfg.write_text(yaml.safe_dump(config))
    return cfg, run_dir


@pytest.mark.slow
def test_a_trial_killed_mid_way_without_a_scheduler_continues_as_if_uninterrupted(
        tmp_path, launcher):
    cfg, run_dir = _config(tmp_path, "killed")
    env = {KILL_AT: "1", KILLED: str(tmp_path / "killed.mark")}
    log = tmp_path / "killed.log"
    assert launcher.run(["search", cfg], log, env=env) == -signal.SIGKILL, \
        log.read_text()[-3000:]
    first = trial_folder(run_dir, 1)
    assert kill_rows(run_dir / "search.db")[1]["status"] == "RUNNING"
    assert (first / "last.ckpt").is_file()  # epoch 0's (epoch 1's was still pending)
    # what a kill within a merge of its log versions leaves (``fit_segments``): versions
    # renamed hidden before their removal, in its logger's folder too, which the versions
    # of other trials share (one of another trial's merge is left alone there), and a
    # merged table half-written
    versions = run_dir / "logs" / "trials"
    for hidden in (versions / ".merged_trial_0001_resumed_5", first / ".merged_logs_resumed_3",
                   versions / ".merged_trial_0009_resumed_6"):
        hidden.mkdir()
        (hidden / "metrics.csv").write_text("epoch,val_loss\n0,1.0\n")
    (versions / "trial_0001" / ".metrics.csv.4242").write_text("epoch,va")
    assert launcher.run(["search", cfg], log, env=env) == 0, log.read_text()[-3000:]
    # its own removed as it ran again (was: kept for good in its logger's folder)
    assert sorted(p.name for p in versions.iterdir()) == [
        ".merged_trial_0009_resumed_6", "trial_0001", "trial_0002"]
    shutil.rmtree(versions / ".merged_trial_0009_resumed_6")
    clean_dir = _run_clean(launcher, tmp_path, _config)
    rows, clean = kill_rows(run_dir / "search.db"), kill_rows(clean_dir / "search.db")
    assert {i: {k: r[k] for k in _KEPT} for i, r in rows.items()} == \
        {i: {k: r[k] for k in _KEPT} for i, r in clean.items()}
    assert rows[1]["attempts"] == 2
    # epoch 1 died before its row was logged: trained again, from epoch 0's last.ckpt
    assert [e["epoch"] for e in json_lines(trial_folder(run_dir, 1) / "epochs.jsonl")] == \
        [0, 1, 1, 2]  # was: [0, 1, 0, 1, 2] (from epoch 0: its epochs lost)
    for trial_id in rows:  # the same rows, and files: its last.ckpt removed as it completed
        csv = Path("logs", "trials", f"trial_{trial_id:04d}", "metrics.csv")
        assert (run_dir / csv).read_text() == (clean_dir / csv).read_text(), trial_id
    assert _files(run_dir) == _files(clean_dir)


def _fit_end_config(tmp_path: Path, name: str, **search: Any) -> tuple[Path, Path]:
    """``_config`` with a ``FitEndKiller`` (``search``: more settings)."""
    return _config(tmp_path, name, "tests.helpers.FitEndKiller", **search)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2], ids=["inline", "workers"])
def test_a_trial_killed_as_its_fit_ends_without_a_scheduler_completes_training_nothing(
        tmp_path, launcher, shared_run, workers):
    # its result not yet stored: its last.ckpt is the last epoch's, put in place as the fit
    # ended (no second one is written then: a trial no scheduler pauses is stored next);
    # with worker processes, the search is killed with its workers (its process group)
    pool = {"executor": "process", "num_workers": workers, "threads_per_trial": 1}

    def make(tmp: Path, name: str) -> tuple[Path, Path]:
        return _fit_end_config(tmp, name, **(pool if workers else {}))

    cfg, run_dir = make(tmp_path, "killed")
    env = {KILLED: str(tmp_path / "killed.mark"), KILL_END: "trial_0001",
           KILL_GROUP: "1" if workers else None}
    log = tmp_path / "killed.log"
    launcher.launch(["search", cfg], log, env=env, session=True)
    assert launcher.wait(300) == -signal.SIGKILL, log.read_text()[-3000:]
    assert kill_rows(run_dir / "search.db")[1]["status"] == "RUNNING"
    assert (trial_folder(run_dir, 1) / "last.ckpt").is_file()
    assert launcher.run(["search", cfg], log, env=env) == 0, log.read_text()[-3000:]
    # the uninterrupted twin: one inline search for both (a process pool's own was a fork
    # server's imports more; a trial's values are its seed's, not its executor's)
    shared, _ = shared_run("kill_fit_end_clean",
                           lambda folder: str(_run_clean(launcher, folder, _fit_end_config)))
    clean_dir = shared / "clean"
    rows, clean = kill_rows(run_dir / "search.db"), kill_rows(clean_dir / "search.db")
    assert {i: {k: r[k] for k in _KEPT} for i, r in rows.items()} == \
        {i: {k: r[k] for k in _KEPT} for i, r in clean.items()}
    assert [e["epoch"] for e in json_lines(trial_folder(run_dir, 1) / "epochs.jsonl")] == \
        [0, 1, 2]  # no epoch trained again
    for trial_id in rows:  # the same rows: the killed fit's hp_metric row, logged as its
        # training ended, died unwritten with it, is logged as it resumes (was: missing)
        table = Path("logs", "trials", f"trial_{trial_id:04d}", "metrics.csv")
        assert _rows(run_dir / table) == _rows(clean_dir / table), trial_id
    # no version of the resumed fit's left (was: ``trial_0001_resumed_<ns>``)
    assert sorted(p.name for p in (run_dir / "logs" / "trials").iterdir()) == \
        ["trial_0001", "trial_0002"]


def _rows(path: Path) -> list[dict[str, str]]:
    """The rows of a ``metrics.csv``, each without its empty values."""
    with path.open(newline="") as f:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(f)]


def _run_clean(launcher, tmp_path: Path, make: Callable[[Path, str], tuple[Path, Path]]
               ) -> Path:
    """Run the uninterrupted search of config ``make(tmp_path, "clean")``; its run folder."""
    cfg, run_dir = make(tmp_path, "clean")
    log = tmp_path / "clean.log"
    assert launcher.run(["search", cfg], log) == 0, log.read_text()[-3000:]
    return run_dir


def _files(run_dir: Path) -> list[Path]:
    return sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")
                  if p.suffix not in (".log",) and "lightning_logs" not in p.parts)


def _asha_config(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """Two trials under ASHA (rungs after epochs 1 and 3, monitor ``val_loss``), a
    ``RowKiller`` logger and a ``FitEndKiller``."""
    return _config(tmp_path, name, "tests.helpers.FitEndKiller", scheduler="asha",
                   min_epochs=1, eta=3, max_epochs=3, monitor="val_loss", mode="min", seed=3)


@pytest.mark.slow
def test_a_trial_killed_before_its_first_pause_under_asha_continues_as_if_uninterrupted(
        tmp_path, launcher):
    # trial 1 (alone at rung 1: it goes on) killed in epoch 1, its last.ckpt epoch 0's;
    # trial 2 (paused at rung 1) killed as its fit ends, its result not yet stored
    clean_dir = _run_clean(launcher, tmp_path, _asha_config)
    clean = kill_rows(clean_dir / "search.db")
    assert [clean[1]["status"], clean[2]["status"]] == ["COMPLETED", "PAUSED"]

    cfg, run_dir = _asha_config(tmp_path, "killed")
    env = {KILL_AT: "1", KILLED: str(tmp_path / "killed.mark"), KILL_END: "trial_0002"}
    log = tmp_path / "killed.log"
    assert launcher.run(["search", cfg], log, env=env) == -signal.SIGKILL, \
        log.read_text()[-3000:]
    assert kill_rows(run_dir / "search.db")[1]["status"] == "RUNNING"
    assert (trial_folder(run_dir, 1) / "last.ckpt").is_file()
    assert launcher.run(["search", cfg], log, env=env) == -signal.SIGKILL, \
        log.read_text()[-3000:]
    assert kill_rows(run_dir / "search.db")[2]["status"] == "RUNNING"
    assert (trial_folder(run_dir, 2) / "last.ckpt").is_file()  # its pause's
    assert launcher.run(["search", cfg], log, env=env) == 0, log.read_text()[-3000:]

    rows = kill_rows(run_dir / "search.db")
    assert {i: {k: r[k] for k in _KEPT} for i, r in rows.items()} == \
        {i: {k: r[k] for k in _KEPT} for i, r in clean.items()}
    # trial 1 on from epoch 0's last.ckpt (was: [0, 1, 0, 1, 2], trained again from 0)
    assert [e["epoch"] for e in json_lines(trial_folder(run_dir, 1) / "epochs.jsonl")] == \
        [0, 1, 1, 2]
    # trial 2 paused again from its pause's last.ckpt, no epoch trained (was: [0, 0])
    assert [e["epoch"] for e in json_lines(trial_folder(run_dir, 2) / "epochs.jsonl")] == [0]
    for trial_id in rows:
        csv = Path("logs", "trials", f"trial_{trial_id:04d}", "metrics.csv")
        assert (run_dir / csv).read_text() == (clean_dir / csv).read_text(), trial_id
    assert _files(run_dir) == _files(clean_dir)


def _plateau_config(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """One trial without a scheduler whose rate a ``ReduceLROnPlateau`` halves whenever
    ``val_loss`` falls (``mode: max``, ``patience: 0``: after every epoch but the first),
    logged each epoch by a ``LearningRateMonitor``, and a ``RowKiller`` logger."""
    cfg, run_dir = _config(tmp_path, name)
    config = yaml.safe_load(cfg.read_text())
    config["search"]["budget"] = 1
    config["trainer"]["max_epochs"] = 4
    config["trainer"]["callbacks"].append(
        {"class_path": "lightning.pytorch.callbacks.LearningRateMonitor",
         "init_args": {"logging_interval": "epoch"}})
    config["optimizer"] = {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.05}}
    config["lr_scheduler"] = {"class_path": "lightning.pytorch.cli.ReduceLROnPlateau",
                              "init_args": {"monitor": "val_loss", "mode": "max",
                                            "patience": 0, "factor": 0.5}}
    cfg.write_text(yaml.safe_dump(config))
    return cfg, run_dir


def _rates(run_dir: Path) -> list[float]:
    """The learning rate ``LearningRateMonitor`` logged at each epoch's start."""
    table = (run_dir / "logs" / "trials" / "trial_0001" / "metrics.csv").read_text()
    head, *rows = [line.split(",") for line in table.splitlines()]
    column = head.index("lr-SGD")
    return [float(row[column]) for row in rows if row[column]]


@pytest.mark.slow
def test_a_killed_trial_continued_steps_its_plateau_scheduler_as_if_uninterrupted(
        tmp_path, launcher):
    clean_dir = _run_clean(launcher, tmp_path, _plateau_config)
    assert _rates(clean_dir) == [0.05, 0.05, 0.025, 0.0125]

    cfg, run_dir = _plateau_config(tmp_path, "killed")
    env = {KILL_AT: "2", KILLED: str(tmp_path / "killed.mark")}  # its last.ckpt: epoch 1's
    log = tmp_path / "killed.log"
    assert launcher.run(["search", cfg], log, env=env) == -signal.SIGKILL, \
        log.read_text()[-3000:]
    assert launcher.run(["search", cfg], log, env=env) == 0, log.read_text()[-3000:]
    assert [e["epoch"] for e in json_lines(trial_folder(run_dir, 1) / "epochs.jsonl")] == \
        [0, 1, 2, 2, 3]
    # epoch 1's step, taken after its last.ckpt was written, halves epoch 2's rate (was:
    # missed on resume: [0.05, 0.05, 0.05, 0.025])
    assert _rates(run_dir) == _rates(clean_dir)
    rows, clean = kill_rows(run_dir / "search.db"), kill_rows(clean_dir / "search.db")
    assert {k: rows[1][k] for k in _KEPT} == {k: clean[1][k] for k in _KEPT}
