"""The torch threads of each fit of a trial, as ``RunStore`` records them (``FitRecords``):
one row per trial in table ``fits`` (a submit writes that row alone), read from meta
``fit_threads`` (one mapping of every trial) in a store an older version wrote, and as the
run's one count (``trial_threads``, else ``threads_per_trial``) for a trial of a version
older still.

Example:
    >>> import tempfile
    >>> from lightning_nas.store import RunStore
    >>> with RunStore(tempfile.mkdtemp() + "/search.db") as store:
    ...     store.note_fit(1, 2)
    ...     store.note_fit(1, 4, resumed=True)
    ...     store.fits(1), store.fits_recorded(2)
    ([2, 4], False)
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from lightning_nas.store_json import dump_json

__all__ = ["FitRecords"]


class FitRecords:
    """``RunStore``'s record of the torch threads of each fit (its ``_db`` and meta)."""

    _db: sqlite3.Connection
    #: whether the store has table ``fits`` (one read as it is, of an older version: not)
    _fits_table: bool = True

    if TYPE_CHECKING:
        def get_meta(self, key: str, default: Any = None) -> Any:
            """``RunStore.get_meta``."""

        def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
            """``RunStore._write``: every write, while the store holds its folder."""

    def note_fit(self, trial_id: int, threads: int | None, resumed: bool = False) -> None:
        """Record the torch threads a fit of trial ``trial_id`` runs with (None: its
        process's own): a first fit (or a re-run from scratch) anew, a fit resumed from its
        checkpoint (a promotion) after the earlier ones; one row written, whatever the
        trials stored (was: meta ``fit_threads`` of every trial rewritten)."""
        fits = [*(self.fits(trial_id) if resumed else []), threads]
        self._write("INSERT OR REPLACE INTO fits (trial_id, threads) VALUES (?, ?)",
                    (trial_id, dump_json(fits)))

    def _recorded(self, trial_id: int) -> list[int | None] | None:
        """The fits recorded for trial ``trial_id`` (table ``fits``, else an older version's
        meta ``fit_threads``), or None."""
        if self._fits_table:
            row = self._db.execute("SELECT threads FROM fits WHERE trial_id = ?",
                                   (trial_id,)).fetchone()
            if row is not None:
                return json.loads(row[0])
        return (self.get_meta("fit_threads") or {}).get(str(trial_id))

    def fits(self, trial_id: int) -> list[int | None]:
        """The torch threads of each fit of trial ``trial_id`` (the first, then each resume
        from its checkpoint); for a trial an older version ran, which kept one count per
        run, that count (its latest invocation's, else ``threads_per_trial``)."""
        fits = self._recorded(trial_id)
        return fits if fits is not None else [self.get_meta("trial_threads", (
            self.get_meta("settings") or {}).get("threads_per_trial"))]

    def fits_recorded(self, trial_id: int) -> bool:
        """Whether the store recorded each fit of trial ``trial_id`` (not an older version's)."""
        return self._recorded(trial_id) is not None
