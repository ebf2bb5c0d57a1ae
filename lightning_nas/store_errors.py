"""Why a run's ``search.db`` cannot be used, said with its path and what to do: SQLite's
errors on opening it (``unusable_store``: corrupt, not a database, a folder that cannot be
written).

Example:
    >>> print(unusable_store(Path("runs/a/search.db"), sqlite3.DatabaseError(
    ...     "file is not a database"), writing=False))  # doctest: +ELLIPSIS
    runs/a/search.db is not an SQLite database (file is not a database): ...
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from lightning_nas.errors import StoreError

__all__ = ["unusable_store"]

#: what to do with a store that cannot be read
_ANEW = "restore it from a copy of the run folder, or give another run_dir to start anew"


def unusable_store(path: Path, err: sqlite3.Error, writing: bool) -> StoreError:
    """The error for the store ``path`` that SQLite could not open (``err``, its message kept
    in parentheses), ``writing`` or read as it is: it names the file, what is wrong and what
    to do."""
    name, text = getattr(err, "sqlite_errorname", "") or "", str(err)
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        what = (f"is corrupt ({text}): truncated or damaged (a copy cut short, a full disk, "
                f"a crash of the machine); {_ANEW}")
    elif name == "SQLITE_NOTADB" or "not a database" in text:
        what = (f"is not an SQLite database ({text}): another file under that name, or one "
                f"damaged from its start; {_ANEW}")
    elif writing and (name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM"))
                      or "unable to open" in text or "readonly" in text):
        folder = path.parent
        if not os.access(folder, os.W_OK) or path.exists() and not os.access(path, os.W_OK):
            why = f"the folder {folder} cannot be written (a read-only mount, another user's)"
        else:
            why = (f"SQLite cannot create or write it, or {path.name}-wal and {path.name}-shm "
                   f"beside it")
        what = (f"cannot be opened for writing ({text}): {why}; a search writes its trials "
                f"there: copy the run folder where it can be written and resume it there "
                f"(`lightning-nas show` and `report` read it as it is)")
    else:
        what = (f"cannot be {'opened' if writing else 'read'} ({text}); check the file and "
                f"its folder")
    return StoreError(f"{path} {what}")

