"""``ConfigBuilder``: a config section (a LightningCLI ``class_path`` node or a Hydra
``_target_`` node) built for an architecture, its plain keys set as the section's arguments
and its dotted keys at their paths, then instantiated; ``import_target``: a section's import
path to its object, the error naming the section; ``links_over_trainer``: the Trainer
arguments a search sets over the config's (a scheduler's ``max_epochs``), read by the links.

Example:
    >>> builder = ConfigBuilder({"class_path": "torch.nn.Linear",
    ...                          "init_args": {"in_features": 2}}, "model", plain_keys=True)
    >>> builder.config({"out_features": 3})
    {'class_path': 'torch.nn.Linear', 'init_args': {'in_features': 2, 'out_features': 3}}
    >>> builder.class_name
    'Linear'
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_nas.config.chain import init_kwargs
from lightning_nas.config.cli_links import CliLinks
from lightning_nas.config.convert import convert_args
from lightning_nas.config.data_checks import check_loader_args
from lightning_nas.config.hparams import build_section
from lightning_nas.config.instantiate import check_init_args, import_object, short
from lightning_nas.config.nodes import (
    check_node_keys,
    dict_kwargs_keys,
    is_hydra,
    node_args,
    target_path,
)
from lightning_nas.config.paths import set_paths
from lightning_nas.config.required import check_required
from lightning_nas.config.space_keys import is_dotted
from lightning_nas.errors import ConfigError

__all__ = ["ConfigBuilder", "import_target", "links_over_trainer"]


class ConfigBuilder:
    """Builds a config section for an architecture: plain keys go to the section's arguments
    (its ``init_args``, or beside a Hydra node's ``_target_``), dotted keys under the section
    to their paths; then ``instantiate``.

    Picklable (plain data), so it crosses to worker processes.

    Args:
        section: the config section (``{"class_path": ..., "init_args": ...}`` or a Hydra
            node ``{"_target_": ..., ...}``).
        name: ``"model"`` or ``"data"``.
        plain_keys: whether undotted architecture keys belong to this section.
        links: the ``link_arguments`` of ``search.cli`` (``CliLinks``): their targets set
            after the architecture's values.
    """

    def __init__(self, section: Mapping[str, Any], name: str, plain_keys: bool,
                 links: CliLinks | None = None) -> None:
        self.section, self.name, self.plain_keys = copy.deepcopy(dict(section)), name, plain_keys
        self.links = links

    def config(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """The section with ``arch``'s values set."""
        cfg = {self.name: copy.deepcopy(self.section)}
        mine = [(key, value) for key, value in arch.items()
                if (key.startswith(f"{self.name}.") if is_dotted(key) else self.plain_keys)]
        set_paths(cfg, [(key if is_dotted(key) else f"{self.name}.{key}", value)
                        for key, value in mine])
        if self.links is not None:  # as the project's LightningCLI links them at parse time
            return self.links.fill(self.name, cfg[self.name], arch)
        return cfg[self.name]

    def __call__(self, arch: Mapping[str, Any]) -> Any:
        return build_section(self.config(arch), self.name)

    def target(self) -> Any:
        """The class (or function) the section builds."""
        return import_target(self.name, target_path(self.section))

    def check(self, arch: Mapping[str, Any] | None = None) -> None:
        """Check the section's classes, argument names and values (nested nodes too) before
        anything is built; with ``arch``, as that architecture sets them."""
        section = self.section if arch is None else self.config(arch)
        check_node_keys(section, self.name)
        target = self.target()
        if callable(target):
            check_init_args(target, node_args(section), self.name,
                            dict_kwargs=dict_kwargs_keys(section), written=is_hydra(section))
        if self.name == "data":  # a DataLoader's: refused only when a trial asks for it
            args = node_args(section)  # as a class_path node's are built ('64': 64)
            check_loader_args(convert_args(target, args) if callable(target) and not is_hydra(
                section) else args, self.name)
        if arch is not None:  # the nested nodes as a trial builds them: none lacks an argument
            check_required(section, self.name)

    def kwargs_of(self, cls: type) -> tuple[list[str], bool]:
        """The arguments the section's class ``cls`` takes (``accepted_kwargs``): a
        ``class_path`` node's along its ``**kwargs`` (``init_kwargs``), as LightningCLI
        finds them, its ``dict_kwargs`` too; a Hydra node's as Python calls it (along
        ``**kwargs`` only where they are passed on whole to ``super().__init__``)."""
        if is_hydra(self.section):  # a Python call: **kwargs passed on whole, for certain
            return init_kwargs(cls, forwarded=True)
        names, var_kw = init_kwargs(cls)
        return [*names, *(dict_kwargs_keys(self.section) or ())], var_kw

    @property
    def class_name(self) -> str:
        """The name of the class the section configures (``DigitsCNN``)."""
        return str(target_path(self.section) or "?").replace(":", ".").rsplit(".", 1)[-1]

    def __repr__(self) -> str:
        return f"ConfigBuilder({target_path(self.section)!r})"


def import_target(section: str, path: Any) -> Any:
    """``import_object(path)``, its error naming the config section."""
    try:
        return import_object(path)
    except ConfigError as err:
        raise ConfigError(f"{section}={short(path)}: {err}") from None


def links_over_trainer(targets: Sequence[Any], trainer: Mapping[str, Any]) -> None:
    """Have the links of the ``ConfigBuilder``s among ``targets`` read ``trainer``'s
    arguments over the config's Trainer section: a scheduler's ``max_epochs``, every
    trial's (and ``best_config.yaml``'s, from which the project's CLI links it), so that a
    link from ``trainer.max_epochs`` gives each trial's model the epochs it trains (was:
    the config's). One ``CliLinks`` for them all, as before.

    Example:
        >>> links_over_trainer([None, "my.Data"], {"max_epochs": 8})  # no links: nothing
    """
    builders = [t for t in targets if isinstance(t, ConfigBuilder) and t.links is not None]
    if not builders:
        return
    old = builders[0].links
    held = old.config.get("trainer")
    config = {**old.config, "trainer": {**(held if isinstance(held, Mapping) else {}),
                                        **trainer}}
    links = CliLinks(old.cli, config, old.from_python)
    for builder in builders:
        builder.links = links
