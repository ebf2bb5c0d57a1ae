"""A search space's groups (a mapping with no kind key, ``net: {hidden: {choice: [4, 8]}}``)
and the config paths their parameters set (``space_leaves``), and the values a parameter
may take (``param_options``), in the space's YAML mapping form.

Example:
    >>> is_space_group({"hidden": {"choice": [4, 8]}}), is_space_group({"choice": [4, 8]})
    (True, False)
    >>> space_leaves("model.net", {"hidden": {"choice": [4, 8]}, "depth": {"fixed": 2}})
    ['model.net.hidden', 'model.net.depth']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["is_space_group", "param_options", "space_leaves"]


def is_space_group(spec: Any) -> bool:
    """Whether a space value is a group (a mapping with no kind key), not a parameter."""
    from lightning_nas.space.params import KINDS  # the space imports nevergrad: when needed

    return isinstance(spec, Mapping) and not any(kind in KINDS for kind in spec)


def space_leaves(path: str, spec: Any) -> list[str]:
    """The dotted path of each parameter of ``spec``, the space's value at the config path
    ``path`` (a group's by its keys, nested; a parameter's: ``path`` itself).

    Example:
        >>> space_leaves("data.aug", {"p": {"float": [0.0, 1.0]}, "k": {"n": {"fixed": 1}}})
        ['data.aug.p', 'data.aug.k.n']
    """
    if not is_space_group(spec):
        return [path]
    return [leaf for name, item in spec.items() for leaf in space_leaves(f"{path}.{name}", item)]


def param_options(spec: Any) -> list[Any]:
    """The values a space parameter (in the space's YAML mapping form) may take that a check
    builds: a choice's options, a range's bounds, a fixed value.

    Example:
        >>> param_options({"choice": [4, "wide"]}), param_options({"int": [1, 8]})
        ([4, 'wide'], [1, 8])
    """
    if not isinstance(spec, Mapping):
        return []
    for kind in ("choice", "ordered", "int", "float"):
        if kind in spec and isinstance(spec[kind], (list, tuple)):
            return list(spec[kind])
    return [spec["fixed"]] if "fixed" in spec else []
