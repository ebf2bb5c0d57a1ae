"""Checks of the data's arguments that can be made before any training, where no
annotation says enough.

``check_loader_args`` refuses a value torch's ``DataLoader`` would refuse for an argument
named as one of its own, at any depth of the data's arguments (``data.batch_size``, and
``data.loader.batch_size`` in a dict or a nested node): a ``batch_size`` that is no
integer >= 1, a ``num_workers`` that is no integer >= 0, a ``prefetch_factor`` that is no
integer >= 0 (null is let be). torch refuses them
only when a trial asks the data for its loaders, after the run folder is made and a trial
has started, and every trial would fail the same way. The data's ``setup`` is not called
and no loader is built to find out (``setup`` may download or prepare data by design).

Example:
    >>> check_loader_args({"batch_size": 64, "loader": {"num_workers": 2}}, "data")
    >>> check_loader_args({"loader": {"batch_size": 0}}, "data")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: data.loader.batch_size=0: a DataLoader's batch_size ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int

__all__ = ["check_loader_args"]

#: a DataLoader argument's name: the least value it takes, and what its values mean, for
#: the error (null is let be everywhere: a data module may read it as "choose for me")
_RULES: dict[str, tuple[int, str]] = {
    "batch_size": (1, "an integer >= 1 (or null: no batching)"),
    "num_workers": (0, "an integer >= 0 (0: loading in the main process)"),
    "prefetch_factor": (0, "an integer >= 0 (or null: torch's default)"),
}
#: what every refusal says of when torch would have refused it
_WHEN = ("torch refuses it only once a fit asks the data for its loaders (in a search: "
         "every trial's)")


def check_loader_args(args: Mapping[str, Any], where: str) -> None:
    """Raise ``ConfigError`` when ``args`` (the data's keyword arguments), or a dict, node or
    list in them, give an argument named as a ``DataLoader``'s (``_RULES``: ``batch_size``,
    ``num_workers``, ``prefetch_factor``) a value torch refuses (was:
    each trial failed in its ``train_dataloader``, "batch_size should be a positive integer
    value", until two in a row stopped the search; only a top-level ``batch_size`` below 1
    was refused before). Null, a string holding ``${`` (an interpolation still to be
    resolved) and a dict or list (per split: ``{"train": 64, "val": 128}``, whose values are
    checked as its keys name them) are let be.

    Args:
        args: the keyword arguments the data is built with.
        where: the config path of the data (``data``), as the error names it.

    Raises:
        ConfigError: naming the argument's path, its value and the values it takes.

    Example:
        >>> check_loader_args({"num_workers": -1}, "data")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: data.num_workers=-1: a DataLoader's num_workers ...
    """
    for key, value in args.items():
        path = f"{where}.{key}"
        if isinstance(value, (Mapping, list, tuple)):
            items = value if isinstance(value, Mapping) else {
                f"{index}": item for index, item in enumerate(value)}
            check_loader_args(items, path)
            continue
        rule = _RULES.get(str(key))
        if rule is not None and _refused(value, rule[0]):
            kind = "" if is_int(value) else f", not {type(value).__name__}"
            raise ConfigError(f"{path}={value!r}: a DataLoader's {key} must be {rule[1]}"
                              f"{kind}; {_WHEN}")


def _refused(value: Any, least: int) -> bool:
    """Whether torch refuses ``value`` for an argument whose least value is ``least`` (null,
    and a string holding ``${``, an interpolation resolved later, are let be)."""
    if value is None or isinstance(value, str) and "${" in value:
        return False
    return not is_int(value) or value < least
