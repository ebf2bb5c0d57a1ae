"""``quiet_lightning``: Lightning's per-fit info lines and the warnings that are the same for
every trial (and say nothing about its architecture) silenced while a trial trains.
``LoggingInterval`` says one of them once a process instead, as its first trial starts
training: ``log_every_n_steps`` above an epoch's training batches, which the user's logs
show (training steps missing from them), where no other line would.

Example:
    >>> import logging
    >>> with quiet_lightning():
    ...     logging.getLogger("lightning.pytorch").level == logging.WARNING
    True
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import lightning.pytorch as pl
from lightning.pytorch.utilities.warnings import PossibleUserWarning

from lightning_nas.search.shared_state import held_by_first
from lightning_nas.user_warnings import warn_rank_zero

__all__ = ["LoggingInterval", "quiet_lightning"]

# Noise that is the same for every trial and says nothing about the architecture.
_NOISE = (
    r".*does not have many workers.*",
    r".*LeafSpec.*",
)
#: Lightning's (its modules'), said once a process by ``LoggingInterval`` instead
_ONCE = (r".*smaller than the logging interval.*",)


def _loggers() -> tuple[logging.Logger, logging.Logger]:
    return logging.getLogger("lightning.pytorch"), logging.getLogger(
        "lightning.pytorch.profilers")


def _silence() -> tuple[int, int, warnings.catch_warnings]:
    """Make Lightning quiet; what it found: the loggers' levels and the warning filters
    (a ``catch_warnings`` entered here, whose exit may run in another thread)."""
    log, profilers = _loggers()
    levels = log.level, profilers.level
    kept = warnings.catch_warnings()
    kept.__enter__()
    for pattern in _NOISE:
        warnings.filterwarnings("ignore", message=pattern)
    for pattern in _ONCE:
        warnings.filterwarnings("ignore", message=pattern, module=r"lightning\.pytorch\.")
    log.setLevel(logging.WARNING)
    profilers.setLevel(min(levels[0] or logging.INFO, logging.INFO))
    return levels[0], levels[1], kept


def _put_back(found: tuple[int, int, warnings.catch_warnings]) -> None:
    log, profilers = _loggers()
    log.setLevel(found[0])
    profilers.setLevel(found[1])
    found[2].__exit__(None, None, None)


@contextmanager
def quiet_lightning(enabled: bool = True) -> Iterator[None]:
    """Silence Lightning's per-fit info lines and repeated warnings while a trial runs; a
    profiler's report (``trainer.profiler: simple``), which the settings ask for, still
    prints. Trials that overlap in threads (a ``ThreadPoolExecutor`` as a search's
    ``executor``) are quiet until the last ends, which puts back the levels and filters the
    first found (``shared_state.held_by_first``; was: each put back what it found, so one
    ending first made the others loud, and the last left Lightning's logger at WARNING and
    the filters in after the search)."""
    if not enabled:
        yield
        return
    with held_by_first("quiet lightning", _silence, _put_back):
        yield


class LoggingInterval(pl.Callback):
    """Lightning's warning that ``log_every_n_steps`` is above an epoch's training batches
    (Lightning's own condition and text), said once a process by the first trial, fit or
    fine-tune it holds for as its training starts, on rank 0: ``quiet_lightning``
    silences Lightning's, which every trial would say again (was: never said, so a
    search's logs lacked the training steps without a word).

    Example:
        >>> LoggingInterval().state_key
        'LoggingInterval'
    """

    #: whether this process said it (the same advice for every trial: once)
    said: ClassVar[bool] = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        batches, interval = trainer.num_training_batches, trainer.log_every_n_steps
        if (LoggingInterval.said or not trainer.loggers or batches >= interval
                or trainer.fast_dev_run):
            return
        LoggingInterval.said = True
        warn_rank_zero(f"The number of training batches ({batches}) is smaller than the "
                       f"logging interval Trainer(log_every_n_steps={interval}). Set a lower "
                       "value for log_every_n_steps if you want to see logs for the training "
                       "epoch.", PossibleUserWarning)
