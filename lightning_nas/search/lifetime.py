"""Tie a helper process's life to the process that started it (Linux ``PR_SET_PDEATHSIG``).

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

__all__ = ["die_with_parent", "parent_alive"]


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
