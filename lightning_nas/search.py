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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning_nas.builders import ConfigError, DataFactory, ModelFactory, check_trainer_kwargs
from lightning_nas.executors import InlineExecutor, make_executor
from lightning_nas.export import export_best
from lightning_nas.launch import check_strategy
from lightning_nas.space import SearchSpace, arch_key
from lightning_nas.store import RunStore
from lightning_nas.strategies import make_optimizer
from lightning_nas.trial import TrialResult, TrialSpec, TrialStatus
from lightning_nas.versions import package_versions

__all__ = ["Search", "SearchError", "SearchResult", "format_arch"]

#: consecutive proposals of already-evaluated architectures before the search gives up
MAX_REPEATS = 200
#: runs of a trial that keep killing the search process before it is stored as FAILED
MAX_ATTEMPTS = 2


class SearchError(RuntimeError):
    """The search cannot go on (an error every trial would hit, too many failures)."""


@dataclass
class SearchResult:
    """What ``Search.run`` returns: the best trial and all trials, best first on request."""

    best: TrialResult | None
    trials: list[TrialResult]
    run_dir: Path
    monitor: str
    mode: str

    def leaderboard(self, k: int | None = None) -> list[TrialResult]:
        """COMPLETED trials sorted best first."""
        done = [t for t in self.trials if t.status is TrialStatus.COMPLETED]
        done.sort(key=lambda t: (-t.score if self.mode == "max" else t.score, t.trial_id))
        return done if k is None else done[:k]


def format_arch(arch: Mapping[str, Any], prefix: str = "") -> str:
    """``key=value`` pairs on one line, floats with 4 significant digits.

    Example:
        >>> format_arch({"k": 3, "lr": 0.0012345, "head": {"w": 8}})
        'k=3 lr=0.001234 head.w=8'
    """
    parts = []
    for k, v in arch.items():
        if isinstance(v, Mapping):
            parts.append(format_arch(v, f"{prefix}{k}."))
        else:
            parts.append(f"{prefix}{k}={v:.4g}" if isinstance(v, float) else f"{prefix}{k}={v}")
    return " ".join(parts)


