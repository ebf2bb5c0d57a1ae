"""torch's global random state in a one-shot search: kept as plain data for a checkpoint
(``rng_state``) and set again on a resume (``set_rng_state``), so a resumed search draws the
shuffles it would have drawn; and restored after a block (``preserved_rng``), so a search or
a check draws no number the training would have drawn.

Example:
    >>> state = rng_state()
    >>> with preserved_rng():
    ...     _ = torch.rand(3)
    >>> torch.equal(torch.tensor(rng_state()["torch"]), torch.tensor(state["torch"]))
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["preserved_rng", "rng_state", "set_rng_state"]


def rng_state(device: torch.device | str = "cpu") -> dict[str, Any]:
    """torch's global random state, the CPU's and a CUDA ``device``'s, as plain lists (a
    callback's ``state_dict`` stays JSON), for ``set_rng_state``: a resumed search draws
    the shuffles it would have drawn.

    Example:
        >>> state = rng_state()
        >>> first = torch.rand(2)
        >>> set_rng_state(state)
        >>> torch.equal(torch.rand(2), first)
        True
    """
    device = torch.device(device)
    state: dict[str, Any] = {"torch": torch.get_rng_state().tolist()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device).tolist()
        state["device"] = device.index
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Set torch's global random state to a ``rng_state`` (lists of bytes, or the tensors
    earlier DARTS/GDAS checkpoints hold)."""
    torch.set_rng_state(torch.as_tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(torch.as_tensor(state["cuda"], dtype=torch.uint8),
                                 state.get("device"))


@contextmanager
def preserved_rng(device: torch.device | str = "cpu") -> Iterator[None]:
    """Restore torch's global random state (CPU, and ``device``'s if it has one) on exit, so
    a search draws no number the training would have drawn (shuffles, dropout).

    Example:
        >>> state = torch.get_rng_state()
        >>> with preserved_rng():
        ...     _ = torch.rand(3)
        >>> torch.equal(torch.get_rng_state(), state)
        True
    """
    device = torch.device(device)
    backend = getattr(torch, device.type, None) if device.type != "cpu" else None
    if backend is not None and not hasattr(backend, "get_rng_state"):
        backend = None
    cpu_state = torch.get_rng_state()
    device_state = None if backend is None else backend.get_rng_state(device)
    try:
        yield
    finally:
        torch.set_rng_state(cpu_state)
        if backend is not None:
            backend.set_rng_state(device_state, device)
