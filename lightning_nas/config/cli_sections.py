"""The part of a config search that ``search.cli`` and space keys into the config shape:
the links checked before training (``checked_links``), and the ``model`` and ``data``
sections a trial builds from the config (``config_builders``), used alike by a config's
``search.cli`` (``search.from_config``) and by ``Search(..., cli=...)`` from Python
(``search.python_cli``).

Example:
    >>> checked_links(None, {"model": "m.Net"}, {"width": {"choice": [8, 16]}}) is None
    True
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.cli_links import CliLinks
from lightning_nas.config.cli_optim import check_searched_optim
from lightning_nas.config.factories import ModelFactory
from lightning_nas.config.load import section_target
from lightning_nas.config.nodes import contains_node
from lightning_nas.config.paths import set_dotted
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.config.space_keys import is_dotted
from lightning_nas.config.space_paths import check_dotted
from lightning_nas.user_warnings import warn_user

__all__ = ["checked_links", "config_builders", "warn_unrun_hooks"]


def checked_links(cli: str | None, cfg: Mapping[str, Any], space: Any,
                  from_python: bool = False) -> CliLinks | None:
    """The links of the ``LightningCLI`` subclass at import path ``cli`` over ``cfg``
    (None without one), checked before training: it imports, is a ``LightningCLI``, its
    links are taken, none steps past a nested ``class_path`` node of ``cfg`` without its
    ``init_args`` level (the project's CLI would skip it); a target the config gives is
    said in a warning (each trial sets it from the link's source); a space key that sets a
    target is refused.

    Args:
        cli: the import path (``search.cli``), or None.
        cfg: the config (``model``, ``data``, ``trainer``, ...).
        space: the space's mapping form (a path to a file of one: its keys not checked).
        from_python: errors name the CLI ``cli=`` (``Search`` from Python), not
            ``search.cli``.

    Raises:
        ConfigError: naming the key and value, or the link.
    """
    links = CliLinks(cli, cfg, from_python) if cli is not None else None
    if links is not None:  # importable, a LightningCLI, its links taken: before training
        links.check_keys(cfg)
        warn_unrun_hooks(links)
        for link in links.given_targets(cfg):  # (said, as its value trains nowhere)
            warn_user(f"the config gives the target of {link} ({links.named}): each "
                      f"trial sets it from the link's source, as your LightningCLI does")
        if isinstance(space, Mapping):
            links.check_space(space)
    return links


def config_builders(cfg: Mapping[str, Any], space: Any, cli: str | None,
                    links: CliLinks | None, model: Any, model_args: dict[str, Any],
                    data: Any, data_args: dict[str, Any]) -> tuple[Any, ...]:
    """Where space keys are paths into the config, ``class_path`` values for the model's
    arguments, or ``links`` to apply, each trial builds ``model`` and ``data`` from the
    config (``ConfigBuilder``s over its sections, the links' targets set), an argument a
    dotted key reaches into that the config leaves out set to its default's fields first;
    else they stay as given.

    Returns:
        ``(cfg, model, model_args, data, data_args)``: the config (with those defaults),
        and what ``Search`` takes for the model and the data.
    """
    space = space if isinstance(space, Mapping) else {}  # (a file's keys: not read here)
    dotted = [k for k in space if is_dotted(k)]
    nodes = [k for k in space if not is_dotted(k) and contains_node(space[k])]
    if not (dotted or nodes or links):
        return cfg, model, model_args, data, data_args
    for key in dotted:  # an argument it reaches into that the config leaves out: its
        # default's fields first (of a Union of dataclasses: the class the keys build)
        for path, value in check_dotted(cfg, key, {k: space[k] for k in dotted}).items():
            cfg = set_dotted(copy.deepcopy(dict(cfg)), path, value)
    if links is not None:  # over those defaults
        links = CliLinks(cli, cfg, links.from_python)
    model_section = cfg["model"] if isinstance(cfg["model"], Mapping) else {
        "class_path": cfg["model"]}
    model, model_args = ConfigBuilder(model_section, "model", plain_keys=True,
                                      links=links), {}
    if cfg.get("data") is not None and any(k.startswith("data.") for k in [
            *dotted, *(links.targets() if links is not None else ())]):
        data_section = cfg["data"] if isinstance(cfg["data"], Mapping) else {
            "class_path": cfg["data"]}
        data, data_args = ConfigBuilder(data_section, "data", plain_keys=False,
                                        links=links), {}
    check_searched_optim(cfg, space)
    plain = [k for k in space if not is_dotted(k)]
    if plain:
        ModelFactory(section_target(cfg["model"], "model")[0]).check(plain)
    return cfg, model, model_args, data, data_args


#: what a search takes from ``search.cli``: its links and its ``configure_optimizers``
_RUN = ("add_arguments_to_parser", "configure_optimizers")


def warn_unrun_hooks(links: CliLinks) -> None:
    """Warn, before training, of the methods the CLI of ``links`` overrides that a search
    does not run (its ``__init__``, ``instantiate_classes``, ``before_fit``, ...): each
    trial, and ``lightning-nas fit``, build the model, data and Trainer from the config and
    call ``Trainer.fit`` (was: without a word, while the project's ``python main.py fit``
    runs them on ``best_config.yaml``).

    Example:
        >>> warn_unrun_hooks(CliLinks("lightning.pytorch.cli.LightningCLI", {}))  # none
    """
    if links.cli is None:
        return
    from lightning.pytorch.cli import LightningCLI

    from lightning_nas.config.instantiate import import_object

    cls = import_object(links.cli)
    own = [name for name in vars(LightningCLI) if name not in _RUN and (
        name == "__init__" or not name.startswith("__")) and callable(
        getattr(LightningCLI, name, None)) and getattr(cls, name) is not getattr(
        LightningCLI, name)]
    own += [name for name in ("before_fit", "after_fit") if callable(getattr(cls, name, None))]
    if own:
        warn_user(f"{links.named} overrides {', '.join(own)}, which a search does not run: "
                  f"each trial (and lightning-nas fit) builds the model, data and Trainer "
                  f"from the config and calls Trainer.fit, taking from your CLI only its "
                  f"link_arguments and configure_optimizers, so what those do (defaults "
                  f"given to LightningCLI.__init__, such as trainer_defaults, too) is in no "
                  f"trial; give it in the config, a callback or the model (your "
                  f"`python main.py fit --config best_config.yaml` runs them)")
