"""The lr schedulers of the weight optimizer under ``DifferentiableNAS`` (DARTS, GDAS):
those a wrapped LightningModule's ``configure_optimizers`` returns for the optimizer the
search takes (its first), stepped as Lightning steps them in a plain fit of the module,
which it does under automatic optimization only (the search's is manual).

- ``weight_schedules``: each such scheduler with its settings (``interval`` ``"epoch"`` or
  ``"step"``, ``frequency``, a ``ReduceLROnPlateau``'s ``monitor`` and ``strict``, ``name``),
  checked as Lightning checks them, each bad one a ``ConfigError`` before training.
- ``step_schedules``: step those due at an interval's index, as Lightning's training loop
  does: ``"step"`` ones after the weights' step of batch ``i`` when ``(i + 1) % frequency``
  is 0, ``"epoch"`` ones after the epoch's last batch (epoch ``e``: ``(e + 1) % frequency``;
  ``last_batch``: the batch ``num_training_batches`` counts to, or of a loader without a
  length the one its fetcher found last, as Lightning finds it);
  a ``ReduceLROnPlateau`` after the validation that follows its batch, or the epoch's end,
  with its ``monitor`` read from ``trainer.callback_metrics``. Through the module's own
  ``lr_scheduler_step`` where it overrides it, as Lightning calls it.
- ``warn_unsaved_schedules``: a resume from a checkpoint that holds no state of one (written
  before the search saved it) warns that its schedule restarts.
- ``ScheduleSteps``: the mixin of ``DifferentiableNAS`` that calls ``step_schedules`` from
  its hooks (after each batch, after the validation that follows it, at the epoch's end).
- ``WeightSchedule.lightning_config``: what the search returns to Lightning for each (the
  keys it takes under manual optimization), so that the checkpoint holds each scheduler's
  state (``trainer.fit(ckpt_path=...)`` goes on with it) and ``LearningRateMonitor`` sees it.

Example:
    >>> from torch import nn
    >>> sgd = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
    >>> step = torch.optim.lr_scheduler.StepLR(sgd, 1)
    >>> [(s.interval, s.frequency) for s in weight_schedules(
    ...     {"optimizer": sgd, "lr_scheduler": {"scheduler": step, "interval": "step"}}, sgd, "M")]
    [('step', 1)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import lightning.pytorch as pl
import torch

from lightning_nas.errors import ConfigError, unknown
from lightning_nas.oneshot.wrapped import own_hook
from lightning_nas.oneshot.wrapped_hooks import overridden
from lightning_nas.user_warnings import warn_rank_zero

__all__ = ["INTERVALS", "SCHEDULER_TYPES", "ScheduleSteps", "WeightSchedule", "last_batch",
           "step_schedules", "warn_unsaved_schedules", "weight_schedules"]

#: the lr scheduler classes ``configure_optimizers`` may return (torch's)
SCHEDULER_TYPES = (torch.optim.lr_scheduler.LRScheduler,
                   torch.optim.lr_scheduler.ReduceLROnPlateau)
#: the intervals Lightning steps a scheduler at
INTERVALS = ("epoch", "step")


@dataclasses.dataclass(frozen=True)
class WeightSchedule:
    """One lr scheduler of the weight optimizer and when it steps (Lightning's
    ``LRSchedulerConfig`` keys)."""

    scheduler: Any
    interval: str = "epoch"
    frequency: int = 1
    monitor: str | None = None
    strict: bool = True
    name: str | None = None

    @property
    def plateau(self) -> bool:
        """Whether it steps on a metric (a ``ReduceLROnPlateau``)."""
        return isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    def lightning_config(self) -> dict[str, Any]:
        """The scheduler dict returned to Lightning from ``configure_optimizers`` (manual
        optimization takes no ``monitor`` or ``strict``: the search steps it)."""
        return {"scheduler": self.scheduler, "interval": self.interval,
                "frequency": self.frequency, "name": self.name}


def _entries(value: Any, monitor: str | None = None) -> Iterator[Mapping[str, Any]]:
    """The scheduler dicts of a ``configure_optimizers`` result, in its order (a bare
    scheduler as ``{"scheduler": it}``, with its dict's ``monitor``)."""
    if isinstance(value, Mapping):
        if "scheduler" in value:
            yield value
        elif "lr_scheduler" in value:
            yield from _entries(value["lr_scheduler"], value.get("monitor"))
    elif isinstance(value, SCHEDULER_TYPES):
        yield {"scheduler": value, "monitor": monitor}
    elif isinstance(value, (list, tuple)):
        for each in value:
            yield from _entries(each, monitor)


def weight_schedules(returned: Any, weights: torch.optim.Optimizer,
                     owner: str) -> list[WeightSchedule]:
    """The lr schedulers of ``weights`` in ``returned`` (what ``owner``'s
    ``configure_optimizers`` returned), with their settings.

    Raises:
        ConfigError: an ``interval`` other than ``"epoch"`` / ``"step"``, a ``frequency``
            that is no integer >= 1, or a ``ReduceLROnPlateau`` without a ``monitor``, each
            named, as Lightning refuses them in a plain fit (was: the scheduler not used).
    """
    found = []
    for entry in _entries(returned):
        scheduler = entry["scheduler"]
        if getattr(scheduler, "optimizer", None) is not weights:
            continue  # another optimizer's: not used (warned of with it)
        kind = type(scheduler).__name__
        schedule = WeightSchedule(scheduler, entry.get("interval", "epoch"),
                                  entry.get("frequency", 1), entry.get("monitor"),
                                  entry.get("strict", True), entry.get("name"))
        if schedule.interval not in INTERVALS:
            raise unknown(f"{owner}.configure_optimizers: lr scheduler {kind}'s interval",
                          schedule.interval, INTERVALS, listing="values")
        if isinstance(schedule.frequency, bool) or not isinstance(schedule.frequency, int) \
                or schedule.frequency < 1:
            raise ConfigError(f"{owner}.configure_optimizers: lr scheduler {kind}'s frequency "
                              f"{schedule.frequency!r} must be an integer >= 1")
        if schedule.plateau and not schedule.monitor:
            raise ConfigError(
                f"{owner}.configure_optimizers: the lr scheduler ReduceLROnPlateau needs a "
                f"'monitor', the logged metric it steps on, as Lightning requires: return "
                f"{{'optimizer': ..., 'lr_scheduler': ..., 'monitor': 'val_loss'}}")
        found.append(schedule)
    return found


def warn_unsaved_schedules(module: Any, schedules: list[WeightSchedule],
                           saved: int | None) -> None:
    """Warn (once, as the resumed fit sets up) when the checkpoint ``module``'s Trainer
    resumes from holds the state of only ``saved`` lr schedulers (None: no resume) of the
    ``schedules`` built:
    Lightning restores those it holds and leaves the others as built, so their schedule
    restarts (its step count from 0) from the restored optimizer's learning rate (was:
    without a word; a checkpoint written before the search saved its schedulers' state
    holds none).

    Example:
        >>> import warnings
        >>> from types import SimpleNamespace
        >>> module = SimpleNamespace(trainer=SimpleNamespace(ckpt_path="last.ckpt"))
        >>> sgd = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> steps = [WeightSchedule(torch.optim.lr_scheduler.StepLR(sgd, 1))]
        >>> with warnings.catch_warnings(record=True) as said:
        ...     warnings.simplefilter("always")
        ...     warn_unsaved_schedules(module, steps, 0)
        >>> print(said[0].message)  # doctest: +ELLIPSIS
        last.ckpt holds no state of the weight optimizer's lr scheduler StepLR: its schedule ...
    """
    if saved is None or saved >= len(schedules) or module.trainer.ckpt_path is None:
        return  # (a checkpoint loaded by ``load_from_checkpoint``: no resume)
    kinds = ", ".join(type(each.scheduler).__name__ for each in schedules[saved:])
    warn_rank_zero(f"{module.trainer.ckpt_path} holds no state of the weight optimizer's "
                   f"lr scheduler {kinds}: its schedule restarts (its step count from 0, "
                   f"from the learning rate the checkpoint's optimizer holds) in this "
                   f"resumed fit, not where the interrupted run left it (a checkpoint "
                   f"written before DifferentiableNAS saved its schedulers' state)")


def last_batch(trainer: pl.Trainer, batch_idx: int) -> bool:
    """Whether batch ``batch_idx`` ends its training epoch, as Lightning's training loop
    decides it before stepping ``"epoch"`` schedulers: the ``num_training_batches``-th, or
    the one the data fetcher found last (a loader without a length, ``inf`` batches; was:
    never, so they never stepped where a plain fit steps them at each epoch's end).

    Example:
        >>> trainer = pl.Trainer(logger=False, enable_progress_bar=False)
        >>> last_batch(trainer, 0)  # no fit: no batch known to be its epoch's last
        False
    """
    return (batch_idx + 1 == trainer.num_training_batches
            or trainer.fit_loop.epoch_loop.batch_progress.is_last_batch)


def step_schedules(module: pl.LightningModule, schedules: list[WeightSchedule],
                   interval: str, index: int, *, plateau: bool) -> None:
    """Step those of ``schedules`` of ``interval`` and of ``plateau`` kind due at ``index``
    (the batch's index in its epoch, or the epoch), as Lightning's training loop steps
    them (see the module docstring): through the wrapped module's own ``lr_scheduler_step``
    where it overrides it, else ``module``'s (Lightning's).

    Raises:
        ConfigError: a ``ReduceLROnPlateau``'s ``monitor`` that nothing logged (``strict``:
            with ``strict=False``, a warning and no step), naming the logged ones.
    """
    for schedule in schedules:
        if (schedule.interval != interval or schedule.plateau != plateau
                or (index + 1) % schedule.frequency):
            continue
        metric = None
        if schedule.plateau:
            metric = module.trainer.callback_metrics.get(schedule.monitor)
            if metric is None:
                said = (f"ReduceLROnPlateau steps on {schedule.monitor!r}, which is not "
                        f"logged; logged: {', '.join(sorted(module.trainer.callback_metrics))}")
                if schedule.strict:
                    raise ConfigError(f"{said} (its 'monitor' names the metric)")
                warn_rank_zero(f"{said}; strict=False: its lr is left as it is")
                continue
        if overridden(module.supernet, ("lr_scheduler_step",)):
            own_hook(module, "lr_scheduler_step", schedule.scheduler, metric)
        else:
            module.lr_scheduler_step(schedule.scheduler, metric)


class ScheduleSteps:
    """The steps of ``DifferentiableNAS``'s weight-optimizer schedulers in its hooks (its
    ``_schedules``, ``_plateau_due``, ``_epoch_stepped``): after each batch
    (``_step_schedules``), after the validation that follows it (``_step_plateau_due``) and
    at the epoch's end (``_step_epoch_end``)."""

    _schedules: list[WeightSchedule]
    _plateau_due: int | None
    _epoch_stepped: bool

    def _step_schedules(self, batch_idx: int) -> None:
        """Step the weight optimizer's schedulers due after batch ``batch_idx`` (``"step"``
        ones, and after the epoch's last batch ``"epoch"`` ones; a ``ReduceLROnPlateau`` of
        ``"step"`` after the validation that may follow it: ``_step_plateau_due``)."""
        step_schedules(self, self._schedules, "step", batch_idx, plateau=False)
        if last_batch(self.trainer, batch_idx):  # (a loader without a length: its last)
            step_schedules(self, self._schedules, "epoch", self.current_epoch, plateau=False)
            self._epoch_stepped = True  # its ReduceLROnPlateau steps at the epoch's end
        self._plateau_due = batch_idx

    def _step_plateau_due(self) -> None:
        """Step the ``"step"`` ``ReduceLROnPlateau`` schedulers due after the last batch."""
        if self._plateau_due is not None:
            step_schedules(self, self._schedules, "step", self._plateau_due, plateau=True)
        self._plateau_due = None

    def _step_epoch_end(self) -> None:
        """At the epoch's end, after its hooks (its metrics logged): the ``"step"``
        ``ReduceLROnPlateau`` ones due, then the ``"epoch"`` ones once its last batch ran
        (not while the fit loop restarts, as Lightning)."""
        self._step_plateau_due()
        if self._epoch_stepped and not self.trainer.fit_loop.restarting:
            step_schedules(self, self._schedules, "epoch", self.current_epoch, plateau=True)
        self._epoch_stepped = False
