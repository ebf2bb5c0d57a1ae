"""The Trainer settings one trial trains with: the search's, with the trial's searched
``trainer.*`` values over them (a Hydra sweep's ``+trainer.*`` / ``++trainer.*`` too, its
``+`` dropped), a searched ``trainer.callbacks``, ``logger`` or ``plugins`` (or one node of
``strategy``, ``profiler``, ``accelerator``) merged over the config's as LightningCLI merges
it. The one source of them: what a trial's
``TrialSpec`` is built with (``search.template``), what a fine-tune of the best trial
trains with (``export``), and what its ranks, validation limit and precision are read
from (``devices``, ``validation_limit``, ``score_precision``; was: without the plugins
merge, which ``config.node_merge.searched_trainer`` added for the first two alone). No torch, no
Lightning at import (a searched object node's class is imported to merge it).

Example:
    >>> trial_trainer({"width": 8, "trainer.max_epochs": 3}, {"max_epochs": 1})
    {'max_epochs': 3}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.config.node_merge import is_object_path, merge_objects
from lightning_nas.config.node_places import node_place, placed, set_at_place

__all__ = ["trial_trainer"]


def trial_trainer(arch: Mapping[str, Any], trainer: Mapping[str, Any],
                  places: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Trainer settings ``trainer`` (a copy) with each searched ``trainer.NAME`` value of
    architecture ``arch`` set as argument ``NAME``; a Hydra sweep's ``+trainer.NAME`` and
    ``++trainer.NAME`` alike (was: a copy of this in each caller, those of the trial's spec
    and the fine-tune keeping the ``+``); a searched ``callbacks``, ``logger`` or ``plugins``,
    or ``strategy``, ``profiler`` or ``accelerator`` node, merged over ``trainer``'s as
    LightningCLI's ``--trainer.callbacks=...`` merges it (``merge_objects``: a node over a
    node of its class, its ``init_args`` alone too, a list over a list of its length item by
    item, a list over a node each item over it; a name, ``ddp``, in place; was: a strategy
    or profiler node in place of the config's, its other arguments lost), as the trial's
    Trainer gets them; a key into one node of such a list, ``trainer.callbacks.1.patience``,
    that node's argument (``config.node_places``); one naming a named node,
    ``trainer.callbacks.early_stopping.patience``, at the node's place ``places`` gives it.

    Args:
        arch: the trial's architecture (its other keys are left out).
        trainer: the search's Trainer settings (not changed).
        places: the config's keys into named nodes with their nodes' places
            (``config_places``); a key into a named node without one is set as any other
            ``trainer.NAME`` (an unknown Trainer argument, which the checks refuse).

    Returns:
        A new dict: ``trainer``'s settings, the searched ones over them.

    Example:
        >>> trial_trainer({"++trainer.devices": 2, "+trainer.precision": "bf16-mixed"},
        ...               {"devices": 1, "strategy": "ddp"})
        {'devices': 2, 'strategy': 'ddp', 'precision': 'bf16-mixed'}
        >>> slurm = "lightning.fabric.plugins.environments.SLURMEnvironment"
        >>> trial_trainer({"trainer.plugins": {"class_path": slurm}}, {"plugins": {
        ...     "class_path": slurm, "init_args": {"auto_requeue": False}}})["plugins"]
        {'class_path': 'lightning.fabric.plugins.environments.SLURMEnvironment', \
'init_args': {'auto_requeue': False}}
    """
    own = dict(trainer)
    for key, value in placed(arch, places or {}).items():
        name = str(key).lstrip("+")
        held = trainer.get(name.split(".", 1)[-1])
        if is_object_path(name) and held is not None:  # callbacks, ..., strategy, ...
            own[name.split(".", 1)[1]] = merge_objects(held, value)
        elif (place := node_place(name)) is not None:  # trainer.callbacks.1.patience
            own[place[0]] = set_at_place(own.get(place[0]), name, value)
        elif name.startswith("trainer."):
            own[name.split(".", 1)[1]] = value
    return own
