"""``HydraSweep``: the Hydra sweeper ``hydra/sweeper: lightning_nas``, on the search loop
of ``lightning-nas search``.

``hydra_plugins.lightning_nas_sweeper.LightningNASSweeper`` (what Hydra instantiates) is a
shell that forwards ``setup`` and ``sweep`` here. A sweep:

1. parses ``params`` and the command line with Hydra's grammar into a ``SearchSpace``
   (``hydra_grammar``);
2. checks its settings as ``SearchSettings`` (``hydra_settings``) and opens (or resumes) the
   run store ``search.db`` in ``run_dir`` (default: the sweep dir; ``hydra_store``);
3. runs a ``SearchLoop`` whose executor is a ``HydraLauncherExecutor``: every trial is one
   job of the project's own task function, run by the project's launcher; its return
   value is the score;
4. writes ``optimization_results.yaml`` (the best params and value, as the Optuna sweeper
   does: ``hydra_results``) and prints a summary.

So the store, ``lightning-nas show``/``report``, deduplication, failure handling
(``max_failures``), constraints, several objectives and resume after a kill are those of
``lightning-nas search``. What it cannot do: stop weak trials early (schedulers) or run
DDP trials safely, because the launcher owns the job processes: a job cannot be paused and
promoted from its checkpoint, nor re-launched once per rank (a job whose ``trainer`` starts
several processes by re-running the command line is refused before the first job; one
that spawns its ranks, ``ddp_spawn``, runs). A job whose ``trainer`` syncs BatchNorm
(``sync_batchnorm: true``) under DDP on CPU, ``ddp_spawn`` too, set or searched, is refused
before the first job and each job before its launch, as ``lightning-nas search`` refuses it
(``hydra_trainer.check_sync_batchnorm_of``). Use ``lightning-nas search`` for those.

Example (a Hydra application; see ``examples/hydra``)::

    python examples/hydra/src/train.py -m hparams_search=nas hydra.sweeper.budget=5
"""

from __future__ import annotations

import math
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.yamlio import dump_yaml
from lightning_nas.errors import ConfigError, SearchError, did_you_mean
from lightning_nas.integrations.hydra_composed import ComposedJobs, primary_of
from lightning_nas.integrations.hydra_config import (
    FROM_OTHER_SWEEPERS,
    FROM_SEARCH,
    SWEEPER_KEYS,
    LightningNASSweeperConf,
)
from lightning_nas.integrations.hydra_executor import HydraLauncherExecutor, TimedTask
from lightning_nas.integrations.hydra_grammar import (
    SweepParams,
    config_args,
    parse_params,
)
from lightning_nas.integrations.hydra_interpolations import warn_interpolated_params
from lightning_nas.integrations.hydra_options import (
    check_composes,
    check_group_options,
    check_one_process_per_job,
    check_target_arguments,
    check_tasks_per_node,
    group_choices,
    option_jobs,
)
from lightning_nas.integrations.hydra_required import warn_model_optimizer, warn_required
from lightning_nas.integrations.hydra_results import RESULTS_FILE, sweep_results
from lightning_nas.integrations.hydra_resume import (
    in_stored_order,
    job_values,
)
from lightning_nas.integrations.hydra_schema import check_value_types, warn_missing
from lightning_nas.integrations.hydra_search_block import check_blocks
from lightning_nas.integrations.hydra_settings import (
    optimized_metric,
    search_settings,
    sweep_words,
)
from lightning_nas.integrations.hydra_split import job_rank_counts
from lightning_nas.integrations.hydra_stopping import warn_stopping
from lightning_nas.integrations.hydra_store import open_sweep_store
from lightning_nas.integrations.hydra_summary import nothing_completed, sweep_summary
from lightning_nas.integrations.hydra_threads import keep_threads, shared_cores
from lightning_nas.integrations.hydra_trainer import check_sync_batchnorm_of, check_trainer_values
from lightning_nas.integrations.hydra_wording import sweep_phrases, sweep_wording
from lightning_nas.ranks_record import record_ranks
from lightning_nas.results import TrialResult
from lightning_nas.search.lifetime import sigterm_exits
from lightning_nas.search.limit_checks import check_some_meets
from lightning_nas.search.loop import SearchLoop
from lightning_nas.search.progress import scored_by
from lightning_nas.search.settings import SearchSettings
from lightning_nas.search.template import TrialTemplate
from lightning_nas.search.warm import check_fill
from lightning_nas.search.warm_scales import check_repeats, check_scales
from lightning_nas.search.warm_sources import prior_count
from lightning_nas.store import RunStore
from lightning_nas.strategies import check_optimizer_runs, make_optimizer
from lightning_nas.user_warnings import warn_user
from lightning_nas.wording import counted

