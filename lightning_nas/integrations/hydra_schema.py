"""What a structured config's schema says of a sweep's values, before the first job.

A project of structured configs (``@dataclass`` schemas in Hydra's ``ConfigStore``, or a
YAML file extending one) types its keys: ``width: int`` refuses ``'wide'`` when Hydra
merges the override into the job config, so every job that drew it would fail to
compose. ``check_value_types`` refuses such a value before anything is stored, naming the
key, the value and the type (was: each job that drew it FAILED unlaunched, the sweep went
on with the others). ``warn_missing`` says, before the first job, which ``???``
(``MISSING``) fields no searched key or override fills (not refused: the task function may
set them; was: no word until two jobs had failed reading one).

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> _values(SearchSpace.from_dict({"w": {"int": [8, 64]}}).params["w"])
    [8, 64]
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import ValidationError

from lightning_nas.errors import ConfigError
from lightning_nas.integrations.hydra_combinations import also_with, compose_any
from lightning_nas.integrations.hydra_grammar import SweepParams, group_of, path_of
from lightning_nas.space.params import Choice, Fixed, Float, Int, Param
from lightning_nas.user_warnings import warn_user

__all__ = ["check_value_types", "warn_missing"]


def check_value_types(config: DictConfig, loader: Any, sweep: SweepParams) -> None:
    """Each value of each searched key (a range's ends) must fit the type the config's
    schema gives that key: it is assigned to a copy of the key's node, as Hydra merges an
    override; one that OmegaConf refuses is composed beside other values of the other
    searched keys (a config-group option may bring another schema) and refused where it
    composes with none. Config groups, deletions and Hydra's own keys are not checked,
    nor a key the config lacks (``check_composes`` names it).

    Args:
        config: the sweep's config (composed without the searched values).
        loader: Hydra's config loader.
        sweep: the searched space and the command line's other overrides.

    Raises:
        ConfigError: naming the key, the value, the type the schema declares and
            OmegaConf's reason.
    """
    for key, param in sweep.space.params.items():
        path = path_of(key)
        if "@" in key or key.startswith("~") or not path or path.split(".")[0] == "hydra" \
                or loader.get_group_options(group_of(key)):
            continue
        parent, _, name = path.rpartition(".")
        node = config if not parent else OmegaConf.select(
            config, parent, default=None, throw_on_missing=False,
            throw_on_resolution_failure=False)
        if not isinstance(node, DictConfig) or name not in node.keys():
            continue
        clone = copy.deepcopy(node)  # once per key: a refused value leaves it as it was
        for value in _values(param):
            try:
                with read_write(clone), open_dict(clone):
                    clone[name] = value
            except ValidationError as err:
                found = compose_any(config, loader, sweep, {key: value}, None)
                if isinstance(found, DictConfig):
                    continue  # another option's schema takes it: the check before each job
                raise ConfigError(
                    f"sweep parameter {key!r}: its value {value!r} is not of the type the "
                    f"structured config gives {path}{_declared(err)}: "
                    f"{str(err).splitlines()[0]}; every job that drew it would fail to "
                    f"compose{also_with(found[2])}. {_advice(param, value)}") from None
            except Exception:  # noqa: BLE001, S112 - not a type's refusal: composing says it
                continue


def warn_missing(jobs: Iterable[DictConfig]) -> None:
    """Warn of each ``???`` (``MISSING``) value that is missing in every one of ``jobs``
    (the job configs composed before the first job: the first sample's and each searched
    option's), Hydra's own keys left out: each job fails where its task reads it, unless
    the task sets it itself, so it is said, not refused.

    Example:
        >>> warn_missing([OmegaConf.create({"model": {"width": 8}})])  # nothing missing
    """
    missing: set[str] | None = None
    for job in jobs:  # as written: resolving reads what a job alone has (hydra.job.num)
        tree = OmegaConf.to_container(job, resolve=False)
        tree.pop("hydra", None)
        found = set(_missing(tree))
        missing = found if missing is None else missing & found
    for key in sorted(missing or ()):
        warn_user(f"config key {key!r} is ??? (MISSING) in every job the sweep composed: "
                  f"neither a searched key nor a command-line override sets it, so each "
                  f"job fails where its task reads it (MissingMandatoryValue); search it "
                  f"in hydra.sweeper.params or set it on the command line ({key}=...) "
                  f"(not refused: the task function may set it)")


def _missing(tree: Any, where: str = "") -> Iterable[str]:
    """The dotted paths of the ``???`` values in a plain ``tree``."""
    items = tree.items() if isinstance(tree, dict) else \
        enumerate(tree) if isinstance(tree, list) else ()
    for name, value in items:
        path = f"{where}.{name}" if where else str(name)
        if value == "???":
            yield path
        else:
            yield from _missing(value, path)


def _values(param: Param) -> list[Any]:
    """The values of a searched key that are checked: a choice's each, a range's ends."""
    if isinstance(param, Choice):
        return list(param.values)
    if isinstance(param, Fixed):
        return [param.value]
    if isinstance(param, (Int, Float)):
        return [param.low, param.high]
    return []


def _advice(param: Param, value: Any) -> str:
    """What to search instead: a range of the type (``int(interval(...))`` of integers),
    or values of it."""
    if isinstance(param, Float):
        return ("Search a range of that type (int(interval(a, b)) is one of integers), or "
                "choice(...) of its values")
    return f"Search values of that type, or leave {value!r} out"


def _declared(err: ValidationError) -> str:
    """`` (ModelConf.width: int)``: the field and its annotation where OmegaConf's error
    names a dataclass (or attrs class) and its key; else ``""``."""
    owner, key = getattr(err, "object_type", None), getattr(err, "key", None)
    try:
        hint = typing.get_type_hints(owner)[key]
    except Exception:  # noqa: BLE001 - no class, no such field, an annotation that fails
        return ""
    said = hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")
    return f" ({owner.__name__}.{key}: {said})"
