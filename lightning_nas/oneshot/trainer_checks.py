"""Trainer settings a one-shot search (``lightning-nas oneshot``) cannot take, said before
anything is built: ``check_oneshot_strategy`` (DDP that stops at the parameters one sampled
path per step leaves unused; strategies whose ranks are child processes) and
``check_oneshot_trainer`` (clipping, accumulation, a training of no epoch, step, batch or
time, ``fast_dev_run``, ``sync_batchnorm`` under DDP on CPU, a callback that logs beside no
logger), and ``check_oneshot_builds`` (the Trainer built once, as a run builds it: a value
its constructor refuses); ``fit_or_refuse``: what Lightning's own checks refuse when its
fit starts, said as they are.

Example:
    >>> check_oneshot_trainer({"accumulate_grad_batches": 1}, "spos")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightning_nas.config.instantiate import import_object
from lightning_nas.config.nodes import is_node, node_args, target_path
from lightning_nas.config.trainer_checks import TRAINING_NEEDS, fast_dev_run_said, trains_nothing
from lightning_nas.errors import ConfigError, NASError, one_line
from lightning_nas.group_exit import destroy_group_at_exit
from lightning_nas.oneshot.checks import CLIP_ALGORITHMS
from lightning_nas.search.batch_settings import batch_setting_error
from lightning_nas.search.dry_builds import check_trainer_builds
from lightning_nas.search.runner_checks import needs_own_process, spawns_ranks
from lightning_nas.search.trial import TrialSpec, raised_by_lightning
from lightning_nas.user_warnings import warn_user

__all__ = ["check_oneshot_builds", "check_oneshot_strategy", "check_oneshot_trainer",
           "check_user_checkpoints", "fit_or_refuse", "warn_endless_run"]

#: algorithms whose training step trains one sampled path of the supernet
_ONE_PATH_PER_STEP = ("spos", "gdas")


def check_oneshot_strategy(trainer: Mapping[str, Any], algorithm: str) -> None:
    """SPOS and GDAS train one sampled path per step, leaving the other candidates'
    parameters unused, which DDP without ``find_unused_parameters=True`` stops at in the
    first step: said now, for a strategy name (``ddp``, ``ddp_find_unused_parameters_false``)
    and a ``DDPStrategy`` node alike (an object is not looked into).

    Example:
        >>> check_oneshot_strategy({"strategy": "ddp"}, "darts")  # every path trains
    """
    strategy = trainer.get("strategy")
    if spawns_ranks(strategy):
        raise ConfigError(f"trainer.strategy={strategy!r} runs the ranks in child processes, "
                          f"whose search result this command never sees; use "
                          f"{'ddp' if algorithm == 'darts' else 'ddp_find_unused_parameters_true'}"
                          f" (Lightning starts each rank as a process of its own)")
    name = strategy.lower() if isinstance(strategy, str) else strategy  # as Lightning reads it
    if algorithm in _ONE_PATH_PER_STEP and name in (None, "auto") \
            and needs_own_process(trainer):  # Lightning's auto strategy: DDP
        raise ConfigError(f"trainer.devices={trainer.get('devices')!r} (num_nodes="
                          f"{trainer.get('num_nodes', 1)!r}) with trainer.strategy="
                          f"{strategy!r} trains with DDP, which stops at the parameters that "
                          f"{algorithm}'s one sampled path per step leaves unused; set "
                          f"trainer.strategy=ddp_find_unused_parameters_true")
    if algorithm in _ONE_PATH_PER_STEP and _stops_at_unused_parameters(name):
        shown = repr(strategy)
        if is_node(strategy):  # its class and the argument at fault, not every default
            unused = node_args(strategy).get("find_unused_parameters", False)
            shown = f"{target_path(strategy)}(find_unused_parameters={unused!r})"
        raise ConfigError(f"trainer.strategy={shown} cannot train {algorithm}: each step "
                          f"trains one sampled path and leaves the other candidates' "
                          f"parameters unused, which DDP stops at; use "
                          f"trainer.strategy=ddp_find_unused_parameters_true (or "
                          f"find_unused_parameters: true in a DDPStrategy's init_args)")


def _stops_at_unused_parameters(strategy: Any) -> bool:
    """Whether ``strategy`` is DDP without ``find_unused_parameters=True``: a registered
    name of Lightning's (``ddp``) or a node of ``DDPStrategy`` or a subclass."""
    from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry

    if isinstance(strategy, str) and strategy in StrategyRegistry:
        entry = StrategyRegistry[strategy]
        target, args = entry["strategy"], entry["init_params"]
    elif is_node(strategy):
        try:
            target, args = import_object(target_path(strategy)), node_args(strategy)
        except ConfigError:  # the Trainer's check names a bad class path
            return False
    else:
        return False
    from lightning.pytorch.strategies import DeepSpeedStrategy  # a DDPStrategy that does not

    return (isinstance(target, type) and issubclass(target, DDPStrategy)
            and not issubclass(target, DeepSpeedStrategy)
            and args.get("find_unused_parameters") is not True)


