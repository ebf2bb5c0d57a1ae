"""Why a run's ``search.db`` cannot be used, said with its path and what to do: SQLite's
errors on opening it (``unusable_store``: corrupt, not a database, a folder that cannot be
written) or on writing it (``unwritable_store``: a full disk, an I/O error), and a run
folder whose file system takes no lock (``check_lockable`` before a search writes there,
``lock_held``: whether a failed lock is another process's).

Example:
    >>> print(unusable_store(Path("runs/a/search.db"), sqlite3.DatabaseError(
    ...     "file is not a database"), writing=False))  # doctest: +ELLIPSIS
    runs/a/search.db is not an SQLite database (file is not a database): ...
    >>> import errno
    >>> lock_held(OSError(errno.EWOULDBLOCK, "busy")), lock_held(OSError(errno.ENOLCK, "no"))
    (True, False)
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
from pathlib import Path

from lightning_nas.errors import StoreError

try:  # POSIX file locks: one search drives a run folder at a time
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["check_lockable", "lock_held", "unlockable", "unusable_store", "unwritable_store"]

#: errnos of a non-blocking ``flock`` refused because another process holds the lock
#: (``EACCES``: some systems)
_HELD = frozenset({errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES})

#: what to do with a store that cannot be read
_ANEW = "restore it from a copy of the run folder, or give another run_dir to start anew"


def unusable_store(path: Path, err: sqlite3.Error, writing: bool) -> StoreError:
    """The error for the store ``path`` that SQLite could not open (``err``, its message kept
    in parentheses), ``writing`` or read as it is: it names the file, what is wrong and what
    to do."""
    name, text = getattr(err, "sqlite_errorname", "") or "", str(err)
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        what = (f"is corrupt ({text}): truncated or damaged (a copy cut short, a full disk, "
                f"a crash of the machine); {_ANEW}")
    elif name == "SQLITE_NOTADB" or "not a database" in text:
        what = (f"is not an SQLite database ({text}): another file under that name, or one "
                f"damaged from its start; {_ANEW}")
    elif writing and (name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM"))
                      or "unable to open" in text or "readonly" in text):
        folder = path.parent
        if not os.access(folder, os.W_OK) or path.exists() and not os.access(path, os.W_OK):
            why = f"the folder {folder} cannot be written (a read-only mount, another user's)"
        else:
            why = (f"SQLite cannot create or write it, or {path.name}-wal and {path.name}-shm "
                   f"beside it")
        what = (f"cannot be opened for writing ({text}): {why}; a search writes its trials "
                f"there: copy the run folder where it can be written and resume it there "
                f"(`lightning-nas show` and `report` read it as it is)")
    else:
        what = (f"cannot be {'opened' if writing else 'read'} ({text}); check the file and "
                f"its folder")
    return StoreError(f"{path} {what}")


def unwritable_store(path: Path, err: sqlite3.Error) -> StoreError | None:
    """The error for a write SQLite refused to the store ``path`` (``err``, its message kept
    in parentheses) for want of room or of a working disk (``SQLITE_FULL``, ``SQLITE_IOERR``,
    ``SQLITE_READONLY``): it names the file and what to do; None for another error (one
    that is said as SQLite raised it).

    Example:
        >>> full = sqlite3.OperationalError("database or disk is full")
        >>> full.sqlite_errorname = "SQLITE_FULL"
        >>> print(unwritable_store(Path("runs/a/search.db"), full))  # doctest: +ELLIPSIS
        runs/a/search.db cannot be written (database or disk is full): the disk ...
    """
    name = getattr(err, "sqlite_errorname", "") or ""
    if not name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY")):
        return None
    return StoreError(f"{path} cannot be written ({err}): the disk holding it is full, failed "
                      f"or was made read-only; free space there (or copy the run folder to a "
                      f"disk with room), then run the same search again: it resumes from "
                      f"what the store holds (a trial whose result was not stored runs "
                      f"again)")

def lock_held(err: OSError) -> bool:
    """Whether a refused non-blocking ``flock`` (``err``) means that another process holds
    the lock; else the file system takes none (``ENOLCK``, ``EOPNOTSUPP``, ``ENOSYS``:
    some network mounts)."""
    return err.errno in _HELD


def unlockable(folder: Path, err: OSError) -> StoreError:
    """The error for a run folder whose file system takes no lock (``lock_held`` false)."""
    why = os.strerror(err.errno) if err.errno else str(err)
    return StoreError(f"{folder} cannot be locked ({why}): its file system takes no flock() "
                      f"lock (some network mounts: NFS, CIFS, Lustre); a search locks its run "
                      f"folder so that a second search on it is refused: give a run_dir on a "
                      f"local disk (to resume this run, copy its folder there)")


def check_lockable(folder: Path) -> None:
    """Raise ``StoreError`` (``unlockable``) when the file system of the run folder
    ``folder`` takes no lock, before a search writes anything there: a temporary file in it,
    or in the nearest folder above it that exists (where it would be made), is locked and
    removed. A folder that cannot be written is left to the error of its first write."""
    where = next((p for p in (folder, *folder.parents) if p.is_dir()), None)
    if fcntl is None or where is None:  # no POSIX locks (Windows): not checked
        return
    try:
        probe = tempfile.TemporaryFile(dir=where)
    except OSError:
        return
    with probe:
        try:
            fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:  # nobody else has this file: not held
            raise unlockable(folder, err) from None
