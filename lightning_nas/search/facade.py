"""``Search``: a multi-trial architecture search over a user's LightningModule; ``run``
returns a ``SearchResult`` (``search_result``).

``Search`` checks its arguments (``facade_arguments``) and everything that can be checked
before a trial trains (``facade_checks``), opens (or resumes) the run store, and hands a
``SearchLoop`` its settings, a ``TrialTemplate``, an executor and a nevergrad optimizer.

Example:
    >>> from lightning_nas import Search
    >>> search = Search("examples.digits.model.DigitsCNN",  # doctest: +SKIP
    ...                 {"num_layers": {"choice": [2, 3]}},
    ...                 data="examples.digits.data.DigitsDataModule",
    ...                 trainer={"max_epochs": 2}, budget=4, run_dir="runs/demo")
    >>> result = search.run()  # doctest: +SKIP
    >>> result.best.arch  # doctest: +SKIP
    {'num_layers': 3}
    >>> Search("my_pkg.model.Net", {"hidden": {"choice": [32, 64]}},  # doctest: +SKIP
    ...        data="my_pkg.data.Data", cli="my_pkg.cli.MyCLI").run()  # its links applied
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightning_nas.config.cli_optim import optim_sections
from lightning_nas.config.env_seed import warn_unread_seed
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.node_places import config_places
from lightning_nas.config.section_builder import links_over_trainer
from lightning_nas.errors import ConfigError, NoCompletedTrialError, SearchError
from lightning_nas.export import export_best
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.best_epoch import tie_break_of
from lightning_nas.search.budget_left import nothing_left
from lightning_nas.search.executor import FuturesExecutor, TrialExecutor
from lightning_nas.search.executors import executor_for
from lightning_nas.search.facade_arguments import (
    check_arguments,
    check_fit_keywords,
    space_argument,
)
from lightning_nas.search.facade_checks import check_search
from lightning_nas.search.lifetime import sigterm_exits
from lightning_nas.search.loop import SearchLoop
from lightning_nas.search.none_completed import nothing_completed
from lightning_nas.search.progress import scored_by
from lightning_nas.search.python_cli import cli_parts
from lightning_nas.search.ranks import close_rank_groups
from lightning_nas.search.ray_executor import RayExecutor
from lightning_nas.search.resume import (
    check_resume,
    current_setup,
    searched_out,
    stored_setup,
)
from lightning_nas.search.rule_trainer import rule_for
from lightning_nas.search.schedulers import Rule
from lightning_nas.search.search_result import SearchResult
from lightning_nas.search.settings import SearchSettings
from lightning_nas.search.space_values import (
    space_options,
    trainer_options,
    unsearched,
)
from lightning_nas.search.stop_fixes import fixable_settings
from lightning_nas.search.summary import finish
from lightning_nas.search.template import TrialTemplate
from lightning_nas.search.warm_keys import fill_keys
from lightning_nas.search.warm_values import flat_params
from lightning_nas.search.worker_entry import exit_if_importing_main
from lightning_nas.search.workers import ProcessExecutor
from lightning_nas.space import SearchSpace
from lightning_nas.store import RunStore, check_as_it_is, open_search_store
from lightning_nas.store_checks import check_search_folder
from lightning_nas.strategies import make_optimizer
from lightning_nas.user_warnings import warn_user
from lightning_nas.versions import package_versions
from lightning_nas.wording import counted

__all__ = ["Search"]

#: Trainer settings an ``objective=`` search uses: where and in how many processes its
#: trials run, and the logger of the search's summary; the rest trains, and it trains nothing
_OBJECTIVE_TRAINER_KEYS = ("accelerator", "devices", "num_nodes", "strategy", "logger")


class Search:
    """A multi-trial architecture search over a user's LightningModule.

    Args:
        model: a LightningModule class (or import path) whose ``__init__`` takes the space's
            keys, or a callable ``arch -> LightningModule``.
        space: a ``SearchSpace``, its YAML mapping form, or the path (``str`` or
            ``os.PathLike``, a leading ``~`` expanded, relative to the current folder) of a
            YAML file holding that mapping, as a config's ``search.space`` (a missing file
            is a ``FileNotFoundError`` naming it; YAML text: ``SearchSpace.from_yaml``).
        data: a LightningDataModule instance, class or import path, a callable
            ``arch -> LightningDataModule`` (or None when the model has its own dataloaders).
        trainer: ``lightning.pytorch.Trainer`` keyword arguments for every trial
            (LightningCLI ``class_path`` specs allowed for callbacks and loggers).
        settings: a ``SearchSettings``; ``**options`` change single settings of it.
        objective: instead of training, evaluate ``objective(arch) -> {metric: value}``
            (tabular benchmarks, cheap proxies); ``model``, ``data`` and their init args
            are then None (others are refused); ``trainer`` settings other than
            ``accelerator``, ``devices``, ``num_nodes``, ``strategy`` and ``logger`` are
            ignored, with a ``UserWarning``.
        model_init_args: fixed keyword arguments for a model class.
        data_init_args: keyword arguments for a data class.
        on_trial_end: called with each finished trial's result, after it is stored (a
            paused trial's again when its promoted run ends).
            Once per trial: a resume does not call it for trials stored before. An error it
            raises stops the search once the other results of the same wait are stored (and
            handed to it), noted with its name.
        config: the full config the search came from (stored; used by export).
        cli: your ``LightningCLI`` subclass (or its import path) whose ``link_arguments``
            each trial applies, as a config's ``search.cli`` (its model and data then
            classes or import paths, their arguments plain data; a class defined in
            ``__main__`` or a function is refused: its links are read by import path).
        **options: any setting by its flat name (``SearchSettings.keys()``); the common ones:
            ``budget`` (trials, default 20), ``monitor`` (default ``"val_acc"``), ``mode``
            (``"max"``/``"min"``), ``run_dir`` (default ``"runs/nas"``, None too; the
            same folder resumes), ``optimizer`` (a nevergrad registry name, default
            ``SurrogateEvolution``), ``seed`` (default 0: a Lightning seed_everything() called
            before is not read, nor its PL_GLOBAL_SEED, which a config search takes; a
            warning where that holds another seed and no seed is given), ``num_workers``,
            ``scheduler``.
    """

    def __init__(self, model: Any, space: SearchSpace | Mapping[str, Any] | str | os.PathLike,
                 *, data: Any = None,
                 trainer: Mapping[str, Any] | None = None,
                 settings: SearchSettings | None = None,
                 objective: Callable[[dict[str, Any]], Mapping[str, float]] | None = None,
                 model_init_args: Mapping[str, Any] | None = None,
                 data_init_args: Mapping[str, Any] | None = None,
                 on_trial_end: Callable[[TrialResult], None] | None = None,
                 config: Mapping[str, Any] | None = None, cli: Any = None,
                 **options: Any) -> None:
        check_arguments(trainer=trainer, model_init_args=model_init_args,
                        data_init_args=data_init_args, config=config, settings=settings,
                        on_trial_end=on_trial_end)
        check_fit_keywords(options)  # Trainer.fit's datamodule=, train_dataloaders=
        self.settings = (settings or SearchSettings()).replace(**options)
        self.space = space_argument(space)  # a YAML file's path too
        if self.settings.transfer.warm_start_fill:  # model.width, model.init_args.width: width
            keys = list(flat_params(self.space))
            self.settings = self.settings.replace(warm_start_fill=fill_keys(
                self.settings.transfer.warm_start_fill, keys, self.space.params, hydra=False))
        if objective is not None and not callable(objective):
            raise ConfigError(f"objective must be callable arch -> metrics, got {objective!r}")
        given = {"model": model, "model_init_args": model_init_args, "data": data,
                 "data_init_args": data_init_args}
        unused = [k for k, v in given.items() if v is not None]
        if objective is not None and unused:  # (was: dropped, best.yaml said model: null)
            raise ConfigError(f"an objective= search calls the function instead of training: "
                              f"it builds no model nor data, so {', '.join(unused)} would be "
                              f"ignored; drop {', '.join(unused)} (Search(None, space, "
                              f"objective=...)), or drop objective= to train the model")
        if objective is None:  # a model's costs are counted: none is the monitor
            self.settings.goal.check_counted()
        self.objective = objective
        self.python = config is None  # built in Python (cli= writes a config of its own)
        if self.python and "seed" not in options and (  # a seed= given: the user's choice
                settings is None or settings.goal.seed == SearchSettings().goal.seed):
            warn_unread_seed(self.settings.goal.seed)  # (a config search takes it itself)
        if cli is not None:  # a config of the arguments, built the way of search.cli's
            model, model_init_args, data, data_init_args, config = cli_parts(
                cli, model, model_init_args, data, data_init_args, dict(trainer or {}),
                self.space, config)
        limits = {k: getattr(self.settings.limits, k) for k in ("max_params", "max_flops")}
        if objective is not None and any(v is not None for v in limits.values()):
            key = next(k for k, v in limits.items() if v is not None)
            raise ConfigError(f"{key} is checked before a candidate trains, on its model; an "
                              f"objective= search has no model to count: leave {key} out, "
                              f"and give a constraint on the architecture instead")
        scheduler = self.settings.early_stopping.scheduler
        if objective is not None and scheduler not in (None, "none"):  # (was: a no-op)
            name = scheduler if isinstance(scheduler, str) else type(scheduler).__name__
            raise ConfigError(f"scheduler {name!r} stops weak trials between their epochs; an "
                              f"objective= search's trial is one call of the function, with no "
                              f"epochs: leave scheduler out (search.scheduler: none)")
        self.model = ModelFactory(model if objective is None else _NoModel, model_init_args)
        self.data = DataFactory(data, data_init_args)
        stopping = self.settings.early_stopping  # a scheduler's max_epochs: every trial's
        if objective is None and stopping.active and stopping.max_epochs is not None:
            links_over_trainer([self.model.target, self.data.target],  # (its Trainer's, so
                               {"max_epochs": stopping.max_epochs})  # a link's from it)
        self.trainer = dict(trainer or {})  # (a jsonargparse Namespace too: dict() of it)
        ignored = sorted(k for k in self.trainer if k not in _OBJECTIVE_TRAINER_KEYS)
        if objective is not None and ignored:  # was: ignored without a word
            one = len(ignored) == 1
            warn_user(f"an objective= search calls the function instead of training, so "
                      f"trainer setting{'' if one else 's'} {', '.join(ignored)} "
                      f"{'is' if one else 'are'} ignored (it uses only "
                      f"{', '.join(_OBJECTIVE_TRAINER_KEYS)}); drop "
                      f"{'it' if one else 'them'} from trainer=")
        self.on_trial_end = on_trial_end
        self.config = dict(config) if config else None
        self.template = self._template()
        check_search(self)

    @property
    def run_dir(self) -> Path:
        """The run folder."""
        return self.settings.run_dir

    # ----------------------------------------------------------------- parts
    def _template(self) -> TrialTemplate:
        goal, stopping = self.settings.goal, self.settings.early_stopping
        wanted = set(self.settings.limits.build().needs())
        if goal.objectives is not None:
            wanted |= set(goal.objectives.costs())
        return TrialTemplate(
            model=self.model, data=self.data, trainer=self.trainer, monitor=goal.monitor,
            mode=goal.mode, seed=goal.seed, run_dir=self.run_dir, objective=self.objective,
            max_epochs=stopping.max_epochs if stopping.active else None,
            cost_names=tuple(sorted(wanted)) if self.objective is None else (),
            cli_optim=optim_sections(self.config or {}),
            cli=((self.config or {}).get("search") or {}).get("cli"),  # its own
            places=config_places(self.config),
            logged=() if goal.objectives is None else tuple(  # objective=: all returned
                name for name in goal.objectives.names[1:]
                if self.objective is not None or name not in wanted),
            tie_break=tie_break_of(  # of a trial's epochs tied on the monitor
                None if goal.objectives is None else goal.objectives.modes))

    # ----------------------------------------------------------------- running
    def run(self) -> SearchResult:
        """Run (or resume) the search until the budget or the time limit is reached.

        Returns:
            The ``SearchResult``: every trial, and the best one.

        Raises:
            NoCompletedTrialError: no trial completed (each failed or was rejected, or the
                time limit came first): the error says why and where the failures' errors
                are; its ``result`` is the ``SearchResult``, with ``best`` None.
            SearchError: the search stopped (too many failures, an error every trial would
                hit), the best so far exported.
        """
        exit_if_importing_main()  # a worker importing a script without the __main__ guard
        goal = self.settings.goal
        executor = executor_for(self.settings.execution, self.trainer)
        owned = executor is not self.settings.execution.executor  # a user's is theirs
        # SIGTERM stops it as the executor starts too (was: in the loop only, so that one
        # as Ray waited for its first actor met Ray's handler: a C++ dump, exit code 134)
        with sigterm_exits():
            store, loop = self._searched(executor, owned)
        try:
            best, trials = finish(self.settings, store, self.trainer,
                                  time.monotonic() - loop.start, resumed=loop.resuming)
            result = SearchResult(best=best, trials=trials, run_dir=self.run_dir,
                                  monitor=goal.monitor, mode=goal.mode,
                                  objectives=goal.objectives)
        finally:
            store.close()
        if best is None:  # (was: returned without a word; `result.best.arch` then raised
            # an AttributeError) the CLI exits 1, a Hydra sweep ends in an error, as here
            raise NoCompletedTrialError(nothing_completed(trials, self.run_dir, loop.ended,
                                                          self.python, goal.time_limit),
                                        result)
        return result

    def _searched(self, executor: TrialExecutor, owned: bool) -> tuple[RunStore, SearchLoop]:
        """Start ``executor``, open the store and run the search loop; the executor is
        released at the end (``_release``), the store is left open for ``finish`` (closed
        if this raises)."""
        goal = self.settings.goal
        try:  # connect (e.g. to a Ray cluster) before anything is written to the store
            if isinstance(executor, RayExecutor):  # its actors import what a trial uses
                executor.probe = self.template.spec(0, self.space.sample(seed=0), dry=True)
            if not nothing_left(self.run_dir, goal.budget):  # else the loop's first
                executor.start()  # submit starts it, if a trial is left after all
            store = self._open_store()
        except BaseException:
            _release(executor, owned)
            raise
        try:
            try:
                optimizer = make_optimizer(goal.optimizer, self.space, goal.budget,
                                           num_workers=executor.num_workers, seed=goal.seed)
                try:  # (the replay of a resume tells the optimizer again: it may fail)
                    rule = rule_for(self.settings.early_stopping, goal.mode, unsearched(
                        self.trainer, trainer_options(space_options(self.space), self.trainer,
                                                      config_places(self.config))))
                    loop = SearchLoop(self.settings, self.space, self.template, store,
                                      executor, optimizer, rule,
                                      on_trial_end=self.on_trial_end,
                                      python=self.python)
                    if not loop.resuming:
                        loop.say(self._header(executor.num_workers))
                    loop.run()  # (in sigterm_exits: was for trials in other processes only)
                except (SearchError, ConfigError):  # stopped (max_failures, an error every
                    # trial hits, a constraint or the optimizer that raised): the best so
                    # far is exported
                    self._export_so_far(store)
                    raise
            finally:
                _release(executor, owned)
                close_rank_groups()  # DDP ranks this process kept for the search's trials
        except BaseException:
            store.close()
            raise
        return store, loop

    def _export_so_far(self, store: RunStore) -> None:
        """Export the best of what completed before the search stopped on an error (the
        files a finished search writes: ``best.yaml``, ``best.ckpt``, ``best_config.yaml``)."""
        if (best := store.best(self.settings.goal.mode)) is None:
            return
        export_best(self.run_dir, store)
        if self.settings.verbose:
            done = counted(store.count(TrialStatus.COMPLETED), "completed trial")
            print(f"Wrote {self.run_dir / 'best.yaml'}: the best of the {done} so far (trial "
                  f"{best.trial_id}).", flush=True)

    def _header(self, workers: int) -> str:
        """The search's first line; ``workers``: the trials its executor runs at once (an
        executor object's own count, not the default ``num_workers``: was "1 worker")."""
        goal, size = self.settings.goal, self.space.size()
        scheduler = self.settings.early_stopping.scheduler
        scheduler = type(scheduler).__name__ if isinstance(scheduler, Rule) else scheduler
        sched = "" if scheduler == "none" else f", scheduler {scheduler}"
        budget = f"budget {counted(goal.budget, 'trial')}" if goal.budget else "no budget"
        limit = f"time limit {goal.time_limit}s" if goal.time_limit else "no time limit"
        name = self.model.name if self.objective is None else \
            getattr(self.objective, "__name__", "the objective")  # no model: a function
        return (f"Searching {name} in {self.run_dir}: {goal.optimizer}{sched}, "
                f"{budget}, {limit}, {counted(workers, 'worker')}, space of "
                f"{'infinitely many' if size == math.inf else int(size)} architectures, "
                f"{scored_by(goal)}")

    def check_run_dir(self) -> None:
        """Refuse, as ``run`` would, a run folder holding a search this one may not resume
        (another space, monitor or mode, trials that ran with other settings) or a search
        may not write into (``check_search_folder``), reading it as it is: nothing written,
        no lock taken (``lightning-nas search --print_config``).

        Raises:
            ConfigError: naming what differs.
        """
        if not check_search_folder(self.run_dir):  # (was: not checked, a new search's)
            check_as_it_is(self.run_dir, self._fixed(), check=self._check_setup)

    def _check_setup(self, store: RunStore) -> None:
        """Refuse a resume of a run whose trials ran with other settings (``check_resume``)."""
        current, space = self._current(), self.space.to_dict()  # an instance's fields a
        completed = store.count(TrialStatus.COMPLETED)  # group sets: every trial's the group's
        check_resume(self.run_dir, searched_out(stored_setup(store, current, self.data.target),
                                                space), searched_out(current, space),
                     completed, fixable_settings(store, completed))

    def _fixed(self) -> dict[str, Any]:
        """What a run keeps across resumes, as ``open_search_store`` takes it."""
        goal = self.settings.goal
        objectives = None if goal.objectives is None else goal.objectives.to_dict()
        return {"space": self.space.to_dict(), "monitor": goal.monitor, "mode": goal.mode,
                "objectives": objectives, **self.settings.transfer.fixed()}

    def _current(self) -> dict[str, Any]:
        """This invocation's setup, as ``check_resume`` compares it with the stored one."""
        return current_setup(self.settings.flat(), self.model, self.data, self.trainer,
                             self.config)

    def _open_store(self) -> RunStore:
        goal = self.settings.goal
        # held first: a second search (or a one-shot run) on the folder meanwhile is refused
        # the settings too, on search.db as it is: a refused resume writes nothing (was:
        # checked after an older version's store was migrated)
        store = open_search_store(self.run_dir, self._fixed(), hold=True,
                                  check=self._check_setup)
        current = self._current()
        self._keep_stored_order(store.get_meta("space"))
        for key, value in current.items():
            if value is not None:
                store.set_meta(key, value)
        store.set_meta("seed", goal.seed)
        store.set_meta("trainer_objects", sorted(set(self.trainer) - set(current["trainer"])))
        if self.data.target is not None and self.data.path is None:  # finetune asks for it
            store.set_meta("data_object", type(self.data.target).__name__)
        store.set_meta("versions", package_versions())
        store.set_driver()
        self.template = dataclasses.replace(self.template, log_label=store.get_meta("log_label"))
        return store

    def _keep_stored_order(self, stored: dict[str, Any]) -> None:
        """Resume with the stored order of the space's keys (the same space written in
        another order would give nevergrad another parametrization, and other proposals)."""
        if json.dumps(stored) != json.dumps(self.space.to_dict()):
            self.space = SearchSpace.from_dict(stored)


def _release(executor: TrialExecutor, owned: bool) -> None:
    """End what the search started: an executor it made is shut down; a user's keeps its
    idle worker processes for the next search, but not those still running a trial of this
    one (a search that stopped while it ran: was left running, and the next search found
    the worker busy), nor its Ray actors, which the next ``start`` would replace anyway
    (was: held the cluster's CPUs/GPUs, a trial left running ran on); a ``FuturesExecutor``
    of the user's cancels the trials its pool has not started (``shutdown``, which leaves
    the pool running).

    Example:
        >>> from lightning_nas.search.executor import InlineExecutor
        >>> _release(InlineExecutor(), owned=True)
    """
    if owned:
        executor.shutdown()
    elif isinstance(executor, RayExecutor):
        executor.end_actors()
    elif isinstance(executor, ProcessExecutor):
        executor.end_trials()
    elif isinstance(executor, FuturesExecutor):  # its pool's trials not started: cancelled
        executor.shutdown()  # (was: left to run after the search; the pool is kept)


class _NoModel(pl.LightningModule):
    """Stands in for the model of an objective search (nothing is built)."""

    def __init__(self, **arch: Any) -> None:
        super().__init__()
