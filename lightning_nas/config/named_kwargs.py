"""A ``class_path`` node's ``dict_kwargs`` that name an argument its class takes, set as
LightningCLI sets them: jsonargparse moves each such key into ``init_args``, over the value
there, as each config file and each override is read (``--model.dict_kwargs.depth=2`` over
a config's ``init_args: {depth: 4}`` gives ``depth: 2``; was: refused, "depth given in both
init_args and dict_kwargs"). ``dict_kwargs`` keep what only the class's own ``**kwargs``
takes. One node giving an argument in both at once (two values side by side, no later one
to prefer; LightningCLI takes ``dict_kwargs``' without a word) is refused, saying the one
key to write (``check_given_once``).

Example:
    >>> node = {"class_path": "collections.Counter", "dict_kwargs": {"x": 1}}
    >>> named_kwargs_moved({"model": node}) == {"model": node}  # x: only through **kwargs
    True
    >>> named_kwargs_moved({"model": {"class_path": "logging.Formatter", "init_args":
    ...                               {"fmt": "%(message)s"}, "dict_kwargs": {"fmt": "%(name)s"}}})
    {'model': {'class_path': 'logging.Formatter', 'init_args': {'fmt': '%(name)s'}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.config.cli_optim import OPTIM_KEYS
from lightning_nas.config.dict_args import data_args_of
from lightning_nas.config.node_merge import taken_args
from lightning_nas.config.nodes import is_hydra, is_node, node_args
from lightning_nas.config.space_keys import SECTIONS
from lightning_nas.errors import ConfigError

__all__ = ["at_path", "check_given_once", "named_kwargs_moved"]

#: the config sections whose nodes LightningCLI reads (the optimizer's too)
_SECTIONS = (*SECTIONS, *OPTIM_KEYS)


def named_kwargs_moved(cfg: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` (a config, as each file and override is read) with the ``dict_kwargs`` that
    its sections' nodes' classes name moved into their ``init_args`` (``_moved``).

    Example:
        >>> named_kwargs_moved({"model": {"class_path": "logging.Formatter",
        ...                               "dict_kwargs": {"style": "{"}}, "seed_everything": 1})
        {'model': {'class_path': 'logging.Formatter', 'init_args': {'style': '{'}},
         'seed_everything': 1}
    """
    return {key: _moved(value) if key in _SECTIONS else value for key, value in cfg.items()}


def check_given_once(part: Any, given: str) -> None:
    """Refuse a node of the sections of ``part`` (a config file, or an override's value at
    its path, ``at_path``) giving an argument its class names in both ``init_args`` and
    ``dict_kwargs`` (``_check_once``), ``given`` saying where it came from.

    Example:
        >>> check_given_once({"model": {"class_path": "logging.Formatter", "init_args":
        ...                  {"style": "%"}, "dict_kwargs": {"style": "{"}}}, "given in a.yaml")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: model: style given in both init_args ('%') and ...
    """
    if not isinstance(part, Mapping):
        return
    for section in _SECTIONS:
        try:
            _check_once(part.get(section), section)
        except ConfigError as err:
            raise ConfigError(f"{err} ({given})") from None


def at_path(key: str, value: Any) -> dict[str, Any]:
    """``value`` under the dotted path ``key``, as an override sets it.

    Example:
        >>> at_path("model.net", {"class_path": "m.Net"})
        {'model': {'net': {'class_path': 'm.Net'}}}
    """
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def _moved(value: Any) -> Any:
    """``value`` (a config section, or anything in one) with each ``class_path`` node's
    ``dict_kwargs`` that its class names (``node_merge.taken_args``: through ``**kwargs``
    the names jsonargparse finds too) moved into its ``init_args``, over the value there,
    as jsonargparse moves them; nested nodes too, not in an argument whose mapping is data
    (a plain ``dict``'s, ``data_args_of``) nor in a Hydra node's (where a ``class_path``
    mapping is data). A class that does not import, or whose
    names cannot be read, is left as it is (its checks say so)."""
    if isinstance(value, list):
        return [_moved(item) for item in value]
    if is_hydra(value) or not isinstance(value, Mapping):  # (no class_path node builds
        return value  # in a Hydra node's arguments: nothing there to move)
    if not is_node(value):
        return {key: _moved(item) for key, item in value.items()}
    out = dict(value)
    data = data_args_of(out.get("class_path"))
    for level in ("init_args", "dict_kwargs"):
        if isinstance(out.get(level), Mapping):
            out[level] = {key: item if key in data else _moved(item)
                          for key, item in out[level].items()}
    named = _named(out)
    if named:
        out["init_args"] = {**(out.get("init_args") or {}),
                            **{key: out["dict_kwargs"][key] for key in named}}
        out["dict_kwargs"] = {k: v for k, v in out["dict_kwargs"].items() if k not in named}
        if not out["dict_kwargs"]:
            del out["dict_kwargs"]
    return out


def _check_once(value: Any, where: str) -> None:
    """Refuse a ``class_path`` node in ``value`` (at ``where``) whose ``init_args`` and
    ``dict_kwargs`` both give an argument its class names, saying the one key to write
    (an argument only its ``**kwargs`` takes, given twice, is refused by
    ``nodes.check_node_keys``).
    """
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_once(item, f"{where}[{i}]")
        return
    if is_hydra(value) or not isinstance(value, Mapping):  # (a Hydra node's
        return  # class_path mappings: data)
    node = is_node(value)
    if node:
        init, extra = value.get("init_args"), value.get("dict_kwargs")
        twice = [key for key in _named(value) if isinstance(init, Mapping) and key in init]
        if twice:
            key, name = twice[0], str(value["class_path"]).rpartition(".")[2]
            raise ConfigError(
                f"{where}: {key} given in both init_args ({init[key]!r}) and dict_kwargs "
                f"({extra[key]!r}); {name} takes it by name, so give it once, under "
                f"init_args: {where}.init_args.{key} (LightningCLI would take dict_kwargs' "
                f"{extra[key]!r})")
    data = data_args_of(value["class_path"]) if node else ()
    items = node_args(value).items() if node else value.items()
    for key, item in items:
        if key not in data:
            _check_once(item, f"{where}.{key}")


def _named(node: Mapping[str, Any]) -> list[str]:
    """The keys of a ``class_path`` node's ``dict_kwargs`` that its class takes by name."""
    extra = node.get("dict_kwargs")
    if not isinstance(extra, Mapping) or not extra or not isinstance(node.get("class_path"),
                                                                     str):
        return []
    taken = taken_args(node["class_path"])
    names = taken[0] if taken is not None else None
    return [key for key in extra if names is not None and key in names]
