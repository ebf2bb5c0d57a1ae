"""Let a helper process that imported torch and Lightning exit without a last sweep of its
heap.

As the interpreter finalizes, Python's cyclic garbage collector walks every object still
alive, and a process that imported torch and Lightning holds millions (modules, dynamo's
tables, sympy's caches): about two seconds of CPU per exit, seconds of wall time on a busy
machine. A DDP trial's fresh processes exit after every trial (the search waits for rank 0),
a group's ranks as a search ends (``RankGroup.close`` waits for them), a process
executor's workers as it retires them (one after the other), and the ``lightning-nas``
command itself. Moving every object to the collector's permanent generation
(``gc.freeze``) just before the process exits skips that walk; ``atexit`` hooks still run
(``lightning_nas.group_exit``), objects still go as their last reference does, and files
are still flushed and closed.

Example:
    >>> import gc
    >>> before = gc.get_freeze_count()
    >>> freeze_for_exit()
    >>> gc.get_freeze_count() >= before
    True
    >>> gc.unfreeze()
"""

from __future__ import annotations

import gc

__all__ = ["freeze_for_exit"]


def freeze_for_exit() -> None:
    """Spare this process the collector's walk of its whole heap as it exits: call it last,
    right before ``sys.exit``, in a process that ends after it (not in a user's)."""
    gc.freeze()
