"""The error of a search that ended with no COMPLETED trial, and so with no best trial: its
counts, why it stopped (the time limit, a space evaluated whole, proposals none of which
could train) and where to look next (the failed trials' errors; a longer time limit).

``Search.run`` raises it (``NoCompletedTrialError``, a ``SearchError``, holding the
``SearchResult``) where it returned a result whose ``best`` was None without a word;
``lightning-nas search`` prints it and exits 1, as it did, and a Hydra sweep of no
completed job ends in its own words (``integrations.hydra_summary.nothing_completed``).

Example:
    >>> from pathlib import Path
    >>> print(nothing_completed([], Path("runs/a"), "the time limit of 5s was reached"))
    ... # doctest: +NORMALIZE_WHITESPACE
    no trial of the search in runs/a completed (none trained), so it has no best trial: the
    time limit of 5s was reached; give a longer time_limit (call .run() again to resume the
    run)
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from lightning_nas.results import TrialResult, TrialStatus

__all__ = ["nothing_completed"]

#: the statuses a run with no completed trial is said by, in the summary's order
_SAID = (TrialStatus.FAILED, TrialStatus.REJECTED, TrialStatus.PRUNED, TrialStatus.PAUSED,
         TrialStatus.RUNNING)


def nothing_completed(trials: Sequence[TrialResult], run_dir: Path, ended: str | None,
                      python: bool = True, time_limit: float | None = None) -> str:
    """The message of a search whose ``trials`` hold no COMPLETED one: their counts, why
    the search loop stopped asking (``ended``, ``SearchLoop.ended``; None: its budget was
    used) and what to do, in Python's words (``python``: ``time_limit``, ``.run()``) or a
    config's (``search.time_limit``, the same command again).

    Args:
        trials: every trial of the run.
        run_dir: the run folder.
        ended: why the loop stopped asking, as ``SearchLoop.ended`` says it.
        python: whether the search was built in Python (else from a config).
        time_limit: the search's time limit, if any. A search that used its budget with
            none promoted every paused trial it could: a resume with a larger budget may
            promote the others, the same budget none (a time limit may have cut a
            promotion short).

    Example:
        >>> print(nothing_completed([], Path("runs/a"), None, python=False))
        no trial of the search in runs/a completed (none trained), so it has no best trial
    """
    counts = [f"{n} {status.value.lower()}" for status in _SAID
              if (n := sum(t.status is status for t in trials))]
    text = (f"no trial of the search in {run_dir} completed ({', '.join(counts) or 'none trained'}"
            f"), so it has no best trial{f': {ended}' if ended else ''}")
    said = []
    if any(t.status is TrialStatus.FAILED for t in trials):
        said.append(f"`lightning-nas show {shlex.quote(str(run_dir))} --status failed` lists "
                    f"their errors" + (" (each trial's also in this error's result.trials, a "
                                       "SearchResult's)" if python else ""))
    elif any(t.status is TrialStatus.REJECTED for t in trials) and not (
            ended or "").startswith("the time limit"):
        said.append("every architecture proposed broke the limits or constraints: loosen them "
                    "or widen the space")
    if any(t.status is TrialStatus.PAUSED for t in trials):  # as the summary says it (was:
        # "a resume may promote", where the same search again trained nothing)
        larger = " with a larger budget" if ended is None and time_limit is None else ""
        said.append(f"a resume{larger} may promote the paused")
    if (ended or "").startswith("the time limit"):
        said.append("give a longer time_limit (call .run() again to resume the run)" if python
                    else "give a longer search.time_limit (the same command again resumes "
                         "the run)")
    return "; ".join([text, *said])
