"""The worker settings a search's executor object would leave unused: ``check_object_settings``.

``threads_per_trial``, ``devices_per_trial`` and ``max_trials_per_worker`` set up the workers
a search starts itself (executor ``auto``, ``inline``, ``process``, ``ray``). An executor
object given as ``executor`` (``ProcessExecutor(...)``, ``RayExecutor(...)``,
``InlineExecutor(...)``, a ``concurrent.futures`` pool, Dask's, submitit's) was made with
its own, and the search's were not applied to it (was: ``threads_per_trial`` ignored without
a word; ``devices_per_trial`` and ``max_trials_per_worker`` refused with advice for a named
executor, "use executor 'process' or num_workers > 1"). Each is refused before anything
starts, saying where the object takes it: its constructor's argument, or why it has none.
The classes are known by import path (nothing is imported here: no torch, no Ray), a
subclass by its nearest known base.

Example:
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(1) as pool:
    ...     check_object_settings(pool, threads_per_trial=None, devices_per_trial=None)
    >>> check_object_settings("process", threads_per_trial=2)  # a named executor: its own
"""

from __future__ import annotations

from typing import Any

from lightning_nas.errors import ConfigError

__all__ = ["check_object_settings", "check_object_workers"]

#: what each setting does, as its refusal says it
_DOES = {"threads_per_trial": "sets the torch threads of the workers a search starts itself",
         "devices_per_trial": "gives each worker a search starts itself its GPUs",
         "max_trials_per_worker": "recycles the worker processes a search starts itself"}

#: where an executor object of each class (by import path) takes each setting: its
#: constructor's call (``{n}``: the value), or, after ``-``, why it has none
_TAKES: dict[str, dict[str, str]] = {
    "lightning_nas.search.workers.ProcessExecutor": {
        "threads_per_trial": "ProcessExecutor(threads_per_trial={n})",
        "devices_per_trial": "ProcessExecutor(devices_per_trial={n})",
        "max_trials_per_worker": "ProcessExecutor(max_trials_per_worker={n})"},
    "lightning_nas.search.ray_executor.RayExecutor": {
        "threads_per_trial": "RayExecutor(threads={n})",
        "devices_per_trial": "RayExecutor(num_gpus={n})",
        "max_trials_per_worker": "-its actors are kept for every trial"},
    "lightning_nas.search.executor.InlineExecutor": {
        "threads_per_trial": "InlineExecutor(threads={n})",
        "devices_per_trial": "-its trials train in this process, on trainer.devices",
        "max_trials_per_worker": "-its trials train in this process"},
    "concurrent.futures.process.ProcessPoolExecutor": {
        "threads_per_trial": "ProcessPoolExecutor(initializer=torch.set_num_threads, "
                             "initargs=({n},))",
        "devices_per_trial": "-its processes see the GPUs this process sees "
                             "(CUDA_VISIBLE_DEVICES), and trainer.devices picks among them",
        "max_trials_per_worker": "ProcessPoolExecutor(max_tasks_per_child={n}) (Python 3.11+)"},
    "concurrent.futures.thread.ThreadPoolExecutor": {
        "threads_per_trial": "-its trials run in threads of this process, with this "
                             "process's torch threads (torch.set_num_threads({n}) before the "
                             "search)",
        "devices_per_trial": "-its trials train in this process, on trainer.devices",
        "max_trials_per_worker": "-its trials run in threads of this process"},
}

#: where an executor object of this package's (a ``TrialExecutor``, by import path) takes
#: ``num_workers``: its constructor's call, or, after ``-``, why it has none
_WORKERS = {"lightning_nas.search.workers.ProcessExecutor": "ProcessExecutor(num_workers={n})",
            "lightning_nas.search.ray_executor.RayExecutor": "RayExecutor(num_workers={n})",
            "lightning_nas.search.executor.InlineExecutor": "-it runs one trial at a time, "
                                                            "in this process",
            "lightning_nas.search.executor.TrialExecutor": "-set it on the object"}

#: an executor of another library (Dask's, submitit's)
_OTHER = "-it starts its workers its own way, so set them up there"


def check_object_settings(executor: Any, **settings: Any) -> None:
    """Refuse the worker settings given (not None) beside an executor object, naming each,
    its value and where the object takes it (a named executor, a string, takes them all).

    Args:
        executor: the search's ``executor``: a name or an object with ``submit``.
        **settings: ``threads_per_trial``, ``devices_per_trial``, ``max_trials_per_worker``.

    Raises:
        ConfigError: for each setting given, its value, the object's class and its
            constructor's argument for it, or why it has none.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> with ThreadPoolExecutor(1) as pool:
        ...     check_object_settings(pool, threads_per_trial=2)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: threads_per_trial=2 sets the torch threads of ...
    """
    if isinstance(executor, str):
        return
    given = {key: value for key, value in settings.items() if value is not None}
    if not given:
        return
    cls = type(executor)
    takes = next((_TAKES[path] for base in cls.__mro__
                  if (path := f"{base.__module__}.{base.__qualname__}") in _TAKES), {})
    name = cls.__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    said = []
    for key, value in given.items():
        where = takes.get(key, _OTHER).format(n=value)
        head = f"{key}={value!r} {_DOES[key]}, and executor is {article} {name} object, "
        said.append(f"{head}which has no such setting: {where[1:]}; drop {key}"
                    if where.startswith("-") else
                    f"{head}made with its own: give it there, {where}, and drop {key}")
    raise ConfigError("; ".join(said))


def check_object_workers(executor: Any, num_workers: int) -> None:
    """Refuse a ``num_workers`` other than 1 (the default) that differs from the trials an
    executor object of this package's (a ``TrialExecutor``) runs at once, its own
    ``num_workers``, which the search takes (was: the search's ignored without a word).

    Example:
        >>> check_object_workers("process", 3)  # a named executor: the search's count
    """
    if isinstance(executor, str) or num_workers == 1:
        return
    cls = type(executor)
    where = next((_WORKERS[path] for base in cls.__mro__
                  if (path := f"{base.__module__}.{base.__qualname__}") in _WORKERS), None)
    own = getattr(executor, "num_workers", None)
    if where is None or own == num_workers:
        return
    name = cls.__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    head = (f"num_workers={num_workers!r} sets the trials a search runs at once, and executor "
            f"is {article} {name} object, which runs {own} at once (its own num_workers): ")
    raise ConfigError(f"{head}{where[1:]}; drop num_workers, or use executor 'process'"
                      if where.startswith("-") else
                      f"{head}give it there, {where.format(n=num_workers)}, and drop "
                      f"num_workers")
