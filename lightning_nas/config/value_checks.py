"""Check a config's values against the annotations of the arguments they are given to:
``matches`` (``Optional[int]``, ``Literal``, unions, lists, mappings, ``type[...]``, an
``Enum`` by a member's name; a text for a number or a bool as jsonargparse reads it,
``'3'`` for an ``int``; a ``class_path`` spec fits anything: it is built later) and
``check_value``, which raises a ``ConfigError`` that names the path, the value
and what was expected.

Example:
    >>> from typing import Optional
    >>> matches("abc", Optional[int]), matches(None, Optional[int]), matches(3, float)
    (False, True, True)
    >>> check_value("model.depth", "abc", int, "Net")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: model.depth='abc': expected int (the annotation of Net)
"""

from __future__ import annotations

import collections.abc as cabc
import datetime
import enum
import functools
import inspect
import os
import types
import typing
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from lightning_nas.config.convert import (
    bool_note,
    close_class_note,
    fits,
    import_class,
    short_class_note,
    type_bound,
    type_name,
)
from lightning_nas.config.imports import SHORT_NAME_MODULES
from lightning_nas.config.nodes import builds_at
from lightning_nas.config.records import (
    check_fields,
    dataclasses_in,
    dict_note,
    kinds_of,
    mapping_of,
    no_dict,
)
from lightning_nas.config.texts import LEAVES, UNREAD, leaf_text, literal_text
from lightning_nas.config.timedeltas import timedelta_note, timedelta_of
from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int, is_number

__all__ = ["check_value", "enum_note", "import_path_note", "matches", "null_note", "short"]

#: the annotations of a sequence and of a mapping, bare or subscripted (``list[int]``)
_SEQUENCES = (list, tuple, set, frozenset, cabc.Sequence, cabc.MutableSequence, cabc.Iterable,
              cabc.Collection, cabc.Set)
