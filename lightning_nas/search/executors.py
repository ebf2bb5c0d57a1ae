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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lightning_nas.devices import accelerator_name, gpus_asked
from lightning_nas.errors import ConfigError
from lightning_nas.search.executor import FuturesExecutor, InlineExecutor, TrialExecutor
from lightning_nas.search.executor_objects import check_object_settings
from lightning_nas.search.ray_executor import RayExecutor
from lightning_nas.search.setting_checks import in_words
from lightning_nas.search.workers import ProcessExecutor, visible_gpus

if TYPE_CHECKING:
    from lightning_nas.search.setting_groups import Execution

__all__ = ["EXECUTORS", "check_devices_per_trial", "check_ray_gpus", "check_worker_gpus",
           "default_devices_per_trial", "executor_for", "make_executor"]

EXECUTORS = ("auto", "inline", "process", "ray")


def check_devices_per_trial(executor: Any, num_workers: int, devices_per_trial: int | None,
                            trainer: Mapping[str, Any],
                            ray: Mapping[str, Any] | None = None,
                            searched: Sequence[Any] = ()) -> None:
    """Raise ``ConfigError`` for a ``devices_per_trial`` the trials' workers would ignore
    (``Execution`` refuses it where no worker process runs them): worker processes slice
    the visible GPUs only for ``trainer.accelerator`` ``auto``, ``gpu`` or ``cuda``; Ray
    gives a trial GPUs only for ``gpu`` or ``cuda``, and not when ``ray.num_gpus`` is set.
    Also for GPU trials whose ``trainer.devices``, or one of the ``searched`` values of
    space key ``trainer.devices``, asks for more GPUs than each worker or Ray actor gets
    (``check_worker_gpus``, ``check_ray_gpus``: its GPUs are those of the search's
    ``trainer``; was: each such trial FAILED).

    Example:
        >>> check_devices_per_trial("process", 2, 1, {"accelerator": "cpu"})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: devices_per_trial=1 gives each worker its GPUs, ...
    """
    accelerator, ray = trainer.get("accelerator", "auto"), dict(ray or {})
    if executor == "auto":
        executor = "inline" if num_workers == 1 else "process"
    per_trial = (default_devices_per_trial(trainer) if devices_per_trial is None
                 else devices_per_trial)
    for value, of_space in [(trainer.get("devices"), False), *((v, True) for v in searched)]:
        trial = {**trainer, "devices": value}
        if executor == "ray" or isinstance(executor, RayExecutor):
            given = isinstance(executor, RayExecutor) or "num_gpus" in ray \
                or devices_per_trial is None
            check_ray_gpus(trial, executor.num_gpus if isinstance(executor, RayExecutor)
                           else ray.get("num_gpus", per_trial),
                           "search.ray.num_gpus" if given else "devices_per_trial",
                           searched=of_space)
        if executor == "process":  # each worker sees its slice of the GPUs (was: unchecked)
            check_worker_gpus(trial, per_trial, searched=of_space)
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
                   said: str = "search.ray.num_gpus", searched: bool = False) -> None:
    """Raise ``ConfigError`` where a GPU trial's ``trainer.devices`` asks for more GPUs than
    its Ray actor gets (``num_gpus``: ``search.ray.num_gpus``, else ``devices_per_trial``;
    None: the trial's own ``devices``; ``said``: its setting's name; ``searched``: its
    ``devices`` is a value of space key ``trainer.devices``): Ray shows an actor
    only the GPUs it reserves (its ``CUDA_VISIBLE_DEVICES``), so each trial's Trainer would
    refuse them, after the run folder was written (was: every trial FAILED so, until two
    stopped the search; and so for a list of indices, ``"0,1"``, not checked).

    Example:
        >>> check_ray_gpus({"accelerator": "gpu", "devices": 2}, 1)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.devices=2 trains each trial on 2 GPUs, ...
    """
    accelerator = trainer.get("accelerator")
    if isinstance(accelerator, str) and accelerator.lower() in ("gpu", "cuda"):
        _check_gpus_seen(trainer, num_gpus, said, "trial's Ray actor",
                         "Ray shows an actor only the GPUs it reserves", searched)


