"""Values an earlier run recorded for keys of a space (warm starts).

A key the earlier space lacked but its run had a value for takes that value
(``recorded_values``): read from its config (a config run; a Hydra sweep's composed job
config, with the options and values each trial's job composed) or its stored model, data
and Trainer settings (a DataModule object's ``hparams``; ``trainer.max_epochs``: its
scheduler's), else the default of its model's or data class's argument. A space's keys are
dotted paths (``flat_params``; ``nest`` builds the architecture back from them), and the
space a source run searched is read from its store (``stored_space``).

Example:
    >>> space = SearchSpace.from_dict({"k": {"choice": [3, 5]},
    ...                                "opt": {"lr": {"float": [0.001, 0.1]}}})
    >>> flat_params(space)
    {'k': Choice([3, 5]), 'opt.lr': Float(0.001, 0.1)}
    >>> nest({"k": 3, "opt.lr": 0.01}, space)
    {'k': 3, 'opt': {'lr': 0.01}}
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.instantiate import import_object
from lightning_nas.config.nodes import target_path
from lightning_nas.config.paths import get_dotted
from lightning_nas.config.space_keys import is_dotted
from lightning_nas.errors import ConfigError, SpaceError
from lightning_nas.search.scheduler_settings import scheduler_epochs
from lightning_nas.search.warm_keys import placed
from lightning_nas.space import SearchSpace
from lightning_nas.space.params import Param
from lightning_nas.store import RunStore

__all__ = ["flat_params", "nest", "recorded_values", "stored_space"]


def flat_params(space: SearchSpace, prefix: str = "") -> dict[str, Param]:
    """Every parameter by its dotted path (nested groups joined with dots).

    Args:
        space: the space whose parameters are listed.
        prefix: the dotted path of ``space`` in its parent (with its trailing dot).
    """
    out: dict[str, Param] = {}
    for name, param in space.params.items():
        if isinstance(param, SearchSpace):
            out.update(flat_params(param, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = param
    return out


def stored_space(store: RunStore) -> SearchSpace | None:
    """The space a source run searched (None for a store that holds none)."""
    try:
        return SearchSpace.from_dict(store.get_meta("space"))
    except (SpaceError, TypeError, AttributeError):
        return None


def nest(flat: Mapping[str, Any], space: SearchSpace, prefix: str = "") -> dict[str, Any]:
    """The architecture of ``space`` whose dotted paths hold ``flat``'s values.

    Args:
        flat: a value per dotted path (as ``flat_params`` names them).
        space: the space whose architecture is built.
        prefix: the dotted path of ``space`` in its parent (with its trailing dot).
    """
    return {name: nest(flat, param, f"{prefix}{name}.") if isinstance(param, SearchSpace)
            else flat[f"{prefix}{name}"] for name, param in space.params.items()}


def recorded_values(store: RunStore, space: SearchSpace, hydra: bool = False,
                    chosen: Mapping[str, str] | None = None,
                    groups: Mapping[str, Any] | None = None,
                    values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values an earlier run had for keys of ``space``, read from its config (a config
    run; a Hydra sweep's composed job config, with what a trial's job composed otherwise,
    ``values`` by dotted path, or from a sweep that stored none, the subtrees of the
    config-group options it ran, ``chosen``: searched key to option; and the options its job
    composed otherwise than the config, ``groups``: a nested group that a searched option's
    defaults choose, ``model/backbone``) or its stored model, data and Trainer settings (a
    DataModule object's: its ``hparams``, as ``save_hyperparameters()`` kept them;
    ``trainer.max_epochs``: its scheduler's, which its complete trials trained; a dataclass
    instance given from Python: its stored fields), else the
    default of its model's or data class's argument: a plain key (or a group's) is a model
    argument, a dotted top-level key a path into the config; in a Hydra sweep (``hydra``:
    this search is one) every key is a path into the config."""
    config = store.get_meta("job_config" if store.get_meta("hydra") is not None
                            else "config") or {}
    for path, value in (values or {}).items():  # its job's own (was: its options' records,
        config = placed(config, path, value)  # composed beside the first sample's values)
    chosen = dict(chosen or {}) if values is None else {}
    options = store.get_meta("job_options") or {}  # each searched option's subtrees
    for key, option in chosen.items():  # (was: the default option's, for every trial)
        config = {**config, **options.get(key, {}).get(option, {})}
    nested = store.get_meta("job_nested_options") or {}  # a group searched under a searched
    for key, option in chosen.items():  # parent's path: its subtree (was: missing)
        record = nested.get(key) or {}
        if option in record.get("options", {}):
            path = record["path"]
            config = placed(config, path, get_dotted(record["options"][option], path))
    choices = {**(store.get_meta("job_choices") or {}), **(groups or {})}  # a sweep's
    # config groups: the option (was: the config's, also where a trial's option chose another)
    data = store.get_meta("data") or {}
    if "instance" in data:  # a DataModule object: what its save_hyperparameters() kept
        data = {**data, "init_args": store.get_meta("data_hparams") or {}}
    stored = {"model": _with_instances(store.get_meta("model") or {}),
              "data": _with_instances(data), "trainer": store.get_meta("trainer") or {}}
    settings = store.get_meta("settings") or {}
    out: dict[str, Any] = {}
    for key in flat_params(space):
        name = next(n for n in space.params if key == n or key.startswith(f"{n}."))
        rest = key[len(name):].split(".")[1:]
        parts = [*name.lstrip("+").split("."), *rest] if is_dotted(name) or hydra else \
            ["model", name, *rest]  # a sweep's keys are all paths into its job config
        if key in choices:
            out[key] = choices[key]
            continue
        if key == "trainer.max_epochs" and (epochs := scheduler_epochs(settings)) is not None:
            out[key] = epochs  # its scheduler's, which its complete trials trained
            continue
        for root, path in ((config, parts), (stored.get(parts[0]) or {}, parts[1:])):
            value = get_dotted(root, ".".join(path), _MISSING)
            if value is not _MISSING:
                out[key] = _resolved(config, ".".join(path), value) if chosen else value
                break
        else:  # left at the model's or data's default: its class says it (was: the
            # model's only; a data argument took a fill value its trials never ran with)
            if parts[0] in ("model", "data") and len(parts) == 2:
                value = _default(config.get(parts[0]) or stored[parts[0]], parts[1])
                if value is not _MISSING:
                    out[key] = value
    return out


