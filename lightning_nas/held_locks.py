"""The lock files this process holds, which a process forked from it does not hold.

A ``flock`` locks the open file, and a fork shares it: a child forked while a run holds a
lock (a DataLoader's workers, ``persistent_workers``, a user's own ``os.fork``) that
outlived a ``kill -9`` of the run kept the lock held, and the run's folder was refused as
still in use (a resume, an export: "being searched by another process"; a trial as still
running). A holder names its open lock file here (``keep``); in a child forked from this
process each such file's descriptor is pointed at ``/dev/null`` as the child starts
(closed for the lock, which the parent's open file keeps; never ``LOCK_UN``, which would let
the shared open file's lock go for the parent too; the number kept, for the file object's
own close), and ``kept`` says False there, so that a child leaving a holding block removes
or writes nothing of its parent's. Used by ``run_folder.hold_folder`` (``search.lock``) and
``search.trial_hold.holding_trial`` (``trial.lock``), each naming its file as it opens it,
before its ``flock`` (was: after, so a child another thread forked in between held it); and
by ``lock_probe``'s ``naming`` (``keep_fd``: the folder's own ``flock``, an open descriptor;
was: kept by a child forked while it was held, which made every other process's ``naming``
of the folder wait) and ``lock_taken``'s probe.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryFile("w") as lock:
    ...     kept(keep(lock)), let_go(lock), kept(lock)
    (True, True, False)
"""

from __future__ import annotations

import contextlib
import os
import weakref
from typing import IO

__all__ = ["keep", "keep_fd", "kept", "let_go", "let_go_fd"]

#: the lock files this process holds open (a file dropped unclosed is closed: gone here too)
_HELD: weakref.WeakSet[IO[str]] = weakref.WeakSet()
#: the open descriptors (no file object: ``os.open``'s) whose locks this process holds
_HELD_FDS: set[int] = set()


def keep(held: IO[str]) -> IO[str]:
    """Name ``held``, an open lock file whose lock this process holds; returns it.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryFile("w") as lock:
        ...     keep(lock) is lock
        True
    """
    _HELD.add(held)
    return held


def kept(held: IO[str]) -> bool:
    """Whether this process holds ``held`` (``keep``): False in a child forked since.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryFile("w") as lock:
        ...     kept(lock)
        False
    """
    return held in _HELD


def let_go(held: IO[str]) -> bool:
    """Forget ``held`` as it is let go; whether this process held it (False in a child
    forked while it held it: the hold, and what goes with it, is the parent's).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryFile("w") as lock:
        ...     let_go(keep(lock)), let_go(lock)
        (True, False)
    """
    ours = held in _HELD
    _HELD.discard(held)
    return ours


def keep_fd(fd: int) -> int:
    """Name ``fd``, an open descriptor (``os.open``'s) whose lock this process holds or is
    about to take, as ``keep`` names a file; returns it. ``let_go_fd`` before it is closed.

    Example:
        >>> fd = os.open(".", os.O_RDONLY)
        >>> keep_fd(fd) == fd, let_go_fd(fd), os.close(fd)
        (True, None, None)
    """
    _HELD_FDS.add(fd)
    return fd


def let_go_fd(fd: int) -> None:
    """Forget ``fd`` (``keep_fd``), about to be closed.

    Example:
        >>> let_go_fd(-1)
    """
    _HELD_FDS.discard(fd)


def _forget_in_child() -> None:
    """In a child forked from this process: its copies of the held lock files' descriptors
    (and of those ``keep_fd`` named) point at ``/dev/null`` (a closed one's number is left
    alone: another file's now), and it holds none."""
    held = [f.fileno() for f in _HELD if not f.closed] + sorted(_HELD_FDS)
    _HELD.clear()
    _HELD_FDS.clear()
    if not held:
        return
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:  # pragma: no cover - no /dev/null
        return
    try:
        for fd in held:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(null, fd, inheritable=False)
    finally:
        os.close(null)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
