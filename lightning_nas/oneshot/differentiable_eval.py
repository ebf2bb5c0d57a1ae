"""The validation, test and prediction of ``DifferentiableNAS`` (DARTS, GDAS;
``oneshot.differentiable``), its base ``EvalSteps``.

- Validation: the mixed supernet (DARTS) or the argmax path (GDAS) on each validation
  batch, the wrapped module's own ``validation_step`` and epoch hooks as in a plain fit of
  it, ``val_loss`` (its own, else the search's loss), ``val_acc`` / ``val_metric``; each
  epoch's logits recorded as its validation ends in a fit; the metric the export scores
  with.
- ``trainer.test`` / ``trainer.predict``: the architecture the search found. After the
  search, in this process, its export ``subnet`` (``best_arch`` with the BatchNorm
  statistics it was scored with: ``subnet.pt``; tested on the validation data, its
  ``test_acc`` is ``best_score``); before (a module not fitted, or loaded from a
  checkpoint), the derived architecture (``derived_arch()``, the argmax of each decision)
  on the supernet's shared weights and statistics. Test logs ``test_acc`` / ``test_metric``
  (with ``num_classes`` / ``metric``) and ``test_loss`` of ``loss`` (none where a
  LightningModule's ``training_step`` is the loss); predict returns the network's output
  for a batch's input (an ``(x, y)`` / ``(x,)`` batch, or a tensor). The wrapped module's
  own ``test_step`` / ``predict_step`` are not run: they would run the supernet.

Example:
    >>> "validation_step" in vars(EvalSteps) and "test_step" in vars(EvalSteps)
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning.pytorch as pl
import torch
import torchmetrics

from lightning_nas.errors import ConfigError
from lightning_nas.module import loader_metric
from lightning_nas.oneshot.arch_weights import mix_weights
from lightning_nas.oneshot.checks import checked_preds
from lightning_nas.oneshot.mixed import mixed
from lightning_nas.oneshot.sync_norms import share_statistics
from lightning_nas.oneshot.wrapped import own_hook
from lightning_nas.train_modes import kept_modes

__all__ = ["EvalSteps"]


class EvalSteps(pl.LightningModule):
    """Validation, test and prediction of ``DifferentiableNAS`` (see the module docstring);
    it provides ``mixing_weights``, ``own_validation_step``, ``_plain_loss``, ``_record``,
    ``subnet`` and the metric's attributes."""

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

    # ----------------------------------------------------------------- test and predict
    @contextmanager
    def _found(self) -> Iterator[Any]:
        """The network of the architecture found (see the module docstring): the export
        ``subnet`` in eval mode (its modes kept), else the supernet on the argmax path."""
        if self.subnet is not None:
            with kept_modes(self.subnet):
                yield self.subnet.to(self.device).eval()
            return
        logits = {label: self.logits(label) for label in self.choices}
        weights, index = mix_weights(logits, True, self.tau, None)  # argmax one-hot
        with mixed(self.supernet, weights, index):
            yield self.supernet

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Log ``test_loss`` and ``test_acc`` / ``test_metric`` of the architecture found."""
        with self._found() as net:
            preds = net(_input(batch))
        if self.loss_fn is not None:
            self.log("test_loss", self.loss_fn(preds, batch[1]), sync_dist=True)
        if self.val_metric is not None:
            metric = loader_metric(self, "val_metric", dataloader_idx, "test")
            metric(preds, batch[1])
            self.log(self.metric_name.replace("val_", "test_", 1), metric,
                     metric_attribute="val_metric")

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
        """The output of the architecture found for the input of ``batch``."""
        with self._found() as net:
            return net(_input(batch))


def _input(batch: Any) -> Any:
    """The input of a batch: an ``(x, y, ...)`` / ``(x,)`` batch's first item, or a tensor."""
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and batch:
        return batch[0]
    raise ConfigError(f"DifferentiableNAS tests and predicts on batches (x, y, ...), (x,) or "
                      f"tensors x, got a {type(batch).__name__}")
