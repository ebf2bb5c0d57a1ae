"""The wrapped LightningModule's own hooks under ``DifferentiableNAS`` (DARTS, GDAS), which
Lightning calls on the wrapper, not on the module it wraps: ``WrappedHooks`` passes them on.

- ``FORWARDED``: its lifecycle hooks (``setup`` / ``teardown`` with the stage, the fit's,
  the training's and each training epoch's start and end, ``on_save_checkpoint`` /
  ``on_load_checkpoint`` with the checkpoint dict), each called once per Lightning call
  with the arguments Lightning gives the wrapper (those a plain fit of the module gets),
  after the wrapper's own work (``on_save_checkpoint`` before it: the wrapper's key is
  kept); its ``self.log`` calls are logged by the wrapper (``wrapped.own_hook``); and its
  ``configure_callbacks()``. Was: none of them ran, so state its ``setup`` built was an
  ``AttributeError`` at the first step and its checkpoint keys were lost on resume.
  So are its validation hooks (``VALIDATION``: each validation's start and end, each
  validation batch's, ``on_validation_batch_end`` with what its own ``validation_step``
  returned, and ``on_validation_model_eval`` / ``on_validation_model_train``: its own where
  it overrides one, else Lightning's: the whole module to eval, then each submodule's mode
  restored as it was). Was: none of them ran, and nothing was said.
- ``UNHONOURED``: hooks of the optimization the wrapper drives itself (two optimizers,
  manual optimization: two backward passes and steps a batch) or of the
  batches it gets in pairs (their transfer hooks are the datamodule's, through
  ``BilevelData``); a module that overrides one is warned of as the fit starts, once, on
  rank 0, naming each (``warn_unhonoured``; was: ignored without a word).

Example:
    >>> "setup" in FORWARDED and "on_before_optimizer_step" in UNHONOURED
    True
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from torch import nn

from lightning_nas.oneshot.wrapped import own_call, own_hook
from lightning_nas.train_modes import Modes, modes_of, restore_modes
from lightning_nas.user_warnings import warn_rank_zero
from lightning_nas.wording import joined

__all__ = ["FORWARDED", "UNHONOURED", "VALIDATION", "WrappedHooks", "overridden",
           "warn_unhonoured"]

#: the module's validation hooks ``WrappedHooks`` calls as a plain fit of the module does
VALIDATION = ("on_validation_start", "on_validation_end", "on_validation_batch_start",
              "on_validation_batch_end", "on_validation_model_eval", "on_validation_model_train")
#: the module's hooks ``WrappedHooks`` calls as a plain fit of the module calls them
FORWARDED = ("setup", "teardown", "on_fit_start", "on_fit_end", "on_train_start",
             "on_train_end", "on_train_epoch_start", "on_train_epoch_end",
             "on_save_checkpoint", "on_load_checkpoint", "configure_callbacks", *VALIDATION)
#: the module's hooks ``DifferentiableNAS`` cannot call as a plain fit would
UNHONOURED = ("on_train_batch_start", "on_train_batch_end", "on_before_backward",
              "on_after_backward", "on_before_zero_grad", "optimizer_zero_grad",
              "on_before_optimizer_step", "configure_gradient_clipping", "optimizer_step",
              "on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer")


def overridden(module: nn.Module, names: tuple[str, ...]) -> list[str]:
    """Those of the hooks ``names`` that ``module``, a LightningModule, overrides (none of
    a plain ``nn.Module``), in the order of ``names``.

    Example:
        >>> class Clipping(pl.LightningModule):
        ...     def on_before_optimizer_step(self, optimizer): ...
        >>> overridden(Clipping(), UNHONOURED), overridden(nn.Linear(1, 1), UNHONOURED)
        (['on_before_optimizer_step'], [])
    """
    if not isinstance(module, pl.LightningModule):
        return []
    return [name for name in names
            if getattr(type(module), name) is not getattr(pl.LightningModule, name)]


def warn_unhonoured(module: nn.Module) -> None:
    """Warn (rank 0) of the hooks of ``UNHONOURED`` that ``module`` overrides, naming them,
    in one warning; nothing if it overrides none.

    Example:
        >>> warn_unhonoured(nn.Linear(1, 1))  # no LightningModule: nothing said
    """
    names = overridden(module, UNHONOURED)
    if names:
        warn_rank_zero(
            f"{type(module).__name__} overrides {joined(names)}, which DifferentiableNAS does "
            f"not call: DARTS and GDAS drive the optimization themselves (manual optimization "
            f"of two optimizers, the logits' and the weights': two backward passes and two "
            f"steps a training batch, gradient clipping by its "
            f"gradient_clip_val) on pairs of training and held-out batches, which pass the "
            f"datamodule's batch-transfer hooks (BilevelData), not the module's; move what "
            f"they do to a callback, the datamodule or DifferentiableNAS's arguments, or "
            f"search with SPOS (OneShotNAS), which leaves the optimization to the module")


class WrappedHooks(pl.LightningModule):
    """The hooks of ``FORWARDED``, passed on to the LightningModule ``self.supernet`` (see
    the module docstring); ``DifferentiableNAS`` calls them with ``super()`` from its own.

    ``on_fit_start`` warns first of the hooks it cannot honour (``warn_unhonoured``);
    ``own_validation_step`` runs the module's ``validation_step``, keeping what it returns
    for its ``on_validation_batch_end``.
    """

    supernet: nn.Module
    _step_output: Any = None  # what the module's validation_step returned (this batch)
    _modes: Modes | None = None  # each submodule's mode as validation started

    def configure_callbacks(self) -> Any:
        """The wrapped LightningModule's own ``configure_callbacks()``, which Lightning asks
        of the module it fits, this wrapper (was: dropped, so its ``EarlyStopping`` never
        stopped the search); its callbacks see this module as ``pl_module``, as the
        Trainer's do."""
        if overridden(self.supernet, ("configure_callbacks",)):
            return self.supernet.configure_callbacks()
        return []

    def setup(self, stage: str) -> None:
        own_hook(self, "setup", stage)

    def teardown(self, stage: str) -> None:
        own_hook(self, "teardown", stage)

    def on_fit_start(self) -> None:
        warn_unhonoured(self.supernet)
        own_hook(self, "on_fit_start")

    def on_fit_end(self) -> None:
        own_hook(self, "on_fit_end")

    def on_train_start(self) -> None:
        own_hook(self, "on_train_start")

    def on_train_end(self) -> None:
        own_hook(self, "on_train_end")

    def on_train_epoch_start(self) -> None:
        own_hook(self, "on_train_epoch_start")

    def on_train_epoch_end(self) -> None:
        own_hook(self, "on_train_epoch_end")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        own_hook(self, "on_save_checkpoint", checkpoint)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        own_hook(self, "on_load_checkpoint", checkpoint)

    def own_validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int) -> set[str]:
        """The module's own ``validation_step`` (``own_hook``), what it returns kept for its
        ``on_validation_batch_end``; the keys it logged."""
        logged, self._step_output = own_call(self, "validation_step", batch, batch_idx,
                                             dataloader_idx=dataloader_idx)
        return logged

    def on_validation_start(self) -> None:
        own_hook(self, "on_validation_start")

    def on_validation_end(self) -> None:
        own_hook(self, "on_validation_end")

    def on_validation_batch_start(self, batch: Any, batch_idx: int,
                                  dataloader_idx: int | None = None) -> None:
        """With Lightning's arguments: ``dataloader_idx`` where Lightning gives it (several
        validation loaders)."""
        loader = () if dataloader_idx is None else (dataloader_idx,)
        own_hook(self, "on_validation_batch_start", batch, batch_idx, *loader)

    def on_validation_batch_end(self, outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int | None = None) -> None:
        """With what the module's own ``validation_step`` returned as ``outputs`` (this
        wrapper's returns nothing), as in a plain fit of it."""
        loader = () if dataloader_idx is None else (dataloader_idx,)
        returned, self._step_output = self._step_output, None
        own_hook(self, "on_validation_batch_end", returned, batch, batch_idx, *loader)

    def on_validation_model_eval(self) -> None:
        """The module's own where it overrides it (in a plain fit its ``super()`` makes the
        Trainer's model, here this wrapper, eval), else Lightning's (``super()``); each
        submodule's mode noted first, as Lightning notes it, for
        ``on_validation_model_train``."""
        self._modes = modes_of(self)
        if overridden(self.supernet, ("on_validation_model_eval",)):
            own_hook(self, "on_validation_model_eval")
        else:
            super().on_validation_model_eval()

    def on_validation_model_train(self) -> None:
        """The module's own where it overrides it, else each submodule's mode restored as
        it was when validation started, as Lightning restores it where the module it fits
        overrides no ``on_validation_model_train`` (it calls this one instead: a plain
        ``train()`` would also set a frozen submodule's)."""
        modes, self._modes = self._modes or [], None
        if overridden(self.supernet, ("on_validation_model_train",)):
            own_hook(self, "on_validation_model_train")
            return
        restore_modes(modes)
