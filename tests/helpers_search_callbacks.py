"""The real-Trainer fits of the ``TrialReporter`` and ``PruningCallback`` tests
(``lightning_nas.search.callbacks``, ``lightning_nas.search.pruning``): modules that log
``val_acc`` by a script (``ScriptedModel``) or from a later epoch (``LaterAcc``), a short
quiet fit of one (``fit_scripted``), the median rule they prune by (``median_rule``), and
whether a ``state_dict`` is plain data (``is_plain``).

Example:
    >>> is_plain({"epoch": 1, "values": [0.5]}), is_plain({"epochs": (1, 2)})
    (True, False)
"""

from __future__ import annotations

import json
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.demos.boring_classes import BoringModel

from lightning_nas.search.schedulers import MedianRule
from tests.helpers_models import TinyNet

__all__ = ["SCRIPT", "LaterAcc", "ScriptedModel", "fit_scripted", "is_plain", "median_rule"]


#: ``val_acc`` logged at the end of each validation epoch
SCRIPT = [0.25, 0.75, 0.5]


def median_rule() -> MedianRule:
    """A ``MedianRule`` that judges from the first epoch and the first trial on."""
    return MedianRule(min_epochs=1, min_trials=1)


def is_plain(value) -> bool:
    """Plain data: what ``json`` writes and reads back unchanged."""
    return json.loads(json.dumps(value)) == value


class ScriptedModel(BoringModel):
    """Logs ``SCRIPT[epoch]`` as ``val_acc`` at the end of each validation epoch."""

    def on_validation_epoch_end(self) -> None:
        self.log("val_acc", SCRIPT[self.current_epoch])


def fit_scripted(callbacks: list[pl.Callback], epochs: int = 3,
                 model: type[ScriptedModel] = ScriptedModel, **settings: Any) -> pl.Trainer:
    """``model`` fitted for ``epochs`` (2 training batches, 1 validation batch each) by a
    quiet one-device CPU Trainer with ``callbacks`` and ``settings``, seeded 0: the Trainer."""
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, callbacks=callbacks,
                         enable_progress_bar=False, enable_model_summary=False, logger=False,
                         enable_checkpointing=False, limit_train_batches=2,
                         limit_val_batches=1, **settings)
    trainer.fit(model())
    return trainer


class LaterAcc(TinyNet):
    """Logs ``val_acc`` from epoch ``first`` on, every ``every`` epochs (``val_loss`` in
    every validation): an expensive metric, or one that means nothing before a warm-up."""

    def __init__(self, width: int = 8, first: int = 1, every: int = 1) -> None:
        super().__init__(width=width)
        self.first, self.every = first, every

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        if self.current_epoch >= self.first and (self.current_epoch - self.first) % self.every == 0:
            self.log("val_acc", (logits.argmax(-1) == y).float().mean())
