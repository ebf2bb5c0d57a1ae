"""A search space's keys as config paths: the path each key sets (``space_path``: its
``init_args`` levels left out, a plain key an argument of ``model``), no two keys setting one
path (``check_space_paths``), each step of a key an argument of the class configured there
(``check_dotted``, before any training), and a later config file's space merged over an
earlier one's (``merge_space``). Setting and reading the paths is ``config.paths``'s job.

Example:
    >>> space_path("width"), space_path("model.init_args.net.init_args.hidden")
    ('model.width', 'model.net.hidden')
"""

from __future__ import annotations

import copy
import inspect
import json
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from lightning_nas.config.chain import init_hints, init_kwargs, name_hint
from lightning_nas.config.held_hints import hydra_data_at
from lightning_nas.config.instantiate import accepted_kwargs, import_object
from lightning_nas.config.nodes import (
    ARGS_KEYS,
    builds_at,
    is_hydra,
    is_node,
    node_args,
    target_path,
)
from lightning_nas.config.record_defaults import record_default
from lightning_nas.config.record_steps import plain_step, record_class, record_step
from lightning_nas.config.records import dataclasses_in
from lightning_nas.config.space_groups import is_space_group, space_leaves
from lightning_nas.config.space_keys import is_dotted, node_key_error
from lightning_nas.config.union_paths import union_seed
from lightning_nas.errors import ConfigError
from lightning_nas.wording import counted

__all__ = ["check_dotted", "check_space_paths", "check_other_kind", "merge_space", "set_space_key",
           "space_path"]


def space_path(key: str) -> str:
    """The config path a space key sets: its ``init_args`` (``dict_kwargs``) levels left
    out, and a plain key (not a path) an argument of ``model``.

    Example:
        >>> space_path("width"), space_path("model.init_args.net.init_args.hidden")
        ('model.width', 'model.net.hidden')
    """
    return ".".join(part for part in key.split(".") if part not in ARGS_KEYS) \
        if is_dotted(key) else f"model.{key}"


def check_space_paths(space: Mapping[str, Any], cfg: Mapping[str, Any] | None = None) -> None:
    """Raise ``ConfigError`` when two space keys set the same config path (``width`` and
    ``model.width``; ``model.net.hidden`` and ``model.init_args.net.init_args.hidden``; a
    group's ``model.net: {hidden: ...}`` and ``model.net.hidden``): a trial would store both
    values while its model took one. A key may choose a whole node and others set values
    inside it (``model.optimizer`` and ``model.optimizer.lr``). A key of a mapping a Hydra
    node of ``cfg`` holds as data, ``class_path`` too, is that mapping's key (as Hydra passes
    it: ``hydra_data_at``)."""
    seen: dict[str, str] = {}
    for key, spec in space.items():
        holder = str(key).rpartition(".")[0]
        if str(key).split(".")[-1] in (*ARGS_KEYS, "class_path", "_target_") and not (
                cfg is not None and hydra_data_at(cfg, holder)):  # a plain dict: it would
            # replace the node's arguments whole, the config's and other keys' with them
            raise ConfigError(node_key_error(str(key), spec))
        for leaf in space_leaves(space_path(str(key)), spec):
            if leaf in seen:
                raise ConfigError(f"space keys {seen[leaf]!r} and {key!r} both set {leaf} (a "
                                  f"path may leave out its init_args levels, a plain key is a "
                                  f"model argument, a group sets the keys in it): keep one")
            seen[leaf] = str(key)


def check_dotted(cfg: Mapping[str, Any], key: str,
                 space: Iterable[str] | Mapping[str, Any] = ()) -> dict[str, Any]:
    """Raise ``ConfigError`` unless every step of ``key`` is an argument of the class
    configured there (so a typo is found before any training). Returns the arguments to
    set in ``cfg`` first (path: mapping): a dict or dataclass argument ``key`` reaches into
    that the config leaves out, as its signature default gives it (``record_default``; of
    a ``Union`` of dataclasses, the fields of the class the keys the config and ``space``,
    the space's keys, set there build, ``record_class``; with their specs, the mapping that
    builds each value's class, ``union_paths.union_seed``)."""
    parts = key.split(".")
    node: Any = cfg.get(parts[0])
    where, hint, owner, fills = parts[0], None, None, {}
    hydra = False  # a Hydra node holds it: a class_path mapping there is data (builds_at)
    for part in parts[1:]:
        also = {path[len(where) + 1:].split(".")[0] for path in map(space_path, space)
                if path.startswith(f"{where}.")}  # the space's keys there
        if hint is not None and not builds_at(node, hydra) and (
                inner := record_step(key, where, part, hint, node, also)) is not None:
            # a dict or dataclass argument's key, as LightningCLI's --model.net.hidden=4
            within = record_class(key, where, part, hint, node, also) if len(
                dataclasses_in(hint)) > 1 else None  # a Union's: the class it builds
            seeded = union_seed(key, where, hint, owner and record_default(*owner), node, {
                space_path(k): space[k] for k in space} if isinstance(space, Mapping) else {}
                                ) if within else None  # each value's class (was: the keys')
            held = None if seeded is None else seeded[0]
            if seeded is not None and seeded[1] is not within:  # deeper in: by the values
                within, inner = seeded[1], record_step(key, where, part, seeded[1])  # (was:
                # the class the keys alone build)
            if held is not None and held != (node or {}):
                node = fills[where] = held
            elif held is None and node is None and owner and (
                    seed := record_default(*owner, within, key)) is not None:
                node = fills[where] = seed  # (was: its default's other fields dropped)
            node = node.get(part) if isinstance(node, Mapping) else None
            where, hint, owner = f"{where}.{part}", inner, None
            continue
        if hint is not None and not builds_at(node, hydra) and (
                err := plain_step(key, where, hint, node)) is not None:
            raise err  # lr: float (was: "write model.lr as class_path + init_args")
        if isinstance(node, str):
            node = {"class_path": node}
        if part in ARGS_KEYS and builds_at(node, hydra) and "class_path" in node:
            continue  # spelt out: the level a path may leave out
        if not is_node(node):
            if parts[0] == "trainer" and where == "trainer":
                return fills  # Trainer arguments are checked with the trainer settings
            if isinstance(node, list):  # (was: "has no class_path or _target_", of a list)
                raise ConfigError(f"space key {key!r}: {where} is a list in the config "
                                  f"({counted(len(node), 'item')}), and a space key cannot "
                                  f"reach into a list's items ({part!r}): search {where} "
                                  f"whole, a space key {where!r} whose values are lists")
            raise ConfigError(f"space key {key!r}: {where} has no class_path or _target_ in "
                              f"the config, so {part!r} cannot be checked; write {where} as "
                              f"class_path + init_args, or as a Hydra node with _target_")
        try:  # (was: its error alone, the key not named)
            cls = import_object(target_path(node))
        except ConfigError as err:  # the bad value first (was: "space key {key!r}: ...")
            raise ConfigError(f"{where}.{'_target_' if is_hydra(node) else 'class_path'}: "
                              f"{err}; met checking space key {key!r}") from err
        # its arguments along **kwargs, as LightningCLI (a Hydra node's: as Python calls it,
        # only where they are passed on whole)
        names, var_kw = (init_kwargs(cls, forwarded=True) if inspect.isclass(cls) else
                         accepted_kwargs(cls)) if is_hydra(node) else init_kwargs(cls)
        if part not in names and not var_kw and part not in (node.get("dict_kwargs") or {}):
            raise ConfigError(f"space key {key!r}: {part!r} is not an argument of "
                              f"{cls.__name__} ({where}); {name_hint(cls, part, names)}"
                              f"accepted: {', '.join(names) or 'none'}")
        hint = init_hints(cls).get(part, Any) if inspect.isclass(cls) else Any
        owner, hydra = (cls, part), is_hydra(node)
        node = node_args(node).get(part)
        where = f"{where}.{part}"
    return fills


