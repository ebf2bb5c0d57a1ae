"""Checks of a differentiable search (``DifferentiableNAS``: DARTS, GDAS) that need what the
Trainer knows only once training starts, made in ``on_train_start``, before the first step
(``check_training_start``): a ``max_epochs`` that ends training within ``warmup_epochs``,
and a ``num_classes`` that does not fit the first training batch (the sanity check, which
runs a validation batch, may be off: ``num_sanity_val_steps: 0``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.mixed import mixed
from lightning_nas.oneshot.scoring import check_num_classes, preserved_rng, step_batch

if TYPE_CHECKING:
    from lightning_nas.oneshot.differentiable import DifferentiableNAS

__all__ = ["check_training_start"]


def check_training_start(nas: DifferentiableNAS) -> None:
    """Raise ``ConfigError`` when ``max_epochs`` ends training within ``warmup_epochs``
    (which train only the weights), or when ``num_classes`` does not fit the first training
    batch."""
    epochs, warmup = nas.trainer.max_epochs or 0, nas.hparams.warmup_epochs
    if 0 < epochs <= warmup:  # the logits would keep their random start: so would the pick
        raise ConfigError(f"warmup_epochs={warmup} trains only the weights in all "
                          f"{epochs} epochs (max_epochs): the architecture would never be "
                          f"learnt and the derived one is random; give warmup_epochs "
                          f"below max_epochs")
    if nas.val_metric is not None:
        _check_first_batch(nas)


def _check_first_batch(nas: DifferentiableNAS) -> None:
    """``num_classes`` against the first batch of the ``"train"`` loader, run as validation
    runs the supernet (in eval mode: no BatchNorm statistics change; torch's random state,
    which the loader's shuffle draws from, is kept)."""
    trainer, num_classes = nas.trainer, nas.hparams.num_classes
    data = trainer.train_dataloader
    loader = data.get("train") if isinstance(data, Mapping) else None
    if loader is None or num_classes is None:  # training_step says what the batches lack
        return
    was_training = nas.training
    try:
        with preserved_rng(nas.device), torch.no_grad():
            batch = next(iter(loader), None)
            if batch is None:
                return
            batch = step_batch(trainer, batch)
            nas.eval()
            weights, index = nas.mixing_weights(sample=False)
            with trainer.precision_plugin.val_step_context(), mixed(nas.supernet, weights,
                                                                     index):
                preds = nas.supernet(batch[0])
    finally:
        nas.train(was_training)
    check_num_classes(preds, batch[1], num_classes)
