"""The output folder of a new ``lightning-nas fit`` or ``finetune``, and taking back what a
refused one wrote there.

``output_dir`` is ``--out`` where it is new or empty (nothing is deleted), else a free name
at the default (``free_dir``: ``finetune``, ``finetune_1``, ...); ``out_folder`` refuses an
``--out`` holding a fit or fine-tune that stopped before its first training epoch ended
(its ``UNFINISHED`` mark, no ``last.ckpt``) saying so and what to do; ``undo_fit`` takes
back what a fit refused as bad input wrote into its folder. All importable from
``fit_resume`` too.

Example:
    >>> free_dir(Path("no/such/folder")), output_dir(None, Path("no/such/finetune"))
    (PosixPath('no/such/folder'), PosixPath('no/such/finetune'))
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

from lightning_nas.errors import ConfigError
from lightning_nas.run_folder import new_folder, user_path
from lightning_nas.search.fit_segments import NO_CHECKPOINTS, UNFINISHED, unsaved

__all__ = ["free_dir", "out_folder", "output_dir", "undo_fit"]

#: the kind of run an ``UNFINISHED`` mark names (``start_own_fit`` writes it)
_MARKED = re.compile(r"a (fit|fine-tune) started here")


def out_folder(given: str | os.PathLike | None, default: Path, kind: str) -> Path:
    """``output_dir``: the folder a new fit or fine-tune (``kind``) writes into, ``given``
    (``--out``) new or empty, else a free name at ``default``; one that holds a fit or
    fine-tune stopped before its first training epoch ended (its ``UNFINISHED`` mark, no
    ``last.ckpt``) is refused saying so and what to do, not as a folder "not empty".

    Raises:
        ConfigError: for such a folder, and as ``output_dir`` does.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp())
        >>> _ = (out / UNFINISHED).write_text("a fine-tune started here has not completed")
        >>> out_folder(out, Path("runs/no_such_run/finetune"), "fine-tune")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: the output folder ... holds a fine-tune that ...
    """
    out = None if given is None or str(given) == "" else new_folder(given, "`out_dir` (--out)")
    if out is not None and (out / UNFINISHED).is_file() and not (out / "last.ckpt").is_file():
        try:
            marked = _MARKED.match((out / UNFINISHED).read_text())
        except (OSError, UnicodeDecodeError):
            marked = None
        best = " and a best.ckpt of a validation within that epoch" if (
            out / "best.ckpt").is_file() else ""
        why = (f"before it completed ({NO_CHECKPOINTS}; {UNFINISHED}; its logs; nothing to "
               f"resume)" if unsaved(out) else f"before its first training epoch ended "
               f"({UNFINISHED}; its logs{best}; no last.ckpt: nothing to resume)")
        raise ConfigError(f"the output folder {out} holds a {marked.group(1) if marked else kind}"
                          f" that stopped {why}; to train there, "
                          f"remove that folder first (rm -r {shlex.quote(str(out))}); else give "
                          f"another --out, a new or empty folder (nothing is deleted), or leave "
                          f"--out out for a free name at {free_dir(default)}")
    return output_dir(given, default)


def free_dir(path: Path) -> Path:
    """``path``, else the first of ``path_1``, ``path_2``, ... that does not exist.

    Example:
        >>> free_dir(Path("no/such/folder"))
        PosixPath('no/such/folder')
    """
    free, n = path, 0
    while free.exists():
        n += 1
        free = path.with_name(f"{path.name}_{n}")
    return free


def output_dir(given: str | os.PathLike | None, default: Path) -> Path:
    """The folder a fit or fine-tune writes into: ``given``, which must be new or empty
    (nothing is deleted: ``--out RUN_DIR`` wiped the whole search), else a free name at
    ``default`` (``free_dir``).

    Example:
        >>> output_dir(None, Path("no/such/finetune"))
        PosixPath('no/such/finetune')

    Raises:
        ConfigError: for a file, a folder that is not empty, or a path that holds a control
            character (``new_folder``).
    """
    if given is None or str(given) == "":
        return free_dir(default)
    out = new_folder(given, "`out_dir` (--out)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a folder that is not empty" if out.is_dir() else "a file"
        held = (" (it holds an interrupted run's last.ckpt: --ckpt_path last resumes it "
                "there)" if (out / "last.ckpt").is_file() else "")
        raise ConfigError(f"the output folder {out} is {what}{held}; give a new or empty "
                          f"folder (nothing is deleted), or leave it out for a free name at "
                          f"{free_dir(default)}")
    return out


def undo_fit(out_dir: str | os.PathLike) -> Callable[[], None]:
    """What takes back, after a fit refused as bad input (a monitor never logged), what it
    wrote into ``out_dir``, which ``out_folder`` gave new or empty: the folder it is about
    to make is removed with the folders made for it that are still empty, or what it writes
    into the empty folder; nothing else is touched.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "fit" / "net"
        >>> undo = undo_fit(out)
        >>> out.mkdir(parents=True); _ = (out / "metrics.csv").write_text("epoch")
        >>> undo(); out.parent.exists()
        False
    """
    out = user_path(out_dir)
    made = next((folder for folder in reversed((out, *out.parents)) if not folder.exists()),
                None)

    def undo() -> None:
        if made is not None:  # its folder, then the folders made for it while still empty
            shutil.rmtree(out, ignore_errors=True)  # (was: all of ``made``, where other runs
            for folder in out.parents:  # may have written meanwhile: runs/ of a new project)
                if folder == made.parent or not folder.is_dir() or any(folder.iterdir()):
                    break
                folder.rmdir()
            return
        for path in out.iterdir():  # it was empty
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return undo
