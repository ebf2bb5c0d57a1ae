"""Checks of what a trial's validations logged against its monitor and objectives.

``logged_metrics`` reads the Trainer's scalar metrics, naming the closest key to a monitor
missing from them; ``check_monitor_logged`` raises at the end of a fit in which no
validation logged the monitor (a metric logged every few epochs is scored on those).
``check_objectives`` raises the ``MonitorError`` of an objective that a validation holding
the monitor has no value of, saying why where it can: an objective that only training logs,
once per epoch, has none in the validations within an epoch (``val_check_interval < 1``).

Example:
    >>> last = {"epoch": 0, "metrics": {"val_acc": 0.9, "train_loss_epoch": 0.3}}
    >>> check_objectives("val_acc", ("train_loss_epoch",), last, last, {"val_acc"}, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import TYPE_CHECKING, Any

import torch

from lightning_nas.errors import ConfigError, MonitorError, did_you_mean
from lightning_nas.numeric import is_number
from lightning_nas.search.objectives import COSTS, misspelt_cost

if TYPE_CHECKING:
    import lightning.pytorch as pl

__all__ = ["EVERY_EPOCH", "VALIDATION_ONLY", "check_monitor_logged", "check_monitor_reached",
           "check_objectives", "logged_metrics", "metric_hint", "not_finite_at", "per_loader",
           "scalars", "step_only", "unlogged_monitor"]

#: why a metric logged in training cannot score a trial
VALIDATION_ONLY = ("a metric logged in training_step is not known when validation ends, or "
                   "is the previous epoch's then")

#: what a scheduler needs of the monitor
EVERY_EPOCH = ("the rule judges each epoch: log it in every validation, or search without a "
               "scheduler")

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
    loaders = _loader_keys(name, keys)
    if loaders:  # (was: no hint, the names too far apart)
        return (f"did you mean {loaders[0]!r}? (a validation of several loaders logs a "
                f"metric once per loader, under these names: {', '.join(loaders)}) ")
    return did_you_mean(name, keys)


def step_only(name: str, trainer: pl.Trainer, what: str = "monitor") -> MonitorError | None:
    """The ``MonitorError`` of the ``what`` (``monitor``, ``objective``) ``name`` that the
    validation just ended logged per batch only (``self.log(name, ..., on_step=True,
    on_epoch=False)`` in ``validation_step``, or the ``_step`` name of one logged with both):
    Lightning hands such a value to the loggers and the progress bar alone, so no validation
    scores a trial on it; None for another metric (was: the trial trained all its epochs,
    then failed, ``logged keys: []``). One logged with ``logger=False`` is seen in the
    progress bar's metrics (``prog_bar=True``), or by its ``_epoch`` twin (was: by the
    loggers' metrics alone); one with neither reaches no view of the Trainer's.

    Example:
        >>> from types import SimpleNamespace
        >>> logs = SimpleNamespace(callback_metrics={}, logged_metrics={"val_acc": 0.5},
        ...                        progress_bar_metrics={})
        >>> print(step_only("val_acc", logs))  # doctest: +ELLIPSIS
        monitor 'val_acc' is logged per validation batch only ...; log it with on_epoch=True ...
    """
    stem = name[:-len("_step")] if name.endswith("_step") else None
    twin = stem is not None and f"{stem}_epoch" in trainer.callback_metrics
    if name in trainer.callback_metrics or not (
            twin or name in trainer.logged_metrics or name in trainer.progress_bar_metrics):
        return None
    if twin:
        fix = f"score {stem}_epoch instead, its mean over the validation"
    else:
        fix = ("log it with on_epoch=True (validation_step's default: the mean over the "
               "validation) instead of on_step=True alone")
    return MonitorError(f"{what} {name!r} is logged per validation batch only (self.log(..., "
                        f"on_step=True) in validation_step), which Lightning keeps for the "
                        f"loggers and the progress bar alone: no validation has a value of "
                        f"it to score a trial on; {fix}")


def per_loader(name: str, trainer: pl.Trainer, what: str = "monitor") -> MonitorError | None:
    """The ``MonitorError`` of the ``what`` (``monitor``, ``objective``) ``name`` that the
    validation just ended, over several loaders, logged once per loader only
    (``name/dataloader_idx_0``, ``..._1``: Lightning's names for a metric of
    ``validation_step``), never under ``name`` itself; None for another metric (was: the
    trial trained all its epochs, then failed naming them).

    Example:
        >>> from types import SimpleNamespace
        >>> logs = SimpleNamespace(callback_metrics={"val_acc/dataloader_idx_0": 0.5,
        ...                                          "val_acc/dataloader_idx_1": 0.7})
        >>> print(per_loader("val_acc", logs))  # doctest: +ELLIPSIS
        monitor 'val_acc' is logged once per validation loader, never under that name: did \
