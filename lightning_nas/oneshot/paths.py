"""A supernet's search space and paths, read from its choice modules: ``choice_modules``
(every one of a model), ``space_of`` (the decisions their labels make), ``set_path`` /
``get_path`` (the active value of each decision). ``lightning_nas.oneshot.choices``
re-exports them beside the modules.

Example:
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import LayerChoice
    >>> net = nn.Sequential(LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"))
    >>> set_path(net, {"act": "tanh"}); get_path(net)
    {'act': 'tanh'}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from torch import nn

from lightning_nas.errors import SpaceError
from lightning_nas.oneshot.base import ChoiceModule
from lightning_nas.space import Param, SearchSpace

__all__ = ["choice_modules", "get_path", "set_path", "space_of"]


def choice_modules(model: nn.Module) -> Iterator[ChoiceModule]:
    """Every choice module of ``model`` (and inside blocks of a ``Repeat`` or candidates of
    a ``LayerChoice``), in ``model.modules()`` order."""
    for module in model.modules():
        if isinstance(module, ChoiceModule):
            yield module


def space_of(model: nn.Module) -> SearchSpace:
    """The search space of ``model``, derived from its choice modules.

    A label used by several modules is one decision (their choices must agree).

    Args:
        model: a network holding choice modules (or a LightningModule around one).

    Raises:
        SpaceError: when a shared label has different choices, or there is no decision.
    """
    params: dict[str, Param] = {}
    for module in choice_modules(model):
        for label, param in module.decisions().items():
            if label in params and params[label] != param:
                default = next((f" ({label!r} is the default label of {cls}, taken by one "
                                f"left without label=)" for cls, value in _DEFAULT_LABELS
                                if value == label), "")
                raise SpaceError(f"label {label!r} is used with different choices: "
                                 f"{params[label]!r} and {param!r}; the modules of one label "
                                 f"are one decision: give each decision its own label="
                                 f"{default}")
            params[label] = param
    if not params:
        raise SpaceError("the model has no choice module with a decision: build the network "
                         "of lightning_nas.oneshot's LayerChoice, ChoiceConv2d, ChoiceLinear "
                         "or Repeat, each given two values or more (ChoiceLinear(16, [8, 32], "
                         "label='fc1')); to search the module's __init__ arguments instead, "
                         "train a model per trial: lightning-nas search")
    return SearchSpace(params)


#: the labels that choice modules take when none is given
_DEFAULT_LABELS = (("ChoiceConv2d", "conv"), ("ChoiceConv2d", "conv_kernel"),
                   ("ChoiceLinear", "linear"), ("Repeat", "depth"))


def set_path(model: nn.Module, arch: Mapping[str, Any]) -> None:
    """Activate ``arch`` (one value per label) in every choice module of ``model``.

    Args:
        model: a network holding choice modules.
        arch: an architecture of ``space_of(model)``.

    Raises:
        SpaceError: ``arch`` is not one of its space (a label missing, unknown, a value
            out of its choices), or ``model`` has no decision.
    """
    space_of(model).validate(arch)
    for module in choice_modules(model):
        module.activate(arch)


def get_path(model: nn.Module) -> dict[str, Any]:
    """The active architecture of ``model``.

    Args:
        model: a network holding choice modules.
    """
    out: dict[str, Any] = {}
    for module in choice_modules(model):
        out.update(module.active())
    return out
