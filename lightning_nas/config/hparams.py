"""Build a config section the way LightningCLI builds it, so that what the module's
``save_hyperparameters()`` keeps is the section's config, not the objects built from it.

A ``class_path`` section whose ``init_args`` hold objects (``net: {class_path: ...}``, an
``OptimizerCallable``) is built as LightningCLI builds it: the nested objects first, then
the class, with Lightning's given-hyperparameters context set to the section's config and
``lightning.pytorch.cli.instantiate_module`` as the instantiator. A checkpoint of the module
then holds the config (``net: {class_path, init_args}``), and
``MyModule.load_from_checkpoint(path)`` rebuilds it, as a LightningCLI checkpoint does
(``instantiate_module`` needs jsonargparse, which LightningCLI needs too). A section of plain
values that jsonargparse would convert (an ``Enum`` member's name, a ``Path``, a ``tuple``:
``convert_args``; an int for a ``float``) is built the same way, so the checkpoint keeps the
config's values, as LightningCLI's does (an int for a ``float`` kept as the float, 1.0, as
jsonargparse's config has it). So is a section whose arguments left out have objects
for defaults that LightningCLI's config writes as config (a class, an ``Enum`` member, a
``Path``, a dataclass instance): its checkpoint holds that config and loads
``weights_only``, as LightningCLI's does. Other sections of plain values, Hydra nodes, or
without jsonargparse are built as they are; ``build_class`` builds a class from its
arguments as a section.
``written_floats`` writes a config's values so too: each int that a ``class_path`` node's
class gets as a float, written as the float, as LightningCLI's saved config has it.

Example:
    >>> section = {"class_path": "datetime.timedelta", "init_args": {"seconds": 3}}
    >>> lightningcli_hparams(section) is None  # plain values: built as it is
    True
    >>> build_section(section, "model").seconds
    3
"""

from __future__ import annotations

import copy
import enum
import importlib.util
import inspect
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from lightning_nas.arch import is_plain
from lightning_nas.config.chain import kwargs_chain
from lightning_nas.config.convert import convert_args, converted
from lightning_nas.config.imports import written_path
from lightning_nas.config.instantiate import call, import_object, instantiate, object_path
from lightning_nas.config.nodes import ARGS_KEYS, contains_node, is_hydra, is_node, node_args
from lightning_nas.config.record_defaults import over_defaults, over_fields
from lightning_nas.config.records import init_fields, is_instance
from lightning_nas.errors import ConfigError

try:  # where Lightning 2.x keeps LightningCLI's hook into save_hyperparameters
    from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters_context
except ImportError:  # pragma: no cover - a Lightning without it: objects saved as found
    _given_hyperparameters_context = None

__all__ = ["CLI_INSTANTIATOR", "build_class", "build_section", "lightningcli_hparams",
           "written_floats"]

#: what ``load_from_checkpoint`` calls to rebuild a module from its saved config
CLI_INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"


def lightningcli_hparams(section: Mapping[str, Any]) -> dict[str, Any] | None:
    """The hyperparameters LightningCLI gives the class of a ``class_path`` section whose
    ``init_args`` hold objects, or values its annotations convert (``_class_path`` and the
    arguments, as the config has them); ``None`` for any other section, or without
    jsonargparse or Lightning's context."""
    if (_given_hyperparameters_context is None or not is_node(section) or is_hydra(section)
            or section.get("_partial_") or importlib.util.find_spec("jsonargparse") is None):
        return None
    args = node_args(section)
    try:
        target = import_object(section["class_path"])
    except ConfigError:  # said by instantiate, with where the section is
        return None
    if not contains_node(args) and not converted(target, args) \
            and not _object_defaults(target, args):
        return None
    built = convert_args(target, args)  # an int for a float: the float, as LightningCLI's
    args = {key: _as_built(_floats(value, built[key]), built[key])  # (was: 1)
            for key, value in args.items()}
    return {"_class_path": section["class_path"], **_defaults(target),  # a dataclass's mapping
            **copy.deepcopy(over_defaults(target, args))}  # over its default, as built


