"""``HydraLauncherExecutor``: the search loop's executor for a Hydra sweep. Each batch of
trials runs as Hydra jobs through the project's own launcher (basic, joblib, submitit,
Ray, ...), and each ``JobReturn`` becomes a ``TrialResult``.

The launcher API is synchronous: ``launch`` returns when the batch's slowest job ends, so
``wait`` hands the loop the whole batch at once (``num_workers`` jobs). A launch that
raises (a job's process died) keeps the results its finished jobs wrote into their folders
(``hydra_job_file``) and launches each other job of the batch again alone: the one that
raises again is FAILED, the others run. A job that raised an exception which cannot come
back (joblib cannot unpickle a project's exception whose ``__init__`` takes other
arguments: ``BrokenProcessPool``) is FAILED with the error and traceback its folder holds
(was: "the job's process died", and launched again).

Example:
    >>> result = job_result(1, {"lr": 0.1}, {"val/acc": 0.9, "loss": 0.3}, "val/acc")
    >>> result.status.value, result.score, result.metrics
    ('COMPLETED', 0.9, {'val/acc': 0.9, 'loss': 0.3})
    >>> job_result(2, {"lr": 0.1}, None, "val/acc").fatal
    True
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import InstantiationException
from hydra.plugins.launcher import Launcher
from omegaconf import OmegaConf

from lightning_nas.errors import ConfigError, typed
from lightning_nas.integrations.hydra_job_file import (
    finished_jobs,
    job_times,
    number,
    read_job_file,
    write_job_file,
)
from lightning_nas.integrations.hydra_rerun import task_choices
from lightning_nas.integrations.hydra_split import clear_splits, job_ranks, job_splits, split_check
from lightning_nas.integrations.hydra_threads import SharedCores, job_threads
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.executor import TrialExecutor, failed_result, torch_threads
from lightning_nas.search.trial import TrialSpec
from lightning_nas.wording import counted

__all__ = ["HydraLauncherExecutor", "TimedTask", "job_result"]


class TimedTask:
    """The project's task function, timing each job into its output folder: the launcher
    returns a batch when its slowest job ends, and its jobs may run one after the other
    (the basic launcher) or on other machines, so the batch's span is no job's time.
    A job whose Trainer starts several processes gets its uneven DDP validation splits
    recorded there too (``hydra_split.split_check``: a callback each Trainer the task builds
    gets; the task's config is left as it is), and a failed job's traceback (a launcher
    that runs the job in another process, joblib's or submitit's, sends its exception back
    without one). ``on_start`` is called as each job starts (the sweeper's
    ``ComposedJobs.job_started``). ``cores`` (the sweeper sets it for its ``num_workers``):
    a job in another process on the sweep's cores trains with its share of them
    (``hydra_threads``)."""

    def __init__(self, task_function: Callable[[Any], Any],
                 on_start: Callable[[], None] | None = None) -> None:
        self.task_function, self.on_start = task_function, on_start
        self.cores: SharedCores | None = None

    def __call__(self, cfg: Any) -> Any:
        started = time.time()
        if self.on_start is not None:
            self.on_start()
        try:
            folder = HydraConfig.get().runtime.output_dir
            clear_splits(folder)
            check = split_check(folder)
        except Exception:  # noqa: BLE001 - no output folder: nothing recorded
            check = nullcontext()
        failed: str | None = None
        threads, returned, has_returned = job_threads(self.cores), None, False
        used: int | None = None
        try:
            with check, torch_threads(threads):
                used = torch.get_num_threads()
                returned, has_returned = self.task_function(cfg), True
                return returned
        except BaseException as err:
            # where the job failed: an exception pickled back from a launcher's process
            # (joblib, submitit) has lost its traceback
            failed = "".join(traceback.format_exception(err)).rstrip()
            raise
        finally:  # (its result too: a batch whose launch raised keeps it, hydra_job_file)
            write_job_file(started, time.time(), failed=failed, threads=used,
                           set_threads=threads, returned=returned, has_returned=has_returned)


class HydraLauncherExecutor(TrialExecutor):
    """Runs the submitted trials as one batch of Hydra jobs when the loop waits.

    Args:
        launcher: the project's Hydra launcher, set up for the task function.
        overrides: ``arch -> [override, ...]``: the job's command line.
        num_workers: jobs handed to the launcher at once.
        monitor: the name of the score; a task returning a float scores ``{monitor: value}``.
        names: every objective the task must return (a dict holding them); default
            ``[monitor]``.
        check: called with each job's trial id and overrides before its batch is
            launched (the sweeper composes the job there, as Hydra's
            ``Sweeper.validate_batch_is_legal`` does, and checks it): a job it raises at is
            FAILED, not launched (a ``ConfigError``'s message is the job's error).
        first_job: the ``hydra.job.num`` of the first job (a resumed sweep continues after
            the jobs of the earlier invocations, so no job folder is overwritten).
        on_launch: called with the next free job number before each batch is launched
            (the sweeper stores it for the next resume).
        optimized_metric: the config's ``optimized_metric``: what a task returning a float
            returns (``job_result``).
        on_job_dir: called with a trial's id, its job's output folder and the job's config
            group choices (``task_choices``) when the job returns (the sweeper stores them:
            trial N is not job N - 1 after a resume; a ``rerun_alone`` line gives the
            choices).
        launched: called when the launcher returned (or raised): the sweeper drops the
            jobs it composed that the launcher did not take (``ComposedJobs``).
        on_threads: called with a trial's id, the torch threads its job trained with and
            those the sweep set for it (``hydra_threads``; None where it set none) when the
            job returns, where its folder says (the sweeper stores them; the lines that
            train it again carry the set count).
    """

    def __init__(self, launcher: Launcher, overrides: Callable[[dict[str, Any]], list[str]],
                 num_workers: int = 1, monitor: str = "score",
                 names: Sequence[str] | None = None,
                 check: Callable[[int, Sequence[str]], None] | None = None,
                 first_job: int = 0, on_launch: Callable[[int], None] | None = None,
                 optimized_metric: str | None = None,
                 on_job_dir: Callable[[int, str, dict[str, str]], None] | None = None,
                 launched: Callable[[], None] | None = None,
                 on_threads: Callable[[int, int | None, int | None], None] | None = None,
                 ) -> None:
        self.launcher, self.overrides, self.num_workers = launcher, overrides, num_workers
        self.launched, self.on_threads = launched, on_threads
        self.optimized_metric, self.on_job_dir = optimized_metric, on_job_dir
        self.monitor, self.names = monitor, list(names or [monitor])
        self.check, self.next_job, self.on_launch = check, first_job, on_launch
        self._queue: list[TrialSpec] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.launcher).__name__})"

    def submit(self, spec: TrialSpec) -> None:
        """Queue a trial; it is launched with the others of its batch in ``wait``."""
        self._queue.append(spec)

    def wait(self) -> list[TrialResult]:
        """Launch the queued trials as one batch; return every result when it ends."""
        batch, self._queue = self._queue, []
        started = time.time()
        jobs = [(spec, tuple(self.overrides(spec.arch))) for spec in batch]
        # a job that does not compose is FAILED before the batch is launched: a launcher
        # that raised at it mid-batch (the basic one composes and runs one job after the
        # other) would have run the jobs before it, and launching again trained them twice
        results = self._not_composing(jobs, started)
        jobs = [(spec, o) for spec, o in jobs if spec.trial_id not in results]
        first = self.next_job
        try:
            returns: Sequence[JobReturn | Exception] = (
                self._launch([o for _, o in jobs]) if jobs else [])
        except Exception as err:  # noqa: BLE001 - a job's process died, or the launcher
            # failed (joblib's TerminatedWorkerError, submitit's UncompletedJobError): which
            # job is not said, so each job that returned no result into its folder is
            # launched alone (was: the sweep ended, and its resume ran the dying job again;
            # then: the jobs that had finished trained again); a batch of one is its error
            returns = self._after_death(err, [o for _, o in jobs], first, started)
        finished = time.time()
        for (spec, _), ret in zip(jobs, returns, strict=True):
            results[spec.trial_id] = (self._died(spec, ret, started)
                                      if isinstance(ret, Exception) else
                                      self._result(spec, ret, started, finished))
        return [results[spec.trial_id] for spec in batch]

    def _after_death(self, err: Exception, overrides: list[tuple[str, ...]], first: int,
                     started: float) -> list[JobReturn | Exception]:
        """Each job's return in a batch whose launch raised ``err``: a job that wrote its
        result into its folder (``finished_jobs``) as it returned, each other one launched
        alone (a batch of one: ``err``)."""
        sweep_dir = OmegaConf.select(getattr(self.launcher, "config", None) or {},
                                     "hydra.sweep.dir", default=None)
        found = {} if sweep_dir is None else finished_jobs(sweep_dir, first, overrides,
                                                           started)
        if len(overrides) == 1 and 0 not in found:
            return [err]
        return [_returned(*found[i]) if i in found else self._alone(o, started)
                for i, o in enumerate(overrides)]

    def _alone(self, overrides: tuple[str, ...], started: float) -> JobReturn | Exception:
        """The job of ``overrides`` launched alone: its return, or what the launcher raised
        (what the job's folder holds where it finished: its result or error)."""
        first = self.next_job
        try:
            return self._launch([overrides])[0]
        except Exception as err:  # noqa: BLE001 - this job's process died (or the launcher)
            return self._after_death(err, [overrides], first, started)[0]

    def _died(self, spec: TrialSpec, err: Exception, started: float) -> TrialResult:
        """The FAILED result of a job whose launch raised ``err``."""
        result = failed_result(
            spec, f"the job's process died, or its launcher ({type(self.launcher).__name__}) "
                  f"failed: {' '.join(typed(err).split())}\n"
                  + "".join(traceback.format_exception(err)).rstrip(), started)
        result.failed_in = "in the task function"  # (as a job's own failure)
        return result

    def _launch(self, overrides: list[tuple[str, ...]]) -> Sequence[JobReturn]:
        first, self.next_job = self.next_job, self.next_job + len(overrides)
        if self.on_launch is not None:  # before the jobs run: a kill must not reuse them
            self.on_launch(self.next_job)
        try:
            return self.launcher.launch(overrides, initial_job_idx=first)
        finally:
            if self.launched is not None:
                self.launched()

    def _not_composing(self, jobs: list[tuple[TrialSpec, tuple[str, ...]]],
                       started: float) -> dict[int, TrialResult]:
        """FAILED results for the jobs whose overrides do not compose with the config (or
        whose composed config ``check`` refuses)."""
        failed = {}
        for spec, overrides in jobs if self.check is not None else ():
            try:
                self.check(spec.trial_id, overrides)
            except ConfigError as err:  # the check's refusal of the composed job, worded
                failed[spec.trial_id] = failed_result(spec, str(err), started)
            except Exception as err:  # noqa: BLE001 - any composition error fails this job
                failed[spec.trial_id] = failed_result(
                    spec, f"the job's overrides {list(overrides)} do not compose with the "
                          f"config: {err}", started)
        return failed

    def _result(self, spec: TrialSpec, ret: JobReturn, started: float,
                finished: float) -> TrialResult:
        folder = _job_dir(ret)
        written = read_job_file(folder)
        if folder is not None and self.on_job_dir is not None:
            self.on_job_dir(spec.trial_id, folder, task_choices(ret.hydra_cfg))
        if self.on_threads is not None and written.get("threads") is not None:
            self.on_threads(spec.trial_id, written["threads"], written.get("set_threads"))
        if ret.status is JobStatus.COMPLETED:
            result = job_result(spec.trial_id, spec.arch, ret.return_value, self.monitor,
                                self.names, self.optimized_metric)
        else:
            built = False
            try:
                ret.return_value  # noqa: B018 - raises the job's exception
                error = f"the launcher returned status {ret.status.name} without an error"
            except Exception as err:  # noqa: BLE001 - the job's own exception
                # the cause on the first line (Hydra's messages span lines: "full_key: ..."),
                # then where the job failed, as the job saw it (was, from a joblib or
                # submitit process: the sweeper's frames alone)
                where = written.get("traceback")
                head = str(err) if isinstance(err, _JobRaised) else typed(err)
                error = (f"{' '.join(head.split())}\n"
                         + (where if isinstance(where, str) and where else
                            "".join(traceback.format_exception(err)).rstrip()))
                built = isinstance(err, InstantiationException)  # a config node's error
            result = failed_result(spec, error, started)
            result.build_failed = built
            result.failed_in = "in the task function"  # a job's training is not seen
        result.started, result.finished = job_times(written) or (started, finished)
        # a DDP split the job's ranks do not divide: recorded (best.yaml's notes), said once
        result.uneven_splits = job_splits(folder)
        result.notes = list(result.uneven_splits)
        result.ranks = job_ranks(folder)  # its Trainer's world_size (was: none recorded)
        return result


class _JobRaised(Exception):  # noqa: N818 - the job's exception, not one of its own
    """The exception a job raised, known from the traceback its folder holds (its message:
    the traceback's last line, ``ShapeError: got 4, want 2``)."""


def _returned(folder: str, written: dict[str, Any]) -> JobReturn:
    """The ``JobReturn`` of a job that returned ``written["returned"]`` into ``folder``, or
    that raised (``written["traceback"]``: FAILED with it)."""
    if "returned" in written:
        status, value = JobStatus.COMPLETED, written["returned"]
    else:
        status, value = JobStatus.FAILED, _JobRaised(_raised(str(written["traceback"])))
    ret = JobReturn(overrides=list(written["overrides"]), status=status, _return_value=value)
    ret.hydra_cfg = OmegaConf.create({"hydra": {"runtime": {
        "output_dir": folder, "choices": written.get("choices") or {}}}})
    return ret


def _raised(trace: str) -> str:
    r"""A traceback's exception as ``errors.typed`` says one: ``Type: message`` (the type's
    name alone, as the job's own exception is said), ``Type, with no message``.

    Example:
        >>> _raised("Traceback (most recent call last):\n  ...\nsrc.ShapeError: got 4")
        'ShapeError: got 4'
        >>> _raised("Traceback ...\nsrc.errors.Stop")
        'Stop, with no message'
    """
    line = (trace.rstrip().splitlines() or ["Exception"])[-1]
    name, said, message = line.partition(": ")
    if " " in name:  # not an exception's name: the line as it is
        return line
    name = name.rsplit(".", 1)[-1]
    return f"{name}: {message}" if said and message.strip() else f"{name}, with no message"


def _job_dir(ret: JobReturn) -> str | None:
    """The job's output folder (``hydra.runtime.output_dir``), where the launcher says it."""
    try:
        return str(ret.hydra_cfg.hydra.runtime.output_dir)
    except Exception:  # noqa: BLE001 - a launcher that returns no Hydra config
        return None


def job_result(trial_id: int, arch: dict[str, Any], value: Any, monitor: str,
               names: Sequence[str] | None = None,
               optimized_metric: str | None = None) -> TrialResult:
    """The ``TrialResult`` of a job whose task function returned ``value``: a number
    (the score, stored as ``monitor``), a mapping holding every name of ``names``, or a
    list or tuple of one number per name, in their order (as the Optuna sweeper reads
    several objectives; one of another length is fatal, naming both, and so is one that
    holds no number until a job completed, as a name missing from a mapping). A bool of
    a mapping that is no objective is stored as 1.0 or 0.0 (as ``self.log`` stores it).

    A non-numeric score is an error every job would repeat (``fatal``: the sweep
    stops), and so is a number when the config's ``optimized_metric`` (which a task returns
    as a float) is not ``monitor``: it would be stored, and ranked, under the wrong name. A
    name missing from a returned mapping (the score's too) is fatal only until a job
    completed (``objective_missing``: then the name is right and this job fails alone,
    counted towards ``max_failures``, as a search's trial). A NaN or infinite score fails
    this job only.
    """
    names = list(names or [monitor])
    if _listed(value):  # one number per objective, in their order
        values = _by_name(value, names)
        if isinstance(values, str):
            return TrialResult(trial_id=trial_id, arch=dict(arch), status=TrialStatus.FAILED,
                               fatal=True, objective_missing=values.endswith("in order"),
                               finished=time.time(), error=values)
        value = values[names[0]] if len(names) == 1 else values  # one: a float's checks
    if (not isinstance(value, Mapping) and optimized_metric not in (None, monitor)
            and number(value) is not None):
        return TrialResult(
            trial_id=trial_id, arch=dict(arch), status=TrialStatus.FAILED, fatal=True,
            finished=time.time(),
            error=f"the task function returned a float, which is the config's "
                  f"optimized_metric ({optimized_metric}), but the sweep's score is {monitor} "
                  f"(hydra.sweeper.monitor, or the first of hydra.sweeper.objectives); "
                  f"return a dict holding {names}, or sweep on {optimized_metric}")
    if isinstance(value, Mapping):  # a bool of no objective: 1.0 or 0.0, as self.log stores
        # it (was: left out); of an objective, no number (a bug of the task)
        numbers = {str(k): float(v) if isinstance(v, bool) and str(k) not in names
                   else number(v) for k, v in value.items()}
    else:
        numbers = {monitor: number(value)}
    metrics = {k: v for k, v in numbers.items() if v is not None}
    if not isinstance(value, Mapping) and not metrics:
        return TrialResult(
            trial_id=trial_id, arch=dict(arch), status=TrialStatus.FAILED, fatal=True,
            finished=time.time(),
            error=f"the task function returned {value!r}; return the score ({monitor}) as "
                  f"a float, or a dict holding {names}")
    missing = [n for n in names if n not in metrics]
    if missing:  # fatal only until a job completed (the loop)
        return TrialResult(
            trial_id=trial_id, arch=dict(arch), status=TrialStatus.FAILED, fatal=True,
            finished=time.time(), objective_missing=True,
            error=f"the task function returned {_no_numbers(value, missing)} (numbers it "
                  f"returned: {sorted(metrics)}); return a dict holding {names}")
    score = metrics[names[0]]
    if not math.isfinite(score):
        return TrialResult(trial_id=trial_id, arch=dict(arch), status=TrialStatus.FAILED,
                           metrics=metrics, finished=time.time(),
                           error=f"{names[0]} is {score}")
    return TrialResult(trial_id=trial_id, arch=dict(arch), status=TrialStatus.COMPLETED,
                       score=score, metrics=metrics, finished=time.time())


def _no_numbers(value: Any, missing: Sequence[str]) -> str:
    """What the task returned of the objectives ``missing`` from its numbers: those it left
    out, and those it returned as no number (was: ``no ['score']`` of ``{"score": None}``).

    Example:
        >>> _no_numbers({"acc": None}, ["acc", "cost"])
        "no ['cost'] and acc=None, which is not a number"
    """
    given = value if isinstance(value, Mapping) else {}
    absent = [n for n in missing if n not in given]
    shown = [f"{n}={given[n]!r}" for n in missing if n in given]
    said = [f"no {absent}"] if absent else []
    if shown:
        said.append(f"{', '.join(shown)}, which {'is' if len(shown) == 1 else 'are'} not "
                    f"{'a number' if len(shown) == 1 else 'numbers'}")
    return " and ".join(said)


def _listed(value: Any) -> bool:
    """Whether the task returned a list or tuple (an OmegaConf ``ListConfig`` too)."""
    return isinstance(value, (list, tuple)) or type(value).__name__ == "ListConfig"


def _by_name(value: Sequence[Any], names: Sequence[str]) -> dict[str, Any] | str:
    """``{name: value}`` of a returned list or tuple, one value per name in order; else
    the error: a length other than the objectives' (every job would return it), or a value
    that is no number (ending ``in order``: fatal only until a job completed).

    Example:
        >>> _by_name((0.9, 3), ["acc", "cost"])
        {'acc': 0.9, 'cost': 3}
        >>> _by_name([0.9], ["acc", "cost"])[:60]
        'the task function returned [0.9], 1 value, but the sweep has'
    """
    shown, count = repr(value if isinstance(value, (list, tuple)) else list(value)), len(value)
    if count != len(names):
        expected = (f"one objective ({names[0]}); return one float, or list {count} names in "
                    f"hydra.sweeper.objectives ({{name: maximize|minimize}}, in the order of "
                    f"the values)" if len(names) == 1 else
                    f"{len(names)} objectives (hydra.sweeper.objectives: {', '.join(names)}); "
                    f"return one number per objective, in that order, or a dict holding them")
        return (f"the task function returned {shown}, {counted(count, 'value')}, "
                f"but the sweep has {expected}")
    for i, (name, one) in enumerate(zip(names, value, strict=True)):
        if number(one) is None:
            return (f"the task function returned {shown}: its value {i + 1} ({name}) is "
                    f"{one!r}, not a number; a list or tuple holds one number per objective "
                    f"({', '.join(names)}), in order")
    return dict(zip(names, value, strict=True))

