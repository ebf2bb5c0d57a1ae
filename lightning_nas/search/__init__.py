"""Multi-trial search: the ``Search`` façade and its ``SearchSettings``, the loop of one
invocation (``loop``, ``proposals``), one trial (``trial``, ``runner``: here or in its own
process for DDP), executors (``executor``, ``workers``, ``ray_executor``, ``executors``),
early stopping (``schedulers``, ``scheduler_settings``, ``pruning``, ``callbacks``),
objectives, costs and constraints.

Names load on first use (the report reads ``objectives`` without importing Lightning).

Example:
    >>> from lightning_nas.search import SearchSettings
    >>> SearchSettings.from_options(budget=3).goal.budget
    3
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lightning_nas._lazy import lazy_exports

if TYPE_CHECKING:
    from lightning_nas.search.callbacks import TrialReporter
    from lightning_nas.search.facade import Search
    from lightning_nas.search.from_config import search_from_config
    from lightning_nas.search.pruning import PruningCallback
    from lightning_nas.search.search_result import SearchResult
    from lightning_nas.search.setting_groups import EarlyStopping, Execution, Goal, Limits, Transfer
    from lightning_nas.search.settings import SearchSettings

_EXPORTS = {
    "Search": "lightning_nas.search.facade",
    "SearchResult": "lightning_nas.search.search_result",
    "SearchSettings": "lightning_nas.search.settings",
    "Goal": "lightning_nas.search.setting_groups",
    "Execution": "lightning_nas.search.setting_groups",
    "EarlyStopping": "lightning_nas.search.setting_groups",
    "Limits": "lightning_nas.search.setting_groups",
    "Transfer": "lightning_nas.search.setting_groups",
    "PruningCallback": "lightning_nas.search.pruning",
    "TrialReporter": "lightning_nas.search.callbacks",
    "search_from_config": "lightning_nas.search.from_config",
}

__all__ = [
    "EarlyStopping",
    "Execution",
    "Goal",
    "Limits",
    "PruningCallback",
    "Search",
    "SearchResult",
    "SearchSettings",
    "TrialReporter",
    "Transfer",
    "search_from_config",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
