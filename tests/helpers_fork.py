"""A lock held by a real forked process that forks children of its own while it holds it (a
DataLoader's workers, ``persistent_workers``, a user's ``os.fork``), the children outliving it.

``forked_hold(hold)`` forks a holder from the test process: it enters ``hold()`` (a context
manager that takes a lock: a trial's folder, a run folder), forks two children inside the
block and waits there. One child stays in the block for good (a DataLoader's worker, which
never leaves it); the other leaves it by an error at the test's word (``child_leaves``, as
a run refused before it trained does) and lives on. The test tells the holder to die in the
block (``holder_dies``: ``os._exit``, as a ``kill -9`` leaves a hold never let go); the
children are killed as the block ends.

Example:
    >>> from contextlib import nullcontext
    >>> with forked_hold(nullcontext) as hold:
    ...     hold.child_leaves()
    ...     hold.holder_dies()
    >>> hold.holder.startswith("pid ")
    True
"""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import IO

from lightning_nas.lock_probe import this_process

__all__ = ["ForkedHold", "forked_hold"]


class _Leave(Exception):
    """How a child leaves the holding block."""


@dataclass
class ForkedHold:
    """The forked holder (``holder``: ``pid 4242 on host``, as it names itself) and its two
    children (``children``), told what to do through pipes (``_go``: the holder's, the
    leaving child's; ``_said``: what they say)."""

    holder: str
    children: tuple[int, ...]
    _pid: int
    _said: IO[str]
    _go: tuple[int, int]
    reaped: bool = field(default=False)

    def child_leaves(self) -> None:
        """A child leaves the block by an error (and lives on); returns once it has."""
        os.write(self._go[1], b"x")
        assert self._said.readline().strip() == "left"

    def holder_dies(self) -> None:
        """The holder ends inside the block, its hold never let go; returns once it has."""
        os.write(self._go[0], b"x")
        os.waitpid(self._pid, 0)
        self.reaped = True


def _holder(hold: Callable[[], AbstractContextManager[object]], say: int,
            go: tuple[int, int, int]) -> None:
    """The forked holder's part (and its children's), told by ``go`` (the holder's pipe, the
    leaving child's, and the one both children wait on: EOF as the test ends); never
    returns."""
    go_holder, go_child, stay = go
    try:
        try:
            with hold():
                stays = os.fork()
                if stays == 0:  # in the block till it is killed (a DataLoader's worker)
                    os.read(stay, 1)
                    os._exit(0)
                leaves = os.fork()
                if leaves == 0:  # leaves the block at the test's word
                    os.read(go_child, 1)
                    raise _Leave
                os.write(say, f"{this_process()}\n{stays} {leaves}\n".encode())
                os.read(go_holder, 1)
                os._exit(0)  # killed mid-hold: its hold not let go
        except _Leave:
            os.write(say, b"left\n")
            os.read(stay, 1)  # alive until the test ends it
    except BaseException:  # noqa: BLE001 - (the test reads no holder: why, on stderr)
        traceback.print_exc()
    finally:
        os._exit(0)


@contextmanager
def forked_hold(hold: Callable[[], AbstractContextManager[object]]) -> Iterator[ForkedHold]:
    """A holder forked from this process in ``hold()``'s block, its children forked there."""
    said, say = os.pipe()  # to the test: the holder and its children's pids; "left"
    go_holder, holder_goes = os.pipe()
    go_child, child_goes = os.pipe()
    stay, staying = os.pipe()
    pid = os.fork()
    if pid == 0:
        for fd in (said, holder_goes, child_goes, staying):  # (the test's: EOF as it ends)
            os.close(fd)
        _holder(hold, say, (go_holder, go_child, stay))
    for fd in (say, go_holder, go_child, stay):
        os.close(fd)
    lines = os.fdopen(said)
    forked = ForkedHold(lines.readline().strip(), (), pid, lines, (holder_goes, child_goes))
    forked.children = tuple(int(child) for child in lines.readline().split())
    try:
        yield forked
    finally:
        for child in forked.children:
            os.kill(child, signal.SIGKILL)
        for fd in (holder_goes, child_goes, staying):  # (one still alive reads EOF: it ends)
            os.close(fd)
        lines.close()
        if not forked.reaped:
            os.waitpid(pid, 0)
