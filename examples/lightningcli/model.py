"""A LightningCLI-style project: the network and the optimizer are objects in the config.

``LitClassifier(net, optimizer)`` takes an ``nn.Module`` and an optimizer *callable*, the
way LightningCLI (jsonargparse) users write them; nothing here knows about the search.

Example:
    >>> import torch
    >>> model = LitClassifier(MLP(lin1_size=32))
    >>> model(torch.rand(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

__all__ = ["MLP", "LitClassifier", "OptimizerCallable"]

#: what LightningCLI calls ``OptimizerCallable``: parameters -> optimizer
OptimizerCallable = Callable[[Iterable], torch.optim.Optimizer]


class MLP(nn.Module):
    """Two hidden layers on flattened 8x8 images.

    Args:
        lin1_size: width of the first hidden layer.
        lin2_size: width of the second hidden layer.
        dropout: dropout after each hidden layer.
    """

    def __init__(self, lin1_size: int = 64, lin2_size: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(), nn.Linear(64, lin1_size), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(lin1_size, lin2_size), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(lin2_size, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class LitClassifier(LightningModule):
    """Classifier around any network, with an optimizer given as a callable.

    Args:
        net: the network.
        optimizer: ``params -> Optimizer`` (in YAML: ``class_path: torch.optim.Adam`` with
            ``init_args: {lr: ...}``).
    """

    def __init__(self, net: nn.Module, optimizer: OptimizerCallable = torch.optim.Adam) -> None:
        super().__init__()
        self.net, self.optimizer = net, optimizer
        self.val_acc = MulticlassAccuracy(num_classes=10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        # sync_dist: under DDP the epoch's mean over every rank's batches (was: each rank's
        # own, and Lightning's sync_dist warning); a no-op on one device. val_acc is a
        # torchmetrics Metric, which syncs its own state
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y), sync_dist=True)
        self.val_acc(logits, y)
        self.log("val_acc", self.val_acc)

    def configure_optimizers(self):
        return self.optimizer(self.parameters())
