"""Checks of what a trial's validations logged against the objectives it is told by.

``check_objectives`` raises the ``MonitorError`` of an objective that a validation holding
the monitor has no value of, saying why where it can: an objective that only training logs,
once per epoch, has none in the validations within an epoch (``val_check_interval < 1``).

Example:
    >>> last = {"epoch": 0, "metrics": {"val_acc": 0.9, "train_loss_epoch": 0.3}}
    >>> check_objectives("val_acc", ("train_loss_epoch",), last, last, {"val_acc"}, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from typing import Any

from lightning_nas.errors import MonitorError, did_you_mean

__all__ = ["check_objectives", "metric_hint"]

#: the suffixes Lightning adds to a metric logged both per step and per epoch
_SUFFIXES = ("_epoch", "_step")


def metric_hint(name: str, keys: Sequence[str]) -> str:
    """``"did you mean 'x'? "`` for the logged key closest to metric ``name``, or ``""``.

    A name that differs from a logged key by Lightning's ``_epoch`` / ``_step`` suffix
    (``self.log(..., on_step=True, on_epoch=True)`` logs ``val_loss_step`` and
    ``val_loss_epoch``; ``on_epoch=True`` alone logs ``val_loss``) is that key, before any
    key that is merely spelt alike.

    Example:
        >>> metric_hint("val_loss_epoch", ["train_loss_epoch", "val_loss"])
        "did you mean 'val_loss'? "
    """
    stem = next((name[:-len(s)] for s in _SUFFIXES if name.endswith(s)), name)
    for candidate in (stem, f"{stem}_epoch"):
        if candidate != name and candidate in keys:
            return f"did you mean {candidate!r}? "
    return did_you_mean(name, keys)


def check_objectives(monitor: str, objectives: Sequence[str], entry: dict[str, Any],
                     last: dict[str, Any], validation_keys: Set[str], interval: Any) -> None:
    """Raise when ``entry`` (a validation's history entry) holds ``monitor`` and not every
    objective.

    Args:
        monitor: the metric that scores the trial.
        objectives: the further metrics the search tells its optimizer.
        entry: the entry checked, ``{"epoch", "metrics"}``.
        last: the entry of the epoch's last validation, completed with what training logged
            per epoch (``entry`` itself, or one after it in the same epoch).
        validation_keys: the keys some validation logged.
        interval: the Trainer's ``val_check_interval`` (named in the error).

    Raises:
        MonitorError: naming the objective, the epoch and the logged keys (the closest one
            first); for an objective only training logs per epoch and a validation within
            the epoch, ``val_check_interval`` and what to change.
    """
    missing = [name for name in objectives if name not in entry["metrics"]]
    if not missing or monitor not in entry["metrics"]:
        return
    name, epoch = missing[0], entry["epoch"]
    if entry is not last and name in last["metrics"] and name not in validation_keys:
        raise MonitorError(
            f"objective {name!r} is logged by training, once per epoch, but validation runs "
            f"several times per epoch (trainer.val_check_interval={interval}): the "
            f"validations within epoch {epoch} have no value of it, so a trial whose best "
            f"validation is one of them could not be told; log {name!r} in validation, or "
            f"validate once per epoch (val_check_interval: 1.0)")
    keys = sorted(entry["metrics"])
    close = metric_hint(name, [*keys, "params", "flops"])
    raise MonitorError(f"objective {name!r} was not logged in epoch {epoch}; {close}logged "
                       f"keys: {keys} (the search counts 'params' and 'flops' itself)")
