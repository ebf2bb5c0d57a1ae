"""A Hydra sweep job's validation seen from inside the job: the ranks it ran on, and a DDP
split they do not divide.

The sweep never sees a job's Trainer: the task function builds it. ``TimedTask`` runs each
job's task inside ``split_check(folder)``, and while it runs, every Lightning ``Trainer``
the task builds (from ``cfg.trainer`` as the lightning-hydra-template does with
``hydra.utils.instantiate(cfg.trainer, callbacks=..., logger=...)``, a ``Trainer``
subclass, or one built in code) gets a ``JobSplitRecorder`` after its callbacks, by
Lightning's own extension point: a callback factory of the entry point group
``lightning.pytorch.callbacks_factory``, which each ``Trainer.__init__`` calls. The job's
config is not touched: the task sees (logs, prints, compares) the config its files say
(was: ``cfg.trainer._target_`` rewritten to ``checked_trainer``).

The factory's entry point is not declared in ``pyproject.toml``: installed so, every
``Trainer`` of every program in the environment would import this module (and Hydra), and a
clone run from ``PYTHONPATH`` alone, or an install made before the entry point existed,
would lack it and the check would stop without a word. ``split_check`` makes it known to
``importlib.metadata`` instead, from a finder on ``sys.meta_path`` (Python's documented way
to add distributions): a distribution ``lightning-nas-split-check`` holding only the entry
point, found while a sweep job runs in this process and context, and nowhere else (a
program that lists the installed distributions meanwhile sees it; Lightning logs
``Adding 1 callbacks from entry point 'lightning_nas_split_check': JobSplitRecorder``).

At each fit's first validation (its sanity check scores nothing, so a fit that never
validated writes nothing) the recorder's rank 0 writes the Trainer's ``world_size``
into ``SPLITS_FILE`` in the job's output folder, and under several processes
(``ddp_spawn``: child processes of the job, so the record goes through a file) what
``uneven_splits`` says; the sweep reads them when the job returns (``job_ranks``,
``job_splits``) and records them as ``lightning-nas search`` records a trial's
(``TrialResult.ranks``, which a limited validation is said to hold on; meta
``uneven_splits``, one warning per sweep, ``best.yaml``'s ``notes``).

Example:
    >>> import lightning.pytorch as pl, tempfile
    >>> with split_check(tempfile.mkdtemp()):
    ...     inside = pl.Trainer(logger=False, enable_progress_bar=False)
    >>> outside = pl.Trainer(logger=False, enable_progress_bar=False)
    >>> [type(c).__name__ for c in inside.callbacks if isinstance(c, JobSplitRecorder)]
    ['JobSplitRecorder']
    >>> any(isinstance(c, JobSplitRecorder) for c in outside.callbacks)
    False
"""

from __future__ import annotations

import importlib.abc
import importlib.metadata
import json
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightning_nas.group_exit import destroy_group_at_exit
from lightning_nas.search.uneven_split import uneven_splits

__all__ = ["DISTRIBUTION", "ENTRY_GROUP", "ENTRY_POINT", "SPLITS_FILE", "JobSplitRecorder",
           "checked_trainer", "clear_splits", "job_callbacks", "job_rank_counts", "job_ranks",
           "job_splits", "split_check"]

#: Lightning's entry point group of callback factories, each called by ``Trainer.__init__``
ENTRY_GROUP = "lightning.pytorch.callbacks_factory"
#: the entry point's name (Lightning's log line names it) and its distribution's
ENTRY_POINT, DISTRIBUTION = "lightning_nas_split_check", "lightning-nas-split-check"
#: written by a job's rank 0 into its output folder: ``{"uneven_splits": [text, ...],
#: "ranks": [world_size, ...]}`` (the ranks of each fit that validated, each once)
SPLITS_FILE = "lightning_nas_splits.json"

