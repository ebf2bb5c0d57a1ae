"""Tie a helper process's life to the process that started it (Linux ``PR_SET_PDEATHSIG``),
give it a clean environment, and end it with everything it started; have SIGTERM stop a
search at any moment, in a fit or not (``sigterm_exits``), and Ctrl-C in a fit stop the
caller as a ``KeyboardInterrupt`` (``ctrl_c_raised``); keep the SIGTERM handler through a
call that replaces it (``sigterm_kept``: Ray's); keep a Ctrl-C off a worker process
while it starts (``sigint_held`` as it is started, ``ctrl_c_ignored`` in it); hold a stop
back from writes that belong together (``stops_deferred``).

Worker processes and DDP rank processes call ``die_with_parent`` first, before they import
anything heavy, so a search killed with ``kill -9`` leaves nothing behind that goes on
training.

Example:
    >>> import os
    >>> parent_alive(os.getppid())
    True
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

__all__ = ["DISTRIBUTED_VARIABLES", "child_env", "ctrl_c_ignored", "ctrl_c_raised",
           "describe_exit", "die_of_sigterm", "die_with_parent", "environ", "kill_group",
           "parent_alive", "sigint_held", "sigterm_exits", "sigterm_kept", "sigterm_received",
           "stops_deferred"]

_sigterm = threading.Event()  # set by ``sigterm_exits``'s handler

#: what a launcher of ranks (torchrun, Lightning, a rank group) sets; a child starts without,
#: and a trial restores them after it (Lightning's launcher sets them in its own process);
#: ``TORCHELASTIC_USE_AGENT_STORE`` left to a child that is no rank sends its DDP fit, as a
#: client, to a store that no process serves on the port Lightning picked: it waits for it
DISTRIBUTED_VARIABLES = ("RANK", "LOCAL_RANK", "GROUP_RANK", "NODE_RANK", "WORLD_SIZE",
                         "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID",
                         "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT")


def die_with_parent() -> None:
    """On Linux, have the kernel kill this process when its parent dies (e.g. ``kill -9``)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers end at their next recv()
        pass


def parent_alive(parent_pid: int) -> bool:
    """Whether the process that started this one is still its parent."""
    return os.getppid() == parent_pid


def child_env() -> dict[str, str]:
    """This process's environment for a child that trains: none of the caller's rank
    variables (a fresh group of ranks), and ``PYTHONPATH`` so that the child imports the
    user's model as the caller does (the CLI adds the current folder)."""
    env = {k: v for k, v in os.environ.items() if k not in DISTRIBUTED_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p)
    return env


def describe_exit(code: int | None) -> str:
    """How a helper process ended, from its ``Popen.returncode``.

    Example:
        >>> describe_exit(3), describe_exit(-9)
        ('exit code 3', 'killed by SIGKILL (out of memory?)')
    """
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"


def die_of_sigterm(err: BaseException) -> None:
    """End this process as SIGTERM's default action does, where ``err`` is Lightning's
    ``SIGTERMException`` (else return): a trial's process whose fit Lightning's SIGTERM
    handler ended (a ``kill``, a cluster's preemption) is then said ``killed by SIGTERM``
    (``describe_exit``), not ``exit code 0``, which that exception, a ``SystemExit``
    without a code, would give (was: "trial process died (exit code 0)").

    Example:
        >>> die_of_sigterm(SystemExit(1))  # not Lightning's SIGTERMException: returns
    """
    if type(err).__name__ != "SIGTERMException":  # (no import of Lightning here)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    os.kill(os.getpid(), signal.SIGTERM)
    os._exit(128 + signal.SIGTERM)  # (not reached: the signal ends the process)


