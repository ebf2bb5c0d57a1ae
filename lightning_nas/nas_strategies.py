"""NAS search strategies as nevergrad optimizers: evolution, REINFORCE, local search, surrogate.

Importing this module registers four optimizers in ``nevergrad.optimizers.registry``, usable
by name like any nevergrad optimizer (``Search(..., optimizer="SurrogateEvolution")``,
``search.optimizer`` in YAML):

=======================  ===============================================================
``RegularizedEvolution``  aging evolution (Real et al. 2019): tournament in a population of
                          the latest results, one mutation per child, the oldest dies
``Reinforce``             REINFORCE policy gradient over the choices (softmax per choice,
                          a Gaussian per numeric range), moving-average baseline
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
not ask for (``tell`` of ``parametrization.spawn_child(new_value=arch)``: a resumed search
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

import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import nevergrad as ng
import numpy as np
from nevergrad.optimization import base

__all__ = [
    "NAS_OPTIMIZERS",
    "Codec",
    "LocalSearch",
    "NASOptimizer",
    "RegularizedEvolution",
    "Reinforce",
    "SurrogateEvolution",
]

Geno = tuple  # one entry per searchable leaf: choice index, int value or float value

_CAT, _ORD, _INT, _FLOAT = "cat", "ord", "int", "float"


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps ``True`` apart from ``1`` and ``1`` apart from ``1.0``."""
    if isinstance(a, (bool, int, float)) or isinstance(b, (bool, int, float)):
        return type(a) is type(b) and a == b
    return a == b


@dataclass
class _Leaf:
    """One searchable parameter of the parametrization."""

    path: tuple[str, ...]
    kind: str  # cat, ord, int, float
    options: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 1.0
    log: bool = False

    @property
    def size(self) -> float:
        if self.kind in (_CAT, _ORD):
            return len(self.options)
        if self.kind == _INT:
            return int(self.high) - int(self.low) + 1
        return math.inf

    def unit(self, value: float) -> float:
        """Position of a numeric value in [0, 1] (in log space for a log range)."""
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) -
                                                           math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float | int:
        """The numeric value at position ``u`` of [0, 1] (clipped; rounded for integers)."""
        u = min(1.0, max(0.0, float(u)))
        if self.log:
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            x = self.low + u * (self.high - self.low)
        if self.kind == _INT:
            return int(min(int(self.high), max(int(self.low), round(x))))
        return float(min(self.high, max(self.low, x)))


