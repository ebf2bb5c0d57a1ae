"""A resumed segment's checkpoint callbacks keep their folders: ``keep_checkpoint_dirs``
gives each ``ModelCheckpoint`` of the user's without a ``dirpath`` the one its state in the
trial's ``last.ckpt`` holds (at the same place in a moved or copied run folder), and the
trial's ``TrialCheckpoint`` its best there. ``search/trial_logs.py`` re-exports it (its
earlier import path).

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> keep_checkpoint_dirs(pl.Trainer(logger=False), folder + "/none.ckpt", folder)
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas.search.trial_checkpoint import TrialCheckpoint

__all__ = ["keep_checkpoint_dirs"]


def keep_checkpoint_dirs(trainer: pl.Trainer, ckpt_path: str, run_dir: str | Path,
                         callbacks: list[Any] | None = None) -> None:
    """Restore the trial's ``TrialCheckpoint`` from a state in ``ckpt_path`` written at
    another path of its trial folder (the run folder moved or copied since) as this folder's
    (was: Lightning warned "The dirpath has changed" and forgot its best score, so the first
    validation after a promotion, worse, replaced ``best.ckpt`` of a better epoch).

    Give each ``ModelCheckpoint`` of the user's without a ``dirpath`` of its own the one its
    state in ``ckpt_path`` holds (matched by ``state_key``): a resumed segment logs to a new
    version, from which Lightning would derive another folder, forget the callback's best
    (``best_k_models``) and keep a second top-k there. A file that cannot be read is left
    to ``fit``, which fails the trial naming it. A folder outside ``run_dir`` (the run
    folder was moved or copied since: the state holds its old path, absolute or relative to
    the old working folder) is taken at the same place in ``run_dir`` where that holds it,
    the state's files with it, so Lightning restores its best there (was: a copy wrote into
    the original's folder and its top-k removed the original's files); one that is not
    there is taken where it is when it exists (a ``save_dir`` of the user's), else left to
    Lightning, which derives one in ``run_dir``. ``callbacks``: those to restore (default:
    ``trainer.checkpoint_callbacks``; the module's, once its ``fit`` merged them in)."""
    try:  # the trial's own last.ckpt, written by this search (as _trusted)
        states = torch.load(ckpt_path, map_location="cpu", weights_only=False,
                            mmap=True).get("callbacks") or {}
    except Exception:  # noqa: BLE001 - fit reports an unreadable checkpoint
        return
    for callback in trainer.checkpoint_callbacks if callbacks is None else callbacks:
        state = states.get(getattr(callback, "state_key", None))
        if not (isinstance(callback, ModelCheckpoint) and isinstance(state, dict)
                and state.get("dirpath")):
            continue
        if isinstance(callback, TrialCheckpoint):  # the trial's own, in its trial folder
            old, new = str(state["dirpath"]), str(callback.dirpath)
            if old != new and Path(old).name == Path(new).name:  # moved or copied since
                callback.load_state_dict = functools.partial(  # type: ignore[method-assign]
                    _load_moved, callback.load_state_dict, old, new)
            continue
        if callback.dirpath is not None:  # a folder the user named
            continue
        folder = _run_folder_place(str(state["dirpath"]), Path(run_dir))
        if folder is None:
            continue
        if folder != state["dirpath"]:  # the state's files as this run folder's
            callback.load_state_dict = functools.partial(  # type: ignore[method-assign]
                _load_moved, callback.load_state_dict, str(state["dirpath"]), folder)
        callback.dirpath = folder  # its earlier files: no news
        warnings.filterwarnings("ignore", message=f"Checkpoint directory "
                                f"{re.escape(str(callback.dirpath))} exists")


def _run_folder_place(dirpath: str, run_dir: Path) -> str | None:
    """``dirpath`` where it lies in ``run_dir``, else the folder at the same place in
    ``run_dir`` (the longest trailing part of it there), else ``dirpath`` where it exists
    outside (a folder of the user's), else None."""
    run = Path(os.path.abspath(run_dir))
    if Path(os.path.abspath(dirpath)).is_relative_to(run) and Path(dirpath).is_dir():
        return dirpath
    parts = Path(dirpath).parts
    for start in range(len(parts) - 1):
        if not Path(parts[start]).anchor and (run / Path(*parts[start:])).is_dir():
            return str(run / Path(*parts[start:]))
    return dirpath if Path(dirpath).is_dir() else None


def _load_moved(load: Callable[[dict[str, Any]], None], old: str, new: str,
                state: dict[str, Any]) -> None:
    """``load`` (a ``ModelCheckpoint``'s ``load_state_dict``) of ``state`` with its paths
    in ``old`` moved into ``new``."""
    def moved(path: Any) -> Any:
        inside = isinstance(path, str) and Path(path).parent == Path(old)
        return str(Path(new, Path(path).name)) if inside else path

    state = {key: moved(value) for key, value in state.items()}
    state["dirpath"] = new
    if isinstance(state.get("best_k_models"), dict):
        state["best_k_models"] = {moved(k): v for k, v in state["best_k_models"].items()}
    load(state)
