"""The architecture logits of a differentiable search (DARTS, GDAS) as ``DifferentiableNAS``
(``oneshot.differentiable``) answers for them: ``ArchLogits``, a base class of it.

- ``logits``, ``probabilities`` (``softmax(alpha)``) and ``derived_arch`` (the argmax
  value of every decision, or the ``k`` most probable architectures: ``derive.top_archs``)
  per decision of the supernet.
- ``mixing_weights`` and ``temperature``: the weights of one mixed forward and GDAS's
  temperature of an epoch, computed by ``oneshot.arch_weights``.
- The logits' record: per epoch (at its end, and after its validation in a fit) the logits
  and probabilities go to ``history`` (``_record``), which ``alpha_history`` returns with
  the values of each decision (the content of ``alphas.json``) and the checkpoint keeps.

Example:
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import LayerChoice
    >>> from lightning_nas.oneshot.differentiable import DifferentiableNAS
    >>> nas = DifferentiableNAS(LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()},
    ...                                     label="act"))
    >>> isinstance(nas, ArchLogits), list(nas.probabilities())
    (True, ['act'])
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from lightning_nas.oneshot.arch_weights import gdas_temperature, mix_weights
from lightning_nas.oneshot.derive import top_archs

__all__ = ["ArchLogits"]


class ArchLogits:
    """The logits' side of ``DifferentiableNAS`` (see the module docstring), for a
    LightningModule subclass that sets the attributes below and has the hyperparameters
    ``algorithm``, ``tau_max``, ``tau_min`` and ``tau_schedule`` (``hparams``).

    Attributes:
        alphas: one logit vector per decision, under its key in ``_keys``.
        choices: the values of each decision, in the supernet's order.
        tau: GDAS's temperature of this epoch (a buffer).
        history: the logits and probabilities of each epoch recorded so far.
    """

    alphas: nn.ParameterDict
    choices: dict[str, list[Any]]
    _keys: dict[str, str]
    tau: torch.Tensor
    history: list[dict[str, Any]]

    def logits(self, label: str) -> torch.Tensor:
        """The architecture logits of decision ``label`` (one per value)."""
        return self.alphas[self._keys[label]]

    def probabilities(self) -> dict[str, list[float]]:
        """``softmax(alpha)`` per decision, in the order of its values."""
        return {label: F.softmax(self.logits(label).detach().float(), -1).tolist()
                for label in self.choices}

    def derived_arch(self, k: int = 1) -> dict[str, Any] | list[dict[str, Any]]:
        """The argmax value of every decision (``k`` > 1: the ``k`` most probable
        architectures, most probable first; ``k`` no integer >= 1: a ``ConfigError``)."""
        archs = [arch for arch, _ in top_archs(self.choices, self.probabilities(), k)]
        return archs[0] if k == 1 else archs

    def mixing_weights(self, sample: bool, key: int = 0
                       ) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        """``(weights, index)`` of one mixed forward (``oneshot.mixed``): DARTS the softmax;
        GDAS a straight-through Gumbel one-hot sample drawn from ``key`` when ``sample``,
        else the argmax one-hot (``arch_weights.mix_weights``)."""
        return mix_weights({label: self.logits(label) for label in self.choices},
                           self.hparams.algorithm == "gdas", self.tau, key if sample else None)

    def temperature(self, epoch: int, epochs: int) -> float:
        """GDAS temperature in (0-based) ``epoch`` of ``epochs`` (``arch_weights``)."""
        hp = self.hparams
        return gdas_temperature(epoch, epochs, hp.tau_max, hp.tau_min, hp.tau_schedule)

    def _record(self) -> None:
        """This epoch's logits and probabilities (GDAS: and temperature) in ``history``
        (replaced if recorded)."""
        entry = {"epoch": self.current_epoch + 1,
                 "logits": {label: self.logits(label).detach().float().tolist()
                            for label in self.choices},
                 "probs": self.probabilities()}
        if self.hparams.algorithm == "gdas":  # DARTS's softmax takes no temperature (was:
            entry["tau"] = float(self.tau)  # GDAS's schedule, in DARTS's alphas.json too)
        if self.history and self.history[-1]["epoch"] == entry["epoch"]:
            self.history[-1] = entry
        else:
            self.history.append(entry)

    def alpha_history(self) -> dict[str, Any]:
        """``{"algorithm", "values": {decision: values}, "history": [per epoch]}`` (the
        content of ``alphas.json``), a copy: changing it changes nothing of the module
        (was: ``values`` was the module's own ``choices``)."""
        return copy.deepcopy({"algorithm": self.hparams.algorithm, "values": self.choices,
                              "history": self.history})
