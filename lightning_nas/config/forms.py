"""Config shapes that LightningCLI and Hydra projects write, read as a search config: a
``trainer`` section that is a Hydra node of the Trainer read as its arguments.

Example:
    >>> trainer_args({"_target_": "lightning.pytorch.Trainer", "max_epochs": 3})
    {'max_epochs': 3}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl

from lightning_nas.config.instantiate import import_object
from lightning_nas.errors import ConfigError

__all__ = ["TRAINER_TARGETS", "trainer_args"]

#: what a ``trainer`` section's ``_target_`` may name (dropped: the section is the
#: arguments of the Trainer each trial builds)
TRAINER_TARGETS = frozenset({"lightning.Trainer", *(
    f"{package}{module}.Trainer" for package in ("lightning.pytorch", "pytorch_lightning")
    for module in ("", ".trainer", ".trainer.trainer"))})


def trainer_args(trainer: Any) -> Any:
    """A ``trainer`` section that is a Hydra node of the Trainer (``_target_:
    lightning.pytorch.Trainer``, as a project's ``configs/trainer/default.yaml`` is) as the
    Trainer's arguments: lightning-nas builds the Trainer of each trial itself.

    Raises:
        ConfigError: for a ``_target_`` that names another class (a Trainer subclass too).
    """
    if not isinstance(trainer, Mapping) or "_target_" not in trainer:
        return trainer
    target = trainer["_target_"]
    if target in TRAINER_TARGETS:
        return {k: v for k, v in trainer.items() if k != "_target_"}
    try:
        subclass = issubclass(import_object(target), pl.Trainer)
    except Exception:  # noqa: BLE001 - not importable, not a class: not the Trainer either
        subclass = False
    what = ("is a Trainer subclass, which lightning-nas cannot use: put what it adds into "
            "callbacks (trainer.callbacks) or the LightningModule" if subclass else
            "is not lightning.pytorch.Trainer")
    raise ConfigError(f"trainer._target_: {target!r} {what}. The `trainer` section holds the "
                      f"arguments of the lightning.pytorch.Trainer that lightning-nas builds "
                      f"for each trial; a _target_ there may only name it (as a Hydra "
                      f"project's configs/trainer/*.yaml does), or leave it out")
