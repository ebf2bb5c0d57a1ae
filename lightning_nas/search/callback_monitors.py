"""The monitors of a fit's own callbacks, checked at the first point their keys are known.

A ``ModelCheckpoint`` or ``EarlyStopping`` of the user's (the Trainer's or the module's
``configure_callbacks()``), or a ``ReduceLROnPlateau`` scheduler of ``configure_optimizers``,
that monitors a key nothing logs fails in Lightning's own code after the first training
epoch, with a traceback (a search: in every trial). ``CallbackMonitors`` fails the fit with
one ``MonitorError`` line instead, naming the callback, the key, the closest logged key and
all of them:

- at the end of a validation, a monitor named without its loader's suffix where several
  validation loaders log it once each (``val_acc`` of ``val_acc/dataloader_idx_0``, ``_1``:
  ``per_loader``, the search's own monitor's wording; the first validation after the sanity
  check, whose metrics of several loaders Lightning keeps out of ``callback_metrics``);
- at the end of a validation (the sanity check's, before any training; the first one when
  sanity checking is off), a monitor that names validation (``val``, ``valid``,
  ``validation`` in it) and is spelt close to a key validation logged, without extending
  one (``val_acc_best`` may be logged by training), is a misspelling of that key;
- at the first training batch's end, a step-interval scheduler's monitor (Lightning reads
  it there);
- at the first training epoch's end, once a validation ran (or none will: no validation
  step, loader or batch), any other: every key training and validation log is known then;
  an epoch before the first validation (``check_val_every_n_epoch: 2``) leaves them to the
  next epoch's end. A module that logs in its own
  ``on_train_epoch_end`` logs after this hook: its callbacks are left to Lightning.

Example:
    >>> print(not_logged("EarlyStopping", "val_los", {"val_loss", "train_loss"}, "at x"))
    EarlyStopping's monitor 'val_los' is not logged; did you mean 'val_loss'? logged keys: \
['train_loss', 'val_loss'] (checked at x)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.utilities.model_helpers import is_overridden

from lightning_nas.errors import MonitorError
from lightning_nas.search.monitor_errors import metric_hint, per_loader

__all__ = ["CallbackMonitors", "is_callback_monitor_error", "not_logged"]

#: the first line of a trial's error that ``CallbackMonitors`` raised
_ERROR = re.compile(r"(rank \d+ failed the trial: )?MonitorError: .*'s monitor '[^']*' is "
                    r"(not logged; |logged once per validation loader, never under that name)")

#: how alike a misspelt validation key is to the key validation logged (difflib's ratio)
_CLOSE = 0.8

#: words that say a metric is validation's
_VALIDATION = {"val", "valid", "validation"}


def not_logged(label: str, key: str, keys: Iterable[str], when: str) -> str:
    """The one-line message of ``label``'s monitor ``key``, not among the logged ``keys``."""
    logged = sorted(keys)
    return (f"{label}'s monitor {key!r} is not logged; {metric_hint(key, logged)}logged keys: "
            f"{logged} (checked {when})")


def is_callback_monitor_error(line: str) -> bool:
    """Whether a trial's error line is ``CallbackMonitors``' (a resume may change the
    callbacks of a search it stopped), of a process or of a rank of a DDP trial.

    Example:
        >>> is_callback_monitor_error("MonitorError: " + not_logged("X", "a", {"b"}, "now"))
        True
        >>> is_callback_monitor_error("rank 0 failed the trial: MonitorError: "
        ...                           + not_logged("X", "a", {"b"}, "now"))
        True
        >>> is_callback_monitor_error("MonitorError: EarlyStopping's monitor 'a' is logged "
        ...                           "once per validation loader, never under that name: ...")
        True
    """
    return _ERROR.match(line) is not None


def _names_validation(key: str, keys: Sequence[str]) -> bool:
    """Whether ``key``, logged by no validation, is a misspelling of a key one logged: it
    names validation, is spelt within a letter or two of one (``val_gap`` is not
    ``val_acc``) and extends none.

    Example:
        >>> [_names_validation(k, ["val_acc", "val_loss"]) for k in ("val_los", "val_gap")]
        [True, False]
    """
    hint = re.fullmatch(r"did you mean '(.*?)'\? (\(.*\) )?", metric_hint(key, keys))
    words = set(re.split(r"[^a-z]+", key.lower()))
    return bool(words & _VALIDATION) and hint is not None and difflib.SequenceMatcher(
        None, key.lower(), hint[1].lower()).ratio() >= _CLOSE and not any(
        key.startswith(k) for k in keys)


