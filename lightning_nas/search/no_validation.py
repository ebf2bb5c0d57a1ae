"""Why a trial's fit scored nothing: the error of a fit that ended without a validation, so
that the monitor was never logged, naming the setting that left it out.

- ``no_validation_error``: ``max_steps`` where it cut the last epoch short (with an epoch's
  optimizer steps, ``epoch_steps``), a time ``val_check_interval`` that never came, a model
  without ``validation_step`` or data without ``val_dataloader()`` (``skipped_why``), else
  the validation settings.
- ``check_validates``: the last two refused before a search or a fit trains, judged on the
  model and data as built (was: found after trial 1 trained to its end, and said as the
  validation settings); a warning instead where a method of theirs that a fit runs first
  (``setup()``) may set the hook on the instance (``setter``).

Example:
    >>> import lightning.pytorch as pl
    >>> trainer = pl.Trainer(logger=False, enable_progress_bar=False, max_epochs=1)
    >>> said = no_validation_error(trainer, "val_loss", {"minutes": 10})
    >>> "val_check_interval={'minutes': 10} is a time: Lightning validates once" in said
    True
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities.model_helpers import is_overridden

from lightning_nas.errors import ConfigError
from lightning_nas.user_warnings import warn_user
from lightning_nas.wording import counted

__all__ = ["check_validates", "epoch_steps", "no_validation_error", "setter", "skipped_why"]


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
    why = skipped_why(trainer.lightning_module, trainer.datamodule, monitor)
    if why is not None:  # Lightning skipped every validation: none of the settings is why
        return f"{said}: {why}"
    if isinstance(interval, (str, Mapping, timedelta)):  # Lightning's time interval
        return (f"{said}: val_check_interval={interval!r} is a time: Lightning validates once "
                f"that much training time has passed since the last validation, not at each "
                f"epoch's end, and it never passed in this trial; give a shorter time, or a "
                f"fraction of an epoch (a float) or a number of batches (an int), or leave it "
                f"out (each epoch's end)")
    return (f"{said} (check limit_val_batches, check_val_every_n_epoch, and val_check_interval "
            f"against the batches of an epoch)")


def skipped_why(model: Any, data: Any, monitor: str, fits: str = "the fit") -> str | None:
    """Why Lightning skips every validation of a fit of ``model`` (a LightningModule or its
    class) on ``data`` (a LightningDataModule or its class; None: the model's own loaders),
    which no Trainer setting changes: no ``validation_step``, or no ``val_dataloader()``
    where the loaders come from (a datamodule where one is given, never the model then);
    None where both are there, or not known: ``model`` of another kind (a builder
    function's, before it runs), ``data`` of another kind (its loaders then not judged).
    An instance's hook counts where its ``__init__`` set it (``self.val_dataloader = ...``),
    as Lightning counts it; a class knows none such (``check_validates``).

    Example:
        >>> skipped_why(pl.LightningModule, None, "val_acc")
        "LightningModule has no validation_step, so Lightning skips validation in the fit and ...
    """
    missing = _missing_hook(model, data)
    if missing is None:
        return None
    hook, owner = missing
    if hook == "validation_step":
        return (f"{_name(model)} has no validation_step, so Lightning skips validation in "
                f"{fits} and none could log monitor {monitor!r}: define validation_step on "
                f"the model, logging {monitor!r}")
    whose = _name(model) if owner is model else f"the data, {_name(data)},"
    return (f"{whose} has no val_dataloader(), so Lightning skips validation in {fits} and "
            f"none could log monitor {monitor!r}: define val_dataloader() on it")


def _missing_hook(model: Any, data: Any) -> tuple[str, Any] | None:
    """The hook ``skipped_why`` finds missing and the model or data (``owner``) lacking it."""
    if not _is(model, pl.LightningModule):
        return None
    if not is_overridden("validation_step", model, pl.LightningModule):
        return "validation_step", model
    if data is not None and not _is(data, pl.LightningDataModule):
        return None
    owner, parent = (model, pl.LightningModule) if data is None else (
        data, pl.LightningDataModule)
    return None if is_overridden("val_dataloader", owner, parent) else ("val_dataloader", owner)


def _is(thing: Any, kind: type) -> bool:
    """Whether ``thing`` is an instance or a subclass of ``kind``."""
    return isinstance(thing, kind) or isinstance(thing, type) and issubclass(thing, kind)


def _name(thing: Any) -> str:
    """The class name of ``thing``, an instance or a class."""
    return thing.__name__ if isinstance(thing, type) else type(thing).__name__


def check_validates(model: Any, data: Any, monitor: str,
                    fits: str = "every trial's fit") -> None:
    """Refuse, before training, a model without ``validation_step`` or data (None: the
    model's own loaders) without ``val_dataloader()``, judged as built (the instances of
    ``TrialTemplate.dry_build``): the fit would train to its end and score nothing (was:
    found after a search's trial 1 or a fit trained, "no validation ran ... (check
    limit_val_batches, check_val_every_n_epoch, and val_check_interval ...)", none of them
    the cause). A hook an instance's ``__init__`` sets counts, as Lightning counts it (was:
    the class judged, such a project refused); where only a class is given, the one
    lacking the hook, a warning instead, as its instance may set it; so too where a method
    of the instance's class names the hook (``setter``: a ``setup()`` that sets
    ``self.val_dataloader``, which Lightning calls before it asks for the loaders; was:
    refused, that project too).

    Example:
        >>> check_validates(pl.LightningModule(), None, "val_acc")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: LightningModule has no validation_step, so ...
    """
    why = skipped_why(model, data, monitor, fits)
    if why is None:
        return
    hook, owner = _missing_hook(model, data)
    if isinstance(owner, type):  # unbuilt: its __init__ may set it
        warn_user(f"{why} (unless its __init__ sets it on the instance: only its class was "
                  f"judged)")
        return
    method = setter(owner, hook)
    if method is not None:  # set as the fit runs, maybe: only a fit tells
        warn_user(f"{why} (unless its {method}() sets it on the instance as the fit runs: "
                  f"{method}() names {hook}, and nothing ran it before training)")
        return
    raise ConfigError(why)


def setter(owner: Any, hook: str) -> str | None:
    """The method of ``owner``'s class (its own classes, not Lightning's) that may set
    ``hook`` on the instance: one whose source names it, ``setup`` (which a fit runs before
    it asks for the loaders) first where it does; one whose source cannot be read counts
    too (not known); None where none does. The hook's own method is not counted.

    Example:
        >>> class Data(pl.LightningDataModule):
        ...     def setup(self, stage=None):
        ...         self.val_dataloader = lambda: []
        >>> setter(Data(), "val_dataloader"), setter(pl.LightningDataModule(), "val_dataloader")
        ('setup', None)
    """
    lightning = {*pl.LightningModule.__mro__, *pl.LightningDataModule.__mro__}
    named = re.compile(rf"\b{re.escape(hook)}\b")
    found = []
    for cls in type(owner).__mro__:
        if cls in lightning:
            continue
        for name, attr in vars(cls).items():
            func = getattr(attr, "__func__", attr)  # a staticmethod's or classmethod's
            if name == hook or not inspect.isfunction(func):
                continue
            try:
                source = inspect.getsource(func)
            except (OSError, TypeError):  # (defined where no file holds it)
                source = hook
            if named.search(source):
                found.append(name)
    return "setup" if "setup" in found else found[0] if found else None
