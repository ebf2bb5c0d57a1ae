"""The torch threads of a Hydra sweep's jobs that share the sweep's cores in processes of
their own (the joblib launcher's workers, ``submitit_local``'s jobs).

Such a launcher runs a batch's ``num_workers`` jobs at once on the sweep's machine, and
each job's torch takes every core (``submitit_local``: 2 jobs on 2 cores, 2 threads each)
or what the launcher guessed (joblib's loky: cores / ``n_jobs``, 1 thread each with its
default ``n_jobs=-1`` however few jobs a batch runs). A job there trains with the cores
shared out among the jobs of a batch instead, as ``lightning-nas search`` shares them out
among its worker processes (``workers.usable_cpus`` / ``num_workers``), or with the
sweep's ``OMP_NUM_THREADS`` where its environment sets one (the user's count: joblib's
workers passed it on but trained with loky's ``MKL_NUM_THREADS``, 1). Left alone: a job in
the sweep's own process (the basic launcher runs one at a time), and one on another
machine or another CPU set (a Slurm job's own cores).

Example:
    >>> cores = SharedCores(pid=-1, host=socket.gethostname(), cpus=_cpus(), threads=3)
    >>> job_threads(cores), job_threads(None)
    (3, None)
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from lightning_nas.search.workers import usable_cpus
from lightning_nas.store import RunStore

__all__ = ["SharedCores", "job_threads", "keep_threads", "shared_cores"]


@dataclass(frozen=True)
class SharedCores:
    """The sweep's process, machine and CPU set, and the torch threads of each job that
    shares them from another process.

    Args:
        pid: the sweep's process.
        host: its machine (``socket.gethostname()``).
        cpus: the CPUs it may run on (its affinity; None where the platform has none).
        threads: torch threads per job.
    """

    pid: int
    host: str
    cpus: tuple[int, ...] | None
    threads: int


def shared_cores(num_workers: int) -> SharedCores:
    """This (the sweep's) process's ``SharedCores`` for ``num_workers`` jobs at once: each
    job's threads are ``OMP_NUM_THREADS`` where set (a whole number >= 1), else the cores
    this process may run on shared out among the jobs.

    Example:
        >>> shared_cores(2).pid == os.getpid() and shared_cores(10**6).threads >= 1
        True
    """
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    threads = (int(omp) if omp.isdigit() and int(omp) > 0
               else max(1, usable_cpus() // max(1, num_workers)))
    return SharedCores(os.getpid(), socket.gethostname(), _cpus(), threads)


def job_threads(cores: SharedCores | None) -> int | None:
    """The torch threads of a job running in this process: ``cores.threads`` where this is
    another process than the sweep's, on its machine and CPU set; else None (the
    process's own).

    Example:
        >>> job_threads(SharedCores(os.getpid(), socket.gethostname(), _cpus(), 2)) is None
        True
    """
    if cores is None or os.getpid() == cores.pid:
        return None
    if socket.gethostname() != cores.host or _cpus() != cores.cpus:
        return None
    return cores.threads


def keep_threads(store: RunStore, trial: int, used: int, given: int | None) -> None:
    """Store the torch threads a returned job of ``trial`` trained with (``used``: its fit's,
    as a search's trial's) and those the sweep set for it (``given``, ``job_threads``'s;
    meta ``job_threads``: the lines that train it again run with them).

    Example:
        >>> keep_threads(store, 1, 2, 2); store.fits(1)  # doctest: +SKIP
        [2]
    """
    store.note_fit(trial, used)
    if given is not None:
        store.set_meta("job_threads", {**store.get_meta("job_threads", {}), str(trial): given})


def _cpus() -> tuple[int, ...] | None:
    """The CPUs this process may run on (sorted), where the platform says."""
    if hasattr(os, "sched_getaffinity"):
        return tuple(sorted(os.sched_getaffinity(0)))
    return None
