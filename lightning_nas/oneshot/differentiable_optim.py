"""The two optimizers of ``DifferentiableNAS`` (``oneshot.differentiable``), built by
``bilevel_optimizers`` for its ``configure_optimizers``: the weights' (a ``torch.optim`` name,
else a LightningModule supernet's own first optimizer, else Adam) and the architecture
logits' (Adam, betas 0.5 and 0.999, as in DARTS). ``lr`` and ``weight_decay`` other than the
defaults beside a module's own optimizer, and a weight optimizer that holds the logits, are a
``ConfigError``.

Example:
    >>> from torch import nn
    >>> from lightning.pytorch.utilities.parsing import AttributeDict
    >>> hp = AttributeDict(optimizer="sgd", lr=0.1, weight_decay=0.0, arch_lr=3e-3,
    ...                    arch_weight_decay=1e-3)
    >>> logits = nn.ParameterDict({"act": nn.Parameter(torch.zeros(2))})
    >>> weights, arch = bilevel_optimizers(nn.Linear(2, 2), logits, hp)
    >>> type(weights).__name__, type(arch).__name__, arch.defaults["betas"]
    ('SGD', 'Adam', (0.5, 0.999))
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.differentiable_args import DEFAULT_LR, DEFAULT_WEIGHT_DECAY
from lightning_nas.oneshot.wrapped import first_optimizer, optimizer_class

__all__ = ["bilevel_optimizers"]


def bilevel_optimizers(supernet: nn.Module, logits: nn.ParameterDict, hp: Any
                       ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """The weight optimizer and the logits' Adam of a ``DifferentiableNAS``.

    Args:
        supernet: its supernet (a LightningModule's own ``configure_optimizers`` gives the
            weight optimizer when ``hp.optimizer`` is None).
        logits: its architecture logits (``alphas``).
        hp: its hyperparameters (``optimizer``, ``lr``, ``weight_decay``, ``arch_lr``,
            ``arch_weight_decay``).

    Raises:
        ConfigError: when ``lr`` or ``weight_decay`` are set beside the module's own
            optimizer, or the weight optimizer holds the logits.
    """
    weights = None
    if hp.optimizer is None and isinstance(supernet, pl.LightningModule) and (
            type(supernet).configure_optimizers
            is not pl.LightningModule.configure_optimizers):
        weights = first_optimizer(supernet.configure_optimizers())
    if weights is None:
        weights = optimizer_class(hp.optimizer or "adam")(
            supernet.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    elif (hp.lr, hp.weight_decay) != (DEFAULT_LR, DEFAULT_WEIGHT_DECAY):  # (was: taken,
        # and ignored)
        raise ConfigError(
            f"DifferentiableNAS(lr={hp.lr!r}, weight_decay={hp.weight_decay!r}) sets the "
            f"weight optimizer it builds, but {type(supernet).__name__}."
            f"configure_optimizers gives it (lr {weights.param_groups[0]['lr']!r}); set "
            f"them there, or pass optimizer= (e.g. 'adam') to build it with them")
    alphas = {id(p) for p in logits.parameters()}
    if any(id(p) in alphas for group in weights.param_groups for p in group["params"]):
        raise ConfigError("the weight optimizer must not hold the architecture logits")
    arch = torch.optim.Adam(logits.parameters(), lr=hp.arch_lr, betas=(0.5, 0.999),
                            weight_decay=hp.arch_weight_decay)
    return weights, arch
