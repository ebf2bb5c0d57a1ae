"""The fork server's last preload: its imported heap moved out of the garbage collector's
reach (``gc.freeze``), for the server and every worker forked from it.

``worker_start.PRELOAD`` names this module last, so the fork server imports it after torch,
Lightning and the trial's modules, before it forks any worker. With the heap frozen there,
the server's exit (as the search's process ends) skips the collector's last walk of the
millions of objects torch and Lightning hold (``exit_gc``'s reason), and a worker inherits
the frozen heap: its own collections never walk those objects either. Imported anywhere
else (a doctest's collection, a user's import) it does nothing: ``in_fork_server`` tells.

Example:
    >>> in_fork_server()
    False
"""

from __future__ import annotations

import gc
import sys
from multiprocessing import forkserver

__all__ = ["in_fork_server"]


def in_fork_server() -> bool:
    """Whether multiprocessing's fork server is importing its preload modules now: its
    ``forkserver.main`` is a caller of this frame."""
    frame = sys._getframe(1)  # noqa: SLF001 - CPython's documented frame access
    while frame is not None:
        if frame.f_code is forkserver.main.__code__:
            return True
        frame = frame.f_back
    return False


if in_fork_server():
    gc.freeze()
