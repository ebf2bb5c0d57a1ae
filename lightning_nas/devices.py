"""How many devices and ranks a trial's Trainer settings ask for (no torch, no Lightning):
the search's own-process decision (``search.runner_checks``) and what a limited validation is said
to be over (``validation_limit``: under DDP each rank validates its own shard; a trial's
own settings, its searched ``trainer.devices`` over the search's: ``trial_ranks``).

Example:
    >>> device_count("0,1"), rank_count({"devices": 2, "num_nodes": 2, "strategy": "ddp"})
    (2, 4)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.trial_trainer import trial_trainer

__all__ = ["device_count", "rank_count", "trial_ranks"]


def device_count(devices: Any) -> int:
    """The count of a Trainer's ``devices`` argument: a list's length, a comma list's, a
    number (also as text); -1 for every visible device (``-1``, ``"auto"``).

    Example:
        >>> device_count([0, 1]), device_count("3"), device_count("auto")
        (2, 3, -1)
    """
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str):
        text = devices.strip()
        if text in ("auto", "-1"):
            return -1
        return len([d for d in text.split(",") if d.strip()]) if "," in text else int(text)
    return -1 if devices == -1 else int(devices)


def rank_count(trainer: Mapping[str, Any]) -> int | None:
    """The ranks a fit under the Trainer settings ``trainer`` runs on: devices times
    ``num_nodes``; None where that depends on the machine (every visible device) or the
    settings are no counts.

    Example:
        >>> rank_count({"devices": 1}), rank_count({"devices": "auto"}) is None
        (1, True)
    """
    try:
        devices = device_count(trainer.get("devices", "auto"))
        nodes = int(trainer.get("num_nodes", 1))
    except (TypeError, ValueError):
        return None
    return None if devices < 1 or nodes < 1 else devices * nodes


def trial_ranks(arch: Mapping[str, Any], trainer: Mapping[str, Any]) -> int | None:
    """``rank_count`` of a trial of architecture ``arch``: the search's Trainer settings
    ``trainer`` with the trial's searched ``trainer.*`` values over them (``trial_trainer``:
    a Hydra sweep's ``+trainer.devices`` too), as the trial's Trainer is built (was: the
    search's alone).

    Example:
        >>> trial_ranks({"trainer.devices": 2}, {"devices": 1, "strategy": "ddp"})
        2
        >>> trial_ranks({"+trainer.num_nodes": 2}, {"devices": 2})
        4
    """
    return rank_count(trial_trainer(arch, trainer))
