"""``check_no_interpolations``: an OmegaConf interpolation (``${paths.output_dir}``,
``${oc.env:DATA}``) in a config that ``lightning-nas`` reads is refused before anything is
built, naming its path. Hydra resolves such a value in each job of a project's own
``train.py`` (the lightning-hydra-template's ``dirpath: ${paths.output_dir}/checkpoints``
is the job's folder); lightning-nas reads its configs as plain YAML, with no Hydra job to
resolve it, so it would be taken as written (was: taken so, each trial's checkpoints
written into a folder named ``${paths.output_dir}`` in the current folder). An escaped one,
``\\${x}``, is let be: OmegaConf reads it as text too. A shell's environment variable as a
whole path segment (``$RUNS/try1``, ``/scratch/$USER/nas``), which no YAML reader expands,
is refused too (was: a folder named ``$RUNS`` made in the current folder); a ``$`` that
starts no such segment (``pay$5``, ``a$b``) is text.

Example:
    >>> check_no_interpolations({"data": {"root": "${paths.data_dir}"}})
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: data.root='${paths.data_dir}': ${paths.data_dir} is an \
OmegaConf interpolation, ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lightning_nas.errors import ConfigError

__all__ = ["check_no_interpolations", "check_space_file"]

#: an interpolation as OmegaConf finds one: ``${...}`` not escaped by a backslash
_INTERPOLATION = re.compile(r"(?<!\\)\$\{[^}]*\}")
#: a shell's environment variable as a whole path segment: ``$RUNS/x``, ``/scratch/$USER``
_VARIABLE = re.compile(r"(?:^|(?<=/))\$[A-Za-z_]\w*(?=/|$)")


def check_no_interpolations(value: Any, path: str = "") -> None:
    """Raise ``ConfigError`` where a string in ``value`` (a config, at any depth of its
    mappings and lists) holds an OmegaConf interpolation, or a shell's environment variable
    as a whole path segment (``$RUNS/try1``).

    Args:
        value: the config, or a part of it at ``path``.
        path: the config path of ``value`` as the config spells it (``trainer.logger[0]``,
            ``trainer.callbacks.model_checkpoint``); empty at the top.

    Raises:
        ConfigError: ``trainer.default_root_dir='${paths.output_dir}': ${paths.output_dir}
            is an OmegaConf interpolation, which lightning-nas does not resolve ...``.
    """
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_no_interpolations(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_no_interpolations(item, f"{path}[{index}]")
    elif isinstance(value, str) and (found := _INTERPOLATION.search(value)):
        raise ConfigError(
            f"{path}={value!r}: {found.group()} is an OmegaConf interpolation, which "
            f"lightning-nas does not resolve: it reads its configs as plain YAML, with no "
            f"Hydra job to fill it in, so the value would be taken as written; give the "
            f"value itself (for a folder, its path: each trial writes into a folder of its "
            f"own under it)")
    elif isinstance(value, str) and (found := _VARIABLE.search(value)):
        # was: taken as written, a folder named $RUNS made in the current folder
        raise ConfigError(
            f"{path}={value!r}: {found.group()} is an environment variable, which "
            f"lightning-nas does not expand (it reads its configs as plain YAML, as "
            f"LightningCLI does), so a folder named {found.group()} would be made; give the "
            f"path itself, or the override --{path}=\"{value}\" in double quotes, which the "
            f"shell expands")


def check_space_file(space: Any, file: Any, key: str = "space") -> None:
    """Raise ``ConfigError`` where the search space read from YAML file ``file`` holds an
    OmegaConf interpolation, naming the file and the key: the one check of every path that
    reads a space file (a config's ``search.space``, the command line's
    ``--search.space=FILE``, ``Search(space="file.yaml")``, ``SearchSpace.from_yaml``; was:
    the command line's alone).

    Args:
        space: the file's content.
        file: the file, as the message names it.
        key: what names the space (``search.space`` in a config, ``space`` from Python).

    Example:
        >>> check_space_file({"w": {"choice": ["${x}"]}}, "s.yaml")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: space file s.yaml: space.w.choice[0]='${x}': ...
    """
    try:
        check_no_interpolations(space, key)
    except ConfigError as err:
        raise ConfigError(f"{key} file {file}: {err}") from None
