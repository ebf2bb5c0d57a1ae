"""A weight-sharing supernet CNN for scikit-learn's 8x8 digits.

Every decision is a choice module inside ``self.net``: the widths and kernel sizes of two
convolutions (slices of shared weights), their activations, and how many extra
width-keeping blocks follow. ``OneShotNAS`` trains it with one random path per step and
searches its subnets (``oneshot.yaml``); ``DifferentiableNAS`` wraps it for DARTS or GDAS,
reusing its ``training_step`` and optimizer (``darts.yaml``). Either way the winner is
exported from ``self.net`` as a plain ``nn.Sequential``.

Example:
    >>> import torch
    >>> from lightning_nas.oneshot.choices import space_of
    >>> model = DigitsSupernet()
    >>> space_of(model).size()
    972
    >>> model(torch.rand(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from lightning_nas.oneshot.choices import (
    ChoiceBatchNorm2d,
    ChoiceConv2d,
    ChoiceLinear,
    LayerChoice,
    Repeat,
)

__all__ = ["DigitsSupernet", "build_standalone", "build_supernet"]


def _activation(label: str) -> LayerChoice:
    return LayerChoice({"relu": nn.ReLU(), "gelu": nn.GELU(), "sigmoid": nn.Sigmoid()},
                       label=label)


def _block(max_width: int) -> nn.Module:
    """A block that keeps its input's width (3x3 conv, BatchNorm, ReLU)."""
    return nn.Sequential(ChoiceConv2d(max_width, None, 3, label="block"),
                         ChoiceBatchNorm2d(max_width), nn.ReLU())


def build_supernet(widths: tuple[int, ...] = (16, 32, 48), kernels: tuple[int, ...] = (3, 5),
                   max_blocks: int = 2) -> nn.Sequential:
    """The supernet: conv1 -> act1 -> pool -> conv2 -> act2 -> 0..max_blocks blocks ->
    global pooling -> classifier."""
    top = max(widths)
    return nn.Sequential(
        ChoiceConv2d(1, widths, kernels, label="conv1"), ChoiceBatchNorm2d(top),
        _activation("act1"), nn.MaxPool2d(2),
        ChoiceConv2d(top, widths, kernels, label="conv2"), ChoiceBatchNorm2d(top),
        _activation("act2"),
        Repeat(lambda i: _block(top), list(range(max_blocks + 1)), label="blocks"),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), ChoiceLinear(top, 10, label="classifier"))


def build_standalone(arch: dict) -> nn.Module:
    """Subnet ``arch`` as a plain network with fresh weights (to train it from scratch)."""
    from lightning_nas.oneshot.choices import export_subnet

    return export_subnet(build_supernet(), torch.zeros(1, 1, 8, 8), arch)


class DigitsSupernet(LightningModule):
    """The supernet as a LightningModule (loss, accuracy, Adam); the network is ``net``.

    Args:
        lr: Adam learning rate.
        max_blocks: the most extra blocks a subnet may have.
    """

    def __init__(self, lr: float = 1e-2, max_blocks: int = 2) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = build_supernet(max_blocks=max_blocks)
        self.val_acc = MulticlassAccuracy(num_classes=10, average="micro")  # plain accuracy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        # under DDP the epoch's mean over every rank's batches, as lightning_nas's own
        # modules log it (was: each rank's own, and Lightning's sync_dist warning)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.val_acc(logits, y)
        self.log("val_acc", self.val_acc, prog_bar=True)  # of the path in use

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
