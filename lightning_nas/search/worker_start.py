"""How a ``ProcessExecutor`` worker process starts: forked warm from multiprocessing's fork
server, which imported torch and Lightning once, or spawned cold (``python`` anew, its own
imports: seconds of CPU per worker).

The fork server (``multiprocessing``'s ``forkserver`` start method) is a process of its own,
started by this process the first time a worker starts; it imports the modules of
``PRELOAD`` once, starts no thread of Python and initialises no CUDA (it only imports), and
forks every later worker on request, so that a worker start costs a fork, not an import,
also for later searches in the same process (a notebook's next cell, the next test). A
worker forked from it gets the environment the search process gives it (``worker_main``
applies it before anything reads it: its ``CUDA_VISIBLE_DEVICES`` before CUDA starts, its
CPU threads with ``torch.set_num_threads``), its ``__main__`` as a spawned one does (the
script imported again as ``__mp_main__``), and a Ctrl-C held back until it is ready: the
fork server is started with SIGINT blocked (``sigint_held``), which its children inherit.
It keeps the stdout and stderr it was started with; a worker writes to the search
process's of the moment it starts (``ParentStream``), as a spawned worker inherits them.

The fork server is started with this process's environment of that moment. A worker is
spawned where a variable read as the interpreter, torch or Lightning load (``READ_AT_START``:
``OMP_*``, ``MKL_*``, ``PYTHON*``, ``LD_*``, ...) differs from the server's, but for the
worker's own (``OMP_NUM_THREADS``, which ``torch.set_num_threads`` overrides, and
``CUDA_VISIBLE_DEVICES``, read as CUDA starts, in the worker): in the server, they took
effect as it started (other variables, ``PL_GLOBAL_SEED``, ``WANDB_MODE``, are read later,
in the worker). So is every worker of a process forked from the one that started the server
(multiprocessing's server is its starter's alone), of a platform without ``forkserver``
(Windows; macOS keeps ``spawn``, where forking after imports is unsafe), of a process run
with ``LIGHTNING_NAS_NO_ZYGOTE=1`` (as DDP ranks: started cold) and of a server that died
as it started (``server_failed``; the next worker starts a new one).

Every worker, forked or spawned, is started in ``start_held``: with SIGINT held back, the
resource tracker started before (its first start lets SIGINT through again).

Example:
    >>> context = worker_context({"OMP_NUM_THREADS": "1"})  # doctest: +SKIP
    >>> context.get_start_method()  # doctest: +SKIP
    'forkserver'
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from multiprocessing import forkserver, reduction, resource_tracker
from multiprocessing.context import BaseContext

from lightning_nas.search.lifetime import sigint_held
from lightning_nas.search.rank_zygote import NO_ZYGOTE

__all__ = ["PRELOAD", "READ_AT_START", "ParentStream", "server_failed", "start_held",
           "worker_context"]

#: what the fork server imports once, for every worker it forks
PRELOAD = ("torch", "lightning.pytorch", "lightning_nas.search.trial",
           "lightning_nas.search.runner", "lightning_nas.search.worker_entry")
#: the variables (by prefix) that take effect as the interpreter, torch (OpenMP, MKL, its
#: allocator) or Lightning load: where one differs from the fork server's, a worker is spawned
READ_AT_START = ("PYTHON", "LD_", "MALLOC_", "OMP_", "GOMP_", "KMP_", "MKL_", "OPENBLAS_",
                 "TORCH", "PYTORCH_", "CUDA_", "NCCL_")
#: those a worker sets itself (``worker_main``), after the imports
_OWN = ("CUDA_VISIBLE_DEVICES",)
_lock = threading.Lock()
_started: dict[str, object] = {}  # "pid": the process that started the fork server, "env"


class ParentStream:
    """An open file descriptor of the search process (its stdout, 1, or stderr, 2), given
    to a worker it forks from the fork server as multiprocessing gives a ``Connection``:
    pickled as ``reduction.DupFd``, so the worker gets its own copy (unpickled: the
    descriptor's number there), which it puts in place of the fork server's
    (``worker_entry``; was: a forked worker wrote into the server's stdout and stderr, those
    of the moment the server started: a notebook's or a test's earlier capture, a
    redirect since undone).

    Example:
        >>> ParentStream(1).fd
        1
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple:
        return _detached, (reduction.DupFd(self.fd),)

    @staticmethod
    def of_this_process() -> tuple[ParentStream | None, ParentStream | None]:
        """This process's stdout and stderr, each None where it is closed (a daemon's)."""
        streams = []
        for fd in (1, 2):
            try:
                os.fstat(fd)
            except OSError:
                streams.append(None)
            else:
                streams.append(ParentStream(fd))
        return streams[0], streams[1]


def _detached(dup: object) -> int:
    """In the worker: the descriptor a ``ParentStream`` was given as."""
    return dup.detach()  # type: ignore[attr-defined]


def _compared(env: Mapping[str, str], own: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items()
            if k.startswith(READ_AT_START) and k not in _OWN and k not in own}


def server_failed() -> None:
    """The fork server died before it forked a worker (killed as it started, a hook of its
    interpreter's): the next worker starts a new one, with the environment of then."""
    with _lock:
        _started.clear()


@contextmanager
def start_held() -> Iterator[None]:
    """Start a process in the body with SIGINT (Ctrl-C) held back (``sigint_held``): the
    resource tracker is started first, since its first start unblocks SIGINT in this thread
    (was: a process's first spawned worker could start with Ctrl-C let through).

    Example:
        >>> import signal
        >>> with start_held():
        ...     signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        True
    """
    resource_tracker.ensure_running()
    with sigint_held():
        yield


def worker_context(own: Mapping[str, str]) -> BaseContext | None:
    """The fork server's context for a worker whose own variables are ``own`` (started now,
    in the background, if this process started none), or None where a worker is spawned
    (see the module's docstring).

    Example:
        >>> os.environ[NO_ZYGOTE] = "1"
        >>> worker_context({}) is None
        True
        >>> del os.environ[NO_ZYGOTE]
    """
    if os.environ.get(NO_ZYGOTE) == "1" or "forkserver" not in mp.get_all_start_methods() \
            or sys.platform == "darwin":
        return None
    if getattr(mp.current_process(), "_inheriting", False):
        return None  # a worker importing the script again: spawn's error says what to do
    with _lock:
        if not _started:  # its modules: those of PRELOAD (was: ``__main__``, the script)
            forkserver.set_forkserver_preload(list(PRELOAD))
            _started.update(pid=os.getpid(), env=dict(os.environ))
        if _started["pid"] != os.getpid() or _compared(_started["env"], own) != _compared(
                os.environ, own):  # type: ignore[arg-type]
            return None
        try:
            with start_held():  # the server's children start with Ctrl-C held back
                forkserver.ensure_running()  # (again if it died)
        except OSError:
            return None
    return mp.get_context("forkserver")
