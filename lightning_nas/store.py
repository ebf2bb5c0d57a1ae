"""The run store: one SQLite file (``search.db``) per run directory.

It holds the run's settings, space, seed and package versions (table ``meta``), one
row per trial (table ``trials``, ``store_trials``), the results of earlier runs a warm
start imported, with where each came from (table ``priors``), the torch threads of each
fit (table ``fits``, ``store_fits``) and every ask and tell of the optimizer in order
(table ``events``: a resumed search replays them, so it goes on exactly as if it had not
stopped). The search driver is its only writer, and every state change is committed at
once (autocommit, WAL journal, ``synchronous=NORMAL``), so a ``kill -9`` at any moment
loses at most the trial that was running. The functions below open a run's store: to
search (``open_search_store``, its checks on the file as it is: ``check_as_it_is``) or
to read (``open_run``).

Example:
    >>> import tempfile
    >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
    >>> store.set_meta("monitor", "val_acc")
    >>> store.get_meta("monitor")
    'val_acc'
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from lightning_nas.errors import StoreError
from lightning_nas.folder_lookup import check_run_folder, runs_within
from lightning_nas.lock_probe import lost_hold, process_gone, this_process
from lightning_nas.run_folder import LOCK_FILE, hold_folder, user_path
from lightning_nas.store_checks import (
    check_same_search,
    check_search_folder,
    unfinished_oneshot,
)
from lightning_nas.store_errors import check_lockable, unusable_store, unwritable_store
from lightning_nas.store_fits import FitRecords
from lightning_nas.store_json import dump_json, load_numbers, numbers, strict_json
from lightning_nas.store_paths import FOLDER_KEYS, relative_folders
from lightning_nas.store_schema import SCHEMA, absent_columns, migrate
from lightning_nas.store_trials import TrialRecords

__all__ = ["OBJECTIVES_UP_FRONT", "RunStore", "check_as_it_is", "check_same_search", "open_run",
           "open_search_store"]

#: what to do once the process holding a run folder is gone (``hold_folder``'s message)
_RESUMES = "the same command then resumes the search"
#: meta key (``true``) of a run begun by a version that tells its optimizer how many
#: objectives there are before its first ask (``SearchLoop``); a run an older version began
#: lacks it, and nevergrad learns the number at its first tell there, as it did: its resume
#: replays the choices the run made
OBJECTIVES_UP_FRONT = "objectives_up_front"


class RunStore(TrialRecords, FitRecords):
    """SQLite store of one search run (its trials: ``TrialRecords``; the torch threads of
    each fit: ``FitRecords``).

    Args:
        path: the database file; created (with its folder) if missing.
        read_only: read the file as it is: nothing created or migrated (columns an older
            version lacked read as their defaults; its bare ``NaN`` and ``Infinity`` not
            respelled: ``store_schema.migrate``)."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only  # (a write then is the caller's mistake, not the disk's)
        self._held: IO[str] | None = None  # the run folder's lock file, while held
        #: "table.column" -> its SQL default, for columns of ADDED_COLUMNS that a store of an
        #: older version read as it is (read-only: not migrated) lacks
        self._absent: dict[str, str] = {}
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._open(read_only)
        except sqlite3.Error as err:  # was: SQLite's words alone, naming no file
            if hasattr(self, "_db"):
                self._db.close()
            raise unusable_store(self.path, err, writing=not read_only) from err

    def _open(self, read_only: bool) -> None:
        """Connect (``read_only``: to the file as it is), and create or migrate the tables."""
        if read_only:  # WAL read while a process has it open (its -wal beside it) where the
            # folder lets it, else the file as it is: no -wal or -shm is created beside it
            uri, wal = self.path.resolve().as_uri(), Path(f"{self.path}-wal").exists()
            if Path(f"{self.path}-wal").is_file() and not Path(f"{self.path}-shm").exists():
                # open nowhere (a run copied with its -wal): read from a copy (was: its
                # -shm made beside it, by mode=ro)
                self._db = _read_copy(self.path)
            else:
                try:
                    self._db = sqlite3.connect(f"{uri}?{'mode=ro' if wal else 'immutable=1'}",
                                               uri=True, isolation_level=None)
                    self._db.execute("SELECT 1 FROM meta LIMIT 1")
                except sqlite3.OperationalError:
                    self._db = sqlite3.connect(f"{uri}?immutable=1", uri=True,
                                               isolation_level=None)
            self._absent = {f"{table}.{name}": decl.partition(" DEFAULT ")[2] or "NULL"
                            for table, absent in absent_columns(self._db).items()
                            for name, decl in absent.items()}
            self._fits_table = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = "
                                                "'table' AND name = 'fits'").fetchone() is not None
            return
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: every commit survives the process being killed (kill -9); only an
        # OS crash or power loss can lose the last commits
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        migrate(self._db)  # the columns a store of an older version lacks, its JSON respelled

    def _col(self, table: str, name: str) -> str:
        """What to select for column ``name`` of ``table``: its default where this store
        lacks it."""
        return self._absent.get(f"{table}.{name}", name)

    def check_held(self) -> None:
        """Refuse (``StoreError``) where this store held its run folder
        (``open_search_store(hold=True)``) and holds it no longer (``lock_probe.lost_hold``:
        its ``search.lock`` removed, or naming another holder): a search that comes back
        late (frozen, cut off from a network file system) writes nothing over the newer
        run's store or its ``best.*`` (was: written over them). Every write of the store
        asks it (``_write``), and so does a search's own export. A ``StoreError``, not a
        ``SearchError``: the search stops at once, storing and exporting nothing (a
        ``SearchError`` is a stop that stores the trials out and exports the best so far;
        was: taken as one, a trial never submitted left running, an ``IndexError``)."""
        if self._held is None:
            return
        why = lost_hold(self._held, self.path.parent / LOCK_FILE)
        if why is not None:
            raise StoreError(
                f"{self.path.parent} is no longer held by this search ({this_process()}): "
                f"its {LOCK_FILE} {why} (another search or export may hold the folder now, "
                f"and write there); this one writes nothing more there. Stop it; once "
                f"nothing runs on the folder, the same command resumes the search from what "
                f"its store holds")

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        """Execute the write ``sql`` (``args``) while this store holds its folder
        (``check_held``); one the disk refuses is a ``StoreError`` naming the file
        (``unwritable_store``; was: SQLite's "database or disk is full" alone)."""
        self.check_held()
        with self._refused():
            return self._db.execute(sql, args)

    def _write_many(self, sql: str, rows: list[tuple]) -> None:
        """``_write`` of ``sql`` for each of ``rows``."""
        self.check_held()
        with self._refused():
            self._db.executemany(sql, rows)

    @contextmanager
    def _refused(self) -> Iterator[None]:
        """Raise a write the disk refuses as ``unwritable_store``'s ``StoreError``."""
        try:
            yield
        except sqlite3.OperationalError as err:
            said = None if self.read_only else unwritable_store(self.path, err)
            if said is None:  # (a store opened read-only: SQLite's error as it is)
                raise
            raise said from err

    def close(self) -> None:
        """Close the connection (and let go of the run folder, if this store held it)."""
        self._db.close()
        if self._held is not None:
            self._held.close()  # closing the file releases its lock
            self._held = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- meta
    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under ``key`` (mappings keep their order: the
        first of several objectives is the primary one)."""
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         (key, dump_json(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def objectives(self) -> dict[str, str] | None:
        """The stored objectives (meta ``objectives``), the monitor first: the earliest
        versions stored them sorted by name (was: a 2-objective run of those showed its
        monitor twice and could not be resumed)."""
        spec, monitor = self.get_meta("objectives"), self.get_meta("monitor")
        if isinstance(spec, dict) and monitor in spec and next(iter(spec)) != monitor:
            spec = {monitor: spec[monitor], **{k: v for k, v in spec.items() if k != monitor}}
        return spec

    # ----------------------------------------------------------------- driver
    def set_driver(self) -> None:
        """Record this process as the search's driver (``driver_gone`` asks about it)."""
        self.set_meta("driver", {"pid": os.getpid(), "host": socket.gethostname()})

    def driver_gone(self) -> bool:
        """Whether the process that last drove this search ran on this machine and is no
        longer alive (its RUNNING trials are not running: a resume takes them on again)."""
        driver = self.get_meta("driver")
        return bool(driver) and process_gone(driver.get("pid"), driver.get("host"))

    # ----------------------------------------------------------------- warm start
    def add_priors(self, rows: list[dict[str, Any]], report: Any) -> None:
        """Store imported results of earlier runs and the import's ``report`` (meta
        ``warm_start``) in one transaction: a kill leaves all of them or none.

        Args:
            rows: ``{"source", "source_trial", "task", "arch", "score", "loss"}`` each,
                and ``"losses"`` (one per objective) with several objectives.
            report: what was imported and skipped (JSON data).
        """
        with self.transaction():
            self._write_many(
                "INSERT INTO priors (source, source_trial, task, arch, score, loss, losses) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r["source"], r["source_trial"], r["task"], dump_json(r["arch"]), r["score"],
                  r["loss"], dump_json(r.get("losses"))) for r in rows])
            self.set_meta("warm_start", report)

    def priors(self) -> list[dict[str, Any]]:
        """The imported results of earlier runs, in import order (``losses``: None with a
        single objective)."""
        cols = ("source", "source_trial", "task", "arch", "score", "loss", "losses")
        rows = self._db.execute(f"SELECT {', '.join(self._col('priors', c) for c in cols)} "
                                f"FROM priors ORDER BY id").fetchall()
        losses = [None if row[6] is None else json.loads(row[6]) for row in rows]
        return [{**dict(zip(cols, row, strict=True)), "arch": json.loads(row[3]),
                 "losses": None if lost is None else numbers(lost)}  # 'null': none
                for row, lost in zip(rows, losses, strict=True)]

    # ----------------------------------------------------------------- optimizer events
    def log_events(self, events: list[dict[str, Any]]) -> None:
        """Append optimizer events (``kind`` ask/tell, ``ask`` number, ``trial_id``,
        ``arch_key``, ``loss``, ``violation``) in one transaction."""
        with self.transaction():
            self._write_many(
                "INSERT INTO events (kind, ask, trial_id, arch_key, loss, violation) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(e["kind"], e["ask"], e.get("trial_id"), e.get("arch_key"),
                  None if e.get("loss") is None else dump_json(e["loss"]), e.get("violation"))
                 for e in events])

    def events(self) -> list[dict[str, Any]]:
        """Every optimizer event, in order; its ``arch_key`` as ``arch_key`` writes it now:
        an older version's, with bare ``Infinity`` or ``NaN``, in strict JSON
        (``strict_json``; a store opened for writing was respelled so already,
        ``store_schema.respell``, one read as it is was not), so that the keys it logged
        match those of the architectures proposed."""
        cols = ("kind", "ask", "trial_id", "arch_key", "loss", "violation")
        rows = self._db.execute(f"SELECT {', '.join(cols)} FROM events ORDER BY seq").fetchall()
        return [{**dict(zip(cols, row, strict=True)),
                 "arch_key": None if row[3] is None else strict_json(row[3]),
                 "loss": None if row[4] is None else load_numbers(row[4])} for row in rows]

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read as of one moment: every read inside sees the store as the first of them saw
        it, whatever a live search commits meanwhile (SQLite's read transaction: the
        search's writes go on; inside a transaction, that one's). ``show`` and ``report``
        read in one, so their counts add up and the best they name is their leaderboard's
        first (was: each read at its own moment, a trial that finished between two reads
        counted in two statuses).

        Example:
            >>> import tempfile
            >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
            >>> with store.snapshot():
            ...     len(store)
            0
        """
        with self.transaction():  # (one that reads alone: it ends the snapshot, writes none)
            yield

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit the writes inside together: a kill leaves all of them or none (inside
        another transaction: part of that one)."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        with self._refused():
            self._db.execute("COMMIT")


def open_search_store(run_dir: str | Path, fixed: Mapping[str, Any],
                      run_dir_key: str = "run_dir", hold: bool = False,
                      check: Callable[[RunStore], None] | None = None) -> RunStore:
    """Open (or start) the store of a search in ``run_dir``. ``fixed`` holds what a run must
    keep across resumes (space, monitor, mode, objectives): a new store records it, an
    existing one must hold the same, or nothing is written and ``ConfigError`` says which
    differs. A new store also gets its ``log_label`` (``nas-3f9a0c``: the folder's name and
    6 random hex digits), which names its trials' logger versions under a user's
    ``save_dir``; a resume, or a moved or copied folder, keeps it; and
    ``OBJECTIVES_UP_FRONT``, which a store an older version began lacks.

    Args:
        run_dir: the run folder.
        fixed: meta keys and the values this invocation has.
        run_dir_key: how the user names the run folder (for the message).
        hold: hold the folder (``hold_folder``: a second search on it meanwhile is refused)
            before ``search.db`` is made or read.
        check: refuses (``ConfigError``) what else an existing store holds against this
            invocation (its settings: ``check_resume``); called, as the ``fixed`` check is,
            on ``search.db`` as it is, before anything is written or migrated.
    """
    run_dir = user_path(run_dir)
    new = check_search_folder(run_dir, run_dir_key)
    check_lockable(run_dir)  # a file system that takes no lock: said before any file
    held = hold_folder(run_dir, _RESUMES) if hold else None  # before search.db (was: after)
    try:
        if not new:
            check_as_it_is(run_dir, fixed, run_dir_key, check)
        store = RunStore(run_dir / "search.db")
    except BaseException:
        if held is not None:
            held.close()
        raise
    store._held = held
    if store.get_meta("space") is None and store.get_meta("monitor") is None:
        store.set_meta("created", time.time())
        # a logger's versions under a save_dir other searches share: this run's alone
        store.set_meta("log_label", f"{run_dir.resolve().name}-{secrets.token_hex(3)}")
        store.set_meta(OBJECTIVES_UP_FRONT, True)
        for key, value in fixed.items():
            store.set_meta(key, value)
            if key in FOLDER_KEYS:
                store.set_meta(f"{key}_relative", relative_folders(value, run_dir))
        return store
    check_same_search(store, run_dir, fixed, run_dir_key)
    return store


def _read_copy(path: Path) -> sqlite3.Connection:
    """An in-memory copy of the store at ``path`` with what its ``-wal`` holds, where no
    process has it open (no ``-shm`` beside it): SQLite would make a ``-shm`` to read its
    ``-wal`` in place, so the two files are read in a temporary folder, which is removed."""
    with tempfile.TemporaryDirectory(prefix="lightning_nas_read_") as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        shutil.copyfile(f"{path}-wal", f"{copy}-wal")
        source = sqlite3.connect(copy, isolation_level=None)
        memory = sqlite3.connect(":memory:", isolation_level=None)
        try:
            source.backup(memory)
        except BaseException:
            memory.close()
            raise
        finally:
            source.close()
    return memory


def check_as_it_is(run_dir: Path, fixed: Mapping[str, Any], run_dir_key: str = "run_dir",
                   check: Callable[[RunStore], None] | None = None) -> None:
    """``check_same_search``, then ``check`` (a resume's settings), on the existing
    ``search.db`` read as it is, not migrated: a refused resume writes nothing (was: an
    older version's store was migrated first, and still when its settings were refused)."""
    with RunStore(run_dir / "search.db", read_only=True) as store:
        try:
            empty = store.get_meta("space") is None and store.get_meta("monitor") is None
        except sqlite3.OperationalError:  # no table yet: a new store
            empty = True
        if not empty:
            check_same_search(store, run_dir, fixed, run_dir_key)
            if check is not None:
                check(store)
    if empty:  # a new search after all: the folder's checks of one (was: none)
        check_search_folder(run_dir, run_dir_key, no_search=True)


def open_run(run_dir: str | Path) -> RunStore:
    """The store of an existing run directory, read as it is: nothing is created or
    migrated (``show``, ``report``, an export or a warm start write nothing into it).

    Raises:
        FileNotFoundError: when ``run_dir`` does not exist, holds no ``search.db`` or is
            a file (``check_run_folder``).
    """
    db = user_path(run_dir) / "search.db"
    check_run_folder(db.parent)  # was: a missing folder said "(no search.db)"
    if not db.exists() and (db.parent / "best_arch.yaml").is_file():
        raise FileNotFoundError(
            f"{run_dir} is a one-shot run folder, not a search run (no search.db): its export "
            f"is there already (subnet.pt, the winner in best_arch.yaml; subnet_finetuned.pt "
            f"with oneshot.finetune_epochs, or finetune_subnet(torch.load("
            f"{str(db.parent / 'subnet.pt')!r}, weights_only=False), ...)); "
            f"`lightning-nas show` and `report` read it")  # was: 'subnet.pt', of the cwd
    unfinished = unfinished_oneshot(db.parent, str(run_dir))
    if unfinished:  # was: "not a run directory (no search.db)", where show names the run
        raise FileNotFoundError(unfinished)
    if not db.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no search.db)"
                                f"{runs_within(db.parent)}")
    # was: opened to write where it could (set WAL, migrated an older version's tables)
    store = RunStore(db, read_only=True)
    try:
        empty = store.get_meta("space") is None and store.get_meta("monitor") is None
    except sqlite3.OperationalError:  # no table yet: a search is making them (not read here)
        empty = True
    if empty:
        store.close()
        raise FileNotFoundError(f"{run_dir} is not a run directory (its search.db holds no "
                                f"search)")
    return store
