"""The precision a search's scores were validated in, where it is not float32
(``trainer.precision: bf16-mixed``, ``16-mixed``, ``64-true``, set or searched):
``best.yaml``'s ``precision``. ``best.ckpt`` validated again in it gives the stored score
back; in float32 the values may move (a Python search writes no ``best_config.yaml`` whose
``trainer`` would say it).

No torch, no Lightning: ``export`` reads a run's store with it.

Example:
    >>> precision_of({"width": 8}, {"precision": "bf16-mixed"})
    'bf16-mixed'
    >>> precision_of({"trainer.precision": "32-true"}, {"precision": "bf16-mixed"}) is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.trial_trainer import trial_trainer

__all__ = ["PRECISION_KEY", "precision_of"]

#: the Trainer argument, and its key in a search space (``trainer.precision``)
PRECISION_KEY = "precision"
#: how Lightning's default, float32, is written (``None``: not set)
_FLOAT32 = (None, 32, "32", "32-true")


def precision_of(arch: Mapping[str, Any], trainer: Mapping[str, Any]) -> Any:
    """The ``precision`` a trial of architecture ``arch`` trained and validated in, its own
    (searched: ``trainer.precision``, a Hydra sweep's ``+trainer.precision``) or the
    search's ``trainer`` settings', as written; None where it is float32 (unset, ``32``,
    ``"32-true"``)."""
    value = trial_trainer(arch, trainer).get(PRECISION_KEY)
    return None if isinstance(value, bool) or value in _FLOAT32 else value
