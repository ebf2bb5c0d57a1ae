"""Build objects from what users write: import paths and LightningCLI ``class_path`` specs.

No Lightning here: these helpers build any class (models, callbacks, loggers, optimizers).

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

from lightning_nas.errors import ConfigError

__all__ = ["accepted_kwargs", "import_object", "instantiate", "object_path"]


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


def accepted_kwargs(fn: Callable[..., Any]) -> tuple[list[str], bool]:
    """The keyword arguments ``fn`` takes (``self`` left out), and whether it takes ``**kwargs``.

    Example:
        >>> accepted_kwargs(lambda a, *, b=1, **rest: None)
        (['a', 'b'], True)
    """
    params = list(inspect.signature(fn).parameters.values())
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and p.name != "self"]
    return names, any(p.kind is p.VAR_KEYWORD for p in params)
