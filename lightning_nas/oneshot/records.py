"""The record files of a one-shot search, kept on disk epoch by epoch: SPOS's
``history.json`` (every subnet each search scored, with the epoch of its search) and
DARTS/GDAS's ``alphas.json`` (the logits and probabilities of each epoch).

``write_record`` rewrites such a file whole from the search's state, on rank 0 alone,
beside its place and then moved in (``exported.write_outputs``: no file stands there
half-written), in the bytes the final export writes (``record_text``). The searches call it
at the end of each epoch that adds entries and when the first training epoch of a fit
starts (after ``lightning-nas oneshot`` removed an earlier run's outputs), so a run killed
part-way (SIGKILL, out of memory) keeps the entries of every epoch that ended (was: written
at the run's end alone, so none). A resume restores the state from its checkpoint and
rewrites the file from it: an epoch it trains again (the run was killed after that epoch's
record, before its checkpoint) is recorded once, and the resumed run ends with the file of
the uninterrupted one. A fit resumed from a checkpoint saved mid-epoch has no epoch start
until that epoch ends (Lightning skips its ``on_train_epoch_start``), so the searches
rewrite the file from the checkpoint when its training starts (``restarts_mid_epoch``;
was: the killed run's file stood until the next epoch, with entries of epochs the checkpoint
does not hold, and a resume killed again in that epoch left them), and a fit resumed at its
training's end rewrites it before its final search (``fit_end.end_fit``; was: removed with
the killed run's outputs as that fit ended, and a kill in the final search left none).

Example:
    >>> print(record_text([{"epoch": 1, "score": 0.5}]))
    [
     {
      "epoch": 1,
      "score": 0.5
     }
    ]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightning_nas.oneshot.exported import write_outputs
from lightning_nas.run_folder import user_path

__all__ = ["record_text", "restarts_after_last_batch", "restarts_mid_epoch", "write_record",
           "writes_files"]


def record_text(content: Any) -> str:
    """The text of a record file holding ``content`` (JSON, one space per level)."""
    return json.dumps(content, indent=1)


def writes_files(trainer: pl.Trainer, export_dir: str | Path | None) -> bool:
    """Whether a search writes its files (its record, the export) into ``export_dir``: one is
    set, on rank 0 (``trainer.is_global_zero``), and not under ``fast_dev_run``, Lightning's
    debugging run, which writes no checkpoint and no log (was: a debug fit pointed at a
    finished search's folder replaced its results by a one-batch search's); the results
    stay on the search (``best_arch``, ``subnet``).

    Example:
        >>> writes_files(pl.Trainer(logger=False, fast_dev_run=True), "runs/a")
        False
    """
    return export_dir is not None and trainer.is_global_zero and not trainer.fast_dev_run


def write_record(trainer: pl.Trainer, export_dir: str | Path | None, name: str,
                 content: Any) -> None:
    """Write ``content`` as the record file ``name`` into ``export_dir`` (None: nothing),
    on rank 0 alone, not under ``fast_dev_run`` (``writes_files``), replacing the file at
    once.

    Args:
        trainer: the search's Trainer.
        export_dir: the search's export folder, or None.
        name: ``history.json`` or ``alphas.json``.
        content: what the file holds (``record_text``).
    """
    if not writes_files(trainer, export_dir):
        return
    text = record_text(content)
    write_outputs(user_path(export_dir), {name: lambda path: path.write_text(text)})


def restarts_mid_epoch(trainer: pl.Trainer) -> bool:
    """Whether ``trainer``'s fit resumes from a checkpoint saved mid-epoch (read when its
    training starts): Lightning then skips that epoch's ``on_train_epoch_start``, where a
    search rewrites its record after a resume, so the search writes it in
    ``on_train_start``.

    Example:
        >>> restarts_mid_epoch(pl.Trainer(logger=False))  # not fitting
        False
    """
    return bool(getattr(trainer.fit_loop, "restarted_mid_epoch", False))


def restarts_after_last_batch(trainer: pl.Trainer) -> bool:
    """Whether ``trainer``'s fit resumes from a checkpoint saved mid-epoch after that epoch's
    last batch (read when its training starts): a ``ModelCheckpoint`` saving after the
    validation of the last batch (its default under ``check_val_every_n_epoch`` above 1 or
    ``val_check_interval`` below 1), before the epoch's end hooks, where a search runs. No
    batch of the epoch is left: the resumed fit runs its end alone, which the uninterrupted
    fit ran at the random state the checkpoint holds.

    Example:
        >>> restarts_after_last_batch(pl.Trainer(logger=False))  # not fitting
        False
    """
    if not restarts_mid_epoch(trainer):
        return False
    done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
    return done >= trainer.num_training_batches
