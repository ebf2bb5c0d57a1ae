"""The public Python API as tests read it: the modules whose ``__all__`` is public, the
names of submodules the README's Python sections use, and every public callable by name.

Example:
    >>> public()["Search"].__name__
    'Search'
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["EXTRA", "PUBLIC_MODULES", "public"]

#: modules whose ``__all__`` is public API
PUBLIC_MODULES = ("lightning_nas", "lightning_nas.search", "lightning_nas.oneshot",
                  "lightning_nas.space", "lightning_nas.strategies")
#: public names of submodules the README's Python sections use (``module:name``)
EXTRA = ("lightning_nas.fit:fit_config", "lightning_nas.export:best_config",
         "lightning_nas.oneshot.run:run_oneshot", "lightning_nas.search.schedulers:MedianRule",
         "lightning_nas.search.schedulers:ASHARule",
         "lightning_nas.search.schedulers:HyperbandRule",
         "lightning_nas.benchmarks.nb201:NB201")


def public() -> dict[str, Any]:
    """Every public name -> its object (the first name an object is exported under)."""
    found: dict[str, Any] = {}
    for module in PUBLIC_MODULES:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            found.setdefault(name, getattr(mod, name))
    for spec in EXTRA:
        module, name = spec.split(":")
        found.setdefault(name, getattr(importlib.import_module(module), name))
    return {name: obj for name, obj in found.items() if callable(obj)}