you mean 'val_acc/dataloader_idx_0'? (...: val_acc/dataloader_idx_0, val_acc/dataloader_idx_1); ...
    """
    keys = trainer.callback_metrics
    if name in keys or not _loader_keys(name, keys):
        return None
    hint = metric_hint(name, sorted(keys)).rstrip()
    return MonitorError(f"{what} {name!r} is logged once per validation loader, never under "
                        f"that name: {hint}; score one loader's value, or log {name!r} "
                        f"itself (the loaders' mean, say) in on_validation_epoch_end")


def _loader_keys(name: str, keys: Iterable[str]) -> list[str]:
    """The keys Lightning names ``name`` by, once per validation loader
    (``name/dataloader_idx_<i>``), sorted."""
    return sorted(k for k in keys if k.startswith(f"{name}/dataloader_idx_"))


def _to_float(value: Any) -> float | None:
    if isinstance(value, torch.Tensor):
        return float(value.detach().cpu()) if value.numel() == 1 else None
    if is_number(value):
        return float(value)
    return None


def scalars(trainer: pl.Trainer) -> dict[str, float]:
    """The Trainer's scalar ``callback_metrics`` as floats."""
    return {k: v for k, v in ((k, _to_float(v)) for k, v in trainer.callback_metrics.items())
            if v is not None}


def logged_metrics(trainer: pl.Trainer, monitor: str, why: str = "") -> dict[str, float]:
    """The Trainer's scalar ``callback_metrics`` as floats.

    Args:
        trainer: the Trainer, after a validation.
        monitor: the key that must be among them.
        why: why it must (ends the error); by default, that training's values do not count.

    Raises:
        MonitorError: when ``monitor`` is not among them, naming the closest logged key and
            listing all of them.
    """
    logged = scalars(trainer)
    if monitor not in logged:
        keys = sorted(logged)
        raise MonitorError(f"monitor {monitor!r} was not logged by the validation of epoch "
                           f"{trainer.current_epoch}; {metric_hint(monitor, keys)}logged keys: "
                           f"{keys} ({why or VALIDATION_ONLY})")
    return logged


def unlogged_monitor(monitor: str, epoch: int, keys: Set[str]) -> str:
    """What a validation that did not log ``monitor`` is told, naming the closest of the
    ``keys`` validations logged.

    Example:
        >>> unlogged_monitor("val_accuracy", 0, {"val_acc"})  # doctest: +ELLIPSIS
        "monitor 'val_accuracy' was not logged by ... epoch 0; did you mean 'val_acc'? ..."
    """
    return (f"monitor {monitor!r} was not logged by the validation of epoch {epoch}; "
            f"{metric_hint(monitor, sorted(keys))}logged keys: {sorted(keys)}")


def check_monitor_logged(monitor: str, history: Sequence[dict[str, Any]],
                         validation_keys: Set[str]) -> None:
    """Raise when validations ran (``history``, one entry each) and none logged ``monitor``.

    Raises:
        MonitorError: naming the first validation's epoch, the closest of the
            ``validation_keys`` and how many validations there were (``never_logged``
            set: ``fit_trial`` fails a trial that ended early alone; ``objective_missing``
            set: after a trial of the search completed, scored on it, the name is right
            and this architecture fails alone).
    """
    if not history or any(monitor in h["metrics"] for h in history):
        return
    first, last, count = history[0]["epoch"], history[-1]["epoch"], len(history)
    # (was: "nor did any of the 1 after it (to epoch 1)" for two validations)
    later = (f"nor did any of the {count - 1} after it (to epoch {last})" if count > 2
             else f"nor did the one after it (epoch {last})" if count == 2
             else "it was the fit's only validation")
    err = MonitorError(f"{unlogged_monitor(monitor, first, validation_keys)}; {later}: a trial "
                       f"is scored on the validations that log its monitor ({VALIDATION_ONLY})")
    # every trial's error, unless this one ended early (fit_trial) or one completed (loop)
    err.never_logged = err.objective_missing = True
    raise err


