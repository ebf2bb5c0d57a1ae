"""Import what a config names: ``import_object`` takes an import path (``package.module.Name``
or ``package.module:Name``; a class name alone is looked up where LightningCLI finds
Lightning's callbacks and loggers and torch's optimizers, ``SHORT_NAME_MODULES``), and
``object_path`` gives an object's path back; ``written_path`` the one LightningCLI
(jsonargparse) writes in its config, the shortest it imports from.

Example:
    >>> import_object("collections.OrderedDict").__name__
    'OrderedDict'
    >>> object_path(import_object("collections:OrderedDict"))
    'collections.OrderedDict'
    >>> import torch
    >>> object_path(torch.nn.ReLU), written_path(torch.nn.ReLU)
    ('torch.nn.modules.activation.ReLU', 'torch.nn.ReLU')
    >>> import_object("collections.OrderdDict")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: module 'collections' has no attribute ... OrderedDict, ...
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import json
import os
from typing import Any

from lightning_nas.errors import ConfigError

__all__ = ["SHORT_NAME_MODULES", "import_object", "object_path", "written_path"]


#: where a class given by its name alone is found, as LightningCLI finds Lightning's
#: callbacks and loggers and torch's optimizers and schedulers (``class_path: EarlyStopping``)
SHORT_NAME_MODULES = ("lightning.pytorch.callbacks", "lightning.pytorch.loggers", "torch.optim",
                      "torch.optim.lr_scheduler")


def import_object(path: str) -> Any:
    """Import ``"package.module.Name"`` (or ``"package.module:Name"``); a class name alone
    is looked up in ``SHORT_NAME_MODULES``.

    Raises:
        ConfigError: when the module or the name cannot be found.
    """
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"expected an import path like 'package.module.Class', got {path!r}")
    module_name, _, attr = path.replace(":", ".").rpartition(".")
    if not module_name:  # a class by its name alone, as LightningCLI takes Lightning's own
        for candidate in SHORT_NAME_MODULES:
            found = getattr(importlib.import_module(candidate), attr, None)
            if inspect.isclass(found):
                return found
        raise ConfigError(f"import path {path!r} needs a module part, e.g. 'mypkg.models.{path}' "
                          f"(a name alone is looked up in {', '.join(SHORT_NAME_MODULES)})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"cannot import module {module_name!r} of {path!r}: {err}"
                          f"{_where_imported(module_name, err)}") from err
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, names, n=3)
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise ConfigError(f"module {module_name!r} has no attribute {attr!r}{hint}") from None


def _where_imported(module_name: str, err: ImportError) -> str:
    """Where class paths are imported from, said when ``module_name``'s top package itself
    is not found (a command run from another folder than the project's), "" when the module
    was found and an import inside it failed (a missing dependency: its own error says it).
    """
    top = module_name.partition(".")[0]
    if not isinstance(err, ModuleNotFoundError) or err.name != top:
        return ""
    return (f"; class paths are imported from the current folder ({os.getcwd()}) and "
            f"PYTHONPATH: run from the folder that holds {top}.py (or the package {top}/), "
            f"or add that folder to PYTHONPATH")


def object_path(obj: Any) -> str | None:
    """The import path of a module-level class or function, or None if it has none."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not module or "<" in qualname or module == "__main__":
        return None
    try:
        return f"{module}.{qualname}" if import_object(f"{module}.{qualname}") is obj else None
    except ConfigError:
        return None


@functools.lru_cache(maxsize=256)
def written_path(obj: Any) -> str | None:
    """The import path LightningCLI writes for the module-level class or function ``obj``
    in its config and its hyperparameters: the shortest one it imports from
    (``torch.nn.ReLU``, not ``torch.nn.modules.activation.ReLU``), as jsonargparse's public
    ``ArgumentParser.dump`` writes it; ``object_path`` without jsonargparse, or where it
    writes none; None where ``obj`` has no import path.

    Example:
        >>> written_path(import_object("collections.OrderedDict"))
        'collections.OrderedDict'
    """
    path = object_path(obj)
    if path is None:
        return None
    try:
        from jsonargparse import ArgumentParser, Namespace

        parser = ArgumentParser(exit_on_error=False)
        parser.add_argument("--value", type=Any)
        written = json.loads(parser.dump(Namespace(value=obj), format="json",
                                         skip_check=True))["value"]
        return written if isinstance(written, str) and import_object(written) is obj else path
    except Exception:  # noqa: BLE001 - no jsonargparse, or it cannot write it: our own path
        return path