class Codec:
    """Turns architecture values of a nevergrad ``Dict`` into genotypes and back.

    A genotype is a tuple with one entry per searchable leaf (constants are left out): the
    index of the option for a choice, the value for an integer or a float range. Genotypes
    are hashable, so they key the sets of told and pending architectures.

    Args:
        parametrization: a ``ng.p.Dict`` as made by ``SearchSpace.to_nevergrad()``.

    Example:
        >>> import nevergrad as ng
        >>> codec = Codec(ng.p.Dict(k=ng.p.Choice([3, 5]), c=ng.p.Constant(1),
        ...                         g=ng.p.Dict(w=ng.p.Scalar(lower=1, upper=4)
        ...                                      .set_integer_casting())))
        >>> codec.encode({"k": 5, "c": 1, "g": {"w": 2}})
        (1, 2)
        >>> codec.decode((0, 4))
        {'k': 3, 'c': 1, 'g': {'w': 4}}
    """

    def __init__(self, parametrization: ng.p.Parameter) -> None:
        if not isinstance(parametrization, ng.p.Dict):
            raise TypeError(f"NAS strategies work on a nevergrad Dict (SearchSpace."
                            f"to_nevergrad()), got {type(parametrization).__name__}")
        self.leaves: list[_Leaf] = []
        self._template = self._walk(parametrization, ())
        self.cat = np.array([i for i, leaf in enumerate(self.leaves) if leaf.kind == _CAT],
                            dtype=int)
        self.num = np.array([i for i, leaf in enumerate(self.leaves) if leaf.kind != _CAT],
                            dtype=int)
        self.size = math.prod(leaf.size for leaf in self.leaves) if self.leaves else 1
        self._movable = [i for i, leaf in enumerate(self.leaves) if leaf.size > 1]
        num = [self.leaves[i] for i in self.num]
        self._num_log = np.array([leaf.log for leaf in num], dtype=bool)
        low = [0.0 if leaf.kind == _ORD else (math.log(leaf.low) if leaf.log else leaf.low)
               for leaf in num]
        high = [len(leaf.options) - 1.0 if leaf.kind == _ORD else
                (math.log(leaf.high) if leaf.log else leaf.high) for leaf in num]
        self._num_low = np.array(low, dtype=float)
        self._num_span = np.maximum(np.array(high, dtype=float) - self._num_low, 1e-12)

    def _walk(self, param: ng.p.Parameter, path: tuple[str, ...]) -> Any:
        """Collect the leaves; return the value template (constants filled, leaves None)."""
        if isinstance(param, ng.p.Dict):
            return {k: self._walk(v, (*path, k)) for k, v in param.items()}
        where = ".".join(path)
        if isinstance(param, ng.p.Constant):
            return param.value
        if isinstance(param, ng.p.TransitionChoice):
            self.leaves.append(_Leaf(path, _ORD, tuple(c.value for c in param.choices)))
            return None
        if isinstance(param, ng.p.Choice):
            self.leaves.append(_Leaf(path, _CAT, tuple(c.value for c in param.choices)))
            return None
        if isinstance(param, ng.p.Scalar):
            bounds = param.bounds
            if bounds[0] is None or bounds[1] is None:
                raise ValueError(f"NAS strategies need bounds on the range '{where}'")
            low, high = float(bounds[0][0]), float(bounds[1][0])
            kind = _INT if param.integer else _FLOAT
            if kind == _INT:
                low, high = math.ceil(low), math.floor(high)
            self.leaves.append(_Leaf(path, kind, (), low, high, isinstance(param, ng.p.Log)))
            return None
        raise ValueError(f"NAS strategies do not support the parameter '{where}' of type "
                         f"{type(param).__name__}")

    # ----------------------------------------------------------------- value <-> genotype
    def encode(self, value: dict[str, Any]) -> Geno:
        """The genotype of an architecture value."""
        out: list[Any] = []
        for leaf in self.leaves:
            v: Any = value
            for key in leaf.path:
                v = v[key]
            if leaf.kind in (_CAT, _ORD):
                out.append(next(i for i, o in enumerate(leaf.options) if _same(o, v)))
            elif leaf.kind == _INT:
                out.append(int(v))
            else:
                out.append(float(v))
        return tuple(out)

    def decode(self, geno: Geno) -> dict[str, Any]:
        """The architecture value of a genotype."""
        value = _copy(self._template)
        for leaf, g in zip(self.leaves, geno, strict=True):
            node = value
            for key in leaf.path[:-1]:
                node = node[key]
            node[leaf.path[-1]] = leaf.options[g] if leaf.kind in (_CAT, _ORD) else g
        return value

    # ----------------------------------------------------------------- random moves
    def random(self, rng: np.random.RandomState) -> Geno:
        """A genotype drawn uniformly (log-uniformly on log ranges)."""
        out: list[Any] = []
        for leaf in self.leaves:
            if leaf.kind in (_CAT, _ORD):
                out.append(int(rng.randint(len(leaf.options))))
            elif leaf.kind == _INT:
                u = rng.uniform()
                out.append(leaf.from_unit(u) if leaf.log else
                           int(rng.randint(int(leaf.low), int(leaf.high) + 1)))
            else:
                out.append(leaf.from_unit(rng.uniform()))
        return tuple(out)

    def mutate_leaf(self, geno: Geno, i: int, rng: np.random.RandomState) -> Geno:
        """``geno`` with leaf ``i`` changed: another option of a choice; a neighbour (half
        of the time) or another value of an ordered choice; a Gaussian step (sd 0.15 of the
        range, in log space for log ranges) for a number, at least one unit for integers."""
        leaf, g = self.leaves[i], geno[i]
        if leaf.kind in (_CAT, _ORD):
            n = len(leaf.options)
            if n < 2:
                return geno
            if leaf.kind == _ORD and rng.uniform() < 0.5:
                new = g + (1 if rng.uniform() < 0.5 else -1)
                new = g - 1 if new >= n else (g + 1 if new < 0 else new)
            else:
                new = int((g + 1 + rng.randint(n - 1)) % n)
        elif leaf.kind == _INT:
            if leaf.size < 2:
                return geno
            new = leaf.from_unit(leaf.unit(g) + rng.normal(0.0, 0.15))
            if new == g:
                step = 1 if rng.uniform() < 0.5 else -1
                new = g + step if leaf.low <= g + step <= leaf.high else g - step
        else:
            u = leaf.unit(g) + rng.normal(0.0, 0.15)
            u = -u if u < 0 else (2 - u if u > 1 else u)  # reflect into the range
            new = leaf.from_unit(u)
        return (*geno[:i], new, *geno[i + 1:])

    def mutate(self, geno: Geno, rng: np.random.RandomState, n: int = 1) -> Geno:
        """``geno`` with ``n`` distinct leaves mutated (``mutate_leaf``)."""
        movable = self._movable
        if not movable:
            return geno
        if n == 1:
            return self.mutate_leaf(geno, movable[rng.randint(len(movable))], rng)
        for i in rng.permutation(len(movable))[:n]:
            geno = self.mutate_leaf(geno, movable[int(i)], rng)
        return geno

    def random_batch(self, n: int, rng: np.random.RandomState) -> list[Geno]:
        """``n`` random genotypes (as ``random``, drawn a column at a time)."""
        columns: list[list[Any]] = []
        for leaf in self.leaves:
            if leaf.kind in (_CAT, _ORD):
                columns.append(rng.randint(len(leaf.options), size=n).tolist())
            elif leaf.kind == _INT and not leaf.log:
                columns.append(rng.randint(int(leaf.low), int(leaf.high) + 1, size=n).tolist())
            else:
                columns.append([leaf.from_unit(u) for u in rng.uniform(size=n)])
        return list(zip(*columns, strict=True))

    def neighbours(self, geno: Geno, rng: np.random.RandomState) -> list[Geno]:
        """One-leaf neighbours: every other option of a choice, the adjacent options of an
        ordered choice, +-1 and two random steps of an integer, three Gaussian steps of a
        float (in a random order)."""
        out: list[Geno] = []
        for i, leaf in enumerate(self.leaves):
            g = geno[i]
            if leaf.kind == _CAT:
                values: list[Any] = [j for j in range(len(leaf.options)) if j != g]
            elif leaf.kind == _ORD:
                values = [j for j in (g - 1, g + 1) if 0 <= j < len(leaf.options)]
            elif leaf.kind == _INT:
                values = [v for v in (g - 1, g + 1) if leaf.low <= v <= leaf.high]
                values += [self.mutate_leaf(geno, i, rng)[i] for _ in range(2)]
            else:
                values = [self.mutate_leaf(geno, i, rng)[i] for _ in range(3)]
            for v in dict.fromkeys(values):
                if v != g:
                    out.append((*geno[:i], v, *geno[i + 1:]))
        order = rng.permutation(len(out))
        return [out[int(j)] for j in order]

    # ----------------------------------------------------------------- features
    def features(self, genos: Sequence[Geno]) -> tuple[np.ndarray, np.ndarray]:
        """Choice indices (for mismatches) and [0, 1] positions of ordered and numeric leaves
        (ordered options spread evenly; log ranges in log space), for the surrogate."""
        arr = np.asarray(genos, dtype=float).reshape(len(genos), len(self.leaves))
        cat = arr[:, self.cat].astype(np.int64)
        num = arr[:, self.num]
        if self._num_log.any():
            num = np.where(self._num_log, np.log(np.maximum(num, 1e-300)), num)
        return cat, (num - self._num_low) / self._num_span

    def _unit(self, i: int, v: Any) -> float:
        leaf = self.leaves[i]
        if leaf.kind == _ORD:
            return v / max(1, len(leaf.options) - 1)
        return leaf.unit(v)


