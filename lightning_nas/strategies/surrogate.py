"""``SurrogateEvolution``: a Gaussian process ranks many mutations of the best
architectures by expected improvement before each evaluation.

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> space = SearchSpace.from_dict({"k": {"choice": [1, 2]}})
    >>> SurrogateEvolution(space.to_nevergrad(), budget=2).ask().value["k"] in (1, 2)
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from statistics import NormalDist
from typing import Any

import numpy as np

from lightning_nas.strategies.base import NASOptimizer, Setting
from lightning_nas.strategies.codec import Geno
from lightning_nas.strategies.transfer import rank_priors

__all__ = ["SurrogateEvolution"]


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

    Warm start (``tell_priors``: results of earlier searches, each task on its own scale):
    the earlier best architecture is evaluated first; then the model is fitted on this
    task's results and the earlier ones together, with a task kernel (the covariance of
    two results of different tasks is the architecture kernel times ``rho``, chosen with
    the other hyperparameters from ``rhos``). Each earlier task's losses are normal scores
    by rank within it; this task's keep their order but take the mean and spread the
    earlier tasks' model predicts at the same architectures (``_calibrated``). The earlier
    best architectures not yet evaluated join the pool, and the earlier best are parents
    too. For the first ``num_init`` results here (the random start of a cold search), the
    candidate with the best predicted value is proposed; expected improvement after that.

    Example:
        >>> import nevergrad as ng
        >>> opt = ng.optimizers.registry["SurrogateEvolution"](
        ...     ng.p.Dict(a=ng.p.Choice([0, 1, 2]), b=ng.p.TransitionChoice([1, 2, 4])))
        >>> opt.ask().value["b"] in (1, 2, 4)
        True
    """

    priors_on_own_task = True  # (``NASOptimizer``)

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
    rhos = (0.5, 0.8, 0.95)
    num_prior_candidates = 20
    settings = {"num_init": Setting(int, 1), "num_parents": Setting(int, 1),
                "num_random": Setting(int, 0), "num_multi": Setting(int, 0),
                "max_points": Setting(int, 1), "refit_every": Setting(int, 1),
                "patience": Setting(int, 0), "far": Setting(float, 0, 1),
                "thetas": Setting(float, 0, open_low=True, many=True),
                "mixes": Setting(float, 0, 1, many=True),
                "noises": Setting(float, 0, open_low=True, many=True),
                "degree": Setting(int, 1), "rhos": Setting(float, 0, 1, many=True),
                "num_prior_candidates": Setting(int, 0)}

    def __init__(self, parametrization: Any, budget: int | None = None,
                 num_workers: int = 1) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        self.hyper: tuple[float, float, float] = (1.0, 0.5, 1e-2)
        self._fitted_at = -math.inf
        self._improved_at = 0  # len(history) when the best loss last improved
        self._best_loss = math.inf
        self.rho = 1.0  # correlation between this task and earlier ones (warm start)
        self._prior_points: list[tuple[Geno, float, int]] = []  # (geno, score, task)

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

    def _fit(self, dist: np.ndarray, y: np.ndarray, same: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Choose (theta, mix, noise) and, with priors, ``rho`` by marginal likelihood when
        due; return the inverse of the Cholesky factor and alpha = K^-1 y. ``same`` marks
        the pairs of points of the same task (None: all one task)."""
        n = len(y)
        eye = np.eye(n)
        rhos = self.rhos if same is not None else (1.0,)
        if n - self._fitted_at >= self.refit_every:
            best, best_ll = (*self.hyper, self.rho), -math.inf
            for theta in self.thetas:
                for mix in self.mixes:
                    base_k = self._kernel(dist, theta, mix)
                    for rho in rhos:
                        k = base_k if same is None else base_k * np.where(same, 1.0, rho)
                        for noise in self.noises:
                            try:
                                chol = np.linalg.cholesky(k + noise * eye)
                            except np.linalg.LinAlgError:
                                continue
                            inv = np.linalg.inv(chol)
                            alpha = inv.T @ (inv @ y)
                            ll = -0.5 * y @ alpha - np.log(np.diag(chol)).sum()
                            if ll > best_ll:
                                best, best_ll = (theta, mix, noise, rho), ll
            self.hyper, self.rho, self._fitted_at = best[:3], best[3], n
        theta, mix, noise = self.hyper
        k = self._kernel(dist, theta, mix)
        if same is not None:
            k = k * np.where(same, 1.0, self.rho)
        inv_chol = np.linalg.inv(np.linalg.cholesky(k + (noise + 1e-8) * eye))
        alpha = inv_chol.T @ (inv_chol @ y)
        return inv_chol, alpha

    def _predict(self, inv_chol: np.ndarray, alpha: np.ndarray, cross: np.ndarray,
                 same: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd at new points of this task; ``same`` (points x data) marks the data
        of this task."""
        k = self._kernel(cross, self.hyper[0], self.hyper[1])
        if same is not None:
            k = k * np.where(same, 1.0, self.rho)
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
        if self._prior_points:  # warm: the earlier best first, then the model at once
            if not finite and (first := self.next_prior()) is not None:
                return first
        elif len(finite) < self.num_init:
            return self.random_new()
        with _one_blas_thread():
            return self._model_propose(finite)

    def _use_priors(self) -> None:
        """Earlier results become data of other tasks: normal scores of the first loss by
        rank within their task (scales differ between tasks), at most ``max_points`` per
        task (the best half and an even spread of the rest), ranked as ``prior_ranking``
        (``rank_priors``: ties on the first loss by the later ones; was: by the order
        given, so which of them the best half kept did not follow the ranking)."""
        finite = [(i, losses, task) for i, ((_, loss, task), losses)
                  in enumerate(zip(self.priors, self.prior_losses, strict=True))
                  if math.isfinite(loss)]
        by_task: dict[str, list[tuple[Geno, float]]] = {}
        for i in rank_priors(finite):  # each task's rows best first
            geno, loss, task = self.priors[i]
            by_task.setdefault(task, []).append((geno, loss))
        points: list[tuple[Geno, float, int]] = []
        for index, rows in enumerate(by_task.values(), start=1):
            if len(rows) > self.max_points:
                half, rest = self.max_points // 2, rows[self.max_points // 2:]
                step = len(rest) / (self.max_points - half)
                rows = rows[:half] + [rest[int(i * step)] for i in range(self.max_points - half)]
            scores = self._scores(np.array([loss for _, loss in rows]))
            points += [(g, float(v), index) for (g, _), v in zip(rows, scores, strict=True)]
        self._prior_points = points

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
        y = self._scores(np.array([self.told[g] for g in genos])) if genos else np.zeros(0)
        tasks = np.zeros(len(genos), dtype=int)
        if self._prior_points:  # this task is 0, earlier ones 1, 2, ...
            genos += [g for g, _, _ in self._prior_points]
            y = np.concatenate([y, [v for _, v, _ in self._prior_points]])
            tasks = np.concatenate([tasks, [t for _, _, t in self._prior_points]])
        same = tasks[:, None] == tasks[None, :] if self._prior_points else None
        feats = self.codec.features(genos)
        dist = self._distance(feats, feats)
        if self._prior_points and (tasks == 0).any():
            y[tasks == 0] = self._calibrated(y[tasks == 0], dist, tasks)
        chol, alpha = self._fit(dist, y, same)
        pending = list(dict.fromkeys(g for g in self.pending.values() if g not in self.told))
        if pending:  # kriging believer: pending candidates at their predicted value
            pfeats = self.codec.features(pending)
            mean, _ = self._predict(chol, alpha, self._distance(pfeats, feats),
                                    self._here(len(pending), tasks))
            genos = genos + pending
            y = np.concatenate([y, mean])
            tasks = np.concatenate([tasks, np.zeros(len(pending), dtype=int)])
            same = tasks[:, None] == tasks[None, :] if self._prior_points else None
            feats = self.codec.features(genos)
            dist = self._distance(feats, feats)
            chol, alpha = self._fit(dist, y, same)
        parents = [g for g, _ in sorted(finite, key=lambda item: self.told[item[0]])]
        if parents and self.patience and len(self.history) - self._improved_at >= self.patience:
            # stalled: search around the best architectures far from the incumbent
            pf = self.codec.features(parents)
            far = self._distance((pf[0][:1], pf[1][:1]), pf)[0]
            parents = [g for g, d in zip(parents, far, strict=True)
                       if d >= self.far * len(self.codec.leaves)] or parents
        parents = parents[:self.num_parents]
        pool = []
        if self._prior_points:  # the earlier best, and mutations of them
            parents += [g for g in self.prior_ranking[:self.num_parents] if g not in parents]
            pool = [g for g in self.prior_ranking[:self.num_prior_candidates]
                    if g not in self.told and g not in self._pending_set()]
        pool = list(dict.fromkeys(pool + self._pool(parents)))
        if not pool:
            return self.random_new()
        cfeats = self.codec.features(pool)
        mean, sd = self._predict(chol, alpha, self._distance(cfeats, feats),
                                 self._here(len(pool), tasks))
        if self._prior_points and len(finite) < self.num_init:
            return pool[int(np.argmin(mean))]  # warm: the earlier tasks replace random starts
        best = float(np.min(y[tasks == 0])) if (tasks == 0).any() else float(np.min(y))
        z = (best - mean) / sd
        ei = sd * (z * _Phi(z) + _phi(z))
        return pool[int(np.argmax(ei))]

    def _calibrated(self, z: np.ndarray, dist: np.ndarray, tasks: np.ndarray) -> np.ndarray:
        """This task's scores on the earlier tasks' scale. Normal scores by rank among a few
        results say nothing of how good they are in the whole space (one result scores 0,
        average, even when it is the earlier best); so they keep their order but take the
        mean and spread of what the earlier tasks' model predicts at the same
        architectures (a spread of at least 0.1)."""
        here, prior = tasks == 0, tasks != 0
        k = self._kernel(dist[np.ix_(prior, prior)], self.hyper[0], self.hyper[1])
        same = tasks[prior][:, None] == tasks[prior][None, :]
        k = k * np.where(same, 1.0, self.rho) + (self.hyper[2] + 1e-8) * np.eye(int(prior.sum()))
        y_prior = np.array([v for _, v, _ in self._prior_points])
        cross = self._kernel(dist[np.ix_(here, prior)], self.hyper[0], self.hyper[1])
        predicted = cross @ np.linalg.solve(k, y_prior)
        spread = z.std()
        unit = (z - z.mean()) / spread if spread > 0 else np.zeros_like(z)
        return predicted.mean() + max(float(predicted.std()), 0.1) * unit

    def _here(self, rows: int, tasks: np.ndarray) -> np.ndarray | None:
        """Which data points are of this task, for ``rows`` new points (None: no priors)."""
        if not self._prior_points:
            return None
        return np.broadcast_to(tasks[None, :] == 0, (rows, len(tasks)))
