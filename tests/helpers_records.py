"""Dataclass arguments of the record-default tests: ``NetConfig`` (a project's network
config), ``Sized`` (a required field, which a signature default gives) and ``DEEP``, a
signature default other than the dataclass's own (``depth=3``).

Example:
    >>> DEEP
    NetConfig(hidden=8, depth=3)
"""

from __future__ import annotations

import dataclasses

__all__ = ["DEEP", "NetConfig", "Sized"]


@dataclasses.dataclass
class NetConfig:
    """A project's network config: one dataclass argument."""

    hidden: int = 8
    depth: int = 1


@dataclasses.dataclass
class Sized:
    """A dataclass with a required field, which the signature default gives."""

    width: int
    act: str = "relu"


#: the signature default: a field other than the dataclass's own default
DEEP = NetConfig(depth=3)
