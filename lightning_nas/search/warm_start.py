"""A search's warm start: the earlier runs' results told to its optimizer before its first ask.

``warm_start`` loads the ``warm_start`` runs' results once (``load_priors``) and stores them
in the run's store (table ``priors``, meta ``warm_start``), so a resume reads the priors
the first start saw; it tells them to the optimizer (``tell_priors``) and returns the
architectures a ``retrain_top_k`` trains again first (``Retrain``: each with its source
trial), distinct, best first (each task's
best, then each task's second, ...: ``rank_priors``), each as the optimizer holds it
(``held``: a float on a log scale comes back from nevergrad's round trip an ulp off, and
its later ask of that point gives that value, which must be known as trained). A source
whose search was still running when read is warned of (``SourceReport.live_warning``):
its later results are not used, by this search or its resume; one that gives no prior
(``SourceReport.empty_warning``) is warned of too, with why (in the loop's words,
``worded``: a Hydra sweep's loop says ``hydra.sweeper.warm_start``, this sweep).

Example:
    >>> retrain = warm_start(settings, space, store, optimizer, costs, print,
    ...                      worded=str)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from lightning_nas.arch import arch_key
from lightning_nas.search.settings import SearchSettings
from lightning_nas.search.warm import load_priors
from lightning_nas.space import SearchSpace
from lightning_nas.store import RunStore
from lightning_nas.strategies.codec import candidate_of
from lightning_nas.strategies.transfer import rank_priors, tell_priors
from lightning_nas.user_warnings import warn_user

__all__ = ["Retrain", "held", "warm_start"]


class Retrain(NamedTuple):
    """An architecture ``retrain_top_k`` trains again, as the optimizer holds it, and the
    source trial it is of (its run folder, its trial id there)."""

    arch: dict[str, Any]
    source: str
    source_trial: int


def held(space: SearchSpace, optimizer: Any, arch: dict[str, Any]) -> dict[str, Any]:
    """The architecture ``arch`` as ``optimizer`` holds it: the value of the candidate
    nevergrad builds for it, which its ask of that point proposes (a float on a log scale
    comes back an ulp off: ``0.24067051877668927`` is ``0.2406705187766893``).

    Example:
        >>> from lightning_nas.strategies import make_optimizer
        >>> space = SearchSpace.from_dict({"lr": {"float": [0.01, 0.5], "log": True}})
        >>> held(space, make_optimizer("RandomSearch", space, seed=0),
        ...      {"lr": 0.24067051877668927})
        {'lr': 0.2406705187766893}
    """
    return space.validate(candidate_of(optimizer.parametrization, arch).value)


def warm_start(settings: SearchSettings, space: SearchSpace, store: RunStore, optimizer: Any,
               count: Callable[[dict[str, Any]], dict[str, float]] | None,
               say: Callable[[str], None], worded: Callable[[str], str]
               ) -> list[Retrain]:
    """Tell ``optimizer`` the earlier runs' results; the architectures to re-train first,
    each with the source trial it is of (``Retrain``).

    Args:
        settings: the search's settings (``transfer``: the sources, ``goal``: objectives).
        space: the search space the earlier architectures are mapped onto.
        store: the run's store (the priors are stored there on the first start).
        optimizer: the fresh optimizer, before any ask.
        count: counts an architecture's costs (``TrialTemplate.costs``), for objectives
            that are costs; None where the search counts none (an ``objective=`` search,
            a Hydra sweep: a ``params`` objective is a value its trials return).
        say: prints the warm start's report (on the first start).
        worded: a warning's text in the words of the search's user (``SearchLoop.worded``:
            a Hydra sweep's in a sweep's, ``hydra.sweeper.warm_start``).
    """
    warm = settings.transfer
    priors = store.priors()
    if warm.warm_start and store.get_meta("warm_start") is None:
        found, report = load_priors(warm.warm_start, space, warm.warm_start_fill,
                                    settings.goal.objectives, count,
                                    hydra=store.get_meta("hydra") is not None,
                                    goal=(settings.goal.monitor, settings.goal.mode))
        store.add_priors([p.row() for p in found], report.to_dict())
        say(report.describe())
        for source in report.sources:  # said whether verbose or not, before any trial
            if source.live:  # (was: read as it was then without a word)
                warn_user(worded(source.live_warning()))  # at the user's line
            elif not source.used:  # it tells nothing (was: said only when verbose)
                warn_user(worded(source.empty_warning()))
        priors = store.priors()
    if not priors:
        return []
    tell_priors(optimizer, [(p["arch"], p["losses"] or p["loss"], p["task"])
                            for p in priors])  # several objectives: each loss
    if not settings.transfer.retrain_top_k:  # none to train again: none ranked (was: each
        return []  # prior ranked and built as the optimizer holds it, ~0.4 ms apiece)
    ranked = rank_priors([(p, p["losses"] or p["loss"], p["task"])
                          for p in priors])  # ties on the first objective: the later ones
    # as its trial and a later ask of it hold it (was: as stored: that ask, an ulp off,
    # was no repeat and trained it again)
    out: dict[str, Retrain] = {}  # distinct, best first: of the best prior that gave it
    for prior in ranked:
        arch = held(space, optimizer, prior["arch"])
        out.setdefault(arch_key(arch), Retrain(arch, prior["source"], prior["source_trial"]))
    return list(out.values())

