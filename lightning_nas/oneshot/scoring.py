"""Score a subnet of a supernet with the shared weights: recalibrate its BatchNorm statistics
on a few training batches, then evaluate a torchmetrics metric on the validation data.

Example:
    >>> import torch
    >>> preds, target = default_forward(torch.nn.Identity(), (torch.ones(2, 3), torch.zeros(2)))
    >>> preds.shape
    torch.Size([2, 3])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from lightning_nas.errors import ConfigError

__all__ = ["Forward", "calibrate_batchnorm", "default_forward", "loaders", "score_subnet"]

#: ``(module, batch) -> (predictions, targets)``
Forward = Callable[[nn.Module, Any], tuple[torch.Tensor, torch.Tensor]]


def default_forward(module: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(predictions, targets)`` of a batch ``(x, y)``: ``module(x), y``."""
    x, y = batch[0], batch[1]
    return module(x), y


def loaders(value: Any) -> list[Any]:
    """A Trainer's dataloaders (one, a list, or None) as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@torch.no_grad()
def calibrate_batchnorm(trainer: pl.Trainer, pl_module: pl.LightningModule, forward: Forward,
                        batches: int) -> None:
    """Recompute the running statistics of every BatchNorm as a plain average over the first
    ``batches`` training batches, in train mode (nothing is learnt: no gradients)."""
    norms = [m for m in pl_module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not norms or batches <= 0:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the calibration batches
    pl_module.train()
    seen = 0
    for loader in loaders(trainer.train_dataloader):
        for batch in loader:
            forward(pl_module, trainer.strategy.batch_to_device(batch))
            seen += 1
            if seen >= batches:
                break
        if seen >= batches:
            break
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


@torch.no_grad()
def score_subnet(trainer: pl.Trainer, pl_module: pl.LightningModule, forward: Forward,
                 metric: Callable[[torch.Tensor], torchmetrics.Metric],
                 calibration_batches: int) -> float:
    """The metric of the active subnet on the validation data, in eval mode, after
    recalibrating BatchNorm; synced over ranks by torchmetrics (same value on every rank).

    Args:
        metric: makes the metric from the first batch's predictions.
    """
    calibrate_batchnorm(trainer, pl_module, forward, calibration_batches)
    pl_module.eval()
    scorer = None
    for loader in loaders(trainer.val_dataloaders):
        for batch in loader:
            preds, target = forward(pl_module, trainer.strategy.batch_to_device(batch))
            if scorer is None:
                scorer = metric(preds).to(preds.device)
            scorer.update(preds, target)
    if scorer is None:
        raise ConfigError("OneShotNAS needs validation data to score subnets")
    return float(scorer.compute())
