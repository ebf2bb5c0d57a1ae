"""The executor tests' trials in worker processes: the search space of ``TinyNet``'s width
and learning rate, ``nap``, an ``objective=`` trial that only sleeps, ``exits``, one that
ends its process, ``DiesOnArrival``, a value that ends the process that receives it, and
``result_sent``, a wait for a worker's result, ``tiny_spec``, a one-epoch trial of
``TinyNet`` on the blobs, ``SigtermNet``, a ``TinyNet`` whose process is sent SIGTERM,
``LateDeathNet``, one whose process dies as a later epoch starts, and ``NeighbourNet``, one
whose trial of one width dies while its neighbour of another trains.

Example:
    >>> sorted(SPACE)
    ['lr', 'width']
"""

from __future__ import annotations

import os
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from lightning_nas.search.trial_spec import TrialSpec
from lightning_nas.search.worker_entry import RECEIVED
from tests.helpers_models import TinyNet

__all__ = ["SPACE", "DiesOnArrival", "LateDeathNet", "NeighbourNet", "SigtermNet", "exits", "nap",
           "result_sent", "tiny_spec"]

SPACE = {"width": {"choice": [8, 16, 32]}, "lr": {"float": [0.05, 0.3]}}


def nap(arch: dict[str, Any]) -> dict[str, float]:
    """An ``objective=`` search's trial that sleeps ``arch["nap"]`` seconds and scores that
    many (a result says which trial it is of): one that is still running on its worker or
    actor when its search has ended.

    Example:
        >>> nap({"nap": 0.0})
        {'val_acc': 0.0}
    """
    time.sleep(arch["nap"])
    return {"val_acc": float(arch["nap"])}


def exits(arch: dict[str, Any]) -> dict[str, float]:
    """An ``objective=`` trial that ends its process at once with exit code
    ``arch["exit"]`` (``os._exit``: no Python error comes back, as a crash of the user's code
    would), after noting that process's pid as a line of the file ``arch["notes"]``.

    Example:
        >>> callable(exits)  # in a worker: ends it, e.g. exits({"exit": 86, "notes": path})
        True
    """
    _noted_exit(arch["notes"], int(arch["exit"]))


class SigtermNet(TinyNet):
    """``TinyNet`` whose trials of width ``term_width`` send their own process a real SIGTERM
    in their first training step (as a ``kill`` or a cluster's preemption would): Lightning's
    handler then ends the fit with its ``SIGTERMException``."""

    def __init__(self, width: int = 16, lr: float = 0.05, term_width: int | None = None
                 ) -> None:
        super().__init__(width=width, lr=lr)
        self.term_width = term_width

    def training_step(self, batch, batch_idx):
        if self.hparams.width == self.term_width:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().training_step(batch, batch_idx)


class LateDeathNet(TinyNet):
    """``TinyNet`` whose process ends (``os._exit(3)``, as a crash or the out-of-memory killer
    would) at the first training step of epoch ``death_epoch`` (counted from 0), after the
    epochs before it trained and validated."""

    def __init__(self, width: int = 16, lr: float = 0.05, death_epoch: int = 2) -> None:
        super().__init__(width=width, lr=lr)
        self.death_epoch = death_epoch

    def training_step(self, batch, batch_idx):
        if self.current_epoch == self.death_epoch:
            os._exit(3)
        return super().training_step(batch, batch_idx)


class NeighbourNet(TinyNet):
    """``TinyNet`` whose trial of width ``die_width`` writes the file ``mark`` and ends its
    process (``os._exit(3)``) at its first training step, while a trial of another width,
    at its first training step, waits (two minutes at most) until ``mark`` is there, then
    a second more (its neighbour's death seen meanwhile) and trains on: a death in one
    process while a neighbour trial certainly trains in another."""

    def __init__(self, width: int = 16, lr: float = 0.05, die_width: int = 4,
                 mark: str = "") -> None:
        super().__init__(width=width, lr=lr)
        self.die_width, self.mark = die_width, Path(mark)

    def training_step(self, batch, batch_idx):
        if self.hparams.width == self.die_width:
            self.mark.write_text(str(os.getpid()))
            os._exit(3)
        if self.global_step == 0:
            deadline = time.monotonic() + 120
            while not self.mark.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)
        return super().training_step(batch, batch_idx)


class DiesOnArrival:
    """A value (in a trial spec's ``model_init_args``) that ends the process unpickling it
    with exit code ``code``, after noting that process's pid as a line of ``notes``: a
    worker that dies as it receives its trial, before it starts it.

    Example:
        >>> DiesOnArrival("notes.txt", 86).code
        86
    """

    def __init__(self, notes: str, code: int) -> None:
        self.notes, self.code = notes, code

    def __reduce__(self) -> tuple:
        return _noted_exit, (self.notes, self.code)


def _noted_exit(notes: str, code: int) -> None:
    with open(notes, "a") as out:
        out.write(f"{os.getpid()}\n")
    os._exit(code)


def result_sent(conn: Connection, timeout: float = 300) -> bool:
    """Wait (at most ``timeout`` seconds) until a ready worker that was just sent a trial has
    sent its result into its pipe ``conn``, so that the pool's next ``wait`` reads it: the
    ``RECEIVED`` message the worker sends first is read here (the pool needs it only where
    the worker dies before the result). False where none came in time.

    Example:
        >>> from multiprocessing import Pipe
        >>> ours, worker = Pipe()
        >>> worker.send(RECEIVED), worker.send("result")
        (None, None)
        >>> result_sent(ours, timeout=1), ours.recv()
        (True, 'result')
    """
    if not conn.poll(timeout) or conn.recv() != RECEIVED:
        return False
    return conn.poll(timeout)


def tiny_spec(tmp_path: Path, trial_id: int) -> TrialSpec:
    """Trial ``trial_id``: ``TinyNet`` of width 8 on the blobs, one epoch, in its own folder
    under ``tmp_path`` (the worker tests' trial)."""
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    return TrialSpec(trial_id=trial_id, arch={"width": 8}, trial_dir=str(tmp_path / f"t{trial_id}"),
                     model=TinyNet, data=BlobData, trainer={"max_epochs": 1})
