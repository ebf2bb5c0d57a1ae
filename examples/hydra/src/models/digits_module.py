"""``DigitsLitModule``: a classifier whose network, optimizer and scheduler come from the
config, as in the lightning-hydra-template's ``MNISTLitModule``: ``net`` is a nested
``_target_`` node, ``optimizer`` and ``scheduler`` are ``_partial_: true`` nodes.

Example:
    >>> from functools import partial
    >>> from examples.hydra.src.models.components.dense_net import DenseNet
    >>> module = DigitsLitModule(DenseNet(), partial(torch.optim.Adam, lr=0.01), None)
    >>> module(torch.rand(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningModule
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

__all__ = ["DigitsLitModule"]


class DigitsLitModule(LightningModule):
    """Classifies 8x8 digits; logs ``train/loss``, ``train/acc``, ``val/loss``,
    ``val/acc`` and ``val/acc_best`` (the best ``val/acc`` so far: what a sweep optimizes).

    Args:
        net: the network.
        optimizer: a partial optimizer (called with the parameters).
        scheduler: a partial learning-rate scheduler (called with the optimizer), or None.
        compile: ``torch.compile`` the network before fitting.
    """

    def __init__(self, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler | None,
                 compile: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False, ignore=["net"])
        self.net = net
        self.criterion = torch.nn.CrossEntropyLoss()
        self.train_acc, self.val_acc = MulticlassAccuracy(10), MulticlassAccuracy(10)
        self.train_loss, self.val_loss = MeanMetric(), MeanMetric()
        self.val_acc_best = MaxMetric()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images."""
        return self.net(x)

    def on_train_start(self) -> None:
        """Forget the sanity check's validation values."""
        self.val_loss.reset()
        self.val_acc.reset()
        self.val_acc_best.reset()

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor]
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y = batch
        logits = self(x)
        return self.criterion(logits, y), logits.argmax(dim=1), y

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor],
                      batch_idx: int) -> torch.Tensor:
        loss, preds, targets = self._step(batch)
        self.train_loss(loss)
        self.train_acc(preds, targets)
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor],
                        batch_idx: int) -> None:
        loss, preds, targets = self._step(batch)
        self.val_loss(loss)
        self.val_acc(preds, targets)
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True, prog_bar=True)

    def setup(self, stage: str) -> None:
        if self.hparams.compile and stage == "fit":
            self.net = torch.compile(self.net)

    def configure_optimizers(self) -> dict[str, Any]:
        """The configured optimizer, and the scheduler (stepped on ``val/loss``) if any."""
        optimizer = self.hparams.optimizer(params=self.trainer.model.parameters())
        if self.hparams.scheduler is None:
            return {"optimizer": optimizer}
        scheduler = self.hparams.scheduler(optimizer=optimizer)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss",
                                 "interval": "epoch", "frequency": 1}}