def _floats(value: Any, built: Any) -> Any:
    """``value`` as config, each int that ``built`` (its conversion) has as a float made
    that float, as jsonargparse's config has it (``rate: 1`` for a ``float``: 1.0), and each
    text it reads as a number or a bool that number (``'3'`` for an ``int``, for an ``int |
    str`` too, whose types it tries in order: 3; was: ``'3'``); the rest as given (an
    ``Enum``'s name, a class path, a node).

    Example:
        >>> _floats({"lr": 1, "act": "relu", "n": "2"}, {"lr": 1.0, "act": object(), "n": 2})
        {'lr': 1.0, 'act': 'relu', 'n': 2}
    """
    if type(value) is int and type(built) is float or isinstance(value, str) and type(
            built) in (int, float, bool):
        return built
    if is_node(value):  # a nested node: by its own class (was: as given)
        return written_floats(value)
    if isinstance(value, Mapping):
        def field(key: Any) -> Any:
            if isinstance(built, Mapping):
                return built.get(key)
            return getattr(built, key, None) if isinstance(key, str) else None  # a dataclass
        return {key: _floats(item, field(key)) for key, item in value.items()}
    if isinstance(value, list) and isinstance(built, (list, tuple)) and len(built) == len(value):
        return [_floats(item, made) for item, made in zip(value, built, strict=True)]
    return value


def _as_built(value: Any, built: Any) -> Any:
    """``value``, a mapping a dataclass was ``built`` from, as LightningCLI's config has it:
    each field of the dataclass built (its class's own defaults where the mapping leaves
    them out, as a ``Union`` of dataclasses builds it), the mapping's values over them, so
    ``load_from_checkpoint`` builds the same class again (was: the mapping alone, built over
    the argument's signature default: ``{hidden: 3}`` for ``NetConfig | Named = NetConfig(
    depth=3)`` gave ``depth=3`` where the trial had 1, or no class at all); each value of a
    dict of dataclasses so, as LightningCLI's has it (was: the mapping alone); another value, or
    fields that are no plain config (an ``Enum`` member): ``value`` as it is.

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Net:
        ...     hidden: int = 8
        ...     depth: int = 1
        >>> _as_built({"hidden": 4}, Net(hidden=4))
        {'hidden': 4, 'depth': 1}
        >>> _as_built({"a": {}}, {"a": Net()})
        {'a': {'hidden': 8, 'depth': 1}}
    """
    if isinstance(built, dict) and isinstance(value, Mapping) and not is_node(value) \
            and set(value) == set(built):  # a dict of dataclasses: each (was: as given)
        return {key: _as_built(item, built[key]) for key, item in value.items()}
    full = over_fields(built, value)
    return full if is_plain(full) else value


def written_floats(spec: Any) -> Any:
    """``spec`` (a config's section, node, list or value) as the config to write of it: in
    each ``class_path`` node, each int its class gets as a float (``rate: 1`` for a
    ``float``, an ``Optional[float]``, a dataclass's ``float`` field, a ``list[float]``)
    written as that float, as LightningCLI's saved config (``config.yaml``) writes it and as
    a trial builds it (``convert_args``; was: ``rate: 1``); nested nodes too. The rest as
    given: a Hydra node (Hydra passes its values as written), a class that does not
    import, keys no annotation converts.

    Example:
        >>> written_floats([{"class_path": "torch.nn.Dropout", "init_args": {"p": 0}}])
        [{'class_path': 'torch.nn.Dropout', 'init_args': {'p': 0.0}}]
    """
    if isinstance(spec, list):
        return [written_floats(item) for item in spec]
    if isinstance(spec, Mapping) and not is_node(spec):
        return {key: written_floats(item) for key, item in spec.items()}
    if not is_node(spec) or is_hydra(spec) or not isinstance(spec.get("class_path"), str):
        return spec
    out = dict(spec)
    try:
        target = import_object(spec["class_path"])
        for key in ARGS_KEYS:
            if isinstance(args := spec.get(key), Mapping):
                built = convert_args(target, args)
                out[key] = {name: _floats(item, built[name]) for name, item in args.items()}
    except Exception:  # noqa: BLE001 - a user's module may raise anything: written as given
        return spec  # (where the node is built, its error is said)
    return out


def _defaults(target: Any) -> dict[str, Any]:
    """The defaults of ``target``'s arguments as config, as LightningCLI's config has them
    (so ``self.hparams.name`` of an argument left out works): each as ``_as_config`` writes
    it; others (objects) are left out. A base's arguments that ``**kwargs`` passes on
    (``kwargs_chain``) are there too, as jsonargparse finds them (was: left out, so a base
    reading ``self.hparams.lr`` failed)."""
    out: dict[str, Any] = {}
    for name, default in _signature_defaults(target):
        written = _as_config(default)
        if written is not _NO_CONFIG:
            out[name] = written
    return out


