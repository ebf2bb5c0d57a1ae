"""Turn what users write (classes, import paths, LightningCLI ``class_path`` specs,
callables) into models, data modules and Trainers, with checks made before training.

Example:
    >>> import_object("collections.OrderedDict").__name__
    'OrderedDict'
    >>> instantiate({"class_path": "datetime.timedelta", "init_args": {"seconds": 3}}).seconds
    3
"""

from __future__ import annotations

import collections.abc
import copy
import difflib
import functools
import importlib
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

import lightning.pytorch as pl

__all__ = [
    "ConfigError",
    "DataFactory",
    "ModelFactory",
    "check_trainer_kwargs",
    "import_object",
    "instantiate",
    "object_path",
]


class ConfigError(ValueError):
    """A setting is wrong; the message names it and lists what is valid."""


def import_object(path: str) -> Any:
    """Import ``"package.module.Name"`` (or ``"package.module:Name"``).

    Raises:
        ConfigError: when the module or the name cannot be found.
    """
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"expected an import path like 'package.module.Class', got {path!r}")
    module_name, _, attr = path.replace(":", ".").rpartition(".")
    if not module_name:
        raise ConfigError(f"import path {path!r} needs a module part, e.g. 'mypkg.models.{path}'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"cannot import module {module_name!r} of {path!r}: {err}") from err
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, names, n=3)
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise ConfigError(f"module {module_name!r} has no attribute {attr!r}{hint}") from None


def object_path(obj: Any) -> str | None:
    """The import path of a module-level class or function, or None if it has none."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not module or "<" in qualname or module == "__main__":
        return None
    try:
        return f"{module}.{qualname}" if import_object(f"{module}.{qualname}") is obj else None
    except ConfigError:
        return None


def instantiate(spec: Any) -> Any:
    """Build LightningCLI-style ``{class_path, init_args}`` specs, recursively.

    Lists and mappings are walked; other values are returned deep-copied, so every trial
    gets fresh callback and logger objects.
    """
    if isinstance(spec, Mapping) and "class_path" in spec:
        extra = sorted(set(spec) - {"class_path", "init_args"})
        if extra:
            raise ConfigError(f"unknown key(s) {extra} beside class_path {spec['class_path']!r}; "
                              f"valid keys: class_path, init_args")
        cls = import_object(spec["class_path"])
        kwargs = {}
        for key, value in dict(spec.get("init_args") or {}).items():
            if _wants_callable(cls, key) and isinstance(value, Mapping) and "class_path" in value:
                # like jsonargparse for a Callable-typed argument (LightningCLI's
                # OptimizerCallable): the class with its init_args, called later
                inner = {k: instantiate(v) for k, v in dict(value.get("init_args") or {}).items()}
                kwargs[key] = functools.partial(import_object(value["class_path"]), **inner)
            else:
                kwargs[key] = instantiate(value)
        return cls(**kwargs)
    if isinstance(spec, Mapping):
        return {k: instantiate(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [instantiate(v) for v in spec]
    return copy.deepcopy(spec)


def _wants_callable(cls: type, name: str) -> bool:
    """Whether ``cls.__init__`` annotates argument ``name`` as a Callable."""
    try:
        hint = typing.get_type_hints(cls.__init__).get(name)
    except Exception:  # noqa: BLE001 - unresolvable annotations: assume an object
        return False
    if hint is None:
        return False
    origins = {typing.get_origin(hint), *(typing.get_origin(a) for a in typing.get_args(hint))}
    return bool(origins & {collections.abc.Callable}) or hint is collections.abc.Callable


def _accepted_kwargs(fn: Callable[..., Any]) -> tuple[list[str], bool]:
    params = list(inspect.signature(fn).parameters.values())
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and p.name != "self"]
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def check_trainer_kwargs(kwargs: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` for keys that ``lightning.pytorch.Trainer`` does not take."""
    names, _ = _accepted_kwargs(pl.Trainer.__init__)
    for key in kwargs:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ConfigError(f"unknown Trainer argument {key!r}; {hint}valid arguments: "
                              f"{', '.join(sorted(names))}")


