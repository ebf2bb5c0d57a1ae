"""Merging one config over another as LightningCLI (jsonargparse) merges them: a later
config file (``merge_config``), and a ``class_path`` node given over the config's node
(``merge_node``: ``--model.net='{class_path: ...}'``, a chosen or fixed node of a search
space). A changed ``class_path`` keeps the ``init_args`` its class takes; each argument the
node gives is set over the config's by its annotation: a dataclass's fields merged, a
module argument's node of the same class (or its ``init_args`` alone) merged, a plain
``dict``'s mapping in place of the config's (was: every mapping merged key by key, the
config's other keys kept where LightningCLI drops them). A later file's ``trainer:``
arguments are set so by the Trainer's annotations (a list of nodes, ``callbacks``,
``logger``, ``plugins``, item by item: ``merge_objects``, as a chosen or overridden one
is); our ``search:`` block, key by key.

Example:
    >>> deep_merge({"trainer": {"max_epochs": 3, "logger": False}}, {"trainer": {"max_epochs": 1}})
    {'trainer': {'max_epochs': 1, 'logger': False}}
    >>> merge_config({"trainer": {"max_time": {"days": 1}}},
    ...              {"trainer": {"max_time": {"hours": 2}}})
    {'trainer': {'max_time': {'hours': 2}}}
"""

from __future__ import annotations

import copy
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from lightning_nas.config.chain import init_hints, resolved_args
from lightning_nas.config.dict_args import is_plain_dict
from lightning_nas.config.instantiate import accepted_kwargs, import_object, matches
from lightning_nas.config.nodes import ARGS_KEYS, SPEC_KEYS, is_hydra, is_node
from lightning_nas.config.record_defaults import node_dataclass, over_held
from lightning_nas.errors import ConfigError

__all__ = ["TRAINER_NODES", "TRAINER_OBJECTS", "alone_at_any", "deep_merge", "is_class",
           "is_object_path", "is_spec", "merge_config", "merge_group", "merge_node",
           "merge_objects", "named_nodes", "taken_args"]

#: the Trainer's arguments that take objects (one, or a list of them): a class named there is
#: a ``class_path`` node, a chosen or overridden value is merged over the config's
#: (``merge_objects``)
TRAINER_OBJECTS = ("callbacks", "logger", "plugins")

#: the Trainer's arguments that take one object or a name (``strategy: ddp``): a chosen or
#: overridden node is merged over the config's node (``merge_objects``), a name set in place
#: of it, as LightningCLI sets them; a name there stays a name (no ``class_path`` node)
TRAINER_NODES = ("strategy", "profiler", "accelerator")


