"""Evolutionary strategies: ``RegularizedEvolution`` (aging evolution) and ``LocalSearch``
(first-improvement hill climbing with restarts).

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> opt = LocalSearch(SearchSpace.from_dict({"k": {"choice": [1, 2]}}).to_nevergrad(), budget=2)
    >>> opt.ask().value["k"] in (1, 2)
    True
"""

from __future__ import annotations

from collections import deque
from typing import Any

from lightning_nas.strategies.base import NASOptimizer, Setting
from lightning_nas.strategies.codec import Geno

__all__ = ["LocalSearch", "RegularizedEvolution"]


class RegularizedEvolution(NASOptimizer):
    """Aging (regularized) evolution, Real et al. 2019.

    The population is the ``population_size`` latest results. Until it is full, children
    are random; then a tournament of ``sample_size`` random members picks the best as the
    parent, whose child differs by one mutation. The oldest member leaves as a new one
    comes, whatever its loss. A warm start (``tell_priors``) fills the first population
    with the earlier searches' best architectures (each evaluated here), best first,
    instead of random ones.

    Example:
        >>> import nevergrad as ng
        >>> opt = ng.optimizers.registry["RegularizedEvolution"](
        ...     ng.p.Dict(a=ng.p.Choice([0, 1, 2])), budget=3)
        >>> sorted(opt.ask().value["a"] for _ in range(3))  # three asks, three new ones
        [0, 1, 2]
    """

    priors_on_own_task = True  # (``NASOptimizer``)

    population_size = 20
    sample_size = 5
    settings = {"population_size": Setting(int, 1), "sample_size": Setting(int, 1)}

    def __init__(self, parametrization: Any, budget: int | None = None,
                 num_workers: int = 1) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        self.population: deque[tuple[Geno, float]] = deque(maxlen=self.population_size)

    def __setattr__(self, name: str, value: Any) -> None:
        """``population_size`` set on an instance is the population it keeps from then on,
        its latest members (was: the class's 20 kept, the tournament drawn from them)."""
        super().__setattr__(name, value)
        if name == "population_size" and "population" in self.__dict__:
            self.population = deque(self.population, maxlen=value)

    def _use_priors(self) -> None:
        """Earlier results only seed the first population (see ``_propose``)."""

    def _propose(self) -> Geno:
        if len(self.population) + len(self.pending) < self.population_size or \
                not self.population:
            return self.next_prior() or self.random_new()
        pop = list(self.population)
        idx = self._rng.choice(len(pop), size=min(self.sample_size, len(pop)), replace=False)
        parent = min((pop[int(i)] for i in idx), key=lambda m: m[1])[0]
        return self.mutate_new(parent)

    def _observe(self, geno: Geno, loss: float, asked: bool, first: bool) -> None:
        if first:
            self.population.append((geno, loss))


class LocalSearch(NASOptimizer):
    """First-improvement local search with random restarts.

    From a random start, the one-leaf neighbours of the current architecture
    (``Codec.neighbours``) are tried in a random order; the first better one becomes the
    current one. When all neighbours are evaluated without improvement (a local optimum),
    the search restarts from a random architecture. With several workers, several
    neighbours are out at once, and several starts while none is told: the first told is
    the current one until a better one comes, so the search never moves to a worse one. A
    better result told without being asked (a replayed store) also moves the search there.
    After a warm start (``tell_priors``), the first start and each restart is the best
    earlier architecture not yet evaluated here.

    Example:
        >>> import nevergrad as ng
        >>> opt = ng.optimizers.registry["LocalSearch"](ng.p.Dict(a=ng.p.Choice([0, 1, 2])))
        >>> opt.ask().value["a"] in (0, 1, 2)
        True
    """

    priors_on_own_task = True  # (``NASOptimizer``)

    def __init__(self, parametrization: Any, budget: int | None = None,
                 num_workers: int = 1) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        self.current: tuple[Geno, float] | None = None
        self.queue: list[Geno] = []
        self.restarts: set[Geno] = set()  # the (random) starts asked, not yet told

    def _propose(self) -> Geno:
        if self.current is not None:
            pending = self._pending_set()
            while self.queue:
                geno = self.queue.pop()
                if geno not in self.told and geno not in pending:
                    return geno
            if any(g not in self.restarts for g in pending):  # neighbours out: wait for them
                return self.random_new()
            self.current = None  # local optimum: restart
        geno = self.next_prior() or self.random_new()
        self.restarts.add(geno)
        return geno

    def _use_priors(self) -> None:
        """Earlier results are only starting points (see ``_propose``)."""

    def _observe(self, geno: Geno, loss: float, asked: bool, first: bool) -> None:
        self.restarts.discard(geno)
        if self.current is None or loss < self.current[1]:  # was: any start told moved there
            self.current = (geno, loss)
            self.queue = self.codec.neighbours(geno, self._rng)
