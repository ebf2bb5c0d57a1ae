"""The score a trial stores is the score its ``best.ckpt`` has, for the ways real projects log
the monitor: a torchmetrics object, a ``MetricCollection``, ``on_step`` and ``on_epoch``, a
key with a slash, lightning-hydra-template's ``val/acc_best``, a value logged only in
``on_validation_epoch_end``; under Trainer settings that move validation (every 2 epochs,
twice an epoch, gradient accumulation) and on two DDP ranks. Each trial's checkpoint is
validated again by a fresh Trainer on the same data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch.nn import functional as F
from torchmetrics import MaxMetric, MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.trial import TrialSpec, fit_trial
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


class MetricObject(TinyNet):
    """``self.log("val_acc", metric)``: a torchmetrics object, computed at the epoch's end."""

    def __init__(self, width: int = 16, lr: float = 0.05) -> None:
        super().__init__(width=width, lr=lr)
        self.val_metric = MulticlassAccuracy(num_classes=3, average="micro")

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.val_metric(self(x), y)
        self.log("val_acc", self.val_metric, on_epoch=True)


class Collection(TinyNet):
    """``self.log_dict(MetricCollection(..., prefix="val_"))``."""

    def __init__(self, width: int = 16, lr: float = 0.05) -> None:
        super().__init__(width=width, lr=lr)
        self.val_metrics = MetricCollection({"acc": MulticlassAccuracy(3, average="micro"),
                                             "f1": MulticlassF1Score(3)}, prefix="val_")

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.val_metrics(self(x), y)
        self.log_dict(self.val_metrics)


class StepAndEpoch(TinyNet):
    """``on_step=True, on_epoch=True``: Lightning logs ``val_acc_step`` and ``val_acc_epoch``."""

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean(), on_step=True,
                 on_epoch=True)


class Slashed(TinyNet):
    """A key with a slash, ``val/acc``."""

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/acc", (self(x).argmax(-1) == y).float().mean())


class HydraTemplate(TinyNet):
    """lightning-hydra-template's module: ``val/acc`` a torchmetrics object, ``val/acc_best``
    its best so far (a ``MaxMetric`` reset when training starts, so the sanity check's value
    is not among them), logged in ``on_validation_epoch_end`` with ``sync_dist=True``."""

    def __init__(self, width: int = 16, lr: float = 0.05) -> None:
        super().__init__(width=width, lr=lr)
        self.val_acc = MulticlassAccuracy(num_classes=3, average="micro")
        self.val_loss = MeanMetric()
        self.val_acc_best = MaxMetric()

    def on_train_start(self) -> None:
        self.val_loss.reset()
        self.val_acc.reset()
        self.val_acc_best.reset()

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.val_loss(F.cross_entropy(logits, y))
        self.val_acc(logits.argmax(-1), y)
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True, prog_bar=True)


class EpochEndOnly(TinyNet):
    """Counts in ``validation_step``, logs ``val_acc`` only in ``on_validation_epoch_end``."""

    def on_validation_epoch_start(self) -> None:
        self.correct, self.total = torch.tensor(0.0), torch.tensor(0.0)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.correct += (self(x).argmax(-1) == y).float().sum()
        self.total += y.numel()

    def on_validation_epoch_end(self) -> None:
        self.log("val_acc", self.correct / self.total)


def _validated(model: type[pl.LightningModule], result: TrialResult, metric: str) -> float:
    """``metric`` of the trial's checkpoint, validated by a fresh Trainer on the same data."""
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    return trainer.validate(model(**result.arch), datamodule=BlobData(batch_size=32),
                            ckpt_path=result.checkpoint, verbose=False,
                            weights_only=False)[0][metric]


def _check(model: type[pl.LightningModule], result: TrialResult, monitor: str,
           validated: str) -> None:
    """The stored score is the best of the curve, at the epoch of the checkpoint, and the
    checkpoint validates to it."""
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.score == max(v for v in result.curve if not math.isnan(v))
    assert result.metrics[monitor] == result.score
    assert torch.load(result.checkpoint, weights_only=False)["epoch"] == result.epoch
    assert _validated(model, result, validated) == pytest.approx(result.score, abs=1e-6)


@pytest.mark.parametrize(("model", "monitor", "validated"), [
    (MetricObject, "val_acc", "val_acc"),
    (Collection, "val_acc", "val_acc"),
    (StepAndEpoch, "val_acc_epoch", "val_acc_epoch"),
    (Slashed, "val/acc", "val/acc"),
    (HydraTemplate, "val/acc_best", "val/acc"),  # a fresh validate's best is its only value
    (EpochEndOnly, "val_acc", "val_acc"),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_the_stored_score_is_the_checkpoints_for_each_way_of_logging(tmp_path, model, monitor,
                                                                     validated):
    spec = TrialSpec(trial_id=1, arch={"width": 4, "lr": 0.02}, trial_dir=str(tmp_path),
                     model=model, data=BlobData, data_init_args={"batch_size": 32}, seed=1,
                     monitor=monitor, trainer={"max_epochs": 3, "accelerator": "cpu",
                                               "devices": 1, "logger": False})
    result = fit_trial(spec)
    _check(model, result, monitor, validated)
    assert result.epoch < result.epochs - 1  # the best is not the last: not merely its weights


@pytest.mark.parametrize("settings", [
    {"check_val_every_n_epoch": 2, "max_epochs": 4},
    {"val_check_interval": 0.5},
    {"accumulate_grad_batches": 2},
], ids=["every-2-epochs", "twice-an-epoch", "accumulate-2"])
def test_the_stored_score_is_the_checkpoints_when_settings_move_validation(tmp_path,
                                                                           settings):
    spec = TrialSpec(trial_id=1, arch={"width": 4, "lr": 0.02}, trial_dir=str(tmp_path),
                     model=MetricObject, data=BlobData, data_init_args={"batch_size": 32},
                     seed=1, trainer={"max_epochs": 3, "accelerator": "cpu", "devices": 1,
                                      "logger": False, **settings})
    result = fit_trial(spec)
    _check(MetricObject, result, "val_acc", "val_acc")
    every = settings.get("check_val_every_n_epoch", 1)
    per_epoch = 2 if "val_check_interval" in settings else 1
    assert len(result.curve) == result.epochs // every * per_epoch


@pytest.mark.slow
def test_a_ddp_trial_of_the_hydra_template_stores_the_score_its_checkpoint_has(tmp_path: Path):
    from lightning_nas import Search

    trainer: dict[str, Any] = {"accelerator": "cpu", "devices": 2, "strategy": "ddp",
                               "max_epochs": 3, "logger": False}
    result = Search(f"{__name__}.HydraTemplate", {"width": {"choice": [16, 32]},
                                                  "lr": {"choice": [0.3]}},
                    data=BlobData, data_init_args={"batch_size": 16}, trainer=trainer,
                    budget=1, monitor="val/acc_best", mode="max", run_dir=tmp_path,
                    verbose=False).run()
    (trial,) = result.trials
    assert trial.checkpoint is not None
    # the synced value: BlobData's 64 validation samples split evenly over the 2 ranks
    _check(HydraTemplate, trial, "val/acc_best", "val/acc")
