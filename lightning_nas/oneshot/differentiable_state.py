"""The checkpoint state of ``DifferentiableNAS`` (DARTS, GDAS; ``oneshot.differentiable``):
its mixin ``CheckpointState``.

Beside the logits, both optimizers, the weights' lr schedulers and ``tau`` (Lightning's own),
the checkpoint's ``differentiable_nas`` entry holds the logits' ``history``, torch's random
state, GDAS's schedule length (``tau_epochs``), the optimizers' rates as built and whether
the fit ended; a resume reads them back, checking the checkpoint's algorithm
(``resume.check_resumed_algorithm``), and keeps what its fit compares (the schedule, the
rates, the lr schedulers saved) and sets (the random state: ``BilevelData``) as it starts.

Example:
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import LayerChoice
    >>> from lightning_nas.oneshot.differentiable import DifferentiableNAS
    >>> nas = DifferentiableNAS(LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()},
    ...                                     label="act"))
    >>> isinstance(nas, CheckpointState), "on_load_checkpoint" in vars(CheckpointState)
    (True, True)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch

from lightning_nas.oneshot.fit_end import saved_epochs
from lightning_nas.oneshot.random_state import rng_state
from lightning_nas.oneshot.resume import check_resumed_algorithm

__all__ = ["CheckpointState"]


class CheckpointState:
    """The checkpoint state of ``DifferentiableNAS`` (see the module docstring), for the
    LightningModule subclass that sets the attributes below (and ``hparams``).

    Attributes:
        history: the logits and probabilities of each epoch recorded so far.
    """

    history: list[dict[str, Any]]
    device: torch.device
    _rates: Any
    _ended: bool
    _resume_rng: dict[str, Any] | None
    _resume_epochs: int | None
    _resume_tau_epochs: int | None
    _resume_tau: Mapping[str, Any] | None
    _resume_groups: Any
    _saved_schedules: int | None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)  # its keys, then the search's (kept)
        checkpoint["differentiable_nas"] = {"history": copy.deepcopy(self.history),
                                            "rng": rng_state(self.device),
                                            "tau_epochs": self._tau_epochs(), "rates": self._rates,
                                            "ended": self._ended}  # (fit_end.saved_epochs)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_resumed_algorithm(checkpoint.get("hyper_parameters"), self.hparams.algorithm)
        state = checkpoint.get("differentiable_nas") or {}
        self.history = list(state.get("history", []))
        self._resume_rng = state.get("rng")
        self._resume_epochs = saved_epochs(checkpoint, bool(state.get("ended")))
        self._resume_tau_epochs = state.get("tau_epochs")
        self._resume_tau = checkpoint.get("hyper_parameters")  # its tau_max, tau_min, ...
        self._resume_groups = state.get("rates")  # as built (a callback may change lr later)
        self._saved_schedules = len(checkpoint.get("lr_schedulers") or [])  # (older: none)
        super().on_load_checkpoint(checkpoint)
