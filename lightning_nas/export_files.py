"""How an export writes its files into a run folder: each one beside its place first
(``staged``), then moved in with ``best.yaml`` last (``move_in``), so that a ``best.yaml``
on disk always describes the ``best.ckpt`` beside it; and which ``best.ckpt`` an export
keeps when the trial's own checkpoint is gone (``kept_checkpoint``).

Example:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> move_in(run, [staged(run / "best.yaml", "trial: 1\\n")], keep_checkpoint=False)
    >>> (run / "best.yaml").read_text(), kept_checkpoint(run, 1, {}, None)
    ('trial: 1\\n', False)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["EXPORT_FILES", "discard_staged", "kept_checkpoint", "move_in", "staged"]

#: the files an export writes into the run folder, ``best.yaml`` (moved in last) last
EXPORT_FILES = ("best.ckpt", "best_config.yaml", "best.yaml")


def staged(path: Path, text: str = "", source: Path | None = None) -> tuple[Path, Path]:
    """``text`` (or a copy of ``source``) written beside ``path``; ``(that file, path)``."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    if source is not None:
        shutil.copyfile(source, tmp)
    else:
        tmp.write_text(text)
    return tmp, path


def discard_staged(run_dir: Path) -> None:
    """Remove the files an export staged in ``run_dir`` (no checkpoint-sized copy is left
    on a full disk)."""
    for name in EXPORT_FILES:
        if (run_dir / f"{name}.tmp").is_file():
            (run_dir / f"{name}.tmp").unlink()


def kept_checkpoint(run_dir: Path, trial_id: int, arch: Mapping[str, Any],
                    score: float | None) -> bool:
    """Whether ``run_dir/best.ckpt`` is trial ``trial_id``'s, by the ``best.yaml`` beside it
    (moved in last by every export: it describes that file): it names the same trial,
    architecture and score, and ``checkpoint: best.ckpt``. An export of a trial whose own
    checkpoint is gone (``trials/`` removed to free disk, a folder copied with
    ``search.db`` and ``best.*`` only) keeps it; another trial's it removes."""
    if not (run_dir / "best.ckpt").is_file() or not (run_dir / "best.yaml").is_file():
        return False
    try:
        earlier = yaml.safe_load((run_dir / "best.yaml").read_text())
    except (OSError, yaml.YAMLError):  # unreadable: it proves nothing
        return False
    return (isinstance(earlier, dict) and earlier.get("checkpoint") == "best.ckpt"
            and earlier.get("trial") == trial_id and earlier.get("arch") == dict(arch)
            and earlier.get("score") == score)


def move_in(run_dir: Path, files: list[tuple[Path, Path]], keep_checkpoint: bool) -> None:
    """Move the ``staged`` ``files`` to their places, ``best.yaml`` (the last of them)
    last; an earlier ``best.yaml`` goes first and, unless ``keep_checkpoint`` (the
    exported trial's own, ``kept_checkpoint``), an earlier ``best.ckpt``: it is another
    trial's."""
    (run_dir / "best.yaml").unlink(missing_ok=True)
    if not keep_checkpoint:
        (run_dir / "best.ckpt").unlink(missing_ok=True)
    for tmp, path in files:
        os.replace(tmp, path)
