"""One trial: build the user's model for an architecture, train it with a fresh Trainer,
read the monitored metric at the best epoch.

What a trial is given, ``TrialSpec``, is in ``search/trial_spec.py``; ``quiet_lightning`` in
``search/quiet.py`` (both importable from here).

Example:
    >>> import tempfile
    >>> from lightning.pytorch.demos.boring_classes import BoringModel
    >>> spec = TrialSpec(trial_id=1, arch={}, trial_dir=tempfile.mkdtemp(), model=BoringModel,
    ...                  trainer={"max_epochs": 1, "limit_train_batches": 2,
    ...                           "limit_val_batches": 1}, monitor="missing")
    >>> fit_trial(spec).status.value
    'FAILED'
"""

from __future__ import annotations

import copy
import inspect
import math
import os
import re
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.model_helpers import is_overridden

from lightning_nas.arch import is_plain
from lightning_nas.config.cli_optim import apply_optim
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.instantiate import instantiate
from lightning_nas.config.nodes import contains_node, node_args
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.config.space_keys import is_dotted
from lightning_nas.errors import BatchSettingError, ConfigError, MonitorError, typed
from lightning_nas.group_exit import groups_made_here, launcher_variables_of_one
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.batch_settings import batch_setting_error
from lightning_nas.search.callback_monitors import CallbackMonitors
from lightning_nas.search.callbacks import TrialReporter
from lightning_nas.search.costs import CountMismatch, LoggedCostCheck, ParamsCheck
from lightning_nas.search.exported import check_loaded
from lightning_nas.search.lifetime import DISTRIBUTED_VARIABLES
from lightning_nas.search.module_checkpoints import ModuleCheckpoints
from lightning_nas.search.monitor_errors import metric_hint, not_finite_at
from lightning_nas.search.no_validation import no_validation_error
from lightning_nas.search.objectives import function_metrics
from lightning_nas.search.optimizer_state import RestoreOptimizerState
from lightning_nas.search.pending_last import PendingLast
from lightning_nas.search.progress_file import PROGRESS
from lightning_nas.search.pruning import PruningCallback, ran_to_its_end
from lightning_nas.search.quiet import LoggingInterval, quiet_lightning
from lightning_nas.search.random_state import kept_if
from lightning_nas.search.rank_progress import RankProgress
from lightning_nas.search.rank_sigterm import SigtermKillsRank
from lightning_nas.search.remote_runs import RunRecord, RunsHeld, runs_ended
from lightning_nas.search.resume import plain_part
from lightning_nas.search.rule_checks import callbacks_of
from lightning_nas.search.rule_epochs import record_curve
from lightning_nas.search.schedulers import Decision
from lightning_nas.search.shared_state import variables_kept
from lightning_nas.search.torch_flags import torch_flags_kept
from lightning_nas.search.trial_checkpoint import TrialCheckpoint
from lightning_nas.search.trial_defaults import checkpointing, with_trial_defaults
from lightning_nas.search.trial_logs import (
    checked_loggers,
    clear_trial,
    keep_checkpoint_dirs,
    placed_checkpoints,
    placed_logger,
    placed_profiler,
    placed_root,
    shared_versions_quiet,
)
from lightning_nas.search.trial_spec import TrialSpec
from lightning_nas.search.uneven_split import UnevenSplitCheck

__all__ = ["SEED_VARIABLES", "TrialSpec", "build_trainer", "fit_trial",
           "makes_double", "quiet_lightning", "raised_by_lightning"]

#: what ``seed_everything`` sets: kept while a trial trains (its DDP strategy and the ranks
#: Lightning's launcher starts read them), restored after it (a Trainer of the caller's,
#: its ``reset_seed`` and DataLoader worker seeding, and the processes it starts must not)
SEED_VARIABLES = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")


