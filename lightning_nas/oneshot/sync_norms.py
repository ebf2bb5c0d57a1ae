"""Lightning's ``sync_batchnorm`` and the supernet's ``ChoiceBatchNorm2d``.

``Trainer(sync_batchnorm=True)`` under a DDP strategy swaps every ``BatchNorm`` of the model
for torch's ``SyncBatchNorm`` (``SyncBatchNorm.convert_sync_batchnorm``) when the fit sets up
the strategy. A ``ChoiceBatchNorm2d`` is a ``BatchNorm2d``, so it is swapped too, and the
plain layer that takes its place normalises all its channels: a path of a narrower width
fails at its first step, and a DARTS / GDAS mixed forward loses the mask it re-applies (the
supernet computes something else, without an error). ``choice_norms`` names those layers
before the fit sets up (``setup``, ``__init__``); ``check_norms_kept`` refuses the fit at its
start (``on_fit_start``, after the swap, before any step) when one was swapped.

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

from torch import nn

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.choices import ChoiceBatchNorm2d

__all__ = ["check_norms_kept", "choice_norms"]


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
