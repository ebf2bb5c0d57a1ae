"""One drawn seed on every rank of ``lightning-nas oneshot``: ``SharedSeed``.

A one-shot run without ``oneshot.seed`` whose ``seed_everything`` is ``true`` or ``false``
draws its seed. The DDP ranks that Lightning's own launcher starts inherit rank 0's through
the environment (``oneshot/run.py``), but ranks that torchrun or SLURM start run the whole
command each and drew their own: their SPOS searches, GDAS's Gumbel draws, DARTS/GDAS's
logits' start and Lightning's ``DistributedSampler`` (seeded with ``PL_GLOBAL_SEED``) then
differed between ranks. ``SharedSeed`` makes them take rank 0's once the process group
exists (its ``setup``), before the model is wrapped (DDP then copies rank 0's weights), a
checkpoint is restored and the data loaders are made.

Example:
    >>> shared = SharedSeed(7, lambda trainer, seed: None)
    >>> shared.seed
    7
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch

__all__ = ["SharedSeed", "adopt_differentiable", "adopt_spos"]


class SharedSeed(pl.Callback):
    """Take rank 0's drawn seed on every rank when the fit sets up (a no-op on one
    process): each rank seeds again with it where it drew another, and ``adopt(trainer,
    seed)`` (called on every rank: it may broadcast) hands it to the search.

    Args:
        seed: the seed this process drew.
        adopt: gives the search the shared seed (``adopt_spos``, ``adopt_differentiable``).
    """

    def __init__(self, seed: int, adopt: Callable[[pl.Trainer, int], None]) -> None:
        self.seed, self.adopt = seed, adopt

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.world_size <= 1:
            return
        seed = int(trainer.strategy.broadcast(self.seed, src=0))
        if seed != self.seed:  # a rank torchrun or SLURM started: rank 0's from here on
            pl.seed_everything(seed, workers=True, verbose=False)
            self.seed = seed
        self.adopt(trainer, seed)


def adopt_spos(callback: Any) -> Callable[[pl.Trainer, int], None]:
    """``SharedSeed``'s ``adopt`` for a ``OneShotNAS`` callback: its seed and path sampler."""
    def adopt(trainer: pl.Trainer, seed: int) -> None:
        if callback.seed != seed:
            callback.seed, callback.rng = seed, random.Random(seed)
    return adopt


def adopt_differentiable(nas: Any) -> Callable[[pl.Trainer, int], None]:
    """``SharedSeed``'s ``adopt`` for a ``DifferentiableNAS``: its seed (GDAS's Gumbel
    draws) and its logits' start, rank 0's (the ``start_logits`` the end of the search
    compares with, and the logits themselves)."""
    def adopt(trainer: pl.Trainer, seed: int) -> None:
        nas.hparams.seed = seed
        nas.start_logits = trainer.strategy.broadcast(nas.start_logits, src=0)
        with torch.no_grad():
            for key, logits in nas.alphas.items():
                logits.copy_(nas.start_logits[key])
    return adopt
