"""``Search``: a multi-trial architecture search over a user's LightningModule, and the
``SearchResult`` it returns.

``Search`` checks everything that can be checked before a trial trains, opens (or resumes)
the run store, and hands a ``SearchLoop`` its settings, a ``TrialTemplate``, an executor and
a nevergrad optimizer.

Example:
    >>> from lightning_nas import Search
    >>> search = Search("examples.digits.model.DigitsCNN",  # doctest: +SKIP
    ...                 {"num_layers": {"choice": [2, 3]}},
    ...                 data="examples.digits.data.DigitsDataModule",
    ...                 trainer={"max_epochs": 2}, budget=4, run_dir="runs/demo")
    >>> result = search.run()  # doctest: +SKIP
    >>> result.best.arch  # doctest: +SKIP
    {'num_layers': 3}
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightning_nas.config.factories import (
    DataFactory,
    ModelFactory,
    check_search_trainer,
    check_trainer_kwargs,
    check_validation_runs,
)
from lightning_nas.config.instantiate import short
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.export import export_best
from lightning_nas.results import TrialResult, TrialStatus, leaderboard
from lightning_nas.search.costs import check_counting
from lightning_nas.search.executor import InlineExecutor, TrialExecutor
from lightning_nas.search.executors import check_devices_per_trial, make_executor
from lightning_nas.search.lifetime import sigterm_exits
from lightning_nas.search.loop import SearchLoop
from lightning_nas.search.objectives import Objectives, pareto_front
from lightning_nas.search.ranks import close_rank_groups
from lightning_nas.search.ray_executor import RayExecutor
from lightning_nas.search.resume import check_resume, current_setup, stored_setup
from lightning_nas.search.rule_checks import check_validates_each_epoch, module_callbacks
from lightning_nas.search.runner import check_sendable, check_trial_processes
from lightning_nas.search.schedulers import Rule, make_rule
from lightning_nas.search.settings import SearchSettings
from lightning_nas.search.space_values import (
    check_trainer_combinations,
    space_options,
    trainer_options,
    value_at,
    with_value,
)
from lightning_nas.search.summary import finish
from lightning_nas.search.template import TrialTemplate
from lightning_nas.search.warm import check_fill
from lightning_nas.space import SearchSpace
from lightning_nas.store import RunStore, check_as_it_is, open_search_store
from lightning_nas.store_checks import check_search_folder
from lightning_nas.strategies import check_optimizer_runs, make_optimizer
from lightning_nas.versions import package_versions

__all__ = ["DRY_BUILD_ARCHS", "Search", "SearchResult"]

#: sampled architectures a dry build tries before a model or data error is a config error
DRY_BUILD_ARCHS = 5


@dataclass
class SearchResult:
    """What ``Search.run`` returns: the best trial and all trials, best first on request."""

    best: TrialResult | None
    trials: list[TrialResult]
    run_dir: Path
    monitor: str
    mode: str
    objectives: Objectives | None = None

    def leaderboard(self, k: int | None = None) -> list[TrialResult]:
        """COMPLETED trials, best first, in the store's order (``best`` first: ties by the
        later objectives, then the earlier trial)."""
        done = leaderboard(self.trials, self.mode,
                           None if self.objectives is None else self.objectives.to_dict())
        return done if k is None else done[:k]

    def pareto_front(self) -> list[TrialResult]:
        """The COMPLETED trials no other trial beats in every objective (multi-objective
        searches; the leaderboard's best trial alone otherwise)."""
        if self.objectives is None:
            return self.leaderboard(1)
        return pareto_front(self.leaderboard(), self.objectives)


class Search:
    """A multi-trial architecture search over a user's LightningModule.

    Args:
        model: a LightningModule class (or import path) whose ``__init__`` takes the space's
            keys, or a callable ``arch -> LightningModule``.
        space: a ``SearchSpace`` or its YAML mapping form.
        data: a LightningDataModule instance, class or import path, a callable
            ``arch -> LightningDataModule`` (or None when the model has its own dataloaders).
        trainer: ``lightning.pytorch.Trainer`` keyword arguments for every trial
            (LightningCLI ``class_path`` specs allowed for callbacks and loggers).
        settings: a ``SearchSettings``; ``**options`` change single settings of it.
        objective: instead of training, evaluate ``objective(arch) -> {metric: value}``
            (tabular benchmarks, cheap proxies); ``model`` may then be None.
        model_init_args: fixed keyword arguments for a model class.
        data_init_args: keyword arguments for a data class.
        on_trial_end: called with each finished trial's result, after it is stored.
        config: the full config the search came from (stored; used by export).
        **options: any setting by its flat name (``SearchSettings.keys()``); the common ones:
            ``budget`` (trials, default 20), ``monitor`` (default ``"val_acc"``), ``mode``
            (``"max"``/``"min"``), ``run_dir`` (default ``"runs/nas"``; the same folder
            resumes), ``optimizer`` (a nevergrad registry name, default
            ``SurrogateEvolution``), ``seed``, ``num_workers``, ``scheduler``.
    """

    def __init__(self, model: Any, space: SearchSpace | Mapping[str, Any], *, data: Any = None,
                 trainer: Mapping[str, Any] | None = None,
                 settings: SearchSettings | None = None,
                 objective: Callable[[dict[str, Any]], Mapping[str, float]] | None = None,
                 model_init_args: Mapping[str, Any] | None = None,
                 data_init_args: Mapping[str, Any] | None = None,
                 on_trial_end: Callable[[TrialResult], None] | None = None,
                 config: Mapping[str, Any] | None = None, **options: Any) -> None:
        _check_arguments(trainer=trainer, model_init_args=model_init_args,
                         data_init_args=data_init_args, config=config, settings=settings,
                         on_trial_end=on_trial_end)
        self.settings = (settings or SearchSettings()).replace(**options)
        self.space = space if isinstance(space, SearchSpace) else SearchSpace.from_dict(space)
        if objective is not None and not callable(objective):
            raise ConfigError(f"objective must be callable arch -> metrics, got {objective!r}")
        self.objective = objective
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
        self.trainer = dict(trainer or {})
        self.on_trial_end = on_trial_end
        self.config = dict(config) if config else None
        self.template = self._template()
        self._check()

    @property
    def run_dir(self) -> Path:
        """The run folder."""
        return self.settings.run_dir

    # ----------------------------------------------------------------- checks
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
            logged=() if goal.objectives is None else tuple(  # objective=: all returned
                name for name in goal.objectives.names[1:]
                if self.objective is not None or name not in wanted))

    def _check(self) -> None:
        """Everything that can be checked before a trial trains, then a dry build of a
        trial's model, data and Trainer (nothing trains, nothing is written)."""
        self.space.check_searchable("or train it with lightning-nas fit")
        executor = self.settings.execution.executor  # a TrialExecutor says its workers
        workers = (executor.num_workers if isinstance(executor, TrialExecutor)
                   else self.settings.execution.num_workers)
        check_optimizer_runs(self.settings.goal.optimizer, self.space, self.settings.goal.budget,
                             workers, warm=bool(self.settings.transfer.warm_start))
        check_devices_per_trial(executor, workers, self.settings.execution.devices_per_trial,
                                self.trainer, self.settings.execution.ray)  # CPU trials
        check_trainer_kwargs(self.trainer)
        check_validation_runs(self.trainer, self.settings.goal.monitor)
        check_search_trainer(self.trainer)
        check_fill(self.space, self.settings.transfer.warm_start_fill)
        archs = [self.space.sample(seed=(self.settings.goal.seed or 0) + i)
                 for i in range(DRY_BUILD_ARCHS)]
        searched = trainer_options(space_options(self.space))  # trainer.* keys' values
        # DDP trials: rank processes of their own (the config's Trainer or a searched one)
        ranks = check_trial_processes(self.trainer, searched)
        self.model.check(self.space.names())
        self.model.check_groups(archs[0])
        self.data.check(self.space.names(), self.model)
        self._check_space_values(archs[0])
        self.settings.limits.build().violation(archs[0], {})  # a constraint that raises
        if ranks is not None or (isinstance(executor, str) and not isinstance(
                self._executor(), InlineExecutor)):
            check_sendable(self.template.spec(0, self.space.sample(seed=0), dry=True), ranks,
                           by_value=executor == "ray")  # Ray's cloudpickle: __main__ by value
        rule = self._rule()
        # trials that run here or in local worker processes: the Trainer is built here too
        model = self.template.dry_build(archs, searched,
                                        trainer=executor in ("auto", "inline", "process"))
        if rule is not None and model is not None:  # its own EarlyStopping would end trials
            check_validates_each_epoch({}, self.settings.early_stopping.scheduler,
                                       module_callbacks(model))
        if self.template.cost_names:  # counting works: check it now
            check_counting(self.template.costs, archs, self.settings.limits.build(),
                           self.settings.goal.objectives)

    def _check_space_values(self, arch: dict[str, Any]) -> None:
        """Every value a space key may take (each option of a choice, the bounds of a
        range; in a group too), set into ``arch``, is checked as a fixed setting is: a
        Trainer argument as the Trainer's, a model or data argument against its annotation;
        then the searched Trainer values together. No trial fails for a value the search
        chose (``limit_val_batches: {choice: [0, 1]}``), and the winner trains again with
        ``lightning-nas fit``, which checks the same."""
        values = space_options(self.space)
        said = self._arch_error(arch)
        if said is not None:  # the sample itself: blame the key whose value it is
            # (one whose other values fit, else one that fails alone)
            path = next((p for p, options in values.items() if any(
                self._arch_error(with_value(arch, p, v)) is None for v in options)),
                next((p for p in values if len(p) == 1 and self._arch_error({p[0]: arch[p[0]]})),
                     None))
            raise ConfigError(said if path is None else f"space key {'.'.join(path)!r} may "
                              f"take {value_at(arch, path)!r}: {said}")
        scheduler = self.settings.early_stopping.scheduler
        scheduler = None if scheduler in (None, "none") else scheduler
        searched = trainer_options(values)
        if scheduler is not None and "max_epochs" in searched:
            name = type(scheduler).__name__ if isinstance(scheduler, Rule) else scheduler
            raise ConfigError(f"space key 'trainer.max_epochs' is searched, but scheduler "
                              f"{name!r} sets every trial's epochs (its rungs, up to "
                              f"search.max_epochs or trainer.max_epochs); search it without "
                              f"a scheduler")
        for path, options in values.items():
            key = ".".join(path)  # a key of a group: checked as its dotted form is
            for value in options:
                try:
                    if len(path) == 1 and key.startswith("trainer."):
                        setting = {key.split(".", 1)[1]: value}
                        check_trainer_kwargs(setting)
                        check_validation_runs({**self.trainer, **setting},
                                              self.settings.goal.monitor)
                        check_search_trainer(setting)
                        if scheduler is not None:  # rungs need validation every epoch
                            check_validates_each_epoch({**self.trainer, **setting},
                                                       scheduler)
                    elif (said := self._arch_error(with_value(arch, path, value))) is not None:
                        raise ConfigError(said)
                except ConfigError as err:
                    raise ConfigError(f"space key {key!r} may take {value!r}: {err}") from None
        # values that each let validation run may not together
        check_trainer_combinations(self.trainer, searched, self.settings.goal.monitor)

    def _arch_error(self, arch: dict[str, Any]) -> str | None:
        """What the model's or the data's annotations say against ``arch``, or None."""
        if self.objective is not None:
            return None
        try:
            self.model.check_arch(arch)
            self.data.check_arch(arch)
        except ConfigError as err:
            return str(err)
        return None

    def _rule(self) -> Rule | None:
        stopping = self.settings.early_stopping
        rule = make_rule(stopping.scheduler, min_epochs=stopping.min_epochs,
                         max_epochs=stopping.max_epochs or self.trainer.get("max_epochs"),
                         eta=stopping.eta, mode=self.settings.goal.mode)
        if rule is not None:
            check_validates_each_epoch(self.trainer, stopping.scheduler)
        return rule

    def _executor(self) -> TrialExecutor:
        ex = self.settings.execution
        return make_executor(ex.executor, ex.num_workers, self.trainer, ex.devices_per_trial,
                             ex.threads_per_trial, ex.max_trials_per_worker, ex.ray)

    # ----------------------------------------------------------------- running
    def run(self) -> SearchResult:
        """Run (or resume) the search until the budget or the time limit is reached."""
        goal = self.settings.goal
        executor = self._executor()
        owned = executor is not self.settings.execution.executor  # a user's is theirs
        try:  # connect (e.g. to a Ray cluster) before anything is written to the store
            if isinstance(executor, RayExecutor):  # its actors import what a trial uses
                executor.probe = self.template.spec(0, self.space.sample(seed=0), dry=True)
            executor.start()
            store = self._open_store()
        except BaseException:
            if owned:
                executor.shutdown()
            raise
        try:
            try:
                optimizer = make_optimizer(goal.optimizer, self.space, goal.budget,
                                           num_workers=executor.num_workers, seed=goal.seed)
                try:  # (the replay of a resume tells the optimizer again: it may fail)
                    loop = SearchLoop(self.settings, self.space, self.template, store,
                                      executor, optimizer, self._rule(),
                                      on_trial_end=self.on_trial_end)
                    if not loop.resuming:
                        loop.say(self._header())
                    with sigterm_exits(executor.isolates_trials):
                        loop.run()
                except (SearchError, ConfigError):  # stopped (max_failures, an error every
                    # trial hits, a constraint or the optimizer that raised): the best so
                    # far is exported
                    self._export_so_far(store)
                    raise
            finally:
                if owned:
                    executor.shutdown()
                close_rank_groups()  # DDP ranks this process kept for the search's trials
            best, trials = finish(self.settings, store, self.trainer,
                                  time.monotonic() - loop.start, resumed=loop.resuming)
            return SearchResult(best=best, trials=trials, run_dir=self.run_dir,
                                monitor=goal.monitor, mode=goal.mode,
                                objectives=goal.objectives)
        finally:
            store.close()

    def _export_so_far(self, store: RunStore) -> None:
        """Export the best of what completed before the search stopped on an error (the
        files a finished search writes: ``best.yaml``, ``best.ckpt``, ``best_config.yaml``)."""
        if (best := store.best(self.settings.goal.mode)) is None:
            return
        export_best(self.run_dir, store)
        if self.settings.verbose:
            print(f"Wrote {self.run_dir / 'best.yaml'}: the best of the "
                  f"{store.count(TrialStatus.COMPLETED)} completed trials so far (trial "
                  f"{best.trial_id}).", flush=True)

    def _header(self) -> str:
        goal, size = self.settings.goal, self.space.size()
        scheduler = self.settings.early_stopping.scheduler
        scheduler = type(scheduler).__name__ if isinstance(scheduler, Rule) else scheduler
        sched = "" if scheduler == "none" else f", scheduler {scheduler}"
        budget = f"budget {goal.budget} trials" if goal.budget else "no budget"
        limit = f"time limit {goal.time_limit}s" if goal.time_limit else "no time limit"
        name = self.model.name if self.objective is None else \
            getattr(self.objective, "__name__", "the objective")  # no model: a function
        return (f"Searching {name} in {self.run_dir}: {goal.optimizer}{sched}, "
                f"{budget}, {limit}, {self.settings.execution.num_workers} worker(s), space of "
                f"{'infinitely many' if size == math.inf else int(size)} architectures, "
                f"{goal.monitor} ({goal.mode})")

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
        current = self._current()
        check_resume(self.run_dir, stored_setup(store, current, self.data.target), current)

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


