"""The multi-trial driver: ask -> train -> tell -> store, with budget, time limit and resume.

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

import math
import os
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightning_nas.builders import (
    ConfigError,
    DataFactory,
    ModelFactory,
    check_trainer_kwargs,
    instantiate,
)
from lightning_nas.cfgpaths import is_dotted
from lightning_nas.driver import Driver, SearchError
from lightning_nas.executors import InlineExecutor, TrialExecutor, make_executor
from lightning_nas.export import export_best
from lightning_nas.launch import check_strategy
from lightning_nas.objectives import Constraints, Objectives, model_costs, pareto_front
from lightning_nas.schedulers import Rule, make_rule
from lightning_nas.space import SearchSpace, flatten_arch, format_arch
from lightning_nas.store import RunStore
from lightning_nas.strategies import DEFAULT_OPTIMIZER, make_optimizer
from lightning_nas.trial import (
    TrialResult,
    TrialSpec,
    TrialStatus,
    logger_defaults,
    quiet_lightning,
)
from lightning_nas.versions import package_versions

__all__ = ["Search", "SearchError", "SearchResult", "format_arch"]

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
        """COMPLETED trials sorted best first."""
        done = [t for t in self.trials if t.status is TrialStatus.COMPLETED]
        done.sort(key=lambda t: (-t.score if self.mode == "max" else t.score, t.trial_id))
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
        data: a LightningDataModule instance, class or import path (or None when the model
            has its own dataloaders).
        objective: instead of training, evaluate ``objective(arch) -> {metric: value}``
            (tabular benchmarks such as ``lightning_nas.nb201``, cheap proxies); ``model``
            may then be None. The same driver, store and resume apply.
        model_init_args: fixed keyword arguments for a model class.
        data_init_args: keyword arguments for a data class.
        trainer: ``lightning.pytorch.Trainer`` keyword arguments for every trial
            (LightningCLI ``class_path`` specs allowed for callbacks and loggers).
        optimizer: a name from nevergrad's optimizer registry, which includes the NAS
            strategies of ``lightning_nas.nas_strategies`` (default: ``SurrogateEvolution``,
            chosen on NAS-Bench-201).
        budget: number of trials to train (failed trials do not count).
        time_limit: seconds after which no new trial starts (per invocation).
        monitor: logged metric that scores a trial, read at its best epoch.
        mode: ``"max"`` or ``"min"``.
        seed: seeds the optimizer and every trial (``seed_everything``).
        run_dir: where ``search.db``, trial folders, ``best.yaml`` and ``best.ckpt`` go.
            Running again on the same folder resumes.
        max_failures: the search stops with ``SearchError`` once more trials failed.
        keep_top_k: checkpoints kept on disk (the best ``k`` trials).
        num_workers: trials run at once (nevergrad is told results as they finish).
        executor: ``auto`` (in this process for one worker, else worker processes),
            ``inline``, ``process``, ``ray``, or any object with ``submit(fn, *args)``
            (``concurrent.futures``, Dask's ``client.get_executor()``, submitit).
        devices_per_trial: GPUs per trial; each worker gets its own slice.
        threads_per_trial: torch threads per worker on CPU (default: cores / workers).
        max_trials_per_worker: recycle a worker process after this many trials.
        ray: for ``executor="ray"``: ``ray.init`` arguments (e.g. ``address``) plus per-trial
            ``num_cpus`` / ``num_gpus``.
        scheduler: ``none``, ``asha``, ``hyperband`` or ``median``: stop weak trials early
            (``lightning_nas.schedulers``); with a scheduler, ``budget`` counts the
            architectures started, and the best is chosen among trials that reached
            ``max_epochs``.
        min_epochs: the first rung (``asha``/``hyperband``), or the epochs before ``median``
            may stop a trial.
        max_epochs: epochs of a complete trial (default: the Trainer's ``max_epochs``).
        eta: reduction factor of ``asha``/``hyperband``.
        objectives: several objectives, e.g. ``{"val_acc": "max", "params": "min"}`` (any
            logged metric, or ``params``/``flops`` counted without training); the first is
            the monitor. The result and ``show`` give the Pareto front.
        max_params: candidates with more parameters are never trained.
        max_flops: candidates whose forward pass of ``example_input_array`` costs more are
            never trained.
        constraints: callables ``arch -> bool`` (or a violation amount) checked before a
            candidate is trained; a violating one is told to nevergrad as a violation.
        verbose: print one line per trial and a summary.
        progress: a search-level progress bar (trials / budget, best, ETA): ``True``,
            ``False``, or ``"auto"`` (only when stderr is a terminal).
        on_trial_end: called with each finished trial's result, after it is stored.
        config: the full config the search came from (stored; used by export).
    """

    def __init__(self, model: Any, space: SearchSpace | Mapping[str, Any], *, data: Any = None,
                 objective: Callable[[dict[str, Any]], Mapping[str, float]] | None = None,
                 model_init_args: Mapping[str, Any] | None = None,
                 data_init_args: Mapping[str, Any] | None = None,
                 trainer: Mapping[str, Any] | None = None, optimizer: str = DEFAULT_OPTIMIZER,
                 budget: int | None = 20, time_limit: float | None = None,
                 monitor: str = "val_acc", mode: str = "max", seed: int | None = 0,
                 run_dir: str | os.PathLike = "runs/nas", max_failures: int = 5,
                 keep_top_k: int = 3, num_workers: int = 1, executor: Any = "auto",
                 devices_per_trial: int | None = None, threads_per_trial: int | None = None,
                 max_trials_per_worker: int | None = None,
                 ray: Mapping[str, Any] | None = None, scheduler: str = "none",
                 min_epochs: int = 1, max_epochs: int | None = None, eta: int = 3,
                 objectives: Mapping[str, str] | None = None,
                 max_params: float | None = None, max_flops: float | None = None,
                 constraints: Sequence[Callable[[dict[str, Any]], Any]] = (),
                 verbose: bool = True, progress: bool | str = "auto",
                 on_trial_end: Callable[[TrialResult], None] | None = None,
                 config: Mapping[str, Any] | None = None) -> None:
        self.space = space if isinstance(space, SearchSpace) else SearchSpace.from_dict(space)
        self.objective = objective
        if objective is not None and not callable(objective):
            raise ConfigError(f"objective must be callable arch -> metrics, got {objective!r}")
        self.model = ModelFactory(model if objective is None else _NoModel, model_init_args)
        self.data = DataFactory(data, data_init_args)
        self.trainer = dict(trainer or {})
        self.optimizer_name = optimizer
        self.budget, self.time_limit = budget, time_limit
        self.monitor, self.mode, self.seed = monitor, mode, seed
        self.run_dir = Path(run_dir)
        self.max_failures, self.keep_top_k = max_failures, keep_top_k
        self.num_workers, self.executor = num_workers, executor
        self.devices_per_trial, self.threads_per_trial = devices_per_trial, threads_per_trial
        self.max_trials_per_worker, self.ray = max_trials_per_worker, dict(ray or {})
        self.scheduler, self.min_epochs = scheduler, min_epochs
        self.max_epochs, self.eta = max_epochs, eta
        self.verbose, self.on_trial_end, self.progress = verbose, on_trial_end, progress
        self.objectives = Objectives(objectives) if objectives else None
        if self.objectives is not None:  # the first objective is the monitor
            self.monitor = self.objectives.names[0]
            self.mode = self.objectives.modes[self.monitor]
        self.constraints = Constraints(max_params, max_flops, constraints)
        self.config = dict(config) if config else None
        self._check()

    # ----------------------------------------------------------------- checks
    def _check(self) -> None:
        """Everything that can be checked before a trial trains."""
        if self.mode not in ("max", "min"):
            raise ConfigError(f"`mode` can be max, min; got {self.mode!r}")
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ConfigError(f"`monitor` must name a logged metric, got {self.monitor!r}")
        if self.budget is None and self.time_limit is None:
            raise ConfigError("give a `budget` (trials) and/or a `time_limit` (seconds)")
        if self.budget is not None and (not isinstance(self.budget, int) or self.budget < 1):
            raise ConfigError(f"`budget` must be a positive integer, got {self.budget!r}")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ConfigError(f"`time_limit` must be positive seconds, got {self.time_limit!r}")
        if self.max_failures < 0 or self.keep_top_k < 1:
            raise ConfigError(f"need max_failures >= 0 and keep_top_k >= 1, got "
                              f"{self.max_failures}, {self.keep_top_k}")
        if not isinstance(self.num_workers, int) or self.num_workers < 1:
            raise ConfigError(f"`num_workers` must be a positive integer, got "
                              f"{self.num_workers!r}")
        self.model.check([k for k in self.space.names() if not is_dotted(k)])
        if self.objective is None and self.cost_names():  # counting works: check it now
            self.costs(self.space.sample(seed=0))
        check_trainer_kwargs(self.trainer)
        check_strategy(self.trainer)
        if isinstance(self.executor, str):  # name, workers and device slices; starts nothing
            if not isinstance(self._executor(), InlineExecutor):
                self._check_picklable()
        self._rule()  # scheduler name and settings
        make_optimizer(self.optimizer_name, self.space, self.budget)  # name check

    def cost_names(self) -> list[str]:
        """Costs to count for each candidate (for constraints and cost objectives)."""
        wanted = set(self.constraints.needs())
        if self.objectives is not None:
            wanted |= set(self.objectives.costs())
        return sorted(wanted) if self.objective is None else []

    def costs(self, arch: dict[str, Any]) -> dict[str, float]:
        """``params`` (and ``flops`` if needed) of ``arch``'s model, without training."""
        if not self.cost_names():
            return {}
        with quiet_lightning():
            return model_costs(self.model.build, arch, flops="flops" in self.cost_names())

    def _check_picklable(self) -> None:
        """Worker processes receive the trial spec pickled: fail now, not in a worker."""
        try:
            pickle.dumps(self.spec(0, self.space.sample(seed=0)))
        except Exception as err:  # noqa: BLE001 - any pickling error
            raise ConfigError(f"the model or data cannot be sent to worker processes ({err}); "
                              f"define them at module level in an importable module, or use "
                              f"import paths") from err

    def _settings(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer_name, "budget": self.budget,
                "time_limit": self.time_limit, "monitor": self.monitor, "mode": self.mode,
                "seed": self.seed, "max_failures": self.max_failures,
                "keep_top_k": self.keep_top_k, "num_workers": self.num_workers,
                "executor": self.executor if isinstance(self.executor, str) else
                repr(self.executor), "scheduler": self.scheduler,
                "min_epochs": self.min_epochs, "max_epochs": self.max_epochs, "eta": self.eta}

    def _open_store(self) -> RunStore:
        store = RunStore(self.run_dir / "search.db")
        old_space = store.get_meta("space")
        if old_space is not None:
            objectives = None if self.objectives is None else self.objectives.to_dict()
            for key, old, new in (("space", old_space, self.space.to_dict()),
                                  ("monitor", store.get_meta("monitor"), self.monitor),
                                  ("mode", store.get_meta("mode"), self.mode),
                                  ("objectives", store.get_meta("objectives"), objectives)):
                if old != new:
                    store.close()
                    raise ConfigError(
                        f"{self.run_dir} holds a search with a different {key} "
                        f"(stored {old!r}, now {new!r}); resume with the same {key}, or choose "
                        f"another run_dir")
        else:
            store.set_meta("created", time.time())
            store.set_meta("space", self.space.to_dict())
            store.set_meta("monitor", self.monitor)
            store.set_meta("mode", self.mode)
            store.set_meta("objectives", None if self.objectives is None else
                           self.objectives.to_dict())
        store.set_meta("settings", self._settings())
        store.set_meta("seed", self.seed)
        store.set_meta("versions", package_versions())
        store.set_meta("model", {"class_path": self.model.path,
                                 "init_args": self.model.init_args})
        store.set_meta("data", {"class_path": self.data.path, "init_args": self.data.init_args})
        # objects (callbacks given from Python) cannot be stored; fine-tune takes them again
        store.set_meta("trainer", {k: v for k, v in self.trainer.items() if _is_plain(v)})
        if self.config is not None:
            store.set_meta("config", self.config)
        return store

    # ----------------------------------------------------------------- running
    def trial_dir(self, trial_id: int) -> str:
        """The folder of trial ``trial_id``."""
        return str(self.run_dir / "trials" / f"trial_{trial_id:04d}")

    def spec(self, trial_id: int, arch: dict[str, Any]) -> TrialSpec:
        """What a worker needs to run trial ``trial_id``."""
        trainer = dict(self.trainer)
        trainer.update({k.split(".", 1)[1]: v for k, v in arch.items()
                        if k.startswith("trainer.")})  # a searched Trainer argument
        if self.scheduler != "none" and self.max_epochs is not None:
            trainer["max_epochs"] = self.max_epochs
        return TrialSpec(trial_id=trial_id, arch=arch, trial_dir=self.trial_dir(trial_id),
                         model=self.model.target, model_init_args=self.model.init_args,
                         data=self.data.target, data_init_args=self.data.init_args,
                         trainer=trainer, monitor=self.monitor, mode=self.mode,
                         seed=self.seed, objective=self.objective)

    def _rule(self) -> Rule | None:
        max_epochs = self.max_epochs or self.trainer.get("max_epochs")
        return make_rule(self.scheduler, min_epochs=self.min_epochs, max_epochs=max_epochs,
                         eta=self.eta, mode=self.mode)

    def _executor(self) -> TrialExecutor:
        return make_executor(self.executor, self.num_workers, self.trainer,
                             self.devices_per_trial, self.threads_per_trial,
                             self.max_trials_per_worker, self.ray)

    def run(self) -> SearchResult:
        """Run (or resume) the search until the budget or the time limit is reached."""
        store = self._open_store()
        try:
            executor = self._executor()
            optimizer = make_optimizer(self.optimizer_name, self.space, self.budget,
                                       num_workers=executor.num_workers, seed=self.seed)
            driver = Driver(self, store, executor, optimizer, self._rule())
            self._announce(driver)
            try:
                driver.run()
            finally:
                if executor is not self.executor:  # a user's executor is theirs to shut down
                    executor.shutdown()
            return self._finish(store, time.monotonic() - driver.start)
        finally:
            store.close()

    def _announce(self, driver: Driver) -> None:
        store = driver.store
        if len(store):
            driver.say(f"Resuming {self.run_dir}: {driver.completed} completed, "
                       f"{store.count(TrialStatus.FAILED)} failed, {len(driver.interrupted)} "
                       f"to re-run, {len(driver.paused)} paused")
            return
        size = self.space.size()
        sched = "" if self.scheduler == "none" else f", scheduler {self.scheduler}"
        driver.say(f"Searching {self.model.name} in {self.run_dir}: {self.optimizer_name}"
                   f"{sched}, budget {self.budget or '-'} trials, time limit "
                   f"{self.time_limit or '-'}s, {self.num_workers} worker(s), space of "
                   f"{'infinitely many' if size == math.inf else int(size)} architectures, "
                   f"{self.monitor} ({self.mode})")

    def _finish(self, store: RunStore, elapsed: float) -> SearchResult:
        trials = store.trials()
        best = store.best(self.mode)
        if best is not None:
            export_best(self.run_dir, store)
        counts = {s: sum(t.status is s for t in trials) for s in TrialStatus}
        self._log_summary(trials, best, counts)
        pruned = f"{counts[TrialStatus.PRUNED]} pruned, " if self.scheduler != "none" else ""
        if best is not None:
            epochs = sum(t.epochs or 0 for t in trials)
            self._say(f"Search finished in {elapsed:.1f}s: {counts[TrialStatus.COMPLETED]} "
                      f"completed, {pruned}{counts[TrialStatus.FAILED]} failed, {epochs} "
                      f"epochs trained. Best {self.monitor}="
                      f"{best.score:.4f} (trial {best.trial_id}): {format_arch(best.arch)}\n"
                      f"Wrote {self.run_dir / 'best.yaml'} and {self.run_dir / 'search.db'}")
        else:
            self._say(f"Search finished in {elapsed:.1f}s with no completed trial.")
        return SearchResult(best=best, trials=trials, run_dir=self.run_dir,
                            monitor=self.monitor, mode=self.mode, objectives=self.objectives)

    def _log_summary(self, trials: list[TrialResult], best: TrialResult | None,
                     counts: dict[TrialStatus, int]) -> None:
        """Log the search to the user's logger (version ``summary`` under ``logs/search``):
        each trial's score and the best so far by trial id, the best architecture and the
        counts as hyperparameters."""
        spec = self.trainer.get("logger")
        if not spec or spec is True or not isinstance(spec, (Mapping, list)):
            return  # no configured logger (or a logger object): nothing to add it to
        loggers = instantiate(logger_defaults(spec, str(self.run_dir / "logs"), "search",
                                              "summary"))
        best_so_far = None
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            for trial in trials:
                if trial.status is not TrialStatus.COMPLETED or trial.score is None:
                    continue
                if best_so_far is None or (trial.score > best_so_far if self.mode == "max"
                                           else trial.score < best_so_far):
                    best_so_far = trial.score
                logger.log_metrics({"trial_score": trial.score, "best_so_far": best_so_far},
                                   step=trial.trial_id)
            summary = {s.value.lower(): n for s, n in counts.items()}
            if best is not None:
                summary |= {**flatten_arch(best.arch), "best_score": best.score,
                            "best_trial": best.trial_id}
            logger.log_hyperparams(summary)
            logger.finalize("success")

    def _say(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)


class _NoModel(pl.LightningModule):
    """Stands in for the model of an objective search (nothing is built)."""

    def __init__(self, **arch: Any) -> None:
        super().__init__()


def _is_plain(value: Any) -> bool:
    """Whether ``value`` is JSON data (mappings, lists, str, numbers, bools, None)."""
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))
