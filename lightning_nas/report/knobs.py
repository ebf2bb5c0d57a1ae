"""The knobs of a stored space as the choice plot reads them (no matplotlib): each
parameter's dotted key and mapping (``space_params``), a knob's value in an architecture
(``arch_value``), the ranges declared ``log: true`` (``log_scaled``), the options of the
choices (``choice_options``) and the order of a choice's axis (``choice_order``);
``report/plots.py``'s ``choices_figure`` draws with them.

Example:
    >>> space = {"act": {"choice": ["relu", "gelu"]}, "lr": {"float": [1e-4, 1e-1], "log": True}}
    >>> [key for key, _ in space_params(space)], sorted(log_scaled(space))
    (['act', 'lr'], ['lr'])
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lightning_nas.config.paths import get_dotted
from lightning_nas.numeric import is_number

__all__ = ["arch_value", "choice_options", "choice_order", "log_scaled", "space_params"]


def log_scaled(space: dict[str, Any], prefix: str = "") -> set[str]:
    """The (dotted) keys of a stored space's ranges with ``log: true``.

    Example:
        >>> sorted(log_scaled({"lr": {"float": [1e-4, 1e-1], "log": True},
        ...                    "head": {"w": {"int": [8, 64], "log": True}},
        ...                    "k": {"choice": [3, 5]}}))
        ['head.w', 'lr']
    """
    return {key for key, spec in space_params(space, prefix) if spec.get("log")}


def space_params(space: dict[str, Any], prefix: str = ""
                 ) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(dotted key, mapping)`` of each parameter of a stored space, groups walked.

    Example:
        >>> list(space_params({"head": {"w": {"int": [8, 64]}}, "k": {"choice": [3, 5]}}))
        [('head.w', {'int': [8, 64]}), ('k', {'choice': [3, 5]})]
    """
    for key, spec in space.items():
        if not isinstance(spec, dict):
            continue
        if any(kind in spec for kind in ("choice", "ordered", "int", "float", "fixed")):
            yield f"{prefix}{key}", spec
        else:
            yield from space_params(spec, f"{prefix}{key}.")


def arch_value(arch: dict[str, Any], key: str) -> Any:
    """The value of a space key in an architecture: a key of its own (a Hydra sweep's
    ``model.lr``), else a path through its groups, whose own keys may be dotted (a group at
    a config node, ``model.net: {width: ...}``, gives ``model.net.width``); None if absent.

    Example:
        >>> arch_value({"model.net": {"width": 16}, "lr": 0.1}, "model.net.width")
        16
    """
    if key in arch:
        return arch[key]
    parts = key.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest dotted key of the arch first
        head = ".".join(parts[:cut])
        if isinstance(arch.get(head), dict):
            return arch_value(arch[head], ".".join(parts[cut:]))
    return get_dotted(arch, key)


def choice_options(space: dict[str, Any], prefix: str = "") -> dict[str, list[Any]]:
    """The options of a stored space's choices, by (dotted) key, in their declared order.

    Example:
        >>> choice_options({"act": {"choice": ["relu", "gelu"]}, "h": {"w": {"ordered": [8, 4]}},
        ...                 "lr": {"float": [0.1, 1.0]}})
        {'act': ['relu', 'gelu'], 'h.w': [8, 4]}
    """
    return {key: list(spec.get("choice", spec.get("ordered")))
            for key, spec in space_params(space, prefix) if "choice" in spec or "ordered" in spec}


def choice_order(values: list[Any], declared: list[Any] | None = None) -> list[Any]:
    """The distinct ``values`` in the order of an axis: numbers by value, others as the
    space declares them (then by their text).

    Example:
        >>> choice_order([0.1, 0.001, 0.01, 0.1])
        [0.001, 0.01, 0.1]
        >>> choice_order(["tanh", "relu", "gelu"], declared=["relu", "gelu", "tanh"])
        ['relu', 'gelu', 'tanh']
    """
    distinct = list({json.dumps(v): v for v in values}.values())
    if all(is_number(v) for v in distinct):
        return sorted(distinct)
    place = {json.dumps(v): i for i, v in enumerate(declared or [])}
    return sorted(distinct, key=lambda v: (place.get(json.dumps(v), len(place)), json.dumps(v)))
