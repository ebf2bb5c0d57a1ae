"""The ``ReduceLROnPlateau`` steps an epoch-end ``last.ckpt`` misses: Lightning steps an
epoch's plateau schedulers in its fit loop after the ``on_train_epoch_end`` hooks in which
that file is written, and does not take those steps on a resume from it (their monitor is
not in it). ``PlateauSteps``, a mixin of a ``ModelCheckpoint`` that writes such a file
(a trial's ``TrialCheckpoint``, a one-shot run's ``RunCheckpoint``), stores the values they
step on (``PLATEAU_STEPS``) and, in a fit resumed from it, takes them as it starts (was:
missed: a killed trial or run went on with another rate than an uninterrupted one's).

Example:
    >>> import lightning.pytorch as pl
    >>> plateau_steps(pl.Trainer(logger=False, enable_checkpointing=False))
    {}
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch

__all__ = ["PLATEAU_STEPS", "PlateauSteps", "plateau_steps", "take_plateau_steps"]

#: the checkpoint key, in an epoch-end ``last.ckpt``, of the values the epoch's
#: ``ReduceLROnPlateau`` schedulers step on after it was written (``plateau_steps``)
PLATEAU_STEPS = "lightning_nas_plateau_steps"


def plateau_steps(trainer: pl.Trainer) -> dict[int, Any]:
    """The ``ReduceLROnPlateau`` steps Lightning takes at the end of this epoch, after its
    ``on_train_epoch_end`` hooks: ``{index in trainer.lr_scheduler_configs: the monitored
    value}`` of each epoch-interval one due this epoch (its ``frequency``) whose monitor is
    logged, as Lightning's loop picks them (automatic optimization only).

    Example:
        >>> plateau_steps(pl.Trainer(logger=False, enable_checkpointing=False))
        {}
    """
    module = trainer.lightning_module
    if module is None or not module.automatic_optimization:
        return {}
    steps = {}
    for index, config in enumerate(trainer.lr_scheduler_configs):
        value = trainer.callback_metrics.get(config.monitor) if config.monitor else None
        if (config.reduce_on_plateau and config.interval == "epoch" and value is not None
                and (trainer.current_epoch + 1) % config.frequency == 0):
            steps[index] = value.detach().cpu().clone() if isinstance(value, torch.Tensor) \
                else value
    return steps


def take_plateau_steps(trainer: pl.Trainer, pl_module: pl.LightningModule,
                       steps: dict[int, Any]) -> None:
    """Take ``steps`` (``plateau_steps`` of the epoch a resumed checkpoint was written at the
    end of), as the fit starts: each through the module's ``lr_scheduler_step``, as
    Lightning's loop steps it (it does not on such a resume).

    Example:
        >>> take_plateau_steps(pl.Trainer(logger=False), pl.LightningModule(), {})
    """
    configs = trainer.lr_scheduler_configs
    for index, value in sorted(steps.items()):
        if index < len(configs):
            pl_module.lr_scheduler_step(configs[index].scheduler, value)


class PlateauSteps:
    """Mixin, before ``ModelCheckpoint``, of a checkpoint callback whose epoch-end file a
    fit may resume from: set ``_epoch_end`` while that file is written (its
    ``on_train_epoch_end``) and it holds ``plateau_steps``; a fit resumed from it takes them
    in ``on_train_start``.

    Example:
        >>> from lightning.pytorch.callbacks import ModelCheckpoint
        >>> class Saves(PlateauSteps, ModelCheckpoint):
        ...     pass
        >>> Saves(dirpath="ckpt")._steps
        {}
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._epoch_end = False  # the epoch-end last.ckpt is being written
        self._steps: dict[int, Any] = {}  # the plateau steps the resumed checkpoint missed

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(trainer, pl_module, checkpoint)  # type: ignore[misc]
        if self._epoch_end:  # stepped after this file is written (the fit's end's: before;
            checkpoint[PLATEAU_STEPS] = plateau_steps(trainer)  # a user's: not ours)

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(trainer, pl_module, checkpoint)  # type: ignore[misc]
        self._steps = dict(checkpoint.get(PLATEAU_STEPS) or {})

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Take the ``ReduceLROnPlateau`` steps of the epoch the resumed ``last.ckpt`` was
        written at the end of, which Lightning does not take on a resume (was: missed: the
        rate, and the scheduler's count of bad epochs, were not an uninterrupted run's)."""
        super().on_train_start(trainer, pl_module)  # type: ignore[misc]
        steps, self._steps = self._steps, {}
        take_plateau_steps(trainer, pl_module, steps)