__all__ = ["HydraSweep"]


class HydraSweep(Sweeper):
    """A lightning_nas search whose trials are the jobs of a Hydra application.

    Args:
        **settings: the fields of ``LightningNASSweeperConf`` (``optimizer``, ``budget``,
            ``direction``, ``params``, ...), as Hydra passes them.

    Example:
        >>> HydraSweep(budget=5, direction="minimize").settings["budget"]
        5
    """

    def __init__(self, **settings: Any) -> None:
        valid = list(SWEEPER_KEYS)  # not _target_, _recursive_: Hydra's
        # Optuna's n_trials, sampler, ...: every one left in a switched file, named at once
        named = [f"unknown hydra.sweeper setting {key!r}; did you mean "
                 f"{', '.join(map(repr, ours.split()))} (the {sweeper} sweeper's {key})? "
                 for key in settings if key in FROM_OTHER_SWEEPERS
                 for sweeper, ours in [FROM_OTHER_SWEEPERS[key]]]
        theirs = {FROM_SEARCH[k]: [] for k in settings if k in FROM_SEARCH}  # scheduler, ...
        for key in (k for k in settings if k in FROM_SEARCH):  # grouped by what a sweep does
            theirs[FROM_SEARCH[key]].append(repr(key))
        named += [f"unknown hydra.sweeper setting{'s' * (len(keys) > 1)} "
                  f"{', '.join(sorted(keys))}: of lightning-nas search, not of a sweep; {does}. "
                  for does, keys in theirs.items()]
        # a misspelt one too, each at once (was: the first alone, or none beside the above)
        named += [f"unknown hydra.sweeper setting {key!r}; {did_you_mean(key, valid)}"
                  for key in sorted(settings) if key not in valid
                  and key not in FROM_OTHER_SWEEPERS and key not in FROM_SEARCH]
        if named:
            raise ConfigError(f"{''.join(named)}valid keys: {', '.join(valid)}")
        defaults = LightningNASSweeperConf()
        self.settings = {k: _plain(settings.get(k, getattr(defaults, k))) for k in valid}
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None
        self.composed: ComposedJobs | None = None
        self.task: TimedTask | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        """Keep the config and set up the project's launcher for the task function (its
        loader hands it each job as the sweeper composed it, where it may: ``ComposedJobs``)."""
        self.config, self.hydra_context = config, hydra_context
        # (a group's options on the sweep's search path: its hydra.searchpath too)
        self.composed = ComposedJobs(hydra_context.config_loader, primary_of(config))
        self.task = TimedTask(task_function, on_start=self.composed.job_started)
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=self.composed.launcher_context(hydra_context),
            task_function=self.task, config=config)

    # ----------------------------------------------------------------- the sweep
    def sweep(self, arguments: list[str]) -> list[TrialResult]:
        """Run (or resume) the sweep; return every trial of the run, in id order.

        Args:
            arguments: the command line's task overrides (Hydra passes them).
        """
        if self.config is None or self.hydra_context is None or self.task is None:
            raise SearchError("HydraSweep.sweep() needs setup() first (Hydra calls it)")
        # Hydra's loader for every check before a job: a job composed, a group's options
        # asked, once each until a job starts (ComposedJobs; nothing kept from before)
        self.composed.job_started()
        loader = self.composed.sweep_loader()
        check_blocks(self.config, self.settings["params"], arguments,  # search:, oneshot:
                     loader)
        sweep = parse_params(self.settings["params"], arguments, loader)
        settings = search_settings(self.settings, self.config, sweep.space.names())
        # a resume: the stored key order (its samples, proposals and options' records)
        sweep = in_stored_order(sweep, settings.run_dir)
        sweep.space.check_searchable("or run the job once without -m (and hydra.mode=RUN)")
        settings.goal.warn_contrary()
        for said in sweep.widened:  # searched as the grammar gives it, as other sweepers do
            warn_user(said)
        warn_interpolated_params(self.config, self.settings["params"], sweep.space.names(),
                                 arguments)  # resolved once, not in each job
        check_fill(sweep.space, settings.transfer.warm_start_fill, "hydra.sweeper.warm_start_fill")
        objectives = settings.goal.objectives
        try:  # (was: "or drop warm_start", a key the sweep's user does not write)
            check_optimizer_runs(settings.goal.optimizer, sweep.space, settings.goal.budget,
                                 settings.execution.num_workers,
                                 warm=bool(settings.transfer.warm_start),
                                 objectives=len(objectives.names) if objectives else 1,
                                 retrain=settings.transfer.retrain_top_k,
                                 priors=prior_count(settings.transfer.warm_start,
                                                    settings.run_dir))
            check_scales(settings.transfer.warm_start, settings.goal.optimizer,
                         settings.goal.monitor, settings.goal.mode,
                         objectives, settings.run_dir)
            check_repeats(settings.transfer.warm_start, settings.goal.optimizer, sweep.space,
                          settings.transfer.warm_start_fill, settings.run_dir, hydra=True,
                          budget=settings.goal.budget,
                          num_workers=settings.execution.num_workers)
            # a small space none of whose jobs the constraints let run: refused, as a
            # search's (was: each stored REJECTED, and exit status 0)
            check_some_meets(sweep.space, settings.limits.build(), lambda arch: {})
        except ConfigError as err:
            raise ConfigError(sweep_words(str(err), self.settings)) from None
        settings.limits.build().violation(sweep.space.sample(seed=0), {})  # one that raises
        launcher = type(self.launcher).__name__
        check_tasks_per_node(self.config, launcher)  # (before a DDP job's own refusal)
        check_group_options(sweep, loader)
        check_value_types(self.config, loader, sweep)  # a structured config's types

        def check(job: DictConfig, where: str) -> None:  # any option may set the trainer
            check_sync_batchnorm_of(job, where)  # (before DDP's refusal: ddp_spawn too)
            check_one_process_per_job(job, launcher, where)  # (experiment=x)
            check_target_arguments(job, sweep, loader)  # or the node a searched key is in

        # a job of the space, then each searched option: composed and checked once each,
        # beside the first sample's values of the other keys or other ones that work; a job
        # composed once in the sweep (the first's is an option's, an option's the first
        # job's check: ComposedJobs)
        first = check_composes(self.config, loader, sweep, check)
        check_target_arguments(first, sweep, loader, warn_file=True)  # the file's own keys
        jobs = option_jobs(self.config, loader, sweep, check)
        composed = [first, *(job for values in jobs.values() for job in values.values())]
        warn_missing(composed)
        warn_required(composed)  # a _target_'s argument no job gives: its path said
        warn_model_optimizer(composed)  # a fit of it would fail (the task may not fit)
        # what their callbacks would do, as a search says it of its trials (was: no word)
        warn_stopping(composed, settings.goal.monitor, settings.goal.mode, sweep.space.names())
        check_trainer_values(self.config, loader, sweep)  # each searched value builds it
        store = open_sweep_store(settings, sweep, jobs, self.config, loader, launcher,
                                 self._folder_key())
        # a job in another process on these cores: its share of them (hydra_threads)
        self.task.cores = shared_cores(settings.execution.num_workers)
        try:
            executor = HydraLauncherExecutor(
                self.launcher, sweep.overrides, settings.execution.num_workers,
                monitor=settings.goal.monitor, names=self._names(settings),
                check=lambda trial, overrides: self._check_job(store, trial, overrides, sweep),
                first_job=self._first_job(store),
                on_launch=lambda n: store.set_meta("next_job", n),
                optimized_metric=optimized_metric(self.config),
                on_job_dir=lambda trial, folder, choices: _keep_job(store, trial, folder,
                                                                     choices),
                launched=self.composed.job_started,
                on_threads=lambda trial, used, given: keep_threads(store, trial, used, given))
            settings = settings.replace(executor=executor)
            store.set_meta("settings", settings.flat())
            goal = settings.goal
            optimizer = make_optimizer(goal.optimizer, sweep.space, goal.budget,
                                       num_workers=executor.num_workers, seed=goal.seed)
            template = TrialTemplate(ModelFactory(_built_by_the_task), DataFactory(), {},
                                     monitor=goal.monitor, mode=goal.mode, seed=goal.seed,
                                     run_dir=settings.run_dir)
            start, resuming = time.monotonic(), len(store) > 0
            rerun = self._rerun(settings)
            try:  # (the replay of a resume tells the optimizer again: it may fail)
                loop = _SweepLoop(settings, sweep.space, template, store, executor, optimizer,
                                  rule=None)
                # its lines too (Ctrl-C's; was: "run the same command again to resume")
                loop.rerun = rerun
                if not loop.resuming:
                    loop.say(self._header(settings, sweep, executor))
                with sigterm_exits():  # (was: only for jobs in other processes)
                    loop.run()
            except (SearchError, ConfigError) as err:  # stopped (max_failures, a constraint
                # or the optimizer that raised, ...): the results so far
                if store.best(goal.mode) is not None:
                    self._finish(settings, store, sweep, time.monotonic() - start, stopped=True,
                                 resumed=resuming)
                worded = sweep_wording(str(err), self.settings, self._folder_key())
                if rerun is not None:  # the same command sweeps into a new folder
                    worded = worded.replace("run the same command again", rerun)
                if worded == str(err):
                    raise
                raise type(err)(worded).with_traceback(err.__traceback__) from err.__cause__
            self._finish(settings, store, sweep, time.monotonic() - loop.start, resumed=resuming)
            if store.best(goal.mode) is None:  # an error exit, as a search's (was: status 0)
                raise SearchError(nothing_completed(store, settings.run_dir))
            return store.trials()
        finally:
            store.close()

    def _check_job(self, store: RunStore, trial: int, overrides: Sequence[str],
                   sweep: SweepParams) -> None:
        """Compose the job of ``trial`` as its launcher will (Hydra's
        ``validate_batch_is_legal``: raises where it does not compose), refuse it where its
        Trainer starts several processes or syncs BatchNorm under DDP on CPU (``ConfigError``:
        each option was checked beside one combination of the other keys' values, so one
        that only some values of another key make so shows here; was: launched), and store
        what it composed otherwise than the sweep's config (``job_trials``: its config
        groups' options, a nested group's, ``model/backbone``, and ``job_values``): a warm
        start reads them.
        The launcher is handed this composition (``ComposedJobs``) where it may."""
        loader = self.composed.sweep_loader()  # (a group's options: once until a job starts)
        job = self.composed.compose(self.config, overrides)
        check_sync_batchnorm_of(job, " ".join(overrides))
        check_one_process_per_job(job, type(self.launcher).__name__, " ".join(overrides))
        check_target_arguments(job, sweep, loader)
        base = store.get_meta("job_choices") or {}
        own = {k: v for k, v in group_choices(job).items() if k not in base or base[k] != v}
        values = job_values(job, store.get_meta("job_config") or {}, sweep, loader)
        store.set_meta("job_trials", {**store.get_meta("job_trials", {}),
                                      str(trial): {"choices": own, "values": values}})

    def _rerun(self, settings: SearchSettings) -> str | None:
        """How to run this sweep again in its folder where ``_time_named`` (the same
        command sweeps into a new one), for its lines to say; None otherwise."""
        if not self._time_named():
            return None
        return (f"run the same command with hydra.sweep.dir="
                f"{shlex.quote(str(settings.run_dir.absolute()))}")

    def _time_named(self) -> bool:
        """Whether the sweep's folder is ``hydra.sweep.dir`` named by the time
        (``${now:...}``, the template's): the same command again sweeps into a new one."""
        named = OmegaConf.to_container(self.config.hydra.sweep, resolve=False).get("dir")
        return self.settings["run_dir"] is None and "${now:" in str(named)

    def _folder_key(self) -> str:
        """How this sweep's user names the folder of ``search.db``: ``hydra.sweeper.run_dir``
        where set, else ``hydra.sweep.dir`` (was: ``hydra.sweeper.run_dir`` in a store's
        refusal, ``hydra.sweep.dir`` in the others, whichever was used)."""
        return "hydra.sweep.dir" if self.settings["run_dir"] is None else "hydra.sweeper.run_dir"

    @staticmethod
    def _names(settings: SearchSettings) -> list[str]:
        objectives = settings.goal.objectives
        return objectives.names if objectives is not None else [settings.goal.monitor]

    def _first_job(self, store: RunStore) -> int:
        """The first free ``hydra.job.num``: after every job an earlier invocation launched
        (a re-run trial took a new number, so the trial count is not enough), and after
        the numbered job folders already in the sweep dir (stores of older versions)."""
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        taken = [int(p.name) + 1 for p in sweep_dir.iterdir()
                 if p.is_dir() and p.name.isdigit()] if sweep_dir.is_dir() else []
        return max(len(store), store.get_meta("next_job") or 0, *taken)

    # ----------------------------------------------------------------- output
    def _header(self, settings: SearchSettings, sweep: SweepParams,
                executor: HydraLauncherExecutor) -> str:
        goal, size = settings.goal, sweep.space.size()
        budget = f"budget {counted(goal.budget, 'job')}" if goal.budget else "no budget"
        limit = f", time limit {goal.time_limit}s" if goal.time_limit else ""  # (was: unsaid)
        line = (f"Sweeping {self.config.hydra.job.name} with lightning_nas in "
                f"{settings.run_dir}: {goal.optimizer}, {budget}{limit}, "
                f"{counted(executor.num_workers, 'job')} per batch on "
                f"{type(self.launcher).__name__}, "
                f"space of {'infinitely many' if size == math.inf else int(size)} "
                f"architectures, {scored_by(goal, directions=True)}")
        rerun = self._rerun(settings)
        if rerun is not None:  # the template's
            named = OmegaConf.to_container(self.config.hydra.sweep, resolve=False).get("dir")
            line += (f"\nIts folder is named by the time (hydra.sweep.dir: {named}): to "
                     f"resume this sweep after a kill, {rerun}")
        return line

    def _finish(self, settings: SearchSettings, store: RunStore, sweep: SweepParams,
                elapsed: float, stopped: bool = False, resumed: bool = False) -> None:
        """Write ``optimization_results.yaml`` and print the summary (``stopped`` on an
        error: the results so far; ``resumed``: a sweep that had run before)."""
        goal = settings.goal
        best = store.best(goal.mode)
        results = sweep_results(store, goal, sweep, config_args(self.config))
        path = settings.run_dir / RESULTS_FILE
        path.write_text(dump_yaml(results))
        if settings.verbose:  # the files, and the rerun of the best job as what next
            print(sweep_summary(store, goal.monitor, best, settings.run_dir, results, elapsed,
                                stopped, resumed), flush=True)


