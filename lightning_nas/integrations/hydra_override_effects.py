"""What a Hydra command line's overrides set, as Hydra applies them: ``override_parts`` splits
the overrides of several command lines into the parts of the config they touch and gives
each line's effect there, equal where Hydra composes the same config from the same files.

A resumed sweep compares its job overrides with its first run's by these effects
(``hydra_resume.override_changes``). Hydra applies a command line's value overrides in their
order, each with ``OmegaConf.update(..., merge=True)``:

- ``key=v``, ``+key=v`` and ``++key=v`` set ``v`` (the last one wins: ``a=1 a=2`` sets what
  ``a=2`` sets); a mapping is merged into the value there, the keys it leaves out kept
  (``a={b:1}`` sets ``a.b`` alone, as ``a.b=1`` does), into a value that is no mapping it
  replaces it; a list replaces the list there;
- ``~key`` and ``~key=v`` delete the key (``a=1 ~a`` deletes it, as ``~a`` does).

The overrides of one path, and of paths one inside the other (a mapping and a dotted path
into it: ``a={b:1} a.b=2``), are one part, applied in their order: ``a={b:1} a.b=2`` sets
what ``a.b=2`` sets, and ``a.b=2 a={b:1}`` what ``a={b:1}`` does. The kinds differ only in
where Hydra refuses them (``key=v`` where the key is not there, ``+key=v`` where it is, ``~key``
where it is not), so two command lines that both compose set the same where their effects
are equal: ``+a=1`` sets what ``a=1`` sets. A config group's option (``model=c``, chosen
before any value is set) is its own part, its last plain choice winning (``model=c
model=a`` chooses ``a``), any other sequence (``+group``, ``~group``) compared as written, by
kind and value; so is a line Hydra does not parse.

Example:
    >>> parts = override_parts([["a={b:1}", "a.b=2", "s=1", "s=2"], ["a.b=2", "s=2"]])
    >>> [(key, [p.lines for p in sides]) for key, sides in parts.items()]
    [('a', [('a={b:1}', 'a.b=2'), ('a.b=2',)]), ('s', [('s=1', 's=2'), ('s=2',)])]
    >>> [sides[0].effect == sides[1].effect for sides in parts.values()]
    [True, True]
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.errors import HydraException

__all__ = ["Part", "composed_at", "override_parts"]


@dataclasses.dataclass(frozen=True)
class Part:
    """One command line's overrides of one part of the config.

    Args:
        lines: the overrides, as written, in their order.
        effect: what they set there (comparable: equal where Hydra composes the same).
    """

    lines: tuple[str, ...]
    effect: Any


def override_parts(sides: Sequence[Sequence[str]], loader: Any = None
                   ) -> dict[str, list[Part | None]]:
    """Each part of the config that the overrides of ``sides`` (command lines) touch, by its
    key (a value's outermost path, a config group's ``group@package``, else the line), with
    each side's ``Part`` there (None where that side overrides nothing there); in the order
    the parts first come in ``sides``.

    Args:
        sides: the command lines' overrides.
        loader: Hydra's config loader, which tells a config group's option from a value
            (None: a key with no ``@package`` is a value).
    """
    parser = OverridesParser.create()
    parsed = [[(line, _parsed(parser, line)) for line in side] for side in sides]

    groups: dict[str, bool] = {}  # (the loader asked once a key)

    def is_value(override: Override | None) -> bool:
        if override is None or override.package is not None:
            return False
        key = override.key_or_group
        if key not in groups:
            groups[key] = loader is not None and bool(loader.get_group_options(key))
        return not groups[key]

    roots = _roots(o.key_or_group for side in parsed for _, o in side if is_value(o))
    parts: dict[str, list[Part | None]] = {}
    for index, side in enumerate(parsed):
        held: dict[str, list[tuple[str, Override | None]]] = {}
        for line, override in side:
            if is_value(override):
                key = roots[override.key_or_group]
            elif override is not None:
                key = override.key_or_group + (f"@{override.package}" if override.package
                                               is not None else "")
            else:
                key = line
            held.setdefault(key, []).append((line, override))
        for key, lines in held.items():
            effect = (_value_effect(key, [o for _, o in lines])
                      if all(is_value(o) for _, o in lines) else _written(lines))
            parts.setdefault(key, [None] * len(sides))[index] = Part(
                tuple(line for line, _ in lines), effect)
    return parts


def composed_at(root: str, lines: Sequence[str], known: Any, missing: Any = None) -> Any:
    """The value at ``root`` once the value overrides ``lines`` (all at ``root`` or under
    it: one ``Part``'s) are applied, in their order, to ``known``, the value the files give
    there (``missing``: none), as Hydra applies them; ``missing`` where they delete it.
    A resume reads whether a part one side alone overrides sets what the other composes.

    Example:
        >>> composed_at("a", ["a={b:1}", "a.c=2"], {"b": 1, "c": 0})
        {'b': 1, 'c': 2}
        >>> composed_at("s", ["~s"], 3, missing="none")
        'none'
    """
    parser = OverridesParser.create()
    depth = len(root.split("."))
    value = _DELETED if known is missing else known
    for line in lines:
        override = parser.parse_overrides([line])[0]
        value = _set_in(value, override.key_or_group.split(".")[depth:],
                        _DELETED if override.is_delete() else override.value())
    return missing if value is _DELETED else value


def _parsed(parser: OverridesParser, line: str) -> Override | None:
    """``line`` as Hydra parses it; None where it does not (compared as written)."""
    try:
        return parser.parse_overrides([line])[0]
    except HydraException:
        return None


def _roots(paths: Iterable[str]) -> dict[str, str]:
    """Each dotted path with the outermost of ``paths`` it is in (itself, or one it is under:
    ``a.b`` is in ``a``)."""
    roots: dict[str, str] = {}
    for path in sorted(set(paths), key=lambda p: p.count(".")):
        parts = path.split(".")
        within = (".".join(parts[:i]) for i in range(1, len(parts)))
        roots[path] = next((roots[p] for p in within if p in roots), path)
    return roots


def _written(lines: list[tuple[str, Override | None]]) -> Any:
    """The effect of a config group's choices (or of lines Hydra does not parse): the last
    plain choice where all are plain, else each by its kind and value."""
    said = [(line, None) if o is None else (o.type.name, _json(o.value())) for line, o in lines]
    if all(o is not None and o.type is OverrideType.CHANGE for _, o in lines):
        return ("chosen", said[-1][1])
    return ("written", tuple(said))


class _Merged:
    """The value the files give there, with ``keys`` set in it (by a merged mapping or a
    dotted path into it)."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}


_DELETED = object()


def _value_effect(root: str, overrides: list[Override]) -> Any:
    """What the value ``overrides`` (all at ``root`` or under it) set at ``root``."""
    tree: Any = _Merged()
    for override in overrides:
        value = _DELETED if override.is_delete() else override.value()
        tree = _write(tree, override.key_or_group.split("."), value)
    for part in root.split("."):  # (only the part's own overrides: mappings above it)
        tree = tree.keys[part]
    return _frozen(tree)


def _write(node: Any, parts: list[str], value: Any) -> Any:
    """``node`` (a ``_Merged``, or a value known whatever the files say) with ``value``
    written at the path ``parts`` in it, as ``OmegaConf.update(merge=True)`` writes it."""
    if not isinstance(node, _Merged):
        return _set_in(node, parts, value)
    if parts:
        node.keys[parts[0]] = _write(node.keys.get(parts[0], _Merged()), parts[1:], value)
        return node
    if isinstance(value, dict):  # merged into the value there
        for key, item in value.items():
            node.keys[str(key)] = _write(node.keys.get(str(key), _Merged()), [], item)
        return node
    return value if value is _DELETED else copy.deepcopy(value)


def _set_in(known: Any, parts: list[str], value: Any) -> Any:
    """The known value ``known`` (``_DELETED``: none) with ``value`` written at ``parts``."""
    if not parts:
        if isinstance(value, dict) and isinstance(known, dict):
            merged = dict(known)
            for key, item in value.items():
                merged[key] = _set_in(known.get(key, _DELETED), [], item)
            return merged
        return value if value is _DELETED else copy.deepcopy(value)
    head, rest = parts[0], parts[1:]
    if isinstance(known, list) and head.isdigit() and int(head) < len(known):
        items = list(known)
        item = _set_in(items[int(head)], rest, value)
        if item is _DELETED:
            del items[int(head)]
        else:
            items[int(head)] = item
        return items
    tree = dict(known) if isinstance(known, dict) else {}  # (where a `++key` makes one)
    item = _set_in(tree.get(head, _DELETED), rest, value)
    if item is _DELETED:
        tree.pop(head, None)
    else:
        tree[head] = item
    return tree


def _frozen(node: Any) -> Any:
    """``node`` as comparable data: a known value by its JSON text (``1`` is not ``1.0``,
    ``'1'`` not ``1``), a merge by its keys' effects in any order."""
    if isinstance(node, _Merged):
        return ("merged", tuple(sorted((k, _frozen(v)) for k, v in node.keys.items())))
    return ("deleted",) if node is _DELETED else ("set", _json(node))


def _json(value: Any) -> str:
    """``value`` as JSON text, typed (a sweep's object: its repr)."""
    return json.dumps(value, default=repr)
