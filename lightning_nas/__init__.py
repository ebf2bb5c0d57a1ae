"""lightning_nas: neural architecture search as a plug-in for PyTorch Lightning 2.x.

Example:
    >>> from lightning_nas import Search, SearchSpace
    >>> space = SearchSpace.from_yaml("num_layers: {choice: [2, 3, 4]}")
    >>> space.size()
    3
"""

from lightning_nas.builders import ConfigError
from lightning_nas.callbacks import MonitorError, TrialReporter
from lightning_nas.config import load_config, search_from_config
from lightning_nas.export import export_best, finetune, load_best
from lightning_nas.module import NASModule
from lightning_nas.search import Search, SearchError, SearchResult
from lightning_nas.space import Choice, Fixed, Float, Int, Ordered, SearchSpace, SpaceError
from lightning_nas.store import RunStore
from lightning_nas.strategies import available_optimizers, make_optimizer
from lightning_nas.trial import TrialResult, TrialSpec, TrialStatus, run_trial

__all__ = [
    "Choice",
    "ConfigError",
    "Fixed",
    "Float",
    "Int",
    "MonitorError",
    "NASModule",
    "Ordered",
    "RunStore",
    "Search",
    "SearchError",
    "SearchResult",
    "SearchSpace",
    "SpaceError",
    "TrialReporter",
    "TrialResult",
    "TrialSpec",
    "TrialStatus",
    "available_optimizers",
    "export_best",
    "finetune",
    "load_best",
    "load_config",
    "make_optimizer",
    "run_trial",
    "search_from_config",
]

__version__ = "0.1.0"
