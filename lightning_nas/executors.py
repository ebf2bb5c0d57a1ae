"""Where trials run: in the driver, in long-lived worker processes, on a Ray cluster, or in
any ``concurrent.futures``-style executor.

Every executor takes ``TrialSpec``s and gives back ``TrialResult``s; none writes the run
store (the driver is its only writer). Each worker calls ``execute_trial``, which runs a
multi-process trial (DDP) through its own ``python -m lightning_nas.launch`` process.

Example:
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> make_executor("inline").num_workers
    1
    >>> make_executor(ThreadPoolExecutor(2), num_workers=2).num_workers
    2
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Mapping
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from lightning_nas.builders import ConfigError
from lightning_nas.launch import describe_exit, execute_trial
from lightning_nas.trial import TrialResult, TrialSpec, TrialStatus

__all__ = [
    "EXECUTORS",
    "FuturesExecutor",
    "InlineExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "TrialExecutor",
    "assign_devices",
    "make_executor",
]

EXECUTORS = ("auto", "inline", "process", "ray")


def _failed(spec: TrialSpec, error: str, started: float | None = None) -> TrialResult:
    return TrialResult(trial_id=spec.trial_id, arch=dict(spec.arch), status=TrialStatus.FAILED,
                       started=started or time.time(), finished=time.time(), error=error)


class TrialExecutor(ABC):
    """Runs up to ``num_workers`` trials at once.

    The driver calls ``submit`` only while fewer than ``num_workers`` trials are running,
    and ``wait`` to get the results of finished trials (at least one; it blocks).
    """

    num_workers: int = 1

    def start(self) -> None:  # noqa: B027 - optional hook
        """Start workers ahead of the first trial (optional; ``submit`` starts them too)."""

    @abstractmethod
    def submit(self, spec: TrialSpec) -> None:
        """Start a trial."""

    @abstractmethod
    def wait(self) -> list[TrialResult]:
        """Block until at least one submitted trial has finished; return those results."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Stop the workers (running trials are abandoned; a resume re-runs them)."""

    def __enter__(self) -> TrialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class InlineExecutor(TrialExecutor):
    """Runs each trial in the calling process, one at a time (the cheapest per trial)."""

    def __init__(self) -> None:
        self.num_workers = 1
        self._queue: list[TrialSpec] = []

    def submit(self, spec: TrialSpec) -> None:
        self._queue.append(spec)

    def wait(self) -> list[TrialResult]:
        return [execute_trial(self._queue.pop(0))]


# ---------------------------------------------------------------------- devices
def _visible_gpus() -> list[str]:
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - no CUDA build or driver
        return []