def merge_config(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The config file ``extra`` over the earlier ones ``base``, as LightningCLI's ``--config
    a.yaml --config b.yaml`` merges it: a ``class_path`` section (``model``, ``data``) as
    ``merge_node`` merges it (by the annotations of its class), ``trainer``'s arguments by
    the Trainer's (``max_time: {hours: 5}`` in place of ``{days: 1}``, a ``logger`` node's
    ``init_args`` merged), any other (``search``, ours) key by key (``deep_merge``; was:
    every section so, a ``dict`` argument's earlier keys kept where LightningCLI drops them).

    Example:
        >>> merge_config({"search": {"budget": 3}}, {"search": {"seed": 1}})
        {'search': {'budget': 3, 'seed': 1}}
    """
    out, rest = dict(base), {}
    for key, value in extra.items():
        old = out.get(key)
        if _node_over(old, value):
            out[key] = merge_node(old, value, path=key)
        elif key == "trainer" and _plain(old) and _plain(value):
            value = {name: named_nodes(item) if name in TRAINER_OBJECTS else item
                     for name, item in value.items()}  # (was: a name in place of a node)
            out[key] = _args_over(old, value, _trainer_hints())
        else:
            rest[key] = value  # (merged below, in one deep_merge, which copies ``out``)
    return deep_merge(out, rest)


def merge_group(held: Any, value: Mapping[str, Any]) -> dict[str, Any]:
    """A whole group given on the command line (LightningCLI's ``--trainer CONFIG``, a YAML
    mapping or a file's) over the config's section ``held``, as jsonargparse merges it:
    each argument it gives over the config's, a ``class_path`` node over a node of the
    config's merged (``merge_node``; a callback's or logger's class by its name or path too,
    ``named_nodes``), anything else in place of the config's value, a list of callbacks
    too (where a later file's list merges item by item: ``merge_config``); the arguments
    it does not give kept. A Hydra node's section, key by key (``deep_merge``).

    Example:
        >>> merge_group({"max_epochs": 3, "callbacks": [{"class_path": "EarlyStopping"}]},
        ...             {"devices": 1})
        {'max_epochs': 3, 'callbacks': [{'class_path': 'EarlyStopping'}], 'devices': 1}
    """
    if not _plain(held):  # none given (or no mapping, which the override replaces)
        return deep_merge(held if is_hydra(held) else {}, value)
    out = copy.deepcopy(dict(held))
    for key, item in value.items():
        if key in TRAINER_OBJECTS and not isinstance(item, list):  # a logger's class by its
            item = named_nodes(item)  # name or path: merged (was: in place, save_dir lost)
        out[key] = (merge_node(out[key], item) if is_spec(out.get(key)) and is_spec(item)
                    else copy.deepcopy(item))
    return out


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, mappings merged key by key (later values win), a class at a
    ``class_path`` node as ``merge_node`` merges it."""
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if is_spec(out.get(key)) and isinstance(value, str) and is_class(value):
            out[key] = merge_node(out[key], value)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(_keep_taken(out[key], value), value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_node(node: Mapping[str, Any], value: Any, at_any: bool = False,
               path: str = "") -> dict[str, Any]:
    """``value`` (a ``class_path`` node, or a class as its import path) over the ``class_path``
    node ``node``, as LightningCLI (jsonargparse) merges a later file or an override: for
    another class, the ``init_args`` it takes (by name, a value its annotation takes; through
    ``**kwargs`` those jsonargparse finds where they are passed on to) are kept, the others
    dropped (``dict_kwargs`` kept, those it names moved into ``init_args``; ``value``'s own
    ``dict_kwargs`` each key over ``node``'s of the same class, alone for another class, as
    ``_kwargs_over`` says), then ``value``'s arguments set over them, each by its
    annotation in ``value``'s class: a dataclass's
    mapping merged over the config's fields, a node of the same class at an argument that
    takes objects merged so, in turn; anything else (a plain ``dict``'s mapping) in place
    of the config's (was: every mapping merged key by key). ``value`` without a
    ``class_path`` (``{init_args: ...}``, a later file's; its arguments without ``init_args``,
    ``{opts: {a: 3}}``, taken as them, as jsonargparse takes them) is of ``node``'s class. A class
    that does not import: every mapping merged key by key. ``at_any``: the node is at an
    argument annotated ``Any`` (``object``, or none), where jsonargparse sets ``value``'s
    ``dict_kwargs`` in place of ``node``'s, whatever the class (was: merged key by key for
    the same class, as at a module argument). ``path``: where the node is
    (``model.net``), named by a refusal of an argument under it (``alone_at_any``).

    Example:
        >>> adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.003, "amsgrad": True}}
        >>> merge_node(adam, {"class_path": "torch.optim.SGD", "init_args": {"momentum": 0.9}})
        {'class_path': 'torch.optim.SGD', 'init_args': {'lr': 0.003, 'momentum': 0.9}}
        >>> merge_node(adam, "torch.optim.SGD")
        {'class_path': 'torch.optim.SGD', 'init_args': {'lr': 0.003}}
    """
    value = {"class_path": value} if isinstance(value, str) else value
    if _bare(value):  # arguments without `init_args`, as jsonargparse takes them
        value = {"init_args": value}
    if "class_path" not in value and is_spec(node):  # `init_args` alone: node's class
        value = {"class_path": node["class_path"], **value}
    kept = _keep_taken(node, value)
    extra = _kwargs_over(node, kept, value, at_any)
    kept, value = ({key: item for key, item in part.items() if key != "dict_kwargs"}
                   for part in (kept, value))
    held, given = kept.get("init_args"), value.get("init_args")
    taken = taken_args(value["class_path"]) if is_spec(value) else None
    if not (isinstance(held, Mapping) and isinstance(given, Mapping)) or taken is None:
        out = deep_merge(kept, value)  # (no annotations to read: key by key)
    else:
        out = deep_merge(kept, {key: item for key, item in value.items() if key != "init_args"})
        out["init_args"] = _args_over(held, given, taken[1], path)
    if extra is not None:
        out["dict_kwargs"] = extra
    return out


def _kwargs_over(node: Mapping[str, Any], kept: Mapping[str, Any],
                 value: Mapping[str, Any], at_any: bool = False) -> Any:
    """The ``dict_kwargs`` of ``value`` merged over ``node`` (``kept``: ``node`` as
    ``value``'s class keeps it) as jsonargparse sets them: each of ``value``'s keys over
    ``node``'s, in place of its value (no deeper merge), where both are of one class (not
    ``at_any``: there jsonargparse sets ``value``'s whole, reading no earlier value); for
    another class, ``value``'s alone; none given, ``kept``'s (``None``: none at all)."""
    if "dict_kwargs" not in value:
        return copy.deepcopy(kept.get("dict_kwargs"))
    held, given = kept.get("dict_kwargs"), copy.deepcopy(value["dict_kwargs"])
    same = is_spec(node) and node["class_path"] == value.get("class_path") and not at_any
    if same and isinstance(held, Mapping) and isinstance(given, Mapping):
        return {**copy.deepcopy(dict(held)), **given}
    return given  # (not a mapping: the node checks say so)


def _args_over(held: Mapping[str, Any], given: Mapping[str, Any],
               hints: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    """``given``'s arguments over ``held``'s, each by its annotation in ``hints``, as
    ``merge_node`` says; at ``Any`` (``object``, or none) as ``_any_over`` says. ``path``:
    the node's, named by a refusal."""
    out = copy.deepcopy(dict(held))
    for key, item in given.items():
        old, hint = out.get(key), hints.get(key, Any)
        if hint is Any or hint is object:  # none too (was: as at a module argument, Python
            # 3.11's Any being a class)
            out[key] = _any_over(old, item, f"{path}.{key}".lstrip("."), hints.get(key))
        elif _node_over(old, item) and node_dataclass(item, hint) is None \
                and _takes_objects(hint) and not is_plain_dict(hint):  # (a plain dict's
            # class_path mapping: data, set whole; was: merged, at an Optional[dict])
            out[key] = merge_node(old, item, path=f"{path}.{key}".lstrip("."))  # in turn
        elif isinstance(item, list) and _takes_objects(hint):
            out[key] = merge_objects(old, item)  # (a list of nodes: Trainer.plugins)
        else:
            out[key] = copy.deepcopy(over_held(old, item, hint))  # a dataclass's merged
    return out


def _any_over(old: Any, value: Any, path: str, hint: Any) -> Any:
    """``value`` over ``old`` at an argument annotated ``hint``, ``Any`` or ``object`` (or
    none), as jsonargparse sets it there: a ``class_path`` node over a node merged
    (``merge_node``, its ``dict_kwargs`` in place of the earlier ones); anything else in
    place, a mapping without ``class_path`` a plain dict and a class's import path a string
    (was: merged into the node as its arguments, or a node of that class).

    Raises:
        ConfigError: for ``init_args``/``dict_kwargs`` alone over a node (``alone_at_any``).
    """
    if is_spec(old) and is_spec(value):
        return merge_node(old, value, at_any=True, path=path)
    if is_spec(old) and _args_only(value):
        raise alone_at_any(path, old["class_path"], value, hint)
    return copy.deepcopy(value)


def alone_at_any(path: str, class_path: str, value: Any, hint: Any) -> ConfigError:
    """The error for ``value``, a node's ``init_args``/``dict_kwargs`` without its
    ``class_path``, given at ``path`` over the config's node of ``class_path``, at an
    argument annotated ``hint`` (``Any``, ``object``; ``None``: none), where LightningCLI
    sets that mapping as it is, a plain dict.

    Example:
        >>> str(alone_at_any("model.net", "my.Net", {"init_args": {"a": 5}}, Any))[:60]
        "model.net gives {'init_args': {'a': 5}} without a class_path"
    """
    name = {Any: "annotated Any", object: "annotated object"}.get(hint, "of no annotation")
    return ConfigError(
        f"{path} gives {value!r:.80} without a class_path over the config's {class_path} "
        f"node, at an argument {name}, where LightningCLI sets that mapping as it is (a "
        f"plain dict, no class built), not over the node: give the node with its "
        f"class_path ({{class_path: {class_path}, init_args: ...}}), merged over the "
        f"config's as LightningCLI merges it")


def merge_objects(old: Any, value: Any) -> Any:
    """``value`` (a list of ``class_path`` nodes, or one) over ``old``, the config's, at an
    argument that takes a list of objects or one (``is_object_path``), as jsonargparse
    merges it: a node over a node (or its ``init_args`` alone, or its arguments without
    them, of ``old``'s class; ``_item_over``), and a
    list over a list of the same length item by item, each node as ``merge_node`` merges
    it; a list over a node, each of its nodes over that node (was: a list of one alone);
    else ``value`` in place (a list of another length, a node over a list, a name such as
    ``ddp`` over a strategy's node).

    Example:
        >>> slurm = "lightning.fabric.plugins.environments.SLURMEnvironment"
        >>> merge_objects([{"class_path": slurm, "init_args": {"auto_requeue": False}}],
        ...               [{"class_path": slurm}])
        [{'class_path': 'lightning.fabric.plugins.environments.SLURMEnvironment', \
'init_args': {'auto_requeue': False}}]
    """
    value = named_nodes(value)  # (was: a class by its name in place of the node)
    if _item_over(old, value):  # (was: init_args alone, or the arguments without them,
        return merge_node(old, value)  # set as a dict, in place of a strategy's node)
    if isinstance(value, list) and (is_spec(old) or isinstance(old, list)
                                    and len(old) == len(value)):
        held = [old] * len(value) if is_spec(old) else old
        return [merge_node(h, v) if _item_over(h, v) else copy.deepcopy(v)
                for h, v in zip(held, value, strict=True)]
    return copy.deepcopy(value)


def named_nodes(value: Any) -> Any:
    """``value`` with a class named by its import path or its name alone (one, or a list's
    item) as a ``class_path`` node, as jsonargparse reads ``--trainer.logger=CSVLogger``
    before it merges it over the config's node (its ``save_dir`` kept; was: in place of it,
    a list's ``[EarlyStopping]`` too); a name that is no class (``ddp``) as it is.

    Example:
        >>> named_nodes(["LearningRateMonitor", "ddp", False])
        [{'class_path': 'LearningRateMonitor'}, 'ddp', False]
    """
    if isinstance(value, list):
        return [named_nodes(item) for item in value]
    return {"class_path": value} if isinstance(value, str) and is_class(value, short=True) \
        else value


def _item_over(old: Any, value: Any) -> bool:
    """Whether ``value`` is merged over ``old`` (one object, or a list's item) as a node: a
    ``class_path`` node, or one's ``init_args`` alone, or its arguments without them
    (``{static_graph: true}``, of ``old``'s class, as jsonargparse takes them; was: a list's
    item so set in place); not a name (``ddp``) nor a class's import path."""
    return _node_over(old, value) and not isinstance(value, str)


def is_object_path(key: str) -> bool:
    """Whether the config path ``key`` is one of the Trainer's arguments that take objects
    (``TRAINER_OBJECTS``: ``trainer.callbacks``, ``trainer.logger``, ``trainer.plugins``;
    ``TRAINER_NODES``: ``trainer.strategy``, ``profiler``, ``accelerator``, one or a name).

    Example:
        >>> is_object_path("trainer.logger"), is_object_path("trainer.max_epochs")
        (True, False)
    """
    return key.startswith("trainer.") and key[len("trainer."):] in TRAINER_OBJECTS \
        + TRAINER_NODES


def _node_over(old: Any, value: Any) -> bool:
    """Whether ``value`` is merged over ``old`` as a node (``merge_node``): ``old`` is a
    ``class_path`` node and ``value`` one, a class as its import path, a node's
    ``init_args``/``dict_kwargs`` alone, or its arguments without ``init_args`` (``{opts:
    {a: 3}}``; of ``old``'s class, as jsonargparse takes them; was: merged beside
    ``class_path``, then refused as unknown keys there)."""
    return is_spec(old) and (
        is_spec(value) or isinstance(value, str) and is_class(value)
        or _args_only(value) or _bare(value))


def _args_only(value: Any) -> bool:
    """Whether ``value`` is a node's ``init_args`` and/or ``dict_kwargs`` alone (no
    ``class_path``): a mapping of those keys, one at least."""
    return _plain(value) and bool(value) and set(value) <= set(ARGS_KEYS)


def _bare(value: Any) -> bool:
    """Whether ``value`` is a node's arguments without ``init_args``: a mapping (no Hydra
    node) with none of a ``class_path`` node's keys (``SPEC_KEYS``)."""
    return _plain(value) and bool(value) and not set(value) & set(SPEC_KEYS)


def _plain(value: Any) -> bool:
    """Whether ``value`` is a mapping that is no Hydra node."""
    return isinstance(value, Mapping) and not is_hydra(value)


@functools.lru_cache(maxsize=1)
def _trainer_hints() -> dict[str, Any]:
    """The annotations of the Trainer's arguments (imported only for a ``trainer:`` section
    that two config files give)."""
    from lightning.pytorch import Trainer

    return init_hints(Trainer)


def _takes_objects(hint: Any) -> bool:
    """Whether the annotation ``hint`` (a ``Union``'s each) names a class whose objects
    jsonargparse builds from a ``class_path`` node (``nn.Module``, ``Optional[Net]``, a
    ``Callable`` that returns one: LightningCLI's ``OptimizerCallable``; not ``Any``,
    ``object``, a ``dict`` or another builtin value)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_takes_objects(arg) for arg in typing.get_args(hint))
    if origin is Callable:
        return bool(typing.get_args(hint)) and _takes_objects(typing.get_args(hint)[-1])
    return inspect.isclass(hint) and origin is None and hint is not object and not issubclass(
        hint, (Mapping, str, bytes, int, float, complex, list, tuple, set, frozenset))


def is_spec(value: Any) -> bool:
    """Whether ``value`` is a ``class_path`` node (not a Hydra one) with a class path."""
    return is_node(value) and not is_hydra(value) and isinstance(value.get("class_path"), str)


def is_class(text: str, short: bool = False) -> bool:
    """Whether ``text`` is the import path of a class (LightningCLI's ``--x=torch.optim.SGD``;
    ``short``: or a name alone, looked up in ``SHORT_NAME_MODULES``)."""
    try:
        return (short or "." in text) and inspect.isclass(import_object(text))
    except Exception:  # noqa: BLE001 - not a class: a plain string
        return False


def _keep_taken(node: Mapping[str, Any], value: Any) -> Mapping[str, Any]:
    """``node`` with the ``init_args`` that the class of ``value`` (a ``class_path`` node of
    another class) does not take dropped, and its ``dict_kwargs`` that the class names moved
    into ``init_args`` (as jsonargparse moves them); else ``node`` as it is."""
    if not (is_spec(node) and is_spec(value)) or node["class_path"] == value["class_path"]:
        return node
    taken = taken_args(value["class_path"])
    init, extra = (node.get(key) if isinstance(node.get(key), Mapping) else {}
                   for key in ARGS_KEYS)
    if taken is None or not (init or extra):  # not importable: its checks say so
        return node
    names, hints = taken
    out = {**node, "init_args": {k: v for k, v in init.items() if (names is None or k in names)
                                 and matches(v, hints.get(k, Any))}}
    out["init_args"].update({k: v for k, v in extra.items() if names and k in names})
    out["dict_kwargs"] = {k: v for k, v in extra.items() if not names or k not in names}
    if not out["dict_kwargs"]:
        del out["dict_kwargs"]
    return out


@functools.lru_cache(maxsize=256)
def taken_args(class_path: str) -> tuple[frozenset[str] | None, dict[str, Any]] | None:
    """The arguments the class at ``class_path`` takes (``None``: any) and their annotations;
    ``None`` when it cannot be imported. Its ``**kwargs`` are followed as LightningCLI follows
    them (jsonargparse: to ``super().__init__(**kwargs)`` and the like); without jsonargparse
    they take any name."""
    try:
        cls = import_object(class_path)
        names, var_kw = accepted_kwargs(cls.__init__ if inspect.isclass(cls) else cls)
    except Exception:  # noqa: BLE001 - not importable, no signature: its checks say so
        return None
    hints = init_hints(cls)  # a base's too, that its **kwargs passes them on to
    if not var_kw:
        return frozenset(names), hints
    found = resolved_args(cls) if inspect.isclass(cls) else None
    if found is None:  # no jsonargparse, or it cannot read the class
        return None, hints
    return frozenset(names) | set(found), hints
