"""The validation of ``DifferentiableNAS`` (DARTS, GDAS; ``oneshot.differentiable``), its
base ``EvalSteps``: the mixed supernet (DARTS) or the argmax path (GDAS) on each validation
batch, the wrapped module's own ``validation_step`` and epoch hooks as in a plain fit of it,
``val_loss`` (its own, else the search's loss), ``val_acc`` / ``val_metric``; each epoch's
logits recorded as its validation ends in a fit; the metric the export scores with.

Example:
    >>> "validation_step" in vars(EvalSteps)
    True
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
import torchmetrics

from lightning_nas.module import loader_metric
from lightning_nas.oneshot.checks import checked_preds
from lightning_nas.oneshot.mixed import mixed
from lightning_nas.oneshot.sync_norms import share_statistics
from lightning_nas.oneshot.wrapped import own_hook

__all__ = ["EvalSteps"]


class EvalSteps(pl.LightningModule):
    """Validation of ``DifferentiableNAS`` (see the module docstring); it provides
    ``mixing_weights``, ``own_validation_step``, ``_plain_loss``, ``_record`` and the
    metric's attributes."""

    # ----------------------------------------------------------------- validation
    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        weights, index = self.mixing_weights(sample=False)
        with mixed(self.supernet, weights, index):  # the first checked: (x, y) fitting the metric
            preds = checked_preds(self, batch) if batch_idx == 0 else self.supernet(batch[0])
            own = self.own_validation_step(batch, batch_idx, dataloader_idx)  # its own
            if "val_loss" not in own:  # its own val_loss, else the loss of training
                loss = (self.loss_fn(preds, batch[1]) if self.loss_fn is not None
                        else self._plain_loss(batch, batch_idx))
                self.log("val_loss", loss, prog_bar=True, sync_dist=True)
        if self.val_metric is not None:
            metric = loader_metric(self, "val_metric", dataloader_idx)  # one per val loader
            metric(preds, batch[1])
            self.log(self.metric_name, metric, prog_bar=True, metric_attribute="val_metric")

    def on_validation_epoch_start(self) -> None:
        # one supernet validated on every rank: rank 0's BatchNorm statistics, which its
        # checkpoint holds (manual optimization turns DDP's buffer broadcast off; was: each
        # rank its own, so the synced val_loss / val_acc were of no one supernet)
        share_statistics(self.supernet, self.trainer.strategy)
        own_hook(self, "on_validation_epoch_start")  # the module's hooks, as in a plain fit

    def on_validation_epoch_end(self) -> None:  # in a fit (not trainer.validate: no epoch)
        own_hook(self, "on_validation_epoch_end")
        if self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            self._record()  # a checkpoint saved after validation holds this epoch

    def _metric(self, preds: torch.Tensor) -> torchmetrics.Metric:
        if self.val_metric is not None:
            metric = self.val_metric.clone()
            metric.reset()
            return metric
        return torchmetrics.classification.MulticlassAccuracy(num_classes=int(preds.shape[-1]),
                                                              average="micro")
