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

__all__ = ["quiet_lightning"]

# Noise that is the same for every trial and says nothing about the architecture.
_NOISE = (
    r".*does not have many workers.*",
    r".*LeafSpec.*",
    r".*smaller than the logging interval.*",
)


@contextmanager
def quiet_lightning(enabled: bool = True) -> Iterator[None]:
    """Silence Lightning's per-fit info lines and repeated warnings while a trial runs; a
    profiler's report (``trainer.profiler: simple``), which the settings ask for, still
    prints."""
    if not enabled:
        yield
        return
    log, profilers = (logging.getLogger(name) for name in (
        "lightning.pytorch", "lightning.pytorch.profilers"))
    levels = log.level, profilers.level
    log.setLevel(logging.WARNING)
    profilers.setLevel(min(levels[0] or logging.INFO, logging.INFO))
    try:
        with warnings.catch_warnings():
            for pattern in _NOISE:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        log.setLevel(levels[0])
        profilers.setLevel(levels[1])
