"""Whether a lock file is held now, asked without taking it for longer than the asking.

``lock_taken(path)`` tries a shared ``flock`` on ``path`` (opened read-only: nothing is
created or written) and lets it go at once: True where another process (or another open
file of this one) holds it, as a search holds its run folder's ``search.lock``.
``holder_gone(holder)``: whether the holder a lock file names (``pid 4242 on host``) ran on
this machine and is no longer alive, so that the lock is held by one that has not named
itself yet, or by a probe like ``lock_taken`` for an instant; ``process_gone(pid, host)``
under it, which a store's ``driver_gone`` asks too.

Example:
    >>> lock_taken(Path("no/such/search.lock"))
    False
    >>> holder_gone(f"pid {os.getpid()} on {socket.gethostname()}"), holder_gone("")
    (False, False)
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from lightning_nas.store_errors import lock_held

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["holder_gone", "lock_taken", "process_gone"]

_HOLDER = re.compile(r"pid (\d+) on (.+)")


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
    with probe:
        try:
            fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as err:
            return lock_held(err)  # else its file system takes no lock: not known
        fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
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
