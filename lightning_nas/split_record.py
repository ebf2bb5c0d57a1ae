"""Which trials of a search validated a DDP split their ranks do not divide, as its run
store keeps it: meta ``uneven_splits``, each text ``uneven_splits`` wrote with the ids of
the trials it is true of (a text once, however many trials: a search's trials mostly share
their split). ``best.yaml`` lists the exported trial's texts under ``notes``; ``show`` and
the report list them all with their trials (``recorded_uneven``).

No torch, no Lightning: ``export`` and the search loop read and write it.

Example:
    >>> import tempfile
    >>> from lightning_nas.store import RunStore
    >>> with RunStore(tempfile.mkdtemp() + "/search.db") as store:
    ...     record_uneven(store, 1, ["101 samples on 2 ranks"])
    ...     record_uneven(store, 2, ["101 samples on 2 ranks"])
    ...     record_uneven(store, 1, [])  # trial 1 run again, on another split
    ...     uneven_of(store, 1), uneven_of(store, 2)
    ([], ['101 samples on 2 ranks'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["UNEVEN_META", "recorded_uneven", "record_uneven", "uneven_of"]

#: the meta key: ``{text: [trial ids]}``
UNEVEN_META = "uneven_splits"


def record_uneven(store: Any, trial_id: int, texts: Sequence[str]) -> None:
    """Record that trial ``trial_id``'s last fit validated the uneven splits ``texts`` (none:
    it validated none, or on one device); the meta is written only when it changes.

    Args:
        store: the search's ``RunStore``.
        trial_id: the trial.
        texts: ``TrialResult.uneven_splits``.
    """
    held: dict[str, list[int]] = store.get_meta(UNEVEN_META) or {}
    if not texts and not held:
        return
    out = {text: [i for i in ids if i != trial_id] for text, ids in held.items()}
    for text in texts:
        out.setdefault(text, []).append(trial_id)
    out = {text: sorted(set(ids)) for text, ids in out.items() if ids}
    if out != held:
        store.set_meta(UNEVEN_META, out)


def uneven_of(store: Any, trial_id: int) -> list[str]:
    """The uneven splits recorded of trial ``trial_id`` (a store of an older version: none)."""
    held = store.get_meta(UNEVEN_META) or {}
    return [text for text, ids in held.items() if trial_id in ids]


def recorded_uneven(store: Any) -> list[dict[str, Any]]:
    """Every uneven split recorded in ``store``: ``{"trials": [ids], "text": text}`` each, in
    the order recorded (a store of an older version, or of a run that met none: none)."""
    held = store.get_meta(UNEVEN_META) or {}
    return [{"trials": list(ids), "text": text} for text, ids in held.items()]
