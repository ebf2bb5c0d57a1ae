"""What ``NASModule`` logs, known before any training: ``val_loss`` and ``val_<name>`` per
metric of its ``metrics`` argument (each with ``/dataloader_idx_<i>`` under several
validation loaders), and ``train_loss``. A search's ``monitor`` (a validation metric) or a
further objective it never logs is refused while the search is made (was: trial 1 trained
its first epoch, then stopped the search: "monitor 'val_accuracy' was not logged by the
validation of epoch 0"), and so is a fit's ``--monitor`` (``fit.fit_spec``; was: after the
fit's epochs).

Only ``NASModule`` itself: a subclass may log more, and so may a callback, so a search with
callbacks (or an ``objective`` function) is left to the check at the first validation
(``search/monitor_errors.py``).

Example:
    >>> logged_keys(["acc"])
    ['val_loss', 'val_acc', 'train_loss']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.module import NASModule
from lightning_nas.module_metrics import METRICS
from lightning_nas.search.monitor_errors import metric_hint
from lightning_nas.search.objectives import COSTS

__all__ = ["check_nas_logged", "logged_keys"]

#: the suffix Lightning gives each key of a validation loader after the first
_LOADER = re.compile(r"/dataloader_idx_\d+$")


def logged_keys(metric_names: Sequence[str]) -> list[str]:
    """The keys ``NASModule`` with metrics named ``metric_names`` logs (validation's first,
    then training's)."""
    return ["val_loss", *(f"val_{name}" for name in metric_names), "train_loss"]


def check_nas_logged(model: Any, monitor: str, objectives: Sequence[str],
                     trainer: Mapping[str, Any]) -> None:
    """Refuse a ``monitor`` or objective that ``model``, a ``NASModule`` itself, never logs.

    Args:
        model: a trial's model, built (another class, a subclass too: nothing checked).
        monitor: the metric that scores a trial (validation must log it).
        objectives: the further objectives (validation or training may log them; the
            counted costs, ``params`` and ``flops``, are the search's own).
        trainer: the trials' Trainer arguments (with callbacks: nothing checked).

    Raises:
        ConfigError: naming the metric, the closest key and the keys the module logs.
    """
    if type(model) is not NASModule or trainer.get("callbacks"):
        return
    keys = logged_keys(list(model.val_metrics))
    validation = keys[:-1]
    if _LOADER.sub("", monitor) not in validation:
        raise ConfigError(f"monitor {monitor!r} is not logged by NASModule's validation; "
                          f"{metric_hint(monitor, validation)}it logs: "
                          f"{', '.join(validation)}{_metrics_note(monitor)}; nothing trained")
    for name in objectives:
        if name not in COSTS and _LOADER.sub("", name) not in keys:
            raise ConfigError(f"objective {name!r} is not logged by NASModule; "
                              f"{metric_hint(name, keys)}it logs: {', '.join(keys)} (the "
                              f"search counts 'params' and 'flops' itself)"
                              f"{_metrics_note(name)}; nothing trained")


def _metrics_note(name: str) -> str:
    """How to log ``val_<metric>`` where ``name`` is one of a metric ``NASModule`` knows."""
    metric = name[4:] if name.startswith("val_") else ""
    if metric not in METRICS:
        return ""
    return (f" (its metrics argument names the val_<name> keys: metrics={{'{metric}': "
            f"'{metric}'}} logs {name})")