#: what each mapping argument of ``Search`` takes, for its error
_MAPPINGS = {"trainer": "Trainer keyword arguments (trainer={'max_epochs': 3})",
             "model_init_args": "keyword arguments for the model class",
             "data_init_args": "keyword arguments for the data class",
             "config": "the full config the search came from"}


def _check_arguments(settings: Any, on_trial_end: Any, **mappings: Any) -> None:
    """Refuse an argument of ``Search`` of the wrong kind, naming it and what it takes
    (before anything is built: ``trainer=Trainer(...)`` failed "not iterable"); a mapping is
    anything with ``keys()`` (a jsonargparse ``Namespace`` too)."""
    for name, value in mappings.items():
        if value is not None and not isinstance(value, Mapping) and not hasattr(value, "keys"):
            raise ConfigError(f"{name} must be a mapping of {_MAPPINGS[name]}, got "
                              f"{type(value).__name__} {short(value)}")
    if settings is not None and not isinstance(settings, SearchSettings):
        raise ConfigError(f"settings must be a SearchSettings, got {type(settings).__name__} "
                          f"{short(settings)}; give single settings as keyword arguments "
                          f"(Search(..., budget=3))")
    if on_trial_end is not None and not callable(on_trial_end):
        raise ConfigError(f"on_trial_end must be callable with each finished trial's "
                          f"TrialResult, got {short(on_trial_end)}")


class _NoModel(pl.LightningModule):
    """Stands in for the model of an objective search (nothing is built)."""

    def __init__(self, **arch: Any) -> None:
        super().__init__()
