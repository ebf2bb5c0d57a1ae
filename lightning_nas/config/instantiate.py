"""Build objects from what users write: import paths and LightningCLI ``class_path`` specs,
and check what is written against the signatures before anything is built.

No Lightning here: these helpers build any class (models, callbacks, loggers, optimizers).
``check_init_args`` checks the names and values given to a class, as LightningCLI checks a
config; ``blame`` finds the argument whose removal lets a failing build succeed. Import
paths are read by ``config/imports.py`` (``import_object``, ``object_path``), values checked
against annotations by ``config/value_checks.py`` (``matches``, ``check_value``): both
importable from here.

Example:
    >>> import_object("collections.OrderedDict").__name__
    'OrderedDict'
    >>> instantiate({"class_path": "datetime.timedelta", "init_args": {"seconds": 3}}).seconds
    3
    >>> from typing import Optional
    >>> matches("abc", Optional[int]), matches(None, Optional[int]), matches(3, float)
    (False, True, True)
    >>> class Net:
    ...     def __init__(self, depth: int = 1) -> None: ...
    >>> check_init_args(Net, {"depth": "abc"}, "model")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: model.depth='abc': expected int ...
"""

from __future__ import annotations

import collections.abc
import copy
import functools
import inspect
import os
import types
import typing
from collections.abc import Callable, Collection, Mapping
from pathlib import PurePath
from typing import Any

from lightning_nas.config.calls import accepted_kwargs, call
from lightning_nas.config.chain import (
    init_hints,
    init_kwargs,
    kwargs_chain,
    name_hint,
    resolved_args,
)
from lightning_nas.config.convert import (
    class_bound,
    class_node_path,
    convert_args,
    type_bound,
    type_name,
)
from lightning_nas.config.dict_args import is_plain_dict, values_built
from lightning_nas.config.imports import SHORT_NAME_MODULES, import_object, object_path
from lightning_nas.config.node_labels import node_label
from lightning_nas.config.nodes import (
    ARGS_KEYS,
    builds_at,
    check_node_keys,
    dict_kwargs_keys,
    is_hydra,
    is_node,
    node_args,
    target_path,
    with_args,
)
from lightning_nas.config.partial_probe import probe_partial
from lightning_nas.config.record_defaults import over_default, over_defaults
from lightning_nas.config.value_checks import check_value, matches, short
from lightning_nas.errors import ConfigError

__all__ = [
    "SHORT_NAME_MODULES",
    "accepted_kwargs",
    "blame",
    "call",
    "check_init_args",
    "check_value",
    "class_strings_as_nodes",
    "import_object",
    "instantiate",
    "matches",
    "object_path",
    "short",
    "type_name",
]


