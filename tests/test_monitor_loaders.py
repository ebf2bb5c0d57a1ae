"""A monitor or objective named without its loader's suffix, where validation runs over
several loaders: Lightning logs each metric of ``validation_step`` once per loader
(``val_acc/dataloader_idx_0``, ``..._1``), never under its plain name, so no validation can
score a trial on ``val_acc``. It is refused when the first validation after the sanity check
ends, naming the per-loader keys: before that epoch completes (no entry, no checkpoint), its
training batches alone trained. (Lightning keeps the metrics of a sanity check over several
loaders out of ``trainer.callback_metrics``: that check cannot see them.)

A tiny MLP on blobs, two validation loaders, three epochs asked for: every trial is real.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lightning_nas.results import TrialStatus
from lightning_nas.search.trial import TrialSpec, fit_trial
from tests.helpers_data import TwoValBlobData
from tests.helpers_models import TwoLoaderNet

TRAINER = {"max_epochs": 3, "accelerator": "cpu", "devices": 1, "logger": False,
           "limit_train_batches": 2, "enable_checkpointing": False}


def _fit(tmp_path: Path, monitor: str, logged: tuple[str, ...] = (), **trainer):
    torch.set_num_threads(1)
    TwoLoaderNet.steps.clear()
    spec = TrialSpec(trial_id=1, arch={"width": 4}, trial_dir=str(tmp_path), model=TwoLoaderNet,
                     data=TwoValBlobData, seed=1, monitor=monitor, logged=logged,
                     trainer={**TRAINER, **trainer})
    return fit_trial(spec)


@pytest.mark.parametrize("sanity", [2, 0], ids=["at-the-sanity-check", "no-sanity-check"])
def test_a_monitor_under_its_plain_name_is_refused_before_an_epoch_completes(tmp_path, sanity):
    result = _fit(tmp_path, "val_acc", num_sanity_val_steps=sanity)
    assert result.status is TrialStatus.FAILED and result.fatal
    assert ("MonitorError: monitor 'val_acc' is logged once per validation loader, never under "
            "that name: did you mean 'val_acc/dataloader_idx_0'? (a validation of several "
            "loaders logs a metric once per loader, under these names: "
            "val_acc/dataloader_idx_0, val_acc/dataloader_idx_1)") in result.error, result.error
    assert "on_validation_epoch_end" in result.error  # how to score them all
    assert not result.curve  # no epoch completed (was: all three trained, then refused)
    assert TwoLoaderNet.steps == [0, 1]  # the first epoch's batches alone


def test_an_objective_under_its_plain_name_is_refused_as_the_monitor_is(tmp_path):
    result = _fit(tmp_path, "val_acc/dataloader_idx_0", logged=("val_loss",))
    assert result.status is TrialStatus.FAILED and result.fatal
    assert ("objective 'val_loss' is logged once per validation loader, never under that name: "
            "did you mean 'val_loss/dataloader_idx_0'?") in result.error, result.error
    assert not result.curve and TwoLoaderNet.steps == [0, 1]


def test_one_loaders_names_train_to_the_end(tmp_path):
    result = _fit(tmp_path, "val_acc/dataloader_idx_1", logged=("val_loss/dataloader_idx_0",))
    assert result.status is TrialStatus.COMPLETED, result.error
    assert len(result.curve) == 3 and len(TwoLoaderNet.steps) == 6
