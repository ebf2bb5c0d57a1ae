"""``Reinforce``: REINFORCE policy gradient over the choices of a space.

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> opt = Reinforce(SearchSpace.from_dict({"k": {"choice": [1, 2]}}).to_nevergrad(), budget=2)
    >>> opt.ask().value["k"] in (1, 2)
    True
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np

from lightning_nas.strategies.base import CLIPPED, NASOptimizer, Setting
from lightning_nas.strategies.codec import CAT, FLOAT, INT, ORD, Geno

__all__ = ["Reinforce"]


class Reinforce(NASOptimizer):
    """REINFORCE (Williams 1992) over the architecture choices, as in NAS-Bench-201.

    The policy is a softmax over the options of each choice (ordered ones too) and a
    Gaussian on the [0, 1] (log) position of each numeric range (sd ``sigma``). After each
    result, the log-probability of the architecture is moved by ``learning_rate`` times its
    advantage: its reward, less a moving-average baseline, over the moving spread of the
    advantages. The reward is minus the loss's rank among the earlier results (0: better
    than all, -1: worse than all), so one huge loss (a rejected candidate's penalty, a
    failure told as worse than anything) counts as the worst, never as a new scale (was: the
    loss itself, after which every later result seemed good). A candidate rejected before
    any result, told ``inf`` (``CLIPPED`` with one objective), is not learnt from. Samples
    already told are drawn again (up to 100 times).

    Example:
        >>> import nevergrad as ng
        >>> opt = ng.optimizers.registry["Reinforce"](ng.p.Dict(a=ng.p.Choice([0, 1])))
        >>> opt.ask().value["a"] in (0, 1)
        True
    """

    learning_rate = 0.5
    baseline_decay = 0.9
    sigma = 0.2
    settings = {"learning_rate": Setting(float, 0, open_low=True),
                "baseline_decay": Setting(float, 0, 1), "sigma": Setting(float, 0, open_low=True)}

    def __init__(self, parametrization: Any, budget: int | None = None,
                 num_workers: int = 1) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        leaves = self.codec.leaves
        self.logits = [np.zeros(len(leaf.options)) if leaf.kind in (CAT, ORD) else None
                       for leaf in leaves]
        self.means = [0.5 if leaf.kind in (INT, FLOAT) else None for leaf in leaves]
        self.baseline: float | None = None
        self.scale: float | None = None
        self.losses: list[float] = []  # the finite losses learnt from, sorted

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
        if not first or not loss < CLIPPED:  # an inf told (nevergrad clips it, for one
            return  # objective; was: learnt from as the worst result so far)
        earlier = self.losses
        rank = (bisect.bisect_left(earlier, loss) + bisect.bisect_right(earlier, loss)) / 2
        bisect.insort(earlier, loss)
        if len(earlier) == 1:
            self.baseline, self.scale = -0.5, 1.0  # nothing to rank it against: the middle
            return
        reward = -rank / (len(earlier) - 1)  # 0: better than all earlier ones, -1: worse
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