def merge_space(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra``'s search space over ``base``'s (a later config file's): groups merged key by
    key, a parameter given again replaced as a whole (its options are not mixed in).

    Example:
        >>> merge_space({"lr": {"float": [1e-3, 0.1], "log": True}, "g": {"a": {"fixed": 1}}},
        ...             {"lr": {"float": [1e-3, 0.01]}, "g": {"b": {"fixed": 2}}})
        {'lr': {'float': [0.001, 0.01]}, 'g': {'a': {'fixed': 1}, 'b': {'fixed': 2}}}
    """
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if is_space_group(value) and is_space_group(out.get(key)):
            out[key] = merge_space(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


#: the kinds of a space parameter, the keys of its mapping with its options
_KINDS = ("choice", "ordered", "int", "float", "fixed")
_PARAM_WORDS = (*_KINDS, "log", "step")


def set_space_key(space: dict[str, Any], key: str, value: Any) -> None:
    """Set the space key ``key`` (a path) to ``value``; a path under a group of the space
    (``model.net: {hidden: ...}`` and ``model.net.hidden``) is set in that group, a kind or
    option of a parameter (``data.batch_size.int=[16, 128]``) in it (was: a key of its own).

    Raises:
        ConfigError: for a kind other than the parameter's own (``width.int`` where the
            config gives ``width: {choice: [...]}``), naming the whole parameter to give
            (was: "names several kinds ['choice', 'int']; give exactly one").

    Example:
        >>> space = {"lr": {"float": [0.01, 0.1]}}
        >>> set_space_key(space, "lr.log", True)
        >>> space
        {'lr': {'float': [0.01, 0.1], 'log': True}}
    """
    path = space_path(key)
    head, _, last = path.rpartition(".")
    param = next((k for k in space if space_path(k) == head and isinstance(space[k], Mapping)
                  and not is_space_group(space[k])), None)
    reads_as_param = isinstance(value, Mapping) and not is_space_group(value)  # a key's own
    if param is not None and last in _PARAM_WORDS and not reads_as_param:
        check_other_kind(space[param], key, param, json.dumps(value))
        space[param] = {**space[param], last: value}
        return
    group = next((k for k in space if path.startswith(f"{space_path(k)}.")
                  and is_space_group(space[k])), None)
    if group is None:
        space[key] = value
        return
    node = space[group]
    *parts, last = path[len(space_path(group)) + 1:].split(".")
    for part in parts:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value


def check_other_kind(param: Any, key: str, name: str, text: str) -> None:
    """Raise ``ConfigError`` where the override ``--search.space.KEY=TEXT`` sets a kind of
    the space parameter ``param`` (the config's, at space key ``name``) other than its own:
    merged into it, it would name two kinds (was: "names several kinds ['choice', 'int'];
    give exactly one", with no word of the whole parameter that replaces it).

    Example:
        >>> check_other_kind({"choice": [4, 8]}, "width.int", "width", "[4, 32]")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: --search.space.width.int: space key 'width' is a ...
    """
    last = key.rpartition(".")[2]
    if not isinstance(param, Mapping) or is_space_group(param) or last not in _KINDS:
        return
    kinds = [kind for kind in _KINDS if kind in param]
    if kinds and last not in kinds:
        raise ConfigError(f"--search.space.{key}: space key {name!r} is a {kinds[0]} "
                          f"parameter in the config, and an override of one of its keys is "
                          f"merged into it, so it would name two kinds; to search it as "
                          f"another kind, give the whole parameter: "
                          f"--search.space.{name}={shlex.quote(f'{{{last}: {text}}}')}")
