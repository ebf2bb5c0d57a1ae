"""The base of a search space's parameter kinds, ``Param``, and the value helpers the kinds
share: ``own_copy`` (a value an architecture may change without changing the space) and
``all_distinct`` (no two options the same, ``same_value``, in linear time).

Example:
    >>> all_distinct([1, True, 1.0]), all_distinct([[1, 2], [1, 2]])
    (True, False)
    >>> option = {"name": "adam"}
    >>> own_copy(option) == option, own_copy(option) is option
    (True, False)
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import nevergrad as ng

from lightning_nas.arch import arch_key
from lightning_nas.arch import plain as _plain
from lightning_nas.arch import same_value as _same

__all__ = ["Param", "all_distinct", "own_copy"]

#: tags of the lists and mappings in ``_value_key``: no value a user gives equals them
_LIST, _MAPPING = object(), object()


def _value_key(value: Any, top: bool = True) -> Any:
    """A hashable key equal for two values exactly when ``same_value`` holds: a number
    tagged with its type at the top (``True``, ``1`` and ``1.0`` are other values), inside
    lists and mappings as ``==`` compares them there.

    Raises:
        TypeError: for a value that cannot be hashed (a set, an object without a hash).
    """
    if isinstance(value, list):
        return (_LIST, tuple(_value_key(v, False) for v in value))
    if isinstance(value, Mapping):
        return (_MAPPING, frozenset((k, _value_key(v, False)) for k, v in value.items()))
    if top and isinstance(value, (bool, int, float)):
        return (type(value), value)
    hash(value)
    return value


def own_copy(value: Any) -> Any:
    """A copy of a space's value whose lists and mappings are new: an architecture's own,
    which a model may change (``opt.pop("name")``) without changing the space (was: the
    space's option itself, so its later samples, dry builds and trials got what was left)."""
    return _plain(value, text_keys=False)


def all_distinct(values: list[Any]) -> bool:
    """Whether no two of ``values`` are the same (``same_value``): by their keys, in linear
    time (was: every pair, 6.6 s for 8000 values); pairwise for values without a hash."""
    try:
        return len({_value_key(v) for v in values}) == len(values)
    except TypeError:
        return not any(_same(a, b) for i, a in enumerate(values) for b in values[:i])


class Param(ABC):
    """One searchable knob. Subclasses know their size, how to sample and to validate."""

    kind: str

    @abstractmethod
    def size(self) -> float:
        """Number of distinct values (``math.inf`` for continuous ranges)."""

    @abstractmethod
    def sample(self, rng: random.Random) -> Any:
        """Draw a value uniformly (log-uniformly for log ranges)."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a legal value of this parameter."""

    def plain(self, value: Any) -> Any:
        """The stored form of a legal value (``Float`` turns ``1`` into ``1.0``)."""
        return value

    @abstractmethod
    def describe(self) -> str:
        """Short text of the legal values, used in error messages."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping this parameter loads from."""

    @abstractmethod
    def to_nevergrad(self) -> ng.p.Parameter:
        """The nevergrad parameter whose ``.value`` is a legal plain value."""

    def __eq__(self, other: object) -> bool:
        """Same kind, same values of the same types (``Choice([1, 2])`` is not
        ``Choice([1.0, 2.0])``: a trial gets ``1`` of one, ``1.0`` of the other; was: equal,
        by ``==`` of their mappings, yet hashed apart)."""
        return type(self) is type(other) and arch_key(self.to_dict()) == arch_key(
            other.to_dict())  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash(arch_key(self.to_dict()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != self.kind)
        first = repr(self.to_dict()[self.kind])
        return f"{type(self).__name__}({first}{', ' + args if args else ''})"