def kill_group(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s process group (it was started with ``start_new_session=True``):
    the process and anything it started, such as data loader workers."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def sigterm_exits() -> Iterator[None]:
    """In the body, SIGTERM raises ``SystemExit(143)`` in the main thread, so the search
    stops as on Ctrl-C (running trials re-run on resume) and exits with the status a
    SIGTERM gives. Inside a ``fit`` of this process Lightning's handler runs first and
    calls this one: it only notes the signal (``sigterm_received``), and Lightning stops
    the fit at its next check (``SIGTERMException``); was: left to Lightning's handler
    alone where trials train in this process, so a SIGTERM outside its fits (building the
    model, the data's ``setup``, between trials) killed the search at once, the running
    trial counted as a crash of it.

    Example:
        >>> with sigterm_exits():
        ...     signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        True
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, frame: object) -> None:
        _sigterm.set()  # Ray's wait() turns the exception into its own SystemExit(1)
        if signal.getsignal(signal.SIGTERM) is _exit:  # else a fit's handler called it
            raise SystemExit(128 + signal.SIGTERM)

    _sigterm.clear()
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    except SystemExit as err:  # Ray's wait() turned it into SystemExit(1): 143 again
        if _sigterm.is_set() and err.code != 128 + signal.SIGTERM:  # (was: exit code 1)
            raise SystemExit(128 + signal.SIGTERM) from err
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        _sigterm.clear()  # read in the context alone (the loop's stop runs inside it)


@contextmanager
def sigterm_kept() -> Iterator[None]:
    """Put this process's SIGTERM handler back after the body, which may replace it, and
    give it a SIGTERM that the body's own handler took (``signal.raise_signal``): one that
    raises, as ``sigterm_exits``'s does, replaces the body's exception. ``ray.init`` sets a
    handler of its own (``sys.exit(15)``) and, beneath Python's, a C++ one that prints a
    stack dump and aborts (exit 134); ``ray.shutdown`` leaves SIGTERM's default action
    beneath Python's handler, which Python still reports: the handler is set again, so
    that the kernel calls it (was: a SIGTERM as a Ray search waited for its first actor
    aborted it with Ray's dump; after a Ray search, a script's handler was Ray's, and
    beneath it the default action). In the main thread only (no other sets a handler).

    Example:
        >>> def noted(signum, frame):
        ...     print("noted")
        >>> previous = signal.signal(signal.SIGTERM, noted)
        >>> try:
        ...     with sigterm_kept():  # as ray.init: a handler of its own, and a SIGTERM
        ...         _ = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
        ...         signal.raise_signal(signal.SIGTERM)
        ... except SystemExit as err:
        ...     print("exit", err.code)
        noted
        exit 15
        >>> signal.getsignal(signal.SIGTERM) is noted
        True
        >>> _ = signal.signal(signal.SIGTERM, previous)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    except SystemExit:  # the body's handler ended it (Ray's: sys.exit(15)): given on
        took = signal.getsignal(signal.SIGTERM) is not before
        if before is not None:
            signal.signal(signal.SIGTERM, before)
            if took:
                signal.raise_signal(signal.SIGTERM)  # (the default action: ends it)
        raise
    finally:
        if before is not None:  # (None: not set from Python, nothing to put back)
            signal.signal(signal.SIGTERM, before)  # at the C level too


@contextmanager
def stops_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) or SIGTERM that comes while the body runs until it has run,
    then give it to the handler it had (``signal.raise_signal``): the search loop's stop
    then finds all of the body's writes done, or none (a trial started: its RUNNING row, the
    count of its start, and the loop holding it as running, whose start the stop takes
    back; a trial's result stored and the loop letting it go). Only Python's own handlers
    are held (``SIG_IGN``, ``SIG_DFL`` are left as they are), in the main thread alone (no
    other takes a signal).

    Example:
        >>> previous = signal.signal(signal.SIGTERM, lambda signum, frame: print("handled"))
        >>> with stops_deferred():
        ...     signal.raise_signal(signal.SIGTERM)
        ...     print("body done")
        body done
        handled
        >>> _ = signal.signal(signal.SIGTERM, previous)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []

    def _note(signum: int, frame: object) -> None:
        came.append(signum)

    held = {signum: signal.signal(signum, _note) for signum in (signal.SIGINT, signal.SIGTERM)
            if callable(signal.getsignal(signum))}
    try:
        yield
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(came):
            signal.raise_signal(signum)


@contextmanager
def ctrl_c_raised() -> Iterator[None]:
    """Lightning ends a ``fit`` that Ctrl-C interrupted with ``sys.exit(1)`` after its
    graceful shutdown; in the body that exit is raised as the ``KeyboardInterrupt`` it came
    from, so a script's ``except KeyboardInterrupt:`` runs and the interpreter exits with
    status 130, as on Ctrl-C anywhere else (SIGTERM's exit is left as it is).

    Example:
        >>> try:
        ...     with ctrl_c_raised():
        ...         try:
        ...             raise KeyboardInterrupt
        ...         except KeyboardInterrupt:
        ...             sys.exit(1)
        ... except KeyboardInterrupt:
        ...     print("interrupted")
        interrupted
    """
    try:
        yield
    except SystemExit as err:
        if err.code == 1 and isinstance(err.__context__, KeyboardInterrupt):
            raise err.__context__ from None  # its traceback: where the Ctrl-C came
        raise


@contextmanager
def sigint_held() -> Iterator[None]:
    """Hold SIGINT (Ctrl-C) back from this thread while the body runs; one that came is
    delivered after it. A process started in the body starts with SIGINT blocked (the mask
    passes through fork and exec), so a Ctrl-C as its interpreter starts and imports waits
    until it takes it (``ctrl_c_ignored``): a terminal's Ctrl-C reaches the search's worker
    processes too, and one still starting printed a traceback of its imports. Nothing
    where the platform has no ``pthread_sigmask``.

    Example:
        >>> with sigint_held():
        ...     signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        True
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
    try:
        yield
    finally:
        if signal.SIGINT not in before:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])


@contextmanager
def ctrl_c_ignored() -> Iterator[None]:
    """Ignore Ctrl-C (SIGINT) while the body runs, one held back before it too
    (``sigint_held``), then take it as before: a worker process starting up (its imports)
    leaves a Ctrl-C to the search process, which ends it (was: a ``KeyboardInterrupt``
    traceback of its imports per worker). Call it in a process's main thread.

    Example:
        >>> with ctrl_c_ignored():
        ...     signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        True
    """
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # drops one pending
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


@contextmanager
def environ(patch: Mapping[str, str], kept: Iterable[str] = ()) -> Iterator[None]:
    """The environment variables of ``patch`` set while the body runs, and they and
    ``kept`` (which the body may set) as they were afterwards (removed if unset).

    Example:
        >>> with environ({"LNAS_DEMO": "1"}, kept=["LNAS_DEMO_SET"]):
        ...     os.environ["LNAS_DEMO_SET"] = "2"
        >>> "LNAS_DEMO" in os.environ, "LNAS_DEMO_SET" in os.environ
        (False, False)
    """
    old = {key: os.environ.get(key) for key in (*patch, *kept)}
    os.environ.update(patch)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def sigterm_received() -> bool:
    """Whether ``sigterm_exits``'s handler caught a SIGTERM (in the context now open)."""
    return _sigterm.is_set()
