"""What a DDP trial, or a worker process's, trained before it failed, where its rank 0 (the
worker) wrote no result: rank 0 keeps
``progress.json`` beside the trial's spec (the epochs trained, the monitored value at each
validation so far and their epochs), rewritten as each epoch starts and as each validation
ends; the driver reads it (``progress_file``) into the FAILED result it makes (``runner``),
as a trial of one process that failed records its epochs and curve (``trial.fit_trial``).

A rank that raises leaves rank 0 waiting in a collective, killed once the group's grace
time is over: no ``result.json`` (was: such a record said ``epochs`` None and no curve,
whatever the trial trained).

Example:
    >>> RankProgress("trials/trial_0001", reporter).path.name  # doctest: +SKIP
    'progress.json'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import lightning.pytorch as pl

from lightning_nas.search.progress_file import PROGRESS

if TYPE_CHECKING:
    from lightning_nas.search.callbacks import TrialReporter

__all__ = ["RankProgress"]


class RankProgress(pl.Callback):
    """Rank 0 of a DDP trial writes what it trained so far into ``trial_dir/progress.json``:
    ``epochs`` (``trainer.current_epoch``, what ``fit_trial`` records when the fit ends
    there), ``curve`` and ``curve_epochs`` (``reporter``'s).

    Args:
        trial_dir: the trial's folder.
        reporter: the trial's ``TrialReporter`` (its validations so far).
    """

    def __init__(self, trial_dir: str | Path, reporter: TrialReporter) -> None:
        self.path, self.reporter = Path(trial_dir) / PROGRESS, reporter

    def _write(self, trainer: pl.Trainer) -> None:
        if not trainer.is_global_zero:
            return
        data = {"epochs": trainer.current_epoch, "curve": self.reporter.curve(),
                "curve_epochs": self.reporter.curve_epochs()}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)  # whole or not there: rank 0 may be killed any time

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule
                             ) -> None:
        self._write(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._write(trainer)