def _with_instances(stored: Mapping[str, Any]) -> Mapping[str, Any]:
    """A stored model's or data's ``{class_path, init_args}`` with its dataclass instances'
    fields in ``init_args`` (``resume.stored_init``'s ``dataclasses``: was: a key into one
    took a fill value its trials never ran with).

    Example:
        >>> _with_instances({"init_args": {"lr": 0.1}, "dataclasses": {
        ...     "net": {"class_path": "m.Net", "init_args": {"hidden": 2}}}})["init_args"]
        {'net': {'hidden': 2}, 'lr': 0.1}
    """
    records = stored.get("dataclasses") or {}
    return {**stored, "init_args": {**{key: record["init_args"] for key, record in
                                       records.items()}, **(stored.get("init_args") or {})}
            } if records else stored


def _resolved(config: Mapping[str, Any], path: str, value: Any) -> Any:
    """``value`` at ``path`` in ``config`` with its interpolation resolved as its job
    resolved it (an option's subtree is stored as written); as it is where it does not
    resolve here (no ``omegaconf``, or one only a job resolves)."""
    if not (isinstance(value, str) and "${" in value):
        return value
    try:
        from omegaconf import OmegaConf

        node = OmegaConf.select(OmegaConf.create(dict(config)), path)
        return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    except Exception:  # noqa: BLE001 - OmegaConf's errors, or no omegaconf
        return value


def _default(node: Any, name: str) -> Any:
    """The default of argument ``name`` of the class ``node`` builds (``_MISSING`` when it
    has none or the class does not import here)."""
    path = target_path(node) if isinstance(node, Mapping) else node
    if not isinstance(path, str):
        return _MISSING
    try:
        parameter = inspect.signature(import_object(path)).parameters.get(name)
    except (ConfigError, TypeError, ValueError):
        return _MISSING
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return _MISSING
    return parameter.default


_MISSING = object()
