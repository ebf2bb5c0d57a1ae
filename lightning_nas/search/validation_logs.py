"""Which metrics one validation logged, for the callbacks that read them after it.

Lightning keeps a key's last value in ``callback_metrics`` when a later validation does not
log it (a metric logged every other epoch): ``ValidationLogs`` tells the keys a validation
logged from those an earlier one left there (``TrialReporter``'s history entries,
``PruningCallback``'s check that the monitor was logged in every validation). Started at a
training epoch's start, it tells what that epoch logged (a warm-up's metric, logged in some
epochs only, is not a later epoch's).

Example:
    >>> from types import SimpleNamespace
    >>> trainer = SimpleNamespace(callback_metrics={"val_loss": 0.5})
    >>> logs = ValidationLogs()
    >>> logs.start(trainer)
    >>> trainer.callback_metrics = dict(trainer.callback_metrics, val_acc=0.9)
    >>> sorted(logs.logged(trainer))
    ['val_acc']
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

__all__ = ["ValidationLogs"]


class ValidationLogs:
    """Which ``callback_metrics`` keys one validation logged: Lightning keeps a key's last
    value in ``callback_metrics`` when a later validation does not log it (a metric logged
    every other epoch), and only a key logged again gets a new value object."""

    def __init__(self) -> None:
        self._before: dict[str, Any] = {}

    def start(self, trainer: pl.Trainer) -> None:
        """Note the ``callback_metrics`` as they stand before the validation."""
        self._before = dict(trainer.callback_metrics)

    def logged(self, trainer: pl.Trainer) -> set[str]:
        """The keys logged since ``start`` (new, or holding a new value object)."""
        return {k for k, v in trainer.callback_metrics.items() if self._before.get(k) is not v}
