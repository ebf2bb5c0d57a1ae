"""The mapping a search's config paths into an argument annotated with a ``Union`` of
dataclasses (``net: Union[NetConfig, Label]``, space keys ``model.net.hidden``) are set
over, as LightningCLI's ``--model.net.hidden=wide`` sets it: for each value, the first
class whose fields take the keys and the values, built from its own defaults, the fields of
the value already there (the signature default's, the config's mapping's) that it has and
that fit it kept. One mapping, stored in the config every trial and ``best.yaml`` build
from, must give each value its class so: where none does (a ``NetConfig`` for ``5`` keeping
the default's ``depth=3``, a ``Label`` without it for ``'wide'``), the values are refused
before training, naming the key, each value and the class it builds.

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
from lightning_nas.errors import ConfigError

__all__ = ["union_fill", "union_seed"]

#: the most value combinations of the keys into one argument that are checked
_MOST = 256


def union_seed(key: str, where: str, hint: Any, default: Any, given: Any,
               space: Mapping[str, Any]) -> dict[str, Any] | None:
    """``union_fill`` for the space ``space`` (its specs by the config path each key sets):
    the fields its keys set right under ``where``, with the values each may take; None
    where a key reaches deeper, or a group, or no key, sets ``where``'s fields."""
    inner = {path[len(where) + 1:]: spec for path, spec in space.items()
             if path.startswith(f"{where}.")}
    if not inner or any("." in part or is_space_group(spec) for part, spec in inner.items()):
        return None
    return union_fill(key, where, hint, default, given,
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
    classes = dataclasses_in(hint)
    if len(classes) < 2 or not searched or not all(searched.values()) or (
            given is not None and not (isinstance(given, Mapping) and not is_node(given))):
        return None
    before = _before(hint, default, given)
    combos = [dict(zip(searched, values, strict=True))
              for values in itertools.islice(itertools.product(*searched.values()), _MOST)]
    built = [(combo, _class(classes, before, combo)) for combo in combos]
    if any(cls is None for _, cls in built):
        return None
    out = {name: item for name, item in (given or {}).items() if name not in searched}
    for _, cls in built:
        out.update(_kept(cls, before, searched))
    if all(dataclass_for(hint, {**out, **combo}, fits) is cls and takes(
            cls, {**out, **combo}, fits) for combo, cls in built):
        return out
    raise ConfigError(f"space key {key!r}: {where}: as LightningCLI builds them, "
                      f"{_built(built, before, searched, out)}; one config cannot give each "
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
    """The first of ``classes`` whose fields take the values ``combo`` sets, its required
    fields given by them or by the fields of ``before`` that fit it."""
    for cls in classes:
        hints = field_hints(cls)
        if not all(name in hints and fits(item, hints[name]) for name, item in combo.items()):
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


def _built(built: list[tuple[dict[str, Any], type]], before: Mapping[str, Any],
           searched: Mapping[str, Any], held: Mapping[str, Any]) -> str:
    """Each value (of one key: the value alone) with the class it builds, the fields of the
    value there that it keeps, and those of the mapping ``held`` it has no field for."""
    parts = []
    for combo, cls in built:
        value = ", ".join(map(repr, combo.values())) if len(combo) == 1 else repr(combo)
        kept = ", ".join(f"{name}={item!r}" for name, item in _kept(
            cls, before, searched).items())
        lost = ", ".join(f"{name}={item!r}" for name, item in held.items()
                         if name not in field_hints(cls))
        parts.append(f"{value} builds a {cls.__name__}{f' keeping {kept}' if kept else ''}"
                     f"{f' (which has no field for {lost})' if lost else ''}")
    return "; ".join(dict.fromkeys(parts))
