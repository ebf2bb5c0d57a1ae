"""Whether a lock file is held now, asked without taking it for longer than the asking.

``lock_taken(path)`` tries a shared ``flock`` on ``path`` (opened read-only: nothing is
created or written) and lets it go at once: True where another process (or another open
file of this one) holds it, as a search holds its run folder's ``search.lock``.
``naming(folder)`` is held by a process from its attempt on the lock file in ``folder``
until it has named itself there, and by one that asks who holds it (``lock_taken``, then
the name read): a ``flock`` on the folder itself, so that no process reads the name the
last holder left (a live process's finished search) while a new holder has taken the lock
and not named itself yet.
``holder_gone(holder)``: whether the holder a lock file names (``pid 4242 on host``) ran on
this machine and is no longer alive, so that the lock is held by one that has not named
itself yet, or by a probe like ``lock_taken`` for an instant; ``process_gone(pid, host)``
under it, which a store's ``driver_gone`` asks too. A holder names itself as
``this_process()`` says; ``same_file`` tells a lock taken on a file its holder removed
meanwhile (``search.lock`` undone, a trial's ``trial.lock`` let go) from one on the file there.
A process forked while this one holds ``naming`` or a probe holds none of either
(``held_locks``), and takes ``naming`` at once (was: kept the folder's ``flock``, which made
every other process's ``naming`` wait ``NAMING_WAIT``; and waited for ever at its first).

Example:
    >>> lock_taken(Path("no/such/search.lock"))
    False
    >>> holder_gone(f"pid {os.getpid()} on {socket.gethostname()}"), holder_gone("")
    (False, False)
    >>> with naming(Path(".")):
    ...     lock_taken(Path("search.lock"))
    False
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from lightning_nas.held_locks import keep, keep_fd, let_go, let_go_fd
from lightning_nas.store_errors import lock_held

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["NAMING_WAIT", "holder_gone", "lock_taken", "lost_hold", "naming", "process_gone",
           "same_file", "this_process"]

_HOLDER = re.compile(r"pid (\d+) on (.+)")
#: seconds a process waits for another to name itself in a lock file it has just taken (an
#: instant's work: only a stopped process takes longer), then reads the file as it is
NAMING_WAIT = 5.0
#: ``naming`` among the threads of this process (where a folder takes no flock too)
_THREADS = threading.Lock()
#: the folders whose ``naming`` this thread holds (entered again: nothing more taken)
_HERE = threading.local()


def _fresh_in_child() -> None:
    """In a child forked from this process: ``naming`` held by none of its threads (was: one
    forked while another thread held it waited for ever at its first ``naming``)."""
    global _THREADS, _HERE
    _THREADS, _HERE = threading.Lock(), threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_in_child)


@contextmanager
def naming(folder: Path) -> Iterator[None]:
    """Hold the naming of ``folder``'s lock file: an exclusive ``flock`` on the folder (opened
    read-only: nothing is made), waited for up to ``NAMING_WAIT`` seconds, and a lock among
    this process's threads; the thread holding it may enter it again. A folder that cannot
    be opened or takes no ``flock`` (Windows, some network mounts) holds the thread lock
    alone.

    Example:
        >>> with naming(Path(".")), naming(Path(".")):
        ...     pass
    """
    held = _HERE.__dict__.setdefault("folders", set())
    key = os.path.abspath(folder)
    if key in held:
        yield
        return
    with _THREADS:
        fd = _lock_folder(folder)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            if fd is not None:
                let_go_fd(fd)
                os.close(fd)  # (its flock let go with it)


def _lock_folder(folder: Path) -> int | None:
    """An open file of ``folder`` holding its exclusive ``flock`` (waited for up to
    ``NAMING_WAIT`` seconds), or None where it cannot be had."""
    if fcntl is None:
        return None
    try:  # named before its flock: a child forked meanwhile holds none of it (held_locks)
        fd = keep_fd(os.open(folder, os.O_RDONLY))
    except OSError:  # missing, or cannot be read
        return None
    until = time.monotonic() + NAMING_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as err:
            if not lock_held(err) or time.monotonic() >= until:
                let_go_fd(fd)
                os.close(fd)
                return None
        time.sleep(0.005)


def lock_taken(path: Path) -> bool:
    """Whether another open file holds an exclusive ``flock`` on ``path`` now (False where
    there is no such file, it cannot be read, or there are no POSIX locks: not known).

    Example:
        >>> lock_taken(Path("no/such/search.lock"))
        False
    """
    if fcntl is None:
        return False
    try:
        probe = open(path)  # noqa: SIM115 - read-only: the lock file is never made here
    except OSError:
        return False
    keep(probe)  # (a child forked meanwhile holds none of it: held_locks)
    try:
        with naming(path.parent):  # (was: an instant's refusal of one taking it)
            try:
                fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as err:
                return lock_held(err)  # else its file system takes no lock: not known
            fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
    finally:
        let_go(probe)
        probe.close()
    return False


def process_gone(pid: object, host: object) -> bool:
    """Whether process ``pid`` of machine ``host`` is no longer alive (False where it cannot
    be told: another machine, another user's live process, no pid).

    Example:
        >>> process_gone(os.getpid(), socket.gethostname())
        False
    """
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError, TypeError):  # another user's; no pid
        return False
    return False


def holder_gone(holder: str) -> bool:
    """Whether ``holder`` (``pid 4242 on host``, as ``search.lock`` names one) is a process
    of this machine that is no longer alive (``process_gone``; False where no holder is
    named).

    Example:
        >>> holder_gone(f"pid {os.getpid()} on {socket.gethostname()}")
        False
    """
    found = _HOLDER.fullmatch(holder.strip())
    return found is not None and process_gone(found.group(1), found.group(2))


def this_process() -> str:
    """This process as a lock file names its holder: ``pid 4242 on host``.

    Example:
        >>> holder_gone(this_process())
        False
    """
    return f"pid {os.getpid()} on {socket.gethostname()}"


def same_file(held: IO[str], path: Path) -> bool:
    """Whether the open file ``held`` is the file at ``path`` (not one removed since).

    Example:
        >>> with open(__file__) as f:
        ...     same_file(f, Path(__file__)), same_file(f, Path("no/such/file"))
        (True, False)
    """
    try:
        return os.path.samestat(os.fstat(held.fileno()), os.stat(path))
    except OSError:
        return False


def lost_hold(held: IO[str], path: Path) -> str | None:
    """Why this process no longer holds the lock file at ``path`` that it took as ``held``
    (an open file it named itself in, ``this_process``), or None where it still does: the
    file was removed (and another may have taken a new one: a ``flock`` holds the open
    file, not the path), or it names another holder (one whose lock the system let it
    take: a network file system's lock that lapsed while this process was frozen or cut
    off). A process forked from the holder holds nothing (``held_locks``): its copy is
    no longer the file there.

    Example:
        >>> import tempfile
        >>> lock = Path(tempfile.mkdtemp()) / "search.lock"
        >>> with open(lock, "a") as held:
        ...     _ = held.write(f"{this_process()}\\n"), held.flush()
        ...     lost_hold(held, lock) is None, lock.unlink(), lost_hold(held, lock)
        (True, None, 'was removed')
    """
    if not same_file(held, path):
        return "was removed"
    try:  # (not under ``naming``: only another holder, if any, rewrites it)
        named = path.read_text().partition("\n")[0].strip()
    except OSError:
        return "cannot be read"
    return None if named == this_process() else f"now names {named or 'no one'}"

