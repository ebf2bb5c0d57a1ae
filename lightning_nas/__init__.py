"""lightning_nas: neural architecture search as a plug-in for PyTorch Lightning 2.x.

The public API is below; everything else is importable from its subpackage (``search``,
``strategies``, ``oneshot``, ``config``, ``report``, ``benchmarks``) or module (``store``,
``errors``, ``arch``). Names load on first use, so the read-only commands (``lightning-nas
show``) import neither torch nor Lightning.

Example:
    >>> from lightning_nas import Search, SearchSpace
    >>> space = SearchSpace.from_yaml("num_layers: {choice: [2, 3, 4]}")
    >>> space.size()
    3
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lightning_nas._lazy import lazy_exports

if TYPE_CHECKING:
    from lightning_nas.errors import NASError
    from lightning_nas.export import export_best, load_best
    from lightning_nas.finetune_run import finetune
    from lightning_nas.module import NASModule
    from lightning_nas.oneshot.callback import OneShotNAS
    from lightning_nas.search.facade import Search
    from lightning_nas.search.pruning import PruningCallback
    from lightning_nas.search.search_result import SearchResult
    from lightning_nas.search.settings import SearchSettings
    from lightning_nas.space import Choice, Fixed, Float, Int, Ordered, SearchSpace

_EXPORTS = {
    "Search": "lightning_nas.search.facade",
    "SearchResult": "lightning_nas.search.search_result",
    "SearchSettings": "lightning_nas.search.settings",
    "SearchSpace": "lightning_nas.space",
    "Choice": "lightning_nas.space",
    "Ordered": "lightning_nas.space",
    "Int": "lightning_nas.space",
    "Float": "lightning_nas.space",
    "Fixed": "lightning_nas.space",
    "NASModule": "lightning_nas.module",
    "OneShotNAS": "lightning_nas.oneshot.callback",
    "PruningCallback": "lightning_nas.search.pruning",
    "export_best": "lightning_nas.export",
    "load_best": "lightning_nas.export",
    "finetune": "lightning_nas.finetune_run",
    "NASError": "lightning_nas.errors",
}

__all__ = [
    "Choice",
    "Fixed",
    "Float",
    "Int",
    "NASError",
    "NASModule",
    "OneShotNAS",
    "Ordered",
    "PruningCallback",
    "Search",
    "SearchResult",
    "SearchSettings",
    "SearchSpace",
    "export_best",
    "finetune",
    "load_best",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__version__ = "0.1.0"
