"""``check_blocks``: a job config's top-level ``search:`` or ``oneshot:`` node that holds
the settings of ``lightning-nas search`` or ``lightning-nas oneshot`` beside a Hydra sweep,
named before the first job.

A sweep reads its settings from ``hydra.sweeper``; a ``search:`` block (the YAML of
``lightning-nas search``: ``search: {budget: 20, optimizer: ..., space: ...}``) in the job
config is only passed to the jobs, so a user who wrote one believed settings that never
applied (``check_search_block``); so is a ``oneshot:`` block (``lightning-nas oneshot``'s
``oneshot: {algorithm: spos, num_candidates: 30, ...}``), whose one-shot search no job
runs: in a Hydra project that is a callback in the trainer's callbacks, trained once
without ``-m`` (``check_oneshot_block``). A node whose every key is one of that block's is
refused, each key named with where it goes; a node that also holds other keys may be the
task's own, so it is warned of and passed on; a value that is no mapping, a node of none of
the block's keys, a ``_target_`` node (one the task builds) or a node the sweep itself
searches (``search.depth: choice(1, 2)``) is the project's own and passes without a word.

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

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from lightning_nas.errors import ConfigError
from lightning_nas.integrations.hydra_config import FROM_SEARCH, LightningNASSweeperConf
from lightning_nas.oneshot.setting_checks import ONESHOT_KEYS
from lightning_nas.search.from_config import SEARCH_KEYS
from lightning_nas.user_warnings import warn_user
from lightning_nas.wording import named

__all__ = ["check_blocks", "check_oneshot_block", "check_search_block"]

#: keys of the ``search:`` block a sweep has under another name or shape
_RENAMED = {
    "space": "hydra.sweeper.params, in Hydra's sweep grammar ({choice: [1, 2]} is "
             "choice(1, 2), {float: [0.001, 0.1], log: true} is tag(log, interval(0.001, "
             "0.1)))",
    "mode": "hydra.sweeper.direction (maximize or minimize)",
}
#: what a one-shot search in a Hydra project is (``check_oneshot_block``)
_ONESHOT = ("a one-shot search is one training run, not a sweep: add "
            "lightning_nas.oneshot.OneShotNAS to the trainer's callbacks (callbacks: {oneshot: "
            "{_target_: lightning_nas.oneshot.OneShotNAS, ...}}) and run the task once, "
            "without -m (README, 'One-shot NAS'), or run lightning-nas oneshot with the block")
#: keys of the ``oneshot:`` block that are no argument of ``OneShotNAS``
_ONESHOT_ELSEWHERE = {
    "run_dir": "oneshot.run_dir is the callback's export_dir",
    "finetune_epochs": "oneshot.finetune_epochs is finetune_subnet(callback.subnet, ...)'s "
                       "max_epochs, after the fit",
    "finetune_lr": "oneshot.finetune_lr is finetune_subnet(callback.subnet, ...)'s lr, after "
                   "the fit",
}


def check_blocks(config: DictConfig, params: Iterable[str] | None = None,
                 arguments: Sequence[str] = (), config_loader: Any = None) -> None:
    """``check_search_block`` and ``check_oneshot_block`` (the arguments are theirs).

    Example:
        >>> from omegaconf import OmegaConf
        >>> check_blocks(OmegaConf.create({"search": {"beam_width": 4}, "oneshot": "spos"}))
    """
    check_search_block(config, params, arguments, config_loader)
    check_oneshot_block(config, params, arguments, config_loader)


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
    keys = _block_keys(config, "search", SEARCH_KEYS, params, arguments, config_loader)
    if keys:
        ours = [k for k in keys if k in SEARCH_KEYS]
        _refuse(keys, SEARCH_KEYS, (
            f"the job config's top-level `search:` node holds lightning-nas search's "
            f"{named(ours, 'setting')}, which a Hydra sweep does not read (its settings are "
            f"hydra.sweeper's; the node would only reach the jobs): "
            f"{'; '.join(_where(k) for k in ours)}"))


def check_oneshot_block(config: DictConfig, params: Iterable[str] | None = None,
                        arguments: Sequence[str] = (), config_loader: Any = None) -> None:
    """Refuse (or warn of) a top-level ``oneshot:`` node of ``lightning-nas oneshot``'s
    settings in a sweep's job config: no job runs a one-shot search from it (was: passed to
    the jobs without a word, each training the plain model).

    Args:
        config: the sweep's config (the job config with its ``hydra`` node).
        params: the keys of ``hydra.sweeper.params``; one under ``oneshot`` makes the node
            the project's own.
        arguments: the command line's task overrides; a sweep of a key under ``oneshot``
            does too (a fixed ``+oneshot.top_k=3`` does not).
        config_loader: Hydra's, for the grammar's functions that read the config.

    Raises:
        ConfigError: every key of the node is one of the ``oneshot:`` block's; the message
            says what a one-shot search is in a Hydra project.

    Example:
        >>> from omegaconf import OmegaConf
        >>> check_oneshot_block(OmegaConf.create({"oneshot": {"_target_": "my.Nas", "top_k": 2}}))
        >>> check_oneshot_block(OmegaConf.create({"oneshot": {"top_k": 2}}))
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: the job config's top-level `oneshot:` node holds ...
    """
    keys = _block_keys(config, "oneshot", ONESHOT_KEYS, params, arguments, config_loader)
    if keys:
        ours = [k for k in keys if k in ONESHOT_KEYS]
        notes = [_ONESHOT_ELSEWHERE[k] for k in ours if k in _ONESHOT_ELSEWHERE]
        algorithm = config.oneshot.get("algorithm")
        if algorithm in ("darts", "gdas"):  # (a wrong one is lightning-nas oneshot's to name)
            notes.insert(0, f"oneshot.algorithm {algorithm} is lightning_nas.oneshot."
                            f"DifferentiableNAS(model, algorithm={algorithm!r}), a "
                            f"LightningModule that wraps the model, with BilevelData(data), "
                            f"not a callback")
        _refuse(keys, ONESHOT_KEYS, (
            f"the job config's top-level `oneshot:` node holds lightning-nas oneshot's "
            f"{named(ours, 'setting')}, which a Hydra sweep does not read (the node would "
            f"only reach the jobs): {_ONESHOT}{''.join(f'; {n}' for n in notes)}"))


# ----------------------------------------------------------------- helpers
def _block_keys(config: DictConfig, name: str, block: Mapping[str, Any],
                params: Iterable[str] | None, arguments: Sequence[str],
                config_loader: Any) -> list[str]:
    """The keys of the top-level node ``name`` where it may be that command's block: a
    mapping holding one of ``block``'s keys, no ``_target_`` (a node the task builds) and
    not searched by the sweep; else none."""
    node = config.get(name) if isinstance(config, DictConfig) else None
    if not isinstance(node, Mapping) or not node or "_target_" in node:
        return []
    parser = OverridesParser.create(config_loader=config_loader)
    swept = [str(o.input_line) for o in parser.parse_overrides(
        list(arguments)) if o.is_sweep_override()]
    if any(_under(key, name) for key in [*(params or ()), *swept]):
        return []  # the sweep searches the node's keys: the task reads them
    keys = [str(k) for k in node]
    return keys if any(k in block for k in keys) else []


def _refuse(keys: Sequence[str], block: Mapping[str, Any], said: str) -> None:
    """Raise ``said`` where every key is the block's; else warn of it (the task's own?)."""
    others = [k for k in keys if k not in block]
    if not others:
        raise ConfigError(said)
    warn_user(f"{said}. Not refused: the node also holds {named(others, 'key')}, so "
              f"it may be the task's own; it reaches the jobs as written")


def _where(key: str) -> str:
    """Where ``search.<key>`` goes in a sweep."""
    if key in _RENAMED:
        return f"move search.{key} to {_RENAMED[key]}"
    if key in FROM_SEARCH:
        return f"search.{key} is of lightning-nas search, not of a sweep: {FROM_SEARCH[key]}"
    if key in LightningNASSweeperConf.__dataclass_fields__:
        return f"move search.{key} to hydra.sweeper.{key}"
    return f"search.{key} is of lightning-nas search, not of a sweep"  # (none left: a guard)


def _under(override: Any, name: str) -> bool:
    """Whether a searched key (``search.depth``, ``+search.x``, ``search``) is in ``name``."""
    key = str(override).split("=", 1)[0].lstrip("+~")
    return any(part == name or part.startswith((f"{name}.", f"{name}/"))
               for part in key.split("@"))  # a group's (search/x) or a package's