def check_oneshot_trainer(trainer: Mapping[str, Any], algorithm: str) -> None:
    """Trainer settings a one-shot search cannot take, said before training: one under
    which it trains nothing, so has nothing to search (``trains_nothing``: a ``max_epochs``,
    ``max_steps`` or ``limit_train_batches`` of 0, a ``max_time`` of zero); ``fast_dev_run``
    (``_check_fast_dev_run``); a
    ``gradient_clip_algorithm`` Lightning lacks; a ``LearningRateMonitor`` or
    ``DeviceStatsMonitor`` in ``trainer.callbacks`` with no ``trainer.logger`` (the command
    sets none by default); with DARTS/GDAS (manual optimization: two
    optimizers stepped by hand) ``accumulate_grad_batches`` above 1, which Lightning refuses
    in the first step.

    Example:
        >>> check_oneshot_trainer({"accumulate_grad_batches": 2}, "darts")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.accumulate_grad_batches=2 cannot train darts: ...
    """
    # (was: refused after setup, "this fit trained nothing (... resumed from a checkpoint of
    # its last epoch?)": limit_train_batches=0 and a max_time of zero, as 0 epochs or steps)
    key = trains_nothing(trainer)
    if key:
        raise ConfigError(f"trainer.{key}={trainer[key]!r} trains nothing: a one-shot search "
                          f"trains its supernet and searches it at the end of training, so "
                          f"it needs trainer.{key} {TRAINING_NEEDS[key]}")
    _check_fast_dev_run(trainer.get("fast_dev_run"))
    clip = trainer.get("gradient_clip_algorithm")
    if clip is not None and str(clip).lower() not in CLIP_ALGORITHMS:
        raise ConfigError(f"trainer.gradient_clip_algorithm={clip!r}: must be "
                          f"{' or '.join(map(repr, CLIP_ALGORITHMS))}")
    _check_logging_callbacks(trainer)
    accumulate = trainer.get("accumulate_grad_batches", 1)
    if algorithm != "spos" and accumulate != 1:
        raise ConfigError(f"trainer.accumulate_grad_batches={accumulate!r} cannot train "
                          f"{algorithm}: its step updates the logits and the weights by hand "
                          f"(manual optimization), which Lightning does not accumulate; "
                          f"leave it at 1 (a larger data batch_size gives larger steps)")


def _check_fast_dev_run(value: Any) -> None:
    """``fast_dev_run`` is Lightning's debugging run: a batch or a few of training and
    validation, no checkpoint, no logger. A one-shot run writes its outputs into its run
    folder as a finished run's, so it is refused, as a search refuses it (was: taken, its
    one-batch search's ``best_arch.yaml``, ``subnet.pt`` and fine-tune written over a
    finished run's, beside that run's ``last.ckpt``, which ``--ckpt_path last`` then took
    for finished: "holds the finished run's outputs")."""
    said = fast_dev_run_said(value)
    if said is None:
        return
    raise ConfigError(f"{said} and writes no "
                      f"checkpoint (Lightning's debugging run), but a one-shot run writes its "
                      f"search and fine-tune into oneshot.run_dir as a finished run's: for a "
                      f"quick run set trainer.limit_train_batches and "
                      f"trainer.limit_val_batches (a batch or a few), trainer.max_epochs=1, a "
                      f"small oneshot.num_candidates and another oneshot.run_dir")


