"""What the one-shot tests fit: supernets and data (``BatchNormSupernet`` on ``BlobImages``,
``UnusedChoice``), quiet one-device CPU Trainers (``cpu_trainer``; ``plain_trainer``, of
no checkpoints either, for ``DifferentiableNAS``), the plain accuracy the
callback scores (``val_accuracy``), and tiny ``lightning-nas oneshot`` runs (``TINY_CLI``,
``two_val_config``).

Example:
    >>> TINY_CLI[:2]
    ['oneshot', 'examples/oneshot_digits/oneshot.yaml']
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch
import yaml
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset
from torchmetrics.classification import MulticlassAccuracy

from lightning_nas.oneshot.choices import (
    ChoiceBatchNorm2d,
    ChoiceConv2d,
    ChoiceLinear,
    LayerChoice,
    Repeat,
)
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet

__all__ = ["TINY_CLI", "BatchNormSupernet", "BlobImages", "UnusedChoice", "cpu_trainer",
           "plain_trainer", "two_val_config", "val_accuracy"]


class BlobImages(BlobData):
    """The blobs as 2-channel 2x2 images (for a convolutional supernet)."""

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        for name in ("train_set", "val_set"):
            x, y = getattr(self, name).tensors
            setattr(self, name, TensorDataset(x.view(-1, 2, 2, 2), y))


class BatchNormSupernet(pl.LightningModule):
    """A conv supernet with BatchNorm everywhere: ``ChoiceBatchNorm2d`` after sliced convs
    (also inside ``Repeat`` blocks) and a plain ``nn.BatchNorm1d`` in the head."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(
            ChoiceConv2d(2, [4, 8], kernel_size=[1, 3], label="c1"), ChoiceBatchNorm2d(8),
            LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
            Repeat(lambda i: nn.Sequential(ChoiceConv2d(8, None, 3, label="blk"),
                                           ChoiceBatchNorm2d(8), nn.ReLU()), [0, 1],
                   label="depth"),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), ChoiceLinear(8, 8, label="fc"),
            nn.BatchNorm1d(8), nn.ReLU(), ChoiceLinear(8, 3, label="out"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean(), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def val_accuracy(net: nn.Module, data: pl.LightningDataModule) -> float:
    """The callback's default metric (plain accuracy) of ``net`` in eval mode."""
    net.eval()
    metric = MulticlassAccuracy(num_classes=3, average="micro")
    with torch.no_grad():
        for x, y in data.val_dataloader():
            metric.update(net(x), y)
    return float(metric.compute())


def cpu_trainer(tmp_path, callbacks, max_epochs=3, **kw) -> pl.Trainer:
    """A Trainer of ``max_epochs`` on one CPU device with ``callbacks``: no logger, progress
    bar or model summary, its files under ``tmp_path``."""
    return pl.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1, logger=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=tmp_path, callbacks=callbacks, **kw)


#: a run of the SPOS example of one epoch of two batches, two candidates, no fine-tune
TINY_CLI = ["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
            "--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=null",
            "--oneshot.calibration_batches=1", "--oneshot.finetune_epochs=0"]


def two_val_config(tmp_path: Path, algorithm: str) -> Path:
    """A tiny one-shot config on a datamodule with two validation loaders."""
    cfg = {"model": "tests.helpers.TwoValSupernet",
           "data": {"class_path": "tests.helpers.TwoValBlobData",
                    "init_args": {"n": 128, "batch_size": 32}},
           "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                       "limit_train_batches": 2},
           "oneshot": {"algorithm": algorithm, "calibration_batches": 1, "num_classes": 3,
                       "seed": 0, "run_dir": str(tmp_path / "run"), "finetune_epochs": 1,
                       **({"num_candidates": 2} if algorithm == "spos" else {})}}
    path = tmp_path / f"{algorithm}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


class UnusedChoice(TinySupernet):
    """``TinySupernet`` holding a choice module its forward never calls (``aux``)."""

    def __init__(self, kind: str = "layer") -> None:
        super().__init__()
        from lightning_nas.oneshot.choices import ChoiceLinear, LayerChoice

        self.net.aux = LayerChoice({"a": nn.Identity(), "b": nn.Tanh()}, label="aux") \
            if kind == "layer" else ChoiceLinear(16, [4, 8], label="aux")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](self.net[1](self.net[0](x)))


def plain_trainer(tmp_path, max_epochs=3, **kw) -> pl.Trainer:
    """A Trainer of ``max_epochs`` on one CPU device, its files under ``tmp_path``: no logger,
    checkpoints, progress bar or model summary (``kw`` gives a logger, checkpoints, any other
    Trainer argument)."""
    kw = {"logger": False, "enable_checkpointing": False, **kw}
    return pl.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1,
                      enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=tmp_path, **kw)