def _copy(template: Any) -> Any:
    if isinstance(template, dict):
        return {k: _copy(v) for k, v in template.items()}
    return template


class NASOptimizer(base.Optimizer):
    """Base of the NAS strategies: genotypes, the told and pending sets, proposals.

    Subclasses implement ``_propose()`` (a genotype, preferably neither told nor pending)
    and ``_observe(geno, loss, asked)``. Every tell, asked or not, reaches ``_observe``.
    """

    def __init__(self, parametrization: Any, budget: int | None = None,
                 num_workers: int = 1) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        self.codec = Codec(self.parametrization)
        self.told: dict[Geno, float] = {}  # genotype -> best loss told
        self.pending: dict[str, Geno] = {}  # candidate uid -> genotype asked, not told
        self.history: list[tuple[Geno, float]] = []  # first tell of each genotype, in order

    # ----------------------------------------------------------------- nevergrad hooks
    def _internal_ask_candidate(self) -> ng.p.Parameter:
        geno = self._propose()
        candidate = self.parametrization.spawn_child(new_value=self.codec.decode(geno))
        self.pending[candidate.uid] = geno
        return candidate

    def _internal_tell_candidate(self, candidate: ng.p.Parameter, loss: float) -> None:
        geno = self.pending.pop(candidate.uid, None)
        self._record(self.codec.encode(candidate.value) if geno is None else geno, loss, True)

    def _internal_tell_not_asked(self, candidate: ng.p.Parameter, loss: float) -> None:
        self._record(self.codec.encode(candidate.value), loss, False)

    def _record(self, geno: Geno, loss: float, asked: bool) -> None:
        loss = float(loss)
        if math.isnan(loss):
            loss = math.inf
        first = geno not in self.told
        if first:
            self.told[geno] = loss
            self.history.append((geno, loss))
        else:
            self.told[geno] = min(self.told[geno], loss)
        self._observe(geno, loss, asked, first)

    # ----------------------------------------------------------------- for subclasses
    def _propose(self) -> Geno:
        raise NotImplementedError

    def _observe(self, geno: Geno, loss: float, asked: bool, first: bool) -> None:
        """Learn from a result (``first``: the first time this genotype is told)."""

    def is_new(self, geno: Geno) -> bool:
        """Neither told nor pending."""
        return geno not in self.told and geno not in self._pending_set()

    def _pending_set(self) -> set[Geno]:
        return set(self.pending.values())

    def exhausted(self) -> bool:
        """Every architecture of a finite space is told or pending."""
        return len(self.told) + len(self._pending_set() - set(self.told)) >= self.codec.size

    def random_new(self, tries: int = 100) -> Geno:
        """A random genotype neither told nor pending (any random one if none is found)."""
        geno = self.codec.random(self._rng)
        for _ in range(tries):
            if self.is_new(geno):
                return geno
            geno = self.codec.random(self._rng)
        return geno

    def mutate_new(self, parent: Geno, tries: int = 50) -> Geno:
        """A new mutation of ``parent`` (one leaf, more after failed tries), else random."""
        pending = self._pending_set()
        for t in range(tries):
            child = self.codec.mutate(parent, self._rng, n=1 + t // 10)
            if child not in self.told and child not in pending:
                return child
        return self.random_new()

    def best(self, k: int = 1) -> list[tuple[Geno, float]]:
        """The ``k`` best told genotypes with their losses, best first."""
        return sorted(self.told.items(), key=lambda item: item[1])[:k]

    def told_values(self) -> list[dict[str, Any]]:
        """Architecture values told so far, in the order first told."""
        return [self.codec.decode(g) for g, _ in self.history]


class RegularizedEvolution(NASOptimizer):
    """Aging (regularized) evolution, Real et al. 2019.

    The population is the ``population_size`` latest results. Until it is full, children
    are random; then a tournament of ``sample_size`` random members picks the best as the
    parent, whose child differs by one mutation. The oldest member leaves as a new one
    comes, whatever its loss.

    Example:
        >>> import nevergrad as ng
        >>> opt = ng.optimizers.registry["RegularizedEvolution"](
        ...     ng.p.Dict(a=ng.p.Choice([0, 1, 2])), budget=3)
        >>> sorted(opt.ask().value["a"] for _ in range(3))  # three asks, three new ones
        [0, 1, 2]
    """

    population_size = 20
    sample_size = 5

    def __init__(self, parametrization: Any, budget: int | None = None,
                 num_workers: int = 1) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        self.population: deque[tuple[Geno, float]] = deque(maxlen=self.population_size)

    def _propose(self) -> Geno:
        if len(self.population) + len(self.pending) < self.population_size or \
                not self.population:
            return self.random_new()
        pop = list(self.population)
        idx = self._rng.choice(len(pop), size=min(self.sample_size, len(pop)), replace=False)
        parent = min((pop[int(i)] for i in idx), key=lambda m: m[1])[0]
        return self.mutate_new(parent)

    def _observe(self, geno: Geno, loss: float, asked: bool, first: bool) -> None:
        if first:
            self.population.append((geno, loss))


class Reinforce(NASOptimizer):
    """REINFORCE (Williams 1992) over the architecture choices, as in NAS-Bench-201.

    The policy is a softmax over the options of each choice (ordered ones too) and a
    Gaussian on the [0, 1] (log) position of each numeric range (sd ``sigma``). After each
    result, the log-probability of the architecture is moved by ``learning_rate`` times its
    advantage: minus its loss, less a moving-average baseline, over the spread of losses.
    Samples already told are drawn again (up to 100 times).

    Example:
        >>> import nevergrad as ng
        >>> opt = ng.optimizers.registry["Reinforce"](ng.p.Dict(a=ng.p.Choice([0, 1])))
        >>> opt.ask().value["a"] in (0, 1)
        True
    """

    learning_rate = 0.5
    baseline_decay = 0.9
    sigma = 0.2

    def __init__(self, parametrization: Any, budget: int | None = None,
                 num_workers: int = 1) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        leaves = self.codec.leaves
        self.logits = [np.zeros(len(leaf.options)) if leaf.kind in (_CAT, _ORD) else None
                       for leaf in leaves]
        self.means = [0.5 if leaf.kind in (_INT, _FLOAT) else None for leaf in leaves]
        self.baseline: float | None = None
        self.scale: float | None = None

    def _probs(self, i: int) -> np.ndarray:
        z = self.logits[i] - self.logits[i].max()
        p = np.exp(z)
        return p / p.sum()

    def _sample(self) -> Geno:
        out: list[Any] = []
        for i, leaf in enumerate(self.codec.leaves):
            if leaf.kind in (_CAT, _ORD):
                out.append(int(self._rng.choice(len(leaf.options), p=self._probs(i))))
            else:
                out.append(leaf.from_unit(self._rng.normal(self.means[i], self.sigma)))
        return tuple(out)

    def _propose(self) -> Geno:
        geno = self._sample()
        for _ in range(100):
            if self.is_new(geno):
                return geno
            geno = self._sample()
        return self.random_new()

    def _observe(self, geno: Geno, loss: float, asked: bool, first: bool) -> None:
        if not first or not math.isfinite(loss):
            return
        reward = -loss
        if self.baseline is None:
            self.baseline, self.scale = reward, 1.0
            return
        advantage = reward - self.baseline
        self.scale = self.baseline_decay * self.scale + (1 - self.baseline_decay) * abs(advantage)
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
        step = self.learning_rate * advantage / max(self.scale, 1e-12)
        for i, leaf in enumerate(self.codec.leaves):
            if leaf.kind in (_CAT, _ORD):
                grad = -self._probs(i)
                grad[geno[i]] += 1.0
                self.logits[i] += step * grad
            else:
                u = self.codec._unit(i, geno[i])
                mean = self.means[i] + step * 0.1 * (u - self.means[i])
                self.means[i] = min(1.0, max(0.0, mean))


class LocalSearch(NASOptimizer):
    """First-improvement local search with random restarts.

    From a random start, the one-leaf neighbours of the current architecture
    (``Codec.neighbours``) are tried in a random order; the first better one becomes the
    current one. When all neighbours are evaluated without improvement (a local optimum),
    the search restarts from a random architecture. With several workers, several
    neighbours are out at once. A better result told without being asked (a replayed
    store) also moves the search there.

    Example:
        >>> import nevergrad as ng
        >>> opt = ng.optimizers.registry["LocalSearch"](ng.p.Dict(a=ng.p.Choice([0, 1, 2])))
        >>> opt.ask().value["a"] in (0, 1, 2)
        True
    """

    def __init__(self, parametrization: Any, budget: int | None = None,
                 num_workers: int = 1) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        self.current: tuple[Geno, float] | None = None
        self.queue: list[Geno] = []
        self.restart: Geno | None = None  # the random start asked, not yet told

    def _propose(self) -> Geno:
        if self.current is not None:
            pending = self._pending_set()
            while self.queue:
                geno = self.queue.pop()
                if geno not in self.told and geno not in pending:
                    return geno
            if any(g != self.restart for g in pending):  # neighbours out: wait for them
                return self.random_new()
            self.current = None  # local optimum: restart
        geno = self.random_new()
        self.restart = geno
        return geno

    def _observe(self, geno: Geno, loss: float, asked: bool, first: bool) -> None:
        if self.current is None or geno == self.restart or loss < self.current[1]:
            if geno == self.restart:
                self.restart = None
            self.current = (geno, loss)
            self.queue = self.codec.neighbours(geno, self._rng)


_BLAS: list[Any] = []  # the threadpoolctl controller, created on first use


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread while the surrogate runs: its matrices are small (at most
    ``max_points`` square), and threads on busy cores made asks several times slower.
    Uses ``threadpoolctl`` when installed (it comes with scikit-learn); else does nothing."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController
            _BLAS.append(ThreadpoolController())
        except Exception:  # noqa: BLE001 - optional: not installed, or no BLAS found
            _BLAS.append(None)
    if _BLAS[0] is None:
        yield
        return
    with _BLAS[0].limit(limits=1, user_api="blas"):
        yield


def _phi(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _Phi(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz & Stegun 7.1.26, error < 1.5e-7)."""
    x = np.abs(z) / math.sqrt(2)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 +
                                                                          t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


class SurrogateEvolution(NASOptimizer):
    """Model-based search: a Gaussian process ranks many mutations before each evaluation.

    After ``num_init`` random architectures, each ask fits a Gaussian process on all
    results (losses turned into normal scores by rank, so outliers do not dominate) with
    the kernel ``(1 - mix) * exp(-theta * d) + mix * (1 - d / D) ** 2``, where ``d`` counts
    the choices that differ and adds the [0, 1] (log) distance of ordered and numeric
    parameters, and ``D`` is the number of parameters: a mismatch kernel plus a quadratic
    overlap kernel that learns the effect of each value and of each pair of values
    (``_kernel``); ``theta``, ``mix`` and the noise are chosen by marginal likelihood on a
    small grid (every ``refit_every`` results). It then
    scores a pool of candidates by expected improvement and proposes the best new one. The
    pool: every one-leaf neighbour of the ``num_parents`` best architectures, random
    two- and three-leaf mutations of them, and random architectures. Pending candidates
    (several workers) are added to the fit with their predicted value (kriging believer),
    so workers get different proposals. The fit uses at most ``max_points`` results (the
    best half and the latest), keeping each ask in milliseconds.

    Example:
        >>> import nevergrad as ng
        >>> opt = ng.optimizers.registry["SurrogateEvolution"](
        ...     ng.p.Dict(a=ng.p.Choice([0, 1, 2]), b=ng.p.TransitionChoice([1, 2, 4])))
        >>> opt.ask().value["b"] in (1, 2, 4)
        True
    """

    num_init = 10
    num_parents = 5
    num_random = 50
    num_multi = 80
    max_points = 128
    refit_every = 5
    patience = 15
    far = 0.5
    thetas = (0.25, 0.5, 1.0, 2.0, 4.0)
    mixes = (0.5, 0.9)
    noises = (1e-4, 1e-2, 1e-1)
    degree = 2

    def __init__(self, parametrization: Any, budget: int | None = None,
                 num_workers: int = 1) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        self.hyper: tuple[float, float, float] = (1.0, 0.5, 1e-2)
        self._fitted_at = -math.inf
        self._improved_at = 0  # len(history) when the best loss last improved
        self._best_loss = math.inf

    def _observe(self, geno: Geno, loss: float, asked: bool, first: bool) -> None:
        if loss < self._best_loss:
            self._best_loss, self._improved_at = loss, len(self.history)

    # ----------------------------------------------------------------- the model
    def _distance(self, a: tuple[np.ndarray, np.ndarray],
                  b: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        d = (a[0][:, None, :] != b[0][None, :, :]).sum(-1).astype(float)
        if a[1].shape[1]:
            d += np.abs(a[1][:, None, :] - b[1][None, :, :]).sum(-1)
        return d

    @staticmethod
    def _scores(losses: np.ndarray) -> np.ndarray:
        """Normal scores of the losses by rank (ties share the mean rank)."""
        n = len(losses)
        order = np.argsort(losses, kind="stable")
        ranks = np.empty(n)
        ranks[order] = np.arange(n)
        _, inv = np.unique(losses, return_inverse=True)
        mean_rank = np.bincount(inv, weights=ranks) / np.bincount(inv)
        dist = NormalDist()
        return np.array([dist.inv_cdf((r + 0.5) / n) for r in mean_rank[inv]])

    def _kernel(self, dist: np.ndarray, theta: float, mix: float) -> np.ndarray:
        """``(1 - mix) * exp(-theta * d) + mix * (1 - d / D) ** degree``: a mismatch kernel
        plus a polynomial overlap kernel. The overlap ``1 - d / D`` (the share of equal
        leaves) is a linear kernel on one-hot features, so it learns per-value effects; its
        square (``degree`` 2) adds every product of two leaves, so the model also learns
        pairwise interactions (an option that only helps when another leaf has a given
        value), which the mismatch kernel alone ranks poorly away from the data."""
        k = np.exp(-theta * dist)
        if mix:
            overlap = np.maximum(1.0 - dist / max(1, len(self.codec.leaves)), 0.0)
            k = (1 - mix) * k + mix * overlap ** self.degree
        return k

    def _fit(self, dist: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Choose (theta, mix, noise) by marginal likelihood when due; return the inverse of
        the Cholesky factor and alpha = K^-1 y."""
        n = len(y)
        eye = np.eye(n)
        if n - self._fitted_at >= self.refit_every:
            best, best_ll = self.hyper, -math.inf
            for theta in self.thetas:
                for mix in self.mixes:
                    k = self._kernel(dist, theta, mix)
                    for noise in self.noises:
                        try:
                            chol = np.linalg.cholesky(k + noise * eye)
                        except np.linalg.LinAlgError:
                            continue
                        inv = np.linalg.inv(chol)
                        alpha = inv.T @ (inv @ y)
                        ll = -0.5 * y @ alpha - np.log(np.diag(chol)).sum()
                        if ll > best_ll:
                            best, best_ll = (theta, mix, noise), ll
            self.hyper, self._fitted_at = best, n
        theta, mix, noise = self.hyper
        k = self._kernel(dist, theta, mix) + (noise + 1e-8) * eye
        inv_chol = np.linalg.inv(np.linalg.cholesky(k))
        alpha = inv_chol.T @ (inv_chol @ y)
        return inv_chol, alpha

    def _predict(self, inv_chol: np.ndarray, alpha: np.ndarray,
                 cross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = self._kernel(cross, self.hyper[0], self.hyper[1])
        mean = k @ alpha
        v = inv_chol @ k.T
        var = np.maximum(1.0 - (v * v).sum(0), 1e-12)
        return mean, np.sqrt(var)

    # ----------------------------------------------------------------- proposals
    def _pool(self, parents: list[Geno]) -> list[Geno]:
        rng, codec = self._rng, self.codec
        pool: list[Geno] = []
        for parent in parents:
            pool += codec.neighbours(parent, rng)
        for j in range(self.num_multi):
            parent = parents[j % len(parents)] if j % 2 else parents[0]
            pool.append(codec.mutate(parent, rng, n=2 + (j % 3 == 0)))
        pool += codec.random_batch(self.num_random, rng)
        pending = self._pending_set()
        return [g for g in dict.fromkeys(pool) if g not in self.told and g not in pending]

    def _propose(self) -> Geno:
        finite = [(g, v) for g, v in self.history if math.isfinite(self.told[g])]
        if len(finite) < self.num_init:
            return self.random_new()
        with _one_blas_thread():
            return self._model_propose(finite)

    def _model_propose(self, finite: list[tuple[Geno, float]]) -> Geno:
        if len(finite) > self.max_points:  # the best half and the latest
            half = self.max_points // 2
            ranked = sorted(finite, key=lambda item: self.told[item[0]])[:half]
            keep = dict.fromkeys(g for g, _ in ranked)
            for g, _ in reversed(finite):
                if len(keep) >= self.max_points:
                    break
                keep.setdefault(g)
            finite = [(g, self.told[g]) for g in keep]
        genos = [g for g, _ in finite]
        losses = np.array([self.told[g] for g in genos])
        y = self._scores(losses)
        feats = self.codec.features(genos)
        dist = self._distance(feats, feats)
        chol, alpha = self._fit(dist, y)
        pending = list(dict.fromkeys(g for g in self.pending.values() if g not in self.told))
        if pending:  # kriging believer: pending candidates at their predicted value
            pfeats = self.codec.features(pending)
            mean, _ = self._predict(chol, alpha, self._distance(pfeats, feats))
            genos = genos + pending
            y = np.concatenate([y, mean])
            feats = self.codec.features(genos)
            dist = self._distance(feats, feats)
            chol, alpha = self._fit(dist, y)
        parents = [g for g, _ in sorted(finite, key=lambda item: self.told[item[0]])]
        if self.patience and len(self.history) - self._improved_at >= self.patience:
            # stalled: search around the best architectures far from the incumbent
            pf = self.codec.features(parents)
            far = self._distance((pf[0][:1], pf[1][:1]), pf)[0]
            parents = [g for g, d in zip(parents, far, strict=True)
                       if d >= self.far * len(self.codec.leaves)] or parents
        pool = self._pool(parents[:self.num_parents])
        if not pool:
            return self.random_new()
        cfeats = self.codec.features(pool)
        mean, sd = self._predict(chol, alpha, self._distance(cfeats, feats))
        best = float(np.min(y))
        z = (best - mean) / sd
        ei = sd * (z * _Phi(z) + _phi(z))
        return pool[int(np.argmax(ei))]


#: the strategies this module registers, by name
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
