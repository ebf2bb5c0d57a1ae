"""Callbacks that lightning_nas adds to every trial's Trainer.

``TrialReporter`` records the logged metrics after each validation epoch, so a trial's
score is the monitored value at its best epoch, and fails fast (``MonitorError``) when the
monitored key is never logged. ``PruningCallback`` stops a run that a scheduler rule
(``lightning_nas.schedulers``) judges weak; it works in any Trainer.

Example:
    >>> reporter = TrialReporter(monitor="val_acc", mode="max")
    >>> reporter.best() is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import lightning.pytorch as pl
import torch

from lightning_nas.arch import flatten_arch
from lightning_nas.errors import MonitorError, check_mode, did_you_mean
from lightning_nas.search.schedulers import Decision, Rule

__all__ = ["PruningCallback", "TrialReporter"]


def _to_float(value: Any) -> float | None:
    if isinstance(value, torch.Tensor):
        return float(value.detach().cpu()) if value.numel() == 1 else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


class TrialReporter(pl.Callback):
    """Keeps the history of logged metrics, one entry per validation epoch.

    At the end of training it logs the architecture as hyperparameters with the trial's
    score (``hp_metric``) to the Trainer's loggers, so TensorBoard's HParams view (or a
    CSV logger's ``hparams.yaml``) compares the trials of a search.

    Args:
        monitor: the metric that scores the trial (any key logged with ``self.log``).
        mode: ``"max"`` or ``"min"``.
        arch: the trial's architecture (logged as hyperparameters).
    """

    def __init__(self, monitor: str, mode: str = "max",
                 arch: dict[str, Any] | None = None) -> None:
        check_mode(mode)
        self.monitor, self.mode, self.arch = monitor, mode, dict(arch or {})
        self.history: list[dict[str, Any]] = []

    @property
    def state_key(self) -> str:
        return f"TrialReporter{{'monitor': '{self.monitor}', 'mode': '{self.mode}'}}"

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        logged = {k: v for k, v in ((k, _to_float(v)) for k, v in trainer.callback_metrics.items())
                  if v is not None}
        if self.monitor not in logged:
            keys = sorted(logged)
            raise MonitorError(f"monitor {self.monitor!r} was never logged; "
                               f"{did_you_mean(self.monitor, keys)}"
                               f"logged keys: {keys}")
        self.history.append({"epoch": trainer.current_epoch, "metrics": logged})

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        best = self.best()
        if best is None or not trainer.is_global_zero:
            return
        score = best["metrics"][self.monitor]
        params = {**flatten_arch(self.arch), "score": score, "monitor": self.monitor}
        for logger in trainer.loggers:
            logger.log_hyperparams(params)
            logger.log_metrics({"hp_metric": score}, step=trainer.global_step)

    def curve(self) -> list[float]:
        """The monitored value at each validation, in order."""
        return [h["metrics"][self.monitor] for h in self.history]

    def best(self) -> dict[str, Any] | None:
        """The history entry with the best monitored value (first one on ties)."""
        finite = [h for h in self.history if math.isfinite(h["metrics"][self.monitor])]
        if not finite:
            return None
        pick = max if self.mode == "max" else min
        return pick(finite, key=lambda h: h["metrics"][self.monitor])

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))


class PruningCallback(pl.Callback):
    """Asks a rule after each validation whether the run goes on; stops it with
    ``trainer.should_stop = True`` (never by raising). Under DDP, rank 0 decides and the
    decision is broadcast, so every rank stops at the same epoch.

    Args:
        rule: a ``Rule`` (``MedianRule``, ``ASHARule``, ...), shared by the runs it judges.
        monitor: the logged metric to judge.
        trial_key: this run's name in the rule (runs are compared by key).

    Example:
        >>> from lightning_nas.schedulers import MedianRule
        >>> rule = MedianRule(min_epochs=1, min_trials=1)
        >>> callback = PruningCallback(rule, monitor="val_acc", trial_key="run-1")
        >>> callback.decision is None
        True
    """

    def __init__(self, rule: Rule, monitor: str = "val_acc", trial_key: Hashable = 0) -> None:
        self.rule, self.monitor, self.trial_key = rule, monitor, trial_key
        self.decision: Decision | None = None
        self.stopped_epoch: int | None = None

    @property
    def state_key(self) -> str:
        return f"PruningCallback{{'monitor': '{self.monitor}', 'key': '{self.trial_key}'}}"

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.decision is not None:
            return
        epochs = trainer.current_epoch + 1  # epochs completed when this validation ran
        decision = Decision.CONTINUE
        if trainer.is_global_zero:
            value = _to_float(trainer.callback_metrics.get(self.monitor))
            if value is not None:
                decision = self.rule.decide(self.trial_key, epochs, value)
        decision = Decision(trainer.strategy.broadcast(decision.value, src=0))
        if decision is not Decision.CONTINUE:
            self.decision, self.stopped_epoch = decision, epochs
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.stopped_epoch = state_dict.get("stopped_epoch")
