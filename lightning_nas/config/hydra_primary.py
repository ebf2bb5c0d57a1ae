"""A Hydra project's primary config (``configs/train.yaml``: a ``defaults:`` list of config
groups) given to ``lightning-nas search`` (or ``fit``, ``oneshot``), which reads plain YAML
and composes no config groups: ``check_not_hydra_primary`` refuses it as the file is read,
naming its groups and the search config to write, its sections the groups' files (was: the
first interpolation it holds refused, ``paths.output_dir='${hydra:runtime.output_dir}': ...
is an OmegaConf interpolation``, or without one ``unknown config section 'defaults'``).
No torch, no Lightning at import.

Example:
    >>> check_not_hydra_primary({"model": {"_target_": "m.Net"}}, Path("search.yaml"))
    >>> check_not_hydra_primary({"defaults": [{"model": "a"}, "_self_"]}, Path("train.yaml"))
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: train.yaml is a Hydra config: its defaults list ...
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_nas.errors import ConfigError

__all__ = ["check_not_hydra_primary"]

#: the sections of a search config that may name a config group's file
_SECTIONS = ("model", "data", "trainer")


def check_not_hydra_primary(part: Mapping[str, Any], path: Path) -> None:
    """Refuse ``part``, the YAML of ``path``, where it is a Hydra primary config (a top-level
    ``defaults`` list), naming its config groups and, for each of ``model``, ``data`` and
    ``trainer`` whose option's file is beside it (``<group>/<option>.yaml``), the section
    that names the file.

    Raises:
        ConfigError: naming what to write instead.
    """
    defaults = part.get("defaults")
    if not isinstance(defaults, list):
        return
    chosen = [(str(group), option) for item in defaults if isinstance(item, Mapping)
              for group, option in item.items()
              if option is not None and not str(group).startswith(("override ", "hydra/"))]
    files = [f"{group}: {path.parent / group / f'{option}.yaml'}" for group, option in chosen
             if group in _SECTIONS and isinstance(option, str)
             and (path.parent / group / f"{option}.yaml").is_file()]
    groups = ", ".join(f"{group}: {option}" for group, option in chosen)
    sections = (f" ({', '.join(files)})" if files else
                " (model: configs/model/<option>.yaml, ...)")
    raise ConfigError(
        f"{path} is a Hydra config: its defaults list composes the config groups "
        f"{groups or 'it names'}, which lightning-nas does not compose; a search config names "
        f"the groups' files as its sections{sections} beside a search: block, as the "
        f"README's Hydra projects section shows; or sweep the project with Hydra's -m and "
        f"hydra/sweeper=lightning_nas")
