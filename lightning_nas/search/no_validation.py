"""Why a trial's fit scored nothing: the error of a fit that ended without a validation, so
that the monitor was never logged, naming the setting that left it out.

- ``no_validation_error``: ``max_steps`` where it cut the last epoch short (with an epoch's
  optimizer steps, ``epoch_steps``), a time ``val_check_interval`` that never came, else
  the validation settings.

Example:
    >>> import lightning.pytorch as pl
    >>> trainer = pl.Trainer(logger=False, enable_progress_bar=False, max_epochs=1)
    >>> said = no_validation_error(trainer, "val_loss", {"minutes": 10})
    >>> "val_check_interval={'minutes': 10} is a time: Lightning validates once" in said
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import lightning.pytorch as pl

from lightning_nas.wording import counted

__all__ = ["epoch_steps", "no_validation_error"]


def epoch_steps(trainer: pl.Trainer) -> str:
    """An epoch of ``trainer`` in optimizer steps, as ``max_steps`` counts them: under
    ``accumulate_grad_batches`` one a group of batches, and one at the epoch's last batch
    (was: its batches alone, as if each were a step).

    Example:
        >>> epoch_steps(pl.Trainer(logger=False, accumulate_grad_batches=2))  # no fit yet
        'inf batches'
    """
    batches, every = trainer.num_training_batches, trainer.accumulate_grad_batches
    if every == 1 or math.isinf(batches):
        return counted(batches, "batch", "batches")
    return (f"{counted(math.ceil(batches / every), 'optimizer step')}: "
            f"{counted(batches, 'batch', 'batches')}, accumulated {every} a step under "
            f"accumulate_grad_batches={every}")


def no_validation_error(trainer: pl.Trainer, monitor: str, interval: Any = None) -> str:
    """The error of a fit that ended without a validation: ``max_steps`` named where it cut
    the last epoch short (Lightning validates no such epoch; was: only the validation
    settings were named, as if they were why), and a time ``interval`` (the Trainer's
    ``val_check_interval``) as a time that never passed (was: as a count of batches).

    Example:
        >>> trainer = pl.Trainer(logger=False, enable_progress_bar=False)
        >>> no_validation_error(trainer, "val_loss", "00:00:10:00").split(": ")[1]
        "val_check_interval='00:00:10:00' is a time"
    """
    said = (f"no validation ran in the {counted(trainer.current_epoch, 'epoch')} "
            f"({counted(trainer.global_step, 'step')}) it trained, so {monitor!r} was never "
            f"logged")
    steps, every = trainer.max_steps, trainer.check_val_every_n_epoch
    if 0 < steps <= trainer.global_step and not (
            trainer.fit_loop.epoch_loop.batch_progress.is_last_batch):
        # every 2nd epoch validated: 2 epochs' steps (was: "an epoch's", which it may be)
        epochs = (f"{every} epochs' steps (check_val_every_n_epoch={every} validates once "
                  f"every {every} epochs)" if every is not None and every > 1
                  else "an epoch's steps")
        return (f"{said}: trainer.max_steps={steps} ended it in epoch "
                f"{trainer.current_epoch - 1}, before that epoch's end, and Lightning does not "
                f"validate an epoch max_steps cuts short (an epoch here is "
                f"{epoch_steps(trainer)}); give max_steps "
                f"at least {epochs}, or val_check_interval a number of batches that "
                f"validates before it (an int), or leave max_steps out")
    if isinstance(interval, (str, Mapping, timedelta)):  # Lightning's time interval
        return (f"{said}: val_check_interval={interval!r} is a time: Lightning validates once "
                f"that much training time has passed since the last validation, not at each "
                f"epoch's end, and it never passed in this trial; give a shorter time, or a "
                f"fraction of an epoch (a float) or a number of batches (an int), or leave it "
                f"out (each epoch's end)")
    return (f"{said} (check limit_val_batches, check_val_every_n_epoch, and val_check_interval "
            f"against the batches of an epoch)")
