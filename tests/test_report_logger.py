"""The trials' hyperparameters and scores in the user's logger: each trial logs its
architecture and score, and searches (and their fine-tunes) sharing a ``save_dir``, also
from folders of one name, keep each trial's logs and never share a version. Real Trainers,
real CSV loggers."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from lightning_nas import Search, finetune
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_report import SPACE


class ScoreArgNet(TinyNet):
    """Has hyperparameters of its own named ``monitor`` and ``score`` (a scheduler's metric)."""

    def __init__(self, width: int = 16, activation: str = "relu", lr: float = 0.05,
                 monitor: str = "val_loss", score: str = "f1") -> None:
        super().__init__(width=width, activation=activation, lr=lr)
        self.save_hyperparameters()


def test_each_trial_logs_its_arch_and_score_to_the_users_logger(tmp_path):
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger"}
    result = Search(ScoreArgNet, SPACE, data=BlobData, trainer={"max_epochs": 2,
                                                                "logger": logger},
                    budget=2, run_dir=tmp_path, verbose=False).run()
    for trial in result.trials:
        version = tmp_path / "logs" / "trials" / f"trial_{trial.trial_id:04d}"
        hparams = yaml.safe_load((version / "hparams.yaml").read_text())
        assert {k: hparams[k] for k in trial.arch} == trial.arch
        # was: the search's score and monitor replaced the module's own (val_acc, a float)
        assert hparams["monitor"] == "val_loss" and hparams["score"] == "f1"
        assert hparams["search_score"] == pytest.approx(trial.score)
        assert hparams["search_monitor"] == "val_acc"
        assert "hp_metric" in (version / "metrics.csv").read_text()
    summary = tmp_path / "logs" / "search" / "summary"  # and the search as a whole
    hparams = yaml.safe_load((summary / "hparams.yaml").read_text())
    assert hparams["best_score"] == pytest.approx(result.best.score)
    assert hparams["completed"] == 2 and hparams["width"] == result.best.arch["width"]
    rows = (summary / "metrics.csv").read_text().splitlines()
    assert {"trial_score", "best_so_far", "step"} <= set(rows[0].split(","))
    assert len(rows) == 4  # a row per completed trial, and the best's score as hp_metric


class CountArgNet(TinyNet):
    """Has hyperparameters named as the search summary's own: ``failed``, ``best_trial``."""

    def __init__(self, width: int = 16, lr: float = 0.05, failed: int = 0,
                 best_trial: int = 0) -> None:
        super().__init__(width=width, lr=lr)
        self.save_hyperparameters()


def test_a_searched_key_named_as_a_summary_hyperparameter_keeps_both(tmp_path):
    # was: the best architecture's `failed` replaced the count of failed trials (7, not 0),
    # and the best trial's id replaced its `best_trial` (50 or 60 lost)
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger"}
    space = {"width": {"choice": [4, 8]}, "failed": {"choice": [7, 9]},
             "best_trial": {"choice": [50, 60]}}
    result = Search(CountArgNet, space, data=BlobData, trainer={"max_epochs": 1,
                                                                "logger": logger},
                    budget=2, run_dir=tmp_path, verbose=False).run()
    hparams = yaml.safe_load((tmp_path / "logs" / "search" / "summary" / "hparams.yaml"
                              ).read_text())
    best = result.best
    assert (hparams["failed"], hparams["best_trial"]) == (0, best.trial_id)
    assert (hparams["arch.failed"], hparams["arch.best_trial"]) == (best.arch["failed"],
                                                                    best.arch["best_trial"])
    assert hparams["width"] == best.arch["width"] and "arch.width" not in hparams


def test_searches_sharing_a_save_dir_keep_each_trials_logs(tmp_path):
    # was: with the user's save_dir two searches wrote the same trials/trial_0001 (the second
    # deleted the first one's metrics.csv); `version: null` (what LightningCLI prints) made
    # the trials version_0, version_1 and the summary version_2; a fixed version sent every
    # trial into one folder
    shared = tmp_path / "tb"
    for run, version in (("a", None), ("b", "v7")):
        logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
                  "init_args": {"save_dir": str(shared), "version": version}}
        Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 1, "logger": logger},
               budget=2, run_dir=tmp_path / run, verbose=False).run()
    for _ in range(2):  # and so do fine-tunes (finetune, finetune_1) under it
        finetune(tmp_path / "a", max_epochs=1)
    a, b = (_log_label(tmp_path / run) for run in "ab")
    folders = sorted(p.parent.relative_to(shared).as_posix()
                     for p in shared.rglob("metrics.csv"))
    folders = sorted(re.sub(r"-[0-9a-f]{6}_logs$", "-?_logs", f) for f in folders)
    assert folders == sorted(["a_finetune-?_logs", "a_finetune_1-?_logs", f"search/{a}_summary",
                              f"search/{b}_v7_summary", f"trials/{a}_trial_0001",
                              f"trials/{a}_trial_0002", f"trials/{b}_v7_trial_0001",
                              f"trials/{b}_v7_trial_0002"])


def _log_label(run: Path) -> str:
    with RunStore(run / "search.db") as store:
        return store.get_meta("log_label")


def test_searches_in_folders_of_one_name_under_a_shared_save_dir_never_share_a_version(
        tmp_path):
    # was: exp1/nas and exp2/nas both logged to trials/nas_trial_0001 (the second search
    # overwrote the first one's metrics.csv, their checkpoints mixed) and search/nas_summary
    shared = tmp_path / "tb"
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
              "init_args": {"save_dir": str(shared)}}
    runs = [tmp_path / exp / "nas" for exp in ("exp1", "exp2")]
    for run in runs:
        Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 1, "logger": logger},
               budget=1, run_dir=run, verbose=False).run()
    labels = [_log_label(run) for run in runs]
    assert all(re.fullmatch(r"nas-[0-9a-f]{6}", label) for label in labels)
    assert labels[0] != labels[1]
    # a resume keeps the run's label; a run folder of an older version (no label) its name
    Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 1, "logger": logger},
           budget=2, run_dir=runs[0], verbose=False).run()
    with sqlite3.connect(runs[1] / "search.db") as db:
        db.execute("DELETE FROM meta WHERE key = 'log_label'")
    Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 1, "logger": logger},
           budget=2, run_dir=runs[1], verbose=False).run()
    folders = sorted(p.parent.relative_to(shared).as_posix()
                     for p in shared.rglob("metrics.csv"))
    one, two = labels
    assert folders == sorted([f"trials/{one}_trial_0001", f"trials/{one}_trial_0002",
                              f"trials/{two}_trial_0001", "trials/nas_trial_0002",
                              f"search/{one}_summary", f"search/{two}_summary",
                              "search/nas_summary"])