def build_trainer(spec: TrialSpec, extra_callbacks: list[pl.Callback]) -> pl.Trainer:
    """A fresh Trainer from the user's settings plus ``extra_callbacks``."""
    settings = dict(spec.trainer)
    if "logger" in settings:  # the user's: a version per trial, or beside fit's checkpoint
        settings["logger"] = placed_logger(spec)
    if settings.get("default_root_dir") is not None:  # the user's: a folder per trial
        settings["default_root_dir"] = placed_root(spec)
    kwargs = with_trial_defaults(instantiate(settings, "trainer"))
    if "profiler" in kwargs:  # the user's, built: a folder per trial under its dirpath
        kwargs["profiler"] = placed_profiler(spec, kwargs["profiler"])
    kwargs.setdefault("default_root_dir", spec.trial_dir)
    if kwargs.get("logger", True) is True:  # a resumed trial logs its new epochs apart
        version = "logs" if spec.ckpt_path is None else f"logs_resumed_{time.time_ns()}"
        kwargs["logger"] = CSVLogger(spec.trial_dir, name="", version=version)
    user_callbacks = kwargs.pop("callbacks", None) or []
    if isinstance(user_callbacks, pl.Callback):
        user_callbacks = [user_callbacks]
    placed_checkpoints(spec, user_callbacks)  # copies: a folder per trial under a dirpath
    # the pending last.ckpt put in place first, before any other callback's epoch start or
    # train end (a kill there resumes after the epoch before it: Lightning runs
    # TrialCheckpoint's own hooks last); then the monitors' check, at a validation's end,
    # before an EarlyStopping checks
    first = [c for kind in (PendingLast, CallbackMonitors) for c in extra_callbacks
             if isinstance(c, kind)]
    ordered = [*first, *user_callbacks, *(c for c in extra_callbacks if c not in first)]
    return checked_loggers(pl.Trainer(callbacks=ordered, **kwargs),
                           user_callbacks, spec.trainer.get("logger"))


def _evaluate(spec: TrialSpec, result: TrialResult) -> TrialResult:
    """A trial of a function objective: call it, read the monitored value."""
    t0 = time.perf_counter()
    try:
        metrics = function_metrics(spec.objective(copy.deepcopy(spec.arch)), spec.monitor,
                                   spec.logged)
    except Exception as err:  # noqa: BLE001 - a failing trial must not stop the search
        result.error = f"{typed(err)}\n{traceback.format_exc(limit=-6)}"
        result.finished, result.failed_in = time.time(), "in the objective function"
        return result
    result.fit_time, result.finished = time.perf_counter() - t0, time.time()
    # where a failure below is (was: "in training", which an objective search never does)
    result.failed_in = "in what the objective function returned"
    if isinstance(metrics, str):  # text or a bool where a number belongs (was: "0.5" taken)
        result.error = metrics
        return result
    if spec.monitor not in metrics:  # the closest name, as a trained trial's error has it
        result.error = (f"MonitorError: monitor {spec.monitor!r} was never logged; "
                        f"{metric_hint(spec.monitor, sorted(metrics))}the objective returned "
                        f"{sorted(metrics)}")
        result.fatal = result.objective_missing = True  # fatal until a trial completed
        return result
    missing = [name for name in spec.logged if name not in metrics]
    if missing:  # was: stored COMPLETED, and every resume failed telling it
        result.error = (f"MonitorError: objective {missing[0]!r} was not returned; "
                        f"{metric_hint(missing[0], sorted(metrics))}the objective returned "
                        f"{sorted(metrics)}")
        result.fatal = result.objective_missing = True  # fatal until a trial completed
        return result
    value = metrics[spec.monitor]
    if not math.isfinite(value):
        result.error = f"monitored {spec.monitor!r} is {value}"
        return result
    # one call, of no epoch: no epoch nor curve (was: epoch 0, the score a curve of epoch 1)
    result.status, result.score, result.metrics = TrialStatus.COMPLETED, value, metrics
    return result


#: searched Trainer values that decide whether (and when) a trial validates
_VALIDATION_KEYS = frozenset(f"trainer.{key}" for key in (
    "max_epochs", "max_steps", "max_time", "check_val_every_n_epoch", "val_check_interval",
    "limit_val_batches", "limit_train_batches", "accumulate_grad_batches"))


