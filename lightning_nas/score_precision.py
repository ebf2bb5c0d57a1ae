"""The precision a search's scores were validated in, where it is not float32
(``trainer.precision: bf16-mixed``, ``16-mixed``, ``64-true``, or a precision plugin's in
``trainer.plugins``, set, searched or merged, as the trial's Trainer gets them:
``trial_trainer``):
``best.yaml``'s ``precision``. ``best.ckpt`` validated again in it gives the stored score
back; in float32 the values may move (a Python search writes no ``best_config.yaml`` whose
``trainer`` would say it).

No torch, no Lightning at import (a ``plugins`` node's class is imported to read it):
``export`` reads a run's store with it.

Example:
    >>> precision_of({"width": 8}, {"precision": "bf16-mixed"})
    'bf16-mixed'
    >>> precision_of({"trainer.precision": "32-true"}, {"precision": "bf16-mixed"}) is None
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.instantiate import import_object
from lightning_nas.config.nodes import is_node, node_args, target_path
from lightning_nas.trial_trainer import trial_trainer

__all__ = ["PRECISION_KEY", "plugin_precision", "precision_entry", "precision_of"]

#: the Trainer argument, and its key in a search space (``trainer.precision``)
PRECISION_KEY = "precision"
#: how Lightning's default, float32, is written (``None``: not set)
_FLOAT32 = (None, 32, "32", "32-true")
_UNGIVEN = object()


def precision_of(arch: Mapping[str, Any], trainer: Mapping[str, Any],
                 places: Mapping[str, str] | None = None) -> Any:
    """The ``precision`` a trial of architecture ``arch`` trained and validated in, its own
    (searched: ``trainer.precision``, a Hydra sweep's ``+trainer.precision``) or the
    search's ``trainer`` settings', as written, else that of a precision plugin among its
    ``plugins`` (``plugin_precision``; was: the plugin unread, and a searched one read
    without the config's merged under it); None where it is float32 (unset, ``32``,
    ``"32-true"``). ``places``: the config's keys into named nodes with their places
    (``config_places``), so that a searched ``trainer.plugins.half.precision`` of a
    config's mapping of named plugins is read at its node, as the trial's Trainer got it
    (was: left out, the config's precision said).

    Example:
        >>> mixed = {"class_path": "lightning.pytorch.plugins.precision.MixedPrecision",
        ...          "init_args": {"precision": "bf16-mixed", "device": "cpu"}}
        >>> precision_of({"trainer.plugins": [{"class_path": mixed["class_path"]}]},
        ...              {"plugins": [mixed]})
        'bf16-mixed'
    """
    own = trial_trainer(arch, trainer, places)
    value = own.get(PRECISION_KEY)
    if value is None and own.get("plugins") is not None:
        value = plugin_precision(own["plugins"])
    return None if isinstance(value, bool) or value in _FLOAT32 else value


def precision_entry(trainer: Any) -> dict[str, Any]:
    """``{"precision": ...}`` of a Trainer (its public ``precision``) that validates in
    another precision than float32: a one-shot run's ``best_arch.yaml``, whose scores are of
    that precision while ``subnet.pt`` is float32, where they may move (was: unsaid).
    ``{}`` in float32.

    Example:
        >>> from types import SimpleNamespace as Trainer
        >>> precision_entry(Trainer(precision="bf16-mixed"))
        {'precision': 'bf16-mixed'}
        >>> precision_entry(Trainer(precision="32-true"))
        {}
    """
    value = trainer.precision
    return {} if value in _FLOAT32 else {PRECISION_KEY: value}


def plugin_precision(plugins: Any) -> Any:
    """The precision of the first precision plugin (Lightning's ``Precision`` or a
    subclass) among ``plugins`` (objects or config nodes, one alone or a list) as the
    Trainer gets it: an object's ``precision``; a node's ``precision`` argument, else its
    class's default for it, else its class's ``precision`` (``DoublePrecision``:
    ``64-true``). None where there is none (a node whose class does not import: its
    checks say so).

    Example:
        >>> plugin_precision({"class_path": "lightning.pytorch.plugins.HalfPrecision"})
        '16-true'
    """
    from lightning.fabric.plugins.precision.precision import Precision

    for item in plugins if isinstance(plugins, (list, tuple)) else [plugins]:
        if not is_node(item):
            if isinstance(item, Precision):
                return item.precision
            continue
        try:
            cls = import_object(target_path(item))
        except Exception:  # noqa: BLE001 - its checks say so
            continue
        if inspect.isclass(cls) and issubclass(cls, Precision):
            given = node_args(item).get(PRECISION_KEY, _UNGIVEN)
            if given is _UNGIVEN:
                param = inspect.signature(cls).parameters.get(PRECISION_KEY)
                given = cls.precision if param is None or param.default is param.empty \
                    else param.default
            return given
    return None
