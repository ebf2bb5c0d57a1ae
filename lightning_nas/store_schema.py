"""The tables of a run store (``search.db``) and the columns added since the first release,
which ``RunStore`` adds to a store an older version wrote.

Example:
    >>> import sqlite3
    >>> db = sqlite3.connect(":memory:")
    >>> _ = db.executescript(SCHEMA)
    >>> sorted(row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    ['events', 'meta', 'priors', 'trials']
"""

from __future__ import annotations

__all__ = ["ADDED_COLUMNS", "SCHEMA"]

#: the tables: ``meta`` (settings, space, seed, versions), ``trials`` (one row per trial),
#: ``priors`` (results a warm start imported, with where each came from), ``events`` (the
#: optimizer's asks and tells, in order)
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