def fit_trial(spec: TrialSpec) -> TrialResult:
    """Train ``spec.arch`` once; never raises for errors of the trial itself.

    A trial that raises, or whose monitored value or an objective (``spec.logged``) is
    NaN/inf at any validation, is returned FAILED with the error text (``build_failed``
    when it raised before ``fit`` started: building the model, the data or the Trainer;
    or in Lightning's own code before the first training step).
    One that trained to its end without a validation is FAILED, and ``fatal`` unless its
    architecture holds searched Trainer values that decide validation (other trials' may
    validate). One whose model, set up by the Trainer, has other parameters than its search
    counted (``spec.counted_params``: layers made in ``setup``), or that logs a cost it
    counted (``spec.counted_costs``), is FAILED and ``fatal``.
    ``KeyboardInterrupt`` and ``SystemExit`` propagate (the search stops and the trial is
    re-run on resume).
    """
    started = time.time()
    result = TrialResult(trial_id=spec.trial_id, arch=copy.deepcopy(spec.arch),
                         status=TrialStatus.FAILED, started=started)
    if spec.objective is not None:
        return _evaluate(spec, result)
    trial_dir = Path(spec.trial_dir)
    clear_trial(spec)  # left over by an interrupted (or failed) run of this trial
    trial_dir.mkdir(parents=True, exist_ok=True)
    # a DDP validation split its ranks do not divide: said once per search (its trials' folder)
    uneven = UnevenSplitCheck(str(trial_dir.parent))
    result.notes = uneven.said  # filled as it warns (in a rank's trial.log): the search says it
    result.uneven_splits = uneven.met  # each trial's, said or not: best.yaml says it
    pruning = None
    if spec.rule is not None:
        pruning = PruningCallback(spec.rule, spec.monitor, trial_key=spec.trial_id,
                                  epochs_known=spec.known_epochs, mode=spec.mode,
                                  in_search=True)
    reporter = TrialReporter(spec.monitor, spec.mode, arch=spec.arch, logged=spec.logged,
                             trained=spec.trained, tie_break=spec.tie_break,
                             notes=result.notes,  # unsynced metrics, as the sampler deals them
                             dealt=spec.trainer.get("use_distributed_sampler") is not False,
                             trial_id=None if spec.own_logs else spec.trial_id,
                             failing=None if pruning is None else pruning.early_stop_error)
    placer = ModuleCheckpoints(spec)  # the module's configure_callbacks() checkpoints
    monitors = CallbackMonitors()  # the user's callbacks' (the reporter checks the search's)
    callbacks: list[pl.Callback] = [monitors, reporter, uneven, placer,
                                    RunRecord(str(trial_dir))]  # an MLflow run, continued
    if spec.counted_params is not None:  # and a model that logs a counted cost's name
        callbacks += [ParamsCheck(spec.counted_params, spec.count_uses),
                      LoggedCostCheck(spec.counted_costs, spec.count_uses)]
    if spec.rank_process:  # a SIGTERM to this rank alone: it dies of it (was: a hang); and
        # rank 0 keeps what it trained, for a record when it is killed with no result
        callbacks += [SigtermKillsRank(), RankProgress(trial_dir, reporter)]
    elif spec.notes_progress:  # a worker's: for the record of a worker that dies in it
        callbacks.append(RankProgress(trial_dir, reporter))  # (was: epochs None, no curve)
    else:  # a killed worker's, resumed here: not this run's
        (trial_dir / PROGRESS).unlink(missing_ok=True)
    if spec.restore_optimizer:  # loaded when fit starts, checked against the optimizers first
        callbacks.append(RestoreOptimizerState(spec.restore_optimizer, f"trial "
                                               f"{spec.trial_id}'s {spec.restore_optimizer}",
                                               spec.init_weights_of))
    if pruning is not None:
        callbacks += [pruning, _RuleRestored(pruning, reporter)]
    if spec.quiet:  # Lightning's own is silenced in each trial: said once a process
        callbacks.append(LoggingInterval())
    ckpt = None
    if spec.checkpoint and checkpointing(spec.trainer):
        # last.ckpt lets a paused trial, or one a kill stopped, go on where it stopped
        # (was: with a scheduler only); best.ckpt is chosen when validation ends, on the
        # value the reporter stores (at the training epoch's end, training's epoch mean of a
        # name both log would have replaced it); written again as the fit ends where a
        # scheduler may pause the trial, and for a fit or fine-tune (``record``): a search's
        # other trials are stored then, the last epoch's file in place till then
        ckpt = TrialCheckpoint(dirpath=trial_dir, filename="best", monitor=spec.monitor,
                               mode=spec.mode, save_top_k=1, enable_version_counter=False,
                               save_on_train_epoch_end=False,
                               keep_last=True,
                               last_at_end=spec.rule is not None or spec.record is not None,
                               reporter=reporter, record=spec.record)
        callbacks += [ckpt.placing, ckpt]  # placing: first in the Trainer (build_trainer)
        monitors.skip.append(ckpt)
    building = True  # until fit starts: an error is a build failure
    try:
        # the caller's seed variables, flags and streams (where it seeds them) put back
        # by the last of the trials that overlap in threads (was: each trial's end)
        with (quiet_lightning(spec.quiet), variables_kept(SEED_VARIABLES), torch_flags_kept(),
              kept_if(spec.seed is not None),
              launcher_variables_of_one(DISTRIBUTED_VARIABLES), groups_made_here(),
              runs_ended(spec.trainer.get("logger")) as held):  # a W&B run of the trial's
            callbacks.append(RunsHeld(held))  # the logger's own run (reinit: create_new)
            # the trial's own folder holds its logs; a user's checkpoint folder is news
            warnings.filterwarnings("ignore", message=f"Checkpoint directory "
                                    f"{re.escape(str(trial_dir.resolve()))} exists")
            if spec.seed is not None:
                pl.seed_everything(spec.seed, workers=True, verbose=False)
            factory = ModelFactory(spec.model, spec.model_init_args)
            links = getattr(factory.target, "links", None)  # search.cli's: a link at
            first = links is not None and links.data_first  # instantiation builds the data
            if first:  # first, as the project's CLI builds it (its random numbers first)
                datamodule = DataFactory(spec.data, spec.data_init_args).build(spec.arch)
            model = apply_optim(factory.build(spec.arch), spec.cli_optim,
                                getattr(spec, "cli", None))  # (a spec of an older version)
            reporter.init_args = _init_args(factory, spec.arch)
            if spec.init_weights:
                _load_weights(model, spec.init_weights, makes_double(spec.trainer),
                              spec.init_weights_of)
            if not first:
                datamodule = DataFactory(spec.data, spec.data_init_args).build(spec.arch)
            if spec.validate_start:  # the score a fine-tune starts from, as it validates
                from lightning_nas.search.start_score import validate_start

                result.start_metrics = validate_start(spec, model, datamodule, build_trainer)
                if spec.record is not None:  # in its checkpoints: a resume reports it too
                    spec.record["start_metrics"] = result.start_metrics
            elif spec.record is not None:  # a resumed fine-tune: its first segment's start
                result.start_metrics = dict(spec.record.get("start_metrics") or {})
            trainer = placer.watch(build_trainer(spec, callbacks))
            shared_versions_quiet(trainer.loggers)  # a CSV logger beside TensorBoard's
            result.ranks = trainer.world_size  # what a limited validation holds on
            if spec.ckpt_path is not None:  # a promoted trial's next segment
                keep_checkpoint_dirs(trainer, spec.ckpt_path, trial_dir.parent.parent)
            building = False
            t0 = time.perf_counter()
            try:
                trainer.fit(model, datamodule=datamodule, ckpt_path=spec.ckpt_path,
                            **_trusted(spec.ckpt_path))
            finally:  # with what a killed fit trained up to the checkpoint it continued
                result.fit_time = time.perf_counter() - t0 + reporter.trained - spec.trained
                result.epochs = trainer.current_epoch
    except Exception as err:  # noqa: BLE001 - a failing trial must not stop the search
        if not building and not reporter.training_started:  # a setting the batches refuse
            err = batch_setting_error(trainer, err) or err
        result.error = f"{typed(err)}\n{traceback.format_exc(limit=-6)}"
        result.fatal = isinstance(err, (MonitorError, CountMismatch)) or isinstance(
            err, BatchSettingError) and not _own_batches(spec.arch)  # every trial's
        # an objective this trial did not log: fatal only until a trial completed (loop)
        result.objective_missing = getattr(err, "objective_missing", False)
        if getattr(err, "never_logged", False):  # a trial stopped before the epochs that
            result.fatal = ran_to_its_end(trainer) and not any(  # log it: not every trial
                key in _VALIDATION_KEYS for key in spec.arch)
        # Lightning's own checks before the first step (val_check_interval above the
        # batches of an epoch), and the scheduler's when fit starts (a ConfigError: an
        # EarlyStopping of the module's), reject the setup, not the architecture
        result.build_failed = building or (not reporter.training_started and (
            raised_by_lightning(err) or isinstance(err, ConfigError)))
        result.failed_in = reporter.failed_in(err)  # was: "in training" for any
        result.curve, result.curve_epochs = reporter.curve(), reporter.curve_epochs()
        result.finished = time.time()
        return result
    result.curve, result.curve_epochs = reporter.curve(), reporter.curve_epochs()
    result.finished = time.time()
    # a NaN or infinite objective, as the monitor, at any epoch (was: only at the best)
    bad = not_finite_at(spec.monitor, spec.logged, reporter.history)
    best = reporter.best()
    if bad or best is None:
        result.error = bad[1] if bad else no_validation_error(
            trainer, spec.monitor, spec.trainer.get("val_check_interval"))
        # it trained to its end: every trial would (a time limit or a callback may not),
        # unless searched Trainer values of its own are why (other trials' may validate)
        result.fatal = not bad and ran_to_its_end(trainer) and not any(
            key in _VALIDATION_KEYS for key in spec.arch)
        return result
    result.status = TrialStatus.COMPLETED
    # a rule's verdict at the last epoch stops nothing: the trial trained in full
    if pruning is not None and pruning.decision is not None and not ran_to_its_end(trainer):
        paused = pruning.decision is Decision.PAUSE
        result.status = TrialStatus.PAUSED if paused else TrialStatus.PRUNED
    elif pruning is not None and (stopped := pruning.early_stop_error(trainer)):
        result.status, result.error = TrialStatus.FAILED, stopped  # complete: at max_epochs
        return result
    result.score = best["metrics"][spec.monitor]
    result.metrics = dict(best["metrics"])
    result.epoch = best["epoch"]
    if ckpt is not None and ckpt.best_model_path:
        result.checkpoint = str(Path(ckpt.best_model_path).resolve())
    return result


