"""The tables of a run store (``search.db``) and the columns added since the first release,
which ``RunStore`` adds to a store an older version wrote (``migrate``), or reads as their
defaults in one read as it is (``absent_columns``). ``migrate`` also respells the JSON an
older version wrote with Python's bare ``NaN`` and ``Infinity`` as this version writes it
(``respell``); a store read as it is keeps its spelling.

Example:
    >>> import sqlite3
    >>> db = sqlite3.connect(":memory:")
    >>> _ = db.executescript(SCHEMA)
    >>> sorted(row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    ['events', 'fits', 'meta', 'priors', 'trials']
"""

from __future__ import annotations

import sqlite3

from lightning_nas.store_json import strict_json

__all__ = ["ADDED_COLUMNS", "JSON_COLUMNS", "SCHEMA", "absent_columns", "migrate", "respell"]

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
    epochs INTEGER,
    curve_epochs TEXT,
    ranks INTEGER
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
                            "attempts": "INTEGER NOT NULL DEFAULT 1", "epochs": "INTEGER",
                            # the epoch of each value of curve (NULL: an older version's row,
                            # one value per epoch from epoch 1)
                            "curve_epochs": "TEXT",
                            # the ranks its Trainer ran on (NULL: not known, an older
                            # version's row)
                            "ranks": "INTEGER"},
                 "priors": {"losses": "TEXT"}}


#: the columns holding JSON, per table (``store_json``: strict JSON as this version writes
#: it); the other TEXT columns hold plain text
JSON_COLUMNS = {"meta": ("value",),
                "trials": ("arch", "arch_key", "metrics", "curve", "curve_epochs"),
                "priors": ("arch", "losses"), "fits": ("threads",),
                "events": ("arch_key", "loss")}


def absent_columns(db: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """The columns of ``ADDED_COLUMNS`` that the store ``db`` lacks, per table, with their
    declarations."""
    absent: dict[str, dict[str, str]] = {}
    for table, added in ADDED_COLUMNS.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        absent[table] = {name: decl for name, decl in added.items() if name not in have}
    return absent


def migrate(db: sqlite3.Connection) -> None:
    """Add the columns that a store written by an older version lacks, and respell its JSON
    (``respell``), in one transaction: a kill or an error leaves the store as it was.

    Example:
        >>> db = sqlite3.connect(":memory:", isolation_level=None)
        >>> _ = db.executescript(SCHEMA)
        >>> _ = db.execute("INSERT INTO events (kind, ask, arch_key) VALUES "
        ...                "('ask', 0, '{\\"clip\\":Infinity}')")  # an older version's key
        >>> migrate(db)
        >>> db.execute("SELECT arch_key FROM events").fetchone()[0]
        '{"clip":9e999}'
    """
    own = not db.in_transaction
    if own:
        db.execute("BEGIN")  # deferred: a store with nothing to migrate is only read
    try:
        for table, absent in absent_columns(db).items():
            for name, decl in absent.items():
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
        respell(db)
    except BaseException:
        if own:
            db.execute("ROLLBACK")
        raise
    if own:
        db.execute("COMMIT")


def respell(db: sqlite3.Connection) -> int:
    """Rewrite each row of the store ``db`` whose JSON (``JSON_COLUMNS``) holds a bare
    ``NaN``, ``Infinity`` or ``-Infinity``, as an older version wrote them, in this
    version's strict JSON (``store_json.strict_json``: ``null``, ``9e999``, ``-9e999``), so
    that each table holds one spelling: ``json_valid``, ``WHERE arch_key = ?`` and ``GROUP
    BY arch_key`` see an older version's rows as this version's. Only those rows are
    written (a string holding the text ``NaN`` is no bare token); the values read back as
    this version's rows do. Returns how many rows were rewritten.

    Example:
        >>> db = sqlite3.connect(":memory:")
        >>> _ = db.executescript(SCHEMA)
        >>> _ = db.execute("INSERT INTO meta VALUES ('a', '[NaN, \\"NaN\\"]'), ('b', '1')")
        >>> respell(db), db.execute("SELECT value FROM meta WHERE key = 'a'").fetchone()[0]
        (1, '[null, "NaN"]')
    """
    rewritten = 0
    for table, columns in JSON_COLUMNS.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        cols = [col for col in columns if col in have]
        if not cols:  # a table this store lacks
            continue
        found = " OR ".join(f"instr({col}, 'NaN') OR instr({col}, 'Infinity')" for col in cols)
        rows = db.execute(f"SELECT rowid, {', '.join(cols)} FROM {table} WHERE {found}")
        for rowid, *values in rows.fetchall():
            strict = [strict_json(value) if isinstance(value, str) else value
                      for value in values]
            if strict != values:
                db.execute(f"UPDATE {table} SET {', '.join(f'{col} = ?' for col in cols)} "
                           f"WHERE rowid = ?", (*strict, rowid))
                rewritten += 1
    return rewritten
