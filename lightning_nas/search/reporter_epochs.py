"""The epochs of ``TrialReporter``'s entries (``search.callbacks``): its mixin
``ReporterEpochs``.

An entry recorded at a validation is completed with what training logged per epoch once the
epoch ends (``_complete``): at the next epoch's start, by an ``_EpochBoundary`` that ``setup``
puts first among the Trainer's callbacks (before any other callback logs that epoch's
values), or at the end of training; an entry holds only what was logged in its epoch
(``_epoch_scalars``).

Example:
    >>> from lightning_nas.search.callbacks import TrialReporter
    >>> issubclass(TrialReporter, ReporterEpochs), "_complete" in vars(ReporterEpochs)
    (True, True)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl

from lightning_nas.search.monitor_errors import check_objectives, scalars
from lightning_nas.search.validation_logs import ValidationLogs

if TYPE_CHECKING:
    from lightning_nas.search.callbacks import TrialReporter

__all__ = ["ReporterEpochs"]


class ReporterEpochs:
    """The completion of ``TrialReporter``'s entries at each epoch's end (see the module
    docstring), for the callback that sets the attributes below.

    Attributes:
        monitor: the metric that scores the trial.
        logged: the objectives after the monitor.
        history: one entry per validation epoch.
    """

    monitor: str
    logged: tuple[str, ...]
    history: list[dict[str, Any]]
    _open: bool
    _train_keys: set[str] | None
    _epoch_logs: ValidationLogs
    _val_keys: set[str]
    _stale: set[str]
    _fresh: set[str]
    _clock: float | None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Put an ``_EpochBoundary`` first among the Trainer's callbacks: it completes the
        entry at the next epoch's start before any other callback logs that epoch's values
        (``LearningRateMonitor``'s next rate)."""
        if not any(isinstance(cb, _EpochBoundary) and cb.reporter is self
                   for cb in trainer.callbacks):
            trainer.callbacks.insert(0, _EpochBoundary(self))
        self._clock = time.perf_counter()

    def _complete(self, trainer: pl.Trainer) -> None:
        """Complete the entry of the epoch's last validation with the metrics as they stand
        after the epoch: what training logged per epoch (the mean of a metric logged per
        step and per epoch, what the module's ``on_train_epoch_end`` logged) replaces what
        the entry held at validation (the last step's value, the previous epoch's); a key
        the validation logged keeps validation's value (training may log the same name,
        whose epoch mean would replace it after the checkpoint was chosen by it)."""
        if self._open:
            entry = self.history[-1]
            logged = self._epoch_scalars(trainer)
            # logged after the validation: stale in a validation before the next epoch's end
            self._train_keys = ((self._train_keys or set())
                                | (set(logged) - set(entry["metrics"]) - self._val_keys))
            entry["metrics"] = {**entry["metrics"],  # not the monitor: training's value
                                **{k: v for k, v in logged.items() if k != self.monitor
                                   and k not in self._stale and k not in self._fresh}}
            self._open = False
            for done in [h for h in self.history if h["epoch"] == entry["epoch"]]:
                check_objectives(self.monitor, self.logged, done, entry, self._val_keys,
                                 trainer.val_check_interval)  # the validations within it too

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._complete(trainer)

    def _epoch_scalars(self, trainer: pl.Trainer) -> dict[str, float]:
        """``scalars`` of the keys logged since this training epoch began (was: a key an
        earlier epoch logged too, which Lightning keeps in ``callback_metrics``)."""
        this_epoch = self._epoch_logs.logged(trainer)
        return {k: v for k, v in scalars(trainer).items() if k in this_epoch}


class _EpochBoundary(pl.Callback):
    """The first of a Trainer's callbacks (``TrialReporter.setup`` puts it there): at an
    epoch's start and at the end of training it completes the reporter's last entry, while
    the logged metrics are still those of the epoch that ended."""

    def __init__(self, reporter: TrialReporter) -> None:
        self.reporter = reporter

    @property
    def state_key(self) -> str:
        return f"lightning_nas._EpochBoundary{{'monitor': '{self.reporter.monitor}'}}"

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.reporter._complete(trainer)
        self.reporter._epoch_logs.start(trainer)  # what this epoch logs from here on

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.reporter._complete(trainer)
