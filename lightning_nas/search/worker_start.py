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
The server freezes the heap it imported (``server_frozen``, the last of ``PRELOAD``): its
exit skips the collector's last walk of it (0.5 s, not 2.8 s), and a worker, which inherits
it frozen, never walks it either (its own pages after a trial: 75 MiB, not 156 MiB;
``benchmarks/fork_server_memory.py``).
It keeps the stdout and stderr it was started with; a worker writes to the search
process's of the moment it starts (``ParentStream``), as a spawned worker inherits them.

The fork server is started with this process's environment of that moment. Where a
variable read as the interpreter, torch or Lightning load (``READ_AT_START``: ``OMP_*``,
``MKL_*``, ``PYTHON*``, ``LD_*``, ...) differs from the server's, but for the worker's own
(``OMP_NUM_THREADS``, which ``torch.set_num_threads`` overrides, and
``CUDA_VISIBLE_DEVICES``, read as CUDA starts, in the worker), the server cannot give it to
a worker: in the server, those took effect as it started (other variables,
``PL_GLOBAL_SEED``, ``WANDB_MODE``, are read later, in the worker). Then the server is
replaced by one started with the environment of now, where it has no live child (was: the
process's every later worker was spawned, a notebook's after one ``%env``, a test
session's after one test that set such a variable): no worker of any search and no process
of the user's own that multiprocessing forked from it (its children, read from Linux's
``/proc/<pid>/task/*/children``; its children die or lose their exit codes with it).
Replacing it needs multiprocessing's private ``forkserver._forkserver._stop()`` and the
server's pid (``_forkserver_pid``: the idle server is killed first, so that a copy of its
"alive" pipe held by a process forked from this one cannot keep ``_stop`` waiting);
where Python has neither, or ``/proc`` cannot tell the children, or the server has a live
child, the worker is spawned. The environment is compared with the running server's as a
worker starts, so a change undone before then costs nothing, and one undone after a worker
started under it costs a server more (environments A, B, A: three servers, the fewest one
server allows; keeping A's idle for a return would hold its memory, about 300 MB of its
own, for the life of the process). A user's own ``forkserver.set_forkserver_preload`` is
kept: the server imports their modules and those of ``PRELOAD`` (the first server
multiprocessing's ``['__main__']`` aside; a replaced one those of the last call too, the
user's made since included), so that their processes forked from it start as warm as
before. A server someone else started before this module's first worker (the user's own
pool) is taken as one of an unknown environment: replaced where it is idle, else the
worker is spawned. A worker is spawned too in a process forked from the one that started
the server (multiprocessing's server is its starter's alone), on a platform without
``forkserver`` (Windows; macOS keeps ``spawn``, where forking after imports is unsafe),
in a process run with ``LIGHTNING_NAS_NO_ZYGOTE=1`` (as DDP ranks: started cold) and
where the server died as it started (``server_failed``; the next worker starts a new one).
That worker, spawned with the same environment, dies the same way where the cause is in it
(a ``sitecustomize`` on ``PYTHONPATH``, ``LD_PRELOAD``): its message is printed a second
time, by the worker, before the search's ``SearchError``; where the cause is the server's
own (a module of a user's preload, a kill for memory) the worker may run. Multiprocessing
starts the server once more itself only where it died before the worker's request reached
it (sent some 20 ms after the server's start, before its interpreter is up; the request
waits in the server's socket and fails at once as it dies).

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
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from multiprocessing import forkserver, reduction, resource_tracker
from multiprocessing.context import BaseContext
from pathlib import Path

from lightning_nas.search.lifetime import sigint_held
from lightning_nas.search.rank_zygote import NO_ZYGOTE
from lightning_nas.search.worker_entry import importing_main

__all__ = ["PRELOAD", "READ_AT_START", "ParentStream", "server_failed", "start_held",
           "worker_context"]

#: what the fork server imports once, for every worker it forks; ``server_frozen`` last:
#: it freezes the heap imported before it (``gc.freeze``)
PRELOAD = ("torch", "lightning.pytorch", "lightning_nas.search.trial",
           "lightning_nas.search.runner", "lightning_nas.search.worker_entry",
           "lightning_nas.search.server_frozen")
#: the variables (by prefix) that take effect as the interpreter, torch (OpenMP, MKL, its
#: allocator) or Lightning load: where one differs from the fork server's, a worker is spawned
READ_AT_START = ("PYTHON", "LD_", "MALLOC_", "OMP_", "GOMP_", "KMP_", "MKL_", "OPENBLAS_",
                 "TORCH", "PYTORCH_", "CUDA_", "NCCL_")
#: those a worker sets itself (``worker_main``), after the imports
_OWN = ("CUDA_VISIBLE_DEVICES",)
_lock = threading.Lock()
_started: dict[str, object] = {}  # "pid": the process that started the fork server, "env"
#: multiprocessing's preload before this module set one: its own default, the script
_DEFAULT_PRELOAD = ["__main__"]


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


def _preload(server: object) -> list[str]:
    """The modules a new fork server imports: those set last (the user's own too), and
    ``PRELOAD``'s; multiprocessing's default, the script, aside."""
    modules = list(getattr(server, "_preload_modules", None) or [])
    if modules == _DEFAULT_PRELOAD:
        modules = []
    return modules + [m for m in PRELOAD if m not in modules]


def _server_pid(server: object) -> int | None:
    """The pid of the fork server multiprocessing runs for this process, None if none."""
    pid = getattr(server, "_forkserver_pid", None)
    return pid if isinstance(pid, int) else None


def _idle_child(pid: int) -> bool:
    """Whether process ``pid`` is a child of this process that has no child of its own
    (False where ``/proc`` cannot tell).

    Example:
        >>> _idle_child(os.getpid())
        False
    """
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        return parent == os.getpid() and not any(
            (task / "children").read_text().split() for task in tasks)
    except (OSError, ValueError, IndexError):
        return False


def _replaced(server: object) -> bool:
    """Stop the fork server where it has no live child (its children would die, or lose
    their exit codes, with it), so that the next start starts a new one; False where it
    must be kept or cannot be stopped."""
    pid, stop = _server_pid(server), getattr(server, "_stop", None)
    if pid is None:  # none running: the next start starts one
        return True
    if stop is None or not _idle_child(pid):
        return False
    try:  # killed first: a process forked from this one may hold its "alive" pipe
        os.kill(pid, signal.SIGKILL)
        stop()
    except OSError:  # (ChildProcessError: reaped by someone else) spawned from now on
        return False
    return True


def worker_context(own: Mapping[str, str]) -> BaseContext | None:
    """The fork server's context for a worker whose own variables are ``own`` (started now,
    in the background, if this process started none; replaced by one started now where the
    environment changed and it has no live child), or None where a worker is spawned (see
    the module's docstring).

    Example:
        >>> os.environ[NO_ZYGOTE] = "1"
        >>> worker_context({}) is None
        True
        >>> del os.environ[NO_ZYGOTE]
    """
    if os.environ.get(NO_ZYGOTE) == "1" or "forkserver" not in mp.get_all_start_methods() \
            or sys.platform == "darwin":
        return None
    if importing_main():
        return None  # a worker importing the script again: spawn's error says what to do
    server = getattr(forkserver, "_forkserver", None)
    with _lock:
        if not _started:  # its modules: the user's and PRELOAD (was: ``__main__``)
            running = _server_pid(server) is not None  # the user's: environment unknown
            forkserver.set_forkserver_preload(_preload(server))
            _started.update(pid=os.getpid(), env=None if running else dict(os.environ))
        if _started["pid"] != os.getpid():
            return None
        env = _started["env"]
        if env is None or _compared(env, own) != _compared(os.environ, own):  # type: ignore[arg-type]
            if not _replaced(server):  # a child alive: spawned
                return None
            forkserver.set_forkserver_preload(_preload(server))
            _started["env"] = dict(os.environ)
        try:
            with start_held():  # the server's children start with Ctrl-C held back
                forkserver.ensure_running()  # (again if it died)
        except OSError:
            return None
    return mp.get_context("forkserver")