def warn_endless_run(trainer: Mapping[str, Any], module_callbacks: list[Any]) -> bool:
    """Warn (and return True), before a one-shot run trains, where nothing ends its training:
    ``trainer.max_epochs=-1`` (Lightning's "no limit") with no ``max_steps`` or ``max_time``
    that limits it and no ``EarlyStopping`` or ``Timer`` with a duration among
    ``trainer.callbacks`` or ``module_callbacks`` (the module's ``configure_callbacks()``),
    as a search and ``fit`` warn (``rule_checks.warn_endless``): the run's final search,
    export and fine-tune come when its training ends, so where no callback of the user's
    stops it they never run
    (was: said nothing, and the run trained for ever). A callback of the user's own may stop
    the fit, so it is no error.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter("always")
        ...     warn_endless_run({"max_epochs": -1}, []), warn_endless_run({"max_epochs": 3}, [])
        (True, False)
    """
    from lightning.pytorch.callbacks import EarlyStopping

    from lightning_nas.search.rule_checks import callbacks_of, duration_timers

    if trainer.get("max_epochs") != -1 or any(
            trainer.get(key) not in (None, -1) for key in ("max_steps", "max_time")):
        return False
    given = trainer.get("callbacks") or []  # a Timer without a duration only measures (was:
    # counted as ending the run)
    if any(callbacks_of(found, EarlyStopping) or duration_timers(found)
           for found in (given, module_callbacks)):
        return False
    warn_user("trainer.max_epochs=-1 is Lightning's 'no limit', and no max_steps, max_time, "
              "EarlyStopping or Timer callback ends the one-shot run: it trains until a "
              "callback of yours stops it, for ever where none does, and its final search, "
              "export and fine-tune run when its training ends; give max_epochs a number or "
              "add one of them")
    return True


def _check_logging_callbacks(trainer: Mapping[str, Any]) -> None:
    """A callback that logs through the Trainer's logger (``LearningRateMonitor``,
    ``DeviceStatsMonitor``) needs one, and the command gives the search none unless
    ``trainer.logger`` sets one: said before anything is built (was: Lightning's "Cannot use
    `LearningRateMonitor` callback with `Trainer` that has no logger" after the model and
    data were built and the sanity check ran, or, beside ``logger: false``, the search's
    advice to leave ``trainer.logger`` out, which gives a one-shot run no logger)."""
    from lightning.pytorch.callbacks import DeviceStatsMonitor, LearningRateMonitor

    from lightning_nas.search.rule_checks import callbacks_of

    logger = trainer.get("logger")
    needy = callbacks_of(trainer.get("callbacks") or [],
                         (LearningRateMonitor, DeviceStatsMonitor))
    if needy and (logger is None or logger is False or logger == []):
        raise ConfigError(f"{needy[0][0]} logs to the Trainer's logger, and lightning-nas "
                          f"oneshot logs to no logger unless trainer.logger sets one (trainer."
                          f"logger={logger!r}), which Lightning refuses when training starts: "
                          f"set trainer.logger (true: Lightning's default logger in "
                          f"trainer.default_root_dir, else the run folder; or a logger such "
                          f"as lightning.pytorch.loggers.CSVLogger), or remove the callback")


def check_user_checkpoints(trainer: Mapping[str, Any], run_dir: Path,
                           module_callbacks: Sequence[Any] = ()) -> None:
    """A ``ModelCheckpoint`` of ``trainer.callbacks``, or of ``module_callbacks`` (what the
    built module's ``configure_callbacks()`` returns, which Lightning adds to the fit), that
    writes a ``last.ckpt`` (its ``save_last``, or ``filename="last"``) into
    ``run_dir/checkpoints``, where the run keeps the epoch-end ``last.ckpt`` that
    ``--ckpt_path last`` resumes from, is refused before anything is trained: one without a
    ``dirpath`` writes there when no ``trainer.logger`` is set and
    ``trainer.default_root_dir`` is unset or the run folder (was: taken; saving after each
    validation, with ``val_check_interval`` below 1 in mid-epoch, it replaced the run's
    checkpoint, so a run stopped there resumed from mid-epoch, not as the uninterrupted run;
    the module's were not looked at). With ``enable_checkpointing: false`` the run keeps
    none. ``run_oneshot`` checks ``trainer.callbacks`` before anything is built, and the
    module's once it is built, before its run folder is touched.

    Example:
        >>> check_user_checkpoints({"callbacks": [{
        ...     "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
        ...     "init_args": {"save_last": True}}]}, Path("runs/a"))
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.callbacks[0] (ModelCheckpoint) writes its ...
    """
    from lightning.pytorch.callbacks import ModelCheckpoint

    from lightning_nas.search.rule_checks import callbacks_of

    if trainer.get("enable_checkpointing") is False:
        return
    found = [*callbacks_of(trainer.get("callbacks") or [], ModelCheckpoint),
             *callbacks_of(list(module_callbacks), ModelCheckpoint,
                           "the model's configure_callbacks()")]
    for where, item in found:
        if _writes_runs_last(node_args(item) if is_node(item) else vars(item), trainer,
                             run_dir):
            raise ConfigError(f"{where} writes its last.ckpt as {run_dir / 'checkpoints'}"
                              f"/last.ckpt, the run's own, which --ckpt_path last resumes "
                              f"from (written at each training epoch's end, after its "
                              f"search): give it another dirpath, or leave save_last off "
                              f"(the run keeps last.ckpt itself)")


