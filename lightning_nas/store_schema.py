"""The tables of a run store (``search.db``) and the columns added since the first release,
which ``RunStore`` adds to a store an older version wrote (``migrate``), or reads as their
defaults in one read as it is (``absent_columns``).

Example:
    >>> import sqlite3
    >>> db = sqlite3.connect(":memory:")
    >>> _ = db.executescript(SCHEMA)
    >>> sorted(row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    ['events', 'fits', 'meta', 'priors', 'trials']
"""

from __future__ import annotations

import sqlite3

__all__ = ["ADDED_COLUMNS", "SCHEMA", "absent_columns", "migrate"]

#: the tables: ``meta`` (settings, space, seed, versions), ``trials`` (one row per trial),
#: ``priors`` (results a warm start imported, with where each came from), ``fits`` (the
#: torch threads of each fit of a trial, ``store_fits``; a store of an older version gains
#: it when opened for writing), ``events`` (the optimizer's asks and tells, in order)
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    arch TEXT NOT NULL,
    arch_key TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    epoch INTEGER,
    started REAL,
    finished REAL,
    fit_time REAL,
    checkpoint TEXT,
    error TEXT,
    curve TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 1,
    epochs INTEGER
);
CREATE INDEX IF NOT EXISTS trials_arch_key ON trials (arch_key);
-- the leaderboard's k-th score and the trials holding a checkpoint, found without a scan
CREATE INDEX IF NOT EXISTS trials_score ON trials (status, score);
CREATE INDEX IF NOT EXISTS trials_checkpoint ON trials (status) WHERE checkpoint IS NOT NULL;
CREATE TABLE IF NOT EXISTS priors (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    source_trial INTEGER NOT NULL,
    task TEXT NOT NULL,
    arch TEXT NOT NULL,
    score REAL,
    loss REAL NOT NULL,
    losses TEXT
);
CREATE TABLE IF NOT EXISTS fits (trial_id INTEGER PRIMARY KEY, threads TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    ask INTEGER NOT NULL,
    trial_id INTEGER,
    arch_key TEXT,
    loss TEXT,
    violation REAL
);
"""

#: columns added after the first release, per table, with their declarations (for
#: ``ALTER TABLE``)
ADDED_COLUMNS = {"trials": {"curve": "TEXT NOT NULL DEFAULT '[]'",
                            "attempts": "INTEGER NOT NULL DEFAULT 1", "epochs": "INTEGER"},
                 "priors": {"losses": "TEXT"}}


def absent_columns(db: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """The columns of ``ADDED_COLUMNS`` that the store ``db`` lacks, per table, with their
    declarations."""
    absent: dict[str, dict[str, str]] = {}
    for table, added in ADDED_COLUMNS.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        absent[table] = {name: decl for name, decl in added.items() if name not in have}
    return absent


def migrate(db: sqlite3.Connection) -> None:
    """Add the columns that a store written by an older version lacks."""
    for table, absent in absent_columns(db).items():
        for name, decl in absent.items():
            db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
