"""The training step of ``DifferentiableNAS`` (DARTS, GDAS; ``oneshot.differentiable``): its
mixin ``BilevelStep``.

- ``forward``: the supernet on its active path; the losses of a batch on the supernet mixed
  with the weights of the logits (``oneshot.mixed``; GDAS's noise keyed by seed, epoch, batch
  and phase: ``arch_weights.noise_key``), of ``loss`` or the wrapped LightningModule's own
  ``training_step`` (its ``self.log`` dropped: ``oneshot.wrapped``).
- ``configure_optimizers``: the weight optimizer and the logits' (``oneshot.differentiable_optim``),
  a resume's rates checked against the checkpoint's, the weights' lr schedulers beside them.
- ``training_step``: first-order bilevel optimization by manual optimization: after the
  warmup the logits take a step on the held-out ("arch") batch, its BatchNorm statistics left
  as they were, then the weights on the training batch; ``arch_loss`` and ``train_loss``
  logged per epoch; ``on_before_optimizer_step`` clips the weights' gradients.

Example:
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import LayerChoice
    >>> from lightning_nas.oneshot.differentiable import DifferentiableNAS
    >>> nas = DifferentiableNAS(LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()},
    ...                                     label="act"))
    >>> isinstance(nas, BilevelStep), tuple(nas(torch.ones(2, 3)).shape)
    (True, (2, 3))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from lightning.pytorch.utilities.data import extract_batch_size
from torch import nn

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.arch_weights import noise_key
from lightning_nas.oneshot.differentiable_optim import bilevel_optimizers
from lightning_nas.oneshot.mixed import mixed
from lightning_nas.oneshot.resume import built_rates, check_resumed_rates
from lightning_nas.oneshot.scoring import preserved_batchnorm
from lightning_nas.oneshot.weight_schedulers import WeightSchedule, warn_unsaved_schedules
from lightning_nas.oneshot.wrapped import drop_log, step_loss

__all__ = ["BilevelStep"]


class BilevelStep:
    """The optimizers and training step of ``DifferentiableNAS`` (see the module docstring),
    for the LightningModule subclass that sets the attributes below (and ``hparams``).

    Attributes:
        supernet: the network searched (an ``nn.Module`` or a LightningModule).
        alphas: the architecture logits.
        loss_fn: ``(preds, target) -> loss``, or None: the supernet's ``training_step``.
    """

    supernet: nn.Module
    alphas: nn.ParameterDict
    loss_fn: Callable[..., torch.Tensor] | None
    _schedules: list[WeightSchedule]
    _saved_schedules: int | None
    _resume_groups: Any
    _rates: Any

    def forward(self, x: Any) -> Any:
        """The supernet on its active path (single path, as ``set_path`` left it)."""
        return self.supernet(x)

    def _plain_loss(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.loss_fn is not None:
            return self.loss_fn(self.supernet(batch[0]), batch[1])
        # its self.log calls are dropped (Lightning logs the module it runs, the wrapper);
        # its Trainer stays attached, so current_epoch, ... read as in a fit (global_step
        # counts both optimizers' steps: two a batch after the warmup, README "Steps")
        self.supernet.log = drop_log
        try:
            out = self.supernet.training_step(batch, batch_idx)
        finally:
            del self.supernet.log
        return step_loss(self.supernet, out, batch_idx)  # None (a skipped batch): refused

    def _mixed_loss(self, batch: Any, batch_idx: int, phase: int) -> torch.Tensor:
        key = noise_key(int(self.hparams.seed), self.current_epoch, batch_idx, phase)
        weights, index = self.mixing_weights(True, key)
        with mixed(self.supernet, weights, index):
            return self._plain_loss(batch, batch_idx)

    def configure_optimizers(self) -> Any:
        """The weight optimizer and the logits' (a list), and with the weight optimizer's lr
        schedulers (``oneshot.weight_schedulers``) the list of their configs beside it."""
        weights, arch, self._schedules = bilevel_optimizers(self.supernet, self.alphas,
                                                            self.hparams)
        check_resumed_rates(self._resume_groups, [weights, arch])  # before any training
        warn_unsaved_schedules(self, self._schedules, self._saved_schedules)  # (a resume's)
        self._resume_groups, self._rates = None, built_rates([weights, arch])
        # the weights' schedulers: in the checkpoint, and stepped here (manual optimization)
        configs = [schedule.lightning_config() for schedule in self._schedules]
        return ([weights, arch], configs) if configs else [weights, arch]

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if not (isinstance(batch, Mapping) and "train" in batch and "arch" in batch):
            raise ConfigError("DifferentiableNAS trains on {'train': batch, 'arch': batch}: "
                              "fit it with datamodule=BilevelData(your_datamodule)")
        opt_weights, opt_arch = self.optimizers()
        if self.current_epoch >= self.hparams.warmup_epochs:
            opt_arch.zero_grad()
            # the logits' (held-out) batch leaves the BatchNorm statistics as they were:
            # they are learnt from training batches, as the weights (was: from both, so
            # validation and an export without calibration were scored with statistics of
            # the very data they scored)
            with preserved_batchnorm(self.supernet):
                arch_loss = self._mixed_loss(batch["arch"], batch_idx, phase=1)
                self.manual_backward(arch_loss)
            opt_arch.step()
            self.log("arch_loss", arch_loss.detach(), on_step=False, on_epoch=True,
                     batch_size=extract_batch_size(batch["arch"]), sync_dist=True)
        opt_weights.zero_grad()
        loss = self._mixed_loss(batch["train"], batch_idx, phase=0)
        self.manual_backward(loss)
        opt_weights.step()  # clipped in on_before_optimizer_step
        self._step_schedules(batch_idx)  # its schedulers, as Lightning's loop steps them
        # each loss by its own batch's size (the pair's sizes differ at a split's last batch);
        # under DDP the epoch's mean over every rank's batches (was: each rank's own)
        self.log("train_loss", loss.detach(), on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=extract_batch_size(batch["train"]), sync_dist=True)
        return loss.detach()

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip the weights' gradients (``gradient_clip_val``). Lightning calls this inside
        ``opt.step()``, after a ``16-mixed`` scaler has unscaled them (clipped right after
        ``manual_backward``, the scaled gradients were clipped: the weights barely moved)."""
        hp = self.hparams
        if hp.gradient_clip_val and optimizer is self.optimizers(use_pl_optimizer=False)[0]:
            self.clip_gradients(optimizer, gradient_clip_val=hp.gradient_clip_val,
                                gradient_clip_algorithm=hp.gradient_clip_algorithm.lower())
