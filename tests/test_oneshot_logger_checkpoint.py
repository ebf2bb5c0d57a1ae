"""What the loggers are told of the checkpoints a run saves (``Logger.after_save_checkpoint``,
which W&B's ``log_model`` and a user's logger use to upload the file): the file the
checkpoint callback names is there, and holds the epoch just saved.

``lightning-nas oneshot``'s ``last.ckpt`` is written as ``.last.pending.ckpt`` and put in
place once Lightning logged the epoch's training row (``search/pending_last.py``): the
loggers are told once it is in place (was: told as it was written, of a ``last.ckpt`` not
there yet, or the epoch before's). A trial's (``fit``'s) loggers are told of its
``best.ckpt`` alone: its ``last.ckpt`` is a resume file, written by the Trainer itself.
Real Trainers, a real ``lightning.pytorch.loggers.Logger`` of the test's own.
"""

from __future__ import annotations

import json
import os
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning.pytorch.loggers import Logger

from lightning_nas.cli import main

#: where ``SaveRecorder`` appends what it was told (one JSON line a call)
RECORD = "LIGHTNING_NAS_TEST_SAVE_RECORD"


def _named(path: str) -> dict[str, Any]:
    """A path a checkpoint callback names: whether it is there, and the epoch it holds."""
    there = bool(path) and os.path.isfile(path)
    epoch = torch.load(path, map_location="cpu", weights_only=False)["epoch"] if there else None
    return {"name": Path(path).name if path else "", "there": there, "epoch": epoch}


class SaveRecorder(Logger):
    """A logger that logs nothing and appends, to ``$LIGHTNING_NAS_TEST_SAVE_RECORD``, what
    each ``after_save_checkpoint`` is told: the callback's type, its ``best_model_path`` and
    ``last_model_path`` (whether each file is there, and its epoch)."""

    @property
    def name(self) -> str:
        return "save_recorder"

    @property
    def version(self) -> str:
        return "0"

    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any,
                        **kwargs: Any) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        with open(os.environ[RECORD], "a") as f:
            f.write(json.dumps({"callback": checkpoint_callback.__class__.__name__,
                                "best": _named(checkpoint_callback.best_model_path),
                                "last": _named(checkpoint_callback.last_model_path)}) + "\n")


LOGGER = {"class_path": "tests.test_oneshot_logger_checkpoint.SaveRecorder"}


def _told(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() \
        else []


@pytest.fixture
def record(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "told.jsonl"
    monkeypatch.setenv(RECORD, str(path))
    torch.set_num_threads(1)
    return path


def test_oneshot_tells_its_loggers_of_last_ckpt_once_it_is_in_place(tmp_path, capsys, record):
    run = tmp_path / "run"
    config = tmp_path / "oneshot.yaml"
    config.write_text(yaml.safe_dump({
        "model": "tests.helpers.TinySupernet",
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 128,
                                                                     "batch_size": 32}},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1,
                    "limit_train_batches": 2, "logger": LOGGER},
        "oneshot": {"algorithm": "spos", "calibration_batches": 1, "num_classes": 3,
                    "seed": 0, "run_dir": str(run), "num_candidates": 2}}))
    assert main(["oneshot", str(config)]) == 0, capsys.readouterr().err
    told = [(t["callback"], t["best"]) for t in _told(record)]
    # once an epoch, the file there and of that epoch (was: ('last.ckpt', False, None), then
    # ('last.ckpt', True, 0): told before the pending file was put in place)
    assert told == [("RunCheckpoint", {"name": "last.ckpt", "there": True, "epoch": epoch})
                    for epoch in (0, 1)]


def test_a_fits_loggers_are_told_of_its_best_ckpt_alone(tmp_path, capsys, record):
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 128,
                                                                     "batch_size": 32}},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False,
                    "logger": LOGGER}}))
    out = tmp_path / "out"
    assert main(["fit", str(config), "--out", str(out)]) == 0, capsys.readouterr().err
    told = _told(record)  # (its last.ckpt, written each epoch, is a resume file: not told)
    assert told and all(t["callback"] == "TrialCheckpoint" and t["best"]["name"] == "best.ckpt"
                        and t["best"]["there"] and t["last"]["name"] == "" for t in told)
