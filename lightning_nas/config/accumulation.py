"""The most training batches ``max_steps`` optimizer steps can take under gradient
accumulation, for the check that an integer ``val_check_interval`` across epochs
(``check_val_every_n_epoch=None``) is ever reached (``trainer_checks.check_validation_runs``).

One optimizer step takes up to ``accumulate_grad_batches`` training batches, or a
``GradientAccumulationScheduler``'s factor of the epoch (``{epoch: factor}``, each factor
from its epoch on); the last batches of an epoch step alone, so an epoch of ``N`` batches
takes ``ceil(N / factor)`` steps. ``accumulation`` reads the schedule from the Trainer
settings, and the module's ``configure_callbacks()`` (a scheduler there replaces the
Trainer's, as Lightning does); ``most_batches`` counts the most batches the steps can
take, over epochs of any length (the data's are not known before training): exact where
the factor changes between the epochs a trial reaches.

Example:
    >>> most_batches(4, {0: 2})  # one long epoch: 4 steps of 2
    8
    >>> most_batches(4, {0: 1, 1: 2})  # epochs of 2: 2 steps, 1 step, 1 step of epoch 2
    6
    >>> most_batches(4, {0: 1, 2: 4}, epochs=2)  # epoch 2 is never reached
    4
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_nas.config.instantiate import import_object
from lightning_nas.config.node_labels import node_label
from lightning_nas.config.nodes import is_node, node_args, target_path
from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int

__all__ = ["SIMULATED", "accumulation", "most_batches", "said", "unbuilt_callbacks"]

#: the most epoch lengths ``most_batches`` tries (steps times the largest factor); above it
#: the largest factor of the epochs reached counts for every step (an upper bound)
SIMULATED = 4096


def most_batches(steps: int, scheduling: Mapping[int, int], epochs: int | None = None) -> int:
    """The most training batches ``steps`` optimizer steps take over epochs of one length,
    any length, under ``scheduling`` (``{epoch: factor}``, each factor from its epoch on;
    epoch 0 without one: 1), in at most ``epochs`` epochs (None: no limit).

    An epoch takes at least one step, so the epochs reached are fewer than ``steps``. Where
    the factor is the same in all of them, ``steps`` times it (one epoch long enough);
    otherwise each epoch length up to ``steps`` times the largest factor is tried, or, past
    ``SIMULATED``, that product is the bound.
    """
    reached = steps if epochs is None or epochs < 1 else min(epochs, steps)
    keys = sorted(k for k in scheduling if k < reached)
    factors = {0: 1, **{k: scheduling[k] for k in keys}}

    def factor(epoch: int) -> int:
        return factors[max(k for k in factors if k <= epoch)]

    largest = max(factors.values())
    if len(set(factors.values())) == 1 or steps * largest > SIMULATED:
        return steps * largest
    best = 0
    for length in range(1, steps * largest + 1):
        left, batches, epoch = steps, 0, 0
        while left > 0 and epoch < reached:
            need = math.ceil(length / factor(epoch))
            if need > left:  # max_steps ends this epoch: each step takes its factor
                batches += left * factor(epoch)
                break
            batches, left, epoch = batches + length, left - need, epoch + 1
        best = max(best, batches)
    return best


def accumulation(kwargs: Mapping[str, Any],
                 module_callbacks: Sequence[Any] = ()) -> tuple[dict[int, int], str] | None:
    """The accumulation schedule of Trainer settings ``kwargs`` (``{epoch: factor}``) and
    where it is said: a ``GradientAccumulationScheduler`` of ``module_callbacks`` (what the
    module's ``configure_callbacks()`` returns; Lightning drops the Trainer's for it), else
    one of the ``callbacks`` (an object's ``scheduling``, or a config node's; a node of a
    config's mapping of named callbacks said by its name, ``node_labels.node_label``), else
    ``accumulate_grad_batches`` (1 where it is no integer above 1); where a scheduler is
    given beside ``accumulate_grad_batches`` (Lightning refuses the pair when fit starts),
    the larger factor counts. None where a scheduler's factors cannot be known before
    training (a node that leaves its ``scheduling`` to its class).

    Example:
        >>> accumulation({"accumulate_grad_batches": 2})
        ({0: 2}, 'accumulate_grad_batches=2')
    """
    value = kwargs.get("accumulate_grad_batches")
    factor = value if is_int(value) and value > 1 else 1
    given = kwargs.get("callbacks")
    items = given if isinstance(given, (list, tuple)) else [given]
    found = [(node_label("trainer.callbacks", i) if isinstance(given, (list, tuple))
              else "trainer.callbacks", item) for i, item in enumerate(items)]  # by its name
    own = [("the module's configure_callbacks()", item) for item in module_callbacks]
    if any(_scheduler(item) for _, item in own):
        found = own
    schedule, source = {0: factor}, f"accumulate_grad_batches={factor}"
    for where, item in found:
        cls = _scheduler(item)
        if cls is None:
            continue
        if is_node(item):  # as the class would take it: keyword, or a Hydra node's first
            args = node_args(item)
            scheduling = args.get("scheduling", (item.get("_args_") or [None])[0])
        else:
            scheduling = item.scheduling
        if isinstance(scheduling, Mapping):  # a config's keys may be strings of digits
            scheduling = {int(k) if isinstance(k, str) and k.isdigit() else k: f
                          for k, f in scheduling.items()}
        if not isinstance(scheduling, Mapping) or not scheduling or not all(
                is_int(k) and k >= 0 and is_int(f) and f >= 1 for k, f in scheduling.items()):
            return None  # not known before training: no refusal on a guess
        if max(scheduling.values()) >= max(schedule.values()):
            schedule, source = dict(sorted(scheduling.items())), f"{where} ({cls.__name__})"
    return schedule, source


def said(schedule: Mapping[int, int], source: str, steps: int, most: int) -> str:
    """How ``most_batches`` counted ``most`` batches of ``steps`` steps under ``schedule``
    from ``source`` (``accumulation``'s), for a refusal: nothing where every factor is 1.

    Example:
        >>> said({0: 2}, "accumulate_grad_batches=2", 4, 8)
        ' (of accumulate_grad_batches=2 batches each at most: 8 batches)'
        >>> said({0: 1, 1: 2}, "trainer.callbacks[0] (GradientAccumulationScheduler)", 4, 6)
        " (of trainer.callbacks[0] (GradientAccumulationScheduler)'s factors {0: 1, 1: 2}: at \
most 6 batches)"
    """
    factors = set(schedule.values())
    if factors == {1}:
        return ""
    if len(factors) > 1:
        return f" (of {source}'s factors {dict(schedule)}: at most {most} batches)"
    factor = factors.pop()
    each = source if source.startswith("accumulate_grad_batches") else (
        f"{source}'s largest factor, {factor}")
    return f" (of {each} batches each at most: {steps * factor} batches)"


def unbuilt_callbacks(target: Any) -> list[Any] | None:
    """What ``module_callbacks`` of ``check_validation_runs`` is before the model is built
    from ``target`` (a class, an import path, a config node, or a builder with a
    ``target()``): ``[]`` for a ``LightningModule`` class that does not override
    ``configure_callbacks()`` (it returns none), else None (not known until it is built:
    a ``lightning-nas fit`` or a fine-tune of a module whose scheduler the search counted
    is not refused on a guess).

    Example:
        >>> import lightning.pytorch as pl
        >>> unbuilt_callbacks(pl.LightningModule), unbuilt_callbacks("no.such.Module")
        ([], None)
    """
    import lightning.pytorch as pl

    try:
        if is_node(target):  # a config's model section
            target = target_path(target)
        if isinstance(target, str):
            target = import_object(target)
        elif callable(getattr(target, "target", None)):
            target = target.target()
    except Exception:  # noqa: BLE001 - the model's own build says what is wrong
        return None
    if isinstance(target, type) and issubclass(target, pl.LightningModule) and (
            target.configure_callbacks is pl.LightningModule.configure_callbacks):
        return []
    return None


def _scheduler(item: Any) -> type | None:
    """The class of ``item`` (an object or a config node) where it is a
    ``GradientAccumulationScheduler`` (or a subclass), else None."""
    from lightning.pytorch.callbacks import GradientAccumulationScheduler

    try:
        cls = import_object(target_path(item)) if is_node(item) else type(item)
    except ConfigError:  # the callbacks' own check names a bad class path
        return None
    return cls if isinstance(cls, type) and issubclass(cls, GradientAccumulationScheduler) \
        else None

