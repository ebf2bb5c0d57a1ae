"""DARTS' and GDAS's mixed forward of the choice modules (``mixed``): one-hot weights run
exactly the single path and the exported subnet wherever the width mask goes, soft weights
the weighted sum of each value's output; and the logits each decision gets, out of the
weight optimizer."""

from __future__ import annotations

import copy

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lightning_nas.oneshot.choices import (
    ChoiceBatchNorm2d,
    ChoiceConv2d,
    ChoiceLinear,
    ChoiceModule,
    LayerChoice,
    Repeat,
    export_subnet,
    set_path,
    space_of,
)
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.mixed import Mixable, mixed
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet, choice_net
from tests.helpers_oneshot_fit import BatchNormSupernet, plain_trainer

_net = choice_net  # every kind of choice module, with BatchNorm


def _one_hot(space, arch):
    index = {label: space.params[label].values.index(arch[label]) for label in space.names()}
    weights = {label: F.one_hot(torch.tensor(i), len(space.params[label].values)).float()
               for label, i in index.items()}
    return weights, index


@pytest.mark.parametrize("train", [True, False])
def test_one_hot_mixing_runs_exactly_the_single_path(train):
    torch.manual_seed(0)
    net, x = _net().train(train), torch.rand(5, 1, 8, 8)
    space = space_of(net)
    for seed in range(8):
        arch = space.sample(seed=seed)
        set_path(net, arch)
        single = net(x)
        weights, index = _one_hot(space, arch)
        for picked in ({}, index):  # DARTS runs every candidate, GDAS only the sampled one
            with mixed(net, weights, picked):
                out = net(x)
            assert out.shape == single.shape
            assert torch.allclose(out, single, atol=1e-5), arch


def _sigmoid_net() -> nn.Sequential:
    """Activations with f(0) != 0 after widths: in a LayerChoice (before a convolution, and
    before a flatten into a linear layer) and a plain one between two linear layers."""
    sig = {"sigmoid": nn.Sigmoid(), "relu": nn.ReLU()}
    return nn.Sequential(
        ChoiceConv2d(1, [4, 8], 3, label="c1"), ChoiceBatchNorm2d(8),
        LayerChoice(sig, label="a1"), nn.MaxPool2d(2),
        ChoiceConv2d(8, [4, 8], 3, label="c2"), ChoiceBatchNorm2d(8),
        LayerChoice(copy.deepcopy(sig), label="a2"),
        Repeat(lambda i: nn.Sequential(ChoiceConv2d(8, None, 3, label="blk"),
                                       ChoiceBatchNorm2d(8), nn.Sigmoid()), [0, 1], label="d"),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), ChoiceLinear(8, [6, 12], label="fc"),
        nn.Sigmoid(), ChoiceLinear(12, 3, label="out"))


@pytest.mark.parametrize("train", [True, False])
def test_one_hot_mixing_is_the_sampled_subnet_whatever_the_activation(train):
    """A width mask zeroes the channels past the sampled width; sigmoid(0) = 0.5 made them
    constants the next layer read (was: GDAS trained and validated another network than
    the one it derives and exports, off by up to 0.07). The single path (SPOS) and the
    exported subnet read only the sampled width's channels."""
    torch.manual_seed(0)
    net, x = _sigmoid_net().train(train), torch.rand(6, 1, 8, 8)
    space = space_of(net)
    for seed in range(12):
        arch = space.sample(seed=seed)
        set_path(net, arch)
        single = net(x).detach()
        weights, index = _one_hot(space, arch)
        for picked in ({}, index):
            with mixed(net, weights, picked):
                out = net(x)
            assert torch.allclose(out, single, atol=1e-6), (arch, picked)
        sub = export_subnet(net, x, arch).train(train)
        assert torch.allclose(sub(x), single, atol=1e-6), arch
    # soft weights keep the channels every width has a part in (no value is zeroed)
    soft = {label: F.softmax(torch.randn(len(p.values)), -1) for label, p in space.params.items()}
    set_path(net, {label: p.values[-1] for label, p in space.params.items()})
    with mixed(net, soft) as mix:
        net[:3](x)
        assert mix.mask is not None and torch.equal(mix.confine(x.expand(6, 8, 8, 8)),
                                                    x.expand(6, 8, 8, 8))


def _fixed_after_width() -> nn.Sequential:
    """A width, then a LayerChoice of fixed-width convolutions (they end the mask)."""
    return nn.Sequential(
        ChoiceConv2d(1, [4, 8], 3, label="c1"), nn.ReLU(),
        LayerChoice({"a": ChoiceConv2d(8, 8, 3, label="a"),
                     "b": ChoiceConv2d(8, 8, 1, label="b")}, label="op"),
        nn.Sigmoid(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), ChoiceLinear(8, 3, label="fc"))


