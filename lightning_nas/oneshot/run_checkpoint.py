"""The checkpoint ``lightning-nas oneshot`` writes at each training epoch's end:
``RUN_DIR/checkpoints/last.ckpt``, after the epoch's search, put in place once Lightning
has logged the epoch's training row, by a ``ModelCheckpoint`` whose ``state_key`` is its
own (``RunCheckpoint``). A resume from it is ``oneshot/resume.py``'s. It holds the values the
epoch's ``ReduceLROnPlateau`` schedulers step on after it was written (``PLATEAU_STEPS``),
which a run resumed from it takes as it starts (was: missed: Lightning does not take them on
such a resume, so SPOS went on with another rate than the uninterrupted run's). It also says
whether a callback had stopped the fit after that epoch (``stopped``: an ``EarlyStopping``
before ``max_epochs``), which Lightning does not keep: ``lightning-nas oneshot`` resumes it
as a run at its training's end (``resume.training_end``), so it finishes that run (was:
trained an epoch more than it, until the stopping callback, restored, stopped it again).

Example:
    >>> epoch_end_checkpoint(Path("runs/x")).dirpath.endswith("checkpoints")
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from weakref import proxy

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas.oneshot.fit_end import training_ends
from lightning_nas.search.pending_last import PendingLast
from lightning_nas.search.plateau_steps import PlateauSteps

__all__ = ["RunCheckpoint", "epoch_end_checkpoint", "stopped_in"]


class RunCheckpoint(PlateauSteps, ModelCheckpoint):
    """The run's own epoch-end checkpoint callback (``epoch_end_checkpoint``), under a
    ``state_key`` of its own: a ``ModelCheckpoint`` of ``trainer.callbacks`` without a
    monitor, saving each epoch (what the README advises for a one-shot fit), has the plain
    one's key, so Lightning refused the pair when the Trainer was built (was: "Found more
    than one stateful callback of type `ModelCheckpoint`", a traceback). (A ``last.ckpt`` of
    an earlier version holds this callback's state under the plain key, which a resume
    leaves unread, with Lightning's warning: that state is of no use to it, a monitor-less
    checkpoint of one fixed name.)

    It writes ``last.ckpt`` as ``.last.pending.ckpt``, put in place once Lightning has
    logged the epoch's training row (``search/pending_last.py``, ``placing``: the run gives
    it to the Trainer first; was: a kill between lost that row for good); the loggers
    (``after_save_checkpoint``) are told of it then.

    Lightning steps the epoch's ``ReduceLROnPlateau`` schedulers after the epoch-end hooks
    that write that file, and not on a resume from it: the file holds the values they step
    on (``PLATEAU_STEPS``; DARTS/GDAS step their weights' ones in the module's own hook,
    before it: none), and a fit resumed from it takes those steps as it starts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.placing = PendingLast()
        self._stopped = False

    def state_dict(self) -> dict[str, Any]:
        """Lightning's state, and ``stopped``: whether a callback had stopped the fit after
        the epoch it is saved at (``resume.checkpoint_settings`` reads it)."""
        return {**super().state_dict(), "stopped": self._stopped}

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # the user's callbacks ran this hook before (Lightning calls checkpoints last)
        self._stopped = bool(trainer.should_stop) and training_ends(
            trainer, trainer.current_epoch + 1)
        self._epoch_end = True
        try:
            super().on_train_epoch_end(trainer, pl_module)  # the save, to the pending file
        finally:
            self._epoch_end = False

    @property
    def state_key(self) -> str:
        return f"lightning_nas.{super().state_key}"

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        """Lightning's save, to the pending file; the loggers are told once it is in place
        (``_tell``; was: as it was written, of a ``last.ckpt`` not there yet, or the epoch
        before's, which W&B's ``log_model`` uploaded)."""
        trainer.save_checkpoint(self.placing.writing(trainer, Path(filepath).parent,
                                                     lambda: self._tell(trainer)),
                                self.save_weights_only)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath  # its name once in place

    def _tell(self, trainer: pl.Trainer) -> None:
        """Tell the loggers of the file put in place, as Lightning's save does (rank 0)."""
        for logger in trainer.loggers:
            logger.after_save_checkpoint(proxy(self))

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.placing.put(trainer)  # where ``placing`` is not the Trainer's (it did it first)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self.placing.put(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        self.placing.settle(trainer)
        super().on_exception(trainer, pl_module, exception)


def epoch_end_checkpoint(run_dir: Path) -> RunCheckpoint:
    """The checkpoint callback of a ``lightning-nas oneshot`` run: ``last.ckpt`` in
    ``run_dir/checkpoints``, overwritten at each training epoch's end, after that epoch's
    search (Lightning calls checkpoint callbacks last), so a resume from it goes on exactly;
    put in place once that epoch's training row is logged (give its ``placing`` to the
    Trainer before the other callbacks). Its ``state_key`` is its own
    (``lightning_nas.RunCheckpoint{...}``), so a ``ModelCheckpoint`` of the user's stands
    beside it.

    Example:
        >>> epoch_end_checkpoint(Path("runs/x")).filename
        'last'
        >>> epoch_end_checkpoint(Path("runs/x")).state_key.startswith("lightning_nas.")
        True
    """
    # the one kept checkpoint is named last.ckpt, overwritten (no last-v1.ckpt beside an
    # earlier run's); Lightning's save_last would write it as a second copy of each
    return RunCheckpoint(dirpath=run_dir / "checkpoints", filename="last", save_top_k=1,
                         enable_version_counter=False, save_on_train_epoch_end=True)


def stopped_in(states: Mapping[str, Any]) -> bool:
    """Whether a checkpoint whose callbacks' states are ``states`` was saved by the run's
    own ``RunCheckpoint`` after a callback had stopped the fit (its ``stopped``; read by
    ``resume.checkpoint_settings``); False for any other checkpoint.

    Example:
        >>> stopped_in({"lightning_nas.RunCheckpoint{'every_n_epochs': 1}": {"stopped": True}})
        True
        >>> stopped_in({"ModelCheckpoint{'every_n_epochs': 1}": {"stopped": True}})
        False
    """
    prefix = f"lightning_nas.{RunCheckpoint.__qualname__}{{"  # its state_key, as Lightning
    return any(isinstance(key, str) and key.startswith(prefix)  # forms it
               and isinstance(state, Mapping) and state.get("stopped") is True
               for key, state in states.items())
