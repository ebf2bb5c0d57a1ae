"""``Reinforce``: REINFORCE policy gradient over the choices of a space.

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> opt = Reinforce(SearchSpace.from_dict({"k": {"choice": [1, 2]}}).to_nevergrad(), budget=2)
    >>> opt.ask().value["k"] in (1, 2)
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lightning_nas.strategies.base import NASOptimizer
from lightning_nas.strategies.codec import CAT, FLOAT, INT, ORD, Geno

__all__ = ["Reinforce"]


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
        self.logits = [np.zeros(len(leaf.options)) if leaf.kind in (CAT, ORD) else None
                       for leaf in leaves]
        self.means = [0.5 if leaf.kind in (INT, FLOAT) else None for leaf in leaves]
        self.baseline: float | None = None
        self.scale: float | None = None

    def _probs(self, i: int) -> np.ndarray:
        z = self.logits[i] - self.logits[i].max()
        p = np.exp(z)
        return p / p.sum()

    def _sample(self) -> Geno:
        out: list[Any] = []
        for i, leaf in enumerate(self.codec.leaves):
            if leaf.kind in (CAT, ORD):
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
            if leaf.kind in (CAT, ORD):
                grad = -self._probs(i)
                grad[geno[i]] += 1.0
                self.logits[i] += step * grad
            else:
                u = self.codec._unit(i, geno[i])
                mean = self.means[i] + step * 0.1 * (u - self.means[i])
                self.means[i] = min(1.0, max(0.0, mean))
