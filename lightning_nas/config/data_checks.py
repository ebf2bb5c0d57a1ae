"""Checks of the data's arguments that can be made before any training, where no
annotation says enough.

``check_batch_size`` refuses a non-positive integer for an argument named ``batch_size``:
torch's ``DataLoader`` refuses it only when a trial asks the data for its loaders, after
the run folder is made and a trial has started, and every trial would fail the same way.
The data's ``setup`` is not called to find out (it may download or prepare data by design).

Example:
    >>> check_batch_size({"batch_size": 64, "seed": 0}, "data")
    >>> check_batch_size({"batch_size": 0}, "data")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: data.batch_size=0: a DataLoader's batch_size must be ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.errors import ConfigError

__all__ = ["check_batch_size"]


def check_batch_size(args: Mapping[str, Any], where: str) -> None:
    """Raise ``ConfigError`` when ``args`` (the data's keyword arguments) give
    ``batch_size`` an integer below 1 (was: each trial failed in its ``train_dataloader``,
    "batch_size should be a positive integer value", until two in a row stopped the search).

    Args:
        args: the keyword arguments the data is built with.
        where: the config path of the data (``data``), as the error names it.

    Raises:
        ConfigError: naming the argument, its value and the values it takes.
    """
    value = args.get("batch_size")
    if isinstance(value, int) and not isinstance(value, bool) and value < 1:
        raise ConfigError(f"{where}.batch_size={value!r}: a DataLoader's batch_size must be "
                          f"an integer >= 1 (or null: no batching); torch refuses it only "
                          f"once a fit asks the data for its loaders (in a search: every "
                          f"trial's)")