def _writes_runs_last(args: Mapping[str, Any], trainer: Mapping[str, Any],
                      run_dir: Path) -> bool:
    """Whether a ``ModelCheckpoint`` of arguments (or attributes) ``args`` writes its
    ``last.ckpt`` as ``run_dir/checkpoints/last.ckpt`` in a run of Trainer settings
    ``trainer`` (``check_user_checkpoints``)."""
    from lightning_nas.run_folder import user_path

    if not (args.get("save_last") or args.get("filename") == "last"):
        return False
    dirpath = args.get("dirpath")
    if dirpath is None:  # Lightning's: the logger's folder, else default_root_dir's
        root = trainer.get("default_root_dir")
        return trainer.get("logger") in (None, False, []) and (
            root is None or user_path(root).resolve() == run_dir.resolve())
    return "://" not in str(dirpath) and \
        user_path(dirpath).resolve() == (run_dir / "checkpoints").resolve()


def check_oneshot_builds(trainer: Mapping[str, Any], algorithm: str) -> None:
    """Build the search's Trainer once, as ``run_oneshot`` builds it (DARTS/GDAS: without
    the clipping its module does), in a temporary folder, without training or starting
    processes: a value the Trainer's constructor refuses (``trainer.max_time='abc'``,
    ``trainer.devices=0``) is said before the run folder or its ``search.lock`` is made,
    and by ``--print_config`` (was: a traceback after the lock was written).

    Raises:
        ConfigError: naming the Trainer argument at fault and its value.

    Example:
        >>> check_oneshot_builds({"max_time": "abc"}, "spos")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.max_time='abc': ... of the one-shot search ...
    """
    settings = dict(trainer)
    if algorithm != "spos":  # DifferentiableNAS clips by hand: the Trainer never sees it
        for key in ("gradient_clip_val", "gradient_clip_algorithm"):
            settings.pop(key, None)
    spec = TrialSpec(trial_id=0, arch={}, trial_dir="", model=None, trainer=settings,
                     own_logs=True)
    check_trainer_builds(spec, "the one-shot search")


class _TrainingStarted(pl.Callback):
    """Whether a training epoch started."""

    def __init__(self) -> None:
        self.started = False

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = True


def fit_or_refuse(trainer: pl.Trainer, module: pl.LightningModule, datamodule: Any,
                  ckpt_path: Any) -> None:
    """``trainer.fit``; an error raised in Lightning's own code before the first training
    epoch (its checks of the setup: ``val_check_interval`` above an epoch's batches) is a
    ``ConfigError`` in one line, as a search, a fit and a fine-tune say it (was: its
    traceback, exit 1); any other error propagates as it is. A fit in a process group (DDP)
    has it destroyed when the process exits (``lightning_nas.group_exit``)."""
    started = _TrainingStarted()
    trainer.callbacks.append(started)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    except Exception as err:
        if started.started or isinstance(err, NASError) or not raised_by_lightning(err):
            raise
        explained = batch_setting_error(trainer, err)  # a setting the batches refuse
        if explained is not None:
            raise type(explained)(f"{explained} (found before training: nothing was "
                                  f"trained)") from err
        raise ConfigError(f"{one_line(err)} (found before training: nothing was trained)"
                          ) from err
    finally:
        destroy_group_at_exit()  # a DDP fit's process group: destroyed before finalization
