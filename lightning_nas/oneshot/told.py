"""How an SPOS search (``OneShotNAS``) tells nevergrad its subnets' scores: a NaN or
infinite one (a subnet whose metric diverged) as ``lightning-nas search`` tells a failed
trial, not as it is.

Example:
    >>> import nevergrad as ng
    >>> opt = ng.optimizers.RandomSearch(ng.p.Choice([1, 2]), budget=3)
    >>> told = FailedLater(opt)
    >>> told.tell(opt.ask(), 0.5)
    >>> told.tell(opt.ask(), float("nan"))  # worse by 1 than every loss told
    >>> told.losses
    [0.5, 1.5]
"""

from __future__ import annotations

import math
from typing import Any

from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.objectives import told_loss, waits_for_a_result

__all__ = ["FailedLater"]


class FailedLater:
    """Tells a search's optimizer its subnets' losses as the search loop tells a trial's: a
    NaN or infinite score (a subnet whose metric diverged) is a failure, told as
    ``told_loss`` tells one (worse than every loss told by 1) once ``waits_for_a_result``
    lets it (was: told as it was, which nevergrad clipped to 5e20, an outlier to CMA and
    DE)."""

    _FAILED = TrialResult(trial_id=0, arch={}, status=TrialStatus.FAILED)

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        self.losses: list[float] = []  # told, failures' too: the next failure is worse
        self.waiting: list[Any] = []  # failed before any finite loss

    def tell(self, candidate: Any, loss: float) -> None:
        """Tell ``candidate`` its ``loss``, or what a failure is told (see the class)."""
        if math.isfinite(loss):
            self.optimizer.tell(candidate, loss)
            self.losses.append(loss)
            waiting, self.waiting = self.waiting, []
            for failed in waiting:
                self.tell(failed, math.nan)
        elif waits_for_a_result(self._FAILED, self.optimizer, bool(self.losses)):
            self.waiting.append(candidate)
        else:
            worse = told_loss(self._FAILED, None, "min", self.losses)
            self.optimizer.tell(candidate, worse)
            self.losses.append(worse)