def check_worker_gpus(trainer: Mapping[str, Any], devices_per_trial: int,
                      said: str = "devices_per_trial", searched: bool = False) -> None:
    """Raise ``ConfigError`` where a GPU trial's ``trainer.devices`` asks for more GPUs than
    a worker process of executor ``process`` sees (its ``devices_per_trial`` slice of the
    visible GPUs, its ``CUDA_VISIBLE_DEVICES``, indexed from 0), on ``accelerator`` ``gpu``
    or ``cuda``, or ``auto`` where GPUs are visible (was: every trial's Trainer refused its
    devices in its worker, each FAILED after the run folder was written); ``searched``: its
    ``devices`` is a value of space key ``trainer.devices``.

    Example:
        >>> check_worker_gpus({"accelerator": "gpu", "devices": 2}, 1)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.devices=2 trains each trial on 2 GPUs, ...
    """
    accelerator = trainer.get("accelerator", "auto")
    if not isinstance(accelerator, str) or accelerator.lower() not in ("auto", "gpu", "cuda") \
            or (accelerator.lower() == "auto" and not visible_gpus()):
        return
    _check_gpus_seen(trainer, devices_per_trial, said, "worker process",
                     "a worker sees its own slice of the GPUs alone, its CUDA_VISIBLE_DEVICES",
                     searched)


def _check_gpus_seen(trainer: Mapping[str, Any], given: Any, said: str, who: str,
                     why: str, searched: bool = False) -> None:
    """``check_ray_gpus``' and ``check_worker_gpus``' test: ``given`` GPUs (``said``) for
    each ``who``, against the count and highest index of ``trainer.devices`` (a searched
    value of it: the GPUs are the search's, set for its config's ``trainer.devices``)."""
    if isinstance(given, bool) or not isinstance(given, (int, float)) or given <= 0:
        return
    devices, gets = trainer.get("devices"), math.ceil(given)
    count, seen = gpus_asked(devices)
    asks = (f"space key 'trainer.devices' may take {devices!r}, which trains a trial"
            if searched else f"trainer.devices={devices!r} trains each trial")
    if count > gets:
        raise ConfigError(
            f"{asks} on {count} GPUs, but {said}={given!r} gives each {who} {gets} ({why}): "
            f"set {said}={count}" + ("" if searched else ", or leave it out (a GPU trial "
                                     "reserves its trainer.devices)"))
    if seen > gets:  # a list's index past the GPUs it sees, indexed from 0
        raise ConfigError(
            f"{asks} on GPU index {seen - 1}, but {said}={given!r} gives each {who} {gets} "
            f"({why}, indexed from 0): give trainer.devices as a count ({count}), or set "
            f"{said}={seen}")


def default_devices_per_trial(trainer: Mapping[str, Any]) -> int:
    """GPUs per trial unless ``devices_per_trial`` says: as many as the Trainer's
    ``devices`` trains on (a count, a list of indices, ``"0,1"``; was: a count only, else
    1), else 1 (``auto``, ``-1``: the GPUs each worker sees).

    Example:
        >>> default_devices_per_trial({"devices": [0, 1]}), default_devices_per_trial({})
        (2, 1)
    """
    return gpus_asked(trainer.get("devices"))[0] or 1


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
    if "accelerator" in trainer:  # an Accelerator object by its name (was: AttributeError)
        named = {**trainer, "accelerator": accelerator_name(trainer["accelerator"])}
    else:
        named = trainer
    check_devices_per_trial(executor, num_workers, devices_per_trial, named, ray)
    if devices_per_trial is None:
        devices_per_trial = default_devices_per_trial(trainer)
    if executor == "auto":
        executor = "inline" if num_workers == 1 else "process"
    if executor == "inline":
        if num_workers != 1:
            raise ConfigError("executor 'inline' runs one trial at a time; use num_workers=1 "
                              "or executor 'process'")
        return InlineExecutor(threads_per_trial, trainer)
    if executor == "process":
        return ProcessExecutor(num_workers, devices_per_trial, named.get("accelerator"),
                               threads_per_trial, max_trials_per_worker)
    ray = dict(ray or {})
    cpus = ray.pop("num_cpus", threads_per_trial or 1)
    gpus = ray.pop("num_gpus", devices_per_trial if named.get("accelerator") in
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
