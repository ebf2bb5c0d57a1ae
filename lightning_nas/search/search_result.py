"""``SearchResult``: what ``Search.run`` returns, the best trial and all trials of a search,
with its leaderboard and (multi-objective searches) its Pareto front.

Example:
    >>> from lightning_nas import SearchResult
    >>> SearchResult(best=None, trials=[], run_dir="runs/demo", monitor="val_acc",
    ...              mode="max").leaderboard()
    []
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lightning_nas.results import TrialResult, leaderboard
from lightning_nas.search.objectives import Objectives, pareto_front

__all__ = ["SearchResult"]


@dataclass
class SearchResult:
    """What ``Search.run`` returns: the best trial and all trials, best first on request.

    Attributes:
        best: the best COMPLETED trial (the leaderboard's first), None without one
            (``Search.run`` then raises ``NoCompletedTrialError``, holding this result);
            with several objectives the best by the first (ties by the later ones in
            order), one point of ``pareto_front()``.
        trials: every trial of the run, in the order they were numbered.
        run_dir: the run folder.
        monitor: the metric the trials are ranked by.
        mode: ``"max"`` or ``"min"``: which way the monitor is better.
        objectives: a multi-objective search's objectives (the monitor first), else None.
    """

    best: TrialResult | None
    trials: list[TrialResult]
    run_dir: Path
    monitor: str
    mode: str
    objectives: Objectives | None = None

    def leaderboard(self, k: int | None = None) -> list[TrialResult]:
        """COMPLETED trials, best first, in the store's order (``best`` first: ties by the
        later objectives, then the earlier trial).

        Args:
            k: the first ``k`` of them only (default: all).

        Raises:
            ValueError: for a ``k`` that is no count ``>= 0`` (was: ``-1`` every trial but
                the worst, a float a ``TypeError`` about slices, ``True`` the best alone).
        """
        if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 0):
            raise ValueError(f"leaderboard k must be None or a count >= 0, got {k!r}")
        done = leaderboard(self.trials, self.mode,
                           None if self.objectives is None else self.objectives.to_dict())
        return done if k is None else done[:k]

    def pareto_front(self) -> list[TrialResult]:
        """The COMPLETED trials that no other one dominates: none is at least as good in
        every objective and better in one (trials equal in all are each on it), in the
        leaderboard's order (multi-objective searches; the leaderboard's best trial alone
        otherwise, one objective given as ``objectives={"acc": "max"}`` too: was every trial
        tied at its best score; was said as "no other trial beats in every objective", which
        a trial equal in one objective and worse in another passes)."""
        if self.objectives is None or not self.objectives.multi:
            return self.leaderboard(1)
        return pareto_front(self.leaderboard(), self.objectives)
