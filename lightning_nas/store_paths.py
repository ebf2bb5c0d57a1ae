"""Paths a run store keeps so that its run folder may be moved or copied: checkpoints
relative to the run folder, and the folders of settings (``FOLDER_KEYS``: a warm start's
sources) by their absolute paths and their paths relative to the run folder.

Example:
    >>> relative_checkpoint("/runs/a/trials/trial_0001/best.ckpt", "/runs/a")
    'trials/trial_0001/best.ckpt'
    >>> absolute_checkpoint("trials/trial_0001/best.ckpt", "/runs/copy")
    '/runs/copy/trials/trial_0001/best.ckpt'
    >>> relative_folders(["/proj/runs/src"], "/proj/runs/warm")
    ['../src']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["FOLDER_KEYS", "absolute_checkpoint", "relative_checkpoint", "relative_folders",
           "same_folders"]

#: ``fixed`` keys of ``open_search_store`` that hold folders (absolute paths), with the
#: setting that names them: stored with their paths relative to the run folder too
#: (``<key>_relative``), a resume matches each folder by either path
FOLDER_KEYS = {"warm_start_sources": "warm_start"}


def relative_checkpoint(checkpoint: str | None, run_dir: str | Path) -> str | None:
    """A checkpoint inside the run folder as a path relative to it (the folder may be
    moved or copied: the store never points into another one); also one in a folder of it
    linked elsewhere (``trials`` a symlink to another disk: was kept as an absolute path
    out of the folder, whose copy's ``keep_top_k`` removed the original's files)."""
    if checkpoint is None:
        return None
    run = Path(os.path.abspath(run_dir))
    try:
        linked = [entry for entry in run.iterdir() if entry.is_symlink()]
    except OSError:
        linked = []
    paths = (Path(os.path.abspath(checkpoint)), Path(checkpoint).resolve())
    for place in (run, *linked):
        for base in (place, place.resolve()):
            for path in paths:
                if path.is_relative_to(base):
                    return (place.relative_to(run) / path.relative_to(base)).as_posix()
    return checkpoint  # outside the run folder (a Hydra job's): kept as it is


def absolute_checkpoint(stored: str | None, run_dir: str | Path) -> str | None:
    """A stored checkpoint path as an absolute one in the run folder; an absolute path
    of a store written before paths were relative, into its ``trials/trial_N/``, is
    taken in this folder's (a copied run must not remove the original's files)."""
    if stored is None:
        return None
    path = Path(stored)
    parts = path.parts
    if path.is_absolute():
        found = [i for i in range(len(parts) - 1)
                 if parts[i] == "trials" and parts[i + 1].startswith("trial_")]
        if not found:
            return stored
        path = Path(*parts[found[-1]:])
    return str(Path(run_dir).resolve() / path)


def relative_folders(folders: list[str], run_dir: str | Path) -> list[str | None]:
    """Each of ``folders`` (absolute paths) relative to the run folder (None where it has
    no such path: another drive)."""
    out: list[str | None] = []
    for folder in folders:
        try:
            out.append(Path(os.path.relpath(folder, Path(run_dir).resolve())).as_posix())
        except ValueError:
            out.append(None)
    return out


def same_folders(old: Any, relative: Any, new: list[str], new_relative: list[str | None]
                 ) -> bool:
    """Whether the folders stored as ``old`` (absolute paths) and ``relative`` (to the run
    folder; None from an older version) are ``new`` (``new_relative``), in any order: a
    folder matches by either path, so a project moved or copied with its runs resumes, and
    so does a run moved while its sources stayed; the order does not matter, as a resume
    reads the priors in the order its first start stored them (was: refused, "a different
    warm_start", for the same folders in another order).

    Example:
        >>> same_folders(["/p/a", "/p/b"], ["../a", "../b"], ["/q/b", "/q/a"], ["../b", "../a"])
        True
    """
    if not isinstance(old, list) or len(old) != len(new):
        return False
    if not isinstance(relative, list) or len(relative) != len(old):
        relative = [None] * len(old)
    left = list(zip(old, relative, strict=True))
    for now, now_rel in zip(new, new_relative, strict=True):
        match = next((i for i, (was, rel) in enumerate(left)
                      if was == now or (rel is not None and rel == now_rel)), None)
        if match is None:
            return False
        left.pop(match)
    return True
