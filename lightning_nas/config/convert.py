"""Convert a config's plain values to the types their arguments are annotated with, as
jsonargparse does when LightningCLI reads a config.

YAML gives strings, numbers, lists and mappings; an argument annotated with an ``int``,
``float`` or ``bool`` gets a text as jsonargparse reads it (``'3'``: 3, ``config/texts.py``),
one annotated ``float`` the float of an int (``1``: ``1.0``, as jsonargparse builds it);
one annotated with an ``Enum`` gets
the member of that name (a value is passed as given), a ``pathlib.Path`` (any ``PurePath``
or ``str`` subclass) the path, a ``tuple`` (``tuple[int, int]``, ``tuple[int, ...]``), ``set`` or
``frozenset`` one built from the list; a ``timedelta`` the one LightningCLI's text of it
gives (``0:30:00``); a ``type[Module]`` the class an import path names
(``torch.nn.GELU``: the class, not an instance; a subclass of ``Module`` only); a
``Callable`` the function an import path names (``torch.nn.functional.mse_loss``); lists and
dicts have their items converted. A
``Union`` takes the first of its types that fits, in order, as jsonargparse does
(``Optional[Act]``: ``None`` stays ``None``). Nothing is converted where the annotation is
absent, ``Any``, or not one of these (a ``Sequence``, ``os.PathLike``, a ``Protocol``): the
value is passed as written. A value that does not fit is passed as written too (the checks
before training say what is wrong with it).

Example:
    >>> import enum, pathlib
    >>> class Act(enum.Enum):
    ...     relu = "relu"
    >>> convert("relu", Act), convert("/tmp", pathlib.Path), convert([8, 4], tuple[int, ...])
    (<Act.relu: 'relu'>, PosixPath('/tmp'), (8, 4))
    >>> convert("relu", typing.Union[str, Act]), convert("relu", typing.Optional[Act])
    ('relu', <Act.relu: 'relu'>)
"""

from __future__ import annotations

import collections.abc as cabc
import difflib
import enum
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import PurePath
from typing import Any

from lightning_nas.config.chain import init_hints
from lightning_nas.config.nodes import is_hydra, is_node, node_args
from lightning_nas.config.records import (
    dataclass_for,
    dataclass_of,
    dataclasses_in,
    takes,
    to_dataclass,
)
from lightning_nas.config.texts import LEAVES, UNREAD, leaf_text, literal_text
from lightning_nas.config.timedeltas import timedelta_of
from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int, is_number

__all__ = ["bool_note", "class_bound", "class_node_path", "close_class_note", "convert",
           "convert_args", "converted", "fits", "import_class", "short_class_note", "type_bound",
           "type_name"]

_TUPLES, _SETS = (tuple,), (set, frozenset, cabc.Set, cabc.MutableSet)
_LISTS = (list, cabc.Sequence, cabc.MutableSequence, cabc.Iterable, cabc.Collection)
_DICTS = (dict, cabc.Mapping, cabc.MutableMapping)


#: the plain annotations a value fits only as an instance of (``fits``): a ``float`` an ``int``
_INSTANCES_OF = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}


class _NoFit(Exception):
    """The value does not fit the annotation (in a ``Union``: try the next type)."""


def convert(value: Any, hint: Any) -> Any:
    """``value`` converted to the annotation ``hint`` (see the module); as given where it
    cannot be, or need not be (the same object when nothing changes)."""
    try:
        return _convert(value, hint)
    except _NoFit:
        return value


