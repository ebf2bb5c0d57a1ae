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

__all__ = ["Modes", "frozen_names", "kept_modes", "modes_of", "restore_modes"]

#: each module of a tree with its ``training`` flag (``modes_of``)
Modes = list[tuple["nn.Module", bool]]


def modes_of(module: nn.Module) -> Modes:
    """The ``training`` flag of ``module`` and of each of its submodules, for
    ``restore_modes`` (across two hooks, as Lightning's ``_ModuleMode`` across validation).

    Example:
        >>> from torch import nn
        >>> [mode for _, mode in modes_of(nn.Sequential(nn.Dropout().eval()))]
        [True, False]
    """
    return [(m, m.training) for m in module.modules()]


def frozen_names(module: nn.Module) -> list[str]:
    """The names of the submodules of ``module`` that the user froze: each one in eval mode
    whose parent is in training mode (not its own submodules, which ``.eval()`` on it sets
    too), in ``named_modules`` order; none where ``module`` itself is in eval mode (all are:
    none can be told frozen). What ``best_arch.yaml``'s ``frozen`` lists, and what
    ``finetune_subnet`` puts back in eval mode after its ``.train()``.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.BatchNorm1d(2), nn.ReLU()))
        >>> _ = net[1].eval()
        >>> frozen_names(net), frozen_names(net.eval())
        (['1'], [])
    """
    if not module.training:
        return []
    names: list[str] = []
    for name, child in module.named_children():
        names += [name] if not child.training else [f"{name}.{inner}"
                                                     for inner in frozen_names(child)]
    return names

def restore_modes(modes: Modes) -> None:
    """Put back the flags ``modes_of`` recorded (a submodule added since keeps its own).

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Dropout().eval())
        >>> modes = modes_of(net)
        >>> _ = net.train()
        >>> restore_modes(modes)
        >>> net[0].training
        False
    """
    for m, training in modes:
        m.training = training


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
    modes = modes_of(module)
    try:
        yield
    finally:
        restore_modes(modes)
