"""A folder per trial under the folders a user names: under a ``default_root_dir`` of the
user's (``placed_root``), under a user's ``ModelCheckpoint``'s ``dirpath``
(``placed_checkpoints``) and under a ``dirpath`` of the Trainer's ``profiler``
(``placed_profiler``), each ``DIR/trials/<label>_trial_0001``; ``checkpoint_folders`` and
``profiler_folder`` name those a trial's config gives it (``trial_logs.clear_trial`` empties
them). ``search/trial_logs.py`` re-exports the ``placed_*`` functions (their earlier import
path).

Example:
    >>> from types import SimpleNamespace
    >>> spec = SimpleNamespace(trainer={"default_root_dir": "out"}, own_logs=False,
    ...                        trial_dir="runs/a/trials/trial_0001", log_label="a-3f9a0c")
    >>> placed_root(spec)
    'out/trials/a-3f9a0c_trial_0001'
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.profilers import Profiler

from lightning_nas.config.nodes import is_node, node_args
from lightning_nas.search.rule_checks import callbacks_of
from lightning_nas.search.trial_checkpoint import TrialCheckpoint

__all__ = ["checkpoint_folders", "placed_checkpoints", "placed_profiler", "placed_root",
           "profiler_folder"]


def placed_root(spec: Any) -> Any:
    """The ``default_root_dir`` of ``spec``'s trial: a ``default_root_dir`` of the user's
    gets a folder per trial under it, ``ROOT/trials/<label>_trial_0001`` (``label``: the
    run's ``log_label``, as under a ``save_dir`` of the user's), so a ``ModelCheckpoint``
    without a ``dirpath`` under ``logger: false`` (or a logger without a ``save_dir``) keeps
    each trial's files apart (was: every trial wrote ``ROOT/checkpoints``, ``best.ckpt``,
    ``best-v1.ckpt``, ... side by side). Unset, or a fit's or fine-tune's (``own_logs``: one
    run), it is returned as given.

    Example:
        >>> from types import SimpleNamespace
        >>> spec = SimpleNamespace(trainer={"default_root_dir": "out"}, own_logs=False,
        ...                        trial_dir="runs/a/trials/trial_0001", log_label="a-3f9a0c")
        >>> placed_root(spec)
        'out/trials/a-3f9a0c_trial_0001'
    """
    root = spec.trainer.get("default_root_dir")
    if root is None or spec.own_logs:
        return root
    return _per_trial(spec, root)


def _per_trial(spec: Any, folder: Any) -> str:
    """The folder of ``spec``'s trial under a ``folder`` of the user's (shared by every trial,
    and by other searches): ``folder/trials/<label>_trial_0001``."""
    trial = Path(spec.trial_dir)
    label = spec.log_label or trial.parent.parent.name
    return f"{str(folder).rstrip('/')}/trials/{label}_{trial.name}"  # a URL's too (s3://)


def placed_checkpoints(spec: Any, callbacks: list[Any]) -> list[str]:
    """Give each ``ModelCheckpoint`` among ``callbacks`` (the trial's own copies of the
    user's, built from ``spec.trainer``) with a ``dirpath`` a folder of the trial's under it,
    ``DIRPATH/trials/<label>_trial_0001``, as ``placed_root`` names one (was: every trial
    wrote into ``dirpath`` itself, Lightning's default file names the same for each, told
    apart only by ``-v1``, ``-v2``, none telling its trial, trials in parallel workers
    writing the one folder). A promoted trial's segments write into the one folder (its
    earlier files there are no news). A fit's or fine-tune's (``own_logs``: one run) are
    left as given, and so is the search's own ``TrialCheckpoint``.

    Returns:
        The folders given.

    Example:
        >>> from types import SimpleNamespace
        >>> spec = SimpleNamespace(own_logs=False, trial_dir="runs/a/trials/trial_0001",
        ...                        log_label="a-3f9a0c", ckpt_path=None)
        >>> mine = ModelCheckpoint(dirpath="memory://ck")  # a URL (s3://) is placed alike
        >>> placed_checkpoints(spec, [mine, ModelCheckpoint()])
        ['memory://ck/trials/a-3f9a0c_trial_0001']
    """
    if spec.own_logs:
        return []
    placed = []
    for callback in callbacks:
        if (isinstance(callback, ModelCheckpoint) and not isinstance(callback, TrialCheckpoint)
                and callback.dirpath is not None):
            callback.dirpath = _per_trial(spec, callback.dirpath)  # setup reads it
            placed.append(callback.dirpath)
            if spec.ckpt_path is not None:  # a promoted trial's: its earlier files
                warnings.filterwarnings("ignore", message=f"Checkpoint directory "
                                        f"{re.escape(str(callback.dirpath))} exists")
    return placed


def placed_profiler(spec: Any, profiler: Any) -> Any:
    """``profiler`` (the trial's own copy of the user's ``trainer.profiler``, built) with a
    ``dirpath`` given a folder of the trial's under it, as ``placed_checkpoints`` gives a
    ``ModelCheckpoint``'s (was: every trial appended its report to ``DIRPATH/fit-FILE.txt``,
    none saying its trial). One without a ``dirpath`` writes into the trial's log folder
    (Lightning's ``log_dir``) or prints its report; a fit's or fine-tune's (``own_logs``)
    and a name (``"simple"``) are returned as given.

    Example:
        >>> from types import SimpleNamespace
        >>> from lightning.pytorch.profilers import SimpleProfiler
        >>> spec = SimpleNamespace(own_logs=False, trial_dir="runs/a/trials/trial_0001",
        ...                        log_label="a-3f9a0c")
        >>> placed_profiler(spec, SimpleProfiler(dirpath="prof", filename="perf")).dirpath
        'prof/trials/a-3f9a0c_trial_0001'
    """
    if (isinstance(profiler, Profiler) and not spec.own_logs
            and getattr(profiler, "dirpath", None) is not None):
        profiler.dirpath = _per_trial(spec, profiler.dirpath)  # its setup keeps a given one
    return profiler


def checkpoint_folders(spec: Any) -> list[str]:
    """The folders ``placed_checkpoints`` gives ``spec``'s trial: one under the ``dirpath``
    of each ``ModelCheckpoint`` (an object or a config node) among its Trainer's callbacks."""
    if spec.own_logs:
        return []
    folders = []
    for _, item in callbacks_of(spec.trainer.get("callbacks"), ModelCheckpoint):
        dirpath = node_args(item).get("dirpath") if is_node(item) else item.dirpath
        if dirpath is not None and not isinstance(item, TrialCheckpoint):
            folders.append(_per_trial(spec, dirpath))
    return folders


def profiler_folder(spec: Any) -> str | None:
    """The folder ``placed_profiler`` gives ``spec``'s trial under the ``dirpath`` of its
    Trainer's ``profiler`` (an object or a config node), or None."""
    item = spec.trainer.get("profiler")
    dirpath = node_args(item).get("dirpath") if is_node(item) else (
        getattr(item, "dirpath", None) if isinstance(item, Profiler) else None)
    return None if dirpath is None or spec.own_logs else _per_trial(spec, dirpath)
