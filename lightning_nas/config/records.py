"""A dict where an argument is annotated with a class: a dataclass is built from it, as
jsonargparse builds one (``cfg: ModelConfig`` given ``{"width": 32}``, a group of the space
or a config's mapping), its keys and values checked field by field before training; a
``torch.nn.Module`` or ``torch.Tensor`` is never one, so such a dict is refused, saying how
a network's own arguments are searched.

Example:
    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Cfg:
    ...     width: int = 8
    ...     act: str = "relu"
    >>> to_dataclass({"width": 32}, Cfg, lambda value, hint: value)
    Cfg(width=32, act='relu')
    >>> check_fields("model.cfg", {"widht": 32}, Cfg, None)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: model.cfg.widht: not a field of Cfg; did you mean ...
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from lightning_nas.arch import is_plain
from lightning_nas.config.nodes import builds_at, is_node
from lightning_nas.errors import ConfigError, did_you_mean

__all__ = ["changed_fields", "check_fields", "dataclass_for", "dataclass_of",
           "dataclasses_in", "dict_note", "each_class", "field_hint", "field_hints",
           "holds_instances", "init_fields", "is_instance", "is_instances", "kinds_of",
           "mapping_of", "no_dict", "own_defaults", "required_fields", "takes", "to_dataclass"]

def dataclass_of(hint: Any) -> type | None:
    """The dataclass an annotation takes (itself, or the first one of a ``Union``:
    ``Optional[Cfg]``), or None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(filter(None, map(dataclass_of, typing.get_args(hint))), None)
    return hint if inspect.isclass(hint) and dataclasses.is_dataclass(hint) else None


def field_hint(hint: Any, name: str) -> Any | None:
    """The annotation of field ``name`` of the dataclasses ``hint`` takes (a ``Union`` of
    those of each class that has it); None where none has it, or ``hint`` takes none: where
    a mapping set there is merged over the one there (``dataclasses_in`` of it), as
    LightningCLI merges it.

    Example:
        >>> In = dataclasses.make_dataclass("In", [("x", int, 0)])
        >>> Out = dataclasses.make_dataclass("Out", [("hidden", In), ("extra", dict)])
        >>> field_hint(Out, "hidden").__name__, field_hint(Out, "extra"), field_hint(int, "x")
        ('In', <class 'dict'>, None)
    """
    found = [field_hints(cls)[name] for cls in dataclasses_in(hint) if name in field_hints(cls)]
    if len(found) < 2:
        return found[0] if found else None
    try:
        return typing.Union[tuple(found)]  # noqa: UP007 - built from a list
    except TypeError:  # an annotation a Union cannot hold: the first's
        return found[0]


