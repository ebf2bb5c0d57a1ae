"""Config nodes that build an object: LightningCLI ``{class_path, init_args}`` specs and Hydra
``{_target_, ...}`` nodes, read the same way wherever a config names an object.

A Hydra node keeps its arguments beside ``_target_`` and may say ``_args_`` (positional
arguments), ``_partial_: true`` (build ``functools.partial(target, ...)``, called later with
the missing arguments, e.g. an optimizer with its parameters) and ``_recursive_: false``
(pass nested nodes unbuilt). A ``class_path`` spec takes ``_partial_`` too, and, as
LightningCLI, ``dict_kwargs`` beside ``init_args``: keyword arguments its class takes only
through ``**kwargs``, passed as ``init_args`` are. Nothing here needs Hydra installed.

Example:
    >>> node = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01}
    >>> is_node(node), target_path(node), node_args(node)
    (True, 'torch.optim.Adam', {'lr': 0.01})
    >>> with_args({"class_path": "m.Net", "init_args": {"w": 1}}, {"w": 2})
    {'class_path': 'm.Net', 'init_args': {'w': 2}}
    >>> node_args({"class_path": "m.Net", "init_args": {"w": 1}, "dict_kwargs": {"d": 2}})
    {'w': 1, 'd': 2}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.config.dict_args import data_args_of
from lightning_nas.config.node_labels import node_label
from lightning_nas.errors import ConfigError
from lightning_nas.wording import named

__all__ = [
    "ARGS_KEYS",
    "HYDRA_KEYS",
    "SPEC_KEYS",
    "builds_at",
    "check_node_keys",
    "check_nodes",
    "contains_node",
    "dict_kwargs_keys",
    "is_hydra",
    "is_node",
    "node_args",
    "target_path",
    "with_args",
]

#: the reserved keys of a Hydra node
HYDRA_KEYS = ("_target_", "_args_", "_partial_", "_recursive_", "_convert_")
#: the keys of a LightningCLI spec (``_partial_`` is ours)
SPEC_KEYS = ("class_path", "init_args", "dict_kwargs", "_partial_")
#: the levels of a spec that hold its arguments, which a path into a config may leave out
ARGS_KEYS = ("init_args", "dict_kwargs")


def is_hydra(value: Any) -> bool:
    """Whether ``value`` is a Hydra node (a mapping with ``_target_``)."""
    return isinstance(value, Mapping) and "_target_" in value


def is_node(value: Any) -> bool:
    """Whether ``value`` builds an object: a ``class_path`` spec or a Hydra node."""
    return isinstance(value, Mapping) and ("class_path" in value or "_target_" in value)


def builds_at(value: Any, hydra: bool) -> bool:
    """Whether ``value`` builds an object where it stands: in a Hydra ``_target_`` node's
    arguments (``hydra``) only another ``_target_`` node does, a ``{class_path, init_args}``
    mapping there being data, as Hydra's ``instantiate`` passes it; elsewhere either kind.

    Example:
        >>> builds_at({"class_path": "m.Net"}, True), builds_at({"_target_": "m.Net"}, True)
        (False, True)
    """
    return is_hydra(value) if hydra else is_node(value)


def target_path(node: Mapping[str, Any]) -> Any:
    """The import path the node builds."""
    return node["_target_"] if is_hydra(node) else node.get("class_path")


def node_args(node: Mapping[str, Any]) -> dict[str, Any]:
    """The node's keyword arguments (``init_args`` and ``dict_kwargs``, or a Hydra node's
    plain keys)."""
    if is_hydra(node):
        return {k: v for k, v in node.items() if k not in HYDRA_KEYS}
    args: dict[str, Any] = {}
    for key in ARGS_KEYS:  # not a mapping: check_node_keys says so
        args.update(node[key] if isinstance(node.get(key), Mapping) else {})
    return args


def dict_kwargs_keys(node: Mapping[str, Any]) -> frozenset[str] | None:
    """The keys a ``class_path`` node gives under ``dict_kwargs`` (passed to its class's own
    ``**kwargs`` as given); ``None`` for a Hydra node, whose arguments are a call's."""
    if is_hydra(node):
        return None
    extra = node.get("dict_kwargs")
    return frozenset(extra if isinstance(extra, Mapping) else ())


