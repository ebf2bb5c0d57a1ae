"""Mixed forward of the choice modules, for differentiable NAS (DARTS, GDAS).

While ``mixed(model, weights)`` is active, every choice module of ``model`` whose label has
a weight vector (one weight per value of the decision, in the order of ``space_of``) runs
all its values at once and returns their weighted sum; a decision without weights keeps its
active value (single path, as ``set_path`` left it). Outside the context nothing changes:
``set_path``, ``get_path`` and ``export_subnet`` work as for single-path one-shot NAS.

- ``LayerChoice``: ``sum_i w_i * candidate_i(x)`` (candidates of different output shapes:
  a ``ConfigError`` naming the choice, its values and their shapes).
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
  The mask keeps the axis it was made along (dim 1 of a convolution's output, the last
  one of a linear layer's) while the tensors keep their number of dims; after a flatten
  or a view it goes along the channel axis of the layer that reads it. A ``LayerChoice``
  or ``Repeat`` passes on the mask its weighted values end with (None where they differ).
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
from typing import Any

import torch
from torch import nn

from lightning_nas.errors import ConfigError

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
        dim: the axis of ``mask`` in tensors of ``ndim`` dims (set where it is made or
            applied: a view that changes the number of dims leaves the reader's axis).
    """

    def __init__(self, weights: Mapping[str, torch.Tensor],
                 index: Mapping[str, int] | None = None) -> None:
        self.weights = dict(weights)
        self.index = dict(index or {})
        self.mask: torch.Tensor | None = None
        self.dim, self.ndim = 1, 0

    def picks(self, label: str, n: int) -> list[int]:
        """Positions of the values of ``label`` that run (the sampled one, or all ``n``)."""
        return [self.index[label]] if label in self.index else list(range(n))

    def widen(self, out: torch.Tensor, widths: Sequence[int], label: str,
              dim: int = 1) -> torch.Tensor:
        """``out`` (the widest output) times the channel mask of ``label``'s weights along
        ``dim``; the mask (and its axis) is kept for the layers that follow this width."""
        self.mask, self.dim, self.ndim = width_mask(widths, self.weights[label]), dim, out.dim()
        return self.follow(out, dim)

    def follow(self, out: torch.Tensor, dim: int = 1) -> torch.Tensor:
        """``out`` times the current channel mask along ``dim`` (the channel axis of the
        layer that returns ``out``, keeping its input's width) if the mask lies along that
        axis and fits it."""
        axis = self._axis(out, dim)
        if axis is None or axis != dim % out.dim():
            return out
        return out * self.mask.view(self._shape(out, axis))

    def confine(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        """``x`` with the channels the current mask zeroes (``m_c == 0``) zeroed again along
        its axis (``dim`` after a view changed the number of dims), if the mask fits it: an
        op with ``f(0) != 0`` after a width (a sigmoid) fills them, and the next layer would
        read them. Only the mask's support applies, so one-hot weights run exactly the
        sampled subnet and soft ones (``m > 0``) are kept."""
        axis = self._axis(x, dim)
        if axis is None:
            return x
        return x * (self.mask != 0).to(x.dtype).view(self._shape(x, axis))

    def _axis(self, x: object, dim: int) -> int | None:
        """The axis of ``x`` the mask lies along: its own while ``x`` has the number of dims
        of the tensor it was made or last applied on, else ``dim`` (None: no mask, or it
        does not fit)."""
        if self.mask is None or not isinstance(x, torch.Tensor) or x.dim() == 0:
            return None
        axis = self.dim % x.dim() if x.dim() == self.ndim else dim
        if not -x.dim() <= axis < x.dim() or x.shape[axis] != self.mask.numel():
            return None
        return axis % x.dim()

    def _shape(self, x: torch.Tensor, axis: int) -> list[int]:
        """The shape to view the mask in along ``axis`` of ``x``; the mask lies there now."""
        self.dim, self.ndim = axis, x.dim()
        shape = [1] * x.dim()
        shape[axis] = -1
        return shape

    def _state(self) -> tuple[torch.Tensor | None, int, int]:
        return self.mask, self.dim, self.ndim

    def _settle(self, ends: Sequence[tuple[torch.Tensor, tuple]]) -> None:
        """Keep the mask (with its axis) that the weighted values end with: ``ends`` holds
        ``(weight, state)`` per value run. Values whose weight is 0 (one-hot) do not count;
        where the others differ, no mask (a fixed width in one value makes every channel
        live in the sum)."""
        def same(a: tuple, b: tuple) -> bool:
            if a[0] is None or b[0] is None:
                return a[0] is b[0]
            return a[1:] == b[1:] and (a[0] is b[0] or (a[0].shape == b[0].shape
                                                        and torch.equal(a[0], b[0])))

        states = [state for _, state in ends]
        if any(not same(states[0], state) for state in states[1:]):
            states = [state for weight, state in ends if bool(weight != 0)] or states
        agree = all(same(states[0], state) for state in states[1:])
        self.mask, self.dim, self.ndim = states[0] if agree else (None, 1, 0)

    def combine(self, label: str, branches: Sequence[Callable[[], torch.Tensor]],
                values: Sequence[Any] | None = None) -> torch.Tensor:
        """``sum_i w_i * branches[i]()`` over the picked values; each branch starts from the
        channel mask in force before it, and the mask they end with is kept (``_settle``).

        Raises:
            ConfigError: the branches return tensors of different shapes, naming ``label``,
                the ``values`` and their output shapes (was: torch's size error in the sum).
        """
        weights, start, terms, ends = self.weights[label], self._state(), {}, []
        for i in self.picks(label, len(branches)):
            self.mask, self.dim, self.ndim = start
            terms[i] = weights[i] * branches[i]()
            ends.append((weights[i], self._state()))
        shapes = {i: tuple(term.shape) for i, term in terms.items()}
        if len(set(shapes.values())) > 1:
            names = list(values) if values is not None else list(range(len(branches)))
            said = ", ".join(f"{names[i]!r}: {shape}" for i, shape in shapes.items())
            raise ConfigError(f"choice {label!r}: DARTS sums the outputs of its candidates, "
                              f"which must have one shape; got {said}; make them return one "
                              f"shape (e.g. project to one width), or search with GDAS or "
                              f"SPOS, which run one candidate at a time")
        self._settle(ends)
        out = None
        for term in terms.values():
            out = term if out is None else out + term
        return out

    def stack(self, label: str, depths: Sequence[int], blocks: Sequence[nn.Module],
              x: torch.Tensor) -> torch.Tensor:
        """``sum_d w_d * (x after the first d blocks)`` over the picked depths, in one pass
        through the blocks; the mask they end with is kept (``_settle``)."""
        weights = self.weights[label]
        wanted = {depths[i]: i for i in self.picks(label, len(depths))}
        last, out, ends = max(wanted), None, []
        for d in range(last + 1):
            if d in wanted:
                term = weights[wanted[d]] * x
                out = term if out is None else out + term
                ends.append((weights[wanted[d]], self._state()))
            if d < last:
                x = blocks[d](x)
        self._settle(ends)
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
