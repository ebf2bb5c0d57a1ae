"""Which trials of a run ran fits on several rank counts, as its run store keeps it: meta
``ranks_varied``, ``{trial id: [counts]}``. A Hydra sweep's job whose task fitted its
Trainers on different counts (its rank 0 wrote each, ``hydra_split``) has no one count
(``TrialResult.ranks`` None: which fit scored is not known); its limited validation is
said over the counts it ran on (``validation_limit``; was: over the counts its job
config's Trainer settings ask for, which some fits did not run on).

A count is of the ranks a score was computed on: a fit that never validated (failed or
killed before its first validation; its sanity check scores nothing) has no score, so no
count (``JobSplitRecorder`` writes one at a fit's first validation alone), and a job none
of whose fits validated records none; its trial's notes say no limit of a score it has
not (``report.tables``).

No torch, no Lightning: ``show`` and ``export`` read it.

Example:
    >>> import tempfile
    >>> from lightning_nas.store import RunStore
    >>> with RunStore(tempfile.mkdtemp() + "/search.db") as store:
    ...     record_ranks(store, 1, [2, 1])
    ...     record_ranks(store, 2, [2])  # one count: TrialResult.ranks says it
    ...     varied_ranks(store)
    {1: (1, 2)}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["RANKS_META", "known_ranks", "record_ranks", "varied_ranks"]

#: the meta key: ``{trial id (text): [counts]}``, of the trials of several counts alone
RANKS_META = "ranks_varied"


def record_ranks(store: Any, trial_id: int, counts: Sequence[int]) -> None:
    """Record the rank ``counts`` trial ``trial_id``'s fits ran on where they are several
    (else forget any recorded: a job run again); the meta is written only when it changes.

    Args:
        store: the run's ``RunStore``.
        trial_id: the trial.
        counts: the counts its fits ran on (``hydra_split.job_rank_counts``).
    """
    held: dict[str, list[int]] = store.get_meta(RANKS_META) or {}
    out = {k: v for k, v in held.items() if k != str(trial_id)}
    if len(set(counts)) > 1:
        out[str(trial_id)] = sorted(set(counts))
    if out != held:
        store.set_meta(RANKS_META, out)


def varied_ranks(store: Any) -> dict[int, tuple[int, ...]]:
    """The counts of each trial whose fits ran on several, by id (a store of an older
    version, or of fits of one count each: none)."""
    held = store.get_meta(RANKS_META) or {}
    return {int(k): tuple(v) for k, v in held.items()}


def known_ranks(store: Any, scored: bool = False) -> dict[int, int | tuple[int, ...]]:
    """What is known of the ranks each trial ran on, by id: its one count
    (``RunStore.trial_ranks``), else the counts its fits ran on (``varied_ranks``);
    ``scored``: of the trials with a score alone.

    Example:
        >>> import tempfile
        >>> from lightning_nas.store import RunStore
        >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
        >>> record_ranks(store, 3, [1, 2])
        >>> known_ranks(store), known_ranks(store, scored=True)
        ({3: (1, 2)}, {})
    """
    varied = varied_ranks(store)
    if scored:
        varied = {i: c for i, c in varied.items() if _scored(store, i)}
    return {**varied, **store.trial_ranks(scored=scored)}


def _scored(store: Any, trial_id: int) -> bool:
    """Whether trial ``trial_id`` of ``store`` has a score (one not there: none)."""
    try:
        return store.get(trial_id).score is not None
    except KeyError:
        return False
