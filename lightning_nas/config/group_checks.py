"""The checks of a search space's group (a dict searched at an argument) against the
``init_args`` value it is set at in every trial, before training: an instance of a dataclass
the group's dict would not build again (``check_group``: another class than the annotation
builds), or a dict with keys the group does not set (they would be lost: the group's dict
replaces it, and an instance such a dict holds). A group over a dataclass instance itself
is set over its fields (``over_fields``), which each trial keeps, as LightningCLI merges
``--model.net='{hidden: 4}'`` over a config's ``net``; refused only where the store keeps
no record of the instance (``instance_record``), so ``best.yaml`` could not say them.

Example:
    >>> check_group("data", "aug", "data.aug", {"p": 0.5}, {"p": 0.1}, None)
    >>> check_group("data", "aug", "data.aug", {"p": 0.5, "q": 1}, {"p": 0.1}, None)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: data init_args['aug'] has the key q, which the ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.convert import fits, type_name
from lightning_nas.config.instance_records import instance_record
from lightning_nas.config.nodes import is_node
from lightning_nas.config.record_defaults import over_fields
from lightning_nas.config.records import (
    changed_fields,
    dataclass_for,
    dataclasses_in,
    holds_instances,
    is_instance,
    mapping_of,
)
from lightning_nas.errors import ConfigError

__all__ = ["check_group"]


def check_group(section: str, key: str, group: str, given: Any, value: Any,
                hint: Any) -> None:
    """Raise ``ConfigError`` where the space's group ``group`` (its dict ``value`` in an
    architecture) at ``section``'s argument ``key`` (annotated ``hint``) does not keep what
    ``given``, its ``init_args[key]``, is: a dataclass instance the group's dict builds as
    another class (``_check_group_class``), or a dict's keys the group does not set
    (``_check_group_keeps``).

    Example:
        >>> check_group("model", "opt", "opt", {"momentum": 0.9}, {"momentum": 0.5}, dict)
        >>> check_group("model", "opt", "opt", {"momentum": 0.9}, {"lr": 0.1}, dict)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: model init_args['opt'] has the key momentum, ...
    """
    _check_group_class(section, key, group, given, value, hint)
    _check_held_classes(section, key, group, given, value, hint)
    _check_group_keeps(section, key, group, given, value, hint)


def _check_held_classes(section: str, key: str, group: str, given: Any, value: Any,
                        hint: Any, at: str = "") -> None:
    """``_check_group_class`` of each dataclass instance the dict ``given`` holds at a key
    the group's dict ``value`` sets (its values annotated ``mapping_of(hint)``), and in a
    dict there, all the way down: a dict of instances' each (was: not looked into), and
    one inside a plain ``dict`` argument (``{"net": NetConfig(depth=2), "c": 3}`` for
    ``opt: dict``), which each trial would get as the group's dict (was: not refused where
    the group set its changed fields, the class lost)."""
    if not isinstance(given, Mapping) or is_instance(given) or not isinstance(
            value, Mapping) or is_node(value):
        return
    inner = mapping_of(hint) if hint is not None else None
    for name, item in value.items():
        where = f"{at}[{name!r}]"
        _check_group_class(section, key, group, given.get(name), item, inner, where)
        _check_held_classes(section, key, group, given.get(name), item, inner, where)


def _check_group_class(section: str, key: str, group: str, given: Any, value: Any,
                       hint: Any, at: str = "") -> None:
    """Raise ``ConfigError`` when ``given``, the ``section``'s ``init_args[key]`` (a value
    of it at ``at``, ``['a']``, where it is a dict of instances), is a
    dataclass instance of another class than the one the space's group ``group`` (its dict
    ``value``) builds over its fields, the class ``key`` is annotated with (``hint``): a
    subclass (``Wide(NetConfig)``), or any where ``key`` has no dataclass annotation (a
    dict); the trial would not get the user's class (was: quietly ``NetConfig(...)``),
    and LightningCLI, which takes no subclass of a dataclass, could not build it from
    ``best.yaml``. One inside a plain ``dict`` (``at``, no dataclass annotating the dict's
    values) is said as such: the group's dict replaces the plain dict whole, so each trial
    would get a plain dict there (was: said as a dataclass argument's, "built from the
    group's dict over the instance's fields").

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Net:
        ...     depth: int = 1
        >>> @dataclasses.dataclass
        ... class Wide(Net): ...
        >>> _check_group_class("model", "net", "net", Wide(), {"depth": 2}, Net)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: model init_args['net'] is a Wide instance, and ...
    """
    if not (dataclasses.is_dataclass(given) and not isinstance(given, type)) \
            or not isinstance(value, Mapping) or is_node(value):
        return
    cls, mine = dataclass_for(hint, over_fields(given, value), fits), type(given)  # (a Union's:
    if mine is cls or cls is None and dataclasses_in(hint):  # the class whose fields take
        return  # them, keys and values; none: check_fields refuses it)
    which = (f"{type_name(hint)}, of which LightningCLI too builds the first class whose "
             f"fields take a mapping's keys and values" if len(dataclasses_in(hint)) > 1 else
             f"{getattr(cls, '__name__', '')}, which LightningCLI too builds from a mapping "
             f"there")
    named, are = (f"the values of {key!r}{at.rsplit('[', 1)[0]}", "are") if at else (
        repr(key), "is")
    built, why = (f"a {cls.__name__}", f"{named} {are} annotated with {which}; it takes no "
                  f"subclass of a dataclass") if cls is not None else (
        "a dict", f"{named} {are} annotated with no dataclass")
    kind = "LightningModule" if section == "model" else "LightningDataModule"
    fix = (f"To fix it, annotate {named} with {mine.__name__}, or give a builder arch -> "
           f"{kind} that builds {mine.__name__}(**arch[{group!r}]{at}); else leave the "
           f"instance out of init_args[{key!r}]{at}")
    if at and cls is None:  # in a plain dict, which the group's dict replaces (was: said as
        raise ConfigError(  # a dataclass argument's, "built ... over the instance's fields")
            f"{section} init_args[{key!r}]{at} is a {mine.__name__} instance inside a plain "
            f"dict ({why}), and the search space's group {group!r} gives each trial its own "
            f"dict as {key!r}, whole, in place of the one given, as LightningCLI sets a dict "
            f"argument: init_args[{key!r}]{at} would be the group's plain dict, not a "
            f"{mine.__name__}, and the instance's fields it leaves out would be lost. {fix}")
    raise ConfigError(f"{section} init_args[{key!r}]{at} is a {mine.__name__} instance, and "
                      f"the search space's group {group!r} gives each trial {built} built from "
                      f"the group's dict over the instance's fields, not a {mine.__name__} "
                      f"({why}). {fix}")


def _check_group_keeps(section: str, key: str, group: str, given: Any, value: Any,
                       hint: Any = None) -> None:
    """Raise ``ConfigError`` when ``given``, the ``section``'s ``init_args[key]`` dict, has
    keys the space's group ``group`` (its dict ``value`` in an architecture) does not set:
    the group's dict is passed whole, so they would be lost from every trial; so too the
    changed fields of a dataclass instance such a dict holds (``{"net": NetConfig(depth=2),
    "lr": 0.1}`` for ``opt: dict``; was: each trial got ``{"hidden": 4}`` there). Where
    ``given`` is an instance, the group is set over its fields (``over_fields``), so each
    trial keeps them (was: refused, as if the group replaced it), but for an instance the
    store keeps no record of (its class defined in ``__main__`` or a function, fields that
    are no JSON data): ``best.yaml``'s node could not say the fields the group leaves out.
    Where ``given`` is a dict of instances, or of them and plain mappings, each key the
    group sets is merged over it (``over_fields`` under ``hint``, the argument's annotation:
    a plain mapping as a config's, where ``hint`` is a dict of dataclasses; was: a plain
    mapping's other keys refused, "would be lost", beside an instance); its keys the group
    leaves out are refused, as LightningCLI's ``--model.nets='{b: {...}}'`` drops them.

    Example:
        >>> _check_group_keeps("data", "aug", "data.aug", {"p": 0.5, "q": 1}, {"p": 0.1})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: data init_args['aug'] has the key q, which the ...
    """
    if is_instance(given) and instance_record(given) is not None:
        return  # merged over its fields: the trial, best.yaml's node and finetune keep them
    kept = is_instance(given)
    given = fields if (fields := changed_fields(given)) is not None else given  # dataclass
    got = over_fields(given, value, hint) if holds_instances(given) else value  # a dict of
    merged = got is not value  # them (or of them and plain mappings, at a dict of
    lost = _lost_keys(given, got, not merged) if isinstance(  # dataclasses): each key
        given, Mapping) and isinstance(got, Mapping) else {}  # merged, as the trial's
    if not lost:
        return
    one = len(lost) == 1
    it, they, keys = ("it", "it", "the key") if one else ("they", "them", "the keys")
    fixed = ", ".join(f"{path!r}: Fixed({item!r})" for path, item in lost.items())
    why = (f"each trial keeps {they} (the group's dict is set over the instance's fields), "
           f"but the store keeps no record of the instance (its class is defined in __main__ "
           f"or in a function, or its fields are no JSON data), so best.yaml's model node "
           f"would lose {they}" if kept else
           f"the group's dict is each trial's {key!r}, whole, so {it} would be lost")
    raise ConfigError(f"{section} init_args[{key!r}] has {keys} {', '.join(lost)}, which the "
                      f"search space's group {group!r} does not set: {why}. To fix it, add "
                      f"{fixed} to the group {group!r} (nested as in init_args), or search "
                      f"{they} there; else leave {they} out of init_args[{key!r}]")


def _lost_keys(given: Mapping[str, Any], value: Mapping[str, Any], replaced: bool = True,
               prefix: str = "") -> dict[str, Any]:
    """The keys of the dict ``given`` (dotted, with their values) that the group's dict
    ``value`` lacks; a dict in both is looked into, and so, where ``value`` replaces them
    (``replaced``: not a dict of instances, or of them and plain mappings, which
    ``over_fields`` merges key by key), is a
    dataclass instance in ``given`` (its fields not at their defaults, ``changed_fields``)."""
    lost: dict[str, Any] = {}
    for key, item in given.items():
        if replaced and (fields := changed_fields(item)) is not None:
            item = fields
        if key not in value:
            lost[f"{prefix}{key}"] = item
        elif isinstance(item, Mapping) and isinstance(value[key], Mapping):
            lost.update(_lost_keys(item, value[key], True, f"{prefix}{key}."))
    return lost
