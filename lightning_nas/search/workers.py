"""Long-lived worker processes (``ProcessExecutor``) and each worker's device slice.

Workers import torch and Lightning once and run many trials, so a trial costs no process
start-up, and a worker starts forked from a fork server that imported them once
(``worker_start``: a fork, not an import, per worker), else spawned; each gets its own GPUs
(``CUDA_VISIBLE_DEVICES``) or its share of CPU threads.

Example:
    >>> assign_devices(2, accelerator="cpu", threads_per_trial=1)[1]
    {'OMP_NUM_THREADS': '1', 'LNAS_NUM_THREADS': '1'}
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from lightning_nas.devices import accelerator_name
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import PROCESS_DIED, TrialResult
from lightning_nas.search.executor import TrialExecutor, failed_result
from lightning_nas.search.lifetime import describe_exit, environ
from lightning_nas.search.progress_file import died_progress
from lightning_nas.search.setting_checks import in_words
from lightning_nas.search.trial import TrialSpec
from lightning_nas.search.worker_entry import (
    READY,
    RECEIVED,
    REIMPORTED,
    WARNED,
    clear_markers,
    exit_if_importing_main,
    left_reimported,
    reimported_marker,
    worker_main,
    worker_name,
)
from lightning_nas.search.worker_start import (
    ParentStream,
    server_failed,
    start_held,
    worker_context,
)
from lightning_nas.user_warnings import warn_user

__all__ = ["ProcessExecutor", "assign_devices", "usable_cpus", "visible_gpus"]


def visible_gpus() -> list[str]:
    """The GPUs this process sees, by the ids workers are given: those of
    ``CUDA_VISIBLE_DEVICES`` that CUDA counts (none without a GPU or driver; was: the
    variable's ids as they were, so a machine without a GPU that exports it had "GPUs").

    Example:
        >>> all(gpu.strip() for gpu in visible_gpus())
        True
    """
    try:
        import torch

        count = torch.cuda.device_count()  # honours CUDA_VISIBLE_DEVICES
    except Exception:  # noqa: BLE001 - no CUDA build or driver
        count = 0
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:  # CUDA counts its ids up to the first that is not a GPU
        return [d.strip() for d in env.split(",") if d.strip()][:count]
    return [str(i) for i in range(count)]


def usable_cpus() -> int:
    """The CPUs this process may run on: its CPU affinity (``taskset``, a Slurm or container
    cpuset) where the platform has one, else every core (``os.cpu_count()``).

    Example:
        >>> usable_cpus() >= 1
        True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def assign_devices(num_workers: int, devices_per_trial: int = 1,
                   accelerator: Any = "auto",
                   threads_per_trial: int | None = None) -> list[dict[str, str]]:
    """Environment of each worker: its GPU slice (``CUDA_VISIBLE_DEVICES``) on GPUs, its
    share of CPU threads otherwise (the CPUs the search may run on, ``usable_cpus``, shared
    out among the workers, unless ``threads_per_trial`` is given).

    Example:
        >>> assign_devices(2, accelerator="cpu", threads_per_trial=1)[1]
        {'OMP_NUM_THREADS': '1', 'LNAS_NUM_THREADS': '1'}
    """
    accelerator = accelerator_name(accelerator)  # an Accelerator object by its name too
    gpus = visible_gpus() if accelerator in ("auto", "gpu", "cuda") else []
    if accelerator in ("gpu", "cuda") and not gpus:  # (was: neither the setting nor a fix)
        env = os.environ.get("CUDA_VISIBLE_DEVICES")
        cpu = in_words("trainer.accelerator: cpu", 'trainer={"accelerator": "cpu"}')
        raise ConfigError(f"trainer.accelerator={accelerator!r} but no GPU is visible "
                          f"(CUDA counts none"
                          + (f"; CUDA_VISIBLE_DEVICES={env!r}" if env is not None else "")
                          + f"), so the worker processes have none to share: train on CPU "
                          f"({cpu}, or auto, which takes the GPUs where there are some)")
    if gpus:
        need = num_workers * devices_per_trial
        if need > len(gpus):
            raise ConfigError(f"num_workers={num_workers} x devices_per_trial="
                              f"{devices_per_trial} needs {need} GPUs; {len(gpus)} visible "
                              f"({','.join(gpus)}): lower num_workers or devices_per_trial, "
                              f"or train on CPU (trainer.accelerator: cpu)")
        threads = {"OMP_NUM_THREADS": str(threads_per_trial),
                   "LNAS_NUM_THREADS": str(threads_per_trial)} if threads_per_trial else {}
        return [{"CUDA_VISIBLE_DEVICES": ",".join(gpus[i * devices_per_trial:
                                                        (i + 1) * devices_per_trial]),
                 **threads} for i in range(num_workers)]
    threads = threads_per_trial or max(1, usable_cpus() // num_workers)
    return [{"OMP_NUM_THREADS": str(threads), "LNAS_NUM_THREADS": str(threads)}
            for _ in range(num_workers)]


@dataclass
class _Worker:
    env: dict[str, str]
    process: Any = None
    conn: Connection | None = None
    spec: TrialSpec | None = None
    started: float = 0.0
    trials: int = 0
    ready: bool = False  # its READY message came: it got as far as worker_main
    received: bool = False  # its RECEIVED message came: it read the spec of its trial
    resent: bool = False  # its trial was sent again: its first worker died before reading it
    marker: Path | None = None  # the file it leaves as it started a search at import


def _died_starting(reason: str, trial_id: int, exitcode: int | None,
                   reimported: bool = False) -> str:
    """The error of a worker that died before it said it is ready: killed by a signal
    (the out-of-memory killer, a kill of its pid), stopped as it started a search (or a
    pool's workers) while it imported the script again (exit code ``REIMPORTED`` and
    ``reimported``, its marker left: started at import, without the ``__main__`` guard), or
    another error as it started (its environment's, a ``sitecustomize`` on ``PYTHONPATH`` or
    an ``LD_PRELOAD``, or the script's as imported again: what is known, without the guard's
    advice; was: that advice for any exit code, then for any exit code 86).

    Example:
        >>> _died_starting("killed by SIGKILL", 3, -9)[:60]
        'a worker process was killed while starting (killed by SIGKIL'
        >>> _died_starting("exit code 86", 3, 86)[:74]
        'a worker process died while starting (exit code 86), before it ran trial 3'
    """
    if exitcode is not None and exitcode < 0:  # was: the guard advice, "its error above"
        return (f"a worker process was killed while starting ({reason}), before it ran "
                f"trial {trial_id}: a signal from outside ended it (the out-of-memory "
                f"killer, a kill of its pid), not an error of its own. The trial was not "
                f"run; resume runs it")
    if exitcode == REIMPORTED and reimported:
        return (f"a worker process died while starting (it imported the script again, "
                f"which started a search at import), before it ran trial {trial_id}. A "
                f"script that starts a search (or a ProcessExecutor's workers) at import "
                f"needs `if __name__ == \"__main__\":` around it: worker processes import the "
                f"script again (forked from a fork server or spawned). The trial was not "
                f"run; resume runs it")
    return (f"a worker process died while starting ({reason}), before it ran trial "
            f"{trial_id}; what it printed, if anything, is above (as its interpreter "
            f"started, e.g. a sitecustomize on PYTHONPATH or an LD_PRELOAD, or as it "
            f"imported the script again). The trial was not run; resume runs it")


class ProcessExecutor(TrialExecutor):
    """Long-lived worker processes, one trial at a time each.

    Workers import torch and Lightning once and run many trials; each is started when a
    trial is first submitted to it (``start`` starts some ahead), so no more start than
    there are trials to run at once. A worker that dies
    (segfault, ``os._exit``, killed for memory) turns its trial into a FAILED result with
    the reason and is replaced; one that died before it read its trial's spec (it says
    ``RECEIVED`` as it does) never started the trial, which is sent to a fresh worker, once
    (was: FAILED); ``max_trials_per_worker`` recycles workers to bound leaks.
    Workers are forked from multiprocessing's fork server, which imported torch and
    Lightning once (``worker_start``), else spawned; either way they import the script
    again, so a script that creates a search needs the usual ``if __name__ == "__main__":``
    guard; a worker that dies before it starts
    (without the guard it runs the script again and fails) stops the search with a
    ``SearchError`` that says so, rather than failing trials it never ran (raised by the
    next ``wait`` when other workers' results came with it: those are returned first).

    Args:
        num_workers: trials run at once.
        devices_per_trial: GPUs per trial (each worker gets its own slice).
        accelerator: the trials' accelerator (``auto`` uses GPUs when visible), a name or
            a Lightning ``Accelerator`` object (``devices.accelerator_name``).
        threads_per_trial: torch threads per worker on CPU (default: the CPUs the
            search may run on, ``usable_cpus()``, / workers).
        max_trials_per_worker: replace a worker after this many trials (None: never).
    """

    isolates_trials = True

    def __init__(self, num_workers: int = 2, devices_per_trial: int = 1,
                 accelerator: Any = "auto", threads_per_trial: int | None = None,
                 max_trials_per_worker: int | None = None) -> None:
        if num_workers < 1:
            raise ConfigError(f"num_workers must be >= 1, got {num_workers}")
        self.num_workers = num_workers
        self.max_trials_per_worker = max_trials_per_worker
        envs = assign_devices(num_workers, devices_per_trial, accelerator, threads_per_trial)
        threads = envs[0].get("LNAS_NUM_THREADS") if envs else None
        self.cpu_threads = int(threads) if threads else None
        #: the cores CPU trials share, where more workers than that run them (said by start)
        self._crowded = None if any("CUDA_VISIBLE_DEVICES" in env for env in envs) or \
            num_workers <= usable_cpus() else usable_cpus()
        self._workers = [_Worker(env=env) for env in envs]
        self._ctx = mp.get_context("spawn")
        self._died_starting: SearchError | None = None  # raised by the next wait()
        clear_markers()  # those a killed search left

    def _spawn(self, worker: _Worker) -> None:
        exit_if_importing_main()  # a worker importing a script without the __main__ guard
        parent, child = self._ctx.Pipe()
        args = (child, os.getpid(), mp.get_start_method(allow_none=True))
        left_reimported(worker.marker)  # an earlier worker's, unread
        worker.marker = reimported_marker(os.getpid())  # named to it: in this process's
        name = worker_name(worker.marker)  # temporary folder (was: the worker's)
        process, warm = None, worker_context(worker.env)
        if warm is not None:  # forked from the fork server: given its environment, which
            process = warm.Process(target=worker_main, name=name,  # it
                                   args=(*args, {**os.environ, **worker.env},  # applies,
                                         ParentStream.of_this_process()))  # and writes here
            try:  # (its Ctrl-C held back by the server, not by this process)
                process.start()
            except (OSError, EOFError):  # the server died as it started: spawned instead
                process = None
                server_failed()
        if process is None:  # spawned children copy the environment, and start with
            with start_held(), environ(worker.env):  # Ctrl-C held back until their
                process = self._ctx.Process(target=worker_main, args=args,  # imports are
                                            name=name)  # done
                process.start()  # (worker_main); its DataLoaders start workers as here
        child.close()
        worker.process, worker.conn, worker.trials, worker.ready = process, parent, 0, False

    def start(self, workers: int = 0) -> None:
        """Start ``workers`` of the workers now, ahead of their trials (default none):
        ``submit`` starts a trial's worker when none is running, so a search with fewer
        trials left than ``num_workers`` (budget 2 of 4 workers, a resume with one trial
        left, nothing left) starts only as many (was: all of them, each paying its
        imports of torch and Lightning, seconds, and its memory).

        Example:
            >>> pool = ProcessExecutor(2, accelerator="cpu", threads_per_trial=1)
            >>> pool.start()  # nothing yet: the first submit starts the first worker
            >>> pool.pids()
            []
        """
        if self._crowded is not None:  # once, before the first trial (was: not said)
            n, cores = self.num_workers, self._crowded
            warn_user(f"search.num_workers={n} runs {n} trials at once on CPU, but this "
                      f"process may use {cores} CPU core{'s' * (cores != 1)} (its CPU "
                      f"affinity): the trials share them, each slower than alone; give "
                      f"search.num_workers at most {cores}")
            self._crowded = None
        for worker in self._workers[:workers]:
            if worker.process is None or not worker.process.is_alive():
                self._spawn(worker)

    def pids(self) -> list[int]:
        """Process ids of the live workers (those started and not ended or retired)."""
        return [w.process.pid for w in self._workers if w.process and w.process.is_alive()]

    def submit(self, spec: TrialSpec) -> None:
        if self._died_starting is not None:  # no new trial once a worker died starting
            raise self._died_starting  # (kept: the next wait raises it too)
        free = [w for w in self._workers if w.spec is None]
        if not free:
            raise RuntimeError("all workers are busy; wait() for a result first")
        # a running worker first: one is started only where none is free
        worker = next((w for w in free if w.process is not None and w.process.is_alive()),
                      free[0])
        worker.started = time.time()
        self._send(worker, spec)

    def _send(self, worker: _Worker, spec: TrialSpec, resent: bool = False) -> None:
        """Send ``spec`` to ``worker``, started first where it is not running."""
        if worker.process is None or not worker.process.is_alive():
            self._spawn(worker)
        worker.spec, worker.received, worker.resent = spec, False, resent
        try:
            worker.conn.send(spec)  # its warnings come here (said as this process's own)
        except (BrokenPipeError, ConnectionResetError):  # it died before it read the spec:
            pass  # the next wait() says how (was: this error, out of submit)

    def _retire(self, worker: _Worker) -> None:
        # a worker that ran no trial holds nothing: ending it at once spares waiting out its
        # imports (seconds; more than the 10 s below on a loaded machine)
        idle = worker.trials == 0
        if worker.conn is not None:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            worker.conn.close()
        if worker.process is not None:
            if idle:
                worker.process.kill()
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        left_reimported(worker.marker)  # one it left, unread: the pool's end removes it
        worker.process, worker.conn, worker.marker = None, None, None

    def wait(self) -> list[TrialResult]:
        self._raise_died_starting()
        busy = [w for w in self._workers if w.spec is not None]
        if not busy:
            raise RuntimeError("no trial is running")
        while True:  # a READY message alone wakes the wait: wait on for a result
            results = []
            for worker in self._woken(busy):
                try:
                    result = self._collect(worker)
                except SearchError as error:  # a worker died as it started: after the
                    self._died_starting = error  # results woken with it (was: they were lost)
                    continue
                if result is not None:
                    results.append(result)
            if results:
                return results
            self._raise_died_starting()

    def _raise_died_starting(self) -> None:
        """Raise the error of a worker that died as it started, kept by the ``wait`` that
        returned the results woken with it."""
        if self._died_starting is not None:
            error, self._died_starting = self._died_starting, None
            raise error

    @staticmethod
    def _woken(busy: list[_Worker]) -> list[_Worker]:
        """The busy workers that sent something or died."""
        handles: dict[Any, _Worker] = {w.conn: w for w in busy}
        handles.update({w.process.sentinel: w for w in busy})  # an int file descriptor
        done: list[_Worker] = []
        for obj in wait(list(handles)):
            if handles[obj] not in done:
                done.append(handles[obj])
        return done

    def _collect(self, worker: _Worker) -> TrialResult | None:
        """The trial result of a woken worker (FAILED when it died mid-trial), or None when
        it only said it is ready or received its trial, or died before it read it."""
        result = None
        while result is None and worker.conn.poll():
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                break
            if message == READY:
                worker.ready = True
            elif message == RECEIVED:
                worker.received = True
            elif isinstance(message, tuple) and message[0] == WARNED:  # said as this
                warn_user(*message[1:])  # process's own (console: its line, once a text)
            else:
                result = message
        if result is None and worker.process.is_alive():
            return None
        if result is None:  # the process died
            return self._died(worker)
        worker.spec = None
        worker.trials += 1
        if self.max_trials_per_worker and worker.trials >= self.max_trials_per_worker:
            self._retire(worker)
        return result

    def _died(self, worker: _Worker) -> TrialResult | None:
        """The FAILED result of the trial of ``worker``, which died; None where it died
        after it said it is ready but before it read the trial's spec (``RECEIVED``): the
        trial never started and is sent to a fresh worker, once (was: FAILED, "trial process
        died"; a second worker that dies so fails it as before). One that died before it
        said it is ready raises ``_died_starting``'s ``SearchError``."""
        spec = worker.spec
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        reason = describe_exit(code)
        worker.conn.close()
        worker.process, worker.conn = None, None  # replaced at the next submit
        if not worker.ready:  # it never got to run the trial: no trial's fault
            worker.spec = None
            raise SearchError(_died_starting(reason, spec.trial_id, code,
                                             left_reimported(worker.marker)))
        if not worker.received and not worker.resent:
            self._send(worker, spec, resent=True)
            return None
        worker.spec = None
        # with what it trained (was: epochs None, no curve)
        return died_progress(failed_result(spec, f"{PROCESS_DIED} ({reason})",
                                           worker.started), spec)

    def end_trials(self) -> None:
        """End the workers running a trial (killed: the trial is abandoned, a resume runs
        it) and drop the kept error of a worker that died as it started; idle workers are
        kept, warm, for the next search. A search's end calls it for a pool of the user's
        (was: a trial of a search that stopped while it ran went on, and the next search
        with the pool found its worker busy, ``all workers are busy``, or could take that
        trial's result for one of its own; a kept error stopped the next search).

        Example:
            >>> pool = ProcessExecutor(2, accelerator="cpu", threads_per_trial=1)
            >>> pool.end_trials()  # none running: nothing to end
            >>> pool.pids()
            []
        """
        for worker in self._workers:
            if worker.spec is not None:
                if worker.process is not None:
                    worker.process.kill()
                self._retire(worker)
                worker.spec = None
        self._died_starting = None

    def shutdown(self) -> None:
        try:
            self.end_trials()  # running trials abandoned; a resume takes them on again
            for worker in self._workers:
                self._retire(worker)
        finally:  # a Ctrl-C meanwhile: none left running, which Python's exit would wait
            for worker in self._workers:  # for, for ever (was: "interrupted", no return)
                if worker.process is not None and worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join(timeout=5)
