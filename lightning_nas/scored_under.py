"""What the files of a run say of the Trainer settings its best score was validated under:
``limited_validation`` (``validation_limit``: part of each validation loader) and
``precision`` (``score_precision``: other than float32), each where it applies, read from a
search's ``trainer`` or a Hydra sweep's job config (``limit_settings``): ``best.yaml``'s
(``lightning-nas export``) and a sweep's ``optimization_results.yaml``'s.

No torch, no Lightning: ``export`` reads a run's store with it.

Example:
    >>> import tempfile
    >>> from lightning_nas.store import RunStore
    >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
    >>> store.set_meta("trainer", {"precision": "bf16-mixed"})
    >>> scored_under(store, {"width": 8})
    {'precision': 'bf16-mixed'}
    >>> scored_under(store, {"trainer.precision": "32-true"})
    {}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.config.node_places import config_places
from lightning_nas.ranks_record import varied_ranks
from lightning_nas.score_precision import precision_of
from lightning_nas.validation_limit import limit_settings, trial_limited, trial_settings

__all__ = ["scored_under"]


def scored_under(store: Any, arch: Mapping[str, Any], ranks: int | None = None,
                 trial_id: int | None = None) -> dict[str, Any]:
    """``limited_validation`` and ``precision`` of trial ``trial_id`` of architecture
    ``arch`` in the run of ``store``, each where it applies (a validation of every batch in
    float32: ``{}``); under DDP the limit holds on each of the ``ranks`` it ran on
    (``TrialResult.ranks``; None: a Hydra job's several counts where its fits ran on
    several, ``ranks_record``, else those its settings ask for). A sweep's trial is read
    under its own job's Trainer node (``trial_settings``: a searched ``trainer`` group's
    option), one of no ``trial_id`` under the sweep config's."""
    trainer = limit_settings(store) if trial_id is None else trial_settings(store)(trial_id)
    # a Hydra job's fits of several counts: those (was: its settings' count said)
    known = varied_ranks(store).get(trial_id) if ranks is None and trial_id is not None \
        else ranks
    out: dict[str, Any] = {}
    if limited := trial_limited(arch, trainer, known):
        out["limited_validation"] = limited  # was: a score over part of it, unsaid
    # a searched argument of a config's named plugin node at its place (was: unread)
    places = config_places(store.get_meta("config"))
    if (precision := precision_of(arch, trainer, places)) is not None:
        out["precision"] = precision  # the score's (was: unsaid by a Python search)
    return out
