"""The checkpoint state of ``OneShotNAS`` (``oneshot.callback``): its mixin ``SposState``.

``state_dict`` keeps the search's history, the path sampler's random state, the best so far,
torch's random state (of the next epoch's start after Lightning's repeat of the checkpoint's
epoch end), the optimizers' rates as built, whether the fit ended and the last search's
calibration draw, as plain data; ``load_state_dict`` restores them (torch's random state at
once, so a resumed fit draws the shuffles the uninterrupted one drew) and
``on_load_checkpoint`` reads the epochs the checkpoint holds (``fit_end.saved_epochs``).

Example:
    >>> from lightning_nas.oneshot.callback import OneShotNAS
    >>> state = OneShotNAS(seed=3).state_dict()
    >>> state["history"], state["best_arch"], state["ended"]
    ([], None, False)
"""

from __future__ import annotations

import random
from typing import Any

import lightning.pytorch as pl
import torch

from lightning_nas.oneshot.fit_end import saved_epochs
from lightning_nas.oneshot.random_state import rng_state, set_rng_state

__all__ = ["SposState"]


class SposState:
    """The checkpoint state of ``OneShotNAS`` (see the module docstring), for the callback
    that sets the attributes below and names its state (``state_key``).

    Attributes:
        history: each subnet scored, with its epoch and score.
        rng: the path sampler (``random.Random``).
        best_arch, best_score: the best subnet so far and its score.
    """

    history: list[dict[str, Any]]
    rng: random.Random
    best_arch: dict[str, Any] | None
    best_score: float | None
    state_key: str
    _device: torch.device
    _epoch_rng: dict[str, Any] | None
    _rates: Any
    _resume_rates: Any
    _ended: bool
    _calibrated: dict[str, Any] | None
    _loaded_rng: dict[str, Any] | None
    _loaded_epochs: int | None

    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {"history": self.history, "rng": [version, list(internal), gauss],
                "best_arch": self.best_arch, "best_score": self.best_score,
                "torch_rng": self._epoch_rng or rng_state(self._device), "rates": self._rates,
                "ended": self._ended,  # saved after on_train_end (fit_end.saved_epochs)
                "calibrated": self._calibrated}

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        state = (checkpoint.get("callbacks") or {}).get(self.state_key) or {}
        self._loaded_epochs = saved_epochs(checkpoint, bool(state.get("ended")))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))
        if state_dict.get("rng"):
            version, internal, gauss = state_dict["rng"]
            self.rng.setstate((version, tuple(internal), gauss))
        self.best_arch = state_dict.get("best_arch")
        self.best_score = state_dict.get("best_score")
        self._resume_rates = state_dict.get("rates")  # as built (a callback may change lr)
        self._calibrated = state_dict.get("calibrated")
        self._loaded_rng = state_dict.get("torch_rng")
        if self._loaded_rng is not None:
            # Lightning restores callbacks before it makes the first training iterator (the
            # sanity check in between keeps the random state): the resumed fit draws the
            # shuffles, dropout masks and calibration batches the uninterrupted one drew
            set_rng_state(state_dict["torch_rng"])
