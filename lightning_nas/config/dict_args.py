"""Arguments whose mapping is data: one annotated a plain ``dict``, ``Mapping`` or
``dict[str, Any]`` (``Optional`` too) gets a ``{class_path, init_args}`` mapping as it is,
as LightningCLI (jsonargparse) passes it, never the object it names. Lightning documents the
pattern for several optimizers: ``optimizer_init: dict``, built by the module's own
``instantiate_class(self.parameters(), self.hparams.optimizer_init)``.

An argument annotated ``Any`` or not at all is no such argument: LightningCLI builds a node
there where it can (``{class_path: torch.nn.Identity}`` gives the module), so it is built;
so is a node among the values of a ``dict[str, Any]`` (``values_built``).

Example:
    >>> from typing import Any, Optional
    >>> is_plain_dict(dict), is_plain_dict(Optional[dict[str, Any]]), is_plain_dict(Any)
    (True, True, False)
    >>> is_plain_dict(dict[str, int])
    False
    >>> class Net:
    ...     def __init__(self, optimizer_init: dict = None, width: int = 8): ...
    >>> sorted(data_args(Net))
    ['optimizer_init']
"""

from __future__ import annotations

import collections.abc as cabc
import types
import typing
from collections.abc import Callable
from typing import Any

from lightning_nas.config.chain import init_hints
from lightning_nas.config.imports import import_object
from lightning_nas.errors import ConfigError

__all__ = ["data_args", "data_args_of", "is_plain_dict", "values_built"]

#: the mapping types whose values LightningCLI passes as they are (``typing.Dict``'s origin)
_MAPPINGS = (dict, cabc.Mapping, cabc.MutableMapping)


def is_plain_dict(hint: Any) -> bool:
    """Whether an argument annotated ``hint`` takes a mapping as data: a ``dict`` or
    ``Mapping``, bare or of ``Any`` values, or ``Optional`` of one (a ``Union`` whose other
    members are ``None``)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return bool(rest) and all(is_plain_dict(arg) for arg in rest)
    if hint in _MAPPINGS:
        return True
    if origin in _MAPPINGS:
        args = typing.get_args(hint)
        return not args or args[-1] is Any
    return False


def values_built(hint: Any) -> bool:
    """Whether a plain dict argument annotated ``hint`` (``is_plain_dict``) has its values
    annotated ``Any`` (``dict[str, Any]``, not a bare ``dict``): the mapping is data, never a
    node, but a ``class_path`` node among its values is built, as LightningCLI builds one at
    an ``Any`` argument (``{net: {class_path: torch.nn.Identity}}`` gives ``{net:
    Identity()}``); a bare ``dict``'s values stay as written.

    Example:
        >>> from typing import Any, Optional
        >>> values_built(Optional[dict[str, Any]]), values_built(dict)
        (True, False)
    """
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(values_built(arg) for arg in typing.get_args(hint))
    return origin in _MAPPINGS and bool(typing.get_args(hint))


def data_args(target: Callable[..., Any]) -> frozenset[str]:
    """The arguments of ``target`` (a base's its ``**kwargs`` reaches too, as
    ``init_hints``) annotated as a plain dict (``is_plain_dict``)."""
    return frozenset(name for name, hint in init_hints(target).items() if is_plain_dict(hint))


def data_args_of(class_path: Any) -> frozenset[str]:
    """``data_args`` of the class a ``class_path`` names; none where it cannot be imported
    (the build names that error)."""
    if not isinstance(class_path, str):
        return frozenset()
    try:
        return data_args(import_object(class_path))
    except (ConfigError, TypeError, ValueError):  # not importable or no signature
        return frozenset()
