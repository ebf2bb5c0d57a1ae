"""The trials of a run, as ``RunStore`` records them (``TrialRecords``): one row per trial
in table ``trials``, written as it starts, restarts, resumes and finishes (its checkpoint
relative to the run folder, its starts counted: ``attempts``), and read back as
``TrialResult`` (``get``, ``trials``, ``count``, ``with_checkpoint``), best first
(``leaderboard``, ``best``) or as the metrics of a Pareto front (``scored_metrics``).

Example:
    >>> import tempfile
    >>> from lightning_nas.store import RunStore
    >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
    >>> tid = store.start_trial({"k": 3})
    >>> store.get(tid).status.value
    'RUNNING'
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_nas.arch import arch_key
from lightning_nas.errors import StoreError
from lightning_nas.results import TrialResult, TrialStatus, leaderboard, objective_run
from lightning_nas.store_json import dump_json, load_numbers
from lightning_nas.store_paths import absolute_checkpoint, relative_checkpoint
from lightning_nas.wording import unknown_status

__all__ = ["TrialRecords"]

_COLUMNS = ("id", "arch", "status", "score", "metrics", "epoch", "started", "finished",
            "fit_time", "checkpoint", "error", "curve", "epochs", "curve_epochs", "ranks")


class TrialRecords:
    """``RunStore``'s trials (table ``trials``), written (``_write``) and read back as
    ``TrialResult`` (its ``_db``, ``path``, ``_col`` and objectives)."""

    _db: sqlite3.Connection
    path: Path

    if TYPE_CHECKING:
        def _col(self, table: str, name: str) -> str:
            """``RunStore._col``."""

        def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
            """``RunStore._write``: every write, while the store holds its folder."""

        def objectives(self) -> dict[str, str] | None:
            """``RunStore.objectives``."""

        def get_meta(self, key: str, default: Any = None) -> Any:
            """``RunStore.get_meta``."""

    def start_trial(self, arch: dict[str, Any]) -> int:
        """Insert a RUNNING trial for ``arch``; return its id."""
        cur = self._write(
            "INSERT INTO trials (arch, arch_key, status, started) VALUES (?, ?, ?, ?)",
            (dump_json(arch), arch_key(arch), TrialStatus.RUNNING.value, time.time()))
        return int(cur.lastrowid)

    def restart_trial(self, trial_id: int, fresh: bool = False) -> None:
        """Mark an interrupted trial RUNNING again with a fresh start time (``fresh``: a
        failed one run again, its earlier runs not counted as attempts)."""
        self._write(
            "UPDATE trials SET status = ?, started = ?, finished = NULL, score = NULL, "
            "attempts = CASE WHEN ? THEN 1 ELSE attempts + 1 END, "
            "metrics = '{}', curve = '[]', epoch = NULL, fit_time = NULL, checkpoint = NULL, "
            "error = NULL, epochs = NULL, curve_epochs = NULL, ranks = NULL "
            "WHERE id = ?", (TrialStatus.RUNNING.value, time.time(), fresh, trial_id))

    def finish_trial(self, result: TrialResult) -> None:
        """Record the outcome of trial ``result.trial_id`` (its own start, when it has one: a
        Hydra batch's jobs start one after the other, after the trial was stored)."""
        score = None if result.score is None or math.isnan(result.score) else result.score
        self._write(
            "UPDATE trials SET status = ?, score = ?, metrics = ?, epoch = ?, finished = ?, "
            "started = COALESCE(?, started), "
            "fit_time = ?, checkpoint = ?, error = ?, curve = ?, epochs = ?, curve_epochs = ?, "
            "ranks = COALESCE(?, ranks) WHERE id = ?",
            (result.status.value, score, dump_json(result.metrics), result.epoch,
             result.finished or time.time(), result.started, result.fit_time,
             relative_checkpoint(result.checkpoint, self.path.parent), result.error,
             dump_json(result.curve),  # strict JSON: NaN as null, inf as 9e999
             result.epochs, dump_json(result.curve_epochs) if result.curve_epochs else None,
             result.ranks, result.trial_id))

    def resume_trial(self, trial_id: int, attempt: bool = False) -> None:
        """Mark a PAUSED trial RUNNING again (promoted: it continues from its checkpoint);
        ``attempt``: a promoted trial interrupted by a crash, started once more (counted)."""
        self._write("UPDATE trials SET status = ?, finished = NULL, "
                    "attempts = attempts + ? WHERE id = ?",
                    (TrialStatus.RUNNING.value, int(attempt), trial_id))

    def set_status(self, trial_id: int, status: TrialStatus) -> None:
        """Change a trial's status only."""
        self._write("UPDATE trials SET status = ? WHERE id = ?", (status.value, trial_id))

    def uncount_attempt(self, trial_id: int) -> None:
        """Take back the count of this start of trial ``trial_id`` (it was interrupted by
        the user, not killed by the trial)."""
        self._write("UPDATE trials SET attempts = MAX(attempts - 1, 0) WHERE id = ?",
                    (trial_id,))

    def started_elsewhere(self, trial_id: int) -> None:
        """Note that trial ``trial_id`` (started, restarted or resumed just now) runs in a
        process of its own (a worker process, a Ray actor): its starts in the search process
        no longer count (``attempts`` 0), since a death of the search process while it runs
        there is not the trial's doing (was: counted, so two kills of a search whose workers
        ran it failed the trial at a resume in the search process)."""
        self._write("UPDATE trials SET attempts = 0 WHERE id = ?", (trial_id,))

    def attempts(self, trial_id: int) -> int:
        """How many times in a row trial ``trial_id`` was started in the search process
        (re-runs after a crash count; a start in a worker process or on Ray resets it)."""
        row = self._db.execute(f"SELECT {self._col('trials', 'attempts')} FROM trials "
                               f"WHERE id = ?", (trial_id,)).fetchone()
        if row is None:
            raise KeyError(f"no trial {trial_id} in {self.path}")
        return int(row[0])

    def clear_checkpoint(self, trial_id: int) -> None:
        """Forget a trial's checkpoint path (its file was removed to save disk)."""
        self._write("UPDATE trials SET checkpoint = NULL WHERE id = ?", (trial_id,))

    def get(self, trial_id: int) -> TrialResult:
        """One trial by id (``KeyError`` if absent)."""
        rows = list(self._select("WHERE id = ?", (trial_id,)))
        if not rows:
            raise KeyError(f"no trial {trial_id} in {self.path}")
        return rows[0]

    def trials(self, status: TrialStatus | None = None) -> list[TrialResult]:
        """All trials in id order, optionally only those with ``status``."""
        if status is None:
            return list(self._select("ORDER BY id"))
        return list(self._select("WHERE status = ? ORDER BY id", (status.value,)))

    def status_counts(self) -> dict[str, int]:
        """The trials of each status as stored, by its name, statuses this version does not
        know too (a store a newer version wrote: ``trials`` cannot read such a row).

        Example:
            >>> import tempfile
            >>> from lightning_nas.store import RunStore
            >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
            >>> _ = store.start_trial({"k": 3})
            >>> store.status_counts()
            {'RUNNING': 1}
        """
        return dict(self._db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status "
                                     "ORDER BY status").fetchall())

    def known_trials(self) -> list[TrialResult]:
        """Every trial of a status this version knows, in id order: what ``show`` and the
        report list of a store a newer version wrote (``trials`` cannot read its other rows;
        ``unknown_statuses`` counts them)."""
        known = tuple(status.value for status in TrialStatus)
        return list(self._select(f"WHERE status IN ({', '.join('?' * len(known))}) "
                                 f"ORDER BY id", known))

    def unknown_statuses(self) -> dict[str, int]:
        """The trials of each status this version does not know (a newer one wrote it), by
        its name as stored; empty for a store this version wrote.

        Example:
            >>> import tempfile
            >>> from lightning_nas.store import RunStore
            >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
            >>> store.unknown_statuses()
            {}
        """
        known = {status.value for status in TrialStatus}
        return {s: n for s, n in self.status_counts().items() if s not in known}

    def __len__(self) -> int:
        """Number of trials of every status."""
        return self._db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]

    def with_checkpoint(self, status: TrialStatus) -> list[TrialResult]:
        """Trials with ``status`` that still have a checkpoint on disk."""
        return list(self._select("WHERE status = ? AND checkpoint IS NOT NULL ORDER BY id",
                                 (status.value,)))

    def count(self, status: TrialStatus) -> int:
        """Number of trials with ``status``."""
        return self._db.execute("SELECT COUNT(*) FROM trials WHERE status = ?",
                                (status.value,)).fetchone()[0]

    def leaderboard(self, mode: str = "max", k: int | None = None) -> list[TrialResult]:
        """COMPLETED trials, best first; ties go by the run's later objectives in order
        (one missing them last), then to the earlier trial. With ``k``, only the trials
        scored at least as well as the ``k``-th best are read (SQL finds its score), and when
        the monitor is the only objective, of those tied with it only the earliest: the ``k``
        best alone (was: every trial tied at a saturated score, read at each call)."""
        if k is not None and int(k) < 0:  # was: board[:-1], all but the worst
            raise ValueError(f"leaderboard k must be None or a count >= 0, got {k!r}")
        where, args = "WHERE status = ? AND score IS NOT NULL", (TrialStatus.COMPLETED.value,)
        order, above = ("DESC", ">") if mode == "max" else ("ASC", "<")
        if k is not None and int(k) > 0:  # ties at the cut are ranked below
            cut = self._db.execute(f"SELECT score FROM trials {where} ORDER BY score {order} "
                                   f"LIMIT 1 OFFSET ?", (*args, int(k) - 1)).fetchone()
            if cut is not None and len(self.objectives() or {}) < 2:
                top = list(self._select(f"{where} AND score {above} ? ORDER BY score {order}, "
                                        f"id", (*args, cut[0])))
                return top + list(self._select(f"{where} AND score = ? ORDER BY id LIMIT ?",
                                               (*args, cut[0], int(k) - len(top))))
            if cut is not None:
                where, args = f"{where} AND score {above}= ?", (*args, cut[0])
        board = leaderboard(self._select(f"{where} ORDER BY id", args), mode,
                            self.objectives())
        return board if k is None else board[:int(k)]

    def scored_metrics(self) -> list[tuple[int, dict[str, float]]]:
        """``(id, metrics)`` of the COMPLETED trials with a score (the leaderboard's), in id
        order: the points of a Pareto front, read without the rest of each row."""
        rows = self._db.execute("SELECT id, metrics FROM trials WHERE status = ? AND score IS "
                                "NOT NULL ORDER BY id", (TrialStatus.COMPLETED.value,))
        return [(tid, load_numbers(metrics or "{}")) for tid, metrics in rows.fetchall()]

    def trial_ranks(self, scored: bool = False) -> dict[int, int]:
        """The ranks each trial ran on (``TrialResult.ranks``), by id, of those that have
        them stored (``scored``: of those with a score alone); one read of two columns.

        Example:
            >>> import tempfile
            >>> from lightning_nas.store import RunStore
            >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
            >>> store.finish_trial(TrialResult(store.start_trial({}), {}, TrialStatus.FAILED,
            ...                                ranks=2))
            >>> store.trial_ranks(), store.trial_ranks(scored=True)
            ({1: 2}, {})
        """
        if self._col("trials", "ranks") != "ranks":  # a store of an older version, as it is
            return {}
        where = " AND score IS NOT NULL" if scored else ""
        return dict(self._db.execute(f"SELECT id, ranks FROM trials WHERE ranks IS NOT NULL"
                                     f"{where}").fetchall())

    def count_scored(self) -> int:
        """Number of COMPLETED trials with a score: the leaderboard's rows, counted without
        reading them."""
        return self._db.execute("SELECT COUNT(*) FROM trials WHERE status = ? AND score IS "
                                "NOT NULL", (TrialStatus.COMPLETED.value,)).fetchone()[0]

    def best(self, mode: str = "max") -> TrialResult | None:
        """The best COMPLETED trial, or None."""
        top = self.leaderboard(mode, k=1)
        return top[0] if top else None

    def _status(self, trial_id: int, stored: str) -> TrialStatus:
        """A row's status; a ``StoreError`` naming the trial for one this version does not
        know (a newer version's; was: ``ValueError: 'STOPPED' is not a valid TrialStatus``)."""
        try:
            return TrialStatus(stored)
        except ValueError:
            raise StoreError(
                f"trial {trial_id} of {self.path} has status {stored!r}, {unknown_status()}: "
                f"read it with the version that wrote it; this one reads the run's other "
                f"trials (`lightning-nas show`)") from None

    def _select(self, where: str, args: tuple = ()) -> Iterator[TrialResult]:
        """The trials that ``where`` (SQL after ``FROM trials``, with ``args``) selects."""
        sql = f"SELECT {', '.join(self._col('trials', c) for c in _COLUMNS)} FROM trials {where}"
        # an objective= search's trials are one call each, of no epoch (an older version
        # stored epoch 0 and the score as a curve of one value, read as of epoch 1)
        untrained = objective_run(self.get_meta("model"))
        for row in self._db.execute(sql, args).fetchall():
            rec = dict(zip(_COLUMNS, row, strict=False))
            yield TrialResult(
                trial_id=rec["id"], arch=json.loads(rec["arch"]),
                status=self._status(rec["id"], rec["status"]),
                score=rec["score"], metrics=load_numbers(rec["metrics"] or "{}"),
                epoch=None if untrained else rec["epoch"], started=rec["started"],
                finished=rec["finished"],
                fit_time=rec["fit_time"], error=rec["error"],
                checkpoint=absolute_checkpoint(rec["checkpoint"], self.path.parent),
                curve=[] if untrained else load_numbers(rec["curve"] or "[]"),
                epochs=rec["epochs"], curve_epochs=json.loads(rec["curve_epochs"] or "[]"),
                ranks=rec["ranks"])
