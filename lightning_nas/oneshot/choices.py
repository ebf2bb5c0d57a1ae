"""Weight-sharing supernets: choice modules, their search space, paths and subnet export.

Write the network once with choice modules: ``space_of`` derives its search space,
``set_path`` activates a path (one value per decision), and ``export_subnet`` turns the
supernet into a plain ``torch.nn`` network of the chosen ops with their shared weights.

- ``LayerChoice({"relu": nn.ReLU(), "gelu": nn.GELU()}, label="act")``: one of named ops.
- ``ChoiceConv2d(in_max, [16, 32, 64], kernel_size=[3, 5], label="conv1")``: widths and
  kernel sizes are slices of one weight (``weight[:out, :in]``, centre crop of the kernel).
- ``ChoiceLinear(in_max, [64, 128], label="fc")``, ``ChoiceBatchNorm2d(max_channels)``: slices
  that follow the width of their input.
- ``Repeat(make_block, [1, 2, 3], label="depth")``: the first ``d`` of 3 blocks.
- Inside ``lightning_nas.oneshot.mixed.mixed(model, weights)`` they run every value at
  once, weighted (differentiable NAS: DARTS, GDAS).

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(ChoiceConv2d(1, [8, 16], kernel_size=[3, 5], label="c1"),
    ...                     LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
    ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), ChoiceLinear(16, 10))
    >>> sorted(space_of(net).names())
    ['act', 'c1', 'c1_kernel']
    >>> set_path(net, {"c1": 8, "c1_kernel": 3, "act": "tanh"})
    >>> sub = export_subnet(net, torch.zeros(1, 1, 8, 8))
    >>> sub[0]
    Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from lightning_nas.errors import SpaceError
from lightning_nas.oneshot.base import (
    ChoiceModule,
    FollowsInput,
    check_values,
    check_width,
    one_width_each,
)
from lightning_nas.oneshot.mixed import Mixable, Mixing, kernel_mask
from lightning_nas.oneshot.paths import choice_modules, get_path, set_path, space_of
from lightning_nas.space import Choice, Ordered, Param
from lightning_nas.train_modes import kept_modes

__all__ = [
    "ChoiceBatchNorm2d",
    "ChoiceConv2d",
    "ChoiceLinear",
    "ChoiceModule",
    "LayerChoice",
    "Repeat",
    "choice_modules",
    "export_subnet",
    "frozen_as",
    "get_path",
    "set_path",
    "space_of",
]


class LayerChoice(ChoiceModule):
    """One of several candidate modules, by name.

    Args:
        candidates: ``{name: module}``, or a list (names ``"0"``, ``"1"``, ...).
        label: the decision's name in the search space.
    """

    def __init__(self, candidates: Mapping[str, nn.Module] | Sequence[nn.Module],
                 label: str) -> None:
        super().__init__()
        if not isinstance(candidates, Mapping):
            candidates = {str(i): m for i, m in enumerate(candidates)}
        self.candidates = nn.ModuleDict(dict(candidates))
        self.label = label
        self.chosen = check_values(label, list(self.candidates))[0]

    def decisions(self) -> dict[str, Param]:
        return {self.label: Choice(list(self.candidates))}

    def activate(self, arch: Mapping[str, Any]) -> None:
        self.chosen = str(arch[self.label])

    def active(self) -> dict[str, Any]:
        return {self.label: self.chosen}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        mix, ops = self.mixing, self.candidates.values()
        if mix is None or self.label not in mix.weights:
            out = self.candidates[self.chosen](*args, **kwargs)
        else:
            out = mix.combine(self.label, [lambda o=o: o(*args, **kwargs) for o in ops],
                              list(self.candidates))
        return out if mix is None else mix.confine(out)  # sigmoid(0) fills masked channels

    def export(self) -> nn.Module:
        return self.candidates[self.chosen]

    def extra_repr(self) -> str:
        return f"label={self.label!r}, choices={list(self.candidates)}, chosen={self.chosen!r}"


class ChoiceConv2d(ChoiceModule, FollowsInput):
    """``Conv2d`` whose output width and kernel size are choices over one shared weight.

    The input width follows the input (``weight[:, :x.shape[1]]``); a smaller kernel is the
    centre crop of the largest; padding keeps the spatial size (``k // 2``).

    Args:
        in_channels: the largest input width (an int; not None: the weight is made for it).
        out_channels: output widths to choose from, an int (fixed), or None (as many as the
            input has: for blocks that keep the width).
        kernel_size: kernel sizes (odd) to choose from, or an int (fixed).
        stride: the convolution stride.
        bias: with a bias.
        label: name of the width decision; the kernel decision is ``<label>_kernel``.
    """

    def __init__(self, in_channels: int, out_channels: int | Sequence[int] | None,
                 kernel_size: int | Sequence[int] = 3, stride: int = 1, bias: bool = True,
                 label: str = "conv") -> None:
        super().__init__()
        self.label, self.stride = label, stride
        in_channels = check_width(label, "in_channels", in_channels)  # (was: torch's TypeError)
        self.widths = None if out_channels is None else check_values(
            label, out_channels, 1, none="None (keep the input width) is taken alone, "
                                         "out_channels=None, not in a list of widths")
        self.kernels = check_values(f"{label}_kernel", kernel_size, 1)
        if any(k % 2 == 0 for k in self.kernels):
            raise SpaceError(f"kernel sizes of {label!r} must be odd, got {self.kernels}")
        out_max = in_channels if self.widths is None else max(self.widths)
        k_max = max(self.kernels)
        self.weight = nn.Parameter(torch.empty(out_max, in_channels, k_max, k_max))
        self.bias = nn.Parameter(torch.zeros(out_max)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self.width = None if self.widths is None else self.widths[-1]
        self.kernel = self.kernels[-1]

    def decisions(self) -> dict[str, Param]:
        out: dict[str, Param] = {}
        if self.widths is not None and len(self.widths) > 1:
            out[self.label] = Ordered(self.widths)
        if len(self.kernels) > 1:
            out[f"{self.label}_kernel"] = Ordered(self.kernels)
        return out

    def activate(self, arch: Mapping[str, Any]) -> None:
        if self.widths is not None and len(self.widths) > 1:
            self.width = int(arch[self.label])
        if len(self.kernels) > 1:
            self.kernel = int(arch[f"{self.label}_kernel"])

    def active(self) -> dict[str, Any]:
        return {k: (self.width if k == self.label else self.kernel) for k in self.decisions()}

    def _sliced(self, c_in: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = c_in if self.width is None else self.width
        k_max, k = self.weight.shape[-1], self.kernel
        start = (k_max - k) // 2
        weight = self.weight[:out, :c_in, start:start + k, start:start + k]
        return weight, None if self.bias is None else self.bias[:out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mixing is not None:  # (reading only the channels of the input's width)
            return self._mixed(self.mixing.confine(x), self._seen(x.shape[1]), self.mixing)
        weight, bias = self._sliced(self._seen(x.shape[1]))
        return F.conv2d(x, weight, bias, self.stride, self.kernel // 2)

    def _mixed(self, x: torch.Tensor, c_in: int, mix: Mixing) -> torch.Tensor:
        """Kernel sizes as one masked largest kernel, widths as a mask on the widest."""
        wide = self.widths is not None and len(self.widths) > 1 and self.label in mix.weights
        out = c_in if self.widths is None else (self.weight.shape[0] if wide else self.width)
        weight, k_label = self.weight[:out, :c_in], f"{self.label}_kernel"
        if len(self.kernels) > 1 and k_label in mix.weights:
            kernel = weight.shape[-1]
            weight = weight * kernel_mask(self.kernels, mix.weights[k_label], kernel)
        else:
            kernel, start = self.kernel, (weight.shape[-1] - self.kernel) // 2
            weight = weight[..., start:start + kernel, start:start + kernel]
        bias = None if self.bias is None else self.bias[:out]
        y = F.conv2d(x, weight, bias, self.stride, kernel // 2)
        if wide:
            return mix.widen(y, self.widths, self.label)
        if self.widths is None:
            return mix.follow(y)
        mix.mask = None
        return y

    def export(self) -> nn.Module:
        if self.last_in is None:
            raise RuntimeError(f"run a forward pass before exporting {self.label!r}")
        weight, bias = self._sliced(self.last_in)
        conv = nn.Conv2d(weight.shape[1], weight.shape[0], self.kernel, self.stride,
                         self.kernel // 2, bias=bias is not None)
        with torch.no_grad():
            conv.weight.copy_(weight)
            if bias is not None:
                conv.bias.copy_(bias)
        return frozen_as(conv, self)

    def extra_repr(self) -> str:
        return (f"{self.weight.shape[1]}, widths={self.widths}, kernels={self.kernels}, "
                f"stride={self.stride}, label={self.label!r}, width={self.width}, "
                f"kernel={self.kernel}")


class ChoiceLinear(ChoiceModule, FollowsInput):
    """``Linear`` whose output width is a choice over one shared weight; the input width
    follows the input.

    Args:
        in_features: the largest input width (an int; not None: the weight is made for it).
        out_features: widths to choose from, or an int (fixed, e.g. the classes); not None
            (``ChoiceConv2d``'s ``out_channels=None`` alone keeps the input width).
        bias: with a bias.
        label: the decision's name.
    """

    def __init__(self, in_features: int, out_features: int | Sequence[int], bias: bool = True,
                 label: str = "linear") -> None:
        super().__init__()
        self.label = label
        in_features = check_width(label, "in_features", in_features)  # (was: torch's TypeError)
        self.widths = check_values(label, out_features, 1, none="None (keep the input width) "
                                   "is taken by ChoiceConv2d's out_channels only")
        self.weight = nn.Parameter(torch.empty(max(self.widths), in_features))
        self.bias = nn.Parameter(torch.zeros(max(self.widths))) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self.width = self.widths[-1]

    def decisions(self) -> dict[str, Param]:
        return {self.label: Ordered(self.widths)} if len(self.widths) > 1 else {}

    def activate(self, arch: Mapping[str, Any]) -> None:
        if len(self.widths) > 1:
            self.width = int(arch[self.label])

    def active(self) -> dict[str, Any]:
        return {self.label: self.width} if len(self.widths) > 1 else {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c_in, mix = self._seen(x.shape[-1]), self.mixing
        x = x if mix is None else mix.confine(x, -1)  # the channels of the input's width
        wide = mix is not None and len(self.widths) > 1 and self.label in mix.weights
        width = self.weight.shape[0] if wide else self.width
        bias = None if self.bias is None else self.bias[:width]
        out = F.linear(x, self.weight[:width, :c_in], bias)
        if wide:
            return mix.widen(out, self.widths, self.label, dim=-1)
        if mix is not None:
            mix.mask = None  # a fixed width ends the mask
        return out

    def export(self) -> nn.Module:
        if self.last_in is None:
            raise RuntimeError(f"run a forward pass before exporting {self.label!r}")
        linear = nn.Linear(self.last_in, self.width, bias=self.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(self.weight[:self.width, :self.last_in])
            if self.bias is not None:
                linear.bias.copy_(self.bias[:self.width])
        return frozen_as(linear, self)

    def extra_repr(self) -> str:
        return (f"{self.weight.shape[1]}, widths={self.widths}, label={self.label!r}, "
                f"width={self.width}")


#: ``torch.nn.BatchNorm2d``'s arguments, to read ``affine`` and ``track_running_stats``
_BATCHNORM = inspect.signature(nn.BatchNorm2d)


class ChoiceBatchNorm2d(nn.BatchNorm2d, FollowsInput, Mixable):
    """``BatchNorm2d`` over the first ``C`` channels of its statistics, ``C`` being the
    width of the input (it follows a ``ChoiceConv2d``); run mixed, it re-applies the mask.
    It takes ``torch.nn.BatchNorm2d``'s arguments; ``num_features``, the largest input width,
    is checked as ``ChoiceLinear``'s ``in_features`` where a weight or statistics are made
    for it (was: torch's bare ``TypeError`` for None).
    """

    def __init__(self, num_features: int, *args: Any, **kwargs: Any) -> None:
        try:
            given = _BATCHNORM.bind(num_features, *args, **kwargs)
        except TypeError:  # torch's own error for an argument it does not take
            given = None
        if given is not None:
            given.apply_defaults()
            if given.arguments["affine"] or given.arguments["track_running_stats"]:
                num_features = check_width("", "num_features", num_features,
                                           who=type(self).__name__,
                                           made="the weight and statistics are")
        super().__init__(num_features, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self._seen(x.shape[1])
        momentum = 0.0 if self.momentum is None else self.momentum  # (unused: no update)
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average (used to recalibrate statistics)
                momentum = 1.0 / float(self.num_batches_tracked)  # (was: also in eval mode,
                # a ZeroDivisionError before the first training step, or without statistics)
        use_batch = self.training or self.running_mean is None
        out = F.batch_norm(
            x, None if self.running_mean is None else self.running_mean[:c],
            None if self.running_var is None else self.running_var[:c],
            None if self.weight is None else self.weight[:c],
            None if self.bias is None else self.bias[:c],
            use_batch, momentum, self.eps)
        return out if self.mixing is None else self.mixing.follow(out)

    def export(self) -> nn.Module:
        c = self.last_in if self.last_in is not None else self.num_features
        bn = nn.BatchNorm2d(c, self.eps, self.momentum, self.affine, self.track_running_stats)
        with torch.no_grad():
            if self.affine:
                bn.weight.copy_(self.weight[:c])
                bn.bias.copy_(self.bias[:c])
            if self.track_running_stats:
                bn.running_mean.copy_(self.running_mean[:c])
                bn.running_var.copy_(self.running_var[:c])
                bn.num_batches_tracked.copy_(self.num_batches_tracked)
        return frozen_as(bn, self)


class Repeat(ChoiceModule):
    """A variable number of blocks in sequence: the first ``depth`` of ``max(depths)``.

    Args:
        block: a factory ``index -> nn.Module`` or a list of modules.
        depths: the numbers of blocks to choose from (0 allowed: the identity).
        label: the decision's name.
    """

    def __init__(self, block: Callable[[int], nn.Module] | Sequence[nn.Module],
                 depths: Sequence[int], label: str = "depth") -> None:
        super().__init__()
        self.label, self.depths = label, check_values(label, depths, 0)
        n = max(self.depths)
        blocks = [block(i) for i in range(n)] if callable(block) else list(block)[:n]
        if len(blocks) < n:
            raise SpaceError(f"Repeat {label!r} needs {n} blocks, got {len(blocks)}")
        self.blocks = nn.ModuleList(blocks)
        self.depth = self.depths[-1]

    def decisions(self) -> dict[str, Param]:
        return {self.label: Ordered(self.depths)} if len(self.depths) > 1 else {}

    def activate(self, arch: Mapping[str, Any]) -> None:
        if len(self.depths) > 1:
            self.depth = int(arch[self.label])

    def active(self) -> dict[str, Any]:
        return {self.label: self.depth} if len(self.depths) > 1 else {}

    def forward(self, x: Any) -> Any:
        mix = self.mixing
        if mix is not None and len(self.depths) > 1 and self.label in mix.weights:
            return mix.stack(self.label, self.depths, self.blocks, x)
        for block in self.blocks[:self.depth]:
            x = block(x)
        return x

    def export(self) -> nn.Module:
        return nn.Sequential(*list(self.blocks[:self.depth])) if self.depth else nn.Identity()

    def extra_repr(self) -> str:
        return f"label={self.label!r}, depths={self.depths}, depth={self.depth}"


def frozen_as(layer: nn.Module, choice: nn.Module) -> nn.Module:
    """``layer``, the plain layer a choice module exported, frozen as ``choice`` is: in its
    train/eval mode, each parameter with its ``requires_grad`` (was: a new layer, trainable
    and in training mode, so a fine-tune trained what the user froze).

    Example:
        >>> choice = ChoiceLinear(4, [2, 4], label="w").requires_grad_(False)
        >>> frozen_as(nn.Linear(4, 2), choice).weight.requires_grad
        False
    """
    layer.train(choice.training)
    for name, param in layer.named_parameters(recurse=False):
        param.requires_grad_(getattr(choice, name).requires_grad)
    return layer


def export_subnet(model: nn.Module, example_input: Any = None,
                  arch: Mapping[str, Any] | None = None) -> nn.Module:
    """A copy of ``model`` with every choice module replaced by the plain ``torch.nn``
    module of its active path, weights included (sliced from the shared ones), with the
    BatchNorm statistics the supernet holds, not a search's calibration (``OneShotNAS``
    exports its winner calibrated; ``scoring.calibrate_batchnorm`` calibrates another).

    Args:
        model: the supernet (or the network inside a LightningModule).
        example_input: run once through the path first, so layers that follow their input
            width know it (needed unless a forward pass with this path just ran).
        arch: activate this path first (default: the active one).
    """
    model = copy.deepcopy(model)
    if arch is not None:
        set_path(model, arch)
    if example_input is not None:
        with kept_modes(model), torch.no_grad(), one_width_each(model, "export_subnet"):
            model.eval()
            model(example_input)
    return _replace(model, {})


def _replace(module: nn.Module, done: dict[int, tuple[nn.Module, nn.Module]]) -> nn.Module:
    """``module`` with its choice modules exported; ``done`` maps each module replaced so far
    (kept, so that its id is not another's) to its replacement, so a module held twice (a
    choice module used at two places, a block twice in a ``Repeat``) is replaced everywhere
    by the same one: shared weights stay shared (was: ``named_children`` gave a shared child
    once, its second place kept the choice module)."""
    if id(module) in done:
        return done[id(module)][1]
    if isinstance(module, ChoiceBatchNorm2d):
        out = module.export()
    elif isinstance(module, ChoiceModule):  # a chosen op may hold choice modules itself
        out = _replace(module.export(), done)
    else:
        out = module
        for name, child in list(module._modules.items()):  # each place, shared ones too
            if child is not None:
                setattr(module, name, _replace(child, done))
    done[id(module)] = (module, out)  # was: the module alone, freed: its id reused
    return out