def assign_devices(num_workers: int, devices_per_trial: int = 1,
                   accelerator: str | None = "auto",
                   threads_per_trial: int | None = None) -> list[dict[str, str]]:
    """Environment of each worker: its GPU slice (``CUDA_VISIBLE_DEVICES``) on GPUs, its
    share of CPU threads otherwise.

    Example:
        >>> assign_devices(2, accelerator="cpu", threads_per_trial=1)[1]
        {'OMP_NUM_THREADS': '1', 'LNAS_NUM_THREADS': '1'}
    """
    accelerator = (accelerator or "auto").lower()
    gpus = _visible_gpus() if accelerator in ("auto", "gpu", "cuda") else []
    if accelerator in ("gpu", "cuda") and not gpus:
        raise ConfigError(f"accelerator={accelerator!r} but no GPU is visible")
    if gpus:
        need = num_workers * devices_per_trial
        if need > len(gpus):
            raise ConfigError(f"num_workers={num_workers} x devices_per_trial="
                              f"{devices_per_trial} needs {need} GPUs; {len(gpus)} visible "
                              f"({','.join(gpus)})")
        return [{"CUDA_VISIBLE_DEVICES": ",".join(gpus[i * devices_per_trial:
                                                        (i + 1) * devices_per_trial])}
                for i in range(num_workers)]
    threads = threads_per_trial or max(1, (os.cpu_count() or 1) // num_workers)
    return [{"OMP_NUM_THREADS": str(threads), "LNAS_NUM_THREADS": str(threads)}
            for _ in range(num_workers)]


@contextmanager
def _environ(patch: Mapping[str, str]):
    """Set environment variables while a worker is started (spawned children copy them)."""
    old = {k: os.environ.get(k) for k in patch}
    os.environ.update(patch)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---------------------------------------------------------------------- process workers
def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when the driver dies (e.g. ``kill -9``)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers end at their next recv()
        pass


def _worker_main(conn: Connection) -> None:
    """A worker's loop: receive a spec, run it, send the result; ``None`` ends it."""
    _die_with_parent()
    threads = os.environ.get("LNAS_NUM_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    while True:
        try:
            spec = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if spec is None:
            return
        try:
            result = execute_trial(spec)
        except Exception:  # noqa: BLE001 - report, keep the worker alive
            result = _failed(spec, f"worker error: {traceback.format_exc(limit=-6)}")
        conn.send(result)


@dataclass
class _Worker:
    env: dict[str, str]
    process: Any = None
    conn: Connection | None = None
    spec: TrialSpec | None = None
    started: float = 0.0
    trials: int = 0


class ProcessExecutor(TrialExecutor):
    """Long-lived worker processes, one trial at a time each.

    Workers import torch and Lightning once and run many trials; a worker that dies
    (segfault, ``os._exit``, killed for memory) turns its trial into a FAILED result with
    the reason and is replaced; ``max_trials_per_worker`` recycles workers to bound leaks.
    Workers are started with the ``spawn`` method, so a script that creates a search needs
    the usual ``if __name__ == "__main__":`` guard.

    Args:
        num_workers: trials run at once.
        devices_per_trial: GPUs per trial (each worker gets its own slice).
        accelerator: the trials' accelerator (``auto`` uses GPUs when visible).
        threads_per_trial: torch threads per worker on CPU (default: cores / workers).
        max_trials_per_worker: replace a worker after this many trials (None: never).
    """

    def __init__(self, num_workers: int = 2, devices_per_trial: int = 1,
                 accelerator: str | None = "auto", threads_per_trial: int | None = None,
                 max_trials_per_worker: int | None = None) -> None:
        if num_workers < 1:
            raise ConfigError(f"num_workers must be >= 1, got {num_workers}")
        self.num_workers = num_workers
        self.max_trials_per_worker = max_trials_per_worker
        envs = assign_devices(num_workers, devices_per_trial, accelerator, threads_per_trial)
        self._workers = [_Worker(env=env) for env in envs]
        self._ctx = mp.get_context("spawn")

    def _spawn(self, worker: _Worker) -> None:
        parent, child = self._ctx.Pipe()
        with _environ(worker.env):
            process = self._ctx.Process(target=_worker_main, args=(child,),
                                        name="lightning-nas-worker")
            process.start()
        child.close()
        worker.process, worker.conn, worker.trials = process, parent, 0

    def start(self) -> None:
        for worker in self._workers:
            if worker.process is None or not worker.process.is_alive():
                self._spawn(worker)

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.process.pid for w in self._workers if w.process and w.process.is_alive()]

    def submit(self, spec: TrialSpec) -> None:
        worker = next((w for w in self._workers if w.spec is None), None)
        if worker is None:
            raise RuntimeError("all workers are busy; wait() for a result first")
        if worker.process is None or not worker.process.is_alive():
            self._spawn(worker)
        worker.spec, worker.started = spec, time.time()
        worker.conn.send(spec)

    def _retire(self, worker: _Worker) -> None:
        if worker.conn is not None:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            worker.conn.close()
        if worker.process is not None:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        worker.process, worker.conn = None, None

    def wait(self) -> list[TrialResult]:
        busy = [w for w in self._workers if w.spec is not None]
        if not busy:
            raise RuntimeError("no trial is running")
        handles: dict[Any, _Worker] = {w.conn: w for w in busy}
        handles.update({w.process.sentinel: w for w in busy})  # an int file descriptor
        done: list[_Worker] = []
        for obj in wait(list(handles)):
            if handles[obj] not in done:
                done.append(handles[obj])
        results = []
        for worker in done:
            spec, worker.spec = worker.spec, None
            result = None
            if worker.conn.poll():
                try:
                    result = worker.conn.recv()
                except (EOFError, OSError):
                    result = None
            if result is None:  # the process died mid-trial
                worker.process.join(timeout=5)
                reason = describe_exit(worker.process.exitcode)
                result = _failed(spec, f"trial process died ({reason})", worker.started)
                worker.conn.close()
                worker.process, worker.conn = None, None  # replaced at the next submit
            else:
                worker.trials += 1
                if self.max_trials_per_worker and worker.trials >= self.max_trials_per_worker:
                    self._retire(worker)
            results.append(result)
        return results

    def shutdown(self) -> None:
        for worker in self._workers:
            if worker.spec is not None and worker.process is not None:
                worker.process.kill()  # abandon running trials; a resume re-runs them
            self._retire(worker)
            worker.spec = None


# ---------------------------------------------------------------------- Ray
class _RayTrialActor:
    """Ray actor that runs trials; reused across trials like a process worker."""

    def __init__(self, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))

    def run(self, spec: TrialSpec) -> TrialResult:
        return execute_trial(spec)