def _object_defaults(target: Any, args: Mapping[str, Any]) -> bool:
    """Whether an argument ``args`` leaves out has an object for its default that
    ``_as_config`` writes as config (a class, an ``Enum`` member, a ``Path``, a dataclass
    instance): LightningCLI's hyperparameters hold the text, so its checkpoint loads
    ``weights_only`` (was: the section built as it is, the objects kept, and
    ``load_from_checkpoint`` failed: "Weights only load failed ... GLOBAL
    torch.nn.modules.activation.ReLU")."""
    return any(name not in args and not is_plain(default)
               and _as_config(default) is not _NO_CONFIG
               for name, default in _signature_defaults(target))


def _signature_defaults(target: Any) -> list[tuple[str, Any]]:
    """``(name, default)`` of each argument of ``target`` with a default, its bases' that
    ``**kwargs`` passes on too (``kwargs_chain``), the first of a name kept."""
    out: dict[str, Any] = {}
    for init in kwargs_chain(target):
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        for p in parameters:
            if p.default is not inspect.Parameter.empty and p.name not in out \
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                out[p.name] = p.default
    return list(out.items())


#: ``_as_config``'s answer for an object with no config form
_NO_CONFIG = object()


def _as_config(value: Any) -> Any:
    """``value``, a default, as LightningCLI's config writes it: plain values as they are, a
    class or function as its import path, an ``Enum`` member as its name, a path as text, a
    dataclass instance as its fields (``init_fields``; plain values only); ``_NO_CONFIG`` for
    other objects.

    Example:
        >>> from pathlib import PurePosixPath
        >>> _as_config(PurePosixPath("data")), _as_config(int), _as_config(object()) is _NO_CONFIG
        ('data', 'builtins.int', True)
    """
    if is_plain(value):
        return copy.deepcopy(value)
    if (inspect.isclass(value) or inspect.isfunction(value)) and written_path(value) is not None:
        return written_path(value)  # torch.nn.ReLU, as jsonargparse writes it (was:
        # torch.nn.modules.activation.ReLU)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, PurePath):
        return str(value)
    if is_instance(value) and is_plain(fields := init_fields(value)):
        return fields  # (was: the instance kept, which a weights_only load refuses)
    return _NO_CONFIG


def build_section(section: Mapping[str, Any], name: str) -> Any:
    """``instantiate(section)``; a section ``lightningcli_hparams`` gives hyperparameters is
    built as LightningCLI builds it (nested objects first, then the class in the context).

    Args:
        section: the config section with the architecture's values set.
        name: ``"model"`` or ``"data"`` (where errors point).
    """
    hparams = lightningcli_hparams(section)
    if hparams is None:
        return instantiate(section, name)
    build = instantiate({**section, "_partial_": True}, name)  # the nested objects, built
    with _given_hyperparameters_context(hparams=hparams, instantiator=CLI_INSTANTIATOR):
        return call(build, [], {}, name)  # its errors as instantiate's


def build_class(target: Any, kwargs: Mapping[str, Any], name: str) -> Any:
    """``target(**kwargs)``, the values converted to the annotations as jsonargparse converts
    them (``convert_args``); when one is converted, or is a ``class_path`` node, and all are
    plain, the class is built as the section ``{class_path, init_args: kwargs}``
    (``build_section``), so what its ``save_hyperparameters()`` keeps is the values as given,
    as with LightningCLI; a node beside objects, or a Hydra ``_target_`` node (the objects
    saved, as Hydra's), is built as the section's would be.

    Args:
        target: a class or a function.
        kwargs: its keyword arguments.
        name: ``"model"`` or ``"data"`` (where errors point).
    """
    args = convert_args(target, kwargs)  # once: a trial builds its model through here
    path = object_path(target) if inspect.isclass(target) else None
    nodes = {key: value for key, value in kwargs.items() if is_node(value)}
    hydra = any(map(is_hydra, nodes.values()))  # its objects kept as hyperparameters, as Hydra
    if path is not None and is_plain(dict(kwargs)) and not hydra and (contains_node(kwargs) or any(
            args[key] is not kwargs[key] for key in kwargs)):
        return build_section({"class_path": path, "init_args": dict(kwargs)}, name)
    if path is not None and nodes:  # beside objects: built as a config's nodes (was: passed
        # as dicts unless another value was converted), the objects passed as they are
        build = instantiate({"class_path": path, "init_args": nodes, "_partial_": True}, name)
        return call(build, [], {k: v for k, v in args.items() if k not in nodes}, name)
    return target(**args)
