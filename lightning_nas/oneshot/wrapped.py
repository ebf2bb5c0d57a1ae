"""What ``DifferentiableNAS`` takes from the network it wraps: the weight optimizer (a
``torch.optim`` name, or the first optimizer of a LightningModule's
``configure_optimizers``), and the ``self.log`` that its ``training_step`` calls while it
is the search's loss (dropped).

Example:
    >>> optimizer_class("sgd").__name__
    'SGD'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lightning_nas.errors import unknown

__all__ = ["drop_log", "first_optimizer", "optimizer_class"]


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The ``torch.optim`` class ``name`` (case-insensitive); an unknown name is a
    ``ConfigError`` listing the valid ones."""
    table = {n.lower(): c for n, c in vars(torch.optim).items()
             if isinstance(c, type) and issubclass(c, torch.optim.Optimizer)
             and c is not torch.optim.Optimizer}
    if name.lower() not in table:
        raise unknown("optimizer", name, sorted(table))
    return table[name.lower()]


def drop_log(*args: Any, **kwargs: Any) -> None:
    """``self.log`` of a wrapped LightningModule's ``training_step`` (``log_dict`` calls it)."""


def first_optimizer(value: Any) -> torch.optim.Optimizer | None:
    """The optimizer of a ``configure_optimizers`` result (the first one; schedulers are
    dropped)."""
    if isinstance(value, torch.optim.Optimizer):
        return value
    if isinstance(value, Mapping):
        return first_optimizer(value.get("optimizer"))
    if isinstance(value, (list, tuple)) and value:
        return first_optimizer(value[0])
    return None