#: the output folder of the sweep job running in this context (``split_check``)
_JOB: ContextVar[str | None] = ContextVar("lightning_nas_split_job", default=None)
_LOCK = threading.Lock()


class JobSplitRecorder(pl.Callback):
    """At a fit's first validation (not its sanity check: a fit that fails or is killed
    before it validated has no score, so no count; was: its sanity check wrote one), rank
    0 adds the Trainer's ``world_size`` and, under
    several processes, what ``uneven_splits`` says of the validation loaders
    (``scored="sweep"``; nothing where every split divides) to ``SPLITS_FILE`` in
    ``folder``. It warns of nothing: the sweep says it, once per sweep.

    Args:
        folder: the job's output folder (``hydra.runtime.output_dir``).

    Example:
        >>> JobSplitRecorder("multirun/0").folder
        'multirun/0'
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._looked = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._looked = False  # each fit of the job's Trainer
        # a gloo group nobody destroys may abort its rank at exit (SIGABRT, "terminate
        # called without an active exception", pytorch#190489): the job then failed with
        # ProcessExitedException after its fit had ended (was: about 1 job in 2 here)
        destroy_group_at_exit(backend="gloo")

    def on_validation_epoch_start(self, trainer: pl.Trainer,
                                  pl_module: pl.LightningModule) -> None:
        if self._looked or trainer.sanity_checking:  # (a sanity check scores nothing)
            return
        self._looked = True
        ranks = trainer.world_size  # (a public property: what a limited validation holds on)
        texts = uneven_splits(trainer.val_dataloaders, "sweep", trainer.num_val_batches
                              ) if ranks > 1 else []
        if trainer.is_global_zero:  # only rank 0 writes
            held = _record(self.folder)
            splits = [*held["uneven_splits"], *(t for t in texts if t not in
                                                held["uneven_splits"])]
            seen = [*held["ranks"], *([] if ranks in held["ranks"] else [ranks])]
            try:
                (Path(self.folder) / SPLITS_FILE).write_text(json.dumps(
                    {"uneven_splits": splits, "ranks": seen}))
            except OSError:  # an unwritable job folder: nothing recorded, the job goes on
                pass


def job_callbacks() -> list[pl.Callback]:
    """Lightning's callback factory (entry point ``ENTRY_POINT``): a ``JobSplitRecorder`` of
    the job's output folder while ``split_check`` runs a sweep job in this context; else
    none.

    Example:
        >>> job_callbacks()
        []
    """
    folder = _JOB.get()
    return [] if folder is None else [JobSplitRecorder(folder)]


@contextmanager
def split_check(folder: str | Path) -> Iterator[None]:
    """Run a sweep job's task in it: each Lightning ``Trainer`` built meanwhile, in this
    thread or context, gets a ``JobSplitRecorder`` of ``folder`` (``job_callbacks``); the
    job's config is left as it is.

    Args:
        folder: the job's output folder (``hydra.runtime.output_dir``).

    Example:
        >>> with split_check("multirun/0"):
        ...     [c.folder for c in job_callbacks()]
        ['multirun/0']
    """
    _register()
    token = _JOB.set(str(folder))
    try:
        yield
    finally:
        _JOB.reset(token)


def checked_trainer(*args: Any, **kwargs: Any) -> pl.Trainer:
    """``lightning.pytorch.Trainer(*args, **kwargs)``: the ``_target_`` earlier versions
    gave a checked job's ``trainer`` node, kept for configs a task logged then (inside a
    sweep job ``split_check`` adds the recorder, as to any Trainer).

    Example:
        >>> type(checked_trainer(logger=False, enable_progress_bar=False)).__name__
        'Trainer'
    """
    return pl.Trainer(*args, **kwargs)


class _SplitCheckDistribution(importlib.metadata.Distribution):
    """The distribution that declares ``job_callbacks`` as Lightning's callback factory."""

    _files = {"METADATA": f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: 0\n",
              "entry_points.txt": f"[{ENTRY_GROUP}]\n{ENTRY_POINT} = {__name__}:job_callbacks\n"}

    def read_text(self, filename: str) -> str | None:
        return self._files.get(filename)

    def locate_file(self, path: Any) -> Path:
        return Path(path)  # (no files on disk)


