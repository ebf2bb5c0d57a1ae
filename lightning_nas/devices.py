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

__all__ = ["accelerator_name", "device_count", "gpus_asked", "rank_count", "trial_ranks"]


#: Lightning's accelerator classes by the name its registry gives them (read by class name:
#: no import of Lightning here)
_ACCELERATOR_NAMES = {"CUDAAccelerator": "cuda", "CPUAccelerator": "cpu",
                      "MPSAccelerator": "mps", "XLAAccelerator": "tpu"}


def accelerator_name(accelerator: Any) -> str:
    """A Trainer's ``accelerator`` argument as a name, lower case: a name as given
    (``None``: ``auto``), an ``Accelerator`` object by its Lightning class (a subclass of
    ``CUDAAccelerator`` is ``cuda``, of ``CPUAccelerator`` ``cpu``), another object
    ``auto``, where the GPUs it may use are not known.

    Example:
        >>> class MyCPU:
        ...     pass
        >>> accelerator_name("GPU"), accelerator_name(None), accelerator_name(MyCPU())
        ('gpu', 'auto', 'auto')
    """
    if accelerator is None:
        return "auto"
    if isinstance(accelerator, str):
        return accelerator.lower()
    for cls in type(accelerator).__mro__:
        if cls.__name__ in _ACCELERATOR_NAMES:
            return _ACCELERATOR_NAMES[cls.__name__]
    return "auto"


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


def gpus_asked(devices: Any) -> tuple[int, int]:
    """``(count, seen)`` of a GPU Trainer's ``devices`` argument: the GPUs it trains on, and
    how many the process must see for them (a list of indices, or ``"0,1"``: its highest
    index + 1); ``(0, 0)`` for every visible one (``auto``, ``-1``) or no count at all.

    Example:
        >>> gpus_asked(2), gpus_asked([1]), gpus_asked("0,3"), gpus_asked("auto")
        ((2, 2), (1, 2), (2, 4), (0, 0))
    """
    if isinstance(devices, str) and "," in devices:  # Lightning's "0,1": indices
        try:
            devices = [int(d) for d in devices.split(",") if d.strip()]
        except ValueError:
            return 0, 0
    if isinstance(devices, (list, tuple)):
        indices = [d for d in devices if isinstance(d, int) and not isinstance(d, bool)]
        return (len(indices), max(indices) + 1) if indices and min(indices) >= 0 else (0, 0)
    if isinstance(devices, str) and devices.strip().isdigit():
        devices = int(devices)
    if isinstance(devices, int) and not isinstance(devices, bool) and devices > 0:
        return devices, devices
    return 0, 0


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
