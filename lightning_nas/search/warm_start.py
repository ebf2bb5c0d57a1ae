"""A search's warm start: the earlier runs' results told to its optimizer before its first ask.

``warm_start`` loads the ``warm_start`` runs' results once (``load_priors``) and stores them
in the run's store (table ``priors``, meta ``warm_start``), so a resume reads the priors
the first start saw; it tells them to the optimizer (``tell_priors``) and returns the
architectures a ``retrain_top_k`` trains again first, distinct, best first (each task's
best, then each task's second, ...: ``rank_priors``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lightning_nas.arch import arch_key
from lightning_nas.search.settings import SearchSettings
from lightning_nas.search.warm import load_priors
from lightning_nas.space import SearchSpace
from lightning_nas.store import RunStore
from lightning_nas.strategies.transfer import rank_priors, tell_priors

__all__ = ["warm_start"]


def warm_start(settings: SearchSettings, space: SearchSpace, store: RunStore, optimizer: Any,
               count: Callable[[dict[str, Any]], dict[str, float]],
               say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Tell ``optimizer`` the earlier runs' results; the architectures to re-train first.

    Args:
        settings: the search's settings (``transfer``: the sources, ``goal``: objectives).
        space: the search space the earlier architectures are mapped onto.
        store: the run's store (the priors are stored there on the first start).
        optimizer: the fresh optimizer, before any ask.
        count: counts an architecture's costs (``TrialTemplate.costs``), for objectives
            that are costs.
        say: prints the warm start's report (on the first start).
    """
    warm = settings.transfer
    priors = store.priors()
    if warm.warm_start and store.get_meta("warm_start") is None:
        found, report = load_priors(warm.warm_start, space, warm.warm_start_fill,
                                    settings.goal.objectives, count,
                                    hydra=store.get_meta("hydra") is not None)
        store.add_priors([p.row() for p in found], report.to_dict())
        say(report.describe())
        priors = store.priors()
    if not priors:
        return []
    tell_priors(optimizer, [(p["arch"], p["losses"] or p["loss"], p["task"])
                            for p in priors])  # several objectives: each loss
    ranked = rank_priors([(p["arch"], p["loss"], p["task"]) for p in priors])
    return list({arch_key(arch): arch for arch in ranked}.values())  # distinct, best first
