"""The first code a worker process runs: tie its life to the search process, then import
the training stack and serve trials; a Ctrl-C before it is ready is the search process's.

It lives apart from ``workers`` so that a spawned worker imports nothing heavy before it
asks the kernel to kill it with its parent (``PR_SET_PDEATHSIG``): importing torch and
Lightning takes seconds, and a search killed in that window must not leave a worker behind
that trains the spec already waiting in its pipe. A worker forked from the fork server
(``worker_start``) has them already, and first takes its own environment.

A process that multiprocessing started (a worker, spawned or forked) imports the script
again before any of this runs: where the script starts a search at import (no
``if __name__ == "__main__":`` guard), ``Search.run`` ends it at once, as a
``ProcessExecutor`` starting a worker does (``exit_if_importing_main``), with an exit code,
``REIMPORTED``, and a ``ProcessExecutor``'s worker (``worker_name``) leaves a marker file
first (``reimported_marker``), which tells its search process why (was: it ran the search
again and died of that with exit code 1, as a worker that its environment ends as it starts
does, so both were given the guard's advice; then the exit code alone told it, and a worker
that exited 86 as it started for another reason, a ``sitecustomize``'s, got that advice).
The search process names the marker's path in the worker's process name, the one thing
multiprocessing gives a process before it imports the script again (was: the worker's own
temporary folder, its ``TMPDIR``, a forked one's the fork server's, where the search process
did not look once ``TMPDIR`` changed: the general message, and the marker left behind). A
marker that a killed search left is removed as the next ``ProcessExecutor`` starts
(``clear_markers``: those of search processes no longer alive).

A worker says it is ready (``READY``) before it imports torch and Lightning, and that it
received its trial (``RECEIVED``) once it read a spec from its pipe, before it runs it: a
worker that dies before that never started the trial, which its ``ProcessExecutor`` sends
to a fresh worker. A trial comes as its spec; the trial's ``warn_user`` warnings are sent
back as ``(WARNED, text, category)`` messages (``relayed_warnings``), which the search
process says as its own: under its console, its lines (was: Python's form, once per
worker); from Python's API, warnings at the user's line that ran the search (was: warned
here, once per worker, at ``multiprocessing/process.py``, a line of Python's own).

Example:
    >>> from lightning_nas.search import workers
    >>> workers.worker_main is worker_main  # what each ProcessExecutor worker runs
    True
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import traceback
from collections.abc import Callable
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from pathlib import Path

from lightning_nas.lock_probe import process_gone
from lightning_nas.search.exit_gc import freeze_for_exit
from lightning_nas.search.lifetime import (
    ctrl_c_ignored,
    die_of_sigterm,
    die_with_parent,
    parent_alive,
)
from lightning_nas.search.warnings_once import warnings_once
from lightning_nas.user_warnings import relayed_warnings

__all__ = ["READY", "RECEIVED", "REIMPORTED", "WARNED", "WORKER_NAME", "clear_markers",
           "exit_if_importing_main", "importing_main", "left_reimported", "reimported_marker",
           "worker_main", "worker_name"]

#: a worker's first message: it started (a worker that dies before it never ran a trial)
READY = "lightning-nas-worker-ready"
#: a worker's message as it read a trial's spec, before it runs it (a worker that dies
#: before it never started that trial)
RECEIVED = "lightning-nas-trial-received"
#: the first item of a message with a warning of a trial, for the search process's console
WARNED = "lightning-nas-trial-warned"
#: the exit code of a process that started a search as it imported the script again
#: (``exit_if_importing_main``): the search process that started it says why it stopped
REIMPORTED = 86
#: the multiprocessing name of a ``ProcessExecutor``'s worker process, before the path of
#: its marker (``worker_name``: known to it before it imports the script again,
#: multiprocessing sends it first)
WORKER_NAME = "lightning-nas-worker"
#: the start of a marker's file name, before the user's id
_MARKER = "lightning-nas-reimported"
#: the number of the next marker of this process
_markers = itertools.count()


def reimported_marker(pid: int, worker: int | None = None) -> Path:
    """The file a worker of search process ``pid`` (on this machine, of this user) leaves
    as it exits with ``REIMPORTED`` (``exit_if_importing_main``), in the search process's
    temporary folder: its ``worker``-th marker (None: the next of this process's).

    Example:
        >>> reimported_marker(123, 4).name.endswith(".123.4")
        True
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    worker = next(_markers) if worker is None else worker
    return Path(tempfile.gettempdir(),
                f"{_MARKER}.{uid}.{socket.gethostname()}.{pid}.{worker}")


def worker_name(marker: Path) -> str:
    """The process name of a ``ProcessExecutor``'s worker that leaves ``marker``.

    Example:
        >>> worker_name(Path("/tmp/m"))
        'lightning-nas-worker:/tmp/m'
    """
    return f"{WORKER_NAME}:{marker}"


def left_reimported(marker: Path | None) -> bool:
    """Whether a worker, now dead, left its ``marker`` (removed here): it exited as it
    imported the script again and started a search there, not with an exit code
    ``REIMPORTED`` of anything else's.

    Example:
        >>> left_reimported(None)
        False
    """
    if marker is None:
        return False
    try:
        marker.unlink()
    except OSError:  # none (FileNotFoundError)
        return False
    return True


def clear_markers() -> None:
    """Remove the markers of this user's search processes on this machine that are no
    longer alive (killed before they read them) from the temporary folder.

    Example:
        >>> clear_markers()
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    start = f"{_MARKER}.{uid}."
    for path in Path(tempfile.gettempdir()).glob(f"{start}*"):
        host, _, pid = path.name[len(start):].rpartition(".")[0].rpartition(".")
        if pid.isdigit() and process_gone(int(pid), host):
            with contextlib.suppress(OSError):
                path.unlink()


def importing_main() -> bool:
    """Whether this process is one multiprocessing started (spawned, or forked from the fork
    server) that is still importing the script again as it starts (``_inheriting``).

    Example:
        >>> importing_main()
        False
    """
    return bool(getattr(mp.current_process(), "_inheriting", False))


def exit_if_importing_main() -> None:
    """End this process with exit code ``REIMPORTED`` where it is importing the script again
    as it starts (``importing_main``), after a line on stderr that says why: the script
    started a search (``Search.run``) or a pool's workers (``ProcessExecutor``) at import,
    without ``if __name__ == "__main__":`` around it (a worker process would run the search
    again; a ``ProcessExecutor`` that started it tells the reason by this exit code and the
    ``reimported_marker`` its worker leaves first, not from an exit code that a worker's
    environment may give too). Elsewhere it returns.

    Example:
        >>> exit_if_importing_main()  # the search process itself: goes on
    """
    if not importing_main():
        return
    name = mp.current_process().name
    if name.startswith(f"{WORKER_NAME}:"):  # a ProcessExecutor's worker: its search
        with contextlib.suppress(OSError):  # process tells why by the marker
            Path(name[len(WORKER_NAME) + 1:]).touch()
    sys.stdout.flush()
    print("lightning_nas: this process, started by multiprocessing, imported the script "
          "again, and the script started a search (or a ProcessExecutor's workers) at "
          "import: it needs `if __name__ == \"__main__\":` around that", file=sys.stderr,
          flush=True)
    os._exit(REIMPORTED)  # (a forked worker's SystemExit would end it with exit code 1)


def worker_main(conn: Connection, parent_pid: int, start_method: str | None = None,
                env: dict[str, str] | None = None,
                stdio: tuple[int | None, int | None] = (None, None)) -> None:
    """A worker's loop: receive a spec, say so (``RECEIVED``), run it, send the result;
    ``None`` ends it.

    ``env`` is the worker's whole environment where it was forked from the fork server
    (``worker_start``: its imports done, under the fork server's environment); it is
    applied first, so that what reads it later (CUDA as it starts, the trial, the worker's
    own child processes) sees the worker's, as a spawned worker (None) inherits it; so are
    ``stdio``, the search process's stdout and stderr (``worker_start.ParentStream``), put
    in place of the fork server's. Such a worker dies with the fork server, which ends when
    the search process does.

    ``start_method`` is the search process's multiprocessing start method (None: the
    platform's default), which the worker takes back: a spawned process's children are
    spawned too, so a trial's DataLoader workers were spawned here while the search's own
    process and a plain Lightning fit fork them (a dataset holding a lambda failed every
    trial, and each loader re-imported torch at every epoch).

    Until its imports are done a Ctrl-C is left to the search process, which ends the
    worker (it was started with SIGINT held back: ``lifetime.sigint_held``); after, it
    ends the worker quietly, mid-trial as Lightning does.
    """
    if env is None:
        _serve(conn, parent_pid, start_method, env)
        return
    _take_streams(stdio)
    try:
        _serve(conn, parent_pid, start_method, env)
    finally:  # the fork server ends its children with ``os._exit``: their ``atexit`` hooks
        atexit._run_exitfuncs()  # run here, as at a spawned worker's exit  # noqa: SLF001


def _serve(conn: Connection, parent_pid: int, start_method: str | None,
           env: dict[str, str] | None) -> None:
    """``worker_main``'s body: start, then serve trials until asked to end."""
    with ctrl_c_ignored():  # (was: a KeyboardInterrupt traceback of its imports)
        if env is not None:
            _take_env(env)
        die_with_parent()  # the search process, or the fork server (it ends with the search)
        if not _search_alive(parent_pid, forked=env is not None):  # it died before that
            os._exit(0)
        try:
            conn.send(READY)
        except OSError:  # BrokenPipeError: the pool was shut down before this worker started
            return
        mp.set_start_method(start_method, force=True)  # (None: the platform's default)
        threads = os.environ.get("LNAS_NUM_THREADS")
        import torch  # (a worker forked from the fork server imported it already)

        if threads:
            torch.set_num_threads(int(threads))
        from lightning_nas.search.executor import failed_result
        from lightning_nas.search.progress_file import note_progress, take_progress
        from lightning_nas.search.ranks import close_rank_groups
        from lightning_nas.search.runner import run_trial

    while True:
        try:
            message = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if message is None:  # asked to end: no walk of the heap at its exit (``exit_gc``)
            close_rank_groups()
            freeze_for_exit()
            return
        spec = message
        try:
            conn.send(RECEIVED)  # a death from here on is the trial's
        except OSError:  # the search process is gone (killed) since it sent the trial
            return
        noted = note_progress(spec)  # what it trains, for the record of a death in it
        try:
            with relayed_warnings(_sender(conn)), \
                    warnings_once(served=True):  # (was: Python's, once per trial)
                result = run_trial(spec)
        except KeyboardInterrupt:  # Ctrl-C reaches the workers too: end as Lightning did
            raise SystemExit(1) from None  # (no traceback from each worker)
        except SystemExit as err:  # Lightning's SIGTERMException: end as killed by SIGTERM
            die_of_sigterm(err)
            raise
        except Exception:  # noqa: BLE001 - report, keep the worker alive
            result = failed_result(spec, f"worker error: {traceback.format_exc(limit=-6)}")
        if noted:  # the result holds it
            take_progress(spec.trial_dir)
        try:
            conn.send(result)
        except OSError:  # BrokenPipeError: the search process is gone (killed, and this
            _said_gone(spec.trial_id)  # worker outlived it: no PR_SET_PDEATHSIG there)
            return


def _said_gone(trial_id: int) -> None:
    """The one line of a worker that finds the search process gone as it sends trial
    ``trial_id``'s result (was: a ``BrokenPipeError`` traceback, read as a failure): the
    result is dropped; the store holds the trial RUNNING, and a resume runs it again."""
    with contextlib.suppress(OSError):  # (its stderr may be gone with the search too)
        print(f"lightning-nas worker {os.getpid()}: the search process is gone; trial "
              f"{trial_id}'s result is dropped (a resume runs it again)", file=sys.stderr,
              flush=True)


def _sender(conn: Connection) -> Callable[[str, type[Warning]], None]:
    """What sends a trial's warning to the search process, through ``conn``."""
    def send(text: str, category: type[Warning]) -> None:
        conn.send((WARNED, text, category))
    return send


def _take_env(env: dict[str, str]) -> None:
    """In a worker forked from the fork server: take ``env`` as the whole environment, and
    close the fork server's "alive" pipe that the fork handed down (``multiprocessing``
    gives every child of the fork server a copy; the server ends once all are closed, so a
    worker that kept it would keep the server, whose death ends the worker, alive after the
    search process died)."""
    os.environ.clear()
    os.environ.update(env)
    server = getattr(forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        try:
            os.close(alive)
        except OSError:
            pass
        server._forkserver_alive_fd = None  # noqa: SLF001 - this child's copy only


def _take_streams(stdio: tuple[int | None, int | None]) -> None:
    """In a worker forked from the fork server: write to the search process's stdout and
    stderr as given (``stdio``: descriptors of this process), not the server's."""
    for given, fd, stream in zip(stdio, (1, 2), (sys.stdout, sys.stderr), strict=True):
        if given is None:
            continue
        if stream is not None:
            stream.flush()
        os.dup2(given, fd)
        os.close(given)


def _search_alive(parent_pid: int, forked: bool) -> bool:
    """Whether the search process is still there: it is the parent of a spawned worker; a
    forked worker's parent is the fork server, and its pipe from the search process ends
    only when the search process does (``multiprocessing.parent_process``)."""
    if not forked:
        return parent_alive(parent_pid)
    parent = mp.parent_process()
    return parent is not None and parent.is_alive()
