"""NAS search strategies as nevergrad optimizers: evolution, REINFORCE, local search, surrogate.

Importing this module registers four optimizers in ``nevergrad.optimizers.registry``, usable
by name like any nevergrad optimizer (``Search(..., optimizer="SurrogateEvolution")``,
``search.optimizer`` in YAML):

=======================  ===============================================================
``RegularizedEvolution``  aging evolution (Real et al. 2019): tournament in a population of
                          the latest results, one mutation per child, the oldest dies
``Reinforce``             REINFORCE policy gradient over the choices (softmax per choice,
                          a Gaussian per numeric range), rewards by rank among the results,
                          moving-average baseline
``LocalSearch``           first-improvement hill climbing over one-parameter neighbours,
                          random restart at a local optimum
``SurrogateEvolution``    model-based: a Gaussian process (mismatch plus pairwise overlap
                          kernel), fitted on every result, ranks hundreds of mutations of
                          the best architectures by expected improvement; the best goes
=======================  ===============================================================

They work on the parametrizations of ``SearchSpace.to_nevergrad()``: a ``Dict`` of
``Choice`` (unordered), ``TransitionChoice`` (ordered), bounded ``Scalar``/``Log`` (float,
or integer with integer casting), ``Constant`` and nested ``Dict``. Mutations fit each
kind: another value of a choice; a neighbour (or a random value) of an ordered choice or an
integer; a Gaussian step in (log) space within the bounds for a float. All strategies draw
their randomness from the parametrization's random state (``make_optimizer(seed=...)``),
never propose an architecture already told or still pending when another is left, accept
several asks before the tells (``num_workers`` > 1), and learn from candidates they did
not ask for (``tell`` of ``codec.candidate_of(parametrization, arch)``: a resumed search
replays its store this way).

Example:
    >>> import nevergrad as ng
    >>> from lightning_nas.space import SearchSpace
    >>> space = SearchSpace.from_dict({"op": {"choice": ["a", "b", "c"]},
    ...                                "w": {"int": [1, 9]}})
    >>> param = space.to_nevergrad()
    >>> opt = ng.optimizers.registry["LocalSearch"](param, budget=10)
    >>> for _ in range(10):
    ...     cand = opt.ask()
    ...     opt.tell(cand, abs(cand.value["w"] - 7) + (cand.value["op"] != "b"))
    >>> len({str(v) for v in opt.told_values()})
    10
"""

from __future__ import annotations

from collections.abc import Iterable

import nevergrad as ng

from lightning_nas.strategies.base import NASOptimizer
from lightning_nas.strategies.evolution import LocalSearch, RegularizedEvolution
from lightning_nas.strategies.reinforce import Reinforce
from lightning_nas.strategies.surrogate import SurrogateEvolution

__all__ = ["NAS_OPTIMIZERS", "LocalSearch", "RegularizedEvolution", "Reinforce",
           "SurrogateEvolution"]

NAS_OPTIMIZERS: dict[str, type[NASOptimizer]] = {
    cls.__name__: cls
    for cls in (RegularizedEvolution, Reinforce, LocalSearch, SurrogateEvolution)
}


def _register(classes: Iterable[type[NASOptimizer]]) -> None:
    for cls in classes:
        if ng.optimizers.registry.get(cls.__name__) is not cls:
            if cls.__name__ in ng.optimizers.registry:  # a reload of this module
                ng.optimizers.registry.unregister(cls.__name__)
            ng.optimizers.registry.register(cls)


_register(NAS_OPTIMIZERS.values())
