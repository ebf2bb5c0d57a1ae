"""The mapping a search's config paths into an argument annotated with a ``Union`` of
dataclasses (``net: Union[NetConfig, Label]``, space keys ``model.net.hidden``) are set
over, as LightningCLI's ``--model.net.hidden=wide`` sets it: for each value, the first
class whose fields take the keys and the values, built from its own defaults, the fields of
the value already there (the signature default's, the config's mapping's) that it has and
that fit it kept. One mapping, stored in the config every trial and ``best.yaml`` build
from, must give each value its class so: where none does (a ``NetConfig`` for ``5`` keeping
the default's ``depth=3``, a ``Label`` without it for ``'wide'``), the values are refused
before training, naming the key, each value and the class it builds.

A path deeper in (``model.net.hidden.x``, ``hidden`` itself a dataclass or a ``Union`` of
them) picks the class so too, by the mapping it sets at ``hidden`` over the one already
there (``--model.net.hidden.x=5``: the first class whose ``hidden`` takes it; was: by the
keys alone); a field's ``Union`` of dataclasses takes, from a config, only the class of the
field's default (LightningCLI keeps that class there). Values no class takes so are refused
before training too, naming the key, each value and the classes.

Example:
    >>> import dataclasses, typing
    >>> @dataclasses.dataclass
    ... class Net:
    ...     hidden: int = 8
    ...     depth: int = 1
    >>> @dataclasses.dataclass
    ... class Label:
    ...     hidden: str = "h"
    ...     name: str = "x"
    >>> union_fill("model.net.hidden", "model.net", typing.Union[Net, Label], Net(depth=3),
    ...            None, {"hidden": ["wide", "narrow"]})
    {}
    >>> union_fill("model.net.hidden", "model.net", typing.Union[Net, Label], Net(depth=3),
    ...            None, {"hidden": [5, 6]})
    {'depth': 3}
    >>> @dataclasses.dataclass
    ... class Deep:
    ...     hidden: Net = dataclasses.field(default_factory=Net)
    >>> union_fill("model.net.hidden.depth", "model.net", typing.Union[Net, Deep],
    ...            Net(depth=3), None, {"hidden.depth": [5, 6]})
    {}
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.convert import fits
from lightning_nas.config.nodes import is_node
from lightning_nas.config.records import (
    dataclass_for,
    dataclasses_in,
    each_class,
    field_hints,
    init_fields,
    is_instance,
    own_defaults,
    required_fields,
    takes,
)
from lightning_nas.config.space_groups import is_space_group, param_options
from lightning_nas.config.union_deep import deep_field, deep_note, over_paths
from lightning_nas.errors import ConfigError

__all__ = ["union_fill", "union_seed"]

#: the most value combinations of the keys into one argument that are checked
_MOST = 256


def union_seed(key: str, where: str, hint: Any, default: Any, given: Any,
               space: Mapping[str, Any]) -> tuple[dict[str, Any], type] | None:
    """``union_fill`` for the space ``space`` (its specs by the config path each key sets):
    the paths its keys set under ``where`` (``hidden``, ``hidden.x``), with the values each
    may take; with the mapping, the class the first values build (where the path goes on);
    None where a group, or no key, sets ``where``'s fields."""
    inner = {path[len(where) + 1:]: spec for path, spec in space.items()
             if path.startswith(f"{where}.")}
    if not inner or any(is_space_group(spec) for spec in inner.values()):
        return None
    return _fill(key, where, hint, default, given,
                 {part: param_options(spec) for part, spec in inner.items()})


def union_fill(key: str, where: str, hint: Any, default: Any, given: Any,
               searched: Mapping[str, list[Any]]) -> dict[str, Any] | None:
    """The mapping to hold at ``where`` (annotated ``hint``, a ``Union`` of dataclasses;
    ``default`` its signature default, ``given`` the config's value there) under the space
    keys ``searched`` (each field set there, with the values it may take), for which each
    trial's config builds what LightningCLI builds for its values; None where this does not
    apply (fewer than two dataclasses, no values, a value no class takes: the checks say
    which).

    Raises:
        ConfigError: the values need mappings one config cannot hold, naming space key
            ``key``, ``where``, each value with the class it builds, and each class.
    """
    found = _fill(key, where, hint, default, given, searched)
    return None if found is None else found[0]