def field_hints(cls: type) -> dict[str, Any]:
    """The annotations of the fields a dataclass's ``__init__`` takes, by name (``Any``
    where one does not resolve)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve: unchecked
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def required_fields(cls: type) -> list[str]:
    """The fields a dataclass's ``__init__`` requires (no default, no factory)."""
    return [f.name for f in dataclasses.fields(cls) if f.init and f.default is
            dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


def to_dataclass(value: Mapping[str, Any], cls: type, convert: Callable[[Any, Any], Any]) -> Any:
    """The dataclass ``cls`` built from the dict ``value``, each value ``convert``-ed to its
    field's annotation, as jsonargparse builds it.

    Raises:
        KeyError: for a key that is no field, or a required field left out.
    """
    if not takes(cls, value):
        raise KeyError(cls.__name__)
    hints = field_hints(cls)
    return cls(**{key: convert(item, hints[key]) for key, item in value.items()})


def check_fields(path: str, value: Any, hint: Any,
                 check: Callable[[str, Any, Any, str], None] | None,
                 fits: Callable[[Any, Any], bool] | None = None) -> bool:
    """Check a dict given for a dataclass annotation field by field (``check(path, value,
    hint, owner)`` each value; a key that is no field or a required field left out raises
    here); False, nothing checked, for another value or annotation. ``fits``: which class
    of a ``Union`` it is checked against (``dataclass_for``).

    Raises:
        ConfigError: naming the key (``model.cfg.widht``), the fields and a close one; or,
            for a ``Union`` of dataclasses no one of which takes the keys, each of them.
    """
    if not isinstance(value, Mapping) or is_node(value) or (
            cls := _taker(path, value, hint, fits)) is None:
        return False
    hints = field_hints(cls)
    for key in value:
        if key not in hints:
            raise ConfigError(f"{path}.{key}: not a field of {cls.__name__}; "
                              f"{did_you_mean(key, hints)}fields: {', '.join(hints)}")
    if missing := [name for name in required_fields(cls) if name not in value]:
        raise ConfigError(f"{path}: {cls.__name__} requires the field {missing[0]}, which "
                          f"the dict {value!r:.60} leaves out; fields: {', '.join(hints)}")
    try:
        for key, item in value.items():
            if check is not None:
                check(f"{path}.{key}", item, hints[key], f"{cls.__name__}.{key}")
    except ConfigError as err:
        if not (note := _none_fits(path, value, hint)):
            raise
        raise ConfigError(f"{err}{note}") from None
    return True


def _none_fits(path: str, value: Mapping[str, Any], hint: Any) -> str:
    """For a mapping whose keys more than one class of a ``Union`` of dataclasses takes,
    and none its values (its check against the first refused it): each of them, as
    LightningCLI tries each (was: the first's refusal alone, "expected int (the annotation
    of NetConfig.hidden)", as if the argument were a ``NetConfig``); else ``""``."""
    taking = [cls for cls in dataclasses_in(hint) if takes(cls, value)]
    if len(taking) < 2:
        return ""
    return (f"; {path}: the dict {value!r:.60} builds none of the dataclasses {path} is "
            f"annotated with (LightningCLI builds the first whose fields take its keys and "
            f"values): {each_class(dataclasses_in(hint))}")


def takes(cls: type, value: Mapping[str, Any],
          fits: Callable[[Any, Any], bool] | None = None) -> bool:
    """Whether the dataclass ``cls``'s fields take the mapping ``value``'s keys (its
    required fields given) and, with ``fits`` (``fits(item, annotation)``), each of its
    values.

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class A:
        ...     x: int = 1
        >>> takes(A, {"x": "a"}), takes(A, {"x": "a"}, lambda item, hint: isinstance(item, hint))
        (True, False)
    """
    hints = field_hints(cls)
    return set(value) <= set(hints) and set(required_fields(cls)) <= set(value) and (
        fits is None or all(fits(item, hints[key]) for key, item in value.items()))


def dataclass_for(hint: Any, value: Mapping[str, Any],
                  fits: Callable[[Any, Any], bool] | None = None) -> type | None:
    """The dataclass the mapping ``value`` for the annotation ``hint`` builds:
    ``dataclass_of``'s; of a ``Union`` of several, the first whose fields take its keys (its
    required fields given), as LightningCLI builds it and ``to_dataclass`` in ``convert``;
    None where none does (was: the first, so ``{"width": 5}`` for ``NetConfig | Wide`` was
    refused as no field of ``NetConfig``). With ``fits`` (``convert.fits``), the first of
    those whose fields take its values too, as LightningCLI tries the next class where a
    value does not fit one (was: ``{"hidden": "wide"}`` for ``NetConfig | Named`` was
    checked against ``NetConfig``, refused); where none does, the first that takes its
    keys (its checks say which value does not fit)."""
    classes = dataclasses_in(hint)
    if len(classes) < 2:
        return dataclass_of(hint)
    taking = [cls for cls in classes if takes(cls, value)]
    return next((cls for cls in taking if fits is not None and takes(cls, value, fits)),
                taking[0] if taking else None)


def _taker(path: str, value: Mapping[str, Any], hint: Any,
           fits: Callable[[Any, Any], bool] | None = None) -> type | None:
    """``dataclass_for``, refused where a ``Union`` of dataclasses has none that takes
    ``value``, naming ``path`` and each class with its fields."""
    if (cls := dataclass_for(hint, value, fits)) is not None or len(
            classes := dataclasses_in(hint)) < 2:
        return cls
    raise ConfigError(f"{path}: the dict {value!r:.60} builds none of the dataclasses {path} "
                      f"is annotated with (LightningCLI builds the first whose fields take "
                      f"its keys): {each_class(classes)}")


def each_class(classes: list[type]) -> str:
    """Each of ``classes`` with its fields (and its required ones), as a refusal names
    them."""
    def named(cls: type) -> str:
        needed = required_fields(cls)
        return (f"{cls.__name__} (fields: {', '.join(field_hints(cls))}"
                f"{', required: ' + ', '.join(needed) if needed else ''})")

    return "; ".join(map(named, classes))


def dataclasses_in(hint: Any) -> list[type]:
    """The dataclasses an annotation takes, in its order (a ``Union``'s each)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return [cls for arg in typing.get_args(hint) for cls in dataclasses_in(arg)]
    return [hint] if inspect.isclass(hint) and dataclasses.is_dataclass(hint) else []


def changed_fields(value: Any) -> dict[str, Any] | None:
    """A dataclass instance's fields whose values are not their defaults (what a dict of the
    dataclass must give to be the same), or None for another value."""
    if not is_instance(value):
        return None
    own = own_defaults(type(value))
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init
            and (f.name not in own or getattr(value, f.name) != own[f.name])}


def own_defaults(cls: type) -> dict[str, Any]:
    """The defaults of the fields a dataclass's ``__init__`` takes, by name (a
    ``default_factory``'s made anew; a field without a default left out)."""
    return {f.name: f.default if f.default_factory is dataclasses.MISSING
            else f.default_factory() for f in dataclasses.fields(cls) if f.init and (
                f.default is not dataclasses.MISSING
                or f.default_factory is not dataclasses.MISSING)}