class _RuleRestored(pl.Callback):
    """Records, as a fit resumed from a checkpoint starts, the values its history (the
    ``reporter``'s, restored) holds into the rule snapshot ``pruning`` judges the trial by:
    those of the epochs a killed fit trained after the search last heard of the trial (in
    its first fit, or past a pause) were in the rule of its uninterrupted fit (its
    ``decide`` recorded them), and the search's snapshot holds none (was: judged on without
    them); those it had stored are recorded again, the same."""

    def __init__(self, pruning: PruningCallback, reporter: TrialReporter) -> None:
        self.pruning, self.reporter = pruning, reporter

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.ckpt_path is not None and self.reporter.history:
            record_curve(self.pruning.rule, self.pruning.trial_key, self.reporter.curve(),
                         self.reporter.curve_epochs())


def _load_weights(model: pl.LightningModule, path: str, double: bool = False,
                  expected: dict[str, Any] | None = None) -> None:
    """Load the checkpoint's weights into ``model`` as ``load_from_checkpoint`` does: its
    ``configure_model`` first (layers made there), then ``on_load_checkpoint``, then the
    state dict with the model's ``strict_loading``. With ``double`` (``makes_double``: the
    Trainer makes the module float64) the model is made float64 first, as the Trainer makes
    it when ``fit`` starts (was: the weights went through the float32 model, rounded: not
    the trial's). ``expected``: the trial and epoch it must hold (``check_loaded``)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    check_loaded(checkpoint, expected, path)
    if is_overridden("configure_model", model, pl.LightningModule):
        model.configure_model()
    model.on_load_checkpoint(checkpoint)
    if double:
        model.double()
    model.load_state_dict(checkpoint["state_dict"], strict=model.strict_loading)


#: the Trainer precisions that make the module float64 (``DoublePrecision``)
_DOUBLE = frozenset({"64", "64-true"})


def makes_double(trainer: dict[str, Any]) -> bool:
    """Whether Trainer settings make the module float64 when ``fit`` starts: a ``precision``
    of ``64-true`` (or ``64``), or a ``DoublePrecision`` plugin (or a subclass) among
    ``plugins``, an object or a config node, alone or in a list (was: ``precision`` alone,
    so a fine-tune under the plugin started from weights rounded through float32).

    Example:
        >>> node = {"class_path": "lightning.pytorch.plugins.precision.DoublePrecision"}
        >>> makes_double({"precision": "64-true"}), makes_double({"plugins": [node]})
        (True, True)
        >>> makes_double({"precision": "32-true", "plugins": []})
        False
    """
    from lightning.pytorch.plugins import DoublePrecision

    return str(trainer.get("precision")) in _DOUBLE or bool(
        callbacks_of(trainer.get("plugins"), DoublePrecision, "trainer.plugins"))


def _own_batches(arch: dict[str, Any]) -> bool:
    """Whether ``arch`` holds values of its own that decide the batches or the validation
    (searched Trainer values, the data's arguments): another trial's may fit them."""
    return any(key in _VALIDATION_KEYS or key.startswith("data.") for key in arch)


def raised_by_lightning(err: BaseException) -> bool:
    """Whether ``err`` was raised in Lightning's own code, not in the model's or torch's."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and f"{os.sep}lightning{os.sep}" in tb.tb_frame.f_code.co_filename


def _trusted(ckpt_path: str | None) -> dict[str, Any]:
    """``weights_only=False`` for ``trainer.fit`` when it resumes ``ckpt_path``, the trial's
    own ``last.ckpt`` that this search wrote: a module's ``save_hyperparameters()`` stores
    objects torch's ``weights_only`` loading refuses (a Hydra ``_partial_: true`` optimizer's
    ``functools.partial``). Empty for a Lightning whose ``fit`` has no such argument."""
    if ckpt_path is None or "weights_only" not in inspect.signature(pl.Trainer.fit).parameters:
        return {}
    return {"weights_only": False}


def _init_args(factory: ModelFactory, arch: dict[str, Any]) -> dict[str, Any]:
    """The plain ``__init__`` arguments a model class is built with (the architecture's
    ``trainer.*`` and ``data.*`` keys are the Trainer's and the data's): a config section's
    with ``arch`` at its paths (``model.activation``), its nested objects left for
    ``load_from_checkpoint(path, net=...)``; empty when they are not keywords of a class (a
    builder function)."""
    if isinstance(factory.target, ConfigBuilder):
        if not inspect.isclass(factory.target.target()):
            return {}
        args = node_args(factory.target.config(arch))
        return {k: v for k, v in args.items() if is_plain(v) and not contains_node(v)}
    if not factory.is_class:
        return {}
    return {**plain_part(factory.init_args), **{k: v for k, v in arch.items()
                                                if not is_dotted(k)}}
