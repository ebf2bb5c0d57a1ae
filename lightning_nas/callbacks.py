"""Callbacks that lightning_nas adds to every trial's Trainer.

``TrialReporter`` records the logged metrics after each validation epoch, so a trial's
score is the monitored value at its best epoch, and fails fast (``MonitorError``) when the
monitored key is never logged.

Example:
    >>> reporter = TrialReporter(monitor="val_acc", mode="max")
    >>> reporter.best() is None
    True
"""

from __future__ import annotations

import difflib
import math
from typing import Any

import lightning.pytorch as pl
import torch

__all__ = ["MonitorError", "TrialReporter"]


class MonitorError(KeyError):
    """The monitored metric was not logged; the message lists the keys that were."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def _to_float(value: Any) -> float | None:
    if isinstance(value, torch.Tensor):
        return float(value.detach().cpu()) if value.numel() == 1 else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


class TrialReporter(pl.Callback):
    """Keeps the history of logged metrics, one entry per validation epoch.

    Args:
        monitor: the metric that scores the trial (any key logged with ``self.log``).
        mode: ``"max"`` or ``"min"``.
    """

    def __init__(self, monitor: str, mode: str = "max") -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"`mode` can be max, min; got {mode!r}")
        self.monitor, self.mode = monitor, mode
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
            close = difflib.get_close_matches(self.monitor, keys, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise MonitorError(f"monitor {self.monitor!r} was never logged; {hint}"
                               f"logged keys: {keys}")
        self.history.append({"epoch": trainer.current_epoch, "metrics": logged})

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
