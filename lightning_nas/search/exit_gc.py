"""Let a helper process that imported torch and Lightning exit without a last sweep of its
heap, or without the interpreter's teardown at all.

As the interpreter finalizes, Python's cyclic garbage collector walks every object still
alive, and a process that imported torch and Lightning holds millions (modules, dynamo's
tables, sympy's caches): about two seconds of CPU per exit, seconds of wall time on a busy
machine. A DDP trial's fresh processes exit after every trial (the search waits for rank 0),
a process executor's workers as it retires them (one after the other), and the
``lightning-nas`` command itself. Moving every object to the collector's permanent
generation (``gc.freeze``) just before the process exits skips that walk
(``freeze_for_exit``); ``atexit`` hooks still run (``lightning_nas.group_exit``), objects
still go as their last reference does, and files are still flushed and closed.

The rest of the teardown still costs about 0.3 s of CPU per process: the interpreter's
own clean-up (``sys.modules``, interned strings, free lists) and the C-level exit handlers
(the C++ destructors of torch's operator registry and oneDNN's tables), in a process forked
from a zygote mostly spent copying the pages it shares with it, as every write there does.
A group's ranks, which a search waits for as it closes the group (``RankGroup.close``: ~1 s
per close on 2 cores, at every search's end and wherever a trial needs other ranks), skip
it: ``end_now`` runs what Python's exit runs in Python (threads joined, ``atexit`` hooks,
stdout and stderr flushed), then ``os._exit``, as a ``multiprocessing`` child ends (which
runs no ``atexit`` hook at all).

Example:
    >>> import gc
    >>> before = gc.get_freeze_count()
    >>> freeze_for_exit()
    >>> gc.get_freeze_count() >= before
    True
    >>> gc.unfreeze()
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
import traceback
from typing import NoReturn

__all__ = ["end_now", "freeze_for_exit"]


def freeze_for_exit() -> None:
    """Spare this process the collector's walk of its whole heap as it exits: call it last,
    right before ``sys.exit``, in a process that ends after it (not in a user's)."""
    gc.freeze()


def end_now(code: int = 0) -> NoReturn:
    """End this helper process with exit status ``code`` as Python's exit ends it, in
    Python, and then at once: its threads that are no daemons joined as the interpreter
    joins them (a thread pool left open told to end first: ``threading``'s own shutdown),
    every ``atexit`` hook run (the last registered first; one that raises is printed, as
    at any exit), stdout and stderr flushed; then ``os._exit(code)``. What is skipped is the
    interpreter's teardown (an object still alive is not finalized, as with
    ``freeze_for_exit`` already for those in a module) and the C-level exit handlers (C++
    destructors, a native library's ``atexit``). Call it last, in the main thread of a
    process of ours that ends after it (not in a user's).

    Args:
        code: the process's exit status.

    Example:
        >>> end_now(0)  # doctest: +SKIP
    """
    try:
        shutdown = getattr(threading, "_shutdown", None)  # the interpreter's own join
        if shutdown is not None:
            shutdown()
        atexit._run_exitfuncs()  # noqa: SLF001 - what an exit runs; os._exit runs none
    except BaseException:  # noqa: BLE001 - printed, as an exit prints it; the process ends
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):  # None, or closed
                pass
        os._exit(code)
