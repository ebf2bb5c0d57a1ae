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

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lightning_nas.errors import ConfigError
from lightning_nas.search.executor import FuturesExecutor, InlineExecutor, TrialExecutor
from lightning_nas.search.executor_objects import check_object_settings
from lightning_nas.search.ray_executor import RayExecutor
from lightning_nas.search.setting_checks import in_words
from lightning_nas.search.workers import ProcessExecutor

if TYPE_CHECKING:
    from lightning_nas.search.setting_groups import Execution

__all__ = ["EXECUTORS", "check_devices_per_trial", "check_ray_gpus", "executor_for",
           "make_executor"]

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
    if executor == "ray" or isinstance(executor, RayExecutor):
        given = isinstance(executor, RayExecutor) or "num_gpus" in ray
        check_ray_gpus(trainer, executor.num_gpus if isinstance(executor, RayExecutor)
                       else ray.get("num_gpus", devices_per_trial),
                       "search.ray.num_gpus" if given else "devices_per_trial")
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


def check_ray_gpus(trainer: Mapping[str, Any], num_gpus: Any,
                   said: str = "search.ray.num_gpus") -> None:
    """Raise ``ConfigError`` where a GPU trial's ``trainer.devices`` asks for more GPUs than
    its Ray actor gets (``num_gpus``: ``search.ray.num_gpus``, else ``devices_per_trial``;
    None: the trial's own ``devices``; ``said``: its setting's name): Ray shows an actor
    only the GPUs it reserves (its ``CUDA_VISIBLE_DEVICES``), so each trial's Trainer would
    refuse them, after the run folder was written (was: every trial FAILED so, until two
    stopped the search).

    Example:
        >>> check_ray_gpus({"accelerator": "gpu", "devices": 2}, 1)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.devices=2 trains each trial on 2 GPUs, ...
    """
    accelerator, devices = trainer.get("accelerator"), trainer.get("devices")
    if not isinstance(accelerator, str) or accelerator.lower() not in ("gpu", "cuda") \
            or isinstance(num_gpus, bool) or not isinstance(num_gpus, (int, float)) \
            or num_gpus <= 0:
        return
    if isinstance(devices, str) and devices.strip().isdigit():
        devices = int(devices)
    wanted = (len(devices) if isinstance(devices, (list, tuple)) else
              devices if isinstance(devices, int) and not isinstance(devices, bool) else 0)
    if wanted > math.ceil(num_gpus):
        raise ConfigError(
            f"trainer.devices={trainer.get('devices')!r} trains each trial on "
            f"{wanted} GPUs, but {said}={num_gpus!r} gives each trial's Ray "
            f"actor {math.ceil(num_gpus)} (Ray shows an actor only the GPUs it reserves): "
            f"set {said}={wanted}, or leave it out (a GPU trial reserves its "
            f"trainer.devices)")


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
    check_object_settings(executor, threads_per_trial=threads_per_trial,  # (an object's own)
                          devices_per_trial=devices_per_trial,
                          max_trials_per_worker=max_trials_per_worker)
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
