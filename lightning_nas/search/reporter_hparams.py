"""What ``TrialReporter`` (``search.callbacks``) logs to the Trainer's loggers: its mixin
``ReporterHparams``.

As the fit starts, the architecture, ``search_monitor`` and ``search_trial`` as
hyperparameters, before Lightning's (``on_fit_start``); at the end of training (or at the
end of a fit resumed from its last epoch's checkpoint, which trains nothing) the trial's
score as ``search_score`` and ``hp_metric`` (MLflow: a metric; TensorBoard: an HParams
session); ``hp_metric`` NaN, no score, for a fit that raised, whose monitor or an objective
was NaN or infinite, or that ``failing`` fails.

Example:
    >>> from lightning_nas.search.callbacks import TrialReporter
    >>> TrialReporter("val_acc", arch={"width": 8}, trial_id=3)._searched()
    {'width': 8, 'search_monitor': 'val_acc', 'search_trial': 3}
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger

from lightning_nas.arch import flatten_arch
from lightning_nas.search.monitor_errors import check_monitor_logged, not_finite_at

__all__ = ["ReporterHparams"]


class ReporterHparams:
    """The hyperparameters and score ``TrialReporter`` logs (see the module docstring), for
    the callback that sets the attributes below and completes its entries
    (``ReporterEpochs._complete``).

    Attributes:
        monitor: the metric that scores the trial.
        arch: the trial's architecture.
        trial_id: the trial's id in its search, or None (not logged).
        failing: asked at the end of training: the error of a trial FAILED all the same.
    """

    monitor: str
    arch: dict[str, Any]
    trial_id: int | None
    failing: Callable[[pl.Trainer], str | None] | None
    logged: tuple[str, ...]
    history: list[dict[str, Any]]
    _hparams_logged: bool
    _ended: bool
    _val_keys: set[str]

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Log the architecture, ``search_monitor`` and ``search_trial`` beside the
        hyperparameters Lightning logs right after this hook, so they are the run's first:
        TensorBoard's HParams view keeps a run's first hyperparameters (was: Lightning's
        alone, the module's; one that saved none showed no searched key). The score follows
        at the end of training."""
        self._ended = False
        if trainer.is_global_zero and trainer.loggers:
            params = {**_lightning_hparams(trainer, pl_module), **self._searched()}
            for logger in trainer.loggers:
                logger.log_hyperparams(params)
            self._hparams_logged = True

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        """A fit that failed after its start logs ``hp_metric`` NaN, no score (was: the -1
        that TensorBoardLogger logs with the hyperparameters stayed, in the HParams view the
        best of a ``min`` search); an interrupted one (Ctrl-C), which runs again, does not."""
        if isinstance(exception, Exception):
            self._log_failed(trainer)

    def _log_failed(self, trainer: pl.Trainer) -> None:
        """Log ``hp_metric`` NaN, no score, to the loggers the fit's start logged to."""
        if self._hparams_logged:
            for logger in trainer.loggers:
                logger.log_metrics({"hp_metric": math.nan}, step=trainer.global_step)

    def _searched(self) -> dict[str, Any]:
        """The hyperparameters the search logs: the architecture, ``search_monitor`` and
        ``search_trial`` (where a trial's)."""
        trial = {} if self.trial_id is None else {"search_trial": self.trial_id}
        return {**flatten_arch(self.arch), "search_monitor": self.monitor, **trial}


    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A fit resumed from a checkpoint of its last epoch (its process killed as the fit
        ended, before its result was stored) trains nothing, and Lightning skips its end of
        training: the score is logged here as ``on_train_end`` logs it (was: the killed
        fit's ``hp_metric`` row, unwritten, missing from its logs)."""
        if not self._ended and trainer.fit_loop.done and self.history:
            self.on_train_end(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._ended = True
        self._complete(trainer)
        check_monitor_logged(self.monitor, self.history, self._val_keys)
        best = self.best()
        if best is None or not_finite_at(self.monitor, self.logged, self.history) or (
                self.failing is not None and self.failing(trainer)):
            self._log_failed(trainer)  # FAILED: NaN (was: a NaN monitor's -1 placeholder
            return  # stayed, a NaN objective's trial logged the monitor's best as its score)
        if not trainer.is_global_zero:
            return
        score = best["metrics"][self.monitor]
        # prefixed: a module's own ``score`` / ``monitor`` hyperparameters (the metric its
        # scheduler watches) stay what it saved in the logger's hparams
        params = {**self._searched(), "search_score": score}
        for logger in trainer.loggers:
            if isinstance(logger, MLFlowLogger):  # a param never changes in MLflow: the
                # score, a metric there, the latest its trial's (was: a promoted segment,
                # going on in its trial's run, failed logging its score over its pause's)
                logger.log_hyperparams({k: v for k, v in params.items() if k != "search_score"})
                logger.log_metrics({"search_score": score}, step=trainer.global_step)
            elif isinstance(logger, TensorBoardLogger):  # with its score: an HParams session
                # also where default_hp_metric=False wrote none (was: none), the module's too
                logger.log_hyperparams({**_lightning_hparams(trainer, pl_module), **params},
                                       {"hp_metric": score})
            else:
                logger.log_hyperparams(params)
            logger.log_metrics({"hp_metric": score}, step=trainer.global_step)


def _lightning_hparams(trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
    """The hyperparameters Lightning logs as a fit starts: the module's and the
    DataModule's saved ones (each unless saved with ``logger=False``), without
    LightningCLI's ``_class_path``.

    Example:
        >>> _lightning_hparams(pl.Trainer(logger=False), pl.LightningModule())
        {}
    """
    held = [holder for holder in (pl_module, trainer.datamodule) if holder is not None
            and getattr(holder, "_log_hyperparams", False)]  # save_hyperparameters(logger=)
    merged = {key: value for holder in held for key, value in holder.hparams_initial.items()}
    return {key: value for key, value in merged.items() if key != "_class_path"}
