"""Models whose ``configure_optimizers`` is LightningModule's default, or comes from a
mixin or a parent class of the project's: a search refuses the first where no optimizer
section gives it one, and takes the others.

Example:
    >>> from lightning.pytorch.utilities.model_helpers import is_overridden
    >>> is_overridden("configure_optimizers", NoOptimNet, parent=pl.LightningModule)
    False
    >>> is_overridden("configure_optimizers", ParentNet, parent=pl.LightningModule)
    True
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch

from tests.helpers_models import TinyNet

__all__ = ["HydraMixed", "HydraNoOptim", "MixedNet", "NoOptimNet", "ParentNet", "SgdMixin"]


class NoOptimNet(TinyNet):
    """TinyNet without a ``configure_optimizers`` of its own: LightningModule's default."""

    configure_optimizers = pl.LightningModule.configure_optimizers


class SgdMixin:
    """A project's mixin that gives its models their optimizer."""

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


class MixedNet(SgdMixin, NoOptimNet):
    """A model whose ``configure_optimizers`` comes from a mixin of the project's."""


class ParentNet(MixedNet):
    """A model whose ``configure_optimizers`` comes from a parent class of the project's."""


class HydraNoOptim(NoOptimNet):
    """``NoOptimNet`` whose node sits in a Hydra sweep's ``model`` group (its options set
    ``name`` and ``depth``)."""

    def __init__(self, name: str = "a", depth: int = 1) -> None:
        super().__init__(depth=depth)


class HydraMixed(SgdMixin, HydraNoOptim):
    """``HydraNoOptim`` given its optimizer by a mixin of the project's."""