# ----------------------------------------------------------------- helpers
class _SweepLoop(SearchLoop):
    """The search loop, its lines and warm start's warnings in a sweep's words (a resume of
    a sweep without a seed names ``hydra.sweeper.seed``; was: ``seed``, a search's key).
    ``rerun``, where its folder is named by the time, is how to run it again there (the
    same command sweeps into a new folder)."""

    rerun: str | None = None

    def worded(self, text: str) -> str:
        text = sweep_phrases(text)  # (not `search.<key>`: a trial line's may be a path)
        return text if self.rerun is None else text.replace("run the same command again",
                                                            self.rerun)


def _keep_job(store: RunStore, trial: int, folder: str, choices: dict[str, str]) -> None:
    """Store a returned job's output folder and config group choices by its trial, and the
    rank counts of its fits where they are several (``record_ranks``: its scores are said
    over those; was: over the count its config asks for)."""
    for key, value in (("job_dirs", folder), ("job_group_choices", choices)):
        store.set_meta(key, {**store.get_meta(key, {}), str(trial): value})
    record_ranks(store, trial, job_rank_counts(folder))


def _built_by_the_task(arch: dict[str, Any]) -> Any:
    """Stands in for the model: in a Hydra sweep the task function builds its own."""
    raise SearchError("a Hydra sweep's model is built by the task function, not by "
                      "lightning_nas")


def _plain(value: Any) -> Any:
    """OmegaConf containers as plain Python data (resolved)."""
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value

