"""``quiet_lightning``: Lightning's per-fit info lines and the warnings that are the same for
every trial (and say nothing about its architecture) silenced while a trial trains.

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

from lightning_nas.search.shared_state import held_by_first

__all__ = ["quiet_lightning"]

# Noise that is the same for every trial and says nothing about the architecture.
_NOISE = (
    r".*does not have many workers.*",
    r".*LeafSpec.*",
    r".*smaller than the logging interval.*",
)


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
