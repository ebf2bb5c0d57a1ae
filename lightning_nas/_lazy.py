"""Lazy exports for package ``__init__`` modules (PEP 562): a name is imported from its
module on first use, so ``import lightning_nas.store`` (the read-only commands) never pays
for torch or Lightning.

Example:
    >>> getattr_, dir_ = lazy_exports("demo", {"OrderedDict": "collections"})
    >>> getattr_("OrderedDict").__name__
    'OrderedDict'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose names live in ``exports``
    (name -> module path)."""

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
