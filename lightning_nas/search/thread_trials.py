"""What a search says of its trials that train at once in threads of its process (a
``concurrent.futures.ThreadPoolExecutor`` given as ``executor``, ``num_workers > 1``):
``warn_shared_random_state``, before any trial trains, where they are seeded. Torch's
default generator, NumPy's and ``random``'s global state and torch's deterministic flags
belong to the process, not to a thread, and user code draws from them (``torch.rand``,
dropout, a ``DataLoader``'s shuffle): such trials draw from one another's streams, and no
seed makes their scores reproducible. Trials in processes of their own (``executor:
process``, a ``ProcessPoolExecutor``, Ray, a DDP trial's rank processes) each have their own.

Example:
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     threads_at_once(pool, num_workers=2)
    2
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from concurrent import futures
from typing import Any

from lightning_nas.search.executor import FuturesExecutor
from lightning_nas.search.runner_checks import needs_own_process
from lightning_nas.user_warnings import warn_user

__all__ = ["threads_at_once", "warn_shared_random_state"]

#: the Trainer arguments that decide whether a trial trains on rank processes of its own
_PROCESS_KEYS = ("accelerator", "devices", "num_nodes")


def threads_at_once(executor: Any, num_workers: int) -> int:
    """How many trials ``executor`` runs at once in threads of this process: up to
    ``num_workers`` (a ``FuturesExecutor``'s own) and the threads of a ``ThreadPoolExecutor``
    (given as it is or in a ``FuturesExecutor``); 0 for any other executor.

    Example:
        >>> threads_at_once("process", num_workers=2)
        0
    """
    if isinstance(executor, FuturesExecutor):
        executor, num_workers = executor.executor, executor.num_workers
    if not isinstance(executor, futures.ThreadPoolExecutor):
        return 0
    # (the pool's size: concurrent.futures has no public accessor for it)
    return min(num_workers, getattr(executor, "_max_workers", num_workers))


def _trains_here(trainer: Mapping[str, Any], searched: Mapping[str, list[Any]]) -> bool:
    """Whether some trial trains in the search's process (not on rank processes of its
    own), with each combination of the searched values of ``_PROCESS_KEYS``."""
    keys = [key for key in _PROCESS_KEYS if key in searched]
    return any(not needs_own_process({**trainer, **dict(zip(keys, values, strict=True))})
               for values in itertools.product(*(searched[key] for key in keys)))


def warn_shared_random_state(executor: Any, num_workers: int, seed: int | None,
                             trainer: Mapping[str, Any],
                             searched: Mapping[str, list[Any]] | None = None) -> None:
    """Warn (``warn_user``) where seeded trials would train at once in threads of this
    process, which share its random state: their scores are not reproducible.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> import warnings
        >>> with ThreadPoolExecutor(2) as pool, warnings.catch_warnings(record=True) as said:
        ...     warnings.simplefilter("always")
        ...     warn_shared_random_state(pool, 2, 0, {"accelerator": "cpu", "devices": 1})
        >>> "share torch's random state" in str(said[0].message)
        True

    Args:
        executor: the search's ``executor`` setting (a name or an object).
        num_workers: the search's trials at once.
        seed: the search's seed (None: nothing seeded, nothing promised).
        trainer: the trials' Trainer arguments.
        searched: the searched Trainer arguments' values (``trainer_options``).
    """
    at_once = threads_at_once(executor, num_workers)
    if seed is None or at_once < 2 or not _trains_here(trainer, searched or {}):
        return
    pool = executor.executor if isinstance(executor, FuturesExecutor) else executor
    warn_user(f"executor {type(pool).__name__} runs up to {at_once} trials at once in "
              f"threads of this process, and trials in threads share torch's random state "
              f"(NumPy's and random's too, and torch's deterministic flags): each draws "
              f"from the streams the others draw from (initial weights, shuffles, dropout), "
              f"so seed={seed} does not make their scores reproducible (they differ from "
              f"the same trials run one at a time, and from run to run); for reproducible "
              f"scores use executor='process' with num_workers={at_once} (a worker process "
              f"per trial at once), or num_workers=1")
