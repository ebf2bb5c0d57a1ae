"""A Trainer setting Lightning refuses only once it knows the data (an integer
``val_check_interval`` above an epoch's training batches, a ``limit_*_batches`` fraction
that leaves no batch, a fraction of an epoch of data with no length) fails every command
before training, in one line naming the setting, its value, the batches it was compared
with and what would work: ``search`` stops at trial 1 (a corrected value resumes the run),
``fit``, ``oneshot``. Real Trainers, tiny data (3 training batches, 1 validation batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml
from torch.utils.data import DataLoader, IterableDataset

from lightning_nas.cli import main
from lightning_nas.results import TrialStatus
from lightning_nas.search.trial import TrialSpec, fit_trial
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData, make_blobs
from tests.helpers_models import TinyNet

DATA = {"class_path": "tests.helpers.BlobData", "init_args": {"n": 96, "batch_size": 24}}
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "enable_progress_bar": False}


def _write(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _fit(tmp_path: Path, data: Any = None, **trainer: Any):
    spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(tmp_path / "trial"), model=TinyNet,
                     data=data or BlobData(n=96, batch_size=24), monitor="val_loss",
                     mode="min", trainer={**TRAINER, "logger": False, **trainer})
    return fit_trial(spec)


class _Stream(IterableDataset):
    """Blobs with no length (an ``IterableDataset``)."""

    def __iter__(self):
        x, y = make_blobs(48)
        return iter(zip(x, y, strict=True))


class StreamData(BlobData):
    """``BlobData`` whose training data is a stream with no length."""

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_Stream(), batch_size=self.batch_size)


def test_a_search_stops_at_trial_one_and_a_corrected_value_resumes_it(tmp_path, capsys):
    # was: trials 1 and 2 failed with Lightning's "ValueError: `val_check_interval` (1000)
    # must be less than or equal to the number of the training batches (2)", and the
    # corrected value was refused: "holds a search whose trials ran with other settings"
    run = tmp_path / "run"
    cfg = {"model": {"class_path": "tests.helpers.TinyNet"}, "data": DATA,
           "trainer": {**TRAINER, "limit_train_batches": 2, "val_check_interval": 1000},
           "search": {"space": {"width": {"choice": [4, 8, 16]}}, "optimizer": "RandomSearch",
                      "budget": 2, "monitor": "val_loss", "mode": "min", "run_dir": str(run)}}
    config = _write(tmp_path / "search.yaml", cfg)
    assert main(["search", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert ("trial 1 failed with an error every trial would hit: BatchSettingError: "
            "trainer.val_check_interval=1000 is more than the 2 training batches of an epoch "
            "(limit_train_batches=2 of 3); give at most 2, a fraction "
            "of the epoch such as 0.5, or check_val_every_n_epoch=null (a validation every "
            "1000 batches, across epochs). To go on, fix it and run the same search "
            "again (trial 1 runs again); a changed trainer.val_check_interval, "
            "trainer.check_val_every_n_epoch, trainer.limit_train_batches, "
            "trainer.limit_val_batches or data resumes it") in err, err
    with RunStore(run / "search.db") as store:
        assert [(t.trial_id, t.status) for t in store.trials()] == [(1, TrialStatus.FAILED)]
    cfg["trainer"]["val_check_interval"] = 2
    capsys.readouterr()
    assert main(["search", str(_write(config, cfg))]) == 0
    assert "Trial 1 runs again: its error stopped the search" in capsys.readouterr().out
    with RunStore(run / "search.db") as store:
        assert [(t.trial_id, t.status) for t in store.trials()] == [
            (1, TrialStatus.COMPLETED), (2, TrialStatus.COMPLETED)]


def test_an_interval_above_the_batches_of_an_epoch_is_fatal_in_one_line(tmp_path):
    # was: "ValueError: `val_check_interval` (1000) must be less than or equal to the
    # number of the training batches (3). ..." and not fatal (a second trial ran)
    result = _fit(tmp_path, val_check_interval=1000)
    assert (result.status, result.fatal, result.epochs) == (TrialStatus.FAILED, True, 0)
    assert result.error.split("\n")[0] == (
        "BatchSettingError: trainer.val_check_interval=1000 is more than the 3 training "
        "batches of an epoch; give at most 3, a fraction of the epoch such as 0.5, or "
        "check_val_every_n_epoch=null (a validation every 1000 batches, across epochs)")


def test_a_limit_fraction_that_leaves_no_batch_is_fatal_in_one_line(tmp_path):
    # was: "MisconfigurationException: You requested to check 0.1 of the `train_dataloader`
    # but 0.1 * 3 < 1. ..." (and for the validation's), not fatal
    train = _fit(tmp_path, limit_train_batches=0.1)
    assert (train.fatal, train.error.split("\n")[0]) == (True, (
        "BatchSettingError: trainer.limit_train_batches=0.1 leaves none of the 3 training "
        "batches of an epoch (0.1 * 3 < 1); give at least 0.334 (1/3), a number of batches "
        "such as 1, or 1.0 (all)"))
    val = _fit(tmp_path, limit_val_batches=0.5)
    assert (val.fatal, val.error.split("\n")[0]) == (True, (
        "BatchSettingError: trainer.limit_val_batches=0.5 leaves none of the 1 validation "
        "batch of an epoch (0.5 * 1 < 1); give at least 1.0 (1/1), a number of batches "
        "such as 1, or 1.0 (all)"))


def test_a_fraction_of_an_epoch_of_data_with_no_length_is_fatal_in_one_line(tmp_path):
    # was: "MisconfigurationException: When using an IterableDataset for
    # `train_dataloader`, `Trainer(val_check_interval)` must be time based, ..."
    result = _fit(tmp_path, data=StreamData(n=96, batch_size=24), val_check_interval=0.5)
    assert (result.fatal, result.error.split("\n")[0]) == (True, (
        "BatchSettingError: trainer.val_check_interval=0.5 is a fraction of an epoch, but "
        "the training data has no length (an IterableDataset); give a number of batches "
        "such as 100, 1.0 (each epoch's end), or a time such as '00:00:10:00'"))


def test_fit_and_oneshot_refuse_it_in_one_line_before_training(tmp_path, capsys):
    # was: fit: "training failed: ValueError: `val_check_interval` (1000) must be less ..."
    # with a traceback; oneshot: Lightning's message in a ConfigError
    cfg = {"model": {"class_path": "tests.helpers.TinyNet"}, "data": DATA,
           "trainer": {**TRAINER, "val_check_interval": 1000}}
    out = tmp_path / "out"
    assert main(["fit", str(_write(tmp_path / "fit.yaml", cfg)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trainer.val_check_interval=1000 is more than the 3 " \
        "training batches of an epoch; give at most 3" in err, err
    run = tmp_path / "oneshot"
    cfg = {"model": "tests.helpers.TinySupernet", "data": DATA,
           "trainer": {**TRAINER, "val_check_interval": 1000},
           "oneshot": {"calibration_batches": 1, "num_classes": 3, "seed": 0,
                       "num_candidates": 2, "run_dir": str(run)}}
    assert main(["oneshot", str(_write(tmp_path / "oneshot.yaml", cfg))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trainer.val_check_interval=1000 is more than the 3 " \
        "training batches of an epoch; give at most 3" in err, err


def test_a_searched_interval_fails_its_own_trial_only(tmp_path):
    # the architecture's own Trainer value: another trial's may work
    spec = TrialSpec(trial_id=1, arch={"trainer.val_check_interval": 1000},
                     trial_dir=str(tmp_path / "trial"), model=TinyNet,
                     data=BlobData(n=96, batch_size=24), monitor="val_loss", mode="min",
                     trainer={**TRAINER, "logger": False, "val_check_interval": 1000})
    result = fit_trial(spec)
    assert (result.status, result.fatal) == (TrialStatus.FAILED, False)
    assert result.error.startswith("BatchSettingError: trainer.val_check_interval=1000 ")


torch.set_num_threads(1)
