"""Lightning callbacks that note what a fit did (its epochs, weights, wall time) or end it
part-way (an exception, Ctrl-C, SIGINT, SIGTERM, SIGKILL), and a scheduler rule that stops
every run.

Example:
    >>> CrashAt(epoch=1).epoch
    1
"""

from __future__ import annotations

import json
import os
import signal
import time

import lightning.pytorch as pl
import torch

from examples.digits.data import DigitsDataModule
from tests.helpers_paths import at_helpers

__all__ = [
    "CountEpochs",
    "CrashAt",
    "CrashAtTrainEnd",
    "CtrlCAtEpoch",
    "CtrlCAtFirstBatch",
    "CtrlCAtSecondTrial",
    "CtrlCAtTrainEnd",
    "EPOCH_LOG",
    "EpochLog",
    "FitSpans",
    "HELD",
    "HOLD_AT",
    "KillAtEpochStart",
    "KillAtTrainEnd",
    "KillBeforeEpochCheckpoint",
    "KillInFinetuneDigits",
    "KillInResumedSearch",
    "NASErrorAt",
    "OutliveTheSearch",
    "SaveInitialWeights",
    "SigintAtFirstBatch",
    "SigtermAtFirstBatch",
    "StopAt",
    "WaitAtStart",
]


@at_helpers
class SaveInitialWeights(pl.Callback):
    """Saves the model's weights when ``fit`` starts (to check what a fine-tune started from)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        torch.save({k: v.clone() for k, v in pl_module.state_dict().items()}, self.path)


@at_helpers
class CountEpochs(pl.Callback):
    """A user's callback with a state of its own: the training epochs it has seen (kept in
    the checkpoint under its ``state_key``)."""

    def __init__(self) -> None:
        self.epochs = 0

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epochs += 1

    def state_dict(self) -> dict[str, int]:
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.epochs = state_dict["epochs"]


#: where a process holds (``hold_at``): ``epoch N`` (``EpochLog``, at epoch N's start, once
#: it noted it), ``resumed`` (``EpochLog``, at the first epoch of a fit resumed from a
#: checkpoint, a promoted trial's next segment, once it wrote ``<trial dir>/HELD``) or
#: ``step N`` (``TinyNet``, at the training step of global step N); unset: nowhere
HOLD_AT = "LIGHTNING_NAS_TEST_HOLD_AT"
#: the file ``EpochLog`` writes in its folder as it holds a resumed fit (``hold_at``'s note)
HELD = "held.json"


def hold_at(where: str, note: str | None = None) -> None:
    """Hold this process (five minutes at most) if ``$LIGHTNING_NAS_TEST_HOLD_AT`` is
    ``where``: a test kills it there, at a moment that waits for the kill (not a window a
    busy machine's pause of the test could miss). With ``note``, first writes that file
    whole (``{"where": ..., "pid": ...}``): what a test waits for when the store does not
    say the process got there.

    Example:
        >>> hold_at("epoch 99")  # not asked for: goes on at once
    """
    if os.environ.get(HOLD_AT) != where:
        return
    if note is not None:  # written whole (renamed into place): a test reads it once it is
        with open(f"{note}.tmp", "w") as f:
            json.dump({"where": where, "pid": os.getpid()}, f)
        os.replace(f"{note}.tmp", note)
    time.sleep(300)


@at_helpers
class EpochLog(pl.Callback):
    """Appends each training epoch's number (with this process id and a token of this
    ``fit`` call) to ``<trial dir>/epochs.jsonl`` and saves the weights it starts from as
    ``w<epoch>.pt``, so a test sees which epochs each segment trained and from what; then
    ``hold_at("epoch <epoch>")``, and in a fit resumed from a checkpoint (``ckpt_path``: a
    promoted trial's next segment, never a first fit) ``hold_at("resumed", <folder>/HELD)``."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        import uuid

        self.fit = uuid.uuid4().hex

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank != 0:
            return
        folder, epoch = trainer.default_root_dir, trainer.current_epoch
        with open(os.path.join(folder, "epochs.jsonl"), "a") as f:
            f.write(json.dumps({"epoch": epoch, "pid": os.getpid(), "fit": self.fit}) + "\n")
        weights = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        torch.save(weights, os.path.join(folder, f"w{epoch}.pt"))
        hold_at(f"epoch {epoch}")  # the last epoch's last.ckpt is in place (PendingLast first)
        if trainer.ckpt_path is not None:  # its first epoch: the segment's training began
            hold_at("resumed", os.path.join(folder, HELD))


#: a Trainer's ``callbacks`` setting of ``EpochLog`` (its class path)
EPOCH_LOG = [{"class_path": "tests.helpers.EpochLog"}]


@at_helpers
class FitSpans(pl.Callback):
    """Appends the wall time of each fit's ``setup`` and ``teardown`` (with this process
    id) to ``<trial dir>/fits.jsonl``, so a test bounds the time each fit of a trial ran."""

    def _note(self, trainer: pl.Trainer, event: str) -> None:
        if trainer.global_rank == 0:
            with open(os.path.join(trainer.default_root_dir, "fits.jsonl"), "a") as f:
                f.write(json.dumps({"event": event, "time": time.time(),
                                    "pid": os.getpid()}) + "\n")

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._note(trainer, "setup")

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._note(trainer, "teardown")


@at_helpers
class CrashAt(pl.Callback):
    """Raises ``RuntimeError`` when training epoch ``epoch`` (counted from 0) starts, or with
    ``batch`` when that batch of it starts: a run that dies part-way, after the checkpoints
    of the epochs (and batches) before it; with ``rank``, on that DDP rank alone."""

    def __init__(self, epoch: int, batch: int | None = None, rank: int | None = None) -> None:
        self.epoch, self.batch, self.rank = epoch, batch, rank

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch and self.batch is None and self._here(trainer):
            raise RuntimeError(f"crash at epoch {self.epoch}")

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: object, batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch and \
                self._here(trainer):
            raise RuntimeError(f"crash at epoch {self.epoch}, batch {self.batch}")

    def _here(self, trainer: pl.Trainer) -> bool:
        return self.rank is None or trainer.global_rank == self.rank


@at_helpers
class NASErrorAt(CrashAt):
    """Raises lightning_nas's ``SearchError`` (a ``NASError``, which the command says in one
    line) when training epoch ``epoch`` starts: a run refused part-way, after the checkpoints
    of the epochs before it."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from lightning_nas.errors import SearchError

        if trainer.current_epoch == self.epoch:
            raise SearchError(f"refused at epoch {self.epoch}")


@at_helpers
class CrashAtTrainEnd(pl.Callback):
    """Raises ``RuntimeError`` when training ends (on every rank): a run that dies after its
    last epoch's checkpoint, before the search's final search (the user's callbacks come
    first)."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        raise RuntimeError("crash at train end")


@at_helpers
class CtrlCAtFirstBatch(pl.Callback):
    """Ctrl-C during training (the ``KeyboardInterrupt`` SIGINT raises in the main thread)."""

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: object, batch_idx: int) -> None:
        raise KeyboardInterrupt