def _identity_or_fixed() -> nn.Sequential:
    """A LayerChoice whose values end different masks (one keeps it, one ends it), and a
    Repeat of fixed-width blocks, each before a sigmoid and a convolution."""
    return nn.Sequential(
        ChoiceConv2d(1, [4, 8], 3, label="c1"), ChoiceBatchNorm2d(8),
        LayerChoice({"id": nn.Identity(), "conv": ChoiceConv2d(8, 8, 1, label="fx")},
                    label="op"), nn.Sigmoid(),
        ChoiceConv2d(8, [4, 8], 3, label="c2"), nn.Sigmoid(),
        Repeat(lambda i: ChoiceConv2d(8, 8, 1, label=f"r{i}"), [0, 1], label="d"),
        nn.Sigmoid(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), ChoiceLinear(8, 3, label="fc"))


def _sequence_net() -> nn.Sequential:
    """Linear widths on (batch, 16 steps, features): the mask lies along the last axis,
    the steps axis has the widest width's size."""
    return nn.Sequential(ChoiceLinear(4, [8, 16], label="l1"),
                         LayerChoice({"relu": nn.ReLU(), "gelu": nn.GELU(),
                                      "sigmoid": nn.Sigmoid()}, label="act"),
                         ChoiceLinear(16, 3, label="out"))


def _digits_net() -> nn.Module:
    from examples.oneshot_digits.model import build_supernet

    return build_supernet()


@pytest.mark.parametrize("build,shape", [
    (_fixed_after_width, (4, 1, 6, 6)), (_identity_or_fixed, (4, 1, 6, 6)),
    (_sequence_net, (2, 16, 4)), (_digits_net, (4, 1, 8, 8))])
@pytest.mark.parametrize("train", [True, False])
def test_one_hot_mixing_is_the_exported_subnet_wherever_the_mask_goes(build, shape, train):
    """The mask a LayerChoice's values end with is the one in force after it, and the mask
    stays on the axis it was made along (was: the mask before the LayerChoice zeroed live
    channels of a fixed-width convolution in it, off by 0.03; a linear layer's mask was
    applied along dim 1 of (batch, steps, features) when steps had its size, off by 0.75)."""
    torch.manual_seed(0)
    net, x = build().train(train), torch.randn(*shape)
    space = space_of(net)
    for seed in range(16):
        arch = space.sample(seed=seed)
        set_path(net, arch)
        with torch.no_grad():
            single = net(x)
            sub = export_subnet(net, x, arch).train(train)
            assert torch.allclose(sub(x), single, atol=1e-6), arch
            weights, index = _one_hot(space, arch)
            for picked in ({}, index):
                with mixed(net, weights, picked):
                    out = net(x)
                assert torch.allclose(out, single, atol=1e-5), (arch, picked)


def test_gdas_trains_the_sampled_subnet_with_a_sigmoid_after_a_width(tmp_path):
    """GDAS's training forwards give the layer after a sampled width only that width's
    channels (was: sigmoid(0) = 0.5 in every channel past it)."""
    pl.seed_everything(0, verbose=False)
    model = TinySupernet()
    model.net[1] = LayerChoice({"sigmoid": nn.Sigmoid(), "hard": nn.Hardsigmoid()},
                               label="act")  # both 0.5 at 0
    seen: list[torch.Tensor] = []
    model.net[2].register_forward_hook(
        lambda m, i, o: seen.append(i[0].detach()) if m.training else None)
    nas = DifferentiableNAS(model, algorithm="gdas", num_classes=3, arch_lr=0.05)
    plain_trainer(tmp_path, limit_val_batches=0).fit(nas, datamodule=BilevelData(BlobData()))
    assert len(seen) == 3 * 3 * 2
    zero_tails = []
    for inp in seen:  # the channels past the sampled width (4, 8 or 16 of 16) are zero
        live = int((inp != 0).any(0).nonzero().max()) + 1
        assert live in (4, 8, 16) and not (inp[:, live:] != 0).any()
        zero_tails.append(16 - live)
    assert any(zero_tails)  # a narrower width was sampled


