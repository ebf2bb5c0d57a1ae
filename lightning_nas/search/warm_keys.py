"""Keys of an earlier run's architecture as this search's space names them (warm starts).

A space key names a config path: ``width``, ``model.width`` and ``model.init_args.width``
are one key (``config_path``), so an earlier run's keys are renamed to this space's
(``renamed``). A dict that is a choice's value in one space can be a group of keys in the
other: the earlier trial's dict is opened into this space's keys (``split_dicts``), or its
group keys are joined into the dict this space chooses (``join_dicts``), so a key takes the
value the trial ran with, never a fill value.

Example:
    >>> paths = {"model.extra.k": "extra.k"}
    >>> split_dicts({"extra": {"k": 3}, "a": 1}, ["extra", "a"], paths, False)
    {'extra.k': 3, 'a': 1}
    >>> join_dicts({"extra.k": 3, "a": 1}, ["extra", "a"], False,
    ...            {"model.extra": "extra"}, {"extra", "a"}, {})
    {'a': 1, 'extra': {'k': 3}}
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lightning_nas.arch import flatten_arch
from lightning_nas.config.nodes import ARGS_KEYS, is_node
from lightning_nas.config.paths import set_dotted
from lightning_nas.config.space_keys import is_dotted
from lightning_nas.errors import ConfigError
from lightning_nas.space import SearchSpace
from lightning_nas.space.params import Choice, Fixed, Param

__all__ = ["config_path", "fill_keys", "flat_arch", "group_paths", "holds_dicts", "join_dicts",
           "placed", "renamed", "split_dicts"]


def flat_arch(arch: Mapping[str, Any], groups: set[str] | None) -> dict[str, Any]:
    """``arch`` with the ``groups`` of the space it ran in as dotted keys; a dict that is a
    choice's value stays one value (no stored space, ``None``: every dict is a group)."""
    if groups is None:
        return flatten_arch(arch)

    def flat(node: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            path = f"{prefix}{key}"
            out.update(flat(value, f"{path}.") if isinstance(value, Mapping) and path in groups
                       else {path: value})
        return out

    return flat(arch, "")


def group_paths(space: SearchSpace, prefix: str = "") -> set[str]:
    """The dotted paths of ``space``'s groups."""
    out: set[str] = set()
    for name, param in space.params.items():
        if isinstance(param, SearchSpace):
            out |= {f"{prefix}{name}", *group_paths(param, f"{prefix}{name}.")}
    return out


def holds_dicts(param: Param) -> bool:
    """Whether a value of ``param`` is a dict (a choice of dicts, a fixed dict)."""
    values = param.values if isinstance(param, Choice) else \
        [param.value] if isinstance(param, Fixed) else []
    return any(isinstance(v, Mapping) for v in values)


def config_path(key: str, top: Iterable[str], hydra: bool) -> str:
    """The config path a space key names, as ``recorded_values`` (``warm_values.py``) reads
    it: ``width`` (a model argument), ``model.width`` and ``model.init_args.width`` are all
    ``model.width``; in a Hydra sweep's run every key is a path into its job config,
    ``+model.dims`` and ``++model.dims`` (Hydra's override adding the key) too:
    ``model.dims``."""
    name = next((n for n in top if key == n or key.startswith(f"{n}.")), key)
    path = key.lstrip("+") if hydra or is_dotted(name) else f"model.{key}"  # was: kept +
    return ".".join(part for part in path.split(".") if part not in ARGS_KEYS)


def fill_keys(fill: Any, keys: Sequence[str], top: Iterable[str], hydra: bool,
              name: str = "warm_start_fill") -> Any:
    """``fill`` (``warm_start_fill``) with each key that names the config path of a space
    key (``keys``, dotted; ``top``: the space's top-level names) another way named as the
    space names it (``config_path``, as a warm start reads an earlier run's keys): in a
    search ``width``, ``model.width`` and ``model.init_args.width``, in a sweep (``hydra``)
    ``lr``, ``+lr`` and ``++lr``; a key that names no space key comes back as it is (for
    ``check_fill`` to refuse), anything but a mapping too.

    Raises:
        ConfigError: for two keys naming one space key; for a key that names one only as
            the other kind of run reads it (a search's ``+lr``: the form of a sweep's
            override; a sweep's ``width`` for ``model.width``: a model argument in a
            search, a path into the job config in a sweep), naming the space key.

    Example:
        >>> fill_keys({"model.init_args.w": 2}, ["w", "x"], ["w", "x"], hydra=False)
        {'w': 2}
        >>> fill_keys({"lr": 0.1, "+model.depth": 2}, ["++lr", "model.depth"],
        ...           ["++lr", "model.depth"], hydra=True)
        {'++lr': 0.1, 'model.depth': 2}
    """
    if not isinstance(fill, Mapping):
        return fill
    top = list(top)
    named: dict[str, str] = {}
    for key in keys:
        named.setdefault(config_path(key, top, hydra), key)
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for key, value in fill.items():
        text = str(key)
        space_key = text if text in keys else named.get(config_path(text, top, hydra))
        if space_key is None:  # read as a search reads it, without a sweep's + or ++
            read = config_path(text.lstrip("+"), top, False)
            other = ({config_path(k, top, False): k for k in keys} if hydra else named)
            if read in other and text.startswith("+") and not hydra:
                raise ConfigError(
                    f"{name} key {text!r}: + and ++ are the forms of Hydra's overrides, which "
                    f"a sweep's hydra.sweeper.warm_start_fill takes; name the key as the "
                    f"space does: {other[read]!r}")
            if read in other and hydra and read != text.lstrip("+"):  # width: model.width
                raise ConfigError(
                    f"{name} key {text!r} is the config path {config_path(text, top, True)} "
                    f"in a sweep, no key of its space (every key is a path into the job "
                    f"config; lightning-nas search reads {text!r} as {read}): write "
                    f"{other[read]!r}")
            space_key = text
        if space_key in given:
            raise ConfigError(f"{name} names the space key {space_key!r} twice "
                              f"({given[space_key]!r} and {text!r}); give it once")
        given[space_key], out[space_key] = text, value
    return out


def renamed(flat: Mapping[str, Any], top: Iterable[str], named: Mapping[str, str],
            hydra: bool) -> dict[str, Any]:
    """``flat`` (an earlier run's keys, ``top``: its space's top-level names) with each key
    that names a config path this space names another way under this space's key."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        alias = named.get(config_path(key, top, hydra), key)
        out[key if alias in flat or alias in out else alias] = value
    return out


def split_dicts(flat: Mapping[str, Any], top: Iterable[str], named: Mapping[str, str],
                hydra: bool) -> dict[str, Any]:
    """``flat`` (an earlier run's keys) with each dict value at a config path this space
    has keys under (``named``: this space's config paths) opened into dotted keys, so
    ``extra: {k: 3}`` (a choice of dicts there) gives this space's ``extra.k`` its 3; what
    this space lacks of it is then dropped key by key."""
    top = list(top)
    out: dict[str, Any] = {}
    for key, value in flat.items():
        path = config_path(key, top, hydra)
        if isinstance(value, Mapping) and path not in named and \
                any(p.startswith(f"{path}.") for p in named):
            out.update(split_dicts({f"{key}.{k}": v for k, v in value.items()}, top, named,
                                   hydra))
        else:
            out[key] = value
    return out


def join_dicts(flat: Mapping[str, Any], top: Iterable[str], hydra: bool,
               dicts: Mapping[str, str], keys: set[str], recorded: Mapping[str, Any]
               ) -> dict[str, Any]:
    """``flat`` (an earlier run's keys, renamed) with the keys under a config path where
    this space chooses a dict (``dicts``: config path to this space's key; ``keys``: all
    of its keys, never joined) joined into that dict, set as the trial set them: into the
    node its run had there (``recorded``, a ``class_path`` node) or into an empty dict."""
    top = list(top)
    out = dict(flat)
    for path, key in dicts.items():
        if key in out:
            continue
        value: dict[str, Any] = {"v": copy.deepcopy(recorded[key])
                                 if is_node(recorded.get(key)) else {}}
        joined = False
        for name in [n for n in out if n not in keys]:
            parts = name.split(".")
            sub = next((parts[i:] for i in range(1, len(parts))
                        if config_path(".".join(parts[:i]), top, hydra) == path), None)
            if sub is not None:
                set_dotted(value, ".".join(["v", *sub]), out.pop(name))
                joined = True
        if joined:
            out[key] = value["v"]
    return out


def placed(config: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``config`` with ``value`` at the dotted ``path`` (``config`` unchanged).

    Example:
        >>> placed({"model": {"name": "c", "backbone": {"width": 1}}}, "model.backbone", {})
        {'model': {'name': 'c', 'backbone': {}}}
    """
    head, _, rest = path.partition(".")
    node = config.get(head)
    return {**config, head: placed(node if isinstance(node, Mapping) else {}, rest, value)
            if rest else value}
