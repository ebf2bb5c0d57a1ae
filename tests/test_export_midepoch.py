"""An exported model scores what the search said it scored where a trial validates once per
epoch but before the epoch's end (``val_check_interval`` 0.6 of 12 batches: after batch 7;
0.7 of a DDP rank's 6: after batch 4), and a tie on the monitor is broken by an objective
that training logs once per epoch: the decision waits for the epoch's end, and the
``best.ckpt`` it keeps holds the weights that validation scored, not those of the batches
trained after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from torch.nn import functional as F

from lightning_nas import Search
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_ranks import SyncedTinyNet
from tests.helpers_runs import assert_scores_as_exported

#: fast learners: ``val_acc`` reaches 1.0 within a few epochs and stays, the losses fall
SPACE = {"width": {"choice": [16]}, "lr": {"choice": [0.5, 0.4]}}


class SyncedTrainLossNet(SyncedTinyNet):
    """``val_acc``, ``val_loss`` and the epoch's ``train_loss`` synced over the ranks."""

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y), sync_dist=True)


class SavesSeen(CSVLogger):
    """A CSV logger that records, each time a checkpoint callback says it saved, the global
    step of the file the search's ``TrialCheckpoint`` holds then (a logger that uploads
    checkpoints, as Weights & Biases' ``log_model``, reads it there)."""

    steps: list[int] = []

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if checkpoint_callback.__class__.__name__ == "TrialCheckpoint":  # a proxy
            SavesSeen.steps.append(torch.load(checkpoint_callback.best_model_path,
                                              map_location="cpu", weights_only=False)[
                "global_step"])


@pytest.mark.parametrize(("devices", "interval", "batches", "validated"), [
    (1, 0.6, 12, 7),
    pytest.param(2, 0.7, 6, 4, marks=pytest.mark.slow),
], ids=["one-device", "ddp"])
def test_a_tie_broken_by_a_training_objective_keeps_the_weights_validated_mid_epoch(
        tmp_path: Path, devices: int, interval: float, batches: int, validated: int) -> None:
    run = tmp_path / "run"
    ddp: dict[str, Any] = {"strategy": "ddp"} if devices > 1 else {}
    Search("tests.test_export_midepoch.SyncedTrainLossNet", SPACE, data=BlobData,
           data_init_args={"batch_size": 16}, seed=0, budget=1, run_dir=run, verbose=False,
           objectives={"val_acc": "max", "train_loss": "min"},
           trainer={"max_epochs": 5, "accelerator": "cpu", "devices": devices, **ddp,
                    "logger": False, "val_check_interval": interval}).run()
    with RunStore(run / "search.db") as store:
        (trial,) = store.trials()
    top = max(trial.curve)
    assert trial.curve.count(top) > 1 and trial.curve.index(top) != trial.epoch  # the case
    ckpt = torch.load(trial.checkpoint, map_location="cpu", weights_only=False)
    # the validation's step in the best epoch (was: the epoch's end, batches later)
    assert ckpt["global_step"] == trial.epoch * batches + validated
    assert not list(run.rglob(".tie.ckpt"))  # the held weights went where they belong
    best = assert_scores_as_exported(run, model=SyncedTrainLossNet, batch_size=16)
    assert best["epoch"] == trial.epoch  # and val_loss is the stored one, as the score


def test_a_fit_breaking_a_tie_by_a_training_objective_keeps_the_weights_validated_mid_epoch(
        tmp_path: Path) -> None:
    # lightning-nas fit keeps its best epoch by the search's rule, with TrialCheckpoint
    from lightning_nas.fit import fit_config

    cfg = tmp_path / "net.yaml"
    cfg.write_text(
        "# lightning-nas fit: monitor=val_acc mode=max tie_break=train_loss:min\n"
        "seed_everything: 0\n"
        "model: {class_path: tests.test_export_midepoch.SyncedTrainLossNet,\n"
        "        init_args: {width: 16, lr: 0.5}}\n"
        "data: {class_path: tests.helpers.BlobData, init_args: {batch_size: 16}}\n"
        "trainer: {max_epochs: 5, accelerator: cpu, devices: 1, val_check_interval: 0.6,\n"
        "          logger: {class_path: tests.test_export_midepoch.SavesSeen,\n"
        f"                   init_args: {{save_dir: '{tmp_path / 'logs'}'}}}}}}\n")
    SavesSeen.steps.clear()
    result = fit_config(cfg, out_dir=tmp_path / "fit")
    top = max(result.curve)
    assert result.curve.count(top) > 1 and result.curve.index(top) != result.epoch
    ckpt = torch.load(result.checkpoint, map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == result.epoch * 12 + 7  # was: the epoch's end, 5 steps on
    assert sorted(p.name for p in (tmp_path / "fit").iterdir()) == ["best.ckpt"]
    assert SavesSeen.steps[-1] == ckpt["global_step"]  # the logger was told of the tie's save
