"""``check_search_block``: a job config's top-level ``search:`` node that holds
``lightning-nas search``'s settings beside a Hydra sweep, named before the first job.

A sweep reads its settings from ``hydra.sweeper``; a ``search:`` block (the YAML of
``lightning-nas search``: ``search: {budget: 20, optimizer: ..., space: ...}``) in the job
config is only passed to the jobs, so a user who wrote one believed settings that never
applied. A node whose every key is one of that block's is refused, each key named with
where it goes (``hydra.sweeper.<key>``, or what a sweep does instead); a node that also
holds other keys may be the task's own, so it is warned of and passed on; a value that is
no mapping, a node of none of the block's keys, or a ``search`` the sweep itself searches
(``search.depth: choice(1, 2)``) is the project's own and passes without a word.

Example:
    >>> from omegaconf import OmegaConf
    >>> check_search_block(OmegaConf.create({"search": "beam"}))  # the project's own
    >>> check_search_block(OmegaConf.create({"search": {"budget": 3}}))
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: the job config's top-level `search:` node holds ...: move
    search.budget to hydra.sweeper.budget
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from lightning_nas.errors import ConfigError
from lightning_nas.integrations.hydra_config import FROM_SEARCH, LightningNASSweeperConf
from lightning_nas.search.from_config import SEARCH_KEYS
from lightning_nas.wording import named

__all__ = ["check_search_block"]

#: keys of the ``search:`` block a sweep has under another name or shape
_RENAMED = {
    "space": "hydra.sweeper.params, in Hydra's sweep grammar ({choice: [1, 2]} is "
             "choice(1, 2), {float: [0.001, 0.1], log: true} is tag(log, interval(0.001, "
             "0.1)))",
    "mode": "hydra.sweeper.direction (maximize or minimize)",
}


def check_search_block(config: DictConfig, params: Iterable[str] | None = None,
                       arguments: Sequence[str] = (), config_loader: Any = None) -> None:
    """Refuse (or warn of) a top-level ``search:`` node of ``lightning-nas search``'s
    settings in a sweep's job config.

    Args:
        config: the sweep's config (the job config with its ``hydra`` node).
        params: the keys of ``hydra.sweeper.params``; one under ``search`` makes the node
            the project's own (the sweep searches or sets it for the task).
        arguments: the command line's task overrides: a sweep of a key under ``search``
            (``search.depth=1,2``) does too (a fixed ``+search.budget=3`` does not).
        config_loader: Hydra's, for the grammar's functions that read the config.

    Raises:
        ConfigError: every key of the node is one of the ``search:`` block's; the message
            names each with where it goes.

    Example:
        >>> from omegaconf import OmegaConf
        >>> check_search_block(OmegaConf.create({"search": {"budget": 3}}), ["search.budget"])
        >>> check_search_block(OmegaConf.create({"search": {"budget": 3}}), [],
        ...                    ["search.budget=1,2"])
    """
    node = config.get("search") if isinstance(config, DictConfig) else None
    if not isinstance(node, Mapping) or not node:
        return
    parser = OverridesParser.create(config_loader=config_loader)
    swept = [str(o.input_line) for o in parser.parse_overrides(
        list(arguments)) if o.is_sweep_override()]
    if any(_under_search(key) for key in [*(params or ()), *swept]):
        return  # the sweep searches the node's keys: the task reads them
    keys = [str(k) for k in node]
    ours = [k for k in keys if k in SEARCH_KEYS]
    if not ours:
        return
    where = "; ".join(_where(k) for k in ours)
    said = (f"the job config's top-level `search:` node holds lightning-nas search's "
            f"{named(ours, 'setting')}, which a Hydra sweep does not read (its settings are "
            f"hydra.sweeper's; the node would only reach the jobs): {where}")
    others = [k for k in keys if k not in SEARCH_KEYS]
    if not others:
        raise ConfigError(said)
    warnings.warn(f"{said}. Not refused: the node also holds {named(others, 'key')}, so "
                  f"it may be the task's own; it reaches the jobs as written", stacklevel=2)


def _where(key: str) -> str:
    """Where ``search.<key>`` goes in a sweep."""
    if key in _RENAMED:
        return f"move search.{key} to {_RENAMED[key]}"
    if key in FROM_SEARCH:
        return f"search.{key} is of lightning-nas search, not of a sweep: {FROM_SEARCH[key]}"
    if key in LightningNASSweeperConf.__dataclass_fields__:
        return f"move search.{key} to hydra.sweeper.{key}"
    return f"search.{key} is of lightning-nas search, not of a sweep"  # (none left: a guard)


def _under_search(override: Any) -> bool:
    """Whether a searched key (``search.depth``, ``+search.x``, ``search``) is in ``search``."""
    key = str(override).split("=", 1)[0].lstrip("+~")
    return any(part == "search" or part.startswith(("search.", "search/"))
               for part in key.split("@"))  # a group's (search/x) or a package's
