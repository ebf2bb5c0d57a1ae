"""Folders and files the user names, and a run folder's hold.

``user_path`` expands a leading ``~`` (``~/nas/digits``, ``~user/runs``) as the shell and
Lightning's callbacks and loggers do, so a run's own files and the Lightning files of its
trials land in one folder. Every setting, argument and command-line value that takes a path
goes through it: a search's ``run_dir`` and ``warm_start`` folders, a one-shot run's
``run_dir``, its ``--ckpt_path`` and ``export_dir``, a Hydra sweep's ``run_dir``, config,
space and table files, and the folders ``show``, ``report``, ``export``, ``finetune`` and
``fit`` read and write.

``hold_folder`` holds a run folder for one process (a lock on its ``search.lock``, which
names the holder): a search (``open_search_store(hold=True)``), a Hydra sweep and a one-shot run
(``holding``) take it, so a second run started on the folder meanwhile is refused before it
writes anything, whichever kind either is.

Example:
    >>> import os
    >>> user_path("~/nas/digits") == Path(os.path.expanduser("~")) / "nas" / "digits"
    True
    >>> user_path("runs/a")
    PosixPath('runs/a')
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from lightning_nas.errors import SearchError
from lightning_nas.store_errors import lock_held, unlockable

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["LOCK_FILE", "hold_folder", "holding", "user_path"]

#: the file in a run folder whose lock its holder keeps
LOCK_FILE = "search.lock"
#: what launchers set to a process's rank: torchrun, Lightning's own, SLURM, LSF
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "GROUP_RANK", "NODE_RANK", "SLURM_PROCID",
                   "JSM_NAMESPACE_RANK")


def user_path(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` with a leading ``~`` or ``~user`` expanded (a literal ``~``
    folder in the current one is written ``./~``)."""
    return Path(path).expanduser()


def hold_folder(folder: str | os.PathLike, then: str) -> IO[str] | None:
    """Hold ``folder`` (created if missing) for this process until the returned file is
    closed or the process ends, however it ends (the system releases the lock); None
    without POSIX locks (Windows: not checked).

    Args:
        folder: the run folder.
        then: what to do once the holder is gone, for the refusal's message.

    Raises:
        SearchError: when another process holds it, naming that process (pid and host).
        StoreError: when the folder's file system takes no lock (``unlockable``).
    """
    if fcntl is None:
        return None
    folder = user_path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    held = open(folder / LOCK_FILE, "a")  # noqa: SIM115 - kept open while held
    try:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        held.close()
        if not lock_held(err):  # was: any refusal "being searched by another process"
            raise unlockable(folder, err) from None
        holder = (folder / LOCK_FILE).read_text().strip() or "pid ? on ?"
        raise SearchError(f"{folder} is being searched by another process ({holder}): wait "
                          f"for it to end, or stop it; {then}") from None
    held.truncate(0)  # the holder, for the message of a process refused meanwhile
    held.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    held.flush()
    return held


@contextmanager
def holding(folder: str | os.PathLike, then: str) -> Iterator[None]:
    """``hold_folder`` for a block, released when it ends (an error too), by the first
    process of a run only: the other ranks of a DDP run (each started with the same command
    by Lightning's launcher, ``torchrun`` or SLURM) are processes of the same run."""
    first = all(os.environ.get(name, "0") == "0" for name in _RANK_VARIABLES)
    held = hold_folder(folder, then) if first else None
    try:
        yield
    finally:
        if held is not None:
            held.close()
