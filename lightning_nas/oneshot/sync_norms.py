"""Lightning's ``sync_batchnorm`` and the supernet's ``ChoiceBatchNorm2d``.

``Trainer(sync_batchnorm=True)`` under a DDP strategy swaps every ``BatchNorm`` of the model
for torch's ``SyncBatchNorm`` (``SyncBatchNorm.convert_sync_batchnorm``) when the fit sets up
the strategy. A ``ChoiceBatchNorm2d`` is a ``BatchNorm2d``, so it is swapped too, and the
plain layer that takes its place normalises all its channels: a path of a narrower width
fails at its first step, and a DARTS / GDAS mixed forward loses the mask it re-applies (the
supernet computes something else, without an error). ``choice_norms`` names those layers
before the fit sets up (``setup``, ``__init__``); ``check_norms_kept`` refuses the fit at its
start (``on_fit_start``, after the swap, before any step) when one was swapped. Without it,
each rank keeps its own running statistics: ``share_statistics`` gives every rank the same
(rank 0's, or their mean over the ranks) where one network must be scored or validated.

Example:
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), ChoiceBatchNorm2d(8))
    >>> names = choice_norms(net)
    >>> names
    ['1']
    >>> check_norms_kept(net, names, "OneShotNAS")
    >>> check_norms_kept(nn.SyncBatchNorm.convert_sync_batchnorm(net), names, "OneShotNAS")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: OneShotNAS: the Trainer's sync_batchnorm=True ...
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightning.pytorch.strategies import Strategy
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.choices import ChoiceBatchNorm2d

__all__ = ["check_norms_kept", "choice_norms", "running_norms", "share_statistics"]


def choice_norms(module: nn.Module) -> list[str]:
    """The names of ``module``'s ``ChoiceBatchNorm2d`` layers (``named_modules``).

    Args:
        module: the LightningModule (or network) the fit trains.
    """
    return [name for name, layer in module.named_modules() if isinstance(layer, ChoiceBatchNorm2d)]


def check_norms_kept(module: nn.Module, names: Sequence[str], who: str) -> None:
    """Refuse a fit whose strategy swapped a ``ChoiceBatchNorm2d`` (named in ``names``) for a
    plain ``SyncBatchNorm`` (``sync_batchnorm=True``).

    Args:
        module: the module ``names`` were taken of, as the fit's strategy set it up.
        names: ``choice_norms(module)`` before the fit set up.
        who: the search, for the message (``OneShotNAS``, ``DifferentiableNAS``).

    Raises:
        ConfigError: naming the swapped layers and what to do.
    """
    swapped = [name for name in names
               if isinstance(module.get_submodule(name), nn.SyncBatchNorm)]
    if swapped:
        more = f" (and {len(swapped) - 1} more)" if len(swapped) > 1 else ""
        raise ConfigError(
            f"{who}: the Trainer's sync_batchnorm=True swapped the supernet's "
            f"ChoiceBatchNorm2d {swapped[0]!r}{more} for torch's SyncBatchNorm, which "
            f"normalises all its channels: a narrower path fails and a mixed (DARTS, GDAS) "
            f"forward is computed without its mask. Leave sync_batchnorm off (each rank "
            f"normalises its own batch, as ChoiceBatchNorm2d does); nothing was trained")


def running_norms(module: nn.Module) -> list[_BatchNorm]:
    """The BatchNorm layers of ``module`` that keep running statistics (``ChoiceBatchNorm2d``
    included: it is a ``BatchNorm2d``).

    Example:
        >>> len(running_norms(nn.Sequential(nn.BatchNorm1d(2), nn.BatchNorm1d(2, affine=False),
        ...                                 nn.BatchNorm1d(2, track_running_stats=False))))
        2
    """
    return [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def share_statistics(module: nn.Module, strategy: Strategy, averaged: bool = False) -> None:
    """Give every rank of a multi-process ``strategy`` the same BatchNorm running statistics
    (``running_norms``): rank 0's, which its checkpoint and export hold, or with
    ``averaged`` their mean over the ranks. One reduce either way, made by every rank; a
    single process is left as it is.

    Under DDP each rank updates its statistics with its own batches; Lightning's DDP
    broadcasts rank 0's before each forward under automatic optimization only (manual
    optimization, as DARTS/GDAS's, turns that off), so a network scored or validated on
    every rank must be given one set first.

    Example:
        >>> import lightning.pytorch as pl
        >>> share_statistics(nn.BatchNorm1d(2), pl.Trainer(logger=False).strategy)  # one rank
    """
    norms = running_norms(module)
    if not norms or strategy.world_size <= 1:
        return
    stats = [buf for m in norms for buf in (m.running_mean, m.running_var)]
    flat = torch.cat([b.flatten() for b in stats])
    if not averaged and not strategy.is_global_zero:
        flat = torch.zeros_like(flat)  # rank 0's alone survive the sum
    flat = strategy.reduce(flat, reduce_op="mean" if averaged else "sum")
    for buf, value in zip(stats, flat.split([b.numel() for b in stats]), strict=True):
        buf.copy_(value.view_as(buf))
