"""A W&B run a trial's (or the summary's) logger starts in its process, ended as the trial
ends: Lightning's ``WandbLogger`` builds no run of its own while one is in progress in its
process ("There is a wandb run already in progress ... will reuse this run"), and ends none
(its ``finalize`` leaves it), so each later trial of a search process or worker logged into
the first trial's run, whatever id its config node gave it.

Example:
    >>> with runs_ended(None):  # wandb not imported: nothing to end
    ...     pass
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from lightning.pytorch.loggers import WandbLogger

__all__ = ["runs_ended"]


def _run_id() -> str | None:
    """The id of the W&B run in progress in this process (None: none, or wandb never
    imported, which no logger then used)."""
    return getattr(getattr(sys.modules.get("wandb"), "run", None), "id", None)


@contextlib.contextmanager
def runs_ended(given: Any) -> Iterator[None]:
    """End, as the block ends (raising or not), the W&B run started in this process within
    it: the one a trial's logger built from a config node started. A run in progress before
    the block (the user's own, which Lightning's logger reused) is left, and so is the run
    of a ``WandbLogger`` object in ``given`` (the Trainer's ``logger`` setting): each copy
    of the object logs into it (``warn_fixed_versions`` says so), and a copy of a later
    trial would attach to it.

    Example:
        >>> with runs_ended([]):
        ...     pass
    """
    before = _run_id()
    try:
        yield
    finally:
        run = getattr(sys.modules.get("wandb"), "run", None)
        items = given if isinstance(given, (list, tuple)) else [given]
        objects = {item.version for item in items if isinstance(item, WandbLogger)}
        if run is not None and run.id != before and run.id not in objects:
            run.finish()
