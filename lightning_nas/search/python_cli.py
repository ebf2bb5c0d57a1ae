"""``Search(..., cli=MyCLI)`` from Python: the ``link_arguments`` of a project's
``LightningCLI`` subclass applied in each trial, as a config's ``search.cli`` applies them.

The search's model, data and plain Trainer arguments are written as the config a
``lightning-nas search`` run would read (``model``/``data`` ``class_path`` nodes, a
``search: {cli: ...}`` block), and that config goes the config path's way
(``config.cli_sections``): the same checks before training, the same trials, and the same
``best.yaml``, ``best.ckpt``, ``best_config.yaml``, ``finetune`` and ``fit`` after it.

Example:
    >>> cli_config("lightning.pytorch.cli.LightningCLI", "tests.helpers.TinyNet",
    ...            {"lr": 0.1}, None, None, {"max_epochs": 1})["model"]
    {'class_path': 'tests.helpers.TinyNet', 'init_args': {'lr': 0.1}}
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from lightning_nas.arch import is_plain
from lightning_nas.config.cli_links import cli_class
from lightning_nas.config.cli_sections import checked_links, config_builders
from lightning_nas.config.imports import object_path
from lightning_nas.errors import ConfigError
from lightning_nas.space import SearchSpace

__all__ = ["cli_config", "cli_path", "cli_parts"]

#: why ``cli=`` needs import paths
_BY_PATH = ("each trial builds its model and data from import paths, as your CLI does (in "
            "worker and DDP rank processes too), and best_config.yaml names them for "
            "lightning-nas fit")


def cli_path(cli: Any) -> str:
    """The import path of ``cli=`` (a ``LightningCLI`` subclass or its import path),
    checked as a config's ``search.cli`` is (it imports, it is a ``LightningCLI``).

    Example:
        >>> from lightning.pytorch.cli import LightningCLI
        >>> cli_path(LightningCLI)
        'lightning.pytorch.cli.LightningCLI'

    Raises:
        ConfigError: naming the value and what ``cli=`` takes; a class with no import path
            (defined in ``__main__``, a notebook, or in a function) is refused.
    """
    from lightning.pytorch.cli import LightningCLI

    if inspect.isclass(cli) and not issubclass(cli, LightningCLI):
        raise ConfigError(f"cli={cli.__qualname__} is not a subclass of lightning.pytorch.cli."
                          f"LightningCLI: give the class whose add_arguments_to_parser "
                          f"declares your link_arguments")
    if inspect.isclass(cli):
        path = object_path(cli)
        if path is None:
            raise ConfigError(f"cli={cli.__qualname__} has no import path (defined in "
                              f"__main__, a notebook, or in a function): {_BY_PATH}; its "
                              f"links are read again by that path; move the class into a "
                              f"module (my_pkg/cli.py) and pass it, or its import path "
                              f"(cli='my_pkg.cli.MyCLI')")
    elif isinstance(cli, str) and cli:
        path = cli
    else:
        raise ConfigError(f"cli must be your LightningCLI subclass or its import path "
                          f"(cli=MyCLI, cli='my_pkg.cli.MyCLI'), got {cli!r}")
    cli_class(path, from_python=True)  # (as search.cli: imports, a LightningCLI)
    return path


def _section(target: Any, init_args: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """A ``class_path`` node of the model or data given to ``Search`` with ``cli=``."""
    path = target if isinstance(target, str) else (
        object_path(target) if inspect.isclass(target) else None)
    if path is None:
        what = ("nothing" if target is None else f"{type(target).__name__} {target!r}"
                if not inspect.isclass(target) else f"{target.__qualname__}, which has no "
                f"import path (defined in __main__ or in a function)")
        raise ConfigError(f"cli= applies its links to the {name} as your CLI builds it: "
                          f"{_BY_PATH}; give {name}= a class defined in a module, or its "
                          f"import path (got {what})")
    bad = [key for key, value in (init_args or {}).items() if not is_plain(value)]
    if bad:
        raise ConfigError(f"cli= writes the {name}'s arguments in the config its trials "
                          f"build from, as YAML: {name}_init_args "
                          f"{', '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} "
                          f"no plain data; give a class_path node of "
                          f"{'it' if len(bad) == 1 else 'them'} ({{'class_path': ..., "
                          f"'init_args': {{...}}}}) or drop cli=")
    return {"class_path": path, "init_args": dict(init_args or {})}


def cli_config(cli: str, model: Any, model_init_args: Mapping[str, Any] | None, data: Any,
               data_init_args: Mapping[str, Any] | None,
               trainer: Mapping[str, Any]) -> dict[str, Any]:
    """The config a search's Python arguments make: ``model`` and ``data`` ``class_path``
    nodes, the plain Trainer arguments (objects stay with the search's Trainer) and a
    ``search`` block naming ``cli``."""
    cfg: dict[str, Any] = {"model": _section(model, model_init_args, "model")}
    if data is not None or data_init_args:
        cfg["data"] = _section(data, data_init_args, "data")
    cfg["trainer"] = {k: v for k, v in trainer.items() if is_plain(v)}
    cfg["search"] = {"cli": cli}
    return cfg


def cli_parts(cli: Any, model: Any, model_init_args: Mapping[str, Any] | None, data: Any,
              data_init_args: Mapping[str, Any] | None, trainer: Mapping[str, Any],
              space: SearchSpace, config: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """What ``Search`` builds its trials from, given ``cli=``: the model and the data as
    config sections with the links applied, and the config to store.

    Returns:
        ``(model, model_init_args, data, data_init_args, config)``.

    Raises:
        ConfigError: as a config's ``search.cli`` is refused, naming the value as given
            (``cli=...``, not ``search.cli``).
    """
    if config is not None:
        raise ConfigError("give cli= without config=: a config names its CLI in its search "
                          "block (search: {cli: my_pkg.cli.MyCLI}), and "
                          "lightning-nas search reads it")
    path = cli_path(cli)
    cfg = cli_config(path, model, model_init_args, data, data_init_args, trainer)
    links = checked_links(path, cfg, space.to_dict(), from_python=True)
    cfg, model, model_args, data, data_args = config_builders(
        cfg, space.to_dict(), path, links, cfg["model"]["class_path"],
        cfg["model"]["init_args"], (cfg.get("data") or {}).get("class_path"),
        (cfg.get("data") or {}).get("init_args") or {})
    return model, model_args, data, data_args, cfg
