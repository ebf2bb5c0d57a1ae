"""Required arguments that a config's nested nodes leave out, found before any training.

A trial builds a ``class_path`` (or ``_target_``) node with the arguments the config and
the architecture give it; a choice option offered without one its class requires
(``CosineAnnealingLR`` without ``T_max``, a backbone ``WideBackbone(width)`` without
``width``) would fail only in the trial that chose it. ``check_required`` refuses it first,
as jsonargparse refuses it when LightningCLI reads the config.

Not asked for: what a node is called with later, the leading arguments a ``Callable``-typed
argument's node gets when the model calls it (LightningCLI's ``OptimizerCallable``: the
parameters; ``LRSchedulerCallable``: the optimizer), and any argument of a ``_partial_:
true`` node another annotation does not count; the arguments of a section itself
(``model``, ``data``: LightningCLI's ``link_arguments`` fill those, and the dry build builds
the section with them); an argument that has a default. One that a ``class_path`` node's
class passes on through ``**kwargs`` to a base (``super().__init__(**kwargs)``) or to a class
it builds (``WideBackbone(**kwargs)``) and that one requires is asked for, as jsonargparse
finds it (``chain_required``); a Hydra node's target is called as Python calls it, so only
its own ``__init__`` is read.

Example:
    >>> net = {"class_path": "torch.nn.Linear", "init_args": {"in_features": 64}}
    >>> adam = {"class_path": "torch.optim.Adam"}  # an OptimizerCallable: params come later
    >>> check_required({"class_path": "examples.lightningcli.model.LitClassifier",
    ...                 "init_args": {"net": net, "optimizer": adam}}, "model")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: model.net: Linear lacks required argument 'out_features' ...
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.calls import missing_args, partial_may_help
from lightning_nas.config.chain import chain_required, init_hints
from lightning_nas.config.dict_args import is_plain_dict, values_built
from lightning_nas.config.instantiate import import_object
from lightning_nas.config.node_labels import node_label
from lightning_nas.config.nodes import builds_at, is_hydra, is_node, node_args, target_path
from lightning_nas.errors import ConfigError

__all__ = ["check_required"]


def check_required(section: Any, where: str) -> None:
    """Raise ``ConfigError`` for a node nested in ``section`` (the config at ``where``: a
    section, or a node in one) whose class lacks a required argument, naming the node, the
    class, the arguments and where to set them; ``section`` itself is not asked.
    """
    if not is_node(section) or section.get("_recursive_") is False:  # built unbuilt
        return
    try:
        target = import_object(target_path(section))
    except ConfigError:  # the other checks say so, naming it
        return
    hints = {} if is_hydra(section) else init_hints(target)
    for key, value in node_args(section).items():
        if not is_plain_dict(hints.get(key)):
            _check(value, f"{where}.{key}", hints.get(key), is_hydra(section))
        elif values_built(hints[key]) and isinstance(value, Mapping):  # its values' nodes
            for name, item in value.items():  # (a bare dict's mapping: data, not built)
                _check(item, f"{where}.{key}.{name}", None, False)


def _check(value: Any, where: str, hint: Any, hydra: bool) -> None:
    """``value`` (an argument at ``where``, annotated ``hint``; ``hydra``: a Hydra node's,
    where a ``class_path`` mapping is data, ``builds_at``) and the nodes in it."""
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check(item, node_label(where, i), None, hydra)  # a named node: its name
    elif isinstance(value, Mapping) and not builds_at(value, hydra):
        for key, item in value.items():
            _check(item, f"{where}.{key}", None, hydra)
    elif builds_at(value, hydra):
        later = _later(value, hint)
        if later is not None:
            _check_node(value, where, later)
        check_required(value, where)


def _check_node(node: Mapping[str, Any], where: str, later: int) -> None:
    """Refuse ``node`` if its target lacks a required argument; its first ``later`` ones
    come when it is called later."""
    try:
        target = import_object(target_path(node))
    except ConfigError:
        return
    given = node_args(node)
    n_args = len(node.get("_args_") or []) + later
    missing = missing_args(target, n_args, given)
    passed_on = [] if is_hydra(node) else [  # (a Hydra node's target is called as Python
        # calls it: its **kwargs may give a base's argument itself)
        m for m in chain_required(target) if m not in given and m not in missing]
    if _takes_args(target):  # *args passed on too: its first values fill the first ones
        passed_on = passed_on[n_args:]
    missing += passed_on
    if not missing:
        return
    name = getattr(target, "__qualname__", repr(target))
    through = (f"; its **kwargs passes {', '.join(map(repr, passed_on))} on to a base or a "
               f"class it builds, which requires {'it' if len(passed_on) == 1 else 'them'}, "
               f"as LightningCLI finds" if passed_on else "")
    level = "" if is_hydra(node) else "init_args."
    keys = " and ".join(f"{where}.{level}{m}" for m in missing)
    what = "argument" if len(missing) == 1 else "arguments"
    later_hint = "" if later or node.get("_partial_") or not partial_may_help(where) else (
        "; or, if it is to be called later with that argument (an optimizer with the model's "
        "parameters, a scheduler with its optimizer), add `_partial_: true` to its node")
    raise ConfigError(f"{where}: {name} lacks required {what} {', '.join(map(repr, missing))} "
                      f"(the node gives {', '.join(given) or 'none'}{through}), and building "
                      f"it would fail; set {keys}{later_hint}")


def _takes_args(target: Any) -> bool:
    """Whether ``target`` (a class: its ``__init__``) takes ``*args``."""
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is p.VAR_POSITIONAL for p in params)


def _later(node: Mapping[str, Any], hint: Any) -> int | None:
    """How many leading arguments ``node`` (at an argument annotated ``hint``) is called with
    later: 0 when it is built as it is; ``None`` when that cannot be told (a ``_partial_``
    node without a ``Callable[[...], ...]`` annotation)."""
    count = _callable_args(hint)
    partial = bool(node.get("_partial_")) or (not is_hydra(node) and count is not None)
    if not partial:  # (a class_path node at a Callable argument: a partial, as jsonargparse)
        return 0
    return count if count is not None and count >= 0 else None


def _callable_args(hint: Any) -> int | None:
    """The number of arguments a ``Callable[[A, B], R]`` annotation (or one in a
    ``Union``/``Optional``) passes; -1 for ``Callable`` or ``Callable[..., R]``; ``None``
    for another annotation."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        counts = [c for c in map(_callable_args, typing.get_args(hint)) if c is not None]
        return counts[0] if counts else None
    if hint is collections.abc.Callable or hint is typing.Callable:
        return -1
    if origin is not collections.abc.Callable:
        return None
    args = typing.get_args(hint)
    return len(args[0]) if args and isinstance(args[0], list) else -1
