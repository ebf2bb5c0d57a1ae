"""One-shot scores are what they claim: the score a search reports for a subnet is the
exported subnet's on the validation data as Lightning's validation hands it to the module
(real Trainers, tiny supernets on the blobs)."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet, TwoValSupernet


class TrainShiftedBlobs(BlobData):
    """Blobs whose training batches a datamodule hook shifts, as Lightning's docs augment
    on the device (``if self.trainer.training: x = transform(x)``): validation batches
    reach the module as they are."""

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        x, y = batch
        return (x + 4.0 if self.trainer.training else x), y


def _accuracy(net: torch.nn.Module, data: BlobData) -> float:
    x, y = data.val_set.tensors
    with torch.no_grad():
        return float((net.eval()(x).argmax(-1) == y).float().mean())


def _fit(tmp_path, module: pl.LightningModule, data: Any, callbacks: list) -> None:
    pl.Trainer(max_epochs=3, accelerator="cpu", devices=1, logger=False,
               enable_progress_bar=False, enable_model_summary=False,
               enable_checkpointing=False, default_root_dir=tmp_path,
               callbacks=callbacks).fit(module, datamodule=data)


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_subnets_are_scored_on_validation_batches_as_validation_gets_them(tmp_path, algorithm):
    # was: the searches ran in the training stage, so a datamodule hook that augments
    # training batches only (trainer.training) augmented the validation batches they scored
    # on too: a score the exported subnet does not reach on the validation data
    pl.seed_everything(0, verbose=False)
    data = TrainShiftedBlobs(n=512)
    if algorithm == "spos":
        found = OneShotNAS(num_candidates=4, calibration_batches=0, seed=1)
        _fit(tmp_path, TinySupernet(), data, [found])
        scores = [h["score"] for h in found.history]
    else:
        found = DifferentiableNAS(TinySupernet(), algorithm="darts", num_classes=3, top_k=2,
                                  calibration_batches=0, arch_lr=0.05)
        _fit(tmp_path, found, BilevelData(data), [])
        scores = [c["score"] for c in found.scored]
    data.setup()
    assert found.best_score == pytest.approx(_accuracy(found.subnet, data))
    assert max(scores) == found.best_score


class OffsetSecondLoader(BlobData):
    """Two validation loaders: the validation split, and the first 64 training samples stored
    offset by 4, which the batch hook of loader 1 takes back (``dataloader_idx``)."""

    def val_dataloader(self) -> list[DataLoader]:
        x, y = self.train_set.tensors
        return [super().val_dataloader(),
                DataLoader(TensorDataset(x[:64] + 4.0, y[:64]), batch_size=self.batch_size)]

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        x, y = batch
        return (x - 4.0 if dataloader_idx == 1 else x), y


def test_each_validation_loaders_batches_reach_its_batch_hook(tmp_path):
    # was: every validation loader's batches reached the hooks as dataloader_idx 0
    pl.seed_everything(0, verbose=False)
    data = OffsetSecondLoader(n=512)
    found = OneShotNAS(num_candidates=4, calibration_batches=0, seed=1)
    _fit(tmp_path, TwoValSupernet(), data, [found])
    data.setup()
    (x, y), (x1, y1) = data.val_set.tensors, data.train_set.tensors
    both = BlobData()
    both.val_set = TensorDataset(torch.cat([x, x1[:64]]), torch.cat([y, y1[:64]]))
    assert found.best_score == pytest.approx(_accuracy(found.subnet, both))


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_best_arch_yaml_is_written_after_the_subnet_it_describes(tmp_path, algorithm):
    # was: best_arch.yaml first, then subnet.pt: a run killed (or failing) between them left
    # a best_arch.yaml, which marks a finished run, beside no subnet.pt
    pl.seed_everything(0, verbose=False)
    (tmp_path / "subnet.pt").mkdir()  # subnet.pt cannot be written: the export fails there
    if algorithm == "spos":
        module, callbacks = TinySupernet(), [OneShotNAS(num_candidates=2, calibration_batches=0,
                                                        export_dir=str(tmp_path))]
        data: Any = BlobData()
    else:
        module, callbacks = DifferentiableNAS(TinySupernet(), num_classes=3,
                                              export_dir=str(tmp_path)), []
        data = BilevelData(BlobData())
    with pytest.raises((OSError, RuntimeError)):  # (torch's, os.replace's)
        _fit(tmp_path, module, data, callbacks)
    assert not (tmp_path / "best_arch.yaml").exists()
    assert not [p.name for p in tmp_path.iterdir() if "partial" in p.name]  # none half-written


def _subnet() -> torch.nn.Module:
    """A subnet exported from the tiny supernet (hidden 8, relu)."""
    from lightning_nas.oneshot.choices import export_subnet

    return export_subnet(TinySupernet().net, torch.zeros(2, 8), arch={"hidden": 8, "act": "relu"})


class _CountTrainBatches(pl.Callback):
    """Counts the training batches a fit runs."""

    def __init__(self) -> None:
        self.batches = 0

    def on_train_batch_start(self, *args: Any) -> None:
        self.batches += 1


@pytest.mark.parametrize(("schedule", "named"), [
    ({"check_val_every_n_epoch": 2}, r"trainer\.check_val_every_n_epoch=2 has"),
    ({"check_val_every_n_epoch": None, "val_check_interval": 3},
     r"trainer\.check_val_every_n_epoch=None, trainer\.val_check_interval=3 have"),
    ({"val_check_interval": 0.5}, r"trainer\.val_check_interval=0\.5 has"),
    ({"val_check_interval": 1}, r"trainer\.val_check_interval=1 has")])  # every batch
def test_a_finetune_that_would_not_validate_its_last_epoch_alone_is_refused_before_training(
        tmp_path, schedule, named):
    # was: max_epochs=3 with check_val_every_n_epoch=2 returned epoch 3's train_loss beside
    # epoch 2's val_acc and val_loss, as one epoch's metrics (the CLI's fine-tune drops the
    # search's schedule: "the fine-tune validates after each epoch")
    from lightning_nas.errors import ConfigError
    from lightning_nas.oneshot.finetune import finetune_subnet

    pl.seed_everything(0, verbose=False)
    count = _CountTrainBatches()
    with pytest.raises(ConfigError, match=r"finetune_subnet validates after each epoch, so "
                       r"that its metrics are its last epoch's: " + named + r" it validate on "
                       r"another schedule; leave check_val_every_n_epoch "
                       r"\(1\) and val_check_interval \(1\.0\) out"):
        finetune_subnet(_subnet(), BlobData(), max_epochs=3, num_classes=3,
                        trainer={"accelerator": "cpu", "callbacks": [count], **schedule})
    assert count.batches == 0


def test_a_finetune_with_the_default_schedule_spelt_out_trains(tmp_path):
    from lightning_nas.oneshot.finetune import finetune_subnet

    pl.seed_everything(0, verbose=False)
    _, metrics = finetune_subnet(
        _subnet(), BlobData(), max_epochs=1, num_classes=3,
        trainer={"accelerator": "cpu", "check_val_every_n_epoch": 1,
                 "val_check_interval": 1.0, "limit_train_batches": 1})
    assert sorted(metrics) == ["train_loss", "val_acc", "val_loss"]


@pytest.mark.parametrize("max_epochs", [-1, 2])
def test_a_finetune_cut_mid_epoch_by_max_steps_returns_the_metrics_of_the_weights_it_returns(
        max_epochs):
    # was: Lightning does not validate an epoch max_steps cuts short, so the metrics returned
    # were the last whole epoch's validation (val_acc 0.9062) beside weights trained 2 steps
    # further (0.9844 validated alone)
    from lightning_nas.oneshot.finetune import finetune_subnet

    pl.seed_everything(0, verbose=False)
    data = BlobData(shuffle=False)  # 3 training batches an epoch: step 5 is in epoch 1
    module, metrics = finetune_subnet(_subnet(), data, max_epochs=max_epochs, num_classes=3,
                                      lr=0.05, trainer={"accelerator": "cpu", "max_steps": 5})
    data.setup()
    assert metrics["val_acc"] == pytest.approx(_accuracy(module, data), abs=1e-6)
    assert sorted(metrics) == ["train_loss", "val_acc", "val_loss"]
    assert not module.training
