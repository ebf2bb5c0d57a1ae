"""Build a user's model without allocating its weights, and without changing anything else
the constructor makes: ``parameters_on_meta`` puts each parameter a module registers on the
meta device, and only those, and only in the thread that builds.

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

__all__ = ["MetaCopies", "parameters_on_meta"]

_lock = threading.Lock()  # installs and restores the patch
_installed = 0  # threads inside the context: the patch stays while any is
_original = torch.nn.Module.register_parameter
#: per thread: ``copies``, each parameter's meta copy while its thread builds (one copy for
#: a parameter registered twice: tied weights stay tied and are counted once)
_local = threading.local()


def _register_parameter(module: torch.nn.Module, name: str,
                        param: torch.nn.Parameter | None) -> None:
    """``Module.register_parameter``, with the parameter's meta copy in a building thread;
    as it is in every other thread (a trial that builds its model meanwhile)."""
    copies = getattr(_local, "copies", None)
    if copies is None or param is None or isinstance(param, UninitializedParameter) \
            or param.device.type == "meta":
        return _original(module, name, param)
    copy = copies.get(id(param), (None, None))[1]
    if copy is None:
        try:
            copy = type(param)(param.to("meta"), requires_grad=param.requires_grad)
        except TypeError:  # a Parameter subclass with a constructor of its own
            copy = torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        copy.__dict__.update(param.__dict__)  # attributes set on it (``no_decay``)
        copies[id(param)] = (param, copy)  # (the original kept: its id stays its own)
    return _original(module, name, copy)


class MetaCopies(dict):
    """``id(parameter) -> (parameter, its meta copy)`` of one ``parameters_on_meta`` block.

    Example:
        >>> shared = torch.nn.Linear(2, 2)  # made before: real, as a pretrained backbone
        >>> with parameters_on_meta() as copies:
        ...     head = torch.nn.Linear(2, 2)
        ...     head.weight = shared.weight  # tied to it: a meta copy of the same weight
        >>> copies.numel(torch.nn.ModuleList([shared, head]))  # the weight once
        8
    """

    def numel(self, module: torch.nn.Module) -> int:
        """The parameters of ``module``, a meta copy and the parameter it copies counted
        once (a tied weight made before the block is a real parameter and a copy in it)."""
        originals = {id(copy): id(param) for param, copy in self.values()}
        seen: dict[int, int] = {}
        for param in module.parameters():
            seen[originals.get(id(param), id(param))] = param.numel()
        return sum(seen.values())


@contextmanager
def parameters_on_meta() -> Iterator[MetaCopies]:
    """While the block runs, a parameter a module registers in this thread (``self.w =
    Parameter(...)``, a layer's weight) is registered as its copy on the meta device: its
    values are never kept (a layer's initialisation runs on meta), and at most one
    parameter's memory is allocated at a time. Buffers and every other tensor stay as made,
    and other threads (trials running meanwhile) build as usual. Lazy modules'
    uninitialised parameters are left as they are. Yields the block's ``MetaCopies``
    (``numel``: a count that takes a copy and its parameter for one)."""
    global _installed
    outer = getattr(_local, "copies", None)
    _local.copies = MetaCopies() if outer is None else outer
    with _lock:
        _installed += 1
        torch.nn.Module.register_parameter = _register_parameter
    try:
        yield _local.copies
    finally:
        _local.copies = outer
        with _lock:
            _installed -= 1
            if not _installed:
                torch.nn.Module.register_parameter = _original
