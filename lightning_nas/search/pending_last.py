"""An epoch-end ``last.ckpt`` put in place once Lightning has logged the epoch's training row.

A checkpoint callback writes ``last.ckpt`` in the epoch-end hooks, and Lightning logs the
epoch's training row (``train_loss`` and the other epoch-level training metrics) after them:
a kill in between resumed after that epoch, and its row was never logged. ``PendingLast``
has the file written as ``.last.pending.ckpt`` (``LAST_PENDING``) and puts it in place
(``os.replace``) when the next epoch starts, when the fit ends, or on an error or interrupt
once the row is logged (``trainer.current_epoch`` moved on: a SIGTERM); otherwise it is
dropped and the ``last.ckpt`` before it stays, so the resume trains that epoch again. Public
API only (hooks, ``trainer.current_epoch``, ``trainer.is_global_zero``).

Used by the search's ``TrialCheckpoint`` (a trial's, ``fit``'s and ``finetune``'s
``last.ckpt``) and ``lightning-nas oneshot``'s ``RunCheckpoint``; each is given to the
Trainer as a callback of its own, first (``trial.build_trainer``, ``oneshot/run.py``), so
the last epoch's file is in place before the other callbacks' ``on_train_end`` (SPOS's final
search) and the next epoch's before their ``on_train_epoch_start`` (Lightning runs the
checkpoint callbacks' hooks last, and the module's after every callback's).

Example:
    >>> import tempfile
    >>> import lightning.pytorch as pl
    >>> folder = Path(tempfile.mkdtemp())
    >>> trainer = pl.Trainer(logger=False, enable_checkpointing=False)
    >>> pending = PendingLast()
    >>> _ = Path(pending.writing(trainer, folder)).write_text("epoch 0")
    >>> pending.put(trainer); (folder / "last.ckpt").read_text()
    'epoch 0'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import lightning.pytorch as pl

__all__ = ["LAST_PENDING", "PendingLast"]

#: ``last.ckpt`` of an epoch whose training row Lightning has not logged yet
LAST_PENDING = ".last.pending.ckpt"


class PendingLast(pl.Callback):
    """The ``LAST_PENDING`` file an epoch's end wrote (``writing``), put in its place,
    ``last.ckpt``, once the epoch's training row is logged (``put``; rank 0's file). As a
    callback of the Trainer it does so in its own hooks; its owner may call them from its
    own (a second call does nothing). It holds no state: nothing goes into a checkpoint."""

    def __init__(self) -> None:
        self._path: Path | None = None  # the LAST_PENDING file written, not yet in place
        self._epoch = -1  # trainer.current_epoch when it was written
        self._placed: Callable[[], None] | None = None  # called once it is in place

    def writing(self, trainer: pl.Trainer, folder: str | os.PathLike[str],
                placed: Callable[[], None] | None = None) -> str:
        """The path to write this epoch's ``last.ckpt`` to (``LAST_PENDING`` in
        ``folder``), to be put in place by ``put``; ``placed``: called once it is (rank 0;
        not for a file dropped), to tell the loggers of it."""
        self._path, self._epoch = Path(folder) / LAST_PENDING, trainer.current_epoch
        self._placed = placed
        return str(self._path)

    def put(self, trainer: pl.Trainer, drop: bool = False) -> None:
        """Put the file written in its place, ``last.ckpt``, at once (``drop``: remove it
        instead); rank 0's."""
        path, self._path, placed, self._placed = self._path, None, self._placed, None
        if path is None or not trainer.is_global_zero:
            return
        if drop:
            path.unlink(missing_ok=True)
            return
        os.replace(path, path.with_name("last.ckpt"))
        if placed is not None:
            placed()

    def settle(self, trainer: pl.Trainer) -> None:
        """On an error or interrupt: put in place where the epoch's row was logged since
        (``trainer.current_epoch`` moved on: a SIGTERM after it), else dropped (the
        ``last.ckpt`` before it stays)."""
        self.put(trainer, drop=trainer.current_epoch <= self._epoch)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.put(trainer)  # the previous epoch's: Lightning logged its row since

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.put(trainer)  # the last epoch's row is logged

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        self.settle(trainer)
