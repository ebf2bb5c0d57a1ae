"""The reading of a one-shot run's checkpoint for a resume's checks, once: its contents
loaded without their tensors' bytes (``read_checkpoint``: memory-mapped, so a supernet of
hundreds of MB costs no more than its keys), and the shapes of its weights
(``supernet_shapes``), which ``check_resumed_supernet`` compares with the supernet the
config builds. ``resume.check_resume`` reads the file and gives the shapes with the
settings, so the run's resume and ``run.resumable`` (the ``--ckpt_path last`` hint of a
refused run) load it once (was: twice, once for the settings, once for the weights).

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> torch.save({"state_dict": torch.nn.Linear(2, 3).state_dict()}, folder / "a.ckpt")
    >>> supernet_shapes(read_checkpoint(folder / "a.ckpt"))
    {'weight': (3, 2), 'bias': (3,)}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lightning_nas.errors import ConfigError

__all__ = ["Shapes", "check_resumed_supernet", "read_checkpoint", "supernet_shapes"]

#: a checkpoint's weights: each ``state_dict`` key's shape (None: a value without one)
Shapes = Mapping[str, "tuple[int, ...] | None"]


def read_checkpoint(path: Path) -> Any:
    """The contents of the checkpoint at ``path``, its tensors mapped from the file, not
    read (``mmap``; unpickled in full, as Lightning's resume loads it: a run's own file).

    Raises:
        ConfigError: when the file is no checkpoint ``torch.load`` reads.
    """
    try:
        return torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same answer
        raise ConfigError(f"--ckpt_path {path}: not a readable checkpoint ({err})") from None


def supernet_shapes(ckpt: Any) -> dict[str, tuple[int, ...] | None] | None:
    """Each key of the ``state_dict`` of a checkpoint's contents (``read_checkpoint``) and
    its value's shape; None for contents without a ``state_dict``."""
    stored = ckpt.get("state_dict") if isinstance(ckpt, Mapping) else None
    if not isinstance(stored, Mapping):
        return None
    return {key: None if getattr(value, "shape", None) is None else tuple(value.shape)
            for key, value in stored.items()}


def check_resumed_supernet(path: Path, module: torch.nn.Module,
                           shapes: Shapes | None = None) -> None:
    """Raise ``ConfigError`` when the checkpoint at ``path`` holds the weights of another
    supernet than ``module``, the one the run fits (SPOS: the config's model; DARTS/GDAS:
    the ``DifferentiableNAS`` around it): keys one of them lacks (not asked of a module
    with ``strict_loading = False``, as Lightning loads it) or other shapes, which
    Lightning's load refuses once the fit starts. ``shapes``: its weights' shapes as
    ``check_resume`` read them (``supernet_shapes``); None: read from ``path``.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> torch.save({"state_dict": torch.nn.Linear(2, 3).state_dict()}, folder / "a.ckpt")
        >>> check_resumed_supernet(folder / "a.ckpt", torch.nn.Linear(2, 4))
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: --ckpt_path ... holds another supernet than ...
    """
    if shapes is None:
        shapes = supernet_shapes(read_checkpoint(path))
        if shapes is None:
            return
    now = module.state_dict()
    strict = getattr(module, "strict_loading", True) is not False
    differ = []
    for keys, where in (([k for k in now if k not in shapes], "the checkpoint lacks"),
                        ([k for k in shapes if k not in now], "the model lacks")):
        if keys and strict:
            more = f" (and {len(keys) - 3} more)" if len(keys) > 3 else ""
            differ.append(f"{where} {', '.join(keys[:3])}{more}")
    differ += [f"{k} is {shapes[k]} there, {tuple(now[k].shape)} now" for k in now
               if shapes.get(k) is not None and shapes[k] != tuple(now[k].shape)][:3]
    if differ:
        raise ConfigError(f"--ckpt_path {path} holds another supernet than the config's model "
                          f"builds: {'; '.join(differ)}; resume with the model arguments the "
                          f"checkpoint was written with, or start a new run without "
                          f"--ckpt_path")
