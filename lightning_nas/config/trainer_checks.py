"""Checks of a trial's Trainer settings that can be made before any training.

``check_trainer_kwargs`` names an unknown Trainer argument or one whose value does not fit
the Trainer's annotation (``trainer.max_epochs='abc'``); ``check_validation_runs`` one under
which no validation runs, so no monitor is ever logged; ``check_search_trainer`` one a
search's trials cannot run with (``fast_dev_run``).

Example:
    >>> check_trainer_kwargs({"max_epochs": 2, "accelerator": "cpu"})
    >>> check_trainer_kwargs({"max_epoch": 2})
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: unknown Trainer argument 'max_epoch'; did you mean ...
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl

from lightning_nas.config.instantiate import (
    accepted_kwargs,
    check_init_args,
    check_value,
    import_object,
    short,
)
from lightning_nas.config.nodes import dict_kwargs_keys, is_node, node_args, target_path
from lightning_nas.errors import ConfigError, did_you_mean

__all__ = ["check_search_trainer", "check_trainer_kwargs", "check_validation_runs",
           "trainer_hints"]


@functools.lru_cache(maxsize=1)
def trainer_hints() -> dict[str, Any]:
    """The type hints of ``Trainer.__init__`` as this process resolves them (read once;
    empty where they do not resolve)."""
    try:
        return typing.get_type_hints(pl.Trainer.__init__)
    except Exception:  # noqa: BLE001 - unresolvable annotations: check names only
        return {}


def check_trainer_kwargs(kwargs: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` for keys that ``lightning.pytorch.Trainer`` does not take, and
    for values that do not fit the Trainer's annotations (``class_path`` specs are built
    and checked later)."""
    names, _ = accepted_kwargs(pl.Trainer.__init__)
    hints = trainer_hints()
    for key, value in kwargs.items():
        if key not in names:
            hint = did_you_mean(key, names)
            raise ConfigError(f"unknown Trainer argument {key!r}; {hint}valid arguments: "
                              f"{', '.join(sorted(names))}")
        if key in hints:
            check_value(f"trainer.{key}", value, hints[key], "Trainer", strict=True)
        _check_counts(key, value)
        nodes = value if isinstance(value, list) else [value]
        for i, node in enumerate(nodes):  # callbacks, a logger, ...: their own arguments
            if is_node(node):
                where = f"trainer.{key}" + (f"[{i}]" if isinstance(value, list) else "")
                check_init_args(_import(where, target_path(node)), node_args(node), where,
                                dict_kwargs=dict_kwargs_keys(node))


def _check_counts(key: str, value: Any) -> None:
    """Counts the Trainer takes without checking them (it fails in the first step)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if key == "accumulate_grad_batches" and number and value < 1:
        raise ConfigError(f"trainer.accumulate_grad_batches={value!r}: must be >= 1 (the "
                          f"batches whose gradients one optimizer step sums)")
    if key == "check_val_every_n_epoch" and number and value < 1:
        raise ConfigError(f"trainer.check_val_every_n_epoch={value!r}: must be an integer >= 1 "
                          f"(validate every that many epochs), or null (validate by "
                          f"val_check_interval in training batches alone)")
    if key == "max_epochs" and number and value < -1:
        raise ConfigError(f"trainer.max_epochs={value!r}: must be >= 0, or -1 (no limit)")
    if key == "val_check_interval" and number and (
            value < 1 if isinstance(value, int) else not 0 < value <= 1):
        raise ConfigError(f"trainer.val_check_interval={value!r}: a fraction of an epoch in "
                          f"(0, 1], or an int >= 1 of training batches")


def check_validation_runs(kwargs: Mapping[str, Any], monitor: str) -> None:
    """Raise ``ConfigError`` for Trainer settings under which validation never runs: a
    trial (or a fit, or a fine-tune) is scored by ``monitor`` after validation, so it would
    fail after training.

    Example:
        >>> check_validation_runs({"max_epochs": 4, "check_val_every_n_epoch": 2}, "val_acc")
        >>> check_validation_runs({"limit_val_batches": 0}, "val_acc")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.limit_val_batches=0 runs no validation, ...
    """
    every, epochs = kwargs.get("check_val_every_n_epoch", 1), kwargs.get("max_epochs")
    zero = [key for key in ("limit_val_batches", "limit_train_batches", "max_epochs", "max_steps")
            if _is_number(kwargs.get(key)) and kwargs[key] == 0]
    if zero:  # no training (a fit with no training batch or step runs no validation either)
        why = f"trainer.{zero[0]}={kwargs[zero[0]]!r}"
    elif isinstance(every, int) and isinstance(epochs, int) and 0 < epochs < every:
        why = f"trainer.check_val_every_n_epoch={every} with max_epochs={epochs}"
    elif every is None and _is_int(interval := kwargs.get("val_check_interval")) and _is_int(
            steps := kwargs.get("max_steps")) and 0 < steps < interval:
        why = (f"trainer.val_check_interval={interval} with check_val_every_n_epoch=None and "
               f"max_steps={steps}")
    else:
        return
    raise ConfigError(f"{why} runs no validation, so the monitor {monitor!r} would never be "
                      f"logged (a trial is scored after validation); let validation run at "
                      f"least once")


def check_search_trainer(kwargs: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` for Trainer settings a search's trials cannot run with:
    ``fast_dev_run`` trains and validates a batch or a few, with no checkpoint and no
    logger, so every trial would be stored as completed on a one-batch score and use up the
    budget (one fit or fine-tune with it is a debugging run of its own, and allowed).

    Example:
        >>> check_search_trainer({"max_epochs": 2, "fast_dev_run": False})
        >>> check_search_trainer({"fast_dev_run": True})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.fast_dev_run=True runs 1 batch of ...
    """
    value = kwargs.get("fast_dev_run")
    if value is None or value is False or value == 0:
        return
    batches = 1 if value is True else value
    raise ConfigError(f"trainer.fast_dev_run={value!r} runs {batches} batch"
                      f"{'es' * (batches != 1)} of training and validation, with no checkpoint "
                      f"and no logger: every trial would be stored as completed on that score "
                      f"and use up the budget; search trials need real epochs: for a quick "
                      f"search set limit_train_batches and limit_val_batches (and a small "
                      f"max_epochs), or try one model with lightning-nas fit")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _import(where: str, path: Any) -> Any:
    """``import_object(path)``, its error naming the config path."""
    try:
        return import_object(path)
    except ConfigError as err:
        raise ConfigError(f"{where}={short(path)}: {err}") from None
