"""What the tests of the run store share (``tests/test_store_*.py``): a trial finished with
a score, written as a search writes it.

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

from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.store import RunStore

__all__ = ["finish"]


def finish(store: RunStore, tid: int, score: float | None,
           status: TrialStatus = TrialStatus.COMPLETED, **kw) -> None:
    """Finish trial ``tid`` of ``store`` with ``score`` and ``status`` (``kw``: ``metrics``,
    ``curve``, ``error``, ... of its ``TrialResult``), its architecture the one it started
    with."""
    store.finish_trial(TrialResult(trial_id=tid, arch=store.get(tid).arch, status=status,
                                   score=score, **kw))