class Search:
    """A multi-trial architecture search over a user's LightningModule.

    Args:
        model: a LightningModule class (or import path) whose ``__init__`` takes the space's
            keys, or a callable ``arch -> LightningModule``.
        space: a ``SearchSpace`` or its YAML mapping form.
        data: a LightningDataModule instance, class or import path (or None when the model
            has its own dataloaders).
        model_init_args: fixed keyword arguments for a model class.
        data_init_args: keyword arguments for a data class.
        trainer: ``lightning.pytorch.Trainer`` keyword arguments for every trial
            (LightningCLI ``class_path`` specs allowed for callbacks and loggers).
        optimizer: a name from nevergrad's optimizer registry.
        budget: number of trials to train to completion (failed trials do not count).
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
        verbose: print one line per trial and a summary.
        on_trial_end: called with each finished trial's result, after it is stored.
        config: the full config the search came from (stored; used by export).
    """

    def __init__(self, model: Any, space: SearchSpace | Mapping[str, Any], *, data: Any = None,
                 model_init_args: Mapping[str, Any] | None = None,
                 data_init_args: Mapping[str, Any] | None = None,
                 trainer: Mapping[str, Any] | None = None, optimizer: str = "NGOpt",
                 budget: int | None = 20, time_limit: float | None = None,
                 monitor: str = "val_acc", mode: str = "max", seed: int | None = 0,
                 run_dir: str | os.PathLike = "runs/nas", max_failures: int = 5,
                 keep_top_k: int = 3, num_workers: int = 1, executor: Any = "auto",
                 devices_per_trial: int | None = None, threads_per_trial: int | None = None,
                 max_trials_per_worker: int | None = None,
                 ray: Mapping[str, Any] | None = None, verbose: bool = True,
                 on_trial_end: Callable[[TrialResult], None] | None = None,
                 config: Mapping[str, Any] | None = None) -> None:
        self.space = space if isinstance(space, SearchSpace) else SearchSpace.from_dict(space)
        self.model = ModelFactory(model, model_init_args)
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
        self.verbose, self.on_trial_end = verbose, on_trial_end
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
        self.model.check(self.space.names())
        check_trainer_kwargs(self.trainer)
        check_strategy(self.trainer)
        if isinstance(self.executor, str):  # name, workers and device slices; starts nothing
            executor = make_executor(self.executor, self.num_workers, self.trainer,
                                     self.devices_per_trial, self.threads_per_trial,
                                     self.max_trials_per_worker, self.ray)
            if not isinstance(executor, InlineExecutor):
                self._check_picklable()
        make_optimizer(self.optimizer_name, self.space, self.budget)  # name check

    def _check_picklable(self) -> None:
        """Worker processes receive the trial spec pickled: fail now, not in a worker."""
        try:
            pickle.dumps(self._spec(0, self.space.sample(seed=0)))
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
                repr(self.executor)}

    def _open_store(self) -> RunStore:
        store = RunStore(self.run_dir / "search.db")
        old_space = store.get_meta("space")
        if old_space is not None:
            for key, old, new in (("space", old_space, self.space.to_dict()),
                                  ("monitor", store.get_meta("monitor"), self.monitor),
                                  ("mode", store.get_meta("mode"), self.mode)):
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

    # ----------------------------------------------------------------- the loop
    def _loss(self, result: TrialResult, seen: dict[str, float]) -> float:
        if result.status is TrialStatus.COMPLETED and result.score is not None:
            return -result.score if self.mode == "max" else result.score
        # a failed architecture is told as worse than anything seen so far
        return (max(seen.values()) if seen else 0.0) + 1.0

    def _spec(self, trial_id: int, arch: dict[str, Any]) -> TrialSpec:
        return TrialSpec(trial_id=trial_id, arch=arch,
                         trial_dir=str(self.run_dir / "trials" / f"trial_{trial_id:04d}"),
                         model=self.model.target, model_init_args=self.model.init_args,
                         data=self.data.target, data_init_args=self.data.init_args,
                         trainer=self.trainer, monitor=self.monitor, mode=self.mode,
                         seed=self.seed)

    def run(self) -> SearchResult:
        """Run (or resume) the search until the budget or the time limit is reached."""
        store = self._open_store()
        try:
            return self._run(store)
        finally:
            store.close()

    def _replay(self, store: RunStore, optimizer: Any) -> dict[str, float]:
        """Tell every finished trial to a fresh optimizer; return ``{arch_key: loss}``."""
        seen: dict[str, float] = {}
        for old in store.trials():
            if old.status in (TrialStatus.COMPLETED, TrialStatus.FAILED):
                loss = self._loss(old, seen)
                optimizer.tell(optimizer.parametrization.spawn_child(new_value=old.arch), loss)
                seen[arch_key(old.arch)] = loss
        return seen

    def _interrupted(self, store: RunStore) -> list[TrialResult]:
        """Trials that were running when an earlier process died; a trial that was already
        re-run ``MAX_ATTEMPTS`` times (it kills the process running it) becomes FAILED."""
        out = []
        for trial in store.trials(TrialStatus.RUNNING):
            if store.attempts(trial.trial_id) >= MAX_ATTEMPTS:
                trial.status = TrialStatus.FAILED
                trial.error = (f"the search process died {MAX_ATTEMPTS} times while running "
                               f"this trial; use executor 'process' to isolate trials")
                store.finish_trial(trial)
            else:
                out.append(trial)
        return out

    def _announce(self, store: RunStore, completed: int, interrupted: int) -> None:
        if completed or interrupted:
            self._say(f"Resuming {self.run_dir}: {completed} completed, "
                      f"{store.count(TrialStatus.FAILED)} failed, {interrupted} to re-run")
            return
        size = self.space.size()
        self._say(f"Searching {self.model.name} in {self.run_dir}: {self.optimizer_name}, "
                  f"budget {self.budget or '-'} trials, time limit {self.time_limit or '-'}s, "
                  f"{self.num_workers} worker(s), space of "
                  f"{'infinitely many' if size == math.inf else int(size)} architectures, "
                  f"{self.monitor} ({self.mode})")

    def _run(self, store: RunStore) -> SearchResult:
        executor = make_executor(self.executor, self.num_workers, self.trainer,
                                 self.devices_per_trial, self.threads_per_trial,
                                 self.max_trials_per_worker, self.ray)
        optimizer = make_optimizer(self.optimizer_name, self.space, self.budget,
                                   num_workers=executor.num_workers, seed=self.seed)
        seen = self._replay(store, optimizer)
        interrupted = self._interrupted(store)
        failed = store.count(TrialStatus.FAILED)
        if failed > self.max_failures:
            raise SearchError(f"{failed} trials of {self.run_dir} failed (max_failures="
                              f"{self.max_failures}); see `lightning-nas show {self.run_dir}`")
        completed = store.count(TrialStatus.COMPLETED)
        self._announce(store, completed, len(interrupted))
        start = time.monotonic()
        owned = executor is not self.executor  # a user's executor is theirs to shut down
        try:
            self._loop(store, executor, optimizer, seen, interrupted, completed, start)
        finally:
            if owned:
                executor.shutdown()
        return self._finish(store, time.monotonic() - start)

    def _loop(self, store: RunStore, executor: Any, optimizer: Any, seen: dict[str, float],
              interrupted: list[TrialResult], completed: int, start: float) -> None:
        """Keep ``executor.num_workers`` trials running; store and tell results."""
        asking = True
        running: dict[int, tuple[dict[str, Any], Any]] = {}  # trial id -> (arch, candidate)
        twins: dict[str, list[Any]] = {}  # candidates proposing an arch that is running
        size = self.space.size()

        def may_start() -> bool:
            nonlocal asking
            if self.budget is not None and completed + len(running) >= self.budget:
                return False
            if self.time_limit is not None and time.monotonic() - start >= self.time_limit:
                if asking:
                    self._say(f"Time limit of {self.time_limit:g}s reached.")
                asking = False
            if asking and len(seen) + len(running) >= size:
                self._say(f"All {int(size)} architectures of the space are evaluated.")
                asking = False
            return asking or bool(interrupted)

        while True:
            while len(running) < executor.num_workers and may_start():
                if interrupted:
                    old = interrupted.pop(0)
                    store.restart_trial(old.trial_id)
                    candidate = optimizer.parametrization.spawn_child(new_value=old.arch)
                    trial_id, arch = old.trial_id, old.arch
                else:
                    proposal = self._propose(optimizer, seen, twins)
                    if proposal is None:  # only repeats: wait for running trials, or stop
                        if not running:
                            self._say(f"The optimizer proposed {MAX_REPEATS} evaluated "
                                      f"architectures in a row; stopping.")
                            asking = False
                        break
                    arch, candidate = proposal
                    trial_id = store.start_trial(arch)
                twins.setdefault(arch_key(arch), [])
                running[trial_id] = (arch, candidate)
                executor.submit(self._spec(trial_id, arch))
            if not running:
                return
            for result in executor.wait():
                arch, candidate = running.pop(result.trial_id)
                store.finish_trial(result)
                loss = self._loss(result, seen)
                key = arch_key(arch)
                for told in [candidate, *twins.pop(key, [])]:
                    optimizer.tell(told, loss)
                seen[key] = loss
                if result.status is TrialStatus.COMPLETED:
                    completed += 1
                    self._keep_top_checkpoints(store)
                self._report(store, result, completed)
                if self.on_trial_end is not None:
                    self.on_trial_end(result)
                self._check_failures(store, result)

    def _propose(self, optimizer: Any, seen: dict[str, float],
                 twins: dict[str, list[Any]]) -> tuple[dict[str, Any], Any] | None:
        """Ask until a new architecture comes; repeats are told their score (or wait for
        the running twin's). None after ``MAX_REPEATS`` repeats in a row."""
        for _ in range(MAX_REPEATS):
            candidate = optimizer.ask()
            arch = self.space.validate(candidate.value)
            key = arch_key(arch)
            if key in seen:
                optimizer.tell(candidate, seen[key])
            elif key in twins:
                twins[key].append(candidate)
            else:
                return arch, candidate
        return None

    def _check_failures(self, store: RunStore, result: TrialResult) -> None:
        if result.status is not TrialStatus.FAILED:
            return
        first_line = (result.error or "").splitlines()[0] if result.error else ""
        if result.fatal:
            raise SearchError(f"trial {result.trial_id} failed with an error every trial would "
                              f"hit: {first_line}")
        failed = store.count(TrialStatus.FAILED)
        if failed > self.max_failures:
            raise SearchError(f"{failed} trials failed (max_failures={self.max_failures}); "
                              f"last error: {first_line}. See "
                              f"`lightning-nas show {self.run_dir}` for all errors.")

    def _keep_top_checkpoints(self, store: RunStore) -> None:
        top = {t.trial_id for t in store.leaderboard(self.mode, k=self.keep_top_k)}
        for trial in store.trials(TrialStatus.COMPLETED):
            if trial.checkpoint and trial.trial_id not in top:
                store.clear_checkpoint(trial.trial_id)  # the store first: never a dangling path
                Path(trial.checkpoint).unlink(missing_ok=True)

    def _report(self, store: RunStore, result: TrialResult, completed: int) -> None:
        if not self.verbose:
            return
        best = store.best(self.mode)
        of = f"/{self.budget}" if self.budget else ""
        done = f"{completed:>{len(str(self.budget or ''))}}{of}"
        if result.status is TrialStatus.COMPLETED:
            outcome = f"{self.monitor}={result.score:.4f}"
        else:
            outcome = f"FAILED ({(result.error or '').splitlines()[0][:100]})"
        best_txt = f"best={best.score:.4f} (#{best.trial_id})" if best else "best=-"
        took = (result.finished or 0) - (result.started or 0)
        self._say(f"[trial {result.trial_id:>3} | {done} done] {outcome:<22} "
                  f"{best_txt:<20} {took:6.1f}s  {format_arch(result.arch)}")

    def _finish(self, store: RunStore, elapsed: float) -> SearchResult:
        trials = store.trials()
        best = store.best(self.mode)
        if best is not None:
            export_best(self.run_dir, store)
        counts = {s: sum(t.status is s for t in trials) for s in TrialStatus}
        if best is not None:
            self._say(f"Search finished in {elapsed:.1f}s: {counts[TrialStatus.COMPLETED]} "
                      f"completed, {counts[TrialStatus.FAILED]} failed. Best {self.monitor}="
                      f"{best.score:.4f} (trial {best.trial_id}): {format_arch(best.arch)}\n"
                      f"Wrote {self.run_dir / 'best.yaml'} and {self.run_dir / 'search.db'}")
        else:
            self._say(f"Search finished in {elapsed:.1f}s with no completed trial.")
        return SearchResult(best=best, trials=trials, run_dir=self.run_dir,
                            monitor=self.monitor, mode=self.mode)

    def _say(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)


def _is_plain(value: Any) -> bool:
    """Whether ``value`` is JSON data (mappings, lists, str, numbers, bools, None)."""
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))
