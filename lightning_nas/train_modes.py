"""Each submodule's train/eval mode kept across a round trip in eval mode (``kept_modes``),
as Lightning keeps them across validation: ``module.train(flag)`` sets every submodule's,
so a submodule the user put in eval mode (a frozen backbone's BatchNorm) would train again.

Example:
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    >>> _ = net[1].eval()  # frozen
    >>> with kept_modes(net):
    ...     _ = net.eval()
    >>> net.training, net[1].training
    (True, False)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

__all__ = ["kept_modes"]


@contextmanager
def kept_modes(module: nn.Module) -> Iterator[None]:
    """Restore, on exit, the ``training`` flag of ``module`` and of each of its submodules
    as it was on entry (was, in lightning_nas's checks, scoring and export:
    ``module.train(was_training)``, which put a frozen submodule back in train mode).

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Dropout(), nn.Dropout().eval())
        >>> with kept_modes(net):
        ...     _ = net.train()
        >>> [m.training for m in net]
        [True, False]
    """
    modes = [(m, m.training) for m in module.modules()]
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training
