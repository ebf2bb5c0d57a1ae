"""A space key's config path stepping into an argument that holds keys (a dataclass, a
mapping), as LightningCLI's ``--model.net.hidden=4`` does: the class of a ``Union`` it
reaches into, the annotation of the step, and the refusal of a step into a plain argument
(``model.lr.x`` where ``lr: float``), naming the accepted key.

Example:
    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Net:
    ...     hidden: int = 8
    >>> record_step("model.net.hidden", "model.net", "hidden", Net)
    <class 'int'>
    >>> print(plain_step("model.lr.x", "model.lr", float))  # doctest: +ELLIPSIS
    space key 'model.lr.x': model.lr is a float argument, with no keys inside; accepted ...
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from lightning_nas.config.records import dataclasses_in, each_class, field_hints, mapping_of
from lightning_nas.errors import ConfigError, did_you_mean

__all__ = ["plain_step", "record_class", "record_step"]

#: the types a plain argument takes: a value, with no keys inside
_PLAIN = (bool, int, float, complex, str, bytes)


def record_class(key: str, where: str, part: str, hint: Any, given: Any = None,
                 also: Iterable[str] = ()) -> type | None:
    """The dataclass that space key ``key``'s step ``part`` into the argument at ``where``
    (annotated ``hint``) reaches into: ``dataclass_of``'s; of a ``Union`` of several, the
    first whose fields take the keys set there, ``part``, the space's ``also`` and those of
    the mapping the config ``given``, as LightningCLI builds the mapping the trial's config
    holds (``dataclass_for``; was: the first class alone, so ``model.net.width`` was
    refused as no field of ``NetConfig`` for ``NetConfig | Wide``); None for no dataclass.

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class A:
        ...     x: int = 1
        >>> @dataclasses.dataclass
        ... class B:
        ...     y: int = 1
        >>> record_class("model.net.y", "model.net", "y", A | B).__name__
        'B'

    Raises:
        ConfigError: no class of a ``Union`` has those fields, naming each with its fields.
    """
    classes = dataclasses_in(hint)
    if len(classes) < 2:
        return classes[0] if classes else None
    keys = {part, *also, *(given if isinstance(given, Mapping) else ())}
    if cls := next((cls for cls in classes if keys <= set(field_hints(cls))), None):
        return cls
    if not any(part in field_hints(cls) for cls in classes):
        names = [name for cls in classes for name in field_hints(cls)]
        raise ConfigError(f"space key {key!r}: {where}.{part}: a field of none of the "
                          f"dataclasses {where} is annotated with; "
                          f"{did_you_mean(part, names)}{each_class(classes)}")
    raise ConfigError(f"space key {key!r}: {where}: none of the dataclasses it is annotated "
                      f"with has the fields {', '.join(sorted(keys))}, which the config and "
                      f"the space set there (LightningCLI builds the first whose fields take "
                      f"a mapping's keys): {each_class(classes)}")


def record_step(key: str, where: str, part: str, hint: Any, given: Any = None,
                also: Iterable[str] = ()) -> Any | None:
    """The annotation of ``part`` inside the argument at ``where`` (annotated ``hint``; the
    config ``given`` a value there; the space ``also`` sets those keys there) that space key
    ``key`` reaches into: a dataclass's field's (``record_class``'s), a mapping's values',
    ``Any`` in a mapping the config gives an argument of no annotation; None otherwise (the
    caller's error says what to write). LightningCLI takes ``--model.net.hidden=4`` there,
    setting that key of the mapping the config gives and keeping the others, so a search's
    config path does too.

    Example:
        >>> record_step("model.opt.m", "model.opt", "m", dict[str, float])
        <class 'float'>
        >>> record_step("model.lr.x", "model.lr", "x", float) is None
        True

    Raises:
        ConfigError: ``part`` is no field of the dataclass, naming the close one and all.
    """
    cls = record_class(key, where, part, hint, given, also)
    if cls is not None:
        fields = field_hints(cls)
        if part not in fields:
            raise ConfigError(f"space key {key!r}: {where}.{part}: not a field of "
                              f"{cls.__name__}; {did_you_mean(part, fields)}fields: "
                              f"{', '.join(fields)}")
        return fields[part]
    if hint is Any:  # no annotation: the config's mapping says it (was: refused)
        return Any if isinstance(given, Mapping) else None
    return mapping_of(hint)


def _plain_name(hint: Any) -> str | None:
    """``hint`` named (``float``, ``int | None``, ``Literal['a', 'b']``) where it takes a
    plain value alone (``_PLAIN``, a ``Literal``, a ``Union`` of them and None), else None."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return f"Literal{list(typing.get_args(hint))}"
    if origin in (typing.Union, types.UnionType):
        names = [_plain_name(arg) for arg in typing.get_args(hint) if arg is not type(None)]
        if not names or None in names:
            return None
        return " | ".join([*names, "None"] if type(None) in typing.get_args(hint) else names)
    return hint.__name__ if hint in _PLAIN else None


def plain_step(key: str, where: str, hint: Any, given: Any = None) -> ConfigError | None:
    """The ``ConfigError`` of space key ``key`` reaching into the argument at ``where`` whose
    annotation ``hint`` takes a plain value (``lr: float``), or, unannotated, whose config
    value ``given`` is one (a number, a bool): it has no keys inside, so ``where`` itself is
    the key to search (was: "write model.lr as class_path + init_args", no advice for a
    float); None for another argument.

    Example:
        >>> print(plain_step("model.lr.x", "model.lr", float))  # doctest: +ELLIPSIS
        space key 'model.lr.x': model.lr is a float argument, with no keys inside; accepted ...
        >>> str(plain_step("model.n.x", "model.n", int | None)).split(": ")[1]
        'model.n is an int | None argument, with no keys inside; accepted key'
    """
    kind = _plain_name(hint)
    if kind is None and hint is Any and type(given) in (bool, int, float):
        kind = type(given).__name__
    if kind is None:
        return None
    article = "an" if kind[0] in "aeiou" else "a"
    return ConfigError(f"space key {key!r}: {where} is {article} {kind} argument, with no keys "
                       f"inside; accepted key: {where}")