class RayExecutor(TrialExecutor):
    """Trials as calls on Ray actors (one per worker, reused), with CPU/GPU resources.

    Args:
        num_workers: actors, i.e. trials at once.
        num_cpus: CPUs each trial reserves (also its torch threads).
        num_gpus: GPUs each trial reserves (Ray sets ``CUDA_VISIBLE_DEVICES`` per actor).
        init: keyword arguments of ``ray.init`` (e.g. ``address: auto``) when Ray is not
            initialised yet; by default a local cluster. The current folder is put on the
            workers' ``PYTHONPATH`` so configs' class paths import there too.
    """

    def __init__(self, num_workers: int = 2, num_cpus: float = 1, num_gpus: float = 0,
                 init: Mapping[str, Any] | None = None) -> None:
        try:
            import ray
        except ImportError as err:
            raise ConfigError("executor 'ray' needs Ray: pip install 'lightning-nas[ray]'") \
                from err
        self._ray = ray
        self.num_workers = num_workers
        self.num_cpus, self.num_gpus = num_cpus, num_gpus
        self.init_kwargs = dict(init or {})
        self._actors: list[Any] = []
        self._running: dict[Any, tuple[int, TrialSpec, float]] = {}
        self._owns_ray = False

    def start(self) -> None:
        ray = self._ray
        if not ray.is_initialized():
            kwargs = dict(self.init_kwargs)
            runtime_env = dict(kwargs.pop("runtime_env", {}) or {})
            env_vars = dict(runtime_env.get("env_vars", {}))
            env_vars.setdefault("PYTHONPATH", os.pathsep.join(
                [os.getcwd(), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
            runtime_env["env_vars"] = env_vars
            kwargs.setdefault("log_to_driver", False)
            ray.init(runtime_env=runtime_env, **kwargs)
            self._owns_ray = True
        while len(self._actors) < self.num_workers:
            self._actors.append(self._new_actor())

    def _new_actor(self) -> Any:
        remote = self._ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)
        return remote(_RayTrialActor).remote(int(max(1, self.num_cpus)))

    def submit(self, spec: TrialSpec) -> None:
        if not self._actors:
            self.start()
        busy = {i for i, _, _ in self._running.values()}
        index = next(i for i in range(self.num_workers) if i not in busy)
        ref = self._actors[index].run.remote(spec)
        self._running[ref] = (index, spec, time.time())

    def wait(self) -> list[TrialResult]:
        ready, _ = self._ray.wait(list(self._running), num_returns=1)
        results = []
        for ref in ready:
            index, spec, started = self._running.pop(ref)
            try:
                results.append(self._ray.get(ref))
            except self._ray.exceptions.RayActorError as err:
                results.append(_failed(spec, f"trial process died (Ray actor: {err})", started))
                self._actors[index] = self._new_actor()
            except self._ray.exceptions.RayError as err:
                results.append(_failed(spec, f"Ray error: {err}", started))
        return results

    def shutdown(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors, self._running = [], {}
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False


# ---------------------------------------------------------------------- any executor
class FuturesExecutor(TrialExecutor):
    """Wraps any object with ``submit(fn, *args)`` returning futures with ``done()`` and
    ``result()``: ``concurrent.futures`` pools, Dask's ``client.get_executor()``, submitit.

    Args:
        executor: the executor; lightning_nas does not shut it down (its owner does).
        num_workers: trials submitted at once.
    """

    def __init__(self, executor: Any, num_workers: int = 1) -> None:
        if not callable(getattr(executor, "submit", None)):
            raise ConfigError(f"executor {executor!r} has no submit(fn, *args) method")
        self.executor, self.num_workers = executor, num_workers
        self._running: list[tuple[Any, TrialSpec, float]] = []

    def submit(self, spec: TrialSpec) -> None:
        self._running.append((self.executor.submit(execute_trial, spec), spec, time.time()))

    def wait(self) -> list[TrialResult]:
        futs = [f for f, _, _ in self._running]
        while True:
            if all(isinstance(f, futures.Future) for f in futs):
                futures.wait(futs, return_when=futures.FIRST_COMPLETED)
            finished = [entry for entry in self._running if entry[0].done()]
            if finished:
                break
            time.sleep(0.02)
        results = []
        for entry in finished:
            self._running.remove(entry)
            fut, spec, started = entry
            try:
                results.append(fut.result())
            except Exception as err:  # noqa: BLE001 - e.g. BrokenProcessPool: the worker died
                results.append(_failed(spec, f"{type(err).__name__}: {err}", started))
        return results


def make_executor(executor: Any = "auto", num_workers: int = 1,
                  trainer: Mapping[str, Any] | None = None,
                  devices_per_trial: int | None = None, threads_per_trial: int | None = None,
                  max_trials_per_worker: int | None = None,
                  ray: Mapping[str, Any] | None = None) -> TrialExecutor:
    """The executor for a search.

    Args:
        executor: ``auto`` (``inline`` for one worker, else ``process``), ``inline``,
            ``process``, ``ray``, a ``TrialExecutor``, or any object with
            ``submit(fn, *args)`` (``concurrent.futures``, Dask, submitit).
        num_workers: trials at once.
        trainer: the trials' Trainer settings (accelerator and devices per trial).
        devices_per_trial: GPUs per trial (default: the Trainer's ``devices`` if an int).
        threads_per_trial: torch threads per CPU worker.
        max_trials_per_worker: recycle process workers after this many trials.
        ray: ``ray.init`` keyword arguments and per-trial ``num_cpus``/``num_gpus``.
    """
    trainer = dict(trainer or {})
    if isinstance(executor, TrialExecutor):
        return executor
    if not isinstance(executor, str):
        return FuturesExecutor(executor, num_workers)
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}, "
                          f"or an object with submit(fn, *args)")
    if devices_per_trial is None:
        devices = trainer.get("devices")
        devices_per_trial = devices if isinstance(devices, int) and devices > 0 else 1
    if executor == "auto":
        executor = "inline" if num_workers == 1 else "process"
    if executor == "inline":
        if num_workers != 1:
            raise ConfigError("executor 'inline' runs one trial at a time; use num_workers=1 "
                              "or executor 'process'")
        return InlineExecutor()
    if executor == "process":
        return ProcessExecutor(num_workers, devices_per_trial, trainer.get("accelerator"),
                               threads_per_trial, max_trials_per_worker)
    ray = dict(ray or {})
    cpus = ray.pop("num_cpus", threads_per_trial or 1)
    gpus = ray.pop("num_gpus", devices_per_trial if str(trainer.get("accelerator")) in
                   ("gpu", "cuda") else 0)
    return RayExecutor(num_workers, cpus, gpus, init=ray)
