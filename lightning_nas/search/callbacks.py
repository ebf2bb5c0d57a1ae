"""Callbacks that lightning_nas adds to every trial's Trainer.

``TrialReporter`` records the logged metrics after each validation epoch, so a trial's
score is the monitored value at its best epoch (of those whose validation logged it), and
fails (``MonitorError``) when no validation logs the monitored key. ``TrialCheckpoint``
(``lightning_nas.search.trial_checkpoint``) keeps the trial's ``best.ckpt`` beside any
``ModelCheckpoint`` of the user's. The completion of each entry at its epoch's end is
``TrialReporter``'s mixin ``ReporterEpochs`` (``search/reporter_epochs.py``), what it logs to
the Trainer's loggers (hyperparameters, the score) its mixin ``ReporterHparams``
(``search/reporter_hparams.py``).
``PruningCallback`` (a scheduler rule's stop) lives in ``lightning_nas.search.pruning`` and
is re-exported here: the README documents this import path, and a LightningCLI config or a
pickle of an earlier run may name ``lightning_nas.search.callbacks.PruningCallback``.

Example:
    >>> reporter = TrialReporter(monitor="val_acc", mode="max")
    >>> reporter.best() is None
    True
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning
import lightning.pytorch as pl
import torch
from lightning.pytorch.trainer.states import TrainerFn

from lightning_nas.errors import MonitorError, check_mode
from lightning_nas.search import random_state
from lightning_nas.search.best_epoch import best_entry
from lightning_nas.search.monitor_errors import (
    VALIDATION_ONLY,
    logged_metrics,
    not_finite_at,
    per_loader,
    step_only,
    unlogged_monitor,
)
from lightning_nas.search.pruning import PruningCallback  # re-exported: its documented path
from lightning_nas.search.rank_sync import RankSync
from lightning_nas.search.reporter_epochs import ReporterEpochs
from lightning_nas.search.reporter_hparams import ReporterHparams
from lightning_nas.search.validation_logs import ValidationLogs
from lightning_nas.user_warnings import UserWarningCache

__all__ = ["PruningCallback", "TrialReporter", "logged_metrics"]

#: a validation without a monitor no validation logged yet: told once a process
_WARNINGS = UserWarningCache()


class TrialReporter(ReporterEpochs, ReporterHparams, pl.Callback):
    """Keeps the history of logged metrics, one entry per validation epoch.

    Each entry holds the metrics of its own epoch: validation ends before the training
    epoch's own epoch-level metrics are logged, so the entry is completed with the metrics
    as they stand after that epoch (at the next epoch's start, by an ``_EpochBoundary`` that
    ``setup`` puts first among the Trainer's callbacks, or at the end of training). An entry of a
    validation that another one follows in the same epoch (``val_check_interval < 1``)
    holds no training epoch metrics: the earlier epoch's are not its (an objective only
    training logs per epoch is refused there, at the epoch's end). An entry holds only what
    was logged in its epoch: a key Lightning keeps from an earlier one (a warm-up's metric
    that training logs in epoch 0 alone) is not its. Under DDP, a metric of a
    validation whose value differs across the ranks is left out of its entry (``RankSync``:
    a monitor or objective that does raises ``MonitorError``).

    A validation that does not log the monitor (a metric logged every few epochs, or only
    after a warm-up) has an entry without it (``NaN`` in ``curve``), and the trial is scored
    on those that log it: a fit's first validation without it is a warning (once a process,
    naming the closest logged key), and a fit that ends with no validation having logged it
    raises ``MonitorError``: nothing tells a metric logged later from a misspelt one before.

    As the fit starts it logs the architecture (and ``search_monitor``, ``search_trial``) as
    hyperparameters beside Lightning's, first (``on_fit_start``), and at the end of training
    the trial's score (``hp_metric``) to the Trainer's loggers, so TensorBoard's HParams view
    (or a CSV logger's ``hparams.yaml``) compares the trials of a search; ``hp_metric`` NaN for a
    fit that raised, whose monitor or an objective was NaN or infinite at a validation, or
    that ``failing`` fails (``fit_trial`` makes each such trial FAILED). The validation at
    which the monitor or an objective is first NaN or infinite stops the fit
    (``trainer.should_stop``, as ``EarlyStopping(check_finite=True)`` does; every rank alike):
    its later epochs would be wasted on a FAILED trial (was: it trained on to its end).

    Args:
        monitor: the metric that scores the trial (any key logged with ``self.log``).
        mode: ``"max"`` or ``"min"``.
        arch: the trial's architecture (logged as hyperparameters).
        init_args: the model's ``__init__`` arguments (architecture included), written
            into the ``hyper_parameters`` of every checkpoint where the model did not save
            them (none saved, or ``save_hyperparameters("lr")``), so that
            ``Model.load_from_checkpoint(path)`` builds the trial's architecture, not the
            model's defaults.
        logged: further metrics the search reads (the objectives after the monitor): one
            that the first validation logging the monitor did not log stops the search at
            that epoch's end (``MonitorError``), not after a whole trial.
        trained: the seconds the trial trained before this fit, as its search stored them
            (a promotion's earlier fits). Each checkpoint holds them plus this fit's
            seconds up to it, and a fit that continues from a checkpoint holding more (one
            a fit killed with its search wrote) takes that: ``trained`` then counts the
            killed fit up to the checkpoint.
        tie_break: the later objectives with their modes (``("val_loss", "min")``), in
            order: of validations tied on the monitor, the best epoch is the one best on
            these, then the earlier (``search/best_epoch.py``).
        notes: where to add what the search says on its console (``TrialResult.notes``): a
            metric that differs across the ranks, once.
        dealt: whether Lightning deals the validation set out to the ranks
            (``use_distributed_sampler``), as ``RankSync``'s warning says.
        trial_id: the trial's id in its search, logged as ``search_trial`` beside the
            architecture, so each trial's logs name it (a logger object's copy logs to
            ``version_N``); None (a fit's, a fine-tune's): not logged.
        failing: asked at the end of training, the error of a trial whose values are
            finite but that is FAILED all the same (``PruningCallback.early_stop_error``: a
            trial stopped early under a scheduler by other than its rule), or None: such a
            trial logs ``hp_metric`` NaN, no score (was: its best, then it was FAILED).
    """

    def __init__(self, monitor: str, mode: str = "max",
                 arch: dict[str, Any] | None = None,
                 init_args: dict[str, Any] | None = None,
                 logged: tuple[str, ...] = (), trained: float = 0.0,
                 tie_break: tuple[tuple[str, str], ...] = (),
                 notes: list[str] | None = None, dealt: bool = True,
                 trial_id: int | None = None,
                 failing: Callable[[pl.Trainer], str | None] | None = None) -> None:
        check_mode(mode)
        self.trial_id, self.failing = trial_id, failing
        self.monitor, self.mode, self.arch = monitor, mode, dict(arch or {})
        self.init_args = dict(init_args or {})
        self.logged, self.tie_break = tuple(logged), tuple(tie_break)
        self.history: list[dict[str, Any]] = []
        self._open = False  # the last entry still waits for its epoch's training metrics
        self._first_batch = True
        self._hparams_logged = False  # on_fit_start logged them (rank 0, with loggers)
        self._ended = False  # this fit's end of training ran (``on_train_end``)
        self._validation_logs: set[str] | None = None  # seen in the sanity check
        #: training logged the monitor and no sanity check said whether validation does
        self._training_logs = False
        #: a training step began (an error before it is the setup's, not the architecture's)
        self.training_started = False
        self._train_keys: set[str] | None = None  # logged after validation, at epoch end
        self._validation = ValidationLogs()
        #: what was logged since the training epoch began (``_EpochBoundary``): a key that
        #: Lightning keeps from an earlier epoch is not this epoch's
        self._epoch_logs = ValidationLogs()
        self._val_keys: set[str] = set()  # logged by some validation
        self._stale: set[str] = set()  # validation keys the last validation did not log
        self._fresh: set[str] = set()  # the keys the last validation logged
        self._ranks = RankSync(notes, dealt)  # under DDP: the metrics that differ across ranks
        self.trained = trained
        self._clock: float | None = None  # when this fit began (``setup``)
        self._unlogged = ""  # the warning of a first validation without the monitor

    @property
    def state_key(self) -> str:
        return f"TrialReporter{{'monitor': '{self.monitor}', 'mode': '{self.mode}'}}"

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        self.training_started = True
        if self._unlogged:  # said once training goes on (was: also at the fit's last
            _WARNINGS.warn(self._unlogged)  # validation, the trial's error at once after it)
            self._unlogged = ""

    def failed_in(self, err: BaseException) -> str:
        """Where the fit this reporter watched raised ``err``, as a stop on two trials that
        failed the same way says it: "" once a training step began (in training), else
        ``before training started``, naming the outermost function outside Lightning and
        torch that they called (``in NoData.train_dataloader``), where there is one."""
        if self.training_started:
            return ""
        called = _called_by_lightning(err)
        return "before training started" + (f" (in {called})" if called else "")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if not self._first_batch:
            return
        self._first_batch = False  # only training has logged since the sanity check
        if self.monitor not in trainer.callback_metrics:
            return
        if self._validation_logs is None:  # no sanity check: the first validation decides
            self._training_logs = True
        elif self.monitor not in self._validation_logs:
            self._refuse_training_monitor()

    def _refuse_training_monitor(self) -> None:
        raise MonitorError(f"monitor {self.monitor!r} is logged in training_step, so at the end "
                           f"of validation it holds the last training step's value; monitor a "
                           f"metric that validation logs ({VALIDATION_ONLY})")

    def on_validation_epoch_start(self, trainer: pl.Trainer,
                                  pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            self._validation.start(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Record the validation's metrics as an entry of its epoch; only a fit's (a
        ``trainer.validate()`` call trains no epoch: was recorded as one, before a fit as
        epoch 0, the untrained model's values, after it as an epoch never trained)."""
        if trainer.state.fn != TrainerFn.FITTING:
            return
        for name in (self.monitor, *self.logged):  # the sanity check's too: before training
            what = "monitor" if name == self.monitor else "objective"
            if (err := step_only(name, trainer, what) or per_loader(name, trainer, what)):
                raise err
        if trainer.sanity_checking:  # what validation logs, before any training step
            self._validation_logs = set(trainer.callback_metrics)
            return
        logged = self._epoch_scalars(trainer)
        fresh = self._validation.logged(trainer)
        known = any(self.monitor in h["metrics"] for h in self.history)
        if self.monitor not in fresh:  # an entry without it (it may be logged later)
            if self._training_logs or (not known and self.monitor in trainer.callback_metrics):
                self._refuse_training_monitor()  # training's value (an earlier epoch's), not its
        self._training_logs = False
        # what an earlier validation logged and this one did not is not this entry's
        self._stale, self._val_keys = self._val_keys - fresh, self._val_keys | fresh
        if self.monitor not in fresh and not self.history:  # the first: a misspelt monitor?
            told = unlogged_monitor(self.monitor, trainer.current_epoch, self._val_keys)
            self._unlogged = (f"{told}: the trial trains on, scored on the validations that "
                              f"log it, and fails at its end if none does")  # once a process
        self._fresh = fresh
        unsynced: set[str] = set()  # one rank's share of the validation set: left out
        if trainer.world_size > 1:
            scored = (self.monitor, *self.logged)
            unsynced = self._ranks.check(trainer, pl_module, {
                name: logged[name] if name in fresh and name in logged else math.nan
                for name in scored}, {k: v for k, v in logged.items()
                                      if k in fresh and k not in scored})
        # an earlier epoch's training metrics are still there when validation runs before
        # this epoch's end (val_check_interval < 1): they are not this entry's
        stale = (self._train_keys or set()) | self._stale | unsynced
        self.history.append({"epoch": trainer.current_epoch,
                             "metrics": {k: v for k, v in logged.items() if k not in stale}})
        self._open = True
        # a NaN or infinite monitor or objective (an earlier epoch's, completed since, too):
        # the trial is FAILED, so it stops here (every rank alike: Lightning's reduction)
        bad = not_finite_at(self.monitor, self.logged, self.history) is not None
        if trainer.strategy.reduce_boolean_decision(bad, all=False):
            trainer.should_stop = True


    def seconds_trained(self) -> float:
        """The seconds the trial trained up to now: ``trained`` plus this fit's so far."""
        return self.trained + (0.0 if self._clock is None else time.perf_counter() - self._clock)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        if self.init_args:  # what the model saved wins; the rest is the trial's
            checkpoint["hyper_parameters"] = {**self.init_args,
                                              **(checkpoint.get("hyper_parameters") or {})}

    def curve(self) -> list[float]:
        """The monitored value at each validation, in order (NaN where a validation did
        not log it)."""
        return [h["metrics"].get(self.monitor, math.nan) for h in self.history]

    def curve_epochs(self) -> list[int]:
        """The epoch of each value of ``curve``, counted from 1 (the epochs trained when an
        epoch's end validated it: 2 and 4 with ``check_val_every_n_epoch: 2``)."""
        return [h["epoch"] + 1 for h in self.history]

    def best(self) -> dict[str, Any] | None:
        """The history entry with the best monitored value; of tied ones the best on
        ``tie_break`` in order, then the first."""
        return best_entry(self.history, self.monitor, self.mode, self.tie_break)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "random": random_state.capture(),
                "trained": self.seconds_trained()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))
        # more than the search stored: written by a fit killed with its search (a pause's
        # checkpoint holds less: the stored fit time also counts its fit's end)
        self.trained = max(self.trained, float(state_dict.get("trained", 0.0)))
        if "random" in state_dict:  # draw on where the checkpointed fit left off
            random_state.restore(state_dict["random"])



#: the folders of Lightning's and torch's code (a traceback's frames there are theirs)
_LIBRARIES = tuple(str(Path(module.__file__).parent) + os.sep for module in (lightning, torch))


def _called_by_lightning(err: BaseException) -> str:
    """The qualified name of the outermost function in ``err``'s traceback, after one of
    Lightning's, whose code is neither Lightning's nor torch's ("" for none): the user's
    hook (``train_dataloader``, ``configure_optimizers``) or a function torch called
    (a ``Dataset``'s ``__getitem__``)."""
    tb, inside = err.__traceback__, False
    while tb is not None:
        code = tb.tb_frame.f_code
        theirs = code.co_filename.startswith(_LIBRARIES)
        if inside and not theirs:
            return getattr(code, "co_qualname", code.co_name)  # Python 3.10: no class
        inside, tb = inside or theirs, tb.tb_next
    return ""