class _SplitCheckFinder(importlib.abc.MetaPathFinder):
    """Finds no module; finds ``_SplitCheckDistribution`` while a sweep job runs in the
    caller's context (``importlib.metadata``'s ``find_distributions`` protocol)."""

    def find_spec(self, *args: Any, **kwargs: Any) -> None:
        return None

    def find_distributions(self, context: Any = None) -> list[importlib.metadata.Distribution]:
        name = getattr(context, "name", None)  # (one distribution asked for: PEP 503's name)
        asked = None if name is None else re.sub(r"[-_.]+", "-", str(name)).lower()
        if _JOB.get() is None or asked not in (None, DISTRIBUTION):
            return []
        return [_SplitCheckDistribution()]


def _register() -> None:
    """Put one ``_SplitCheckFinder`` on ``sys.meta_path`` in this process (at its end)."""
    with _LOCK:
        if not any(isinstance(f, _SplitCheckFinder) for f in sys.meta_path):
            sys.meta_path.append(_SplitCheckFinder())


def clear_splits(folder: str | Path) -> None:
    """Remove an earlier ``SPLITS_FILE`` from ``folder`` (a job folder written before).

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> _ = (Path(folder) / SPLITS_FILE).write_text('{"uneven_splits": ["x"]}')
        >>> job_splits(folder), clear_splits(folder), job_splits(folder)
        (['x'], None, [])
    """
    (Path(folder) / SPLITS_FILE).unlink(missing_ok=True)


def job_splits(folder: str | Path | None) -> list[str]:
    """The uneven splits a job's rank 0 wrote into ``folder`` (none: no file, or not
    readable).

    Example:
        >>> job_splits("/nonexistent")
        []
    """
    return _record(folder)["uneven_splits"]


def job_ranks(folder: str | Path | None) -> int | None:
    """The ranks the fits of a job ran on, as its rank 0 wrote them into ``folder`` (its
    Trainers' ``world_size``); None where not written (no fit validated, a job not run by
    ``TimedTask``) or where its fits ran on different counts (which one scored is not known).

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> _ = (Path(folder) / SPLITS_FILE).write_text('{"uneven_splits": [], "ranks": [2]}')
        >>> job_ranks(folder), job_ranks("/nonexistent")
        (2, None)
    """
    ranks = job_rank_counts(folder)
    return ranks[0] if len(ranks) == 1 else None


def job_rank_counts(folder: str | Path | None) -> list[int]:
    """Each count of ranks the fits of a job ran on, as its rank 0 wrote them into
    ``folder`` (none where not written): the sweep records several (``ranks_record``), which
    ``job_ranks`` gives as None.

    Example:
        >>> job_rank_counts("/nonexistent")
        []
    """
    return _record(folder)["ranks"]


def _record(folder: str | Path | None) -> dict[str, list[Any]]:
    """What a job's rank 0 wrote into ``folder``'s ``SPLITS_FILE``, its lists checked
    (``uneven_splits``: texts, ``ranks``: counts); empty lists where nothing was written, or
    it is not readable (an older version's file holds no ``ranks``)."""
    try:  # (no folder: nothing read; was: a file "None/..." looked for in the working folder)
        written = json.loads((Path(folder) / SPLITS_FILE).read_text()) if folder else {}
    except Exception:  # noqa: BLE001 - not written: the job met none (or was not checked)
        written = {}
    written = written if isinstance(written, dict) else {}
    texts, ranks = written.get("uneven_splits"), written.get("ranks")
    return {"uneven_splits": [str(t) for t in texts] if isinstance(texts, list) else [],
            "ranks": [r for r in ranks if type(r) is int and r > 0]
            if isinstance(ranks, list) else []}
