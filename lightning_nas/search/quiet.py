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
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["quiet_lightning"]

# Noise that is the same for every trial and says nothing about the architecture.
_NOISE = (
    r".*does not have many workers.*",
    r".*LeafSpec.*",
    r".*smaller than the logging interval.*",
)


#: trials quiet now, and what the first found: the loggers' levels and the warning filters
#: (trials in threads overlap: the last to end puts back what the first found)
_HELD: dict[str, Any] = {"count": 0, "levels": ()}
_LOCK = threading.Lock()


@contextmanager
def quiet_lightning(enabled: bool = True) -> Iterator[None]:
    """Silence Lightning's per-fit info lines and repeated warnings while a trial runs; a
    profiler's report (``trainer.profiler: simple``), which the settings ask for, still
    prints. Trials that overlap in threads (a ``ThreadPoolExecutor`` as a search's
    ``executor``) are quiet until the last ends, which puts back the levels and filters the
    first found (was: each put back what it found, so one ending first made the others
    loud, and the last left Lightning's logger at WARNING and the filters in after the
    search)."""
    if not enabled:
        yield
        return
    log, profilers = (logging.getLogger(name) for name in (
        "lightning.pytorch", "lightning.pytorch.profilers"))
    with _LOCK:
        if _HELD["count"] == 0:  # the first: what it finds is put back by the last
            kept = warnings.catch_warnings()  # (its exit may run in another thread)
            kept.__enter__()
            for pattern in _NOISE:
                warnings.filterwarnings("ignore", message=pattern)
            _HELD.update(levels=(log.level, profilers.level), kept=kept)
            log.setLevel(logging.WARNING)
            profilers.setLevel(min(_HELD["levels"][0] or logging.INFO, logging.INFO))
        _HELD["count"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _HELD["count"] -= 1
            if _HELD["count"] == 0:
                log.setLevel(_HELD["levels"][0])
                profilers.setLevel(_HELD["levels"][1])
                _HELD.pop("kept").__exit__(None, None, None)
