"""Whether GDAS can learn each ``LayerChoice`` and ``Repeat`` decision of a supernet.

GDAS runs only the sampled candidate (depth) of such a decision, scaled by its
straight-through one-hot weight, so the decision's logits learn from the loss's gradient
with respect to that one weight. When the network undoes the weight's scale, as a
BatchNorm in training mode right after the choice does, that gradient is zero (or float
noise, which Adam turns into steps of full size in random directions): the decision never
learns and its derived value is the logits' random start. ``check_gdas_reach`` runs the
first training batch with the BatchNorm layers in training mode (batch statistics; the
other layers in eval mode, so dropout draws nothing) and each such weight doubled, and
warns, before the first step, of the decisions whose predictions stay the same (was:
trained, and derived a random value, silently). A warning, not an error: the other
decisions learn, and every derived candidate is still scored as it is exported. Width
and kernel decisions are not asked: their
unsampled values shape the channel and kernel masks, whose gradient the scale does not
decide. A choice whose output is all zeros on the batch (a residual branch whose last
BatchNorm starts at zero scale) is not asked either: nothing can be told of it yet.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import LayerChoice
    >>> _ = torch.manual_seed(0)  # a feature of tiny variance can pass REACH_RTOL
    >>> net = nn.Sequential(LayerChoice([nn.Linear(2, 4), nn.Linear(2, 4)], label="op"),
    ...                     nn.BatchNorm1d(4), nn.Linear(4, 3))
    >>> one = {"op": torch.tensor([1.0, 0.0])}
    >>> import warnings
    >>> with warnings.catch_warnings(record=True), torch.no_grad():
    ...     check_gdas_reach(net, torch.rand(8, 2), one, {"op": 0})
    ['op']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from lightning_nas.oneshot.base import ChoiceModule
from lightning_nas.oneshot.choices import LayerChoice, Repeat
from lightning_nas.oneshot.mixed import mixed
from lightning_nas.oneshot.random_state import preserved_rng
from lightning_nas.train_modes import kept_modes
from lightning_nas.user_warnings import warn_rank_zero

__all__ = ["REACH_RTOL", "check_gdas_reach"]

#: predictions that change by at most this part of their largest magnitude when a decision's
#: weight is doubled are taken as unchanged: BatchNorm's eps leaves 1e-4 to 2e-3 (features
#: of small variance); a choice that reaches the predictions moves them by far more
REACH_RTOL = 1e-2


def check_gdas_reach(model: nn.Module, x: Any, weights: Mapping[str, torch.Tensor],
                     index: Mapping[str, int], darts: str = "algorithm='darts'") -> list[str]:
    """Warn of (and return) the ``LayerChoice``/``Repeat`` decisions of ``model`` whose
    doubled one-hot weight (``weights``, the sampled positions ``index``) leaves the
    predictions on ``x`` unchanged with batch statistics (see the module docstring). The
    model's buffers (BatchNorm statistics), modes and torch's random state are kept; call
    it under ``torch.no_grad()``. ``darts``: how the warning names the switch to DARTS
    (``lightning-nas oneshot``: ``--oneshot.algorithm=darts``)."""
    modules = _sampled_alone(model, index)
    if not modules:
        return []
    nonzero: dict[str, bool] = {}

    def record(module: nn.Module, _args: Any, out: Any) -> None:
        live = any(bool(t.detach().abs().max() > 0) for t in _tensors(out) if t.numel())
        nonzero[module.label] = nonzero.get(module.label, False) or live

    saved = [(b, b.detach().clone()) for b in model.buffers()]
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        with kept_modes(model), preserved_rng(device):
            model.eval()
            for module in model.modules():
                if isinstance(module, _BatchNorm):
                    module.train()
            hooks = [m.register_forward_hook(record) for m in modules]
            try:
                base = _run(model, x, weights, index)
            finally:
                for hook in hooks:
                    hook.remove()
            scale = max((float(t.detach().abs().max()) for t in base if t.numel()), default=0.0)
            # each decision that ran is run doubled whatever its output: every rank runs as
            # many forwards (a SyncBatchNorm's all-reduce in each)
            doubled = {label: _run(model, x, {**weights, label: 2 * weights[label]}, index)
                       for label in nonzero}
            stuck = [label for label, out in doubled.items()
                     if scale and nonzero[label] and _unchanged(base, out, scale)]
    finally:
        for buffer, value in saved:
            buffer.copy_(value)
    if stuck:
        said = ", ".join(repr(label) for label in stuck)
        warn_rank_zero(
            f"GDAS cannot learn choice{'s' if len(stuck) > 1 else ''} {said}: it runs the "
            f"sampled candidate alone, scaled by a one-hot weight whose gradient trains the "
            f"logits, and the network's predictions on the first training batch stay the "
            f"same when that weight is doubled (a BatchNorm after the choice undoes the "
            f"scale), so {'their' if len(stuck) > 1 else 'its'} logits get no gradient "
            f"(or float noise) and the derived value is chance; search with "
            f"{darts} (which mixes every candidate), or let the choice's output "
            f"reach the predictions along a path that keeps its scale (a residual sum "
            f"x + choice(x))", UserWarning)
    return stuck


def _sampled_alone(model: nn.Module, index: Mapping[str, int]) -> list[nn.Module]:
    """The ``LayerChoice``/``Repeat`` modules of sampled decisions that no width or kernel
    decision shares a label with."""
    other = {label for module in model.modules()
             if isinstance(module, ChoiceModule) and not isinstance(module, (LayerChoice, Repeat))
             for label in module.decisions()}
    return [m for m in model.modules() if isinstance(m, (LayerChoice, Repeat))
            and m.label in index and m.label not in other]


def _run(model: nn.Module, x: Any, weights: Mapping[str, torch.Tensor],
         index: Mapping[str, int]) -> list[torch.Tensor]:
    """The prediction tensors of one mixed forward (the BatchNorm statistics it updates
    are the caller's to reset)."""
    with mixed(model, weights, index):
        return _tensors(model(x))


def _unchanged(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor], scale: float) -> bool:
    return len(a) == len(b) and all(
        s.shape == t.shape and (not s.numel() or float((s - t).abs().max()) <= REACH_RTOL * scale)
        for s, t in zip(a, b, strict=True))


def _tensors(out: Any) -> list[torch.Tensor]:
    """The floating-point tensors in ``out`` (a tensor, or mappings/sequences of them)."""
    if isinstance(out, torch.Tensor):
        return [out] if out.is_floating_point() else []
    if isinstance(out, Mapping):
        return [t for value in out.values() for t in _tensors(value)]
    if isinstance(out, (list, tuple)):
        return [t for value in out for t in _tensors(value)]
    return []
