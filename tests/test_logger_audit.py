"""What a search's loggers record, read back from the files a real ``TensorBoardLogger``
(tensorboardX) writes: TensorBoard's HParams view keeps the *first* hyperparameters of each
run (its event loader stores a tag's summary metadata once), so the hyperparameters a trial
logs at its end never showed there; and the search summary's run, which the view lists
beside the trials, and a failed trial's kept the placeholder ``hp_metric`` of -1 (the best
of a ``min`` search); so did a trial FAILED for a NaN score, whose fit ended without an
error (a NaN objective's even logged the monitor's best as ``hp_metric``).

Example:
    >>> BOARD["class_path"]
    'lightning.pytorch.loggers.TensorBoardLogger'
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_nas import Search
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.summary import log_summary
from lightning_nas.search.trial import TrialSpec, fit_trial
from tests.helpers import BlobData, TinyNet
from tests.helpers_events import event_hparams, event_scalars

pytest.importorskip("tensorboardX")

__all__: list[str] = []

BOARD = {"class_path": "lightning.pytorch.loggers.TensorBoardLogger"}
CSV = {"class_path": "lightning.pytorch.loggers.CSVLogger"}


@pytest.fixture(scope="module")
def board_search(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A search of two trials, each logging to a ``TensorBoardLogger`` node: its run folder
    and its result."""
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("board") / "run"
    result = Search(TinyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData, budget=3,
                    monitor="val_loss", mode="min", run_dir=run, seed=0, verbose=False,
                    model_init_args={"fail_width": 16}, max_failures=1,
                    trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": BOARD}).run()
    assert sorted(t.status.value for t in result.trials) == ["COMPLETED", "COMPLETED",
                                                             "FAILED"]
    return run, result


def _events(run: Path, trial_id: int) -> bytes:
    """The event file of trial ``trial_id``'s version."""
    (events,) = (run / "logs" / "trials" / f"trial_{trial_id:04d}").glob(
        "events.out.tfevents.*")
    return events.read_bytes()


def test_tensorboards_first_hparams_of_a_trial_hold_its_architecture_and_monitor(board_search):
    # was: Lightning's own hyperparameters (the module's) came first, at the fit's start, and
    # the architecture with search_monitor, logged at the trial's end, came second: the
    # HParams view, which keeps a run's first, never showed them (a module that saves no
    # hyperparameters: no searched key at all)
    run, result = board_search
    for trial in result.trials:
        first = event_hparams(_events(run, trial.trial_id))[0]
        assert first["search_monitor"] == "val_loss"
        assert first["width"] == trial.arch["width"] and first["activation"] == "relu"


def test_the_summary_runs_hp_metric_is_the_best_score(board_search):
    # was: -1, TensorBoardLogger's placeholder, so in the HParams view beside the trials the
    # summary run (the best architecture) ranked first of a `min` search, at a score no
    # trial reached
    run, result = board_search
    (events,) = (run / "logs" / "search" / "summary").glob("events.out.tfevents.*")
    assert event_scalars(events.read_bytes(), "hp_metric")[-1] == pytest.approx(result.best.score)


def test_a_failed_trials_hp_metric_is_nan(board_search):
    # was: -1, the placeholder Lightning logs as the fit starts: in the HParams view the
    # failed trial ranked first of a `min` search
    run, result = board_search
    (failed,) = [t for t in result.trials if t.status.value == "FAILED"]
    assert math.isnan(event_scalars(_events(run, failed.trial_id), "hp_metric")[-1])


@pytest.mark.parametrize(("monitor", "mode", "logged"), [("val_acc", "max", ()),
                                                         ("val_loss", "min", ("val_acc",))])
def test_a_trial_failed_for_a_nan_score_logs_hp_metric_nan(tmp_path, monitor, mode, logged):
    # was: a NaN monitor left TensorBoard's placeholder, -1 (the best of a `min` search), and
    # a NaN objective the monitor's best value, as if the FAILED trial had that score
    torch.set_num_threads(1)
    run = tmp_path / "run"
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(run / "trials" / "trial_0001"),
                     model=TinyNet, data=BlobData, model_init_args={"nan_width": 8},
                     monitor=monitor, mode=mode, logged=logged, log_label="lbl",
                     trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": BOARD})
    result = fit_trial(spec)
    assert result.status is TrialStatus.FAILED and "is nan" in result.error
    assert math.isnan(event_scalars(_events(run, 1), "hp_metric")[-1])


def test_a_csv_logger_beside_tensorboard_in_a_trials_version_warns_of_no_deletion(tmp_path):
    # was: every trial (and its promoted segment, and the summary) warned "Previous log files
    # in this directory will be deleted": the TensorBoard logger of the same list wrote the
    # version first, and the CSV logger deletes only a metrics.csv, which was not there
    torch.set_num_threads(1)
    run = tmp_path / "run"
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(run / "trials" / "trial_0001"),
                     model=TinyNet, data=BlobData, log_label="lbl",
                     trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": [BOARD, CSV]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fit_trial(spec).status is TrialStatus.COMPLETED
    assert [str(w.message) for w in caught if "will be deleted" in str(w.message)] == []
    assert (run / "logs" / "trials" / "trial_0001" / "metrics.csv").is_file()


def test_the_summary_of_a_csv_logger_beside_tensorboard_warns_of_no_deletion(tmp_path):
    # was: "Previous log files in this directory will be deleted" as the summary ended
    trial = TrialResult(trial_id=1, arch={"width": 8}, status=TrialStatus.COMPLETED, score=0.5)
    counts = {status: int(status is TrialStatus.COMPLETED) for status in TrialStatus}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log_summary([[BOARD, CSV]], str(tmp_path / "logs"), "max", [trial], trial, counts, "a")
    assert [str(w.message) for w in caught if "will be deleted" in str(w.message)] == []
    assert (tmp_path / "logs" / "search" / "summary" / "metrics.csv").is_file()


def test_a_trial_of_a_tensorboard_logger_without_default_hp_metric_is_in_the_hparams_view(
        tmp_path):
    # default_hp_metric=False (no -1 placeholder) made TensorBoardLogger.log_hyperparams write
    # hparams.yaml alone, no HParams session: the trial was not in TensorBoard's HParams view
    # (was: no session at all, its searched keys and score shown nowhere there)
    torch.set_num_threads(1)
    run = tmp_path / "run"
    board = {**BOARD, "init_args": {"default_hp_metric": False}}
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(run / "trials" / "trial_0001"),
                     model=TinyNet, data=BlobData, log_label="lbl",
                     trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": board})
    result = fit_trial(spec)
    assert result.status is TrialStatus.COMPLETED
    sessions = event_hparams(_events(run, 1))
    assert sessions and sessions[0]["width"] == 8 and sessions[0]["search_monitor"] == "val_acc"
    assert sessions[0]["activation"] == "relu"  # the module's own hyperparameters too
    scores = event_scalars(_events(run, 1), "hp_metric")
    assert scores[-1] == pytest.approx(result.score) and -1.0 not in scores
