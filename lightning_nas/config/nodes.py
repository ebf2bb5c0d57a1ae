"""Config nodes that build an object: LightningCLI ``{class_path, init_args}`` specs and Hydra
``{_target_, ...}`` nodes, read the same way wherever a config names an object.

A Hydra node keeps its arguments beside ``_target_`` and may say ``_args_`` (positional
arguments), ``_partial_: true`` (build ``functools.partial(target, ...)``, called later with
the missing arguments, e.g. an optimizer with its parameters) and ``_recursive_: false``
(pass nested nodes unbuilt). A ``class_path`` spec takes ``_partial_`` too. Nothing here
needs Hydra installed.

Example:
    >>> node = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01}
    >>> is_node(node), target_path(node), node_args(node)
    (True, 'torch.optim.Adam', {'lr': 0.01})
    >>> with_args({"class_path": "m.Net", "init_args": {"w": 1}}, {"w": 2})
    {'class_path': 'm.Net', 'init_args': {'w': 2}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.errors import ConfigError

__all__ = [
    "HYDRA_KEYS",
    "SPEC_KEYS",
    "check_node_keys",
    "contains_node",
    "is_hydra",
    "is_node",
    "node_args",
    "target_path",
    "with_args",
]

#: the reserved keys of a Hydra node
HYDRA_KEYS = ("_target_", "_args_", "_partial_", "_recursive_", "_convert_")
#: the keys of a LightningCLI spec (``_partial_`` is ours)
SPEC_KEYS = ("class_path", "init_args", "_partial_")


def is_hydra(value: Any) -> bool:
    """Whether ``value`` is a Hydra node (a mapping with ``_target_``)."""
    return isinstance(value, Mapping) and "_target_" in value


def is_node(value: Any) -> bool:
    """Whether ``value`` builds an object: a ``class_path`` spec or a Hydra node."""
    return isinstance(value, Mapping) and ("class_path" in value or "_target_" in value)


def target_path(node: Mapping[str, Any]) -> Any:
    """The import path the node builds."""
    return node["_target_"] if is_hydra(node) else node.get("class_path")


def node_args(node: Mapping[str, Any]) -> dict[str, Any]:
    """The node's keyword arguments (``init_args``, or a Hydra node's plain keys)."""
    if is_hydra(node):
        return {k: v for k, v in node.items() if k not in HYDRA_KEYS}
    return dict(node.get("init_args") or {})


def with_args(node: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``node`` with its keyword arguments replaced by ``args``."""
    if is_hydra(node):
        return {**{k: v for k, v in node.items() if k in HYDRA_KEYS}, **args}
    return {**node, "init_args": dict(args)}


def contains_node(value: Any) -> bool:
    """Whether ``value`` is or holds (in mappings and lists) a node."""
    if is_node(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_node(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_node(v) for v in value)
    return False


def check_node_keys(node: Mapping[str, Any], where: str) -> None:
    """Raise ``ConfigError`` for keys a ``class_path`` spec does not take, or a Hydra node
    whose ``_args_`` is not a list or whose flags are not booleans."""
    if is_hydra(node):
        if "class_path" in node:
            raise ConfigError(f"{where}: a node has either class_path (LightningCLI) or "
                              f"_target_ (Hydra), not both")
        if not isinstance(node.get("_args_", []), (list, tuple)):
            raise ConfigError(f"{where}._args_: expected a list of positional arguments, got "
                              f"{node['_args_']!r}")
        for flag in ("_partial_", "_recursive_"):
            if flag in node and not isinstance(node[flag], bool):
                raise ConfigError(f"{where}.{flag}: expected true or false, got "
                                  f"{node[flag]!r}")
        return
    extra = sorted(set(node) - set(SPEC_KEYS))
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {extra} beside class_path "
                          f"{node.get('class_path')!r}; valid keys: {', '.join(SPEC_KEYS)} "
                          f"(or a Hydra node with _target_)")
    if not isinstance(node.get("init_args") or {}, Mapping):
        raise ConfigError(f"{where}.init_args: expected a mapping, got {node['init_args']!r}")
