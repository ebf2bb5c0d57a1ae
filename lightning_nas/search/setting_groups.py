"""The five groups of a search's settings, each a frozen dataclass that checks its values
when it is made, so a wrong setting fails before anything is built or trained:

- ``Goal``: what to optimise and how long (optimizer, budget, time limit, monitor, mode,
  objectives, seed, failures tolerated, checkpoints kept);
- ``Execution``: where trials run (workers, executor, devices, threads, Ray);
- ``EarlyStopping``: the scheduler that stops weak trials (rungs: ``min_epochs``,
  ``max_epochs``, ``eta``);
- ``Limits``: constraints checked before a candidate trains;
- ``Transfer``: warm starts from earlier runs (``warm_start``, ``retrain_top_k``).

``SearchSettings`` (``search/settings.py``) holds one of each and routes the flat names to
them; the groups stay importable from there.

Example:
    >>> Goal(monitor="val_loss").mode
    'min'
    >>> Execution(executor="inline", num_workers=2)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: executor 'inline' runs one trial at a time; ...
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning_nas.errors import ConfigError, check_mode, did_you_mean
from lightning_nas.search.executor_objects import check_object_settings, check_object_workers
from lightning_nas.search.objectives import COSTS, Constraints, Objectives, contrary_modes, mode_for
from lightning_nas.search.scheduler_settings import (
    check_rule_settings,
    not_a_scheduler,
    scheduler_name,
)
from lightning_nas.search.schedulers import Rule
from lightning_nas.search.setting_checks import (
    check_int,
    check_positive,
    check_seed,
    in_words,
    null_word,
    optimizer_error,
    plain_numbers,
    said_in_config,
)
from lightning_nas.strategies import DEFAULT_OPTIMIZER, check_optimizer_name
from lightning_nas.user_warnings import warn_user

__all__ = ["EXECUTOR_NAMES", "EarlyStopping", "Execution", "Goal", "Limits", "Transfer"]

#: executor names (any object with ``submit(fn, *args)`` is accepted too)
EXECUTOR_NAMES = ("auto", "inline", "process", "ray")


@dataclass(frozen=True)
class Goal:
    """What to optimise and how long.

    Args:
        optimizer: a name of nevergrad's optimizer registry (NAS strategies included).
        budget: trials to train (failed and rejected trials do not count; with a scheduler,
            the architectures started).
        time_limit: seconds after which no new trial starts (per invocation).
        monitor: the logged metric that scores a trial, read at its best epoch.
        mode: ``"max"`` or ``"min"``; left out, the monitor's name says it (``val_loss``:
            min, ``val_acc``: max, see ``objectives.mode_for``) or the monitor is refused.
        objectives: several objectives ``{name: max|min}``; the first is the monitor, and
            its mode the mode, whatever ``monitor`` and ``mode`` say here
            (``SearchSettings.from_options`` refuses a ``monitor`` given that differs).
        seed: seeds the optimizer and every trial.
        max_failures: the search stops once more trials failed.
        keep_top_k: checkpoints kept on disk (the best ``k`` trials).
    """

    optimizer: str = DEFAULT_OPTIMIZER
    budget: int | None = 20
    time_limit: float | None = None
    monitor: str = "val_acc"
    mode: str | None = None
    objectives: Objectives | None = None
    seed: int | None = 0
    max_failures: int = 5
    keep_top_k: int = 3

    def __post_init__(self) -> None:
        plain_numbers(self)  # NumPy's scalars: Python's int and float
        if not isinstance(self.optimizer, str):
            raise optimizer_error(self.optimizer, _setting_names())
        check_optimizer_name(self.optimizer)
        if self.budget is None and self.time_limit is None:
            raise ConfigError("give a `budget` (trials) and/or a `time_limit` (seconds)")
        check_int("budget", self.budget, 1, optional=True)
        check_positive("time_limit", self.time_limit)
        if self.time_limit is not None and math.isinf(self.time_limit):  # (was: a search
            # without an end where no budget was given)
            raise ConfigError(f"`time_limit` must be a finite number of seconds, got "
                              f"{self.time_limit!r}; {null_word()} is no time limit, beside a "
                              f"`budget`")  # (was: null, YAML's word, from Python too)
        check_seed(self.seed)
        check_int("max_failures", self.max_failures, 0)
        check_int("keep_top_k", self.keep_top_k, 1)
        if self.objectives is not None:  # the first objective is the monitor
            objectives = self.objectives
            if not isinstance(objectives, Objectives):
                objectives = Objectives(objectives)
            object.__setattr__(self, "objectives", objectives)
            object.__setattr__(self, "monitor", objectives.names[0])
            object.__setattr__(self, "mode", objectives.modes[objectives.names[0]])
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ConfigError(f"`monitor` must name a logged metric, got {self.monitor!r}: "
                              f"a name your LightningModule's validation logs (self.log), "
                              f"such as 'val_acc' or 'val_loss'; leave it out for 'val_acc'")
        if self.mode is None and self.monitor in COSTS:  # what an objective= function
            object.__setattr__(self, "mode", "min")  # returns; a search that trains refuses
            # it (check_counted)
        if self.mode is None:  # not given: never maximise a loss because max is a default
            object.__setattr__(self, "mode", mode_for(self.monitor,
                                                      python=not said_in_config()))
        check_mode(self.mode)

    def check_counted(self) -> None:
        """Refuse a counted cost (``params``, ``flops``) as the monitor of a search that
        trains a model, before anything is written: the monitor is read from validation's
        logs, and a cost is counted, never logged. An ``objective=`` search counts nothing,
        so there a cost's name is one its function returns (the search does not call this).

        Raises:
            ConfigError: naming the cost and a first objective to give instead.

        Example:
            >>> Goal(objectives={"val_acc": "max", "params": "min"}).check_counted()
            >>> Goal(monitor="flops").check_counted()
            Traceback (most recent call last):
            ...
            lightning_nas.errors.ConfigError: `monitor='flops'` is counted, not logged: ...
        """
        if self.objectives is not None and (first := self.objectives.names[0]) in COSTS:
            raise ConfigError(f"the first objective is the monitor, a metric validation "
                              f"logs; {first!r} is counted, not logged: list a logged "
                              f"metric first, e.g. "
                              f"{_objectives(first, self.objectives.modes[first])}")
        if self.monitor in COSTS:  # (was: refused after trial 1 trained)
            said = in_words(f"monitor: {self.monitor!r}", f"monitor={self.monitor!r}")
            raise ConfigError(f"`{said}` is counted, not logged: the monitor is a metric "
                              f"validation logs; give one (val_acc, val_loss) and "
                              f"{self.monitor} as a second objective, e.g. "
                              f"{_objectives(self.monitor, 'min')}, or a limit, "
                              f"max_{self.monitor}")

    def warn_contrary(self) -> None:
        """Warn, before any trial trains, of an objective searched the other way from what
        its name says (``monitor: val_loss`` with ``mode: max``; ``contrary_modes``): taken as
        given, since a name may mislead, but said, since a wrong mode ranks the worst best."""
        modes = self.objectives.modes if self.objectives else {self.monitor: self.mode}
        for line in contrary_modes(modes):
            warn_user(f"{line}: the search ranks trials that way; if it is not meant, "
                      f"give the other mode")


@dataclass(frozen=True)
class Execution:
    """Where trials run.

    Args:
        num_workers: trials at once.
        executor: ``auto`` (in the search process for one worker, else worker processes),
            ``inline``, ``process``, ``ray``, or an object with ``submit(fn, *args)``.
        devices_per_trial: GPUs per trial; each worker gets its own slice (refused where no
            worker process or Ray trial takes it).
        threads_per_trial: torch threads per trial: per worker process (default: cores /
            workers on CPU), or around each trial run in the search's own process.
        max_trials_per_worker: recycle a worker process after this many trials.
        ray: for ``executor="ray"``: ``ray.init`` arguments (``address``, ...) and per-trial
            ``num_cpus`` / ``num_gpus``.
    """

    num_workers: int = 1
    executor: Any = "auto"
    devices_per_trial: int | None = None
    threads_per_trial: int | None = None
    max_trials_per_worker: int | None = None
    ray: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        plain_numbers(self)
        check_int("num_workers", self.num_workers, 1)
        if isinstance(self.executor, str):
            if self.executor not in EXECUTOR_NAMES:
                raise ConfigError(  # was unknown(...): "valid keys: auto, inline, ..."
                    f"unknown executor {self.executor!r}; "
                    f"{did_you_mean(self.executor, EXECUTOR_NAMES)}valid executors: "
                    f"{', '.join(EXECUTOR_NAMES)}")
            if self.executor == "inline" and self.num_workers != 1:
                raise ConfigError("executor 'inline' runs one trial at a time; use num_workers=1 "
                                  "or executor 'process'")
        elif not callable(getattr(self.executor, "submit", None)):
            raise ConfigError(f"executor must be one of {', '.join(EXECUTOR_NAMES)} or an "
                              f"object with submit(fn, *args), got {self.executor!r}")
        check_int("devices_per_trial", self.devices_per_trial, 1, optional=True)
        check_int("threads_per_trial", self.threads_per_trial, 1, optional=True)
        check_int("max_trials_per_worker", self.max_trials_per_worker, 1, optional=True)
        check_object_settings(  # an executor object's own (was: threads_per_trial ignored)
            self.executor, threads_per_trial=self.threads_per_trial,
            devices_per_trial=self.devices_per_trial,
            max_trials_per_worker=self.max_trials_per_worker)
        check_object_workers(self.executor, self.num_workers)  # (was: the object's ran)
        if self.max_trials_per_worker is not None and not self.runs_in_processes:
            raise ConfigError(
                f"max_trials_per_worker recycles worker processes, and executor "
                f"{self.executor_name!r} with num_workers={self.num_workers} starts none; "
                f"use executor 'process' or num_workers > 1 (or drop max_trials_per_worker)")
        if self.devices_per_trial is not None and not (self.runs_in_processes
                                                       or self.executor == "ray"):
            raise ConfigError(  # was: accepted, and ignored (trials took the Trainer's devices)
                f"devices_per_trial gives each worker process (or Ray trial) its GPUs, and "
                f"executor {self.executor_name!r} with num_workers={self.num_workers} starts "
                f"none: trials train on trainer.devices; use executor 'process' or "
                f"num_workers > 1 (or drop devices_per_trial)")
        if self.ray is not None and not isinstance(self.ray, Mapping):
            raise ConfigError(f"`ray` must be a mapping of ray.init arguments, got {self.ray!r}")
        if self.ray and self.executor != "ray":  # was: ignored, trials ran on this machine
            raise ConfigError(
                f"`ray` ({dict(self.ray)}) configures executor 'ray', and executor is "
                f"{self.executor_name!r}: trials would not run on the Ray cluster; set "
                f"executor: ray (or drop ray)")

    @property
    def runs_in_processes(self) -> bool:
        """Whether trials run in this package's worker processes (``process``, or ``auto``
        with several workers)."""
        if not isinstance(self.executor, str):
            return False
        if self.executor == "auto":
            return self.num_workers > 1
        return self.executor == "process"

    @property
    def executor_name(self) -> str:
        """The executor's name, or the repr of a user's executor object (for the store)."""
        return self.executor if isinstance(self.executor, str) else repr(self.executor)


@dataclass(frozen=True)
class EarlyStopping:
    """Stop weak trials early.

    Args:
        scheduler: ``none``, ``asha``, ``hyperband`` or ``median`` (or a ``Rule``).
        min_epochs: the first rung (``asha``/``hyperband``), or the epochs before ``median``
            may stop a trial (left out: 1).
        max_epochs: epochs of a complete trial (default: the Trainer's ``max_epochs``).
        eta: reduction factor of ``asha``/``hyperband`` (left out: 3).

    Each is refused where the scheduler does not use it (``check_rule_settings``): any
    without a scheduler, ``eta`` with ``median``, ``min_epochs`` or ``eta`` beside a rule
    object.
    """

    scheduler: str | Rule = "none"
    min_epochs: int | None = None  # None: RULE_DEFAULTS' (stored so: a resume compares it)
    max_epochs: int | None = None
    eta: int | None = None

    def __post_init__(self) -> None:
        plain_numbers(self)
        if self.scheduler is None:  # YAML's null
            object.__setattr__(self, "scheduler", "none")
        if isinstance(self.scheduler, str):  # in any case (was: 'ASHA' refused)
            object.__setattr__(self, "scheduler", scheduler_name(self.scheduler))
        if not isinstance(self.scheduler, (str, Rule)):
            raise not_a_scheduler(self.scheduler)  # (was: the names alone)
        check_int("min_epochs", self.min_epochs, 1, optional=True)
        check_int("max_epochs", self.max_epochs, 1, optional=True)
        check_int("eta", self.eta, 2, optional=True)
        check_rule_settings(self.scheduler, min_epochs=self.min_epochs,
                            max_epochs=self.max_epochs, eta=self.eta)

    @property
    def active(self) -> bool:
        """Whether a scheduler judges the trials."""
        return self.scheduler != "none"


@dataclass(frozen=True)
class Limits:
    """Limits a candidate must meet before it is trained (never trained otherwise).

    Args:
        max_params: most parameters (counted on the meta device).
        max_flops: most FLOPs of one forward pass of ``example_input_array``.
        constraints: callables ``arch -> bool`` (or a violation amount).
    """

    max_params: float | None = None
    max_flops: float | None = None
    constraints: Sequence[Callable[[dict[str, Any]], Any]] = ()

    def __post_init__(self) -> None:
        plain_numbers(self)
        check_positive("max_params", self.max_params)
        check_positive("max_flops", self.max_flops)
        if not isinstance(self.constraints, (list, tuple)) and self.constraints is not None:
            raise ConfigError(f"`constraints` must be a list of callables arch -> bool, got "
                              f"{self.constraints!r}")
        object.__setattr__(self, "constraints", tuple(self.constraints or ()))
        self.build()  # checks the values

    def build(self) -> Constraints:
        """The ``Constraints`` these limits describe."""
        return Constraints(self.max_params, self.max_flops, self.constraints)


@dataclass(frozen=True)
class Transfer:
    """What a search learns from earlier runs (``lightning_nas.search.warm``).

    Args:
        warm_start: run directories of earlier searches on this space, or on one that
            shares keys; their completed results feed the optimizer before the first ask.
            They never count against the budget and are not trained again unless asked.
        retrain_top_k: train the ``k`` best earlier architectures first (these trials count
            against the budget; the optimizer is told their results here).
        warm_start_fill: values for keys the earlier spaces lack (default: the first value
            of a choice, the middle of an ordered choice or a range).
    """

    warm_start: Sequence[str | Path] = ()
    retrain_top_k: int = 0
    warm_start_fill: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        plain_numbers(self)
        sources = self.warm_start
        if isinstance(sources, (str, Path)):
            sources = [sources]
        if sources is None:
            sources = ()
        if not isinstance(sources, (list, tuple)) or \
                not all(isinstance(p, (str, Path)) and str(p) for p in sources):
            raise ConfigError(f"`warm_start` must be a list of run directories, got "
                              f"{self.warm_start!r}")
        # ~ expanded as user_path does; the rest as given (the messages name it so)
        object.__setattr__(self, "warm_start", tuple(os.path.expanduser(p) for p in sources))
        check_int("retrain_top_k", self.retrain_top_k, 0)
        if self.retrain_top_k and not self.warm_start:
            raise ConfigError("`retrain_top_k` re-trains the best results of `warm_start` "
                              "runs; give `warm_start` too (a resume of a search that "
                              "re-trains them: the same warm_start it ran with)")
        if self.warm_start_fill is not None and not isinstance(self.warm_start_fill, Mapping):
            raise ConfigError(f"`warm_start_fill` must map space keys to values, got "
                              f"{self.warm_start_fill!r}")
        if self.warm_start_fill and not self.warm_start:  # was: accepted, and did nothing
            raise ConfigError("`warm_start_fill` fills keys of the `warm_start` runs' "
                              "results; give `warm_start` too (or drop warm_start_fill)")

    def fixed(self) -> dict[str, Any]:
        """What a resume must keep (``open_search_store``): the source folders, as absolute
        paths, when there are any (the store adds their paths relative to the run folder: a
        resume matches a folder by either), and ``warm_start_fill``, which the stored
        priors were filled with (was: a changed one was ignored without a word)."""
        if not self.warm_start:
            return {}
        return {"warm_start_sources": [str(Path(p).resolve()) for p in self.warm_start],
                "warm_start_fill": dict(self.warm_start_fill or {})}


def _setting_names() -> list[str]:
    """The search's settings (every group's fields), named in an ``optimizer`` mapping's
    error: ``--search.optimizer.budget=3`` meant ``--search.budget=3``."""
    return [f.name for group in (Goal, Execution, EarlyStopping, Limits, Transfer)
            for f in dataclasses.fields(group)]


def _objectives(cost: str, mode: str) -> str:
    """Objectives with a logged metric first and ``cost`` second, as this user writes them:
    ``objectives: {val_acc: max, params: min}`` in a config (``config_words``), else
    ``objectives={"val_acc": "max", "params": "min"}`` (was: a config's words from Python)."""
    return in_words(f"objectives: {{val_acc: max, {cost}: {mode}}}",
                    f'objectives={{"val_acc": "max", "{cost}": "{mode}"}}')
