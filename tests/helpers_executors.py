"""The executor tests' trials in worker processes: the search space of ``TinyNet``'s width
and learning rate, and ``nap``, an ``objective=`` trial that only sleeps.

Example:
    >>> sorted(SPACE)
    ['lr', 'width']
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["SPACE", "nap"]

SPACE = {"width": {"choice": [8, 16, 32]}, "lr": {"float": [0.05, 0.3]}}


def nap(arch: dict[str, Any]) -> dict[str, float]:
    """An ``objective=`` search's trial that sleeps ``arch["nap"]`` seconds and scores that
    many (a result says which trial it is of): one that is still running on its worker or
    actor when its search has ended.

    Example:
        >>> nap({"nap": 0.0})
        {'val_acc': 0.0}
    """
    time.sleep(arch["nap"])
    return {"val_acc": float(arch["nap"])}
