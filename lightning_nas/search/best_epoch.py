"""Which validation of a trial is its best epoch: the best on the monitor (the first
objective); of validations tied on it, the best on the next objectives in order (a search's
``tie_break``: the later objectives a trial logs, with their modes), then the earlier. The
stored ``metrics`` and ``epoch`` (``TrialReporter.best``) and the trial's ``best.ckpt``
(``TrialCheckpoint``) follow this one rule, so they are of the same validation.

Example:
    >>> history = [{"epoch": 0, "metrics": {"acc": 1.0, "loss": 0.3}},
    ...            {"epoch": 1, "metrics": {"acc": 1.0, "loss": 0.2}}]
    >>> best_entry(history, "acc", "max", (("loss", "min"),))["epoch"]
    1
    >>> best_entry(history, "acc", "max")["epoch"]  # one objective: the earlier
    0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["best_entry", "breaks_tie"]


def _loss(metrics: Mapping[str, Any], name: str, mode: str) -> float:
    """``name``'s value as a loss (lower is better); ``inf`` where it is missing or NaN."""
    value = float(metrics.get(name, math.nan))
    if math.isnan(value):
        return math.inf
    return -value if mode == "max" else value


def best_entry(history: Sequence[dict[str, Any]], monitor: str, mode: str,
               tie_break: Sequence[tuple[str, str]] = ()) -> dict[str, Any] | None:
    """The entry of ``history`` (``{"epoch", "metrics"}`` per validation) whose finite
    ``monitor`` is best, ties broken by ``tie_break`` (``(name, mode)`` in order), then the
    earlier entry; None where no entry holds a finite monitored value."""
    finite = [h for h in history if math.isfinite(h["metrics"].get(monitor, math.nan))]
    if not finite:
        return None
    return min(finite, key=lambda h: (_loss(h["metrics"], monitor, mode),
                                      *(_loss(h["metrics"], n, m) for n, m in tie_break)))


def breaks_tie(entry: Mapping[str, Any], best: Mapping[str, Any] | None,
               tie_break: Sequence[tuple[str, str]]) -> bool | None:
    """Whether ``entry``, tied with ``best`` on the monitor, is better on ``tie_break`` (the
    first objective in order that tells them apart decides; none: the earlier ``best``
    stays); None where ``entry`` lacks a value it needs yet (one training logs per epoch,
    known at the epoch's end).

    Example:
        >>> breaks_tie({"metrics": {"loss": 0.2}}, {"metrics": {"loss": 0.3}},
        ...            (("loss", "min"),))
        True
    """
    if best is None:
        return False
    for name, mode in tie_break:
        if name not in entry["metrics"]:
            return None
        mine, theirs = _loss(entry["metrics"], name, mode), _loss(best["metrics"], name, mode)
        if mine != theirs:
            return mine < theirs
    return False