def no_dict(value: Any, hint: Any, written: bool = False) -> bool:
    """Whether ``value`` is a plain dict given for a ``torch.nn.Module`` or ``torch.Tensor``
    annotation, which no dict is: no ``class_path`` node, but in a Hydra node's arguments
    (``written``), where Hydra passes one as data (was: taken there)."""
    if not isinstance(value, Mapping) or builds_at(value, written) or not inspect.isclass(hint):
        return False
    import torch  # (only where a dict meets a class annotation)

    return issubclass(hint, torch.nn.Module | torch.Tensor)


def dict_note(value: Any, hint: Any, path: str, written: bool = False) -> str:
    """For ``no_dict`` (of a ``Union``'s class too): how the arguments of the network at
    ``path`` are searched instead; else ``""``."""
    kind = next((k for k in kinds_of(hint) if no_dict(value, k, written)), None)
    if kind is None:
        return ""
    if written and is_node(value):
        return (f"; a dict is no {kind.__name__}: Hydra passes a class_path mapping in a "
                f"_target_ node's arguments as it is (a DictConfig); write a _target_ node, "
                f"{{'_target_': 'pkg.MyNet', ...}}, which Hydra builds")
    return (f"; a dict is no {kind.__name__}: search its arguments in a class_path node, "
            f"{{'class_path': Fixed('pkg.MyNet'), 'init_args': {{...}}}}, which each trial "
            f"builds, with a builder arch -> LightningModule, or from a config "
            f"({path}.<argument>)")


def kinds_of(hint: Any) -> tuple[Any, ...]:
    """A ``Union``'s types, or the annotation alone."""
    return typing.get_args(hint) if typing.get_origin(hint) in (
        typing.Union, types.UnionType) else (hint,)


def mapping_of(hint: Any) -> Any | None:
    """The value annotation of a mapping annotation (``dict[str, int]``: ``int``; a bare
    ``dict``: ``Any``), the first one of a ``Union`` (``Optional[dict]``); None for another.

    Example:
        >>> mapping_of(dict[str, int]), mapping_of(int)
        (<class 'int'>, None)
    """
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        found = (mapping_of(arg) for arg in typing.get_args(hint) if arg is not type(None))
        return next((inner for inner in found if inner is not None), None)
    kind = origin or hint
    if not (inspect.isclass(kind) and issubclass(kind, Mapping)):
        return None
    args = typing.get_args(hint)
    return args[1] if len(args) == 2 else Any


def is_instance(value: Any) -> bool:
    """Whether ``value`` is a dataclass instance (not a dataclass)."""
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def is_instances(value: Any) -> bool:
    """Whether ``value`` is a non-empty mapping of dataclass instances (``{"a": Net()}``, a
    ``dict[str, Net]`` argument's value given from Python).

    Example:
        >>> Net = dataclasses.make_dataclass("Net", [("x", int, 0)])
        >>> is_instances({"a": Net()}), is_instances({"a": {"x": 1}}), is_instances({})
        (True, False, False)
    """
    return isinstance(value, Mapping) and bool(value) and all(map(is_instance, value.values()))


def holds_instances(value: Any) -> bool:
    """Whether ``value`` is a mapping of dataclass instances, or of them and plain data
    (``{"a": NetConfig(), "b": {"hidden": 6}}``), one instance at least.

    Example:
        >>> Net = dataclasses.make_dataclass("Net", [("x", int, 0)])
        >>> holds_instances({"a": Net(), "b": {"x": 1}}), holds_instances({"a": {"x": 1}})
        (True, False)
    """
    return is_instances(value) or isinstance(value, Mapping) and any(
        map(is_instance, value.values())) and all(
        is_instance(item) or is_plain(item) for item in value.values())


def init_fields(value: Any) -> Any:
    """``dataclasses.asdict`` of ``value`` less the ``field(init=False)`` fields (a nested
    dataclass's too), which the dataclass's ``__init__`` does not take (was: copied, so the
    dataclass built from the dict failed: ``unexpected keyword``); other values copied.

    Example:
        >>> @dataclasses.dataclass
        ... class Sq:
        ...     x: int = 2
        ...     sq: int = dataclasses.field(init=False, default=4)
        >>> init_fields([Sq()])
        [{'x': 2}]
    """
    if is_instance(value):
        return {f.name: init_fields(getattr(value, f.name))
                for f in dataclasses.fields(value) if f.init}
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):  # (a namedtuple:
        return type(value)(map(init_fields, value))  # copied whole)
    if isinstance(value, dict):  # (a plain dict: a defaultdict's factory is no field)
        return {key: init_fields(item) for key, item in value.items()}
    return copy.deepcopy(value)