@at_helpers
class CtrlCAtSecondTrial(pl.Callback):
    """Ctrl-C when the second trial of the process starts training (``fits`` counts them:
    set it to 0 before a run)."""

    fits = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        CtrlCAtSecondTrial.fits += 1
        if CtrlCAtSecondTrial.fits == 2:
            raise KeyboardInterrupt


@at_helpers
class CtrlCAtEpoch(pl.Callback):
    """Ctrl-C when training epoch ``epoch`` (counted from 0) starts, after the epochs before
    it were checkpointed."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise KeyboardInterrupt


@at_helpers
class CtrlCAtTrainEnd(pl.Callback):
    """Ctrl-C when training ends, after the last epoch's checkpoint (before a one-shot run's
    final search)."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        raise KeyboardInterrupt


class SigintAtFirstBatch(pl.Callback):
    """Sends this process SIGINT (the user's Ctrl-C) at the first training batch."""

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: object, batch_idx: int) -> None:
        if batch_idx == 0:
            os.kill(os.getpid(), signal.SIGINT)


@at_helpers
class SigtermAtFirstBatch(pl.Callback):
    """Sends this process SIGTERM at the first training batch (as ``timeout`` or a job
    scheduler does)."""

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: object, batch_idx: int) -> None:
        if batch_idx == 0:
            os.kill(os.getpid(), signal.SIGTERM)


