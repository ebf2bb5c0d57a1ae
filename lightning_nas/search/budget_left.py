"""The budget a run has used, and whether its run folder's store says that nothing is left
to run (``nothing_left``), read as it is before a search starts its executor.

A resume of a run whose budget is used, with no trial to re-run or promote, starts no
trial: ``Search.run`` then leaves its executor unstarted (no Ray cluster connected, no
actor started; was: a checking actor and the connection, for nothing), and the search
loop, which alone decides what runs, starts it at the first trial it submits if there is
one after all (``TrialExecutor.submit`` starts what ``start`` would).

Example:
    >>> import tempfile
    >>> nothing_left(tempfile.mkdtemp(), budget=4)  # no store: a new run
    False
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from pathlib import Path

from lightning_nas.errors import NASError
from lightning_nas.results import TrialStatus
from lightning_nas.run_folder import user_path
from lightning_nas.search.failures import FailureWatch
from lightning_nas.store import RunStore
from lightning_nas.wording import counted

__all__ = ["COUNTED", "budget_used", "nothing_left", "over_budget"]

#: statuses that use up the budget (a FAILED trial does not)
COUNTED = (TrialStatus.RUNNING, TrialStatus.COMPLETED, TrialStatus.PRUNED, TrialStatus.PAUSED)


def budget_used(store: RunStore, waiting: Collection[int]) -> int:
    """The trials of ``store`` that use budget: those with a ``COUNTED`` status, and the
    failed ones ``waiting`` to run again (``FailureWatch.waiting``).

    Example:
        >>> import tempfile
        >>> budget_used(RunStore(tempfile.mkdtemp() + "/search.db"), waiting={3})
        1
    """
    return sum(store.count(status) for status in COUNTED) + len(waiting)


def over_budget(used: int, budget: int | None) -> str:
    """A resume's line where its ``budget`` is below the ``used`` trials its run folder counts
    (``budget_used``): no new trial starts, and a larger budget goes on (was: the search
    ended without a word of why it trained none); ``""`` where the budget is not below.

    Example:
        >>> print(over_budget(8, budget=6))
        The budget of 6 trials is used: the run folder counts 8 trials already, so no new
        trial starts; a larger budget goes on with the search.
        >>> over_budget(6, budget=6)
        ''
    """
    if budget is None or used <= budget:
        return ""
    return (f"The budget of {counted(budget, 'trial')} is used: the run folder counts "
            f"{counted(used, 'trial')} already, so no new trial starts; a larger budget goes "
            f"on with the search.")


def nothing_left(run_dir: str | Path, budget: int | None) -> bool:
    """Whether ``run_dir``'s store, read as it is (nothing written), says a resume has no
    trial to run: its ``budget`` used, no trial to re-run (RUNNING when a process died, or
    a failure that stopped the search) and none paused (a scheduler may promote it). False
    where in doubt: no budget, no store, one that cannot be read (the search's own open of
    it says why).

    Args:
        run_dir: the run folder.
        budget: the search's budget (None: none, trials run until the time limit).
    """
    db = user_path(run_dir) / "search.db"
    if budget is None or not db.is_file():
        return False
    try:
        with RunStore(db, read_only=True) as store:
            if store.count(TrialStatus.RUNNING) or store.count(TrialStatus.PAUSED):
                return False
            waiting = FailureWatch(store, 0, run_dir).waiting
            return not waiting and budget_used(store, waiting) >= budget
    except (sqlite3.Error, NASError):
        return False
