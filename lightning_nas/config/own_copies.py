"""Each trial's own copy of the fixed arguments it is built with.

A search builds its model and data many times from the same ``init_args`` (each trial, and
the checks before training, more than once). A model that changes what it is given
(``opt.pop("name")``, ``tags.append(width)``) or trains a module it is given would change
it for every later build. ``own_copies`` copies, once per build, the values that hold
weights (a backbone, pretrained tensors: every trial starts from them as given, and the
caller's objects are not trained in place) and plain data (mappings, lists, tuples and sets
of numbers, strings, bools and None: a config's values), in one ``deepcopy``, so that
weights shared between arguments stay shared. Other objects (a callable, a tokenizer) are
passed as they are, as Python passes them.

Example:
    >>> given = {"opt": {"name": "sgd", "lr": 0.1}, "act": print}
    >>> mine = own_copies(given)
    >>> mine["opt"].pop("name"); given["opt"], mine["act"] is print
    'sgd'
    ({'name': 'sgd', 'lr': 0.1}, True)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["holds_weights", "is_plain_data", "own_copies"]

_CONTAINERS = (list, tuple, set, frozenset)


def holds_weights(value: Any) -> bool:
    """Whether ``value`` is, or holds in a list, tuple, set or dict, a module or a tensor."""
    if isinstance(value, nn.Module | torch.Tensor):
        return True
    if isinstance(value, Mapping):
        return any(holds_weights(v) for v in value.values())
    if isinstance(value, _CONTAINERS):
        return any(holds_weights(v) for v in value)
    return False


def is_plain_data(value: Any) -> bool:
    """Whether ``value`` is a mapping or container of numbers, strings, bools and None
    only (a plain scalar is not: it cannot be changed in place).

    Example:
        >>> is_plain_data({"a": [1, "x", None]}), is_plain_data([print]), is_plain_data(3)
        (True, False, False)
    """
    def plain(v: Any) -> bool:
        if v is None or isinstance(v, bool | int | float | str):
            return True
        if isinstance(v, dict):
            return all(plain(k) and plain(x) for k, x in v.items())
        return isinstance(v, _CONTAINERS) and all(plain(x) for x in v)

    return isinstance(value, (dict, *_CONTAINERS)) and plain(value)


def own_copies(init_args: Mapping[str, Any]) -> dict[str, Any]:
    """``init_args`` with the values that hold weights or are plain data copied (in one
    ``deepcopy``); the others as given."""
    copied = {k: v for k, v in init_args.items() if holds_weights(v) or is_plain_data(v)}
    return {**init_args, **copy.deepcopy(copied)}
