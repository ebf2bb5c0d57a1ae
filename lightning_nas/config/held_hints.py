"""Where a mapping a config path sets is merged over the mapping there, as LightningCLI sets
it: ``--model.net.hidden='{y: 5}'`` is merged key by key over the value at ``hidden`` where
that is a dataclass (the annotation there, walked from the ``__init__`` of the class the
node holding the argument builds, through dataclass fields, is a dataclass or a ``Union``
of them); a plain ``dict`` (or ``Mapping``, ``Any``) argument's ``--model.opt.sub='{y: 5}'``
replaces the mapping at ``sub``. So too at a node's argument itself: a chosen
``model.net: {hidden: 4}`` is merged over the config's ``net`` mapping, as LightningCLI's
``--model.net='{hidden: 4}'`` after the config. Under a Hydra ``_target_`` node (the node
holding the argument), every mapping is merged over the one there, whatever the annotation,
as Hydra's own override ``++model.opt='{sub: {y: 5}}'`` merges every dict
(``hydra_merged``). ``over_path`` is what ``config.paths.set_paths`` sets
(``record_defaults.step_hint`` each step through a dataclass field, the class the mapping
there builds, or a mapping of dataclasses' values); ``merges_at``, whether a mapping set at
a path keeps the config's other keys there (``config.space_clash``).

Example:
    >>> import dataclasses
    >>> In = dataclasses.make_dataclass("In", [("x", int, 0), ("y", int, 1)])
    >>> Out = dataclasses.make_dataclass("Out", [
    ...     ("hidden", In, dataclasses.field(default_factory=In)),
    ...     ("extra", dict, dataclasses.field(default_factory=dict))])
    >>> from lightning_nas.config.records import dataclasses_in, field_hint
    >>> field_hint(Out, "hidden").__name__, field_hint(Out, "extra"), field_hint(int, "x")
    ('In', <class 'dict'>, None)
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.chain import init_hints
from lightning_nas.config.dict_args import is_plain_dict
from lightning_nas.config.imports import import_object
from lightning_nas.config.node_merge import alone_at_any, is_spec, merge_node
from lightning_nas.config.nodes import (
    ARGS_KEYS,
    builds_at,
    is_hydra,
    node_args,
    target_path,
)
from lightning_nas.config.record_defaults import (
    held_fields,
    node_dataclass,
    over_held,
    step_hint,
)
from lightning_nas.config.records import dataclasses_in
from lightning_nas.errors import ConfigError

__all__ = ["any_at", "args_alone", "data_at", "hydra_data_at", "hydra_merged", "merges_at",
           "over_node", "over_path"]


def args_alone(value: Any) -> bool:
    """Whether ``value`` is a node's ``init_args`` and/or ``dict_kwargs`` without its
    ``class_path`` (``{init_args: {lin1: 4}}``)."""
    return isinstance(value, Mapping) and bool(value) and set(value) <= set(ARGS_KEYS)


def any_at(cfg: Mapping[str, Any], key: str) -> bool:
    """Whether the argument at the config path ``key`` of ``cfg`` is annotated ``Any`` (or
    ``object``, or not annotated, which jsonargparse reads as ``Any``): LightningCLI sets a
    value there in place of the config's, a mapping as a plain dict, merging nothing but a
    ``class_path`` node of its (``over_node``)."""
    return _any_hint(cfg, key) is not False


def _any_hint(cfg: Mapping[str, Any], key: str) -> Any:
    """The annotation at the config path ``key`` of ``cfg`` where it takes any value:
    ``Any``, ``object``, or ``None`` for a parameter of the class of the node holding it
    that has none (was: not counted, a mapping set there as the node's arguments); else
    ``False``."""
    hint = _held(cfg, key)[1]
    if hint is Any or hint is object:
        return hint
    *head, name = key.split(".")
    while head and head[-1] in ARGS_KEYS:
        head.pop()
    holder = _held(cfg, ".".join(head))[0] if head and name not in ARGS_KEYS else None
    if not is_spec(holder):
        return False
    try:
        found = inspect.signature(import_object(holder["class_path"])).parameters.get(name)
    except Exception:  # noqa: BLE001 - not importable, no signature: its checks say so
        return False
    untyped = found is not None and found.annotation is inspect.Parameter.empty and \
        found.kind in (found.POSITIONAL_OR_KEYWORD, found.KEYWORD_ONLY)
    return None if untyped else False


def over_node(cfg: Mapping[str, Any], key: str, old: Mapping[str, Any], value: Any) -> Any:
    """``value`` (a ``class_path`` node, or its ``init_args``/``dict_kwargs`` alone) set at
    the config path ``key`` of ``cfg`` over ``old``, the ``class_path`` node there, as
    LightningCLI's ``--model.net='{...}'`` after the config sets it, by the annotation at
    ``key``: a node merged (``merge_node``; ``init_args`` alone, of ``old``'s class; was: in
    place of the config's, its other arguments lost); at ``Any`` (``object``, none:
    ``any_at``), a mapping without a ``class_path`` in place of the config's node, a plain
    dict, as LightningCLI sets it (was: its keys set as the node's arguments), and a node's
    ``dict_kwargs`` in place of the config's (was: merged key by key for the same class).

    Example:
        >>> adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.1, "eps": 0.1}}
        >>> over_node({}, "model.opt", adam, {"init_args": {"lr": 0.5}})  # no annotation read
        {'class_path': 'torch.optim.Adam', 'init_args': {'lr': 0.5, 'eps': 0.1}}

    Raises:
        ConfigError: ``value`` gives ``init_args``/``dict_kwargs`` alone where the
            annotation is ``Any`` (LightningCLI sets that mapping there as it is, a plain
            dict, no class built) or a dataclass (LightningCLI refuses it: no field).
    """
    hint, alone = _any_hint(cfg, key), args_alone(value)
    if hint is not False:
        if not (alone or is_spec(value)):
            return value
        if not alone:
            return merge_node(old, value, at_any=True, path=key)
        raise alone_at_any(key, old["class_path"], value, hint)
    hint = _held(cfg, key)[1]
    if alone and (found := dataclasses_in(hint)):
        raise ConfigError(
            f"{key} gives {value!r:.80} without a class_path over the config's "
            f"{old['class_path']} node, at an argument annotated "
            f"{' | '.join(cls.__name__ for cls in found)} (a dataclass), where LightningCLI "
            f"takes fields, not init_args, and refuses it: give the fields alone "
            f"({value.get('init_args') or {}!r:.60}, merged over the config's) or the node "
            f"with its class_path")
    return merge_node(old, value)


def over_path(cfg: Mapping[str, Any], key: str, value: Any) -> Any:
    """``value``, to be set at the config path ``key`` of ``cfg`` (``model.net.hidden``), merged
    key by key over the mapping there (``over_held``) where the annotation at ``key`` (a
    node's argument, or a path inside its value) is a dataclass or a ``Union`` of them, as
    LightningCLI merges it; else ``value`` (a plain ``dict``'s: in place of the mapping
    there, as LightningCLI sets it). Under a Hydra ``_target_`` node (the node holding the
    argument), every mapping is merged over the one there, a ``_target_`` node's too,
    whatever the annotation, as Hydra's ``++model.opt='{sub: {y: 5}}'`` merges it
    (``hydra_merged``).

    Example:
        >>> import dataclasses, sys
        >>> In = dataclasses.make_dataclass("In", [("x", int, 0), ("y", int, 1)])
        >>> Out = dataclasses.make_dataclass("Out", [
        ...     ("hidden", In, dataclasses.field(default_factory=In))])
        >>> def build(net: Out = Out(), opt: dict = None): ...
        >>> sys.modules[__name__].build = build  # importable, as a config's class is
        >>> cfg = {"model": {"class_path": f"{__name__}.build", "init_args": {
        ...     "net": {"hidden": {"x": 2}}, "opt": {"sub": {"x": 2}}}}}
        >>> over_path(cfg, "model.net.hidden", {"y": 5}), over_path(cfg, "model.opt.sub", {"y": 5})
        ({'x': 2, 'y': 5}, {'y': 5})
        >>> over_path(cfg, "model.net", {"hidden": {"y": 5}}), over_path(cfg, "model.opt", {})
        ({'hidden': {'x': 2, 'y': 5}}, {})
        >>> hydra = {"model": {"_target_": f"{__name__}.build", "opt": {"sub": {"x": 2}}}}
        >>> over_path(hydra, "model.opt.sub", {"y": 5}), over_path(hydra, "model.opt", {})
        ({'x': 2, 'y': 5}, {'sub': {'x': 2}})
    """
    held, hint, hydra = _held(cfg, key)
    return hydra_merged(held, value) if hydra else over_held(held, value, hint)


def data_at(cfg: Mapping[str, Any], key: str) -> bool:
    """Whether the argument at the config path ``key`` of ``cfg`` is annotated a plain
    ``dict`` (``is_plain_dict``) in a ``class_path`` node's class: a ``class_path`` mapping
    set there is data, set whole, as LightningCLI sets it, never merged as a node.

    Example:
        >>> import sys
        >>> def build(optimizer_init: dict = None, width: int = 8): ...
        >>> sys.modules[__name__].build = build  # importable, as a config's class is
        >>> cfg = {"model": {"class_path": f"{__name__}.build"}}
        >>> data_at(cfg, "model.optimizer_init"), data_at(cfg, "model.width")
        (True, False)
    """
    _, hint, hydra = _held(cfg, key)
    return not hydra and is_plain_dict(hint)


def hydra_data_at(cfg: Mapping[str, Any], key: str) -> bool:
    """Whether the value at the config path ``key`` of ``cfg`` is a mapping a Hydra
    ``_target_`` node holds as data (in its arguments, at any depth, no ``_target_`` node
    itself): a ``{class_path: ..., init_args: ...}`` mapping there is passed as it is, as
    Hydra's ``instantiate`` passes it, so its keys are the mapping's own.

    Example:
        >>> spec = {"class_path": "torch.nn.Linear", "init_args": {"in_features": 8}}
        >>> hydra_data_at({"model": {"_target_": "m.Net", "note": spec}}, "model.note")
        True
        >>> hydra_data_at({"model": {"class_path": "m.Net", "init_args": {"note": spec}}},
        ...               "model.note")
        False
    """
    node, _, hydra = _held(cfg, key)
    return hydra and isinstance(node, Mapping) and not is_hydra(node)


def merges_at(cfg: Mapping[str, Any], key: str, value: Any = None) -> bool:
    """Whether a mapping set at the config path ``key`` of ``cfg`` keeps the keys of the
    config's mapping there that it leaves out (``over_path`` merges it: at a dataclass, or
    under a Hydra ``_target_`` node); for ``value``, a ``class_path`` node: whether its
    ``init_args`` are so merged there (a node of a dataclass the argument takes, as
    LightningCLI merges it; under a Hydra node, to which it is a plain mapping, merged as
    one over the mapping there, a ``_target_`` node aside); the
    config's mapping there a plain one, or a ``class_path`` node of such a dataclass
    (``held_fields``: its ``init_args``, as LightningCLI keeps ``--model.net.depth=5``
    under a chosen ``--model.net='{hidden: 4}'``; was: not merged, an override refused).

    Example:
        >>> merges_at({"model": {"_target_": "m.Net", "opt": {"lr": 0.1}}}, "model.opt")
        True
        >>> merges_at({"model": {"_target_": "m.Net"}}, "model.opt")  # nothing there
        False
    """
    held, hint, hydra = _held(cfg, key)
    if hydra:  # a class_path mapping, set or held there, is data to Hydra: merged too
        return isinstance(held, Mapping) and not (is_hydra(held) and isinstance(
            value, Mapping) and "class_path" in value)
    if held_fields(held, hint) is None or not dataclasses_in(hint):  # (was: a mapping alone,
        return False  # a config's class_path node of the dataclass not merged over)
    return not (isinstance(value, Mapping) and "class_path" in value) or (
        node_dataclass(value, hint) is not None)


def hydra_merged(held: Any, value: Any) -> Any:
    """``value`` over ``held`` as Hydra's override merges it (``OmegaConf.update(cfg, key,
    value, merge=True)``): two mappings merged key by key, all the way down (a ``_target_``
    node's too: it keeps its other keys); anything else (a list, a number, ``None``
    there): ``value``.

    Example:
        >>> hydra_merged({"sub": {"x": 2}, "other": 1, "l": [1]}, {"sub": {"y": 5}, "l": [2]})
        {'sub': {'x': 2, 'y': 5}, 'other': 1, 'l': [2]}
        >>> hydra_merged({"_target_": "torch.optim.Adam", "lr": 0.01},
        ...              {"_target_": "torch.optim.SGD"})
        {'_target_': 'torch.optim.SGD', 'lr': 0.01}
    """
    if not (isinstance(held, Mapping) and isinstance(value, Mapping)):
        return value
    out = dict(held)
    for key, item in value.items():
        out[key] = hydra_merged(out.get(key), item)
    return out


def _held(cfg: Mapping[str, Any], key: str) -> tuple[Any, Any, bool]:
    """The value at ``key`` in ``cfg``, its annotation, walked from the class of the node
    holding the argument through dataclass fields (a node's argument itself too: a chosen
    ``model.net`` mapping is set over the config's, as LightningCLI's ``--model.net='{hidden:
    4}'`` after the config; was: in place of it, the config's other fields lost), and
    whether that node is a Hydra ``_target_`` node (whose mappings Hydra merges whatever
    the annotation: none read); ``(None, None, False)`` where the walk finds no class or
    annotation under a ``class_path`` node."""
    parts = key.split(".")
    node: Any = cfg.get(parts[0])
    hint: Any = None
    hydra = False
    for part in parts[1:]:
        if builds_at(node, hydra):  # (a class_path mapping a Hydra node holds: data)
            if part in ARGS_KEYS:
                continue  # spelt out: the level a path may leave out
            hydra, hint = is_hydra(node), None
            if not hydra:
                try:
                    hint = init_hints(import_object(target_path(node))).get(part)
                except Exception:  # noqa: BLE001 - not importable: nothing merged
                    return None, None, False
            node = node_args(node).get(part)
        else:  # the class the mapping there builds, a dict's values (was: dataclasses alone)
            hint = None if hydra else step_hint(hint, part, node)
            node = node.get(part) if isinstance(node, Mapping) else None
        if hint is None and not hydra:
            return None, None, False
    return node, hint, hydra