def convert_args(target: Callable[..., Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` with each value converted to the annotation of the argument of ``target``
    (a class: its ``__init__``) it is passed to; keys without one (``**kwargs``) as given."""
    hints = init_hints(target)
    return {key: convert(value, hints[key]) if key in hints else value
            for key, value in kwargs.items()}


def converted(target: Callable[..., Any], kwargs: Mapping[str, Any]) -> bool:
    """Whether ``convert_args`` changes a value of ``kwargs``."""
    out = convert_args(target, kwargs)
    return any(out[key] is not kwargs[key] for key in kwargs)


def _convert(value: Any, hint: Any) -> Any:
    """``value`` as ``hint`` takes it; ``_NoFit`` when it does not fit."""
    if hint is Any or hint is inspect.Parameter.empty or is_node(value):
        return value
    if hint is None or hint is type(None):
        return _fit(value is None, value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        chosen = dataclass_for(hint, value, fits) if isinstance(value, Mapping) and not (
            is_node(value)) else None  # of its dataclasses, the one whose fields take the
        for arg in args:  # mapping's values; else the first that fits, as jsonargparse
            if chosen is not None and arg is not chosen and arg in dataclasses_in(hint):
                continue
            try:
                return _convert(value, arg)
            except _NoFit:
                continue
        raise _NoFit
    if origin is typing.Literal:  # '2' for Literal[1, 2]: 2, as jsonargparse reads it
        read = literal_text(value, args) if isinstance(value, str) and value not in args \
            else value
        return _fit(any(read == a and type(read) is type(a) for a in args), read)
    bound = type_bound(hint)
    if bound is not None:  # type[Module]: the class itself, as jsonargparse gives it
        found = import_class(value) if isinstance(value, str) else value
        return _fit(inspect.isclass(found) and issubclass(found, bound), found)
    kind = origin or hint
    if kind is cabc.Callable and isinstance(value, str) \
            and (found := _function(value)) is not None:
        return found  # a function's import path: the function, as jsonargparse imports it
    if kind in _TUPLES or kind in _SETS or kind in _LISTS:
        return _items(value, kind, args)
    if kind in _DICTS:
        if not isinstance(value, Mapping):
            raise _NoFit
        key_hint, item_hint = args if len(args) == 2 else (Any, Any)
        pairs = [(_convert(k, key_hint), _convert(v, item_hint)) for k, v in value.items()]
        return _same(value, dict(pairs), [*value, *value.values()],
                     [k for k, _ in pairs] + [v for _, v in pairs])
    if not inspect.isclass(hint) or origin is not None:
        return value  # a callable, a type variable, a generic class: cannot tell
    return _instance(value, hint)


def fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` may be what LightningCLI takes for the annotation ``hint``, as a
    ``Union`` of dataclasses tries its classes in turn (``records.dataclass_for``):
    ``convert`` takes it (a dataclass's mapping: its fields each of its values, nested too),
    a text given a number's or a bool's annotation too where jsonargparse reads it as one
    (``'3'`` for an ``int``: not ``'wide'``, not ``'3.0'``; ``config/texts.py``).

    Example:
        >>> fits("wide", int), fits("3", int), fits({"x": 1}, str | None), fits(2, int | str)
        (False, True, False, True)
    """
    if hint in _INSTANCES_OF:  # of its type, as jsonargparse takes one (not as given)
        if isinstance(value, str) and hint is not str:  # '3' for an int, not '3.0'
            return leaf_text(value, hint) is not UNREAD
        return isinstance(value, _INSTANCES_OF[hint]) and (
            hint is bool or not isinstance(value, bool))
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # one of its types
        return any(fits(value, arg) for arg in typing.get_args(hint))
    if (cls := dataclass_of(hint)) is hint and not is_node(value):  # an instance or a mapping
        return isinstance(value, cls) or isinstance(value, Mapping) and takes(cls, value, fits)
    try:
        _convert(value, hint)
    except _NoFit:
        return False
    return True


def type_bound(hint: Any) -> type | None:
    """The class a ``type[...]`` (or ``Type[...]``, ``type``) annotation takes subclasses
    of (``object`` for any class), or None for another annotation."""
    if hint is type:
        return object
    if typing.get_origin(hint) is not type:
        return None
    args = typing.get_args(hint)
    return args[0] if args and inspect.isclass(args[0]) else object


def class_bound(hint: Any) -> type | None:
    """The class an annotation that takes only a class (``type[Module]``, or a ``Union`` of
    such and ``None``: ``Optional[type[Module]]``) takes subclasses of; None for another
    (one that may take an instance too)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        bounds = [class_bound(arg) for arg in typing.get_args(hint) if arg is not type(None)]
        return bounds[0] if bounds and all(b is not None for b in bounds) else None
    return type_bound(hint)


def class_node_path(value: Any, hint: Any, where: str) -> Any:
    """``value`` as an argument annotated ``hint`` takes it: a ``{class_path: X}`` node where
    ``hint`` takes only a class (``class_bound``) is the class, not an object built from it,
    so its import path ``X`` (converted to the class as ``act: X`` is; jsonargparse takes only
    that form); anything else as it is.

    Example:
        >>> class_node_path({"class_path": "torch.nn.GELU"}, type[object], "model.act")
        'torch.nn.GELU'

    Raises:
        ConfigError: for such a node with arguments (``init_args``, ``dict_kwargs``, ``_args_``)
            or ``_partial_``, which a class cannot keep: building it would give an object."""
    if not is_node(value) or is_hydra(value) or class_bound(hint) is None:
        return value
    extra = [key for key in ("_partial_", "_args_") if value.get(key)]
    if node_args(value) or extra or not isinstance(value.get("class_path"), str):
        given = ", ".join([*map(str, node_args(value)), *extra]) or "no class path"
        bound = class_bound(hint).__name__
        raise ConfigError(f"{where}: its class_path node gives {given}, so building it would "
                          f"give an object, and the argument is annotated type[{bound}]: it "
                          f"takes a class, which the model builds; give the class by its "
                          f"import path ({where}: "
                          f"{value.get('class_path', 'package.module.Class')}), or annotate "
                          f"the argument {bound} to take an object built from class_path + "
                          f"init_args")
    return value["class_path"]


def short_class_note(value: Any, hint: Any) -> str:
    """For a class name alone (``GELU``) where ``hint`` takes a class: what to write
    instead (``torch.nn.GELU``, found beside the annotation's class), as jsonargparse refuses
    it too; ``""`` for another value.

    Example:
        >>> import torch
        >>> short_class_note("GELU", type[torch.nn.Module])
        '; a class name alone is no import path (LightningCLI refuses it too): write torch.nn.GELU'
    """
    bound = class_bound(hint)
    if bound is None or not isinstance(value, str) or "." in value or ":" in value:
        return ""
    parts = bound.__module__.split(".")
    found = next((path for path in (".".join(parts[:i] + [value]) for i in range(
        1, len(parts) + 1)) if bound is not object and _subclass(import_class(path), bound)),
        f"package.module.{value}")
    return (f"; a class name alone is no import path (LightningCLI refuses it too): write "
            f"{found}")


def bool_note(value: Any, hint: Any) -> str:
    """For a bool where ``hint`` takes a string (``activation: {choice: [relu, off]}``): YAML
    1.1, as PyYAML reads it, took the unquoted word for a bool; ``""`` for another value.

    Example:
        >>> bool_note(False, str)[:47]
        '; YAML reads an unquoted yes, no, on, off, true'
        >>> bool_note(False, bool)
        ''
    """
    takes = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) \
        else (hint,)
    if not isinstance(value, bool) or str not in takes:
        return ""
    return ("; YAML reads an unquoted yes, no, on, off, true or false as a bool: quote it for "
            "a string ('no', 'off')")


def close_class_note(value: Any, hint: Any, modules: Sequence[str]) -> str:
    """For a misspelt class name alone (``LearningRateMonitr``, or in a list) where ``hint``
    takes an object of a class: ``"; did you mean LearningRateMonitor?"``, naming the classes in
    ``modules`` of close name that fit ``hint`` (its own classes, ``Callback``,
    left out); else ``""``.

    Example:
        >>> from lightning.pytorch.callbacks import Callback
        >>> close_class_note("LearningRateMonitr", list[Callback] | Callback | None,
        ...                  ["lightning.pytorch.callbacks"])
        '; did you mean LearningRateMonitor or LearningRateFinder?'
    """
    names = [v for v in (value if isinstance(value, list) else [value])
             if isinstance(v, str) and v.isidentifier()]
    bases = tuple(_hint_classes(hint))
    if not (names and bases):
        return ""
    found: dict[str, None] = {}
    for module in map(importlib.import_module, modules):
        for name in (c for n in names for c in difflib.get_close_matches(n, dir(module), n=3)):
            cls = getattr(module, name)
            if inspect.isclass(cls) and issubclass(cls, bases) and cls not in bases:
                found[name] = None
    return f"; did you mean {' or '.join(found)}?" if found else ""


def type_name(hint: Any) -> str:
    """A readable name of an annotation (``int or null``)."""
    if hint is None or hint is type(None):
        return "null"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        names = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(names + (["null"] if type(None) in args else []))
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in args)
    if (bound := type_bound(hint)) is not None:
        return f"type[{bound.__name__}], a subclass of {bound.__name__} or its import path"
    if inspect.isclass(hint) and origin is None:
        return hint.__name__
    if origin is not None and args:
        inner = ", ".join(_arg_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return str(hint).replace("typing.", "").replace("collections.abc.", "")


def _arg_name(arg: Any) -> str:
    """One argument of a generic annotation: ``...``, a Callable's parameters, a type."""
    if arg is Ellipsis:
        return "..."
    if isinstance(arg, list):  # Callable[[Iterable], Optimizer]: was "[<class 'Iterable'>]"
        return f"[{', '.join(map(type_name, arg))}]"
    return type_name(arg)


def _hint_classes(hint: Any) -> list[type]:
    """The classes (other than ``object`` and builtins) an annotation takes objects of."""
    if inspect.isclass(hint) and typing.get_origin(hint) is None:
        return [] if hint.__module__ == "builtins" else [hint]
    return [cls for arg in typing.get_args(hint) for cls in _hint_classes(arg)]


def _subclass(found: type | None, bound: type) -> bool:
    return found is not None and issubclass(found, bound)


def import_class(path: str) -> type | None:
    """The class at the import path ``package.module.Name`` (or ``package.module:Name``),
    or None where there is none."""
    found = _imported(path)
    return found if inspect.isclass(found) else None


def _function(path: str) -> Callable[..., Any] | None:
    """The function (a callable that is no class) at the import path ``path``, or None
    where there is none (was: a ``Callable`` argument got the text)."""
    found = _imported(path)
    return found if callable(found) and not inspect.isclass(found) else None


def _imported(path: str) -> Any:
    """What the import path ``package.module.Name`` (or ``package.module:Name``) names, or
    None where it names nothing."""
    module_name, _, name = path.replace(":", ".").rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name) if module_name else None
    except Exception:  # noqa: BLE001 - not importable: nothing
        return None


def _instance(value: Any, hint: type) -> Any:
    """``value`` as an instance of the class ``hint``."""
    if hint in LEAVES and isinstance(value, str):  # '3' for an int: 3, as jsonargparse
        found = leaf_text(value, hint)  # reads it (was: passed on as the text)
        return _fit(found is not UNREAD, found)
    if hint is bool:
        return _fit(isinstance(value, bool), value)
    if hint in (int, float):  # an int for a float: the float, as jsonargparse builds it
        found = float(value) if hint is float and type(value) is int else value  # (was: 1)
        return _fit(is_number(value) if hint is float else is_int(value), found)
    try:
        if isinstance(value, hint):
            return value
    except TypeError:  # a Protocol that cannot be checked at run time
        return value
    if dataclass_of(hint) and isinstance(value, Mapping):  # a dict: the dataclass built
        try:  # from it, as jsonargparse builds it
            return to_dataclass(value, hint, convert)
        except (KeyError, TypeError):
            raise _NoFit from None
    if issubclass(hint, enum.Enum):  # by a member's name, as jsonargparse (not its value:
        # a checkpoint LightningCLI's instantiator reloads would be refused)
        found = [m for m in hint if isinstance(value, str) and value == m.name]
        return _fit(bool(found), found[0] if found else None)
    if issubclass(hint, timedelta) and (found := timedelta_of(value)) is not None:
        return found  # LightningCLI's text of it (0:30:00), as jsonargparse reads it
    if issubclass(hint, (PurePath, str)) and isinstance(value, str):
        try:
            return hint(value)
        except Exception:  # noqa: BLE001 - a class that does not take its text
            raise _NoFit from None
    if isinstance(value, (str, int, float, bool)) or value is None:
        raise _NoFit  # a config's plain value is no Tensor, no Module
    return value  # an object the config cannot have made: as given


def _items(value: Any, kind: Any, args: tuple[Any, ...]) -> Any:
    """A list, tuple or set ``value`` as the collection ``kind`` (``tuple[int, ...]``)."""
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise _NoFit
    items = list(value)
    if kind is tuple and args and args[-1] is not Ellipsis:
        if len(items) != len(args):
            raise _NoFit
        out = [_convert(v, a) for v, a in zip(items, args, strict=True)]
    else:
        out = [_convert(v, args[0] if args else Any) for v in items]
    if kind in _TUPLES:
        return _same(value, tuple(out), items, out) if isinstance(value, tuple) else tuple(out)
    if kind in _SETS:
        want = frozenset if kind is frozenset else set
        return _same(value, want(out), items, out) if type(value) is want else want(out)
    return _same(value, type(value)(out), items, out)


def _same(value: Any, new: Any, before: list[Any], after: list[Any]) -> Any:
    """``value`` itself when no item changed, else ``new``."""
    return value if all(a is b for a, b in zip(before, after, strict=True)) else new


def _fit(fits: bool, value: Any) -> Any:
    if not fits:
        raise _NoFit
    return value