class ModelFactory:
    """Builds the user's LightningModule for an architecture.

    Args:
        model: a ``LightningModule`` subclass (or its import path) whose ``__init__`` takes
            the space's top-level keys as keyword arguments, or a callable
            ``arch -> LightningModule`` (or its import path).
        init_args: fixed keyword arguments passed with the architecture (classes only).

    Example:
        >>> from lightning.pytorch.demos.boring_classes import BoringModel
        >>> ModelFactory(BoringModel).build({}).__class__.__name__
        'BoringModel'
    """

    def __init__(self, model: type[pl.LightningModule] | Callable[..., pl.LightningModule] | str,
                 init_args: Mapping[str, Any] | None = None) -> None:
        self.target = import_object(model) if isinstance(model, str) else model
        self.init_args = dict(init_args or {})
        self.is_class = inspect.isclass(self.target)
        if self.is_class and not issubclass(self.target, pl.LightningModule):
            raise ConfigError(f"model {self.target.__name__} is a class but not a "
                              f"lightning.pytorch.LightningModule")
        if not self.is_class and not callable(self.target):
            raise ConfigError(f"model must be a LightningModule class, a callable arch -> "
                              f"LightningModule, or an import path; got {model!r}")
        if not self.is_class and self.init_args:
            raise ConfigError("model init_args are only supported for LightningModule classes; "
                              "a builder callable receives the architecture dict only")
        self.path = model if isinstance(model, str) else object_path(self.target)

    @property
    def name(self) -> str:
        """Readable name of the model target."""
        return getattr(self.target, "__qualname__", repr(self.target))

    def check(self, names: list[str]) -> None:
        """Raise ``ConfigError`` if the model's ``__init__`` cannot take these keys."""
        if not self.is_class:
            return
        accepted, var_kw = _accepted_kwargs(self.target.__init__)
        if var_kw:
            return
        for kind, keys in (("space key", names), ("model init_args key", self.init_args)):
            for key in keys:
                if key not in accepted:
                    close = difflib.get_close_matches(key, accepted, n=1)
                    hint = f"did you mean '{close[0]}'? " if close else ""
                    raise ConfigError(f"{kind} {key!r} is not an argument of {self.name}."
                                      f"__init__; {hint}accepted: {', '.join(accepted)}")

    def build(self, arch: Mapping[str, Any]) -> pl.LightningModule:
        """A new model for ``arch``."""
        if self.is_class:
            return self.target(**{**self.init_args, **arch})
        model = self.target(dict(arch))
        if not isinstance(model, pl.LightningModule):
            raise TypeError(f"model builder {self.name} returned {type(model).__name__}, "
                            f"expected a LightningModule")
        return model


class DataFactory:
    """Builds the data for a trial: nothing, a DataModule, or dataloaders.

    Args:
        data: ``None`` (the model has its own dataloaders), a ``LightningDataModule``
            instance (reused by every trial), its class or import path (a fresh one per
            trial, built with ``init_args``).
        init_args: keyword arguments for a class.
    """

    def __init__(self, data: Any = None, init_args: Mapping[str, Any] | None = None) -> None:
        self.target = import_object(data) if isinstance(data, str) else data
        self.init_args = dict(init_args or {})
        self.path = data if isinstance(data, str) else (
            object_path(data) if inspect.isclass(data) else None)
        if inspect.isclass(self.target) and not issubclass(self.target, pl.LightningDataModule):
            raise ConfigError(f"data {self.target.__name__} is not a LightningDataModule")
        if not inspect.isclass(self.target) and self.init_args:
            raise ConfigError("data init_args need a LightningDataModule class or import path")

    def build(self, arch: Mapping[str, Any] | None = None) -> pl.LightningDataModule | None:
        """The DataModule for one trial (``None`` if the model brings its own loaders); a
        config-built data section (``ConfigBuilder``) receives the architecture."""
        if inspect.isclass(self.target):
            return self.target(**self.init_args)
        if callable(self.target) and not isinstance(self.target, pl.LightningDataModule):
            return self.target(dict(arch or {}))
        return self.target