@at_helpers
class OutliveTheSearch(pl.Callback):
    """Unties this process from its parent's death as training starts (Linux's
    ``PR_SET_PDEATHSIG`` cleared, as on a platform without it): a worker process that
    outlives a search killed with ``SIGKILL`` and trains its trial to the end."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, 0)  # PR_SET_PDEATHSIG, none


def _kill_once(marker: str) -> None:
    """SIGKILL this process (no handler runs, no file is closed) unless ``marker`` exists,
    which it writes first: the run is killed once, its resume with the same command goes on."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        os.kill(os.getpid(), signal.SIGKILL)


@at_helpers
class KillAtTrainEnd(pl.Callback):
    """Kills this process (SIGKILL, once: ``_kill_once``) when training ends, after the last
    epoch's checkpoint and before the search's final search (the user's callbacks come
    first)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _kill_once(self.marker)


@at_helpers
class KillInFinetuneDigits(DigitsDataModule):
    """The digits data, killing this process (SIGKILL, once: ``_kill_once``) at the first
    batch of a fine-tune (a ``NASModule``'s fit): after the export, before
    ``finetune.json``."""

    def __init__(self, marker: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.marker = marker

    def on_after_batch_transfer(self, batch: object, dataloader_idx: int) -> object:
        from lightning_nas.module import NASModule

        if isinstance(self.trainer.lightning_module, NASModule):
            _kill_once(self.marker)
        return batch


@at_helpers
class KillInResumedSearch(DigitsDataModule):
    """The digits data, killing this process (SIGKILL, once: ``_kill_once``) at the first
    validation batch a search reads in a fit resumed from a checkpoint (``ckpt_path`` set;
    not the sanity check's): in the final search of a run resumed at its training's end,
    which runs when its fit ends, after the command cleared the killed run's outputs and
    before the export writes them again."""

    def __init__(self, marker: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.marker = marker

    def on_after_batch_transfer(self, batch: object, dataloader_idx: int) -> object:
        trainer = self.trainer
        if trainer.ckpt_path is not None and trainer.validating and not trainer.sanity_checking:
            _kill_once(self.marker)
        return batch


@at_helpers
class WaitAtStart(pl.Callback):
    """Writes the file ``ready`` when training starts, then waits (a minute at most) until
    the file ``go`` exists: a run that holds its folder while a test starts another."""

    def __init__(self, ready: str, go: str) -> None:
        self.ready, self.go = ready, go

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        with open(self.ready, "w"):
            pass
        for _ in range(1200):
            if os.path.exists(self.go):
                return
            time.sleep(0.05)


class StopAt:
    """A scheduler rule (duck-typed) that stops every run after ``epoch`` epochs and notes
    which ranks consulted it (``<folder>/rule_calls_rank<LOCAL_RANK>``)."""

    def __init__(self, epoch: int, folder: str) -> None:
        self.epoch, self.folder = epoch, folder

    def decide(self, key, epoch, value):
        from lightning_nas.search.schedulers import Decision

        rank = os.environ.get("LOCAL_RANK", "0")
        with open(os.path.join(self.folder, f"rule_calls_rank{rank}"), "a") as f:
            f.write(f"{epoch}\n")
        return Decision.STOP if epoch >= self.epoch else Decision.CONTINUE


@at_helpers
class KillAtEpochStart(pl.Callback):
    """Kills this process (SIGKILL, once: ``_kill_once``) when training epoch ``epoch``
    (counted from 0) starts: after the checkpoints of the epochs before it."""

    def __init__(self, marker: str, epoch: int) -> None:
        self.marker, self.epoch = marker, epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            _kill_once(self.marker)


@at_helpers
class KillBeforeEpochCheckpoint(pl.callbacks.Checkpoint):
    """Kills this process (SIGKILL, once: ``_kill_once``) at the end of training epoch
    ``epoch`` (counted from 0), after the search's epoch-end hooks and before the run's
    checkpoint of that epoch: Lightning calls checkpoint callbacks last, in their order, and
    the run's own comes after ``trainer.callbacks``. A resume trains that epoch again."""

    def __init__(self, marker: str, epoch: int) -> None:
        self.marker, self.epoch = marker, epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            _kill_once(self.marker)
