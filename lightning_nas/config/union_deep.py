"""What a config path deeper into a ``Union`` of dataclasses (``model.net.hidden.x``, where
``net: Union[A, B]`` and ``hidden`` is itself a dataclass or a ``Union`` of them) sets, as
LightningCLI reads it: ``over_paths``, the mapping the paths set over the one already there;
``deep_field``, whether a class's field takes what is set there as a stored config gives it
to LightningCLI (a field's ``Union`` of dataclasses keeps the class of the field's default);
``deep_note``, why not. ``union_paths`` picks each value's class with them.

Example:
    >>> import dataclasses
    >>> In = dataclasses.make_dataclass("In", [("x", int, 0), ("y", int, 1)])
    >>> Out = dataclasses.make_dataclass("Out", [
    ...     ("hidden", In, dataclasses.field(default_factory=In)),
    ...     ("extra", dict, dataclasses.field(default_factory=dict))])
    >>> over_paths({"hidden": {"x": 0, "y": 1}}, {"hidden.y": 5}, Out)
    {'hidden': {'x': 0, 'y': 5}}
    >>> over_paths({"hidden": {"x": 0}, "extra": {"x": 0}}, {"hidden": {"y": 5},
    ...            "extra": {"y": 5}}, Out)
    {'hidden': {'x': 0, 'y': 5}, 'extra': {'y': 5}}
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.convert import fits
from lightning_nas.config.nodes import is_node
from lightning_nas.config.record_defaults import over_held, step_hint
from lightning_nas.config.records import (
    dataclass_for,
    dataclasses_in,
    field_hints,
    is_instance,
    own_defaults,
)

__all__ = ["deep_field", "deep_note", "over_paths"]


def over_paths(base: Mapping[str, Any], values: Mapping[str, Any], hint: Any
               ) -> dict[str, Any]:
    """A copy of ``base`` (the value of an argument annotated ``hint``) with each dotted path
    of ``values`` (``hidden.x``) set, mappings made on the way where there is none (or a
    plain value, which the path replaces), a path before the paths under it, a mapping
    merged over the one there where the fields walked say a dataclass is there, as
    ``config.paths.set_paths`` sets a trial's values (``held_hints``)."""
    out = copy.deepcopy(dict(base))
    for name, item in sorted(values.items(), key=lambda pair: pair[0].count(".")):
        *steps, last = name.split(".")
        node, at = out, hint
        for step in steps:
            if not isinstance(node.get(step), dict) or is_node(node[step]):
                node[step] = {}
            node, at = node[step], step_hint(at, step, node)
        node[last] = over_held(node.get(last), copy.deepcopy(item), step_hint(at, last, node))
    return out


def deep_field(cls: type, name: str, item: Any) -> bool:
    """Whether the dataclass ``cls``'s field ``name`` takes ``item`` from a config, as
    LightningCLI reads one: its annotation takes it (``convert.fits``) and, where that is a
    ``Union`` of dataclasses whose default (the field's own) is an instance, a mapping there
    builds the default's class (LightningCLI keeps it there: it refuses another's fields).

    (``Out.hidden: A | B = field(default_factory=A)`` takes ``{x: 5}``, an ``A``'s, and not
    ``{x: wide}``, a ``B``'s: LightningCLI keeps the ``A`` there and refuses it.)
    """
    hint = field_hints(cls)[name]
    return fits(item, hint) and _held_class(cls, name, item) is None


def deep_note(classes: list[type], name: str, item: Any) -> str:
    """For a mapping ``item`` at field ``name`` that one of ``classes`` takes as another
    class than its default's there: ``"; Out's hidden takes it as a B, and from a config only
    the class of Out's default there, an A"``; else ``""``."""
    for cls in classes:
        if name in field_hints(cls) and fits(item, field_hints(cls)[name]) and (
                held := _held_class(cls, name, item)) is not None:
            built = dataclass_for(field_hints(cls)[name], item, fits)
            return (f"; {cls.__name__}'s {name} takes it as {_a(built)}, and from a config "
                    f"only the class of {cls.__name__}'s default there, {_a(held)}")
    return ""


def _held_class(cls: type, name: str, item: Any) -> type | None:
    """The class of ``cls``'s default at field ``name`` where the mapping ``item`` builds
    another of the field's ``Union`` of dataclasses; else None."""
    hint = field_hints(cls)[name]
    default = own_defaults(cls).get(name)
    if not (isinstance(item, Mapping) and not is_node(item) and len(dataclasses_in(hint)) > 1
            and is_instance(default)):
        return None
    return type(default) if dataclass_for(hint, item, fits) is not type(default) else None


def _a(cls: type | None) -> str:
    name = getattr(cls, "__name__", "none")
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
