"""The ``progress.json`` file a trial keeps in its folder as it trains (``rank_progress.
RankProgress`` writes it): read back by the search process into the FAILED record of a trial
whose process ended with no result (a DDP trial's rank 0, a worker process's or a Ray
actor's trial), so that record keeps the epochs and curve trained (was, for a Ray actor's:
epochs None, no curve).

No torch, no Lightning: a worker process imports it before its imports of them.

Example:
    >>> read_progress("no-such-trial")
    {}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightning_nas.results import TrialResult

__all__ = ["PROGRESS", "died_progress", "note_progress", "progress_noted", "read_progress",
           "take_progress"]

#: the file rank 0 keeps in the trial's folder
PROGRESS = "progress.json"


def read_progress(trial_dir: str | Path) -> dict[str, Any]:
    """The ``epochs``, ``curve`` and ``curve_epochs`` rank 0 of the trial in ``trial_dir``
    wrote last (``RankProgress``); ``{}`` where it wrote none, or none that reads.

    Example:
        >>> read_progress("no-such-trial").get("epochs") is None
        True
    """
    path = Path(trial_dir) / PROGRESS
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {key: data[key] for key in ("epochs", "curve", "curve_epochs") if key in data}


def take_progress(trial_dir: str | Path) -> dict[str, Any]:
    """``read_progress`` of ``trial_dir``, its file removed: read once, into the result that
    holds it (a worker's or an actor's trial, before and after it runs, and its search
    process as it makes the FAILED result of a process that died in it).

    Example:
        >>> take_progress("no-such-trial")
        {}
    """
    progress = read_progress(trial_dir)
    (Path(trial_dir) / PROGRESS).unlink(missing_ok=True)
    return progress


def progress_noted(spec: Any) -> bool:
    """Whether a trial run in a process of its executor's (a worker's, a Ray actor's) keeps
    what it trained in its folder's ``progress.json`` as it trains (a trial of a search,
    with a folder: not an ``objective=`` call, a fit's or a fine-tune's), so that where that
    process dies in it the search process records the epochs and curve it trained.

    Example:
        >>> from types import SimpleNamespace
        >>> progress_noted(SimpleNamespace(objective=None, own_logs=False, trial_dir="t1"))
        True
    """
    return spec.objective is None and not spec.own_logs and bool(spec.trial_dir)


def note_progress(spec: Any) -> bool:
    """Set ``spec``'s trial to keep ``progress.json`` as it trains (its ``notes_progress``),
    where it does (``progress_noted``), an earlier run's file of the trial removed: run by
    the process that runs the trial (a worker, a Ray actor) before it does. Returns whether
    it does; that process removes the file again (``take_progress``) once the trial's result
    holds what it says.

    Example:
        >>> from types import SimpleNamespace
        >>> spec = SimpleNamespace(objective=None, own_logs=True, trial_dir="t1")
        >>> note_progress(spec), hasattr(spec, "notes_progress")
        (False, False)
    """
    noted = progress_noted(spec)
    if noted:
        spec.notes_progress = True
        take_progress(spec.trial_dir)
    return noted


def died_progress(result: TrialResult, spec: Any) -> TrialResult:
    """``result``, the FAILED result of ``spec``'s trial whose process died in it (a worker,
    a Ray actor), with the epochs, curve and curve epochs the trial wrote last
    (``take_progress``) where it kept them (``progress_noted``); a folder the search process
    does not see (a Ray node's own disk) leaves them as they were.

    Example:
        >>> from types import SimpleNamespace
        >>> from lightning_nas.results import TrialResult, TrialStatus
        >>> spec = SimpleNamespace(objective=None, own_logs=False, trial_dir="no-such-trial")
        >>> died_progress(TrialResult(1, {}, TrialStatus.FAILED), spec).epochs is None
        True
    """
    if progress_noted(spec):
        progress = take_progress(spec.trial_dir)
        result.epochs = progress.get("epochs", result.epochs)
        result.curve = progress.get("curve", result.curve)
        result.curve_epochs = progress.get("curve_epochs", result.curve_epochs)
    return result
