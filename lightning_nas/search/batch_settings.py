"""Trainer settings Lightning refuses only once it knows the data, said in one line.

Lightning checks some Trainer settings against the batches of the data, when a fit sets
up its loaders, before the first training batch: an integer ``val_check_interval`` above
an epoch's training batches, a ``limit_train_batches`` or ``limit_val_batches`` fraction
that leaves no batch, a fraction of an epoch (``val_check_interval``, ``limit_*_batches``)
of training data with no length. Its error, a ``ValueError`` or
``MisconfigurationException``, names neither the Trainer key nor what would work.
``batch_setting_error`` reads the failed Trainer's public state (the loaders it set up,
its batch counts, per rank under DDP) and, where the error is one of these, gives a
``BatchSettingError`` naming the setting, its value, the batches it was compared with and
what would work. The search (every trial would fail: it stops at trial 1; a corrected
value resumes the run, ``stop_fixes``), ``fit``, ``finetune`` and ``oneshot``
raise it in place of Lightning's. Lightning's warning of ``log_every_n_steps`` above the
batches is a warning, said once a process (``quiet.LoggingInterval``).

Example:
    >>> print(too_few(1000, 23, 1.0, None, 1))
    trainer.val_check_interval=1000 is more than the 23 training batches of an epoch; \
give at most 23, a fraction of the epoch such as 0.5, or check_val_every_n_epoch=null \
(a validation every 1000 batches, across epochs)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
from lightning.fabric.utilities.data import sized_len
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from lightning_nas.errors import BatchSettingError
from lightning_nas.numeric import is_int

__all__ = ["FIXES", "batch_setting_error", "is_batch_setting_error", "too_few"]

#: the settings whose change may fix a ``BatchSettingError`` (the data: its batch size)
FIXES = ("trainer.val_check_interval", "trainer.check_val_every_n_epoch",
         "trainer.limit_train_batches", "trainer.limit_val_batches", "data")

#: the first line of a trial's error that ``batch_setting_error`` gave
_ERROR = re.compile(r"(rank \d+ failed the trial: )?BatchSettingError: trainer\.\w+=")


def _batches(count: int) -> str:
    """``batch`` or ``batches``, as ``count`` says."""
    return "batch" if count == 1 else "batches"


def _ranks(world_size: int) -> str:
    """Whose batches were counted: under DDP, each rank's share."""
    return f" on each of the {world_size} DDP ranks" if world_size > 1 else ""


def too_few(interval: int, batches: int, limit: float, raw: int | None,
            world_size: int) -> str:
    """The message of an integer ``val_check_interval`` above an epoch's ``batches``
    (after ``limit_train_batches`` ``limit``, of ``raw`` batches of the loader)."""
    limited = f" (limit_train_batches={limit} of {raw})" if limit != 1.0 and raw else ""
    return (f"trainer.val_check_interval={interval} is more than the {batches} training "
            f"{_batches(batches)} of an epoch{_ranks(world_size)}{limited}; give at most "
            f"{batches}, a fraction of the epoch such as 0.5, or check_val_every_n_epoch=null "
            f"(a validation every {interval} batches, across epochs)")


def _none_left(stage: str, limit: float, length: int, world_size: int) -> str:
    """The message of a ``limit_{stage}_batches`` fraction that leaves none of ``length``."""
    word = "training" if stage == "train" else "validation"
    least = math.ceil(1000 / length) / 1000 if length > 1 else 1.0
    return (f"trainer.limit_{stage}_batches={limit} leaves none of the {length} {word} "
            f"{_batches(length)} of an epoch{_ranks(world_size)} ({limit} * {length} < 1); give at "
            f"least {least} (1/{length}), a number of batches such as 1, or 1.0 (all)")


def _no_length(key: str, value: Any, data: str = "training") -> str:
    """The message of a fraction of an epoch, ``key``, of ``data`` with no length."""
    also = (", 1.0 (each epoch's end), or a time such as '00:00:10:00'"
            if key == "val_check_interval" else ", or 1.0 (all)")
    return (f"trainer.{key}={value} is a fraction of an epoch, but the {data} data has no "
            f"length (an IterableDataset); give a number of batches such as 100{also}")


def _lengths(loaders: Any) -> list[int | None]:
    """The length of each loader Lightning set up (per rank: its sampler is in), or
    ``None`` where one has none; ``loaders`` as the Trainer gives them (one, or a list or
    dict of them, nested)."""
    if loaders is None:
        return []
    if isinstance(loaders, Mapping):
        return _lengths(list(loaders.values()))
    if isinstance(loaders, (list, tuple)):
        return [n for loader in loaders for n in _lengths(loader)]
    return [sized_len(loaders)]


def _fraction(value: Any) -> bool:
    return isinstance(value, float) and 0.0 < value < 1.0


def batch_setting_error(trainer: pl.Trainer, err: BaseException) -> BatchSettingError | None:
    """The ``BatchSettingError`` of ``err``, raised by ``trainer``'s fit as it set up its
    loaders, where a Trainer setting does not fit the data's batches; else ``None``.

    Example:
        >>> batch_setting_error(pl.Trainer(logger=False), KeyError("x")) is None
        True
    """
    if not isinstance(err, (ValueError, MisconfigurationException)):
        return None
    interval, every = trainer.val_check_interval, trainer.check_val_every_n_epoch
    train, world = _lengths(trainer.train_dataloader), trainer.world_size
    batches = trainer.num_training_batches
    if is_int(interval) and every is not None \
            and trainer.limit_val_batches > 0 and batches < interval:
        raw = max(train, default=None) if None not in train else None
        return BatchSettingError(too_few(interval, int(batches), trainer.limit_train_batches,
                                         raw, world))
    if None in train:
        key = next((k for k in ("limit_train_batches", "val_check_interval")
                    if isinstance(getattr(trainer, k), float) and getattr(trainer, k) != 1.0),
                   None)
        return BatchSettingError(_no_length(key, getattr(trainer, key))) if key else None
    for stage, lengths in (("val", _lengths(trainer.val_dataloaders)), ("train", train)):
        limit = getattr(trainer, f"limit_{stage}_batches")
        if None in lengths and isinstance(limit, float) and limit != 1.0:
            return BatchSettingError(_no_length(f"limit_{stage}_batches", limit, "validation"))
        short = [n for n in lengths if n and _fraction(limit) and int(n * limit) == 0]
        if short:
            return BatchSettingError(_none_left(stage, limit, max(short), world))
    return None


def is_batch_setting_error(line: str) -> bool:
    """Whether a trial's error line is a ``BatchSettingError`` (of a process or a rank).

    Example:
        >>> is_batch_setting_error("BatchSettingError: trainer.limit_val_batches=0.1 leaves")
        True
    """
    return _ERROR.match(line) is not None