_MAPPINGS = (dict, cabc.Mapping, cabc.MutableMapping)
#: values that are no callable, whatever a ``Callable[...]`` annotation asks
_NO_CALLABLE = (bool, int, float, list, tuple, Mapping)


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut at ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def matches(value: Any, hint: Any, strict: bool = False, written: bool = False) -> bool:
    """Whether ``value`` fits the annotation ``hint``.

    Plain types are checked exactly (``bool`` is not an ``int``, an ``int`` is a ``float``);
    a ``class_path`` spec fits anything (a Hydra node's, ``written``, is data to it, as
    Hydra's ``instantiate`` passes it: checked as a mapping; a ``_target_`` node fits
    anything). A plain value (a string, a number) fits another
    class only as an instance of it (``'fast'`` is no ``Tensor``; an ``Enum`` takes a
    member's name, not its value, as LightningCLI); a text fits a number or a bool where
    jsonargparse reads it as one (``'3'`` an ``int``, not ``'3.0'``: ``config/texts.py``).
    Other values are checked with ``isinstance`` when ``strict`` (the Trainer's), else
    accepted (a model argument may take objects the check cannot know). ``strict`` or
    ``written`` (a Hydra node's, which Hydra passes as written): no text is read.
    """
    if hint is Any or hint is inspect.Parameter.empty or builds_at(value, written):
        return True  # a node is built later (a class_path mapping a Hydra node's is data)
    if hint is None or hint is type(None) or no_dict(value, hint, written):  # a dict is no Module
        return value is None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(matches(value, arg, strict, written) for arg in args)
    if origin is typing.Literal:  # '2' for Literal[1, 2] too, as jsonargparse reads it
        return any(value == arg and type(value) is type(arg) for arg in args) or (
            isinstance(value, str) and not (strict or written)
            and literal_text(value, args) is not UNREAD)
    if (bound := type_bound(hint)) is not None:  # a class, or the import path of one
        found = import_class(value) if isinstance(value, str) else value
        return inspect.isclass(found) and issubclass(found, bound)
    if origin is cabc.Callable and isinstance(value, _NO_CALLABLE):
        return False  # `optimizer: 0.01` for an OptimizerCallable, as jsonargparse refuses it
        # (an import path or an object may be one; was: taken, and every trial failed)
    if hint in LEAVES and isinstance(value, str) and not (strict or written):  # '3' for an
        return leaf_text(value, hint) is not UNREAD  # int, as jsonargparse reads it and
        # convert builds it (was: refused; '3.0' still is); passed as written, it is a text
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return is_int(value)
    if hint is float:
        return is_number(value)
    if hint is str:
        return isinstance(value, str)
    if inspect.isclass(hint) and issubclass(hint, (PurePath, os.PathLike)):
        return isinstance(value, (str, os.PathLike))
    if origin in _SEQUENCES or hint in _SEQUENCES:
        if not isinstance(value, (list, tuple, set, frozenset)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(
                matches(v, a, strict, written) for v, a in zip(value, args, strict=True))
        return not args or all(matches(v, args[0], strict, written) for v in value)
    if origin in _MAPPINGS or hint in _MAPPINGS:
        if not isinstance(value, Mapping):
            return False
        return len(args) != 2 or all(matches(k, args[0], strict, written) and matches(
            v, args[1], strict, written) for k, v in value.items())
    if inspect.isclass(hint) and origin is None and isinstance(value, (str, int, float)):
        if issubclass(hint, enum.Enum):  # by a member's name alone, as jsonargparse and
            return isinstance(value, hint) or (  # convert take it (was: by its value too,
                isinstance(value, str) and value in hint.__members__)  # passed on as a str)
        if issubclass(hint, datetime.timedelta) and timedelta_of(value) is not None:
            return True  # LightningCLI's text of it (0:30:00): built so
        try:
            return isinstance(value, hint)  # a config's plain value is no Tensor, no Module
        except TypeError:  # a Protocol that cannot be checked at run time
            return True
    if strict and inspect.isclass(hint) and origin is None:
        return isinstance(value, hint)
    return True  # callables, type variables, classes when not strict: cannot tell


def check_value(path: str, value: Any, hint: Any, owner: str, strict: bool = False,
                written: bool = False) -> None:
    """Raise ``ConfigError`` ``path=value: expected ...`` unless ``value`` fits ``hint``
    (a dict for a dataclass: field by field, ``check_fields``; of a ``Union``'s, the class
    whose fields take its values, ``convert.fits``; a dict of dataclasses, ``dict[str,
    NetConfig]``: each value so, ``model.nets.a.hiden`` refused, as LightningCLI refuses it;
    was: passed on as the dict)."""
    if check_fields(path, value, hint, functools.partial(
            check_value, strict=strict, written=written), fits):
        return
    if isinstance(value, Mapping) and not builds_at(value, written) and dataclasses_in(
            inner := mapping_of(hint)):
        for key, item in value.items():
            check_value(f"{path}.{key}", item, inner, owner, strict, written)
        return
    if not matches(value, hint, strict, written):
        note = dict_note(value, hint, path, written) or short_class_note(value, hint) or \
            close_class_note(value, hint, SHORT_NAME_MODULES) or timedelta_note(value, hint) \
            or bool_note(value, hint) or enum_note(value, hint) or null_note(value, hint) or \
            (import_path_note(value, hint) if not written else "") or (
                _as_written(value, hint, owner) if strict or written else "")
        raise ConfigError(f"{path}={short(value)}: expected {type_name(hint)} (the annotation "
                          f"of {owner}){note}")


def enum_note(value: Any, hint: Any) -> str:
    """For a text or a number where ``hint`` takes an ``Enum`` (or a ``Union`` with one): the
    names of its members, which alone LightningCLI takes, and the member whose value it is;
    ``""`` for another value or annotation (was: a number's refusal named no member).

    Example:
        >>> Act = enum.Enum("Act", {"relu": "ReLU", "tanh": "Tanh"})
        >>> enum_note("ReLU", Act)
        "; an Enum is given by a member's name: relu, tanh ('ReLU' is the value of Act.relu)"
    """
    found = [kind for kind in kinds_of(hint)
             if inspect.isclass(kind) and issubclass(kind, enum.Enum)]
    if not (isinstance(value, str) or is_number(value)) or not found:
        return ""
    owner = next((f" ({value!r} is the value of {kind.__name__}.{member.name})"
                  for kind in found for member in kind if member.value == value), "")
    names = ", ".join(name for kind in found for name in kind.__members__)
    return f"; an Enum is given by a member's name: {names}{owner}"


def null_note(value: Any, hint: Any) -> str:
    """For a text that reads as null in Python or another language (``'none'``,
    ``'None'``, ``'nil'``) where ``hint`` takes None: how YAML writes null (as
    jsonargparse, no such text is read as None).

    Example:
        >>> null_note("none", int | None)
        "; null is written null or ~, not 'none'"
    """
    takes_none = any(kind is None or kind is type(None) for kind in kinds_of(hint))
    return (f"; null is written null or ~, not {value!r}" if takes_none and isinstance(
        value, str) and value.strip().lower() in ("none", "nil", "null") else "")


def import_path_note(value: Any, hint: Any) -> str:
    """For a class's import path given from Python where ``hint`` takes an instance of it
    (``model_init_args={"net": "my_pkg.Body"}`` at ``net: nn.Module``): the ``class_path``
    node to give, which is built (a config's bare import path is read as that node, as
    jsonargparse reads it; a text given from Python stays a text); ``""`` for another value
    (was: "expected Module" alone).

    Example:
        >>> import torch
        >>> import_path_note("torch.nn.ReLU", torch.nn.Module)[-75:]
        "give {'class_path': 'torch.nn.ReLU'} (with its 'init_args'), or an instance"
        >>> import_path_note("torch.nn.ReLU", int)
        ''
    """
    if not isinstance(value, str) or "." not in value.replace(":", "."):
        return ""
    found = import_class(value)
    kinds = [kind for kind in kinds_of(hint) if inspect.isclass(kind) and kind is not object]
    if found is None or not any(issubclass(found, kind) for kind in kinds):
        return ""
    return (f"; a class's import path given from Python stays a text: give "
            f"{{'class_path': {value!r}}} (with its 'init_args'), or an instance")


def _as_written(value: Any, hint: Any, owner: str) -> str:
    """For a text a number's or a bool's annotation (of a ``Union`` too) reads as one,
    passed as written (a Trainer argument, a Hydra node's): what to write instead."""
    read = next((found for kind in kinds_of(hint) if kind in LEAVES and isinstance(value, str)
                 and (found := leaf_text(value, kind)) is not UNREAD), UNREAD)
    return "" if read is UNREAD else (f"; {owner} gets it as written, not read as LightningCLI "
                                      f"reads it: write {read!r}")
