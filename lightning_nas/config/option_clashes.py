"""Choice options that are one value to the argument they set: ``check_option_clashes``
refuses a space key's options that its argument's annotation converts to the same value
(``{choice: [3, "3"]}`` for an ``int``, ``[1, 1.0]`` for a ``float``), as a trial builds
them (``convert``, jsonargparse's reading of a text and of an int for a float). Both would
train the same model while the store kept two architectures: a trial of the budget spent on
a duplicate.

Only what is known before anything is built: a choice set at an argument of a
``class_path`` node (the section's, or a nested node's by a dotted key or a group at the
node, ``model.net: {lin1_size: ...}``) or of a model or data class searched from Python; a
Hydra node's values are passed as written, and an argument without an annotation, a
dataclass's field or a plain dict's key is left as given. A Trainer argument's options are
compared as Lightning takes them (``search.trainer_spelling``).

Example:
    >>> option_clash("width", [3, "3"], int)
    (3, '3', 3)
    >>> option_clash("width", [3, "4"], int) is None
    True
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_nas.config.chain import init_hints
from lightning_nas.config.convert import convert, type_name
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.instantiate import import_object, short
from lightning_nas.config.nodes import ARGS_KEYS, is_hydra, is_node, node_args, target_path
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.config.space_keys import is_dotted
from lightning_nas.errors import ConfigError

__all__ = ["check_option_clashes", "option_clash", "space_choices"]


def check_option_clashes(choices: Mapping[str, Sequence[Any]], arch: Mapping[str, Any],
                         model: ModelFactory, data: DataFactory) -> None:
    """Refuse a choice whose options the annotation of the argument they set converts to
    one value (see the module), before anything is built.

    Args:
        choices: each choice key of the space and its options (``space_choices``: one in
            a group by its path, its parts joined by a tab).
        arch: a sampled architecture: the other keys' values (a searched ``class_path``
            says which class's annotation a nested key meets).
        model, data: the search's factories.

    Example:
        >>> from lightning.pytorch.demos.boring_classes import BoringModel
        >>> check_option_clashes({"x": [1, "1"]}, {}, ModelFactory(BoringModel), DataFactory())

    Raises:
        ConfigError: naming the space key, the two options, the value both are and the
            annotation.
    """
    for key, options in choices.items():
        path = key.split(_GROUP)
        hint = _hint_of(path, _set_in(arch, path, options[0]), model, data)
        key = ".".join(path)
        clash = None if hint is None else option_clash(key, options, hint)
        if clash is not None:
            first, second, value = clash
            raise ConfigError(
                f"space key {key!r}: the choice options {short(first)} and {short(second)} "
                f"(both {short(value)} for its annotation {type_name(hint)}) are one "
                f"value to the argument, as a trial builds it (jsonargparse's reading): a "
                f"trial of one would train the other's model again; keep one of them")


def option_clash(key: str, options: Sequence[Any], hint: Any) -> tuple[Any, Any, Any] | None:
    """The first two of ``options`` (of the space key ``key``) that ``hint`` converts to one
    value, and that value; None where none do (the same type and text: ``3`` and ``3``, not
    ``1`` and ``True``).

    Example:
        >>> option_clash("lr", [1, 0.5, 1.0], float)
        (1, 1.0, 1.0)
    """
    seen: dict[tuple[type, str], Any] = {}
    for option in options:
        value = convert(copy.deepcopy(option), hint)
        try:
            mark = (type(value), repr(value))
        except Exception:  # noqa: BLE001 - an object whose repr fails: no clash to say
            continue
        if mark in seen:
            return seen[mark], option, value
        seen[mark] = option
    return None


#: what joins a group's path in the keys of ``space_choices`` (no space key holds a tab)
_GROUP = "\t"


def space_choices(params: Mapping[str, Any], _path: tuple[str, ...] = ()
                  ) -> dict[str, Sequence[Any]]:
    """The options of each choice of a space's ``params`` (``SearchSpace.params``), those in
    a group too, keyed as ``check_option_clashes`` takes them.

    Example:
        >>> from lightning_nas.space import SearchSpace
        >>> space = SearchSpace({"w": {"choice": [1, 2]}, "net": {"d": {"choice": [3, 4]}}})
        >>> space_choices(space.params)
        {'w': [1, 2], 'net\\td': [3, 4]}
    """
    from lightning_nas.space import Choice, SearchSpace

    out: dict[str, Sequence[Any]] = {}
    for name, param in params.items():
        if isinstance(param, Choice):
            out[_GROUP.join((*_path, name))] = list(param.values)
        elif isinstance(param, SearchSpace):
            out.update(space_choices(param.params, (*_path, name)))
    return out


def _set_in(arch: Mapping[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    """A copy of ``arch`` with ``value`` at ``path`` (a group's mappings copied)."""
    out = dict(arch)
    if len(path) == 1:
        out[path[0]] = value
    else:
        held = out.get(path[0])
        out[path[0]] = _set_in(held if isinstance(held, Mapping) else {}, path[1:], value)
    return out


def _hint_of(path: Sequence[str], arch: Mapping[str, Any], model: ModelFactory,
             data: DataFactory) -> Any:
    """The annotation of the argument the space key at ``path`` (a group's keys after the
    first) sets (None where not known, see the module)."""
    key, rest = path[0], [part for inner in path[1:] for part in inner.split(".")]
    for factory, name in ((model, "model"), (data, "data")):
        target = factory.target
        if isinstance(target, ConfigBuilder):
            if is_dotted(key) and key.startswith(f"{name}."):
                return _hint_at(target.config(arch), [*key.split(".")[1:], *rest])
            if not is_dotted(key) and target.plain_keys:
                return _hint_at(target.config(arch), [key, *rest])
        elif rest:
            continue  # a group of a class's argument: a dict or dataclass, left as given
        elif inspect.isclass(target):
            own = key if name == "model" and not is_dotted(key) else (
                key.partition(".")[2] if key.startswith("data.") and name == "data" else "")
            if own and "." not in own:
                return init_hints(target).get(own)
    return None


def _hint_at(node: Any, parts: Sequence[str]) -> Any:
    """The annotation of the argument at ``parts`` under the ``class_path`` node ``node``
    (nested nodes by their argument names, ``init_args`` levels skipped), None where a
    level is no such node (a Hydra node, a dict) or its class does not import."""
    parts = [part for part in parts if part not in ARGS_KEYS]
    for i, part in enumerate(parts):
        if not is_node(node) or is_hydra(node):
            return None
        try:
            target = import_object(target_path(node))
        except ConfigError:
            return None
        if not callable(target):
            return None
        if i == len(parts) - 1:
            return init_hints(target).get(part)
        node = node_args(node).get(part)
    return None
