"""The trial's ``best.ckpt``: ``TrialCheckpoint``, a ``ModelCheckpoint`` on the search's
monitor beside any of the user's (also ``lightning-nas fit``'s and ``finetune``'s).

A validation tied with the kept one on the monitor that a value training logs per epoch
decides (a ``tie_break`` objective such as ``train_loss``) waits for the epoch's end; where
training batches follow that validation within its epoch (``val_check_interval`` below 1),
the weights it validated are held in ``.tie.ckpt`` beside ``best.ckpt`` before the next
batch trains, and become ``best.ckpt`` if the tie is broken in their favour (was: the
weights of the epoch's end were saved, batches after the validation whose score was kept).

``last.ckpt`` of an epoch is written in its epoch-end hooks, before Lightning logs the
epoch's training row: it is written as ``.last.pending.ckpt`` and put in its place once
that row is logged (the next epoch's start, the fit's end; ``search/pending_last.py``), so a
kill in between resumes from the epoch before and trains the epoch again (was: from that
epoch's end, its row of training metrics lost for good). Its ``PendingLast`` (``placing``)
is given to the Trainer first (``trial.build_trainer``), so the file is in place before
any other callback's ``on_train_epoch_start`` or ``on_train_end`` (Lightning runs the
checkpoint callbacks' hooks last: was: a kill in a user's epoch-start hook resumed from the
epoch before); this callback's own calls stand in where it is not (a second does nothing).

The epoch's ``ReduceLROnPlateau`` steps come after the epoch-end hooks that write that
``last.ckpt``, and Lightning does not take them on a resume from it: the file holds the
values they step on (``PLATEAU_STEPS``), and a fit resumed from it takes those steps as it
starts (was: missed, so a killed trial continued with another rate than an uninterrupted
one's).

Example:
    >>> ckpt = TrialCheckpoint(dirpath="t1", filename="best", monitor="val_acc")
    >>> ckpt.state_key.startswith("lightning_nas.TrialCheckpoint{'monitor': 'val_acc'")
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import proxy

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas.search.best_epoch import best_entry, breaks_tie
from lightning_nas.search.pending_last import LAST_PENDING, PendingLast
from lightning_nas.search.plateau_steps import PlateauSteps

if TYPE_CHECKING:
    from lightning_nas.search.callbacks import TrialReporter

__all__ = ["FIT_RECORD", "KILL_LEFTOVERS", "TIE_FILE", "TrialCheckpoint"]

#: the weights of a validation whose tie waits for its epoch's end, where batches follow it
TIE_FILE = ".tie.ckpt"

#: what a kill may leave beside a trial's checkpoints: removed as its next fit starts or
#: once it stops (``fit_segments.start_own_fit``, ``checkpoints.drop_checkpoints``)
KILL_LEFTOVERS = (TIE_FILE, LAST_PENDING)

#: the checkpoint key of a fit's or fine-tune's settings (``fit_resume.fit_record``)
FIT_RECORD = "lightning_nas_fit"

class TrialCheckpoint(PlateauSteps, ModelCheckpoint):
    """The trial's ``ModelCheckpoint`` (``best.ckpt`` on the search's monitor), under a
    state key of its own: Lightning keys a checkpoint callback's state by its monitor and
    mode, so a user's ``ModelCheckpoint(monitor="val_acc", mode="max")`` would otherwise
    collide with it ("Found more than one stateful callback") and fail every trial.

    A trial's is made with ``save_on_train_epoch_end=False``: ``best.ckpt`` is chosen when
    validation ends, on the value the reporter stores (a name training logs too holds
    training's epoch mean at the epoch's end); the callbacks' states it holds are of that
    moment, before the epoch's ``on_train_epoch_end`` hooks, which a resume from it runs
    (Lightning's loops there: the epoch's end not yet run). ``keep_last`` writes
    ``last.ckpt`` at the end of every training epoch, after ``best.ckpt`` (so it holds this
    callback's up-to-date best), and again when the fit ends (``last_at_end``): a paused
    trial resumes after the epoch it stopped at. Without ``last_at_end`` (a search's trial
    that no scheduler pauses: stored as its fit ends, its ``last.ckpt`` removed then) the
    last epoch's file, put in place as the fit ends, stays: a resume after a kill before the
    trial was stored goes on from it and trains nothing (was: written again, one more save
    of every trial); one is written then only where no epoch of this fit ended. Lightning's own
    ``save_last`` writes it only when a top-k checkpoint is saved at the same step (2.6):
    it lagged behind an epoch that did not improve. Lightning steps the epoch's
    ``ReduceLROnPlateau`` schedulers after the epoch-end hooks, and not on a resume from a
    checkpoint written in them: the file written at the fit's end holds that step, so a
    promoted trial trains on with the schedulers, rate and optimizer of an uninterrupted
    run; the epoch-end one, for a crash, holds the values those steps take (``PLATEAU_STEPS``),
    and a fit resumed from it takes them as it starts. With the trial's ``reporter`` it
    completes the epoch's entry first (this hook runs after the module's
    ``on_train_epoch_end``), so a checkpoint's history holds the epoch's training metrics too,
    and a validation whose
    entry holds no monitored value (it did not log it) is not a candidate for ``best.ckpt``
    (Lightning's own refuses a validation without the monitor, or takes an earlier one's).
    Every validation the reporter scores is a candidate, also one at the global step of the
    last save or at step 0, which Lightning's skips: with ``accumulate_grad_batches`` and
    several validations an epoch, one within an optimizer step (BatchNorm's statistics
    changed since) could be the stored best while ``best.ckpt`` held another. A validation
    tied with the kept one on the monitor replaces it where it is better on the reporter's
    ``tie_break`` (the later objectives, in order: the reporter's best epoch is the same);
    one that needs a value training logs per epoch is decided at the epoch's end, with the
    weights it validated: where batches follow it in its epoch (``val_check_interval``
    below 1), those held in ``TIE_FILE`` before the next batch trained.
    The epoch-end ``last.ckpt`` is written as ``LAST_PENDING`` and put in place when the
    next epoch starts (or the fit ends, or an error or interrupt stops it after Lightning
    logged the epoch's training row): Lightning logs that row after the epoch-end hooks,
    and a resume from that epoch's end would never log it. ``placing`` (its
    ``PendingLast``) is given to the Trainer before the other callbacks, so it does so
    before their hooks; this callback's own calls are the fallback.

    Example:
        >>> ckpt = TrialCheckpoint(dirpath="t1", filename="best", monitor="val_acc")
        >>> ckpt.state_key.startswith("lightning_nas.TrialCheckpoint{'monitor': 'val_acc'")
        True
    """

    def __init__(self, *args: Any, keep_last: bool = False, last_at_end: bool = True,
                 reporter: TrialReporter | None = None,
                 record: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keep_last, self.reporter, self.record = keep_last, reporter, record
        self.last_at_end = last_at_end
        self._epoch_wrote = False  # an epoch of this fit ended: its last.ckpt written
        self._undecided: dict[str, Any] | None = None  # a tie that waits for the epoch's end
        self._held: Path | None = None  # its validated weights, where batches followed it
        self._taking: Path | None = None  # the held file that the next save puts in place
        #: the epoch-end last.ckpt, until its row is logged; the trial gives it to the
        #: Trainer before the other callbacks (``build_trainer``), its own calls a fallback
        self.placing = PendingLast()

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        if self.record is not None:  # a fit's or fine-tune's settings: checked on resume
            checkpoint[FIT_RECORD] = self.record
        super().on_save_checkpoint(trainer, pl_module, checkpoint)  # (the plateau steps)


    @property
    def state_key(self) -> str:
        return f"lightning_nas.{super().state_key}"

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        history = self.reporter.history if self.reporter is not None else []
        if trainer.sanity_checking or not history or self.monitor in history[-1]["metrics"]:
            # Lightning skips a validation at the global step it last saved at, or at step
            # 0 ("no steps were taken"); the reporter scores every validation, and with
            # accumulate_grad_batches two within one optimizer step differ (BatchNorm's
            # statistics): each is a candidate, as the top-k check alone decides
            saved, self._last_global_step_saved = self._last_global_step_saved, -1
            super().on_validation_end(trainer, pl_module)
            if self._last_global_step_saved == -1:  # none saved: as Lightning left it
                self._last_global_step_saved = saved

    def check_monitor_top_k(self, trainer: pl.Trainer, current: torch.Tensor | None = None
                            ) -> bool:
        """Lightning's top-k check, and a tie with the kept one on the monitor that the
        reporter's ``tie_break`` breaks in the new validation's favour."""
        if super().check_monitor_top_k(trainer, current):
            return True
        reporter = self.reporter
        if (reporter is None or not reporter.tie_break or current is None
                or self.best_model_score is None or not reporter.history
                or float(current) != float(self.best_model_score)):
            return False
        entry = reporter.history[-1]
        wins = breaks_tie(entry, best_entry(reporter.history[:-1], reporter.monitor,
                                            reporter.mode, reporter.tie_break),
                          reporter.tie_break)
        if wins is None:  # a value training logs per epoch: decided at the epoch's end
            self._drop_held(trainer)  # an earlier validation's weights, if any
            self._undecided, wins = entry, False
        return bool(trainer.strategy.reduce_boolean_decision(wins))

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        """Hold the weights of a validation whose tie waits for the epoch's end before this
        batch trains them (a validation before its epoch's last batch)."""
        if self._undecided is not None and self._held is None:
            self._held = Path(str(self.dirpath)) / TIE_FILE
            trainer.save_checkpoint(self._held, self.save_weights_only)

    def _drop_held(self, trainer: pl.Trainer) -> None:
        """Remove the held weights of a tie that was decided (rank 0's file)."""
        held, self._held = self._held, None
        if held is not None and trainer.is_global_zero:
            held.unlink(missing_ok=True)

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        """Lightning's save, or, for a tie decided with weights held, the held file put in
        its place (the validated weights, not those trained since)."""
        held, self._taking = self._taking, None
        if held is None:
            super()._save_checkpoint(trainer, filepath)
            return
        if trainer.is_global_zero:
            os.replace(held, filepath)
        trainer.strategy.barrier("TrialCheckpoint.tie")
        self._last_global_step_saved, self._last_checkpoint_saved = trainer.global_step, filepath
        if trainer.is_global_zero:  # as Lightning's save tells them (a logger uploading it)
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))

    def _decide_tie(self, trainer: pl.Trainer) -> None:
        """Save the validation whose tie waited for the epoch's training metrics where,
        with them, it breaks the tie (the weights it validated: those held where batches
        trained since)."""
        entry, self._undecided = self._undecided, None
        reporter = self.reporter
        try:
            if entry is None or reporter is None or reporter.history[-1] is not entry:
                return
            earlier = best_entry(reporter.history[:-1], reporter.monitor, reporter.mode,
                                 reporter.tie_break)
            if trainer.strategy.reduce_boolean_decision(
                    bool(breaks_tie(entry, earlier, reporter.tie_break))):
                candidates = self._monitor_candidates(trainer)
                current = torch.tensor(entry["metrics"][self.monitor])
                self._taking, self._held = self._held, None
                self._update_best_and_save(current, trainer,
                                           {**candidates, self.monitor: current})
        finally:
            self._taking = None
            self._drop_held(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        self._drop_held(trainer)
        self.placing.settle(trainer)  # in place once the epoch's row is logged, else dropped
        super().on_exception(trainer, pl_module, exception)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.placing.put(trainer)  # where ``placing`` is not the Trainer's (it did it first)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.reporter is not None:
            self.reporter._complete(trainer)
        self._decide_tie(trainer)
        super().on_train_epoch_end(trainer, pl_module)
        self._epoch_end = True
        try:
            self._save_last(trainer)  # put in place once the epoch's training row is logged
            self._epoch_wrote = True
        finally:
            self._epoch_end = False

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if self.reporter is not None:
            self.reporter._complete(trainer)
        self._decide_tie(trainer)
        if self.last_at_end or not self._epoch_wrote:  # (else the last epoch's: in place)
            self._save_last(trainer)  # after the loop stepped the last epoch's schedulers
        self.placing.put(trainer)  # and logged the last epoch's row

    def _save_last(self, trainer: pl.Trainer) -> None:
        """Write ``last.ckpt`` with ``keep_last`` as ``LAST_PENDING`` (on every rank:
        Lightning's rank 0 writes), put in place by ``PendingLast.put``."""
        if self.keep_last and not trainer.fast_dev_run:
            trainer.save_checkpoint(self.placing.writing(trainer, str(self.dirpath)))


