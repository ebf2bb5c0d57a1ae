"""The two optimizers of ``DifferentiableNAS`` (``oneshot.differentiable``), built by
``bilevel_optimizers`` for its ``configure_optimizers``: the weights' (a ``torch.optim`` name,
else a LightningModule supernet's own first optimizer, else Adam) and the architecture
logits' (Adam, betas 0.5 and 0.999, as in DARTS). ``lr`` and ``weight_decay`` other than the
defaults beside a module's own optimizer, and a weight optimizer that holds the logits, are a
``ConfigError``; the lr schedulers the module returns for its first optimizer come with them
(``oneshot.weight_schedulers``: stepped by the search as in a plain fit); what else it returns
(another optimizer, its schedulers), which is not used, is warned of.

Example:
    >>> from torch import nn
    >>> from lightning.pytorch.utilities.parsing import AttributeDict
    >>> hp = AttributeDict(optimizer="sgd", lr=0.1, weight_decay=0.0, arch_lr=3e-3,
    ...                    arch_weight_decay=1e-3)
    >>> logits = nn.ParameterDict({"act": nn.Parameter(torch.zeros(2))})
    >>> weights, arch, schedules = bilevel_optimizers(nn.Linear(2, 2), logits, hp)
    >>> type(weights).__name__, type(arch).__name__, arch.defaults["betas"], schedules
    ('SGD', 'Adam', (0.5, 0.999), [])
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.differentiable_args import DEFAULT_LR, DEFAULT_WEIGHT_DECAY
from lightning_nas.oneshot.weight_schedulers import WeightSchedule, weight_schedules
from lightning_nas.oneshot.wrapped import dropped_parts, first_optimizer, optimizer_class
from lightning_nas.user_warnings import warn_rank_zero
from lightning_nas.wording import joined

__all__ = ["bilevel_optimizers"]


def bilevel_optimizers(supernet: nn.Module, logits: nn.ParameterDict, hp: Any
                       ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer,
                                  list[WeightSchedule]]:
    """The weight optimizer, the logits' Adam and the weight optimizer's lr schedulers (of
    a module's own ``configure_optimizers``) of a ``DifferentiableNAS``.

    Args:
        supernet: its supernet (a LightningModule's own ``configure_optimizers`` gives the
            weight optimizer when ``hp.optimizer`` is None).
        logits: its architecture logits (``alphas``).
        hp: its hyperparameters (``optimizer``, ``lr``, ``weight_decay``, ``arch_lr``,
            ``arch_weight_decay``).

    Raises:
        ConfigError: when ``lr`` or ``weight_decay`` are set beside the module's own
            optimizer, the weight optimizer holds the logits, or a scheduler's settings are
            bad (``weight_schedules``).
    """
    weights, schedules = None, []
    if hp.optimizer is None and isinstance(supernet, pl.LightningModule) and (
            type(supernet).configure_optimizers
            is not pl.LightningModule.configure_optimizers):
        returned = supernet.configure_optimizers()
        weights = first_optimizer(returned)
        if weights is not None:  # its schedulers: stepped (was: warned of, and not used)
            schedules = weight_schedules(returned, weights, type(supernet).__name__)
            if dropped := dropped_parts(returned, [s.scheduler for s in schedules]):
                _warn_dropped(supernet, weights, dropped)
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
    return weights, arch, schedules


def _warn_dropped(supernet: nn.Module, weights: torch.optim.Optimizer,
                  dropped: list[str]) -> None:
    """Say what the module's ``configure_optimizers`` returns beside the optimizer taken and
    its schedulers (was: dropped without a word)."""
    name = type(weights).__name__
    warn_rank_zero(
        f"{type(supernet).__name__}.configure_optimizers returns {joined(dropped)} beside its "
        f"first optimizer ({name}), which DifferentiableNAS does not use: the weights train "
        f"with {name} (lr {weights.param_groups[0]['lr']!r}) and its own lr schedulers alone "
        f"(DARTS and GDAS step those of the weight optimizer, as Lightning would); return "
        f"that optimizer and its schedulers alone to silence this, or search with SPOS "
        f"(OneShotNAS), which leaves the optimization to the module")
