"""The executor protocol: ``TrialExecutor`` (submit a ``TrialSpec``, wait for
``TrialResult``s), the in-process ``InlineExecutor`` and ``FuturesExecutor`` for any
``concurrent.futures``-style executor. A thread pool's trial runs in a copy of the
submitting thread's context (``contextvars``: a ``lightning-nas`` command's
``console_warnings``, which a new thread does not inherit); another process's trial, under
a console, returns its warnings with its result (``relayed``), said here; a
``ProcessPoolExecutor``'s sends them as they are made (``pool_relay``).

Every executor runs ``lightning_nas.search.runner.run_trial`` for each spec and never writes
the run store (the search loop is its only writer).

Example:
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> FuturesExecutor(ThreadPoolExecutor(2), num_workers=2).num_workers
    2
"""

from __future__ import annotations

import contextvars
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from concurrent import futures
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

import torch

from lightning_nas.errors import ConfigError, SearchError, typed
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.pool_relay import POLL, PoolRelay
from lightning_nas.search.relayed import run_relayed, say_relayed
from lightning_nas.search.runner import run_trial
from lightning_nas.search.runner_checks import needs_own_process
from lightning_nas.search.trial import TrialSpec
from lightning_nas.user_warnings import console_command
from lightning_nas.wording import joined

__all__ = ["FuturesExecutor", "InlineExecutor", "TrialExecutor", "failed_result",
           "torch_threads"]


def failed_result(spec: TrialSpec, error: str, started: float | None = None) -> TrialResult:
    return TrialResult(trial_id=spec.trial_id, arch=dict(spec.arch), status=TrialStatus.FAILED,
                       started=started or time.time(), finished=time.time(), error=error)