def _fill(key: str, where: str, hint: Any, default: Any, given: Any,
          searched: Mapping[str, list[Any]]) -> tuple[dict[str, Any], type] | None:
    """``union_fill``'s mapping, with the class the first values build; ``searched`` by
    the path under ``where`` each key sets (``hidden.x`` deeper in)."""
    classes = dataclasses_in(hint)
    if len(classes) < 2 or not searched or not all(searched.values()) or (
            given is not None and not (isinstance(given, Mapping) and not is_node(given))):
        return None
    before = _before(hint, default, given)
    tops = {name.split(".")[0] for name in searched}
    deep = {top: item for top in tops if any(name.startswith(f"{top}.") or name == top and any(
        isinstance(v, Mapping) and not is_node(v) for v in searched[name]) for name in searched)
            for item in [before.get(top)] if isinstance(item, Mapping) and not is_node(item)}
    # (a mapping searched at a top is set over the value there too; was: in place of it)
    combos = [dict(zip(searched, values, strict=True))
              for values in itertools.islice(itertools.product(*searched.values()), _MOST)]
    built = [(combo, _class(classes, before, over_paths(deep, combo, hint))) for combo in combos]
    if any(cls is None for _, cls in built):
        if not any("." in name for name in searched):  # fields right under where: the
            return None  # checks say which
        said = _built(built, before, deep, where, hint=hint)
        raise ConfigError(f"space key {key!r}: {where}: as LightningCLI builds them, {said}; "
                          f"search values one class takes there, over the fields of the value "
                          f"there (the signature default's, the config's mapping's); classes: "
                          f"{each_class(classes)}")
    out = {name: item for name, item in (given or {}).items() if name not in tops}
    for _, cls in built:
        out.update(_kept(cls, before, tops))
    out.update(deep)  # the value a deeper path sets into, as LightningCLI keeps it
    if all(dataclass_for(hint, over_paths(out, combo, hint), fits) is cls and takes(
            cls, over_paths(out, combo, hint), fits) for combo, cls in built):
        return out, built[0][1]
    raise ConfigError(f"space key {key!r}: {where}: as LightningCLI builds them, "
                      f"{_built(built, before, deep, where, out)}; one config cannot give each "
                      f"trial its class (it holds one mapping at {where} for every value): "
                      f"search values that build one class, the others in a search of their "
                      f"own, and give {where} in the config only fields that class has; "
                      f"classes: {each_class(classes)}")


def _before(hint: Any, default: Any, given: Any) -> dict[str, Any]:
    """The fields of the value at the argument a path sets over: the signature default's,
    and over them those of the dataclass the config's mapping ``given`` builds (its own
    defaults where the mapping leaves them out), as LightningCLI merges them."""
    out = init_fields(default) if is_instance(default) else dict(default) if isinstance(
        default, Mapping) and not is_node(default) else {}
    if isinstance(given, Mapping) and (cls := dataclass_for(hint, given, fits)) is not None:
        out.update({name: init_fields(item) for name, item in own_defaults(cls).items()})
    return {**out, **(given or {})}


def _class(classes: list[type], before: Mapping[str, Any], combo: Mapping[str, Any]
           ) -> type | None:
    """The first of ``classes`` whose fields take the values ``combo`` sets (a deeper
    path's: the mapping there, ``deep_field``), its required fields given by them or by
    the fields of ``before`` that fit it."""
    for cls in classes:
        hints = field_hints(cls)
        if not all(name in hints and deep_field(cls, name, item)
                   for name, item in combo.items()):
            continue
        kept = {**_kept(cls, before, combo), **combo}
        if set(required_fields(cls)) <= set(kept):
            return cls
    return None


def _kept(cls: type, before: Mapping[str, Any], searched: Mapping[str, Any]
          ) -> dict[str, Any]:
    """The fields of ``before`` that ``cls`` has and that fit it, less the ``searched``."""
    hints = field_hints(cls)
    return {name: item for name, item in before.items()
            if name in hints and name not in searched and fits(item, hints[name])}


def _built(built: list[tuple[dict[str, Any], type | None]], before: Mapping[str, Any],
           deep: Mapping[str, Any], where: str, held: Mapping[str, Any] | None = None,
           hint: Any = None) -> str:
    """Each value (of one key: the value alone) with the class it builds, the fields of the
    value there that it keeps, and those of the mapping ``held`` it has no field for; for
    one no class takes (a deeper path's), the mapping it sets there."""
    parts = []
    for combo, cls in built:
        value = ", ".join(map(repr, combo.values())) if len(combo) == 1 else repr(combo)
        if cls is None:
            sets = over_paths(deep, combo, hint)
            parts.append(f"{value} builds none of them (" + ", ".join(
                f"{where}.{name}: {item!r}" for name, item in sets.items() if name in deep
                or isinstance(item, Mapping)) + "".join(
                deep_note(dataclasses_in(hint), name, item) for name, item in sets.items()) + ")")
            continue
        tops = {name.split(".")[0] for name in combo}
        kept = ", ".join(f"{name}={item!r}" for name, item in _kept(
            cls, before, tops).items())
        lost = ", ".join(f"{name}={item!r}" for name, item in held.items()
                         if name not in field_hints(cls)) if held else ""
        parts.append(f"{value} builds a {cls.__name__}{f' keeping {kept}' if kept else ''}"
                     f"{f' (which has no field for {lost})' if lost else ''}")
    return "; ".join(dict.fromkeys(parts))
