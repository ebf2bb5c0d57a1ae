"""Genotypes of nevergrad parametrizations: ``Codec`` encodes an architecture as a tuple
(choice index, integer or float per searchable leaf), decodes it, mutates it and lists its
neighbours; the NAS strategies work on genotypes.

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> codec = Codec(SearchSpace.from_dict({"k": {"choice": [3, 5]}}).to_nevergrad())
    >>> codec.decode(codec.encode({"k": 5}))
    {'k': 5}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nevergrad as ng
import numpy as np

from lightning_nas.arch import arch_key, same_value
from lightning_nas.errors import SpaceError

__all__ = ["CAT", "FLOAT", "INT", "ORD", "Codec", "Geno", "candidate_of"]

Geno = tuple  # one entry per searchable leaf: choice index, int value or float value

#: kinds of leaves: unordered choice, ordered choice, integer range, float range
CAT, ORD, INT, FLOAT = "cat", "ord", "int", "float"


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
        if self.kind in (CAT, ORD):
            return len(self.options)
        if self.kind == INT:
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
        if self.kind == INT:
            return int(min(int(self.high), max(int(self.low), round(x))))
        return float(min(self.high, max(self.low, x)))

    def draw(self, u: float) -> float | int:
        """The value a uniform ``u`` in [0, 1] draws: ``from_unit(u)``, but on an integer
        log range each ``k`` as likely as ``[k - 0.5, k + 0.5]`` log-uniformly (as
        ``Int.sample`` and ``Int.to_nevergrad``; ``from_unit`` gives both ends half as
        much)."""
        if self.kind != INT or not self.log or self.low < 1:
            return self.from_unit(u)
        low, high = math.log(self.low - 0.5), math.log(self.high + 0.5)
        x = math.exp(low + min(1.0, max(0.0, float(u))) * (high - low))
        return int(min(int(self.high), max(int(self.low), round(x))))


#: times ``candidate_of`` sets a value again for the value it holds to hold still
ROUND_TRIPS = 8


def candidate_of(parametrization: ng.p.Parameter, value: Any) -> ng.p.Parameter:
    """A child of ``parametrization`` holding the architecture ``value``.

    Unlike nevergrad's ``spawn_child(new_value=value)``, which finds a choice's option with
    ``==`` and so takes ``1`` for ``True`` (and ``0.0`` for ``False``), a choice's option is
    found by ``same_value``: type and value.

    Example:
        >>> import nevergrad as ng
        >>> param = ng.p.Dict(x=ng.p.Choice([1, True]), y=ng.p.Scalar(lower=0, upper=1))
        >>> candidate_of(param, {"x": True, "y": 0.5}).value
        {'x': True, 'y': 0.5}
    """
    child = parametrization.spawn_child()
    _set_value(child, value, ())
    for _ in range(ROUND_TRIPS):  # a log-scale float set comes back an ulp or so off, and
        held = child.value  # again when set again (0.01, ...998, ...988, ...978): set
        if arch_key(held) == arch_key(value):  # until it holds still, so every way to one point
            break  # (an ask, a prior, a retrained trial) holds the same value
        value = held
        child = parametrization.spawn_child()
        _set_value(child, value, ())
    return child


def _set_value(param: ng.p.Parameter, value: Any, path: tuple[str, ...]) -> None:
    if isinstance(param, ng.p.Dict):
        for key, sub in param.items():
            _set_value(sub, value[key], (*path, key))
    elif isinstance(param, ng.p.Constant):
        return
    elif isinstance(param, (ng.p.Choice, ng.p.TransitionChoice)):
        index = next((i for i, c in enumerate(param.choices) if same_value(c.value, value)),
                     None)
        if index is None:
            raise SpaceError(f"{value!r} is not an option of '{'.'.join(path)}': "
                             f"{[c.value for c in param.choices]}")
        param.indices.value = np.array([index])
    else:
        param.value = value


def _integer_bounds(low: float, high: float) -> tuple[int, int]:
    """The smallest and the largest integer an integer-cast range with the bounds ``low``
    and ``high`` gives: those nevergrad's casting keeps its rounded values within (an
    ``int`` range's bounds are widened by half a step, ``Int.to_nevergrad``; a log range's
    come back as ``exp(log(bound))``: ``128.50000000000003``)."""
    eps = 1e-12  # nevergrad's own (``ng.ops.Int``)
    return int(np.round(low + 0.5 - eps)), int(np.round(high - 0.5 + eps))


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
        self.cat = np.array([i for i, leaf in enumerate(self.leaves) if leaf.kind == CAT],
                            dtype=int)
        self.num = np.array([i for i, leaf in enumerate(self.leaves) if leaf.kind != CAT],
                            dtype=int)
        self.size = math.prod(leaf.size for leaf in self.leaves) if self.leaves else 1
        self._movable = [i for i, leaf in enumerate(self.leaves) if leaf.size > 1]
        num = [self.leaves[i] for i in self.num]
        self._num_log = np.array([leaf.log for leaf in num], dtype=bool)
        low = [0.0 if leaf.kind == ORD else (math.log(leaf.low) if leaf.log else leaf.low)
               for leaf in num]
        high = [len(leaf.options) - 1.0 if leaf.kind == ORD else
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
            self.leaves.append(_Leaf(path, ORD, tuple(c.value for c in param.choices)))
            return None
        if isinstance(param, ng.p.Choice):
            self.leaves.append(_Leaf(path, CAT, tuple(c.value for c in param.choices)))
            return None
        if isinstance(param, ng.p.Scalar):
            bounds = param.bounds
            if bounds[0] is None or bounds[1] is None:
                raise SpaceError(f"NAS strategies need bounds on the range '{where}'")
            low, high = float(bounds[0][0]), float(bounds[1][0])
            kind = INT if param.integer else FLOAT
            if kind == INT:  # the range's integers
                low, high = _integer_bounds(low, high)
            self.leaves.append(_Leaf(path, kind, (), low, high, isinstance(param, ng.p.Log)))
            return None
        raise SpaceError(f"NAS strategies do not support the parameter '{where}' of type "
                         f"{type(param).__name__}")

    # ----------------------------------------------------------------- value <-> genotype
    def encode(self, value: dict[str, Any]) -> Geno:
        """The genotype of an architecture value."""
        out: list[Any] = []
        for leaf in self.leaves:
            v: Any = value
            for key in leaf.path:
                v = v[key]
            if leaf.kind in (CAT, ORD):
                out.append(next(i for i, o in enumerate(leaf.options) if same_value(o, v)))
            elif leaf.kind == INT:
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
            node[leaf.path[-1]] = leaf.options[g] if leaf.kind in (CAT, ORD) else g
        return value

    # ----------------------------------------------------------------- random moves
    def random(self, rng: np.random.RandomState) -> Geno:
        """A genotype drawn uniformly (log-uniformly on log ranges, ``_Leaf.draw``)."""
        out: list[Any] = []
        for leaf in self.leaves:
            if leaf.kind in (CAT, ORD):
                out.append(int(rng.randint(len(leaf.options))))
            elif leaf.kind == INT:
                u = rng.uniform()
                out.append(leaf.draw(u) if leaf.log else
                           int(rng.randint(int(leaf.low), int(leaf.high) + 1)))
            else:
                out.append(leaf.from_unit(rng.uniform()))
        return tuple(out)

    def mutate_leaf(self, geno: Geno, i: int, rng: np.random.RandomState) -> Geno:
        """``geno`` with leaf ``i`` changed: another option of a choice; a neighbour (half
        of the time) or another value of an ordered choice; a Gaussian step (sd 0.15 of the
        range, in log space for log ranges) for a number, at least one unit for integers."""
        leaf, g = self.leaves[i], geno[i]
        if leaf.kind in (CAT, ORD):
            n = len(leaf.options)
            if n < 2:
                return geno
            if leaf.kind == ORD and rng.uniform() < 0.5:
                new = g + (1 if rng.uniform() < 0.5 else -1)
                new = g - 1 if new >= n else (g + 1 if new < 0 else new)
            else:
                new = int((g + 1 + rng.randint(n - 1)) % n)
        elif leaf.kind == INT:
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
            if leaf.kind in (CAT, ORD):
                columns.append(rng.randint(len(leaf.options), size=n).tolist())
            elif leaf.kind == INT and not leaf.log:
                columns.append(rng.randint(int(leaf.low), int(leaf.high) + 1, size=n).tolist())
            else:
                columns.append([leaf.draw(u) for u in rng.uniform(size=n)])
        return list(zip(*columns, strict=True))

    def neighbours(self, geno: Geno, rng: np.random.RandomState) -> list[Geno]:
        """One-leaf neighbours: every other option of a choice, the adjacent options of an
        ordered choice, +-1 and two random steps of an integer, three Gaussian steps of a
        float (in a random order)."""
        out: list[Geno] = []
        for i, leaf in enumerate(self.leaves):
            g = geno[i]
            if leaf.kind == CAT:
                values: list[Any] = [j for j in range(len(leaf.options)) if j != g]
            elif leaf.kind == ORD:
                values = [j for j in (g - 1, g + 1) if 0 <= j < len(leaf.options)]
            elif leaf.kind == INT:
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
        if leaf.kind == ORD:
            return v / max(1, len(leaf.options) - 1)
        return leaf.unit(v)


def _copy(template: Any) -> Any:
    if isinstance(template, dict):
        return {k: _copy(v) for k, v in template.items()}
    return template
