"""Config nodes given as the name of a YAML file: ``yaml_file`` finds such a file (beside the
config that names it, then in the current folder); ``inline_node_files`` reads each nested
``class_path`` node a config gives so (``init_args: {net: net.yaml}``), as LightningCLI
(jsonargparse) reads it.

Example:
    >>> node = {"class_path": "torch.nn.Linear", "init_args": {"in_features": 2}}
    >>> inline_node_files(node, None) == node  # no file named: as it is
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_nas.config.chain import init_hints
from lightning_nas.config.convert import fits
from lightning_nas.config.dict_args import is_plain_dict
from lightning_nas.config.instantiate import import_object
from lightning_nas.config.nodes import (
    ARGS_KEYS,
    is_hydra,
    is_node,
    node_args,
    target_path,
    with_args,
)
from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import ConfigError
from lightning_nas.run_folder import user_path

__all__ = ["inline_node_files", "yaml_file"]


def yaml_file(value: str, path: Path | None, command_line: bool = False) -> Path | None:
    """The YAML file ``value`` names, looked for beside ``path`` (the config that names it)
    then in the current folder; one the command line names in the current folder first.
    None where there is none."""
    places = [user_path(value)] if path is None else [path.parent / user_path(value),
                                                      user_path(value)]
    return next((p for p in (places[::-1] if command_line else places) if p.is_file()), None)


def inline_node_files(spec: Any, path: Path | None) -> Any:
    """``spec`` (a section, a node, a list) with each argument of a ``class_path`` node that
    is the name of a YAML file holding a ``class_path`` node (found by ``yaml_file``), where
    the argument's annotation takes no such text (an ``nn.Module``, not a ``str``), replaced
    by that node, as LightningCLI reads ``net: net.yaml`` (was: refused, "expected
    Module"); nested nodes and the file's own too. Anything else as it is: a node none of
    whose arguments names such a file unchanged (was: given an empty ``init_args``), and a
    plain ``dict`` argument's value (``is_plain_dict``: data, a ``class_path`` mapping or a
    file's name in it passed or refused as LightningCLI does; was: its file read)."""
    if isinstance(spec, list):
        return [inline_node_files(item, path) for item in spec]
    if not is_node(spec) or is_hydra(spec) \
            or any(not isinstance(spec.get(key) or {}, Mapping) for key in ARGS_KEYS):
        return spec  # kept as given for check_node_keys to name
    try:
        hints = init_hints(import_object(target_path(spec)))
    except ConfigError:  # said where the node is checked
        return spec
    given = node_args(spec)
    args = {}
    for key, value in given.items():
        if is_plain_dict(hints.get(key)):  # data, as LightningCLI passes it: no file read
            args[key] = value
            continue
        found = yaml_file(value, path) if isinstance(value, str) and value.endswith(
            (".yaml", ".yml")) and key in hints and not fits(value, hints[key]) else None
        read = load_yaml(found.read_text(), source=str(found)) if found else None
        args[key] = inline_node_files(read, found) if is_node(read) else \
            inline_node_files(value, path)
    return spec if args == given else with_args(spec, args)  # (unchanged: as written)