def check_monitor_reached(monitor: str, curve: Sequence[float], curve_epochs: Sequence[int],
                          epochs: int | None, trial: int, trainer: Mapping[str, Any],
                          searched: Mapping[str, Any], what: str = "the fine-tune") -> None:
    """Raise ``ConfigError`` before a fit that repeats trial ``trial`` (its Trainer settings
    ``trainer``; the trial's ``searched``) would end before the first epoch in which the
    trial's validation logged ``monitor`` (a warm-up: its ``curve`` holds NaN before), so
    that none of its validations would log it and it would fail at its end (was: after
    training all its epochs, exit 1). Only a trial of the same validation schedule is
    compared; ``curve_epochs`` is the epoch of each value, counted from 1 (``[]``: a row of
    an older version, see ``_older_epochs``; was: always so, and a trial that validated
    several times an epoch was not compared).

    Example:
        >>> check_monitor_reached("val_acc", [math.nan, 0.8], [1, 2], 2, 1, {"max_epochs": 1},
        ...                       {})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trial 1 first logged monitor 'val_acc' in epoch 1 ...
    """
    if any(trainer.get(key) != searched.get(key)
           for key in ("check_val_every_n_epoch", "val_check_interval")):
        return
    at = curve_epochs or _older_epochs(curve, epochs, trainer)
    index = next((i for i, value in enumerate(curve)
                  if value is not None and not math.isnan(value)), None)
    max_epochs = trainer.get("max_epochs")
    first = at[index] - 1 if at and index else 0  # the epoch of that validation, from 0
    if not first or type(max_epochs) is not int or max_epochs > first:
        return
    raise ConfigError(f"trial {trial} first logged monitor {monitor!r} in epoch {first} (its "
                      f"validations before logged none: a warm-up), and {what} ends before "
                      f"that (max_epochs={max_epochs}), so none of its validations would "
                      f"score it; give max_epochs {first + 1} or more")


def _older_epochs(curve: Sequence[float], epochs: int | None,
                  trainer: Mapping[str, Any]) -> list[int]:
    """The epochs of ``curve`` (from 1) of a row an older version stored without them: a
    value per validated epoch where the trial validated once every
    ``check_val_every_n_epoch`` epochs and its ``epochs`` give that many; else ``[]``
    (not known: several validations an epoch may give as many values)."""
    every, interval = trainer.get("check_val_every_n_epoch") or 1, trainer.get(
        "val_check_interval")
    once = interval is None or (type(interval) is float and interval == 1.0)
    if not once or type(every) is not int or type(epochs) is not int \
            or len(curve) != epochs // every:
        return []
    return [every * (i + 1) for i in range(len(curve))]


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
            the epoch, ``val_check_interval`` and what to change (``objective_missing``
            set: it stops the search only while none of its trials completed).
    """
    missing = [name for name in objectives if name not in entry["metrics"]]
    if not missing or monitor not in entry["metrics"]:
        return
    name, epoch = missing[0], entry["epoch"]
    if entry is not last and name in last["metrics"] and name not in validation_keys:
        raise _objective_missing(
            f"objective {name!r} is logged by training, once per epoch, but validation runs "
            f"several times per epoch (trainer.val_check_interval={interval}): the "
            f"validations within epoch {epoch} have no value of it, so a trial whose best "
            f"validation is one of them could not be told; log {name!r} in validation, or "
            f"validate once per epoch (val_check_interval: 1.0)")
    keys = sorted(entry["metrics"])
    cost = misspelt_cost(name)  # FLOPs, parms: a counted cost, which no hint finds by case
    close = f"did you mean {cost!r}? " if cost else metric_hint(name, [*keys, *COSTS])
    raise _objective_missing(f"objective {name!r} was not logged in epoch {epoch}; {close}"
                             f"logged keys: {keys} (the search counts 'params' and 'flops' "
                             f"itself)")


def _objective_missing(message: str) -> MonitorError:
    """The ``MonitorError`` of an objective missing from a validation, ``objective_missing``
    set: every trial's error (a misspelt name) while none of the search's trials completed;
    after one did, it logged the objective, and this architecture fails alone."""
    err = MonitorError(message)
    err.objective_missing = True
    return err


def not_finite_at(monitor: str, objectives: Sequence[str],
                  history: Sequence[dict[str, Any]]) -> tuple[int, str] | None:
    """``(epoch, why)`` of the first validation in ``history`` (one entry each) at which the
    monitor or an objective logged NaN or infinity, or None: such a trial is FAILED, an
    objective as the monitor (was: an objective's NaN at another epoch than the best went
    unseen, and the trial was told as if it had been finite all along).

    Example:
        >>> history = [{"epoch": 0, "metrics": {"val_acc": 0.5, "sec": 1.0}},
        ...            {"epoch": 1, "metrics": {"val_acc": 0.6, "sec": math.inf}}]
        >>> not_finite_at("val_acc", ("sec",), history)
        (1, "objective 'sec' is inf at epoch 1")
    """
    for entry in history:
        for name in (monitor, *objectives):
            value = entry["metrics"].get(name, 0.0)
            if not math.isfinite(value):
                what = "monitored" if name == monitor else "objective"
                return entry["epoch"], f"{what} {name!r} is {value} at epoch {entry['epoch']}"
    return None
