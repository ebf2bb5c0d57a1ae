"""What a mapping given a dataclass argument is set over, as LightningCLI sets it: the
fields of the argument's signature default (``record_default``, ``over_default``,
``over_defaults``: a config path's ``model.net.hidden``, ``--model.net='{hidden: 4}'``
and a ``class_path`` node of the dataclass keep its other fields), of a
``model_init_args`` instance (``over_fields``), or of the annotated dataclass's own
defaults (``over_own_defaults``, for ``best.yaml``'s node).

Example:
    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Net:
    ...     hidden: int = 8
    ...     depth: int = 1
    >>> def build(net: Net = Net(depth=3)): ...
    >>> over_default(build, "net", {"hidden": 4})
    {'hidden': 4, 'depth': 3}
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.chain import init_hints, kwargs_chain
from lightning_nas.config.convert import fits
from lightning_nas.config.imports import import_object
from lightning_nas.config.nodes import ARGS_KEYS, is_node, node_args
from lightning_nas.config.records import (
    dataclass_for,
    dataclass_of,
    dataclasses_in,
    field_hint,
    field_hints,
    holds_instances,
    init_fields,
    is_instance,
    is_instances,
    mapping_of,
    own_defaults,
)
from lightning_nas.errors import ConfigError

__all__ = ["held_fields", "node_dataclass", "over_default", "over_defaults", "over_fields",
           "over_held", "over_own_defaults", "record_default", "step_hint"]


def record_default(target: Any, name: str, within: type | None = None, key: str = ""
                   ) -> dict[str, Any] | None:
    """The mapping a config path into ``target``'s argument ``name``, which the config
    leaves out, starts from: its signature default's fields (a dataclass instance) or keys
    (a non-empty mapping), as LightningCLI's ``--model.net.hidden=4`` keeps the default's
    other fields; None for another default (``None``: the path's keys alone). ``within``:
    the class of a ``Union`` of dataclasses the path builds (``record_steps.record_class``),
    whose fields alone are kept, as LightningCLI's ``--model.net.width=5`` keeps them (was:
    all, so ``NetConfig | Wide``'s ``model.net.width`` built no class).

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Net:
        ...     hidden: int = 8
        ...     depth: int = 1
        >>> def build(net: Net = Net(depth=3)): ...
        >>> record_default(build, "net")
        {'hidden': 8, 'depth': 3}

    Raises:
        ConfigError: the default is a dict of dataclass instances (``nets: dict[str,
            Net] = {"a": Net()}``), which LightningCLI sets no path into (it refuses
            ``--model.nets.a.hidden=5``; ``--model.nets.a='{...}'`` drops the default's
            other keys), naming space key ``key`` and the config that searches it (was: the
            instances set in the trial's config, which ``best.yaml`` cannot write).
    """
    value = _signature_default(target, name)
    if is_instance(value):
        value = init_fields(value)
    elif not (isinstance(value, Mapping) and value):
        return None
    elif any(map(is_instance, value.values())):
        keys = ", ".join(f"{item}: {{...}}" for item in value)
        raise ConfigError(
            f"space key {key!r}: the signature default of {getattr(target, '__name__', target)}"
            f"'s {name}, {value!r:.100}, holds dataclass instances, which LightningCLI sets "
            f"no config path into (it refuses --{key}=...; a mapping set at one key drops the "
            f"default's others): give {name} in the config (init_args: {{{name}: {{{keys}}}}}),"
            f" which the path is set into, or search {name} whole")
    fields = field_hints(within) if within is not None else value
    return copy.deepcopy({key: item for key, item in value.items() if key in fields})


def over_default(target: Any, name: str, group: Any) -> Any:
    """``group``, the mapping given ``target``'s dataclass argument ``name`` (a config's
    ``init_args: {net: {hidden: 4}}``, ``model_init_args`` or a group from Python), over the
    fields of its signature default (``record_default``; a dataclass field's mapping merged
    key by key, a ``dict`` field's in place of the default's, as LightningCLI sets it),
    as LightningCLI's ``--model.net='{hidden: 4}'`` and a config path ``model.net.hidden``
    keep them (was: the dataclass's own defaults); so too the ``init_args`` of a
    ``class_path`` node of that dataclass, as LightningCLI's ``--model.net='{class_path:
    Net, init_args: {hidden: 4}}'`` (was: the node as it is, built over the dataclass's own
    defaults where ``best.yaml``'s node built the default's). As jsonargparse, only where
    the argument is annotated with the dataclass itself (its base's, along ``**kwargs``,
    too); any other
    value, and a mapping for another argument, is returned as it is: a ``dict`` default's
    (the group is the argument, whole, as LightningCLI's ``--model.opt='{lr: 0.2}'``), an
    ``Optional[Net]``'s or an unannotated one's (LightningCLI builds the dataclass's own
    defaults there).

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Net:
        ...     hidden: int = 8
        ...     depth: int = 1
        >>> def build(net: Net = Net(depth=3), opt: dict = {"lr": 0.1}): ...
        >>> over_default(build, "net", {"hidden": 4})
        {'hidden': 4, 'depth': 3}
        >>> over_default(build, "opt", {"momentum": 0.9})
        {'momentum': 0.9}
    """
    default = _signature_default(target, name) if isinstance(group, Mapping) else None
    if not is_instance(default):
        return group
    hint = init_hints(target).get(name)
    if not (inspect.isclass(hint) and dataclasses.is_dataclass(hint)):
        return group  # Optional[Net], no annotation: as LightningCLI, nothing merged
    if is_node(group):  # a node of the dataclass: its init_args so (was: over its own
        return _over_node(init_fields(default), group, hint) if node_dataclass(  # defaults)
            group, hint) is hint else group
    return _merged(init_fields(default), group, hint)  # (record_default's fields of it)


def over_fields(instance: Any, group: Any, hint: Any = None) -> Any:
    """``group``, a mapping given where the dataclass ``instance`` is (``model_init_args``),
    over the instance's fields, so that a ``class_path`` node of it, which cannot hold the
    instance, builds the same dataclass (its mapping is set over the signature default,
    ``over_default``); where ``instance`` is a mapping of instances (``{"a": Net(depth=2)}``
    for ``nets: dict[str, Net]``), each of ``group``'s keys over the instance at that key,
    its other keys dropped, as LightningCLI's ``--model.nets='{a: {hidden: 4}}'`` sets it
    (``over_held``; was: in place of them, ``depth=2`` lost); so too one that mixes them
    with plain mappings (``{"a": Net(), "b": {"depth": 2}}``), each plain one merged
    as a config's is, where ``hint``, the argument's annotation, is a mapping of
    dataclasses (was: in place of it, ``b``'s ``depth=2`` lost; in a plain ``dict`` it
    still is, as LightningCLI sets a ``dict``'s mapping); any other ``group`` or
    ``instance``: ``group`` as it is (``over_held``'s, for a plain mapping, under ``hint``).

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Net:
        ...     hidden: int = 8
        ...     depth: int = 1
        >>> over_fields(Net(depth=2), {"hidden": 4})
        {'hidden': 4, 'depth': 2}
        >>> over_fields({"a": Net(depth=2), "b": Net()}, {"a": {"hidden": 4}})
        {'a': {'hidden': 4, 'depth': 2}}
        >>> over_fields({"a": Net(), "b": {"depth": 2}}, {"b": {"hidden": 4}}, dict[str, Net])
        {'b': {'depth': 2, 'hidden': 4}}
    """
    if not isinstance(group, Mapping) or is_node(group):
        return group
    inner = mapping_of(hint)  # (a mixed one in a plain dict: replaced, as LightningCLI sets it)
    if is_instances(instance) or holds_instances(instance) and dataclasses_in(inner):
        return {key: over_fields(instance.get(key), item, inner) for key, item in group.items()}
    if not is_instance(instance):
        return over_held(instance, group, hint)
    return _merged(init_fields(instance), group, type(instance))


def over_held(held: Any, value: Any, hint: Any) -> Any:
    """``value``, set by a config path inside an argument's value (``model.net.hidden``),
    merged key by key over ``held``, the mapping there, where both are plain mappings and
    ``hint``, the annotation there, is a dataclass or a ``Union`` of them, as
    LightningCLI's ``--model.net.hidden='{y: 5}'`` sets it over the dataclass there; where
    ``hint`` is a mapping of dataclasses (``dict[str, NetConfig]``), each of ``value``'s
    keys over ``held``'s value at that key, its other keys dropped, as LightningCLI's
    ``--model.nets='{a: {hidden: 5}}'`` sets it (was: in place of it, ``nets.a``'s other
    fields lost); else ``value``: a plain ``dict``'s (``Mapping``'s, ``Any``'s) in place of
    the mapping there, as LightningCLI's ``--model.opt.sub='{y: 5}'`` sets it. A
    ``class_path`` node of a dataclass ``hint`` takes (``node_dataclass``) is a mapping of
    its ``init_args`` so: merged over the fields of ``held`` its class takes, as
    LightningCLI's ``--model.net='{class_path: NetConfig, init_args: {hidden: 4}}'``.

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class In:
        ...     x: int = 0
        ...     y: int = 1
        >>> over_held({"x": 2, "y": 1}, {"y": 5}, In)
        {'x': 2, 'y': 5}
        >>> over_held({"x": 2, "y": 1}, {"y": 5}, dict)
        {'y': 5}
        >>> over_held({"a": {"x": 2}, "b": {}}, {"a": {"y": 5}}, dict[str, In])
        {'a': {'x': 2, 'y': 5}}
        >>> import sys
        >>> sys.modules[__name__].In = In  # importable, as a config's class is
        >>> over_held({"x": 2}, {"class_path": f"{__name__}.In", "init_args": {"y": 5}}, In)
        {'class_path': 'lightning_nas.config.record_defaults.In', 'init_args': {'x': 2, 'y': 5}}
    """
    if (cls := node_dataclass(value, hint)) is not None and (
            fields := held_fields(held, hint)) is not None:  # (was: in place of it, the
        return _over_node(fields, value, cls)  # config's fields lost)
    if not (isinstance(held, Mapping) and not is_node(held) and isinstance(value, Mapping)
            and not is_node(value)):
        return value
    if dataclasses_in(hint):
        return _merged(held, value, hint)
    if dataclasses_in(inner := mapping_of(hint)):  # a dict of dataclasses: each value
        return {key: over_held(held.get(key), item, inner) for key, item in value.items()}
    return value


def held_fields(held: Any, hint: Any) -> Mapping[str, Any] | None:
    """The fields a value set at a dataclass ``hint`` (or a ``Union`` of them) is merged
    over, where ``held``, the value there, gives them: a plain mapping, or a ``class_path``
    node of one of those dataclasses (its ``init_args``, as LightningCLI's
    ``--model.net='{class_path: NetConfig, init_args: {hidden: 4}}'`` keeps the config
    node's other fields; was: none, the node set in place of it); else None.

    Example:
        >>> import dataclasses, sys
        >>> In = dataclasses.make_dataclass("In", [("x", int, 0)])
        >>> sys.modules[__name__].In = In  # importable, as a config's class is
        >>> held_fields({"class_path": f"{__name__}.In", "init_args": {"x": 2}}, In)
        {'x': 2}
        >>> held_fields({"class_path": "torch.nn.Linear"}, In) is None
        True
    """
    if isinstance(held, Mapping) and not is_node(held):
        return held
    return node_args(held) if node_dataclass(held, hint) is not None else None


def node_dataclass(value: Any, hint: Any) -> type | None:
    """The dataclass of those ``hint`` takes (a ``Union``'s each) that ``value``, a
    ``class_path`` node, names (as LightningCLI takes one at a dataclass argument); None for
    another value or class, or one that does not import.

    Example:
        >>> import dataclasses
        >>> node_dataclass({"class_path": "dataclasses.Field"}, int) is None
        True
    """
    path = value.get("class_path") if isinstance(value, Mapping) else None
    if not isinstance(path, str) or not dataclasses_in(hint):
        return None
    try:
        cls = import_object(path)
    except ConfigError:
        return None
    return cls if cls in dataclasses_in(hint) else None


def step_hint(hint: Any, name: str, held: Any = None) -> Any | None:
    """The annotation at key ``name`` inside a value annotated ``hint``, as LightningCLI
    walks a config path: a mapping of dataclasses' values' (``dict[str, NetConfig]``:
    ``NetConfig``, so ``model.nets.a`` is merged as a ``NetConfig``; was: not walked, set in
    place of the mapping there); a dataclass field's (``field_hint``); of a ``Union`` of
    dataclasses, that of the class the mapping ``held`` there builds (``dataclass_for``,
    its values fitting), where the classes annotate ``name`` differently (a ``dict`` in
    one, a dataclass in another: that class's, as LightningCLI sets a mapping at it; was:
    merged wherever one class has a dataclass there); None where there is none.

    Example:
        >>> import dataclasses
        >>> In = dataclasses.make_dataclass("In", [("x", int, 0)])
        >>> A = dataclasses.make_dataclass("A", [("hidden", dict, None)])
        >>> B = dataclasses.make_dataclass("B", [("hidden", In, None), ("width", int, 1)])
        >>> step_hint(dict[str, In], "a").__name__, step_hint(A | B, "hidden", {"hidden": {}})
        ('In', <class 'dict'>)
        >>> step_hint(A | B, "hidden", {"hidden": {}, "width": 2}).__name__
        'In'
    """
    if not dataclasses_in(hint):
        inner = mapping_of(hint)
        return inner if dataclasses_in(inner) else None
    if len(dataclasses_in(hint)) > 1 and isinstance(held, Mapping) and not is_node(held) and (
            cls := dataclass_for(hint, held, fits)) is not None and name in field_hints(cls):
        return field_hints(cls)[name]
    return field_hint(hint, name)


def over_own_defaults(target: Any, name: str, group: Any) -> Any:
    """``group``, a mapping searched over a ``model_init_args`` instance of ``target``'s
    dataclass argument ``name``, over the fields of the dataclass the argument is annotated
    with (its own defaults), for a ``class_path`` node that cannot hold the instance, where
    the store keeps no record of it (a store written before records were kept, whose group
    check kept the instance's other fields at those defaults, ``changed_fields``; the
    check refuses a group that leaves out a changed field of an instance without one); any
    other ``group`` or annotation: ``group`` as it is.

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Net:
        ...     hidden: int = 8
        ...     depth: int = 1
        >>> def build(net: Net = Net(depth=3)): ...
        >>> over_own_defaults(build, "net", {"hidden": 4})
        {'hidden': 4, 'depth': 1}
    """
    cls = dataclass_of(init_hints(target).get(name))
    if not isinstance(group, Mapping) or is_node(group) or cls is None:
        return group
    return _merged({k: init_fields(v) for k, v in own_defaults(cls).items()}, group, cls)


def over_defaults(target: Any, args: Mapping[str, Any]) -> dict[str, Any]:
    """``args``, the arguments given ``target``, each mapping ``over_default``: a
    ``class_path`` node's ``init_args`` as LightningCLI builds them.

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Net:
        ...     hidden: int = 8
        ...     depth: int = 1
        >>> def build(net: Net = Net(depth=3), width: int = 4): ...
        >>> over_defaults(build, {"net": {"hidden": 2}, "width": 8})
        {'net': {'hidden': 2, 'depth': 3}, 'width': 8}
    """
    return {key: over_default(target, key, value) for key, value in args.items()}


def _signature_default(target: Any, name: str) -> Any:
    """The default of ``target``'s argument ``name``, or of a base's its ``**kwargs`` pass
    it on to (``kwargs_chain``, as jsonargparse finds it); None where it has none to read."""
    for init in kwargs_chain(target):
        try:
            param = inspect.signature(init).parameters.get(name)
        except (TypeError, ValueError):  # no signature to read
            return None
        if param is not None and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            return None if param.default is param.empty else param.default
    return None


def _over_node(fields: Mapping[str, Any], node: Mapping[str, Any], cls: type
               ) -> dict[str, Any]:
    """``node``, a ``class_path`` node of the dataclass ``cls``, its ``init_args`` merged
    over those of ``fields`` that ``cls`` takes (``_merged``), as LightningCLI sets it."""
    kept = {key: item for key, item in fields.items() if key in field_hints(cls)}
    return {**{key: item for key, item in node.items() if key not in ARGS_KEYS},
            "init_args": _merged(kept, node_args(node), cls)}


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any], hint: Any) -> dict[str, Any]:
    """``extra`` over ``base``, the fields of the dataclasses ``hint`` takes: a mapping in
    both merged key by key where the field is itself a dataclass (or a ``Union`` of them,
    or a mapping of them), as LightningCLI merges it; else ``extra``'s in place of
    ``base``'s (a ``dict`` field's, as LightningCLI sets it; was: merged, the default's
    keys kept), the field's annotation that of the class the merged mapping builds
    (``step_hint``)."""
    out = dict(base)
    merged = {**base, **extra}
    for key, value in extra.items():
        out[key] = over_held(out.get(key), value, step_hint(hint, key, merged))
    return out
