"""Checks of a Trainer's ``logger`` setting that can be made before any training, reading
class paths only (no logger is built, no W&B run is started).

``check_one_w_and_b`` refuses two W&B loggers in one ``logger`` list: Lightning's
``WandbLogger`` logs into the W&B run in progress in its process ("There is a wandb run
already in progress ... will reuse this run"), so all of them would log into the run
started first, the others' project, name and id never used.

Example:
    >>> node = {"class_path": "lightning.pytorch.loggers.WandbLogger"}
    >>> check_one_w_and_b([node, {"class_path": "lightning.pytorch.loggers.CSVLogger"}])
    >>> check_one_w_and_b([node, node])
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: trainer.logger[0] and trainer.logger[1] are both W&B ...
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import WandbLogger

from lightning_nas.config.imports import import_object
from lightning_nas.config.node_labels import node_label
from lightning_nas.config.nodes import is_node, node_args, target_path
from lightning_nas.config.value_checks import short
from lightning_nas.errors import ConfigError
from lightning_nas.wording import joined

__all__ = ["check_one_w_and_b"]


def check_one_w_and_b(logger: Any) -> None:
    """Refuse, before training, a ``logger`` (a Trainer's ``logger`` setting) list holding
    two or more W&B loggers: Lightning's ``WandbLogger`` objects or config nodes of it (a
    subclass too). Each logs into the W&B run in progress in its process, which the first
    one to start a run (an object's as it is copied, a node's as it first logs) started,
    so the others' own settings (project, name, id, ...) are never used (was: taken; a
    trial's second node logged into its first's run, in the first's project, with
    Lightning's warning alone).

    Args:
        logger: the ``logger`` setting (an object, a config node, a list of them, a bool).

    Raises:
        ConfigError: naming each W&B logger (a node of a config's mapping of named
            loggers by its name, ``node_labels.node_label``; was: by its place in the
            list), the settings left unused and what to do.

    Example:
        >>> check_one_w_and_b({"class_path": "lightning.pytorch.loggers.WandbLogger"})
    """
    if not isinstance(logger, (list, tuple)):
        return
    found = [(i, item) for i, item in enumerate(logger) if _w_and_b_class(item) is not None]
    if len(found) < 2:
        return
    places = [node_label("trainer.logger", i) for i, _ in found]  # a named node: by its name
    classes = joined(list(dict.fromkeys(_w_and_b_class(item).__name__ for _, item in found)))
    unused = joined([f"{place}'s {short(node_args(item)) if is_node(item) else 'object'}"
                     for place, (_, item) in zip(places[1:], found[1:], strict=True)])
    raise ConfigError(
        f"{joined(places)} are {'both' if len(found) == 2 else 'all'} W&B loggers "
        f"({classes}): Lightning's WandbLogger logs into the W&B run in progress in its "
        f"process (\"There is a wandb run already in progress ... will reuse this run\"), so "
        f"they would all log into one run, the one started first, and the others' own "
        f"settings (project, name, id, ...) would never be used ({unused}); keep one W&B "
        f"logger in trainer.logger (a CSVLogger, TensorBoardLogger or MLFlowLogger beside it "
        f"logs apart)")


def _w_and_b_class(item: Any) -> type | None:
    """The class of ``item``, a logger object or config node, where it is Lightning's
    ``WandbLogger`` (or a subclass); else None (a node that does not import: the Trainer
    argument check names it)."""
    if isinstance(item, WandbLogger):
        return type(item)
    if not is_node(item):
        return None
    try:
        target = import_object(target_path(item))
    except Exception:  # noqa: BLE001 - an import error is said by check_trainer_kwargs
        return None
    return target if isinstance(target, type) and issubclass(target, WandbLogger) else None
