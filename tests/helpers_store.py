"""What the tests of the run store share (``tests/test_store_*.py``): a trial finished with
a score, written as a search writes it (``finish``), and a second, plain SQLite connection
to a store's file (``sql``), for a test that reads or writes the rows as a user's SQL or
an older version does, never through the store's own connection; a live search whose
running trial finishes between two reads of a reader (``finishing_between_reads``).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with RunStore(Path(folder) / "search.db") as store:
    ...         finish(store, store.start_trial({"k": 1}), 0.5)
    ...         store.get(1).score, store.get(1).status.name
    (0.5, 'COMPLETED')
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.store import RunStore

__all__ = ["finish", "finishing_between_reads", "sql"]


def finish(store: RunStore, tid: int, score: float | None,
           status: TrialStatus = TrialStatus.COMPLETED, **kw) -> None:
    """Finish trial ``tid`` of ``store`` with ``score`` and ``status`` (``kw``: ``metrics``,
    ``curve``, ``error``, ... of its ``TrialResult``), its architecture the one it started
    with."""
    store.finish_trial(TrialResult(trial_id=tid, arch=store.get(tid).arch, status=status,
                                   score=score, **kw))


@contextmanager
def sql(path: str | Path) -> Iterator[sqlite3.Connection]:
    """A connection of its own to the store's database file ``path`` (a ``RunStore``'s
    ``path``), as another process has it: a store open on the file meanwhile (WAL) reads
    what it wrote once the block ends, which commits it (an error rolls it back); closed
    after.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     with RunStore(Path(folder) / "search.db") as store:
        ...         with sql(store.path) as db:
        ...             _ = db.execute("INSERT INTO meta (key, value) VALUES ('seed', '7')")
        ...         store.get_meta("seed")
        7
    """
    db = sqlite3.connect(path, timeout=30)
    try:
        yield db
        db.commit()
    finally:
        db.close()


@contextmanager
def finishing_between_reads(monkeypatch, run_dir: str | Path) -> Iterator[RunStore]:
    """A live search's store at ``run_dir`` (one space key ``k``, monitor ``acc``, max) with
    one trial RUNNING, which it finishes (COMPLETED, 0.9) right after another reader's first
    ``RunStore.count``: the search goes on between that reader's two reads. Yields the
    search's (writing) store; closed at the end."""
    from lightning_nas.store import open_search_store

    writer = open_search_store(run_dir, {"space": {"k": {"choice": [1, 2]}},
                                         "monitor": "acc", "mode": "max"})
    running = writer.start_trial({"k": 1})
    count = RunStore.count

    def count_while_it_finishes(store: RunStore, status: TrialStatus) -> int:
        n = count(store, status)
        if store is not writer and writer.get(running).status is TrialStatus.RUNNING:
            writer.finish_trial(TrialResult(running, {"k": 1}, TrialStatus.COMPLETED, 0.9,
                                            epoch=0, epochs=1))
        return n

    monkeypatch.setattr(RunStore, "count", count_while_it_finishes)
    try:
        yield writer
    finally:
        writer.close()