class CallbackMonitors(pl.Callback):
    """Fail a fit whose callbacks or plateau schedulers monitor a key nothing logs, at the
    earliest point its logged keys are known (see the module's docstring), with one line.

    Put it first among the Trainer's callbacks: at a validation's end it must run before an
    ``EarlyStopping`` that checks there.

    Args:
        skip: callbacks not checked (the search's own, whose monitor it checks itself).

    Example:
        >>> CallbackMonitors().monitors(None)
        []
    """

    def __init__(self, skip: Sequence[pl.Callback] = ()) -> None:
        self.skip = list(skip)
        self._pending: list[tuple[str, str, bool]] | None = None
        self._keys: set[str] = set()
        self._validated = False
        self._batches = 0

    def monitors(self, trainer: pl.Trainer | None) -> list[tuple[str, str, bool]]:
        """``(label, key, step_based)`` of each monitor to check: the callbacks'
        (``EarlyStopping(strict=False)`` tolerates a missing key) and the strict plateau
        schedulers' of an automatically optimized module."""
        if trainer is None:
            return []
        found = [(type(c).__name__, c.monitor, False) for c in trainer.callbacks
                 if isinstance(c, (ModelCheckpoint, EarlyStopping)) and c.monitor is not None
                 and not any(c is s for s in self.skip)
                 and getattr(c, "strict", True)]
        module = trainer.lightning_module
        if module is not None and module.automatic_optimization:
            found += [(f"configure_optimizers' {type(config.scheduler).__name__}",
                       config.monitor, config.interval == "step")
                      for config in trainer.lr_scheduler_configs
                      if config.reduce_on_plateau and config.strict and config.monitor]
        return found

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._pending = self.monitors(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._validated = True
        when = ("after the sanity check's validation: nothing trained" if trainer.sanity_checking
                else f"after the validation in epoch {trainer.current_epoch}")
        valid = sorted(trainer.callback_metrics)
        for label, key, _ in self._pending or []:  # val_acc of val_acc/dataloader_idx_0, _1
            if (err := per_loader(key, trainer, f"{label}'s monitor")) is not None:
                self._pending = []
                raise err
        self._check(trainer, when, lambda key, step: _names_validation(key, valid))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        self._batches += 1
        if self._batches == 1 and self._pending:  # a step scheduler reads this batch's keys
            batch_keys = set(trainer.callback_metrics)
            self._check(trainer, "at the first training batch's end: a scheduler of interval "
                        "'step' reads the keys each batch logs",
                        lambda key, step: step and self._all_seen(trainer), batch_keys)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if is_overridden("on_train_epoch_end", pl_module, pl.LightningModule):
            self._pending = []  # it may log after this hook: Lightning checks those keys
            return
        self._check(trainer, f"at the end of training epoch {trainer.current_epoch}",
                    lambda key, step: self._all_seen(trainer))

    def _all_seen(self, trainer: pl.Trainer) -> bool:
        """Whether every key is known: a validation ran, or none will (no validation, or
        loaders of no batch). A loader Lightning has not set up yet (``[]``: the first
        validation comes in a later epoch, ``check_val_every_n_epoch: 2``) is not known to
        be empty (was: taken for none, so a right monitor failed at epoch 0's end)."""
        batches = trainer.num_val_batches
        return self._validated or not trainer.enable_validation or (
            bool(batches) and not sum(batches))

    def _check(self, trainer: pl.Trainer, when: str, missing: Any,
               shown: set[str] | None = None) -> None:
        """Drop the monitors logged by now; raise for the first one ``missing(key, step)``
        says will not be, listing the keys logged so far (or those ``shown``)."""
        if not self._pending:
            return
        self._keys |= set(trainer.callback_metrics)
        self._pending = [m for m in self._pending if m[1] not in self._keys]
        for label, key, step in self._pending:
            if missing(key, step):
                self._pending = []
                # every trial's error: it stops a search (its callbacks are every trial's)
                raise MonitorError(not_logged(label, key, self._keys if shown is None
                                              else shown, when))