def instantiate(spec: Any, path: str = "", hydra: bool = False) -> Any:
    """Build ``{class_path, init_args}`` specs and Hydra ``_target_`` nodes, recursively, as
    LightningCLI and Hydra's ``instantiate`` do.

    Lists and mappings are walked; other values are returned deep-copied, so every trial
    gets fresh callback and logger objects. A node of the Trainer's list that a config's
    mapping of named nodes made is said by its name (``node_label``, within
    ``names_said``: ``trainer.callbacks.early_stopping``; was: ``trainer.callbacks[1]``).
    A ``class_path`` spec's values are converted to their arguments' annotations as
    jsonargparse converts them (``convert_args``: an ``Enum`` by name, a ``Path``, a
    ``tuple``); a Hydra node's are passed as written.
    ``_partial_: true`` builds a ``functools.partial``; a ``Callable``-annotated argument
    given as a ``class_path`` spec becomes one too (LightningCLI's ``OptimizerCallable``).

    Args:
        spec: what the config says.
        path: where ``spec`` stands in the config (``model``), for error messages.
        hydra: ``spec`` is in a Hydra node's arguments, where a ``class_path`` mapping is
            data, as Hydra's ``instantiate`` passes it (``builds_at``).

    Raises:
        ConfigError: for a node that cannot be imported or whose keys are wrong, and for a
            target called without a required argument, naming where to set it (``call``).

    Example:
        >>> adam = instantiate({"_target_": "collections.Counter", "_partial_": True, "a": 1})
        >>> adam(b=2)
        Counter({'b': 2, 'a': 1})
    """
    if builds_at(spec, hydra):
        check_node_keys(spec, path or "node")
        try:
            target = import_object(target_path(spec))
        except ConfigError as err:  # say where the node is
            raise ConfigError(f"{path or 'node'}: {err}") from None
        recursive = spec.get("_recursive_", True)
        hints = {} if is_hydra(spec) else init_hints(target)
        kwargs = {}
        for key, value in node_args(spec).items():
            where = f"{path}.{key}" if path else key
            value = class_node_path(value, hints.get(key), where)  # type[...]: the class
            data = not is_hydra(spec) and is_plain_dict(hints.get(key))  # a Hydra node's:
            if data and values_built(hints[key]) and isinstance(value, Mapping):  # built
                kwargs[key] = {k: instantiate(v, f"{where}.{k}") for k, v in value.items()}
            elif not recursive or data:  # a plain dict's mapping: data, as LightningCLI
                kwargs[key] = copy.deepcopy(value)  # passes it (was: its class_path built)
            elif (not is_hydra(spec) and _wants_callable(target, key)
                  and isinstance(value, Mapping) and "class_path" in value):
                # like jsonargparse for a Callable-typed argument (LightningCLI's
                # OptimizerCallable): the class with its init_args, called later
                kwargs[key] = instantiate({**value, "_partial_": True}, where)
            elif is_node(value) and not is_hydra(spec):  # a dataclass's node: over the
                kwargs[key] = instantiate(over_default(target, key, value), where)  # default
            else:
                kwargs[key] = instantiate(value, where, is_hydra(spec))
        if not is_hydra(spec):  # values as the annotations take them, as jsonargparse, a
            # dataclass's mapping over its signature default's fields (was: the dataclass's
            # own defaults); a Hydra node's mapping passed as Hydra's instantiate passes it
            kwargs = convert_args(target, over_defaults(target, kwargs))
        args = [instantiate(a, f"{path}._args_", is_hydra(spec)) if recursive else copy.deepcopy(a)
                for a in spec.get("_args_", [])]
        if spec.get("_partial_"):
            probe_partial(target, args, kwargs, path or "node")  # torch's refused values
            return functools.partial(target, *args, **kwargs)
        return call(target, args, kwargs, path, is_hydra(spec))
    if isinstance(spec, Mapping):
        return {k: instantiate(v, f"{path}.{k}" if path else str(k), hydra)
                for k, v in spec.items()}
    if isinstance(spec, list):
        return [instantiate(v, node_label(path, i), hydra) for i, v in enumerate(spec)]
    return copy.deepcopy(spec)


def class_strings_as_nodes(spec: Any) -> Any:
    """``spec`` with each argument given as a bare import path of a class (``net:
    mymod.MLP``), where its annotation takes no string, written as a ``class_path`` node, as
    jsonargparse reads a LightningCLI config; nested nodes and lists too.

    Example:
        >>> node = {"class_path": "examples.lightningcli.model.LitClassifier",
        ...         "init_args": {"net": "examples.lightningcli.model.MLP"}}
        >>> class_strings_as_nodes(node)["init_args"]["net"]
        {'class_path': 'examples.lightningcli.model.MLP', 'init_args': {}}
    """
    if isinstance(spec, list):
        return [class_strings_as_nodes(item) for item in spec]
    if not is_node(spec) or is_hydra(spec):
        return spec
    if any(not isinstance(spec.get(key) or {}, Mapping) for key in ARGS_KEYS):
        return spec  # kept as given for check_node_keys to name (was: dropped, silently)
    try:
        target = import_object(target_path(spec))
    except ConfigError:  # said where the node is checked
        return spec
    hints = init_hints(target)  # a base's arguments too, passed on through **kwargs
    args = {}
    for key, value in node_args(spec).items():
        if is_node(value) and not node_args(value) and class_bound(hints.get(key)) is not None:
            value = class_node_path(value, hints[key], key)  # as jsonargparse takes it
        if isinstance(value, str) and key in hints and not _takes_str(hints[key]) \
                and not is_plain_dict(hints[key]) and _is_class_path(value):  # (a dict's:
            # kept, refused as no dict, as jsonargparse refuses it; was: made a node)
            value = {"class_path": value}
        args[key] = value if is_plain_dict(hints.get(key)) else class_strings_as_nodes(value)
    return with_args(spec, args)


