"""Mixed forward of the choice modules, for differentiable NAS (DARTS, GDAS).

While ``mixed(model, weights)`` is active, every choice module of ``model`` whose label has
a weight vector (one weight per value of the decision, in the order of ``space_of``) runs
all its values at once and returns their weighted sum; a decision without weights keeps its
active value (single path, as ``set_path`` left it). Outside the context nothing changes:
``set_path``, ``get_path`` and ``export_subnet`` work as for single-path one-shot NAS.

- ``LayerChoice``: ``sum_i w_i * candidate_i(x)``.
- ``Repeat``: ``sum_d w_d * (x after the first d blocks)``, one pass through the blocks.
- ``ChoiceConv2d`` kernel sizes: one convolution with the largest kernel masked by
  ``sum_j w_j * centre_mask(k_j)`` (the same as the weighted sum of the outputs of each
  kernel size: a smaller kernel is the zero-padded centre of the largest).
- ``ChoiceConv2d`` / ``ChoiceLinear`` widths: the widest output times the channel mask
  ``m_c = sum_{i: width_i > c} w_i``: the weighted sum of each width's output, zero-padded
  to the widest. BatchNorm would undo a mask on its input, so the mask of the last width
  decision (in forward order) is applied again after every ``ChoiceBatchNorm2d`` and every
  width-following ``ChoiceConv2d`` whose channels it fits; a choice layer with a fixed
  width ends it. This assumes what the choice modules assume: layers that follow the width
  of their input come after the layer whose width they follow. Ops between two layers see
  the masked values (``f(m_c * y_c)``: the weighted sum for ReLU-like ops, an
  approximation for others), and the channels that no weighted width covers (``m_c = 0``)
  are zeroed again after a ``LayerChoice`` and before a ``ChoiceConv2d`` / ``ChoiceLinear``
  reads them, so an op with ``f(0) != 0`` (a sigmoid) cannot turn them into constants.
- Hard weights (GDAS: a straight-through one-hot sample, ``index`` names the sampled value)
  run only the sampled candidate of a ``LayerChoice`` and only the sampled depth of a
  ``Repeat``; widths and kernels use the (one-hot) masks. One-hot weights (with or without
  ``index``) compute exactly the single path of their values, whatever the activations.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import LayerChoice
    >>> layer = LayerChoice({"neg": nn.Identity(), "relu": nn.ReLU()}, label="act")
    >>> x = torch.tensor([-2.0, 4.0])
    >>> with mixed(layer, {"act": torch.tensor([0.25, 0.75])}):
    ...     layer(x)
    tensor([-0.5000,  4.0000])
    >>> layer.mixing is None  # single path again
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["Mixable", "Mixing", "kernel_mask", "mixed", "width_mask"]


class Mixing:
    """The mixing weights of one forward pass and the channel mask it carries.

    Args:
        weights: ``{label: 1-D tensor}``, one weight per value of the decision (in the
            order of its values).
        index: ``{label: position}`` of the sampled value for hard (one-hot) weights: only
            that candidate runs; labels not in it run every candidate.

    Attributes:
        mask: the channel mask of the last width decision in forward order (None: none).
    """

    def __init__(self, weights: Mapping[str, torch.Tensor],
                 index: Mapping[str, int] | None = None) -> None:
        self.weights = dict(weights)
        self.index = dict(index or {})
        self.mask: torch.Tensor | None = None

    def picks(self, label: str, n: int) -> list[int]:
        """Positions of the values of ``label`` that run (the sampled one, or all ``n``)."""
        return [self.index[label]] if label in self.index else list(range(n))

    def widen(self, out: torch.Tensor, widths: Sequence[int], label: str,
              dim: int = 1) -> torch.Tensor:
        """``out`` (the widest output) times the channel mask of ``label``'s weights along
        ``dim``; the mask is kept for the layers that follow this width."""
        self.mask = width_mask(widths, self.weights[label])
        return self.follow(out, dim)

    def follow(self, out: torch.Tensor, dim: int = 1) -> torch.Tensor:
        """``out`` times the current channel mask along ``dim`` if the mask fits it."""
        shape = self._fits(out, dim)
        return out if shape is None else out * self.mask.view(shape)

    def confine(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        """``x`` with the channels the current mask zeroes (``m_c == 0``) zeroed again along
        ``dim``, if the mask fits it: an op with ``f(0) != 0`` after a width (a sigmoid)
        fills them, and the next layer would read them. Only the mask's support applies, so
        one-hot weights run exactly the sampled subnet and soft ones (``m > 0``) are kept."""
        shape = self._fits(x, dim)
        return x if shape is None else x * (self.mask != 0).to(x.dtype).view(shape)

    def _fits(self, x: object, dim: int) -> list[int] | None:
        """The shape to view the mask in to broadcast it along ``dim`` of ``x`` (None: no
        mask, or it does not fit)."""
        mask = self.mask
        if (mask is None or not isinstance(x, torch.Tensor) or x.dim() <= dim % x.dim()
                or mask.numel() != x.shape[dim]):
            return None
        shape = [1] * x.dim()
        shape[dim] = -1
        return shape

    def combine(self, label: str, branches: Sequence[Callable[[], torch.Tensor]]
                ) -> torch.Tensor:
        """``sum_i w_i * branches[i]()`` over the picked values; each branch starts from the
        channel mask in force before it."""
        weights, start, out = self.weights[label], self.mask, None
        for i in self.picks(label, len(branches)):
            self.mask = start
            term = weights[i] * branches[i]()
            out = term if out is None else out + term
        self.mask = start
        return out

    def stack(self, label: str, depths: Sequence[int], blocks: Sequence[nn.Module],
              x: torch.Tensor) -> torch.Tensor:
        """``sum_d w_d * (x after the first d blocks)`` over the picked depths, in one pass
        through the blocks."""
        weights = self.weights[label]
        wanted = {depths[i]: i for i in self.picks(label, len(depths))}
        last, out = max(wanted), None
        for d in range(last + 1):
            if d in wanted:
                term = weights[wanted[d]] * x
                out = term if out is None else out + term
            if d < last:
                x = blocks[d](x)
        return out


class Mixable:
    """A module that runs mixed while ``mixing`` is set (by ``mixed``)."""

    mixing: Mixing | None = None


def width_mask(widths: Sequence[int], weights: torch.Tensor) -> torch.Tensor:
    """``m_c = sum_{i: widths[i] > c} weights[i]`` for ``c < max(widths)``.

    Example:
        >>> width_mask([1, 3], torch.tensor([0.25, 0.75]))
        tensor([1.0000, 0.7500, 0.7500])
    """
    table = torch.zeros(len(widths), max(widths))
    for i, width in enumerate(widths):
        table[i, :width] = 1.0
    return weights @ table.to(weights)


def kernel_mask(kernels: Sequence[int], weights: torch.Tensor, k_max: int) -> torch.Tensor:
    """``sum_j weights[j] * centre_mask(kernels[j])`` as a ``k_max x k_max`` tensor.

    Example:
        >>> kernel_mask([1, 3], torch.tensor([0.5, 0.5]), 3)
        tensor([[0.5000, 0.5000, 0.5000],
                [0.5000, 1.0000, 0.5000],
                [0.5000, 0.5000, 0.5000]])
    """
    table = torch.zeros(len(kernels), k_max, k_max)
    for j, k in enumerate(kernels):
        start = (k_max - k) // 2
        table[j, start:start + k, start:start + k] = 1.0
    return torch.einsum("n,nij->ij", weights, table.to(weights))


@contextmanager
def mixed(model: nn.Module, weights: Mapping[str, torch.Tensor],
          index: Mapping[str, int] | None = None) -> Iterator[Mixing]:
    """Run the choice modules of ``model`` mixed with ``weights`` inside the context (see the
    module docstring); single path again on exit, so nothing holds the weights' graph."""
    state = Mixing(weights, index)
    modules = [m for m in model.modules() if isinstance(m, Mixable)]
    for module in modules:
        module.mixing = state
    try:
        yield state
    finally:
        for module in modules:
            module.mixing = None
