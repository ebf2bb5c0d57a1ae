"""Choose where trials run: ``make_executor(name_or_object, ...)``.

``auto`` runs one worker in the search process (the cheapest per trial) and several in
worker processes; ``ray`` uses Ray actors; any object with ``submit(fn, *args)``
(``concurrent.futures``, Dask, submitit) is wrapped as it is.

Example:
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> make_executor("inline").num_workers
    1
    >>> make_executor(ThreadPoolExecutor(2), num_workers=2).num_workers
    2
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lightning_nas.errors import ConfigError
from lightning_nas.search.executor import FuturesExecutor, InlineExecutor, TrialExecutor
from lightning_nas.search.ray_executor import RayExecutor
from lightning_nas.search.setting_checks import in_words
from lightning_nas.search.workers import ProcessExecutor

if TYPE_CHECKING:
    from lightning_nas.search.setting_groups import Execution

__all__ = ["EXECUTORS", "check_devices_per_trial", "executor_for", "make_executor"]

EXECUTORS = ("auto", "inline", "process", "ray")


def check_devices_per_trial(executor: Any, num_workers: int, devices_per_trial: int | None,
                            trainer: Mapping[str, Any],
                            ray: Mapping[str, Any] | None = None) -> None:
    """Raise ``ConfigError`` for a ``devices_per_trial`` the trials' workers would ignore
    (``Execution`` refuses it where no worker process runs them): worker processes slice
    the visible GPUs only for ``trainer.accelerator`` ``auto``, ``gpu`` or ``cuda``; Ray
    gives a trial GPUs only for ``gpu`` or ``cuda``, and not when ``ray.num_gpus`` is set.

    Example:
        >>> check_devices_per_trial("process", 2, 1, {"accelerator": "cpu"})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: devices_per_trial=1 gives each worker its GPUs, ...
    """
    accelerator, ray = trainer.get("accelerator", "auto"), dict(ray or {})
    if executor == "auto":
        executor = "inline" if num_workers == 1 else "process"
    if devices_per_trial is None or executor not in ("process", "ray"):
        return
    said = f"devices_per_trial={devices_per_trial} gives each worker its GPUs, and "
    if executor == "ray" and "num_gpus" in ray:
        raise ConfigError(f"{said}ray.num_gpus={ray['num_gpus']!r} sets a Ray trial's GPUs "
                          f"instead; give one of them")
    gpus = ("gpu", "cuda") if executor == "ray" else ("auto", "gpu", "cuda")
    if isinstance(accelerator, str) and accelerator.lower() not in gpus:
        gpu = in_words("accelerator: gpu", 'trainer={"accelerator": "gpu"}')  # (was: a
        # config's words from Python too)
        raise ConfigError(f"{said}trainer.accelerator={accelerator!r} trains on none (with "
                          f"executor {executor!r}, GPUs are taken with accelerator "
                          f"{' or '.join(gpus)}); drop devices_per_trial, or set "
                          f"{gpu}")


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
        threads_per_trial: torch threads per CPU worker or Ray trial (there also the default
            of ``ray.num_cpus``), or around each inline trial (default there: the process's
            own, which its ``cpu_threads`` names).
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
    check_devices_per_trial(executor, num_workers, devices_per_trial, trainer, ray)
    if devices_per_trial is None:
        devices = trainer.get("devices")
        devices_per_trial = devices if isinstance(devices, int) and devices > 0 else 1
    if executor == "auto":
        executor = "inline" if num_workers == 1 else "process"
    if executor == "inline":
        if num_workers != 1:
            raise ConfigError("executor 'inline' runs one trial at a time; use num_workers=1 "
                              "or executor 'process'")
        return InlineExecutor(threads_per_trial, trainer)
    if executor == "process":
        return ProcessExecutor(num_workers, devices_per_trial, trainer.get("accelerator"),
                               threads_per_trial, max_trials_per_worker)
    ray = dict(ray or {})
    cpus = ray.pop("num_cpus", threads_per_trial or 1)
    gpus = ray.pop("num_gpus", devices_per_trial if str(trainer.get("accelerator")) in
                   ("gpu", "cuda") else 0)
    return RayExecutor(num_workers, cpus, gpus, init=ray, threads=threads_per_trial)


def executor_for(execution: Execution, trainer: Mapping[str, Any]) -> TrialExecutor:
    """``make_executor`` as a search's ``Execution`` settings give it (a fresh one each call;
    an executor object of the settings is wrapped, not copied).

    Args:
        execution: the search's ``settings.execution``.
        trainer: the search's Trainer arguments.
    """
    return make_executor(execution.executor, execution.num_workers, trainer,
                         execution.devices_per_trial, execution.threads_per_trial,
                         execution.max_trials_per_worker, execution.ray)