def test_soft_mixing_is_the_weighted_sum_of_each_values_output():
    torch.manual_seed(0)
    w = torch.tensor([0.3, 0.7])
    act = LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act")
    x = torch.randn(4, 6)
    with mixed(act, {"act": w}):
        assert torch.allclose(act(x), 0.3 * F.relu(x) + 0.7 * torch.tanh(x))
    fc = ChoiceLinear(6, [2, 4], label="fc")
    outs = []
    for width in (2, 4):
        set_path(fc, {"fc": width})
        outs.append(F.pad(fc(x), (0, 4 - width)))  # zero-padded to the widest
    with mixed(fc, {"fc": w}):
        assert torch.allclose(fc(x), 0.3 * outs[0] + 0.7 * outs[1], atol=1e-6)
    conv, img = ChoiceConv2d(2, 3, kernel_size=[1, 3], label="c"), torch.randn(2, 2, 5, 5)
    outs = []
    for k in (1, 3):
        set_path(conv, {"c_kernel": k})
        outs.append(conv(img))
    with mixed(conv, {"c_kernel": w}):
        assert torch.allclose(conv(img), 0.3 * outs[0] + 0.7 * outs[1], atol=1e-5)
    blocks = Repeat(lambda i: nn.Linear(6, 6), [0, 1, 2], label="d")
    x1 = blocks.blocks[0](x)
    x2 = blocks.blocks[1](x1)
    with mixed(blocks, {"d": torch.tensor([0.2, 0.3, 0.5])}):
        assert torch.allclose(blocks(x), 0.2 * x + 0.3 * x1 + 0.5 * x2, atol=1e-6)
    # single path again: nothing holds the weights, the export is plain torch.nn
    assert all(m.mixing is None for m in (act, fc, conv, blocks))
    sub = export_subnet(_net(), torch.rand(1, 1, 8, 8), space_of(_net()).sample(seed=0))
    assert not any(isinstance(m, (ChoiceModule, Mixable)) for m in sub.modules())


def test_a_width_mask_survives_batchnorm():
    """BatchNorm normalises a channel's scale away; the mask is applied after it again, so
    the width logits still get a gradient through a conv -> BatchNorm pair."""
    torch.manual_seed(0)
    net = nn.Sequential(ChoiceConv2d(1, [2, 4], 3, label="w"), ChoiceBatchNorm2d(4),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten())
    x, alpha = torch.randn(8, 1, 6, 6), torch.zeros(2, requires_grad=True)
    set_path(net, {"w": 4})
    widest = net(x).detach()
    with mixed(net, {"w": F.softmax(alpha, -1)}):
        out = net(x)
    # channels 0-1 are in both widths (weight 1), channels 2-3 only in the wider (0.5)
    assert torch.allclose(out.detach(), widest * torch.tensor([1.0, 1.0, 0.5, 0.5]), atol=1e-3)
    (out[:, 2:] ** 2).sum().backward()
    assert alpha.grad.abs().min() > 0


def test_every_decision_has_logits_out_of_the_weight_optimizer():
    nas = DifferentiableNAS(BatchNormSupernet(), num_classes=3)
    assert {k: tuple(v.shape) for k, v in nas.alphas.items()} == {
        "c1": (2,), "c1_kernel": (2,), "act": (2,), "depth": (2,)}
    assert {f"alphas.{k}" for k in nas.alphas} <= set(nas.state_dict())  # checkpointed
    weights, arch = nas.configure_optimizers()
    alphas = {id(p) for p in nas.alphas.parameters()}
    in_weights = {id(p) for g in weights.param_groups for p in g["params"]}
    assert not alphas & in_weights and in_weights == {id(p) for p in nas.supernet.parameters()}
    assert {id(p) for g in arch.param_groups for p in g["params"]} == alphas
    assert isinstance(weights, torch.optim.SGD)  # the wrapped module's own optimizer
    torch.manual_seed(0)  # (was: the global state, another per test order: failed under -n 2)
    x, y = torch.rand(6, 2, 2, 2), torch.randint(0, 3, (6,))
    for algorithm in ("darts", "gdas"):  # softmax; straight-through Gumbel sample
        nas = DifferentiableNAS(BatchNormSupernet(), algorithm=algorithm)
        weights_now, index = nas.mixing_weights(sample=True, key=7)
        assert len(index) == (4 if algorithm == "gdas" else 0)
        with mixed(nas.supernet, weights_now, index):
            F.cross_entropy(nas.supernet(x), y).backward()
        assert all(p.grad is not None for p in nas.alphas.values())  # every logit reached
        # GDAS: a step that samples c1's narrowest width tells its logits nothing (both
        # weights scale the same channels: exactly 0); act and depth are scaled alone, and
        # the BatchNorms after them undo it: float noise, which gdas_reach warns of
        moved = {k for k, p in nas.alphas.items() if p.grad.abs().sum() > 0}
        assert moved >= ({"c1_kernel"} if algorithm == "gdas" else set(nas.alphas))
