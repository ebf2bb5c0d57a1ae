"""Build a user's model without allocating its weights, and without changing anything else
the constructor makes: ``parameters_on_meta`` puts each parameter a module registers on the
meta device, and only those.

Was: the checks before training built the model inside ``torch.device("meta")``, which puts
*every* tensor made meanwhile on the meta device: a constant the constructor takes from a
module-level cache (``functools.lru_cache``) or a class attribute was cached as a meta
tensor, every trial in the process then failed ("Cannot copy out of meta tensor"), and so
did the user's own models afterwards.

Example:
    >>> cache = {}
    >>> class Net(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = torch.nn.Linear(1000, 1000)
    ...         self.register_buffer("table", cache.setdefault("t", torch.ones(3)))
    >>> with parameters_on_meta():
    ...     net = Net()
    >>> net.fc.weight.device.type, net.table.device.type, cache["t"].device.type
    ('meta', 'cpu', 'cpu')
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.nn.parameter import UninitializedParameter

__all__ = ["parameters_on_meta"]

_lock = threading.RLock()  # a build that builds inside it nests


@contextmanager
def parameters_on_meta() -> Iterator[None]:
    """While the block runs, a parameter a module registers (``self.w = Parameter(...)``,
    a layer's weight) is moved to the meta device as it is registered: its values are never
    kept (a layer's initialisation runs on meta), and at most one parameter's memory is
    allocated at a time. Buffers and every other tensor stay as made. Lazy modules'
    uninitialised parameters are left as they are."""
    original = torch.nn.Module.register_parameter

    def register_parameter(module: torch.nn.Module, name: str,
                           param: torch.nn.Parameter | None) -> None:
        original(module, name, param)
        kept = module._parameters[name]  # noqa: SLF001 - as registered just now
        if kept is not None and not isinstance(kept, UninitializedParameter) \
                and kept.device.type != "meta":
            module._parameters[name] = type(kept)(  # noqa: SLF001
                kept.to("meta"), requires_grad=kept.requires_grad)

    with _lock:
        torch.nn.Module.register_parameter = register_parameter
        try:
            yield
        finally:
            torch.nn.Module.register_parameter = original