def with_args(node: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``node`` with its keyword arguments replaced by ``args`` (those in its
    ``dict_kwargs`` kept there)."""
    if is_hydra(node):
        return {**{k: v for k, v in node.items() if k in HYDRA_KEYS}, **args}
    if not isinstance(node.get("dict_kwargs"), Mapping):
        return {**node, "init_args": dict(args)}
    extra, init = node["dict_kwargs"], node.get("init_args") or {}
    return {**node, "init_args": {k: v for k, v in args.items() if k not in extra or k in init},
            "dict_kwargs": {k: v for k, v in args.items() if k in extra}}  # both: refused


def contains_node(value: Any) -> bool:
    """Whether ``value`` is or holds (in mappings and lists) a node."""
    if is_node(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_node(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_node(v) for v in value)
    return False


#: what a ``class_path`` of null at a section would mean, said where it is refused
_UNSET = {"model": "the model is required",
          "data": "to train on the model's own dataloaders, drop the data module: --data=null"}


def check_node_keys(node: Mapping[str, Any], where: str) -> None:
    """Raise ``ConfigError`` for keys a ``class_path`` spec does not take, a ``class_path``
    that is no import path (null: was, at ``data``, the data module dropped without a word,
    where LightningCLI refuses it), or a Hydra node whose ``_args_`` is not a list or whose
    flags are not booleans."""
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
    if not (isinstance(node.get("class_path"), str) and node["class_path"].strip()):
        raise ConfigError(f"{where}.class_path: expected a class's import path, got "
                          f"{node.get('class_path')!r} (LightningCLI refuses it too); "
                          f"{_UNSET.get(where, f'to set no object there, give {where}=null')}")
    extra = sorted(set(node) - set(SPEC_KEYS))
    if extra:
        raise ConfigError(f"{where}: unknown {named(extra, 'key')} beside class_path "
                          f"{node.get('class_path')!r}; valid keys: {', '.join(SPEC_KEYS)} "
                          f"(or a Hydra node with _target_)")
    for key in ARGS_KEYS:
        if not isinstance(node.get(key) or {}, Mapping):
            raise ConfigError(f"{where}.{key}: expected a mapping, got {node[key]!r}")
    twice = sorted(set(node.get("init_args") or {}) & set(node.get("dict_kwargs") or {}))
    if twice:
        raise ConfigError(f"{where}: {', '.join(twice)} given in both init_args and "
                          f"dict_kwargs; give each argument once")


def check_nodes(value: Any, where: str, hydra: bool = False) -> None:
    """``check_node_keys`` for every node ``value`` is or holds (in mappings and lists), each
    named by its path from ``where``; a mapping at an argument of a ``class_path`` node's
    class annotated a plain ``dict`` (``data_args_of``) is data, not looked into; a node
    whose class cannot be imported is looked into whole (its build names the import error);
    ``hydra``: ``value`` is in a Hydra node's arguments, where a ``class_path`` mapping is
    data (``builds_at``).

    Example:
        >>> check_nodes({"net": {"class_path": "m.Net", "init_args": {}, "w": 1}}, "model")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: model.net: unknown key 'w' beside class_path ...
    """
    if builds_at(value, hydra):
        check_node_keys(value, where)
        inner = is_hydra(value)
        data = () if inner else data_args_of(value.get("class_path"))
        for key, item in node_args(value).items():
            if key not in data:  # a plain dict argument's mapping: data, as LightningCLI
                check_nodes(item, f"{where}.{key}", inner)  # passes it (was: refused)
        check_nodes(value.get("_args_") if inner else None, f"{where}._args_", inner)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_nodes(item, f"{where}.{key}", hydra)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_nodes(item, node_label(where, index), hydra)  # a named node: its name
