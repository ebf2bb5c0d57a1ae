"""The subnet search of ``OneShotNAS`` (``oneshot.callback``): its mixin ``SposSearch``.

A search asks nevergrad (rank 0) for ``num_candidates`` subnets, broadcasts each, and every
rank scores it with the shared weights after BatchNorm calibration (``oneshot.scoring``): each
network once (``oneshot.reached``), a NaN or infinite score told as a failed trial
(``oneshot.told``). The supernet's BatchNorm statistics, active path, mode and torch's random
state are kept; the best of the search is ``best_arch`` / ``best_score``.

Example:
    >>> from lightning_nas.oneshot.callback import OneShotNAS
    >>> issubclass(OneShotNAS, SposSearch), "search" in vars(SposSearch)
    (True, True)
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch
import torchmetrics

from lightning_nas.arch import arch_key
from lightning_nas.oneshot.choices import get_path, set_path
from lightning_nas.oneshot.random_state import preserved_rng, rng_state
from lightning_nas.oneshot.reached import reached_arch
from lightning_nas.oneshot.scoring import (
    Forward,
    preserved_batchnorm,
    score_subnet,
    take_calibration_batches,
)
from lightning_nas.oneshot.told import FailedLater
from lightning_nas.space import SearchSpace
from lightning_nas.strategies.registry import make_optimizer
from lightning_nas.train_modes import kept_modes

__all__ = ["SposSearch"]


class SposSearch:
    """The search side of ``OneShotNAS`` (see the module docstring), for the callback that
    sets the attributes below.

    Attributes:
        optimizer, num_candidates, seed: the nevergrad optimizer, the subnets a search
            scores, and the seed (``seed + epoch`` each search).
        space: the supernet's search space (set when the fit sets up).
        history: each subnet scored, with its epoch and score.
    """

    optimizer: str
    num_candidates: int
    seed: int
    space: SearchSpace | None
    history: list[dict[str, Any]]
    mode: str
    forward: Forward
    calibration_batches: int
    num_classes: int | None
    metric_factory: Any
    best_arch: dict[str, Any] | None
    best_score: float | None
    _calibrated: dict[str, Any] | None

    def search(self, trainer: pl.Trainer, pl_module: pl.LightningModule, epoch: int,
               calibration: list[Any] | None = None) -> dict[str, Any]:
        """Score ``num_candidates`` subnets with the shared weights after ``epoch`` epochs;
        return the best architecture of this search (also ``best_arch`` / ``best_score``).

        Every candidate is calibrated on the same ``calibration`` batches (default: the
        first ``calibration_batches`` training batches, taken once). The supernet's
        BatchNorm statistics, active path, mode and torch's random state are kept.
        """
        opt = make_optimizer(self.optimizer, self.space, self.num_candidates,
                             seed=self.seed + epoch) if trainer.is_global_zero else None
        scores: dict[str, float] = {}
        told = FailedLater(opt)
        best: tuple[float, dict[str, Any]] | None = None
        previous = get_path(pl_module)
        with kept_modes(pl_module), preserved_rng(pl_module.device), \
                preserved_batchnorm(pl_module):
            if calibration is None:  # drawn so again by the export of its winner (_final)
                self._calibrated = {"epoch": epoch, **rng_state(pl_module.device)}
                calibration = take_calibration_batches(trainer, self.calibration_batches)
            for _ in range(self.num_candidates):
                candidate = opt.ask() if opt is not None else None
                arch = trainer.strategy.broadcast(
                    None if candidate is None else self.space.validate(candidate.value), src=0)
                set_path(pl_module, arch)  # one network once, whatever its unreached decisions
                key = arch_key(reached_arch(pl_module))  # (was: scored again: reached.py)
                if key not in scores:  # each subnet is evaluated once per search
                    scores[key] = self.evaluate(trainer, pl_module, arch, calibration)
                    self.history.append({"epoch": epoch, "arch": arch, "score": scores[key]})
                score = scores[key]
                if opt is not None:
                    told.tell(candidate, -score if self.mode == "max" else score)
                if best is None or self._better(score, best[0]):
                    best = (score, arch)
        set_path(pl_module, previous)
        self.best_score, self.best_arch = best
        return self.best_arch

    def _better(self, a: float, b: float) -> bool:
        if math.isnan(b):
            return not math.isnan(a)
        return a > b if self.mode == "max" else a < b

    def evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                 arch: dict[str, Any], calibration: list[Any] | None = None) -> float:
        """The metric of subnet ``arch`` on the validation data, with shared weights, after
        recalibrating BatchNorm statistics on ``calibration`` (default: the first
        ``calibration_batches`` training batches); synced over ranks (same value on every
        rank). The supernet's statistics are restored afterwards; ``arch`` stays active."""
        set_path(pl_module, arch)
        if calibration is None:
            calibration = take_calibration_batches(trainer, self.calibration_batches)
        return score_subnet(trainer, pl_module, self.forward, self._metric, calibration)

    def _metric(self, preds: torch.Tensor) -> torchmetrics.Metric:
        if self.metric_factory is not None:
            return self.metric_factory()
        classes = self.num_classes or int(preds.shape[-1])
        return torchmetrics.classification.MulticlassAccuracy(num_classes=classes,
                                                              average="micro")
