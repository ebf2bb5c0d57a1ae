"""Destroy torch's default process group at exit, while the interpreter still runs Python.

A gloo process group that nobody destroys lives until the interpreter is torn down. Its
worker threads may then still hold the last reference to a finished collective (an
``all_reduce`` of a tensor Python has already let go); dropping it needs the GIL, which a
thread cannot take during interpreter finalization, and the process aborts with
``terminate called without an active exception`` (SIGABRT, exit 134). This is torch's
(pytorch/pytorch#190489); Lightning registers the same clean-up at exit for NCCL only. A
fit of ours that ran in a process group (``finetune_subnet``, the one-shot fit of
``lightning-nas oneshot``) calls ``destroy_group_at_exit()``, and so do a search's DDP
ranks after each trial, and ``OneShotNAS`` and ``DifferentiableNAS`` as a user's own fit
starts on gloo: the group is destroyed by an ``atexit`` hook, before finalization, and its
workers finish with the GIL to be had.

Example:
    >>> destroy_group_at_exit()  # no process group here: nothing registered
    False
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Iterable, Iterator

import torch.distributed as dist

__all__ = ["destroy_group_at_exit", "groups_made_here", "launcher_variables_of_one"]

_registered = False


def _initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def _destroy_group() -> None:
    """The ``atexit`` hook: destroy the default process group (and its subgroups), if any
    is left (the user's code or Lightning's own NCCL hook may have done it already)."""
    if _initialized():
        dist.destroy_process_group()


def destroy_group_at_exit(backend: str | None = None) -> bool:
    """Have the default process group destroyed when the process exits normally, once per
    process; a no-op without an initialized process group.

    Args:
        backend: register only for a default group of this backend (``"gloo"``); None:
            whatever its backend.

    Returns:
        Whether this call registered the hook (``False`` when there is no process group,
        it has another backend, or an earlier call registered it).

    Example:
        >>> destroy_group_at_exit(backend="gloo")
        False
    """
    global _registered
    if _registered or not _initialized():
        return False
    if backend is not None and str(dist.get_backend()) != backend:
        return False
    atexit.register(_destroy_group)
    _registered = True
    return True


@contextlib.contextmanager
def groups_made_here() -> Iterator[None]:
    """Destroy, as the block ends, a default process group of one process that a fit in it
    initialized; one there before (the user's own) is left as it is, and so is one of
    several processes (a search's rank processes keep Lightning's from trial to trial).

    A trial with a DDP strategy on one device trains in the search's process, and Lightning
    leaves the group it made there (was: initialized after ``Search.run`` returned, in the
    user's process, and for every later trial; a fresh process per trial would have none).

    Example:
        >>> with groups_made_here():
        ...     pass
    """
    before = _initialized()
    try:
        yield
    finally:
        if not before and _initialized() and dist.get_world_size() == 1:
            dist.destroy_process_group()


@contextlib.contextmanager
def launcher_variables_of_one(names: Iterable[str]) -> Iterator[None]:
    """The environment variables ``names`` (those Lightning's launcher sets in the process
    that trains rank 0: ``LOCAL_RANK``, ``MASTER_PORT``, ...) as they were before the block
    where a fit in it made a group of one process (a DDP fit on one device: left set, a
    later DDP Trainer there took its process for one a launcher started), or none; where
    the block leaves a group of several processes (the launcher started ranks that run the
    same script), they stay as Lightning set them, so a later fit in the script trains on
    those ranks, as a second ``Trainer.fit`` does (was: restored too, so the next fit
    started new ranks while the first went on to it on the old port and waited for ever).

    Example:
        >>> with launcher_variables_of_one(["LNAS_DEMO_RANK"]):
        ...     os.environ["LNAS_DEMO_RANK"] = "0"
        >>> "LNAS_DEMO_RANK" in os.environ
        False
    """
    old = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        if not (_initialized() and dist.get_world_size() > 1):
            for name, value in old.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
