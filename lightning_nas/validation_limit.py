"""What a search's scores are over when its Trainer validates part of each validation loader
(``trainer.limit_val_batches``, set or searched): ``best.yaml``'s ``limited_validation`` and
the line ``show`` and the report print below the best result; a one-shot run's
``best_arch.yaml`` says it too (``limited_entry``: its subnets are scored under the limit).
A validation of ``best.ckpt`` (or ``subnet.pt``) over every batch gives another score than
the run's; under the same limit, the same.

No torch, no Lightning: ``export`` and ``show`` read a run's store with it.

Example:
    >>> limited_text(0.5)[:68]
    'scored on part of the validation data: trainer.limit_val_batches=0.5'
    >>> limit_of({"width": 8}, {"limit_val_batches": 1.0}) is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LIMIT_KEY", "limit_of", "limited_entry", "limited_text", "search_limit_line"]

#: the Trainer argument, and its key in a search space (``trainer.limit_val_batches``)
LIMIT_KEY = "limit_val_batches"
_SEARCHED = f"trainer.{LIMIT_KEY}"


def limit_of(arch: Mapping[str, Any], trainer: Mapping[str, Any]) -> int | float | None:
    """The ``limit_val_batches`` a trial of architecture ``arch`` validated under, its own
    (searched) or the search's ``trainer`` settings'; None where it validates every batch
    (unset, or the fraction 1.0: Lightning reads the int 1 as one batch)."""
    value = arch[_SEARCHED] if _SEARCHED in arch else trainer.get(LIMIT_KEY)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if isinstance(value, float) and value >= 1.0 else value


def limited_text(limit: int | float) -> str:
    """What the scores of a validation under ``limit_val_batches=limit`` are over, and how
    to score a checkpoint again (the int ``limit``: a count of batches; the float: a
    fraction)."""
    part = (f"at most {limit} batch{'es' * (limit != 1)}" if isinstance(limit, int)
            else f"{limit:g} of the batches")
    return (f"scored on part of the validation data: trainer.{LIMIT_KEY}={limit} validates "
            f"{part} of each validation loader, so a validation over every batch gives "
            f"another score; validate under {LIMIT_KEY}={limit} to score it again")


def limited_entry(limit: Any) -> dict[str, str]:
    """``{"limited_validation": limited_text(limit)}`` of a Trainer's ``limit_val_batches``
    that validates part of each loader (a one-shot run's ``best_arch.yaml``), else ``{}``.

    Example:
        >>> limited_entry(1.0), list(limited_entry(2))
        ({}, ['limited_validation'])
    """
    limit = limit_of({}, {LIMIT_KEY: limit})
    return {} if limit is None else {"limited_validation": limited_text(limit)}


def search_limit_line(space: Mapping[str, Any] | None,
                      trainer: Mapping[str, Any] | None) -> str | None:
    """The line ``show`` prints of a search's validation limit: searched (each trial's own),
    set (``limited_text``) or none (every batch validated, or settings not stored).

    Example:
        >>> search_limit_line({"trainer.limit_val_batches": {"choice": [2, 0.5]}}, {})[:37]
        'trainer.limit_val_batches is searched'
    """
    if _SEARCHED in (space or {}):
        return (f"{_SEARCHED} is searched: each trial is scored on the part of the "
                f"validation data its value validates (best.yaml's limited_validation says "
                f"the exported trial's)")
    limit = limit_of({}, trainer or {})
    return None if limit is None else limited_text(limit)
