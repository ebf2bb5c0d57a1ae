"""The architecture weights of a differentiable search (DARTS, GDAS) as functions of its
logits: ``DifferentiableNAS`` (``oneshot.differentiable``) holds one logit vector per
decision and computes from them, through these, the weights of each mixed forward
(``oneshot.mixed``).

- ``initial_logits``: the logits' start, drawn from ``seed`` (``1e-3`` times a standard
  normal per value).
- ``mix_weights``: DARTS: every value mixed with ``softmax(alpha)``. GDAS: a
  straight-through Gumbel-softmax one-hot sample per decision at temperature ``tau``, so
  that only the sampled candidate of a ``LayerChoice`` / depth of a ``Repeat`` runs; the
  argmax one-hot when nothing is sampled (validation, scoring).
- ``gdas_temperature``: GDAS's ``tau``, decayed from ``tau_max`` to ``tau_min`` over the
  epochs (``TAU_SCHEDULES``).
- ``noise_key``: GDAS noise is drawn from ``(seed, epoch, batch)``: identical on every rank
  and after a resume.

Example:
    >>> logits = {"act": torch.tensor([0.0, 1.0])}
    >>> weights, index = mix_weights(logits, gdas=True, tau=1.0, key=None)
    >>> index, weights["act"].tolist()
    ({'act': 1}, [0.0, 1.0])
    >>> gdas_temperature(2, 3, tau_max=10.0, tau_min=0.1, schedule="exponential")
    0.1
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ALGORITHMS", "TAU_SCHEDULES", "gdas_temperature", "initial_logits", "mix_weights",
           "noise_key"]

#: the differentiable algorithms
ALGORITHMS = ("darts", "gdas")
#: GDAS temperature schedules from ``tau_max`` to ``tau_min``
TAU_SCHEDULES = ("exponential", "linear")


def initial_logits(sizes: Mapping[str, int], seed: int) -> nn.ParameterDict:
    """The logits' seeded start.

    Args:
        sizes: the number of values per key of the ``ParameterDict``, in decision order.
        seed: seeds the draw.

    Returns:
        One logit vector per key, ``1e-3`` times a standard normal draw.
    """
    generator = torch.Generator().manual_seed(seed)
    return nn.ParameterDict({
        key: nn.Parameter(1e-3 * torch.randn(size, generator=generator))
        for key, size in sizes.items()})


def mix_weights(logits: Mapping[str, torch.Tensor], gdas: bool, tau: torch.Tensor | float,
                key: int | None) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """The weights of one mixed forward (``oneshot.mixed``).

    Args:
        logits: the architecture logits per decision (one per value).
        gdas: GDAS (else DARTS).
        tau: GDAS's temperature.
        key: seeds GDAS's Gumbel noise; None: no sample, the argmax one-hot.

    Returns:
        ``(weights, index)``: DARTS the softmax per decision (no index); GDAS a
        straight-through Gumbel one-hot sample drawn from ``key`` (else the argmax one-hot)
        and the chosen value's index per decision.
    """
    weights: dict[str, torch.Tensor] = {}
    index: dict[str, int] = {}
    generator = torch.Generator().manual_seed(key) if gdas and key is not None else None
    for label, alpha in logits.items():
        if not gdas:
            weights[label] = F.softmax(alpha, -1)
            continue
        if generator is not None:
            u = torch.rand(alpha.shape, generator=generator).clamp_(1e-12, 1 - 1e-7)
            soft = F.softmax((alpha - torch.log(-torch.log(u)).to(alpha)) / tau, -1)
        else:
            soft = F.softmax(alpha, -1)
        index[label] = int(soft.detach().argmax())
        hard = F.one_hot(torch.tensor(index[label]), alpha.numel()).to(soft)
        weights[label] = hard - soft.detach() + soft if generator is not None else hard
    return weights, index


def gdas_temperature(epoch: int, epochs: int, tau_max: float, tau_min: float,
                     schedule: str) -> float:
    """GDAS temperature in (0-based) ``epoch`` of ``epochs``.

    Args:
        epoch: the epoch, from 0.
        epochs: the epochs the temperature decays over (``tau_min`` from the last on).
        tau_max: the temperature of the first epoch.
        tau_min: the temperature of the last.
        schedule: ``"linear"``, else exponential (``TAU_SCHEDULES``).

    Returns:
        The temperature.
    """
    frac = min(1.0, epoch / max(1, epochs - 1))
    if schedule == "linear":
        return tau_max + (tau_min - tau_max) * frac
    return tau_max * (tau_min / tau_max) ** frac


def noise_key(seed: int, epoch: int, batch_idx: int, phase: int) -> int:
    """The key of a training step's GDAS noise.

    Args:
        seed: the search's seed.
        epoch: the current epoch.
        batch_idx: the batch in the epoch.
        phase: 1 for the logits' step, 0 for the weights'.

    Returns:
        A key below ``2 ** 62`` that depends on these alone.
    """
    return (((seed * 1_000_003 + epoch) * 1_000_003 + batch_idx) * 2 + phase) % 2 ** 62
