"""A monitor of the user's callbacks (``EarlyStopping``, ``ModelCheckpoint``, a
``ReduceLROnPlateau`` of ``configure_optimizers``) named without its loader's suffix, where
validation runs over several loaders (``val_acc`` where Lightning logs
``val_acc/dataloader_idx_0``, ``..._1``): refused when the first validation after the sanity
check ends, as the search's own monitor is (``monitor_errors.per_loader``), before that
epoch completes; in a trial, a search (stopped at trial 1, a changed ``trainer.callbacks``
resumes it) and a one-shot run. Real Trainers, a tiny MLP on blobs, two validation loaders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from lightning_nas.cli import main
from lightning_nas.results import TrialStatus
from lightning_nas.search.callback_monitors import is_callback_monitor_error
from lightning_nas.search.trial import TrialSpec, fit_trial
from lightning_nas.store import RunStore
from tests.helpers_data import TwoValBlobData
from tests.helpers_models import TwoLoaderNet

TRAINER = {"max_epochs": 3, "accelerator": "cpu", "devices": 1, "logger": False,
           "limit_train_batches": 2, "enable_progress_bar": False}

#: what a callback's monitor 'val_acc' is told, after its label
SAID = ("'s monitor 'val_acc' is logged once per validation loader, never under that name: "
        "did you mean 'val_acc/dataloader_idx_0'? (a validation of several loaders logs a "
        "metric once per loader, under these names: val_acc/dataloader_idx_0, "
        "val_acc/dataloader_idx_1); score one loader's value, or log 'val_acc' itself (the "
        "loaders' mean, say) in on_validation_epoch_end")


class PlateauLoaderNet(TwoLoaderNet):
    """``TwoLoaderNet`` whose learning rate a ``ReduceLROnPlateau`` on ``val_acc`` lowers."""

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max")
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_acc"}}


class EpochEndLoaderNet(TwoLoaderNet):
    """``TwoLoaderNet`` with its own ``on_train_epoch_end`` (was: its callbacks were left to
    Lightning, which failed after the epoch with a traceback)."""

    def on_train_epoch_end(self) -> None:
        self.log("epochs_done", float(self.current_epoch + 1))


def _fit(tmp_path: Path, model: type = TwoLoaderNet, **trainer: Any):
    torch.set_num_threads(1)
    TwoLoaderNet.steps.clear()
    spec = TrialSpec(trial_id=1, arch={"width": 4}, trial_dir=str(tmp_path / "trial"),
                     model=model, data=TwoValBlobData, seed=1,
                     monitor="val_acc/dataloader_idx_0", trainer={**TRAINER, **trainer})
    return fit_trial(spec)


@pytest.mark.parametrize(("model", "callbacks", "label"), [
    (TwoLoaderNet, [EarlyStopping(monitor="val_acc", mode="max")], "EarlyStopping"),
    (TwoLoaderNet, [ModelCheckpoint(monitor="val_acc", mode="max")], "ModelCheckpoint"),
    (PlateauLoaderNet, [], "configure_optimizers' ReduceLROnPlateau"),
    (EpochEndLoaderNet, [EarlyStopping(monitor="val_acc", mode="max")], "EarlyStopping")],
    ids=["early-stopping", "checkpoint", "plateau", "own-epoch-end"])
@pytest.mark.parametrize("sanity", [2, 0], ids=["sanity-check", "no-sanity-check"])
def test_a_callback_monitor_under_its_plain_name_is_refused_before_an_epoch_completes(
        tmp_path, model, callbacks, label, sanity):
    # was: "EarlyStopping's monitor 'val_acc' is not logged; did you mean ..." once the
    # first epoch completed, or Lightning's own error after it (own on_train_epoch_end)
    result = _fit(tmp_path, model, callbacks=callbacks, num_sanity_val_steps=sanity,
                  enable_checkpointing=bool(callbacks) and label == "ModelCheckpoint")
    assert result.status is TrialStatus.FAILED and result.fatal
    assert result.error.splitlines()[0] == f"MonitorError: {label}{SAID}", result.error
    assert is_callback_monitor_error(result.error.splitlines()[0])  # a changed config resumes
    assert not result.curve and TwoLoaderNet.steps == [0, 1]  # the first epoch's batches


def test_a_callback_monitor_of_one_loader_trains_to_the_end(tmp_path):
    result = _fit(tmp_path, callbacks=[EarlyStopping(monitor="val_acc/dataloader_idx_1",
                                                     mode="max", patience=5)])
    assert result.status is TrialStatus.COMPLETED, result.error
    assert len(result.curve) == 3 and len(TwoLoaderNet.steps) == 6


def _callback(monitor: str) -> dict[str, Any]:
    return {"class_path": "lightning.pytorch.callbacks.EarlyStopping",
            "init_args": {"monitor": monitor, "mode": "max"}}


def test_a_search_stops_at_trial_one_and_a_fixed_callback_resumes_it(tmp_path, capsys):
    run = tmp_path / "run"
    cfg = {"model": {"class_path": "tests.helpers.TwoLoaderNet"},
           "data": {"class_path": "tests.helpers.TwoValBlobData"},
           "trainer": {**TRAINER, "max_epochs": 1, "callbacks": [_callback("val_acc")]},
           "search": {"space": {"width": {"choice": [4, 8]}}, "optimizer": "RandomSearch",
                      "budget": 2, "monitor": "val_acc/dataloader_idx_0",
                      "run_dir": str(run)}}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["search", str(config)]) == 2
    err = capsys.readouterr().err
    assert (f"trial 1 failed with an error every trial would hit: MonitorError: "
            f"EarlyStopping{SAID}. To go on, fix it and run the same search again (trial 1 "
            f"runs again); a changed trainer.callbacks resumes it") in err, err
    cfg["trainer"]["callbacks"] = [_callback("val_acc/dataloader_idx_0")]
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["search", str(config)]) == 0
    with RunStore(run / "search.db") as store:
        assert [(t.trial_id, t.status) for t in store.trials()] == [
            (1, TrialStatus.COMPLETED), (2, TrialStatus.COMPLETED)]


def test_oneshot_refuses_it_before_the_supernet_completes_an_epoch(tmp_path, capsys):
    run = tmp_path / "run"
    cfg = {"model": "tests.helpers.TwoValSupernet",
           "data": {"class_path": "tests.helpers.TwoValBlobData",
                    "init_args": {"n": 128, "batch_size": 32}},
           "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1,
                       "limit_train_batches": 2, "enable_progress_bar": False,
                       "callbacks": [_callback("val_acc")]},
           "oneshot": {"calibration_batches": 1, "num_classes": 3, "seed": 0,
                       "num_candidates": 2, "run_dir": str(run)}}
    config = tmp_path / "oneshot.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["oneshot", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.endswith(f"EarlyStopping{SAID}\n"), err
