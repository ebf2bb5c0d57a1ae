"""Folders and files the user names: ``user_path`` expands a leading ``~`` (``~/nas/digits``,
``~user/runs``) as the shell and Lightning's callbacks and loggers do, so a run's own files
and the Lightning files of its trials land in one folder.

Every setting, argument and command-line value that takes a path goes through it: a
search's ``run_dir`` and ``warm_start`` folders, a one-shot run's ``run_dir``, its
``--ckpt_path`` and ``export_dir``, a Hydra sweep's ``run_dir``, config, space and table
files, and the folders ``show``, ``report``, ``export``, ``finetune`` and ``fit`` read and
write.

Example:
    >>> import os
    >>> user_path("~/nas/digits") == Path(os.path.expanduser("~")) / "nas" / "digits"
    True
    >>> user_path("runs/a")
    PosixPath('runs/a')
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["user_path"]


def user_path(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` with a leading ``~`` or ``~user`` expanded (a literal ``~``
    folder in the current one is written ``./~``)."""
    return Path(path).expanduser()
