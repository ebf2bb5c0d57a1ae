"""Runs killed with ``SIGKILL`` in tests: the config of a small search that a test launches
(``tests.launcher``), kills and resumes, its store's rows read while it runs, a kill once a
condition on them holds, the JSON-lines files its callbacks write, and ``RowKiller``, a
logger that kills its own process as it is asked to log an epoch's training row.

Example:
    >>> import tempfile
    >>> cfg, run_dir = kill_config(Path(tempfile.mkdtemp()), "run", 4)
    >>> (cfg.name, run_dir.name)
    ('run.yaml', 'run')
    >>> json_lines(run_dir / "epochs.jsonl")  # not written yet
    []
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import yaml
from lightning.pytorch.loggers import CSVLogger

from tests.helpers_paths import at_helpers
from tests.helpers_runs import trial_rows
from tests.launcher import Launcher

__all__ = ["FitEndKiller", "KILLED", "KILL_AT", "KILL_END", "KILL_GROUP", "KILL_SPACE", "POLL",
           "RowKiller",
           "json_lines", "kill_config", "kill_rows", "kill_when"]

POLL = 0.01  # seconds between reads of the store

#: a finite space (the optimizer proposes repeats, which must not be trained again)
KILL_SPACE = {"width": {"choice": [4, 6, 8, 12, 16, 24, 32, 48]},
              "activation": {"choice": ["relu", "tanh"]}, "depth": {"choice": [1, 2]}}

_COLUMNS = "id, arch, arch_key, status, score, metrics, started, finished, curve, epochs, " \
           "error, attempts"


def kill_rows(db: Path) -> dict[int, dict[str, Any]]:
    """The store's trials, read-only (empty before the driver created its tables)."""
    return trial_rows(db, _COLUMNS)


def kill_config(tmp_path: Path, name: str, budget: int, **search: Any) -> tuple[Path, Path]:
    """``tmp_path/<name>.yaml``, a search of ``TinyNet`` on blobs (3 epochs, ``EpochLog``
    noting each epoch) over ``KILL_SPACE`` with ``budget`` and the ``search`` settings, and
    its run folder ``tmp_path/<name>``."""
    run_dir = tmp_path / name
    trainer = {"max_epochs": 3, "accelerator": "cpu", "devices": 1, "logger": False,
               "enable_progress_bar": False, "enable_model_summary": False,
               "callbacks": [{"class_path": "tests.helpers.EpochLog"}]}
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData",
                 "init_args": {"n": 128, "batch_size": 32}},
        "trainer": trainer,
        "search": {"space": KILL_SPACE, "optimizer": "RandomSearch", "budget": budget,
                   "seed": 7, "run_dir": str(run_dir), "progress": False, **search}}))
    return cfg, run_dir


def kill_when(launcher: Launcher, cfg: Path, log: Path,
              ready: Callable[[dict[int, dict]], bool]) -> float:
    """Launch the search of ``cfg`` (its run folder ``cfg``'s name beside it), SIGKILL it
    once ``ready(rows)`` holds; the time right after the kill."""
    launcher.launch(["search", cfg], log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        code = launcher.exited()
        assert code is None, f"the search ended (exit {code}):\n{log.read_text()[-3000:]}"
        if ready(kill_rows(cfg.parent / cfg.stem / "search.db")):
            assert launcher.kill() == -signal.SIGKILL
            return time.time()
        time.sleep(POLL)
    launcher.kill()
    raise AssertionError(f"the moment to kill never came:\n{log.read_text()[-3000:]}")


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, one a line (none while it is not written)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


#: the epoch whose training row ``RowKiller`` is killed at (unset: it never kills)
KILL_AT = "LIGHTNING_NAS_TEST_KILL_ROW_AT"
#: the file ``RowKiller`` writes before its kill, so that the resumed fit is not killed
KILLED = "LIGHTNING_NAS_TEST_KILL_ROW_MARK"


@at_helpers
class RowKiller(CSVLogger):
    """A ``CSVLogger`` whose process dies (SIGKILL) when Lightning asks it to log the
    training row of epoch ``$LIGHTNING_NAS_TEST_KILL_ROW_AT``, once: after the epoch-end
    hooks wrote ``last.ckpt``, before the row is written."""

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        at, mark = os.environ.get(KILL_AT), os.environ.get(KILLED)
        if (at is not None and mark and not os.path.exists(mark) and "train_loss" in metrics
                and metrics.get("epoch") == int(at)):
            Path(mark).write_text("killed\n")
            os.kill(os.getpid(), signal.SIGKILL)
        super().log_metrics(metrics, step)


#: the trial folder's name (``trial_0002``) whose fit ``FitEndKiller`` is killed at the end of
KILL_END = "LIGHTNING_NAS_TEST_KILL_FIT_END"
#: set: ``FitEndKiller`` kills its whole process group (a search launched in a session of
#: its own, ``Launcher.launch(session=True)``: the search and its workers), not its process
KILL_GROUP = "LIGHTNING_NAS_TEST_KILL_FIT_END_GROUP"


@at_helpers
class FitEndKiller(pl.Callback):
    """Kills its process (SIGKILL) as the fit of trial folder ``$LIGHTNING_NAS_TEST_KILL_FIT_END``
    ends (``on_fit_end``: its ``last.ckpt`` in place, its result not yet back in the
    search), once (the mark ``$LIGHTNING_NAS_TEST_KILL_ROW_MARK`` + ``.end``); with
    ``$LIGHTNING_NAS_TEST_KILL_FIT_END_GROUP`` set, its process group (a worker's search)."""

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        name, mark = os.environ.get(KILL_END), os.environ.get(KILLED)
        if name and mark and Path(trainer.default_root_dir).name == name \
                and not os.path.exists(f"{mark}.end"):
            Path(f"{mark}.end").write_text("killed\n")
            if os.environ.get(KILL_GROUP):
                os.killpg(os.getpgrp(), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
