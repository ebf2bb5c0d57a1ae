"""Dotted paths into configs: ``model.net.lin1_size`` is
``model.init_args.net.init_args.lin1_size`` in a LightningCLI config (the ``init_args`` level
may be left out; an argument the config gives in ``dict_kwargs`` is found there) and
``model.net.lin1_size`` in a Hydra node (arguments beside ``_target_``).

Search spaces may name such paths, so nested objects are searched without a factory; each
trial builds its model and data from the config with its architecture's values set there
(the path each space key sets, and the checks of those keys: ``config.space_paths``).

Example:
    >>> cfg = {"model": {"class_path": "m.Lit", "init_args": {"net": {"class_path": "m.MLP"}}}}
    >>> set_dotted(cfg, "model.net.width", 64)["model"]["init_args"]["net"]
    {'class_path': 'm.MLP', 'init_args': {'width': 64}}
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from lightning_nas.config.chain import init_hints
from lightning_nas.config.convert import class_bound, class_node_path
from lightning_nas.config.dict_args import is_plain_dict, values_built
from lightning_nas.config.held_hints import (
    any_at,
    args_alone,
    data_at,
    hydra_data_at,
    over_node,
    over_path,
)
from lightning_nas.config.instantiate import accepted_kwargs, import_object
from lightning_nas.config.node_merge import (
    TRAINER_OBJECTS,
    is_class,
    is_object_path,
    is_spec,
    merge_node,
    merge_objects,
    named_nodes,
    taken_args,
)
from lightning_nas.config.node_places import class_node
from lightning_nas.config.nodes import (
    ARGS_KEYS,
    is_hydra,
    is_node,
    node_args,
    target_path,
)
from lightning_nas.config.overrides import not_a_mapping
from lightning_nas.config.space_keys import SECTIONS
from lightning_nas.errors import ConfigError

__all__ = ["appended", "check_no_empty_sections", "get_dotted", "kwargs_apart", "set_dotted",
           "set_paths"]


#: the blocks of lightning-nas's own settings, which hold no class named by a string
BLOCKS = ("search", "oneshot")


def appended(old: Any, key: str, value: Any) -> list[Any]:
    """The list ``--key+=value`` (LightningCLI's list append) sets: ``old`` (none: empty; a
    node or string: a list of it) and ``value`` (a list: its items); in the Trainer's lists
    of objects (``callbacks``, ``logger``, ``plugins``) or a list holding nodes, a class named
    by its path or name (``LearningRateMonitor``) as a ``class_path`` node.

    Example:
        >>> appended(None, "trainer.callbacks", "LearningRateMonitor")
        [{'class_path': 'LearningRateMonitor'}]
        >>> appended(["SGD"], "model.init_args.names", "Adam")
        ['SGD', 'Adam']

    Raises:
        ConfigError: ``old`` is no list, string or node (nothing to append to)."""
    if old is not None and not isinstance(old, (list, str)) and not is_node(old):
        raise ConfigError(f"--{key}+=: {key} is {old!r}, not a list to append to; give the "
                          f"whole value (--{key}=[...])")
    old = [] if old is None else old if isinstance(old, list) else [old]
    objects = is_object_path(key) or any(map(is_node, old))
    return [*old, *(class_node(v) if objects else v
                    for v in (value if isinstance(value, list) else [value]))]


def _descend(node: dict[str, Any], part: str) -> dict[str, Any]:
    """Where ``part`` of a node is: its ``dict_kwargs`` if they hold it, else ``init_args``."""
    if "class_path" in node and part not in ("class_path", *ARGS_KEYS):
        extra = node.get("dict_kwargs")
        node = extra if isinstance(extra, dict) and part in extra else \
            node.setdefault("init_args", {})
    return node


def _held_level(node: Mapping[str, Any], part: str, name: str) -> str:
    """``init_args`` where a path goes through a ``class_path`` node's ``dict_kwargs``
    (``part``) to an argument ``name`` its ``init_args`` hold and its ``dict_kwargs`` do not
    (one its class names, which LightningCLI moves there: ``named_kwargs``; a space key
    ``model.dict_kwargs.depth`` so sets the config's ``init_args.depth``, was: "given in
    both"), else ``part``."""
    if part != "dict_kwargs" or "class_path" not in node:
        return part
    init, extra = (node.get(key) if isinstance(node.get(key), Mapping) else {}
                   for key in ARGS_KEYS)
    return "init_args" if name in init and name not in extra else part


def set_dotted(cfg: dict[str, Any], key: str, value: Any,
               merge: bool = False, whole: bool = False) -> dict[str, Any]:
    """Set ``key`` (``a.b.c``) in ``cfg`` in place, creating mappings on the way; under a
    ``class_path`` the ``init_args`` level is implied. A mapping set where a node is (a group:
    ``model.net: {width: 8}``) sets the node's arguments, each as a path sets it (``over_path``:
    a dataclass's mapping merged, as LightningCLI). With ``merge`` (an override), a class at
    a ``class_path`` node (``--x=torch.optim.SGD``, ``--x.class_path=...``, ``--x={class_path:
    ..., init_args: ...}``) is merged over it as ``merge_node`` merges a file's, a list at
    ``trainer.callbacks``, ``logger`` or ``plugins`` over the config's as ``merge_objects``
    merges it (LightningCLI's ``--trainer.callbacks=[...]``; was: in place of it; at an
    argument annotated ``Any``, ``object`` or nothing, ``any_at``, a mapping without
    ``class_path`` or an import path set as it is), and a key
    under a list whose last item is a node sets that node's argument, as LightningCLI sets
    ``--trainer.callbacks.patience=5`` after ``--trainer.callbacks+=EarlyStopping``. With
    ``whole``, a mapping is set as it is, in place of a node there. Returns cfg."""
    if merge and key.endswith(".class_path") and isinstance(value, str) \
            and is_spec(get_dotted(cfg, key.rsplit(".", 1)[0])) \
            and not data_at(cfg, key.rsplit(".", 1)[0]):  # (a plain dict's: its key set)
        key, value = key.rsplit(".", 1)[0], {"class_path": value}
    head, _, last = key.rpartition(".")
    if merge and last in ARGS_KEYS and is_spec(get_dotted(cfg, head)) \
            and not data_at(cfg, head):  # --model.init_args={...}: as --model='{init_args:
        if value is None:  # ...}' merges (was: in place of the node's, the others lost)
            raise ConfigError(f"--{key}=null would drop the {last} of {head} (LightningCLI "
                              f"refuses --{head}.init_args=null); give the arguments to "
                              f"change, --{head}.KEY=VALUE")
        if isinstance(value, Mapping):
            key, value = head, {last: value}
    old = get_dotted(cfg, key) if merge else None
    if merge and key.startswith("trainer.") and key[len("trainer."):] in TRAINER_OBJECTS:
        value = named_nodes(value)  # --trainer.logger=CSVLogger over a node: merged, as
        # LightningCLI merges it (was: in place of it, its save_dir lost)
    if is_object_path(key) and isinstance(value, list) and old is not None:
        value = merge_objects(old, value)  # as LightningCLI (was: in place)
    elif is_spec(old):
        if data_at(cfg, key) or not (is_spec(value) or args_alone(value)) and any_at(
                cfg, key):  # a plain dict's mapping, and at Any a mapping or an import
            whole = True  # path: set whole, as LightningCLI (was, at Any: merged as a node)
        elif isinstance(value, str) and is_class(value):
            value = merge_node(old, value)
        elif is_spec(value) or args_alone(value):
            value = over_node(cfg, key, old, value)  # by the annotation there
    parts = key.split(".")
    node, hydra = cfg, False  # under a Hydra node a mapping is data: no init_args implied
    for i, part in enumerate(parts[:-1]):
        data = hydra and not is_hydra(node)
        hydra = is_hydra(node) or data
        if i > 0 and not data:
            node = _descend(node, part)
        part = _held_level(node, part, parts[i + 1])
        child = node.get(part)
        if merge and isinstance(child, list) and child and is_node(child[-1]):
            child = child[-1]  # a key under a list of nodes: the last one's argument, as
            # LightningCLI's --trainer.callbacks+=EarlyStopping --trainer.callbacks.patience=5
            # (was: refused, "not a mapping with keys")
        if isinstance(child, str) and (i > 0 or part in SECTIONS[:2]) \
                and parts[0] not in BLOCKS:  # keys under it: a class as its import path
            # (`model: my.Net` too; was: the class dropped); a block's setting is none (was:
            # --search.optimizer.budget=3 said of {'class_path': 'NGOpt', 'init_args': ...})
            child = node[part] = {"class_path": child}
        elif merge and child is not None and not isinstance(child, dict):
            raise not_a_mapping(key, ".".join(parts[:i + 1]), child)  # (was: replaced)
        elif not isinstance(child, dict):
            child = node[part] = {}
        node = child
    if len(parts) > 1 and not (hydra and not is_hydra(node)):
        node = _descend(node, parts[-1])
    if not whole and is_node(node.get(parts[-1])) and isinstance(value, Mapping) \
            and not is_node(value):
        for name, item in value.items():  # a group for a node's arguments (was: in place)
            set_dotted(cfg, f"{key}.{name}", over_path(cfg, f"{key}.{name}", item))
        return cfg
    node[parts[-1]] = value
    return cfg


def set_paths(cfg: dict[str, Any], values: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``set_dotted`` each ``(key, value)``, a key before the keys under it whatever their
    order (``model.optimizer``, a chosen node, then ``model.optimizer.lr`` in it: the
    searched value is not overwritten by the node's). A ``class_path`` node (or its
    ``init_args``/``dict_kwargs`` alone) set at one is merged over it by the annotation
    there (``over_node``: at ``Any``, in place of it), as LightningCLI's
    ``--model.net='{class_path: ...}'`` after the config (was: in place of it, its arguments
    lost; ``init_args`` alone in place of the config's). Returns ``cfg``.

    Example:
        >>> adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.01}}
        >>> set_paths({}, [("model.opt.lr", 0.5), ("model.opt", adam)])["model"]["opt"]
        {'class_path': 'torch.optim.Adam', 'init_args': {'lr': 0.5}}
    """
    for key, value in sorted(values, key=lambda item: _depth(item[0])):  # stable
        value, old = copy.deepcopy(value), get_dotted(cfg, key)
        old = None if hydra_data_at(cfg, key) else old  # data: merged as Hydra (over_path)
        if is_spec(old) and data_at(cfg, key):  # a plain dict's mapping: data, set whole
            set_dotted(cfg, key, value, whole=True)
        elif is_spec(old) and (is_spec(value) or args_alone(value) or isinstance(
                value, Mapping) and not is_hydra(value) and any_at(cfg, key)):
            set_dotted(cfg, key, over_node(cfg, key, old, value), whole=True)
        elif is_object_path(key) and old is not None:  # as LightningCLI (was: in place;
            # so for trainer.plugins alone); a strategy's name over its node, in place
            set_dotted(cfg, key, merge_objects(old, value))
        else:  # a dataclass's mapping merged (held_hints)
            set_dotted(cfg, key, over_path(cfg, key, value))
    return cfg


def _depth(key: str) -> int:
    """The depth of the config path ``key`` sets: its ``init_args`` levels not counted (was:
    every dot, so ``model.init_args.net`` came after ``model.net.dropout`` and replaced it)."""
    return sum(part not in ARGS_KEYS for part in key.split("."))


def get_dotted(cfg: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """The value at ``key`` (``a.b.c``) in ``cfg``, through ``init_args`` levels as
    ``set_dotted`` implies them; ``default`` where there is none.

    Example:
        >>> get_dotted({"data": {"class_path": "D", "init_args": {"batch_size": 64}}},
        ...            "data.batch_size")
        64
    """
    node: Any = cfg
    hydra = False  # under a Hydra node a class_path mapping is data: its keys alone
    for part in key.split("."):
        data = hydra and not is_hydra(node)
        hydra = is_hydra(node) or data
        if isinstance(node, Mapping) and part not in node and not data:
            node = next((node[k] for k in reversed(ARGS_KEYS) if isinstance(node.get(k), Mapping)
                         and part in node[k]), node.get("init_args", node))
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def check_no_empty_sections(cfg: Mapping[str, Any], part: Mapping[str, Any],
                            path: Any) -> None:
    """Refuse a config file ``part`` (at ``path``) whose section is empty (``trainer:`` with
    every key commented out reads as null) where the earlier files ``cfg`` give it: it
    would replace that section whole, with nothing (the Trainer's defaults: 1000 epochs,
    any accelerator), as LightningCLI refuses it (``model``, ``trainer``; a later ``data:
    null`` drops its data module, which ``--data=null`` says plainly: named); so too a
    ``model`` or ``data`` node's empty ``init_args`` or ``dict_kwargs``.

    Example:
        >>> check_no_empty_sections({"trainer": {"max_epochs": 1}}, {"model": None}, "b.yaml")
        >>> check_no_empty_sections({"trainer": {"max_epochs": 1}}, {"trainer": None}, "b.yaml")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: b.yaml: section 'trainer' is empty ...
    """
    for key, level in ((k, lv) for k in SECTIONS[:2] for lv in ARGS_KEYS):
        held, given = cfg.get(key), part.get(key)
        if isinstance(given, Mapping) and level in given and given[level] is None \
                and isinstance(held, Mapping) and isinstance(held.get(level), Mapping) \
                and held[level]:  # (was: the earlier arguments dropped without a word)
            raise ConfigError(f"{path}: {key}.{level} is empty (null: its keys commented "
                              f"out?), and it would replace the {level} an earlier config "
                              f"file gives ({', '.join(map(str, held[level]))}) with "
                              f"nothing, as LightningCLI refuses it; remove the empty "
                              f"`{level}:` or give it keys")
    for key, value in part.items():
        if value is None and isinstance(cfg.get(key), Mapping):
            drop = ("; to train on the model's own dataloaders, as LightningCLI does with a "
                    "later `data: null`, give --data=null") if key == "data" else ""
            raise ConfigError(f"{path}: section {key!r} is empty (null: its keys commented "
                              f"out?), and it would replace the {key} an earlier config file "
                              f"gives ({', '.join(map(str, cfg[key]))}) with nothing; remove "
                              f"the empty `{key}:` or give it keys{drop}")


def kwargs_apart(node: Any) -> Any:
    """``node`` (a ``class_path`` spec; lists and nested specs too) with the arguments its
    class takes only through ``**kwargs`` under ``dict_kwargs``, the others in
    ``init_args``: where LightningCLI takes them (it refuses the first in ``init_args``;
    a base's that the ``**kwargs`` reach, ``super().__init__(**kwargs)``, it takes by
    name, in ``init_args``, as its ``--print_config`` writes them: ``node_merge.taken_args``);
    a ``{class_path: X}`` node at an argument that takes only a class (``type[Module]``)
    as its import path ``X``, as jsonargparse takes it.

    Example:
        >>> kwargs_apart({"class_path": "lightning_nas.NASModule",
        ...               "init_args": {"builder": "m.build", "width": 8}})
        {'class_path': 'lightning_nas.NASModule', 'init_args': {'builder': 'm.build'}, \
'dict_kwargs': {'width': 8}}
    """
    if isinstance(node, list):
        return [kwargs_apart(item) for item in node]
    if not is_node(node) or is_hydra(node):
        return node
    try:
        target = import_object(target_path(node))
        names, var_kw = accepted_kwargs(target.__init__ if isinstance(target, type) else target)
        hints = init_hints(target)
        if var_kw and (taken := taken_args(target_path(node))) is not None and taken[0]:
            names = [*names, *taken[0]]  # a base's, by name (was: under dict_kwargs)
    except Exception:  # noqa: BLE001 - not importable: as it is (its checks say so)
        names, var_kw, hints = list(node_args(node)), False, {}
    args = {key: _data_apart(value, hints[key]) if is_plain_dict(hints.get(key)) else
            kwargs_apart(_class_as_path(value, hints.get(key), key))
            for key, value in node_args(node).items()}
    out = {k: v for k, v in node.items() if k not in ARGS_KEYS}
    out["init_args"] = {k: v for k, v in args.items() if k in names or not var_kw}
    extra = {k: v for k, v in args.items() if k not in out["init_args"]}
    return {**out, **({"dict_kwargs": extra} if extra else {})}


def _data_apart(value: Any, hint: Any) -> Any:
    """A plain dict argument's ``value``: data, as written; a ``dict[str, Any]``'s values
    as ``kwargs_apart`` writes them (LightningCLI builds a node there, ``values_built``)."""
    if values_built(hint) and isinstance(value, Mapping):
        return {key: kwargs_apart(item) for key, item in value.items()}
    return value


def _class_as_path(value: Any, hint: Any, key: str) -> Any:
    """A ``{class_path: X}`` node (no arguments) at an argument annotated to take only a
    class (``type[Module]``) as its import path ``X``, the one form jsonargparse takes there
    (it refuses the node); anything else as it is."""
    if is_node(value) and not node_args(value) and class_bound(hint) is not None:
        return class_node_path(value, hint, key)
    return value