def _takes_str(hint: Any) -> bool:
    """Whether an argument annotated ``hint`` may be given a string as it is."""
    if hint is Any or hint is inspect.Parameter.empty or hint is str:
        return True
    if type_bound(hint) is not None:  # type[Module]: the path is imported when it is built
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_takes_str(arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return True
    return inspect.isclass(hint) and issubclass(hint, (str, PurePath, os.PathLike))


def _is_class_path(text: str) -> bool:
    if "." not in text or any(c.isspace() for c in text):
        return False
    try:
        return inspect.isclass(import_object(text))
    except Exception:  # noqa: BLE001 - not an importable class: a string, as given
        return False


def _wants_callable(cls: type, name: str) -> bool:
    """Whether ``cls.__init__`` (or a base's that its ``**kwargs`` reaches) annotates
    argument ``name`` as a Callable."""
    hint = init_hints(cls).get(name)
    if hint is None:
        return False
    origins = {typing.get_origin(hint), *(typing.get_origin(a) for a in typing.get_args(hint))}
    return bool(origins & {collections.abc.Callable}) or hint is collections.abc.Callable


def check_init_args(cls: Any, init_args: Mapping[str, Any], where: str,
                    nested: bool = True, dict_kwargs: Collection[str] | None = None,
                    written: bool = False) -> None:
    """Check the names and the values of ``init_args`` against ``cls.__init__`` (``cls`` may
    be a function) and, as jsonargparse, the bases' its ``**kwargs`` passes them on to
    (``init_kwargs``, ``init_hints``); with ``nested``, ``class_path`` specs among them are
    checked the same way (``where.arg.inner``).

    Args:
        dict_kwargs: for a ``class_path`` node, the keys it gives under ``dict_kwargs``
            (taken by the class's own ``**kwargs``); its other keys are refused unless the
            ``kwargs_chain`` takes them, as LightningCLI refuses them in ``init_args``.
            ``None`` (a Python call, a Hydra node): a ``**kwargs`` takes the names of the
            bases it is passed on to whole (``kwargs_chain(forwarded=True)``), else any.
            A ``class_path`` mapping at an argument annotated a plain ``dict`` is data, not
            checked as a node (``is_plain_dict``), but in a Hydra node's (``written``).
        written: the values are passed as written (a Hydra node's): no text is read as a
            number (``check_value``); a nested node's as its own kind says.

    Raises:
        ConfigError: naming the path (``model.net.width``) of an unknown argument, a value of
            the wrong type, or a class that cannot be imported.
    """
    fn = cls.__init__ if inspect.isclass(cls) else cls
    name = f"{getattr(cls, '__name__', repr(cls))}.__init__" if inspect.isclass(cls) else \
        getattr(cls, "__name__", repr(cls))
    names, var_kw = accepted_kwargs(fn)
    bases = ""
    if dict_kwargs is None and inspect.isclass(cls):  # a Python call: along the **kwargs
        # passed on whole to super().__init__, where a misspelt name fails for certain
        names, var_kw = init_kwargs(cls, forwarded=True)
        if len(kwargs_chain(cls, forwarded=True)) > 1:
            bases = " nor of a base its **kwargs passes them on to"
    if dict_kwargs is not None:
        chain, chain_var_kw = _node_kwargs(cls)
    hints = init_hints(cls)  # a base's too, as jsonargparse
    for key, value in init_args.items():
        value = class_node_path(value, hints.get(key), f"{where}.{key}")  # type[...]: a class
        if dict_kwargs is not None:  # a class_path node's mapping, as built (over_default)
            value = over_default(cls, key, value)
        if key not in names and not var_kw:
            raise ConfigError(f"{where}.{key}: not an argument of {name}{bases}; "
                              f"{name_hint(cls, key, names)}accepted: "
                              f"{', '.join(names) or 'none'}")
        if dict_kwargs is not None and key not in dict_kwargs and key not in chain \
                and not chain_var_kw:
            raise ConfigError(f"{where}.{key}: not an argument of {name} nor of a base its "
                              f"**kwargs passes them on to; {name_hint(cls, key, chain)}"
                              f"accepted: {', '.join(chain) or 'none'} (one its own **kwargs takes "
                              f"goes under {where}.dict_kwargs)")
        if nested and builds_at(value, written) and (written or not is_plain_dict(
                hints.get(key))):  # a Hydra node's class_path mapping: data (builds_at)
            kind = "_target_" if is_hydra(value) else "class_path"
            try:
                inner = import_object(target_path(value))
            except ConfigError as err:
                raise ConfigError(f"{where}.{key}.{kind}: {err}") from None
            if callable(inner):
                check_init_args(inner, node_args(value), f"{where}.{key}",
                                dict_kwargs=dict_kwargs_keys(value), written=is_hydra(value))
        elif key in hints:
            check_value(f"{where}.{key}", value, hints[key], name, written=written)


def _node_kwargs(cls: Any) -> tuple[list[str], bool]:
    """The names a ``class_path`` node of ``cls`` takes in ``init_args`` (``init_kwargs``),
    and whether any other name goes there too: not where jsonargparse follows the class's
    ``**kwargs`` to where they are passed (``DDPStrategy``'s to ``DistributedDataParallel``),
    which takes the names it finds there alone, as LightningCLI does (was: any name taken,
    so ``trainer.strategy.init_args.bogus`` failed in the first trial's setup); a
    ``**kwargs`` it does not follow (kept, as ``nn.Identity`` and ``WandbLogger`` keep
    theirs) still takes any."""
    names, var_kw = init_kwargs(cls)
    found = resolved_args(cls) if var_kw and inspect.isclass(cls) else None
    if found is None or set(found) <= set(names):  # not followed: any name, as before
        return names, var_kw
    return [*names, *(name for name in found if name not in names)], False


def blame(attempt: Callable[[dict[str, Any]], BaseException | None], args: Mapping[str, Any],
          where: str) -> tuple[str, Any] | None:
    """The argument at fault when a build fails: the first one of ``args`` whose removal
    lets ``attempt(rest)`` succeed, looking into the arguments of ``class_path`` specs first
    (``model.net.dropout`` rather than ``model.net``).

    Args:
        attempt: builds with the given arguments; returns the error, or None on success.
        args: the arguments that may be left out.
        where: the path of ``args`` (``model``, ``trainer``).

    Returns:
        ``(path, value)``, e.g. ``("model.depth", "abc")``, or None.

    Example:
        >>> def attempt(args):
        ...     return None if args.get("depth", 1) > 0 else ValueError("depth must be > 0")
        >>> blame(attempt, {"width": 8, "depth": -1}, "model")
        ('model.depth', -1)
    """
    for key, value in args.items():
        if is_node(value):  # an argument of a nested object, even a required one's
            def inner(init_args: dict[str, Any], key: str = key, value: Any = value) -> Any:
                return attempt({**args, key: with_args(value, init_args)})
            found = blame(inner, node_args(value), f"{where}.{key}")
            if found is not None:
                return found
        if isinstance(value, list):  # a list of nodes (the Trainer's callbacks): the node,
            found = _blame_item(attempt, args, key, value, f"{where}.{key}")  # by the name
            if found is not None:  # the config gave it (was: the whole list, as built)
                return found
        if attempt({k: v for k, v in args.items() if k != key}) is None:
            return f"{where}.{key}", value
    return None


def _blame_item(attempt: Callable[[dict[str, Any]], BaseException | None],
                args: Mapping[str, Any], key: str, items: list[Any],
                where: str) -> tuple[str, Any] | None:
    """``blame`` within the list ``args[key]``: the node whose argument (else the node) is at
    fault, said by ``node_label`` (``trainer.callbacks.early_stopping.mode``)."""
    for i, item in enumerate(items):
        if not is_node(item):
            continue
        label = node_label(where, i)

        def inner(init_args: dict[str, Any], i: int = i, item: Any = item) -> Any:
            changed = [*items[:i], with_args(item, init_args), *items[i + 1:]]
            return attempt({**args, key: changed})
        found = blame(inner, node_args(item), label)
        if found is not None:
            return found
        if attempt({**args, key: [*items[:i], *items[i + 1:]]}) is None:
            return label, item
    return None
