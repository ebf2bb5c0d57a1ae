"""The decisions a supernet's active path reaches: ``reached_arch``; those an architecture
holds that its path does not (``unreached``: ``best_arch.yaml`` names them).

A decision inside a ``Repeat``'s block beyond the chosen depth, or inside a ``LayerChoice``
candidate not taken, does not shape the subnet: architectures that differ only in such
decisions are one network. An SPOS search scores each network once (``OneShotNAS.search``;
was: each such architecture scored again, listed as another subnet).

Example:
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import LayerChoice, Repeat, set_path
    >>> net = Repeat(lambda i: LayerChoice([nn.ReLU(), nn.Tanh()], label=f"op{i}"), [1, 2])
    >>> set_path(net, {"depth": 1, "op0": "1", "op1": "0"})
    >>> reached_arch(net)
    {'depth': 1, 'op0': '1'}
    >>> unreached(net, {"depth": 1, "op0": "1", "op1": "0"})
    ['op1']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from lightning_nas.oneshot.base import ChoiceModule
from lightning_nas.oneshot.choices import LayerChoice, Repeat
from lightning_nas.oneshot.paths import get_path, set_path

__all__ = ["reached_arch", "unreached"]


def reached_arch(model: nn.Module) -> dict[str, Any]:
    """The active value of each decision of ``model`` that its active path reaches: every
    module is walked but the candidates a ``LayerChoice`` does not take and the blocks past
    a ``Repeat``'s depth (a module held at several places is reached if one of them is)."""
    out: dict[str, Any] = {}
    seen: set[int] = set()
    stack = [model]
    while stack:
        module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        if isinstance(module, ChoiceModule):
            out.update(module.active())
        if isinstance(module, LayerChoice):
            stack.append(module.candidates[module.chosen])
        elif isinstance(module, Repeat):
            stack.extend(module.blocks[:module.depth])
        else:
            stack.extend(module.children())
    return {label: out[label] for label in sorted(out)}


def unreached(model: nn.Module, arch: Mapping[str, Any]) -> list[str]:
    """The labels of ``arch``'s decisions that its path through ``model`` does not reach
    (``reached_arch``), sorted: its subnet is the same network whatever their values.
    ``best_arch.yaml`` lists them as ``unreached`` beside the whole ``arch``, which
    ``set_path`` takes (every decision; was: not said, as if each shaped the subnet).
    ``model``'s active path is kept."""
    previous = get_path(model)
    set_path(model, arch)
    try:
        return sorted(set(arch) - set(reached_arch(model)))
    finally:
        set_path(model, previous)