class TrialExecutor(ABC):
    """Runs up to ``num_workers`` trials at once.

    The driver calls ``submit`` only while fewer than ``num_workers`` trials are running,
    and ``wait`` to get the results of finished trials (at least one; it blocks).
    """

    num_workers: int = 1
    #: trials run in processes of their own, so a trial cannot kill the search process
    isolates_trials: bool = False
    #: the torch threads a trial runs with on CPU (None: those of the search's process);
    #: ``best_config.yaml`` names them, since on CPU another count sums in another order
    cpu_threads: int | None = None

    def start(self) -> None:  # noqa: B027 - optional hook
        """Start workers ahead of the first trial (optional; ``submit`` starts them too)."""

    @abstractmethod
    def submit(self, spec: TrialSpec) -> None:
        """Start a trial."""

    @abstractmethod
    def wait(self) -> list[TrialResult]:
        """Block until at least one submitted trial has finished; return those results."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Stop the workers (running trials are abandoned; a resume takes them on again)."""

    def __enter__(self) -> TrialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the body under ``torch.set_num_threads(threads)`` and with ``OMP_NUM_THREADS``
    set to it, so that the rank processes a DDP trial starts (a group kept for the search,
    or a fine-tune's) run with as many threads each; both restored after (``None``: the
    process's own, nothing set)."""
    before = torch.get_num_threads()
    omp = os.environ.get("OMP_NUM_THREADS")
    if threads:
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = omp


class InlineExecutor(TrialExecutor):
    """Runs each trial in the calling process, one at a time (the cheapest per trial);
    with ``threads``, under ``torch_threads(threads)`` (DDP ranks with as many each).

    Args:
        threads: torch threads of each trial (default: the process's own).
        trainer: the trials' Trainer settings: whether they train on rank processes
            (``cpu_threads``).
    """

    def __init__(self, threads: int | None = None,
                 trainer: Mapping[str, Any] | None = None) -> None:
        self.num_workers, self.threads, self.trainer = 1, threads, dict(trainer or {})
        self._queue: list[TrialSpec] = []

    @property  # type: ignore[override]
    def cpu_threads(self) -> int | None:
        """The torch threads the next trial trains with: ``threads``, else this process's
        count as it is now (``OMP_NUM_THREADS``, ``torch.set_num_threads``; was None, so
        ``best_config.yaml`` named none and a fit with the default count scored otherwise);
        on rank processes (DDP), those each starts with: ``OMP_NUM_THREADS``, else None
        (Lightning shares the cores out among them, as among a fit's ranks)."""
        if self.threads:
            return self.threads
        if not needs_own_process(self.trainer):
            return torch.get_num_threads()
        omp = os.environ.get("OMP_NUM_THREADS", "")
        return int(omp) if omp.isdigit() and int(omp) > 0 else None

    def submit(self, spec: TrialSpec) -> None:
        self._queue.append(spec)

    def wait(self) -> list[TrialResult]:
        with torch_threads(self.threads):
            return [run_trial(self._queue.pop(0))]


def _broken(executor: Any, err: BaseException, trial_id: int, held: list[int]) -> str:
    """The words of a ``concurrent.futures`` pool that refuses trial ``trial_id``: broken for
    good (``BrokenProcessPool``: a process of it ended abruptly; ``BrokenThreadPool``: a
    thread's initializer failed), the trials ``held``, which it held then, FAILED with it: of
    a process pool's several, one died, which the pool does not say, and the others were
    failed by its break (was: "trials 1 and 2 failed the same way in training (every trial
    would; ...)", blaming their architectures; a thread pool's said to have lost a process).

    Example:
        >>> _broken(object(), RuntimeError("x"), 3, [1, 2])[:70]
        'executor object is broken (RuntimeError: x); trials 1 and 2 FAILED wit'
    """
    kind = type(err).__name__
    if not isinstance(err, BrokenProcessPool):
        ran = (f"; {'trial' if len(held) == 1 else 'trials'} {joined(held)} FAILED with {kind} "
               f"as it broke, not by their architecture" if held else "")
        return (f"executor {type(executor).__name__} is broken ({typed(err)}){ran}; it runs no "
                f"more trials; trial {trial_id} was not run: a resume runs it, with a new pool")
    ran = (f" while it ran trial {held[0]}, which FAILED with {kind} (its process died)"
           if len(held) == 1 else
           f" while it ran trials {joined(held)}, and it FAILED them all with {kind}: one "
           f"for its process's death (concurrent.futures does not say which), the others by "
           f"its break, not by their architecture" if held else "")
    return (f"executor {type(executor).__name__} is broken ({typed(err)}): one of its "
            f"processes ended abruptly (a crash, os._exit, the out-of-memory killer){ran}; "
            f"it runs no more trials; trial {trial_id} was not run: a resume runs it, with a "
            f"new pool, or with executor='process', whose worker that dies is replaced and "
            f"fails its own trial alone, its neighbours training on")


class FuturesExecutor(TrialExecutor):
    """Wraps any object with ``submit(fn, *args)`` returning futures with ``done()`` and
    ``result()``: ``concurrent.futures`` pools, Dask's ``client.get_executor()``, submitit.

    A search that stops with trials out (Ctrl-C, SIGTERM, an ``on_trial_end`` that raised;
    a failure stop lets them finish first) cancels (``shutdown``: ``Future.cancel()``) those
    the pool has not started: they never run (was: each ran once the pool had room, after
    the search had ended). A trial already running cannot be stopped from outside: it runs
    to its end in the pool, holding its slot (a thread, a process), and its result is
    dropped; a resume runs it again, refused while it still runs in its folder
    (``trial_hold.check_not_running``). A ``ProcessPoolExecutor`` marks up to one more trial
    than it has processes as running (its call queue): those cannot be cancelled either.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> with ThreadPoolExecutor(1) as pool:
        ...     FuturesExecutor(pool).shutdown()  # nothing out: nothing cancelled

    Args:
        executor: the executor; lightning_nas does not shut it down (its owner does).
        num_workers: trials submitted at once.
    """

    def __init__(self, executor: Any, num_workers: int = 1) -> None:
        if not callable(getattr(executor, "submit", None)):
            raise ConfigError(f"executor {executor!r} has no submit(fn, *args) method")
        self.executor, self.num_workers = executor, num_workers
        #: a process pool runs each trial in a process of its own (a kill of the search is
        #: not the trial's doing); of other objects (Dask, submitit, threads) it is not known
        self.isolates_trials = isinstance(executor, futures.ProcessPoolExecutor)
        self._running: list[tuple[Any, TrialSpec, float]] = []
        self._relay: PoolRelay | None = None  # a process pool's trials' warnings, as made
        self._refused: SearchError | None = None  # a broken pool's, raised by a wait too
        self._held: list[int] = []  # the trials out when the pool broke (FAILED by it)

    def submit(self, spec: TrialSpec) -> None:
        # a thread runs it in a copy of this thread's context: a warning of the trial is the
        # command's line too (was: Python's, pointing into concurrent/futures); another
        # process takes none (a Context is no picklable object): under a console its
        # warnings come back with its result (``run_relayed``; was: Python's form there), a
        # process pool's sent as they are made (``pool_relay``; was: with its result)
        command = console_command()
        if command and self.isolates_trials and self._relay is None:
            try:
                self._relay = PoolRelay()
            except (OSError, ValueError):  # no Unix socket (Windows): they come with the result
                self._relay = None
        call = ((contextvars.copy_context().run, run_relayed, spec, None)
                if isinstance(self.executor, futures.ThreadPoolExecutor)
                else (run_relayed, spec, command,
                      self._relay.sender() if command and self._relay else None))
        try:
            future = self.executor.submit(*call)
        except futures.BrokenExecutor as err:  # (was: Python's error, out of Search.run)
            self._refused = SearchError(_broken(self.executor, err, spec.trial_id,
                                                self._held))
            raise self._refused from err  # (kept: the wait for its trial raises it too)
        self._running.append((future, spec, time.time()))

    def shutdown(self) -> None:
        """Cancel the trials the executor has not started and forget those out; the
        executor itself is left running (its owner shuts it down)."""
        for fut, _, _ in self._running:
            cancel = getattr(fut, "cancel", None)  # (a future of any kind may lack it)
            if callable(cancel):
                cancel()
        self._running, self._refused, self._held = [], None, []
        if self._relay is not None:
            self._relay.close()
            self._relay = None

    def wait(self) -> list[TrialResult]:
        if not self._running:  # (was: a wait for ever, for a trial a broken pool refused)
            error, self._refused = self._refused, None
            raise error or RuntimeError("no trial is running")
        futs = [f for f, _, _ in self._running]
        while True:
            if all(isinstance(f, futures.Future) for f in futs):
                futures.wait(futs, timeout=None if self._relay is None else POLL,
                             return_when=futures.FIRST_COMPLETED)
            if self._relay is not None:  # as they are made (was: with each trial's result)
                say_relayed(self._relay.take())
            finished = [entry for entry in self._running if entry[0].done()]
            if finished:
                break
            time.sleep(0.02)
        results, out = [], sorted(spec.trial_id for _, spec, _ in self._running)
        for entry in finished:
            self._running.remove(entry)
            fut, spec, started = entry
            try:
                result, said = fut.result()
            except futures.BrokenExecutor as err:  # a process of the pool died: all out fail
                results.append(failed_result(spec, self._broke(err, out), started))
                continue
            except Exception as err:  # noqa: BLE001 - the trial's call could not come back
                results.append(failed_result(spec, typed(err), started))
                continue
            say_relayed(said)  # the trial's warnings, as this process's own
            results.append(result)
        return results

    def _broke(self, err: BaseException, out: list[int]) -> str:
        """A trial's error where the pool broke (``BrokenProcessPool``) while it ran: the
        trials ``out`` then (``_held``, noted at the first: the pool fails them all at once)
        all fail with it, one for its process's death, the others for the break, not their
        architectures (``FailureWatch`` does not count it as their way of failing)."""
        if not self._held:
            self._held = out
        held = self._held
        trials = f"trial {held[0]} was" if len(held) == 1 else f"trials {joined(held)} were"
        died = (": a process of it ended abruptly" if isinstance(
            err, BrokenProcessPool) else "")
        return (f"{typed(err)} (the pool broke while {trials} in it{died}, and it failed "
                f"every trial it held)")
