"""The run folder a command reads (``show``, ``report``, ``export``, ``finetune``, a warm
start's sources), refused with a hint where it is none: a file given in its place
(``check_not_a_file``: ``RUN_DIR/search.db`` names the folder that holds it), a folder that
does not exist (``check_run_folder``, naming the closest one beside it: ``close_folder``),
or a folder that holds runs rather than being one (``runs_within`` names them). Standard
library only.

Example:
    >>> check_run_folder(Path("runs/no_such_run"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: run folder runs/no_such_run does not exist
    >>> runs_within("runs/no_such_run")
    ''
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

__all__ = ["check_not_a_file", "check_run_folder", "close_folder", "runs_within"]


def check_not_a_file(run_dir: Path) -> None:
    """Refuse a file given where a run folder is read (``show``, ``report``, ``export``):
    ``RUN_DIR/search.db``, ``best_arch.yaml`` or any file of a run folder (``best.yaml``,
    ``best.ckpt``: one beside a ``search.db``) names the folder that holds it.

    Example:
        >>> check_not_a_file(Path("runs/no_such_run"))  # a folder, or nothing: not refused

    Raises:
        FileNotFoundError: naming the file, as for a folder without a run (was: "... is not
            a run directory (no search.db)", of search.db itself; and of ``RUN/best.yaml``
            the folder unsaid).
    """
    if run_dir.is_file():
        hint = (f": give the folder that holds it, {run_dir.parent}"
                if run_dir.name in ("search.db", "best_arch.yaml")
                or (run_dir.parent / "search.db").is_file() else "")
        raise FileNotFoundError(f"{run_dir} is a file, not a run folder{hint}")


def close_folder(folder: Path) -> Path | None:
    """The folder beside a missing ``folder`` whose name is closest to its name (a
    misspelt ``runs/digit``: ``runs/digits``), or None.

    Example:
        >>> close_folder(Path("no_such_parent/digit")) is None
        True
    """
    try:
        beside = [p.name for p in folder.parent.iterdir() if p.is_dir()]
    except OSError:  # no parent folder either (or one that cannot be listed)
        return None
    close = difflib.get_close_matches(folder.name, beside, n=1)
    return folder.parent / close[0] if close else None


def runs_within(folder: str | os.PathLike, most: int = 5) -> str:
    """What a folder without a run says of the run folders right under it (a search's
    ``search.db``, a one-shot run's ``best_arch.yaml``): ``"; it holds run folders: runs/a,
    runs/b (give one of them)"``, the first ``most`` by name; "" for none (was: the folder
    that holds a user's runs was said to be no run folder, none of them named).

    Example:
        >>> runs_within("runs/no_such_run")
        ''
    """
    try:
        inside = sorted(p for p in Path(folder).iterdir() if p.is_dir() and (
            (p / "search.db").is_file() or (p / "best_arch.yaml").is_file()))
    except OSError:  # missing, or cannot be listed
        return ""
    if not inside:
        return ""
    more = f" and {len(inside) - most} more" if len(inside) > most else ""
    return (f"; it holds run folders: {', '.join(str(p) for p in inside[:most])}{more} "
            f"(give one of them)")


def check_run_folder(run_dir: Path) -> None:
    """Refuse a run folder that a command reads (``show``, ``report``, ``export``,
    ``finetune``) where it does not exist, or is a file (``check_not_a_file``): said before
    its missing ``search.db`` or ``best_arch.yaml`` is.

    Example:
        >>> check_run_folder(Path("runs/no_such_run"))
        Traceback (most recent call last):
        ...
        FileNotFoundError: run folder runs/no_such_run does not exist

    Raises:
        FileNotFoundError: naming the folder (and the closest one beside it, if any).
    """
    check_not_a_file(run_dir)
    if not run_dir.exists():
        close = close_folder(run_dir)
        raise FileNotFoundError(f"run folder {run_dir} does not exist"
                                + (f"; did you mean {close}?" if close else ""))
