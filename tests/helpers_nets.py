"""Networks for ``NASModule`` (builders ``arch -> nn.Module``, a loss), one-shot supernets
made of lightning_nas's choice modules, and plain ``nn.Module`` bodies a config's model
takes as its ``net`` (one of them taking its arguments through ``**kwargs``).

Example:
    >>> build_mlp({"width": 4})[0].out_features
    4
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import nn
from torch.nn import functional as F

from tests.helpers_paths import at_helpers

__all__ = [
    "Body",
    "KwBody",
    "LastCkptSupernet",
    "TinySupernet",
    "TwoValSupernet",
    "build_data_dependent_mlp",
    "build_lazy_mlp",
    "build_mlp",
    "build_norm_mlp",
    "choice_net",
    "smooth_ce",
]


@at_helpers
def build_mlp(arch: dict) -> nn.Module:
    """A network builder for ``NASModule``."""
    return nn.Sequential(nn.Linear(8, arch["width"]), nn.ReLU(), nn.Linear(arch["width"], 3))


def build_norm_mlp(arch: dict) -> nn.Module:
    """``build_mlp`` with a ``BatchNorm1d`` (buffers: its running statistics)."""
    return nn.Sequential(nn.Linear(8, arch["width"]), nn.BatchNorm1d(arch["width"]), nn.ReLU(),
                         nn.Linear(arch["width"], 3))


class _DataDependent(nn.Module):
    """An MLP whose forward branches on its input's values (no meta-device forward)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = build_mlp({"width": width})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) if bool(x.abs().sum() >= 0) else self.net(-x)


def build_data_dependent_mlp(arch: dict) -> nn.Module:
    """A network whose forward reads its input's values (``_DataDependent``)."""
    return _DataDependent(arch["width"])


def build_lazy_mlp(arch: dict) -> nn.Module:
    """A ``NASModule`` builder whose first layer is lazy, its network with an
    ``example_input_array`` of its own (what its forward takes)."""
    net = nn.Sequential(nn.LazyLinear(arch["width"]), nn.ReLU(), nn.Linear(arch["width"], 3))
    net.example_input_array = torch.zeros(2, 8)
    return net


@at_helpers
def smooth_ce(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A loss for ``NASModule(loss=...)`` with an import path (not ``cross_entropy``)."""
    return F.cross_entropy(output, target, label_smoothing=0.3)


@at_helpers
class TinySupernet(pl.LightningModule):
    """A weight-sharing MLP supernet on the blobs: hidden width and activation are choices."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        from lightning_nas.oneshot.choices import ChoiceLinear, LayerChoice

        self.save_hyperparameters()
        self.net = nn.Sequential(
            ChoiceLinear(8, [4, 8, 16], label="hidden"),
            LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
            ChoiceLinear(16, 3, label="out"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean(), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


@at_helpers
class TwoValSupernet(TinySupernet):
    """``TinySupernet`` validating on several loaders (its step takes ``dataloader_idx``)."""

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        super().validation_step(batch, batch_idx)


@at_helpers
class LastCkptSupernet(TinySupernet):
    """``TinySupernet`` whose ``configure_callbacks()`` returns a ``ModelCheckpoint`` of
    ``save_last`` into ``dirpath`` (None: Lightning's folder for it); ``reads_trainer``: it
    reads ``self.trainer`` there (its ``max_epochs``), so it raises unattached."""

    def __init__(self, dirpath: str | None = None, reads_trainer: bool = False) -> None:
        super().__init__()
        self.dirpath, self.reads_trainer = dirpath, reads_trainer

    def configure_callbacks(self):
        from lightning.pytorch.callbacks import ModelCheckpoint

        sized = {"every_n_epochs": self.trainer.max_epochs} if self.reads_trainer else {}
        return [ModelCheckpoint(dirpath=self.dirpath, save_last=True, **sized)]

def choice_net() -> nn.Sequential:
    """A small supernet with every kind of choice module and BatchNorm: widths and kernels
    (``c1``), a layer choice (``act``), a repeated block (``depth``), linear widths (``fc``)."""
    from lightning_nas.oneshot.choices import (
        ChoiceBatchNorm2d,
        ChoiceConv2d,
        ChoiceLinear,
        LayerChoice,
        Repeat,
    )

    return nn.Sequential(
        ChoiceConv2d(1, [4, 8], kernel_size=[3, 5], label="c1"), ChoiceBatchNorm2d(8),
        LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
        Repeat(lambda i: nn.Sequential(ChoiceConv2d(8, None, 3, label="blk"),
                                       ChoiceBatchNorm2d(8), nn.ReLU()), [0, 1, 2],
               label="depth"),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), ChoiceLinear(8, [6, 12], label="fc"),
        nn.ReLU(), ChoiceLinear(12, 3, label="out"))


@at_helpers
class Body(torch.nn.Module):
    """A network of 8 features in and out with ``width`` hidden units."""

    def __init__(self, width: int = 8, depth: int = 1) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(8, width), torch.nn.Linear(width, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@at_helpers
class KwBody(Body):
    """Takes ``width`` and ``depth`` only through ``**kwargs``, passed on to ``Body``."""

    def __init__(self, extra: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
