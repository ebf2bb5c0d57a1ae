"""Differentiable one-shot NAS (DARTS, GDAS) with real Trainers: the mixed forward of the
choice modules, bilevel manual optimization, the GDAS temperature and sampling, the export
with calibrated BatchNorm, resume from a mid-search checkpoint, 2-rank DDP agreement, the
CLI and the logits plot."""

from __future__ import annotations

import copy
import csv
import itertools
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins import MixedPrecision
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.callback import OneShotNAS
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
from lightning_nas.oneshot.derive import top_archs
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.mixed import Mixable, mixed
from lightning_nas.report.plots import plot_alphas
from tests.helpers_data import BlobData, TwoValBlobData
from tests.helpers_nets import TinySupernet, TwoValSupernet, choice_net
from tests.helpers_oneshot_fit import (
    BatchNormSupernet,
    BlobImages,
    UnusedChoice,
    two_val_config,
    val_accuracy,
)
from tests.helpers_standalone import torchrun_main
from tests.launcher import ROOT

_net = choice_net  # every kind of choice module, with BatchNorm


def _one_hot(space, arch):
    index = {label: space.params[label].values.index(arch[label]) for label in space.names()}
    weights = {label: F.one_hot(torch.tensor(i), len(space.params[label].values)).float()
               for label, i in index.items()}
    return weights, index


def _files(folder: Path) -> list[str]:
    """The names of the files in ``folder`` (none: no folder)."""
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _trainer(tmp_path, max_epochs=3, **kw) -> pl.Trainer:
    kw = {"logger": False, "enable_checkpointing": False, **kw}
    return pl.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1,
                      enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=tmp_path, **kw)


# ----------------------------------------------------------------- mixed forward
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
    _trainer(tmp_path, limit_val_batches=0).fit(nas, datamodule=BilevelData(BlobData()))
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


# ----------------------------------------------------------------- the module
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


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="unknown algorithm 'drats'; did you mean 'darts'"):
        DifferentiableNAS(TinySupernet(), algorithm="drats")
    with pytest.raises(ConfigError, match="tau_min <= tau_max"):
        DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_min=5.0, tau_max=1.0)
    with pytest.raises(ConfigError, match="BilevelData"):  # plain data: no arch batches
        _trainer(None, max_epochs=1).fit(DifferentiableNAS(TinySupernet()),
                                         datamodule=BlobData())
    # was: trained, and "derived" the argmax of the logits' random start
    nas = DifferentiableNAS(TinySupernet(), warmup_epochs=2)
    with pytest.raises(ConfigError, match=r"warmup_epochs=2 trains only the weights in all 2 "
                                          r"epochs \(max_epochs\)"):
        _trainer(None, max_epochs=2).fit(nas, datamodule=BilevelData(BlobData()))
    assert nas.global_step == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"top_k": 1.5}, "top_k must be an integer >= 1, got 1.5"),
    ({"top_k": "2"}, "top_k must be an integer >= 1, got '2'"),
    ({"top_k": True}, "top_k must be an integer >= 1, got True"),
    ({"calibration_batches": 1.5}, "calibration_batches must be an integer >= 0, got 1.5"),
    ({"warmup_epochs": -1}, "warmup_epochs must be an integer >= 0, got -1"),
    ({"warmup_epochs": 0.5}, "warmup_epochs must be an integer >= 0, got 0.5"),
    ({"tau_epochs": 0}, "tau_epochs must be an integer >= 1 or None (null in YAML), got 0"),
    ({"tau_epochs": 2.5}, "tau_epochs must be an integer >= 1 or None (null in YAML), got 2.5")])
def test_counts_that_are_no_integers_are_refused_when_built(kwargs, message):
    # was: top_k=1.5 trained, then the end of the fit crashed; "2" a raw TypeError
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        DifferentiableNAS(TinySupernet(), **kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"supernet": 3}, r"supernet must be an nn\.Module with choice modules .*got int"),
    ({"loss": 3}, r"loss must be a name \(cross_entropy, .*got 3"),
    ({"optimizer": 3}, r"optimizer must be a torch\.optim class name .*got 3"),
    ({"tau_max": "10"}, "tau_max must be a number > 0, got '10'"),
    ({"num_classes": "3"}, r"num_classes must be an integer >= 2 or None \(null in YAML\), "
                           "got '3'"),
    ({"num_classes": 0}, r"num_classes must be an integer >= 2 or None \(null in YAML\), got 0"),
    ({"seed": "1"}, r"seed must be an integer from 0 to 4294967295 \(2\*\*32 - 1\), got '1'")])
def test_arguments_of_another_kind_are_config_errors_naming_them(kwargs, message):
    # was: AttributeError ('int' object has no attribute 'named_modules', ... 'lower'), a
    # TypeError of "<=" or "not callable" (loss=3: at the first training step), torch's
    # "manual_seed expected a long", torchmetrics' "but got 3" for "3"; num_classes=0 taken
    # as None (no accuracy metric)
    kwargs = {"supernet": TinySupernet(), **kwargs}
    with pytest.raises(ConfigError, match=f"^{message}"):
        DifferentiableNAS(**kwargs)


@pytest.mark.parametrize("seed", [-1, 2**32, True, 1.0])
def test_a_seed_out_of_range_is_refused_as_oneshotnas_refuses_one(seed):
    # was: DifferentiableNAS(seed=-1) (and 2**32) taken, while OneShotNAS refused seeds
    # outside its range: one check now (oneshot.seed_range), one message; DARTS/GDAS add no
    # epoch to the seed, so theirs goes up to 2**32 - 1, as lightning-nas oneshot's does
    said = r"seed must be an integer from 0 to {} \(2\*\*{} - 1\), got {}: "
    with pytest.raises(ConfigError, match="^" + said.format(2**32 - 1, 32, re.escape(repr(seed)))):
        DifferentiableNAS(TinySupernet(), seed=seed)
    with pytest.raises(ConfigError, match="^" + said.format(2**31 - 1, 31, re.escape(repr(seed)))):
        OneShotNAS(seed=seed)
    assert DifferentiableNAS(TinySupernet(), seed=2**32 - 1).hparams.seed == 2**32 - 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"arch_lr": 0}, "arch_lr must be a number > 0, got 0"),
    ({"arch_lr": -0.01}, "arch_lr must be a number > 0, got -0.01"),
    ({"arch_weight_decay": -1}, "arch_weight_decay must be a number >= 0, got -1"),
    ({"lr": -1}, "lr must be a number > 0, got -1"),
    ({"weight_decay": -0.5}, "weight_decay must be a number >= 0, got -0.5")])
def test_rates_are_checked_when_built_as_from_yaml(kwargs, message):
    # was: arch_lr=0 trained and exported the argmax of the logits' random start; a
    # negative rate was torch's bare "Invalid learning rate" when the fit started
    with pytest.raises(ConfigError, match=f"^{message}$"):
        DifferentiableNAS(TinySupernet(), **kwargs)


def test_numpy_scalars_are_numbers_and_integers():
    # was (review): np.int64(2) "must be an integer", np.float32(0.001) "must be a number"
    import numpy as np

    nas = DifferentiableNAS(TinySupernet(), top_k=np.int64(2), lr=np.float32(0.001),
                            arch_lr=np.float64(0.01), calibration_batches=np.int32(1))
    assert nas.hparams.top_k == 2 and nas.hparams.lr == pytest.approx(0.001)


def test_a_warmup_of_one_epoch_one_batch_one_step_is_said_in_the_singular(tmp_path):
    # was: "in all 1 epochs", "which take 1 steps (1 x 1 training batches", "after 1 steps"
    with pytest.raises(ConfigError, match=r"warmup_epochs=1 trains only the weights in its 1 "
                                          r"epoch \(max_epochs\)"):
        _trainer(None, max_epochs=1).fit(DifferentiableNAS(TinySupernet(), warmup_epochs=1),
                                         datamodule=BilevelData(BlobData()))
    one = {"limit_train_batches": 1, "limit_val_batches": 1}
    with pytest.raises(ConfigError, match=r"max_steps=1 ends training within warmup_epochs=1, "
                                          r"which take 1 step \(1 x 1 training batch, one "
                                          r"step each"):
        _trainer(tmp_path, max_steps=1, **one).fit(
            DifferentiableNAS(TinySupernet(), warmup_epochs=1),
            datamodule=BilevelData(BlobData()))
    with pytest.raises(ConfigError, match=r"training stopped after 1 step, before the "):
        _trainer(tmp_path, callbacks=[_StopAfterFirstEpoch()], **one).fit(
            DifferentiableNAS(TinySupernet(), warmup_epochs=2),
            datamodule=BilevelData(BlobData()))


def test_logits_an_arch_lr_cannot_move_are_refused_at_the_end(tmp_path):
    # was: Adam's state (filled at its first step, whatever it changed) counted as trained
    nas = DifferentiableNAS(TinySupernet(), num_classes=3, arch_lr=1e-30,
                            export_dir=str(tmp_path / "out"))
    initial = {k: v.detach().clone() for k, v in nas.alphas.items()}
    with pytest.raises(ConfigError, match=r"training stopped after 6 steps, before the "
                                          r"architecture logits took a step \(arch_lr=1e-30 "
                                          r"too small to move them\)"):
        _trainer(tmp_path, max_epochs=1).fit(nas, datamodule=BilevelData(BlobData()))
    assert all(torch.equal(v, initial[k]) for k, v in nas.alphas.items())
    # nothing exported; the record of the epoch that trained is kept (oneshot.records)
    assert nas.best_arch is None and _files(tmp_path / "out") == ["alphas.json"]


def test_a_network_that_predicts_one_class_is_said_in_the_singular():
    from lightning_nas.oneshot.scoring import check_num_classes

    # was: "the network predicts 1 classes"
    with pytest.raises(ConfigError, match=r"^num_classes=3 does not fit the data: the network "
                                          r"predicts 1 class and the targets reach class 2; "):
        check_num_classes(torch.zeros(2, 1), torch.tensor([0, 2]), 3)


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_num_classes_is_checked_on_the_first_training_batch_before_training(
        tmp_path, monkeypatch, capsys, algorithm):
    # was: on the first validation batch only; with num_sanity_val_steps=0 a wrong
    # num_classes trained a whole epoch first (the CLI: the earlier outputs removed)
    nas = DifferentiableNAS(TinySupernet(), algorithm=algorithm, num_classes=2)
    trainer = _trainer(tmp_path, max_epochs=1, num_sanity_val_steps=0)
    with pytest.raises(ConfigError, match=r"num_classes=2 does not fit the data: the network "
                                          r"predicts 3 classes and the targets reach class 2"):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and nas.history == []
    monkeypatch.chdir(ROOT)
    (tmp_path / "best_arch.yaml").write_text("an earlier run's result")
    assert main(["oneshot", "examples/oneshot_digits/darts.yaml", "--trainer.max_epochs=1",
                 "--trainer.limit_train_batches=2", "--trainer.num_sanity_val_steps=0",
                 f"--oneshot.algorithm={algorithm}", "--oneshot.num_classes=5",
                 f"--oneshot.run_dir={tmp_path}"]) == 2
    assert "num_classes=5 does not fit the data: the network predicts 10 classes" in \
        capsys.readouterr().err
    assert (tmp_path / "best_arch.yaml").read_text() == "an earlier run's result"


@pytest.mark.parametrize("sanity", [2, 0])
def test_several_validation_loaders_are_refused_before_training(tmp_path, capsys, sanity):
    # was: "no `dataloader_idx` argument in `DifferentiableNAS.validation_step()`" at the
    # sanity check; without it "'list' object has no attribute 'shape'" in the first step
    # (the list of loaders zipped into the architecture's batches)
    nas = DifferentiableNAS(TwoValSupernet(), num_classes=3, export_dir=str(tmp_path / "out"))
    trainer = _trainer(tmp_path, max_epochs=1, num_sanity_val_steps=sanity)
    with pytest.raises(ConfigError, match=r"data TwoValBlobData: val_dataloader\(\) returns 2 "
                                          r"validation loaders, but a differentiable search"):
        trainer.fit(nas, datamodule=BilevelData(TwoValBlobData(n=64)))
    assert trainer.global_step == 0 and nas.history == [] and not (tmp_path / "out").exists()
    config = two_val_config(tmp_path, "darts")  # the command: refused, nothing written
    assert main(["oneshot", str(config), f"--trainer.num_sanity_val_steps={sanity}"]) == 2
    err = capsys.readouterr().err
    assert "data TwoValBlobData: val_dataloader() returns 2 validation loaders" in err
    assert "return a single loader" in err and "oneshot.algorithm: spos" in err
    assert not (tmp_path / "run").exists()  # was: made, holding the run's search.lock


def test_validation_on_several_loaders_logs_each_loaders_metric(tmp_path):
    # was: Lightning refused DifferentiableNAS.validation_step (no dataloader_idx); one
    # metric updated by both loaders would log the accuracy of both for each
    torch.manual_seed(0)  # weights whose accuracies on the two loaders differ (0.34, 0.03;
    nas = DifferentiableNAS(TinySupernet(), num_classes=3)  # was unseeded: equal once)
    data = TwoValBlobData(n=128, batch_size=32)
    data.setup("fit")
    both = _trainer(tmp_path).validate(nas, dataloaders=data.val_dataloader(), verbose=False)
    for i, loader in enumerate(data.val_dataloader()):
        alone = _trainer(tmp_path).validate(nas, dataloaders=loader, verbose=False)[0]
        assert both[i][f"val_acc/dataloader_idx_{i}"] == pytest.approx(alone["val_acc"])
        assert both[i][f"val_loss/dataloader_idx_{i}"] == pytest.approx(alone["val_loss"])
    assert both[0]["val_acc/dataloader_idx_0"] != both[1]["val_acc/dataloader_idx_1"]


class _LongValBlobData(BlobData):
    """``BlobData`` with its splits swapped: 64 training samples (2 batches of 32), 192
    validation samples (6 batches), unshuffled."""

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        self.train_set, self.val_set = self.val_set, self.train_set


class _PairsSeen(pl.Callback):
    def __init__(self) -> None:
        self.pairs: list[tuple[float, float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.pairs.append((float(batch["train"][0].sum()), float(batch["arch"][0].sum())))


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
@pytest.mark.parametrize("limit", [None, 1])
def test_an_epoch_is_one_pass_over_the_training_batches(tmp_path, algorithm, limit):
    # was: max_size_cycle cycled the training loader when the validation loader was
    # longer: 6 weight steps per epoch over 2 training batches
    data = _LongValBlobData(batch_size=32, shuffle=False)
    data.setup("fit")
    train = [float(x.sum()) for x, _ in data.train_dataloader()]
    arch = [float(x.sum()) for x, _ in data.val_dataloader()]
    assert (len(train), len(arch)) == (2, 6)
    seen = _PairsSeen()
    nas = DifferentiableNAS(TinySupernet(), algorithm=algorithm, num_classes=3)
    trainer = _trainer(tmp_path, max_epochs=2, limit_val_batches=1, callbacks=[seen],
                       **({} if limit is None else {"limit_train_batches": limit}))
    trainer.fit(nas, datamodule=BilevelData(_LongValBlobData(batch_size=32, shuffle=False)))
    per_epoch = list(zip(train, arch, strict=False))[:limit or 2]
    assert trainer.num_training_batches == len(per_epoch)
    assert seen.pairs == pytest.approx(per_epoch * 2)  # the validation loader restarts
    # the training loader the shorter one: the validation loader is cycled within an epoch
    seen = _PairsSeen()
    data = BlobData(n=256, batch_size=32, shuffle=False)  # 6 training, 2 validation batches
    data.setup("fit")
    arch = [float(x.sum()) for x, _ in data.val_dataloader()]
    _trainer(tmp_path, max_epochs=1, limit_val_batches=1, callbacks=[seen]).fit(
        DifferentiableNAS(TinySupernet(), algorithm=algorithm, num_classes=3),
        datamodule=BilevelData(BlobData(n=256, batch_size=32, shuffle=False)))
    assert [a for _, a in seen.pairs] == pytest.approx(arch * 3)


class _StopAfterFirstEpoch(pl.Callback):
    """Stops training at the end of its first epoch (as EarlyStopping or a Timer may)."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


def test_training_that_ends_within_the_warmup_is_refused(tmp_path, monkeypatch, capsys):
    # was: max_steps (or max_time) ending training within warmup_epochs derived and
    # exported the argmax of the logits' random start, with no word
    nas = DifferentiableNAS(TinySupernet(), warmup_epochs=1, export_dir=str(tmp_path / "out"))
    trainer = _trainer(tmp_path, max_epochs=3, max_steps=3)  # 3 batches: the warmup's steps
    with pytest.raises(ConfigError, match=r"the Trainer's max_steps=3 ends training within "
                                          r"warmup_epochs=1, which take 3 steps \(1 x 3 "
                                          r"training batches, one step each"):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and not (tmp_path / "out").exists()
    # stopped within the warmup later than the start knows (max_time, a callback)
    nas = DifferentiableNAS(TinySupernet(), warmup_epochs=2, export_dir=str(tmp_path / "out"))
    with pytest.raises(ConfigError, match=r"training stopped after 3 steps, before the "
                                          r"architecture logits took a step \(warmup_epochs=2"):
        _trainer(tmp_path, callbacks=[_StopAfterFirstEpoch()]).fit(
            nas, datamodule=BilevelData(BlobData()))
    # nothing exported; the record of the epoch that trained is kept (oneshot.records)
    assert nas.best_arch is None and _files(tmp_path / "out") == ["alphas.json"]
    # one step past the warmup trains the logits: accepted
    nas = DifferentiableNAS(TinySupernet(), warmup_epochs=1, num_classes=3)
    initial = {k: v.detach().clone() for k, v in nas.alphas.items()}
    _trainer(tmp_path, max_steps=5).fit(nas, datamodule=BilevelData(BlobData()))
    assert any(not torch.equal(v, initial[k]) for k, v in nas.alphas.items())
    monkeypatch.chdir(ROOT)
    (tmp_path / "best_arch.yaml").write_text("an earlier run's result")
    assert main(["oneshot", "examples/oneshot_digits/darts.yaml", "--trainer.max_epochs=3",
                 "--trainer.max_steps=4", "--trainer.limit_train_batches=4",
                 "--oneshot.warmup_epochs=1", "--oneshot.finetune_epochs=0",
                 f"--oneshot.run_dir={tmp_path}"]) == 2
    assert "max_steps=4 ends training within warmup_epochs=1" in capsys.readouterr().err
    assert (tmp_path / "best_arch.yaml").read_text() == "an earlier run's result"


def test_top_archs_are_the_most_probable_architectures():
    choices = {"a": [1, 2, 3], "b": ["x", "y"], "c": [4, 5]}
    probs = {"a": [0.2, 0.5, 0.3], "b": [0.45, 0.55], "c": [0.9, 0.1]}
    every = sorted(((dict(zip(choices, v, strict=True)),
                     math.prod(probs[k][choices[k].index(x)] for k, x in zip(choices, v,
                                                                              strict=True)))
                    for v in itertools.product(*choices.values())), key=lambda t: -t[1])
    ranked = top_archs(choices, probs, k=4)
    assert [a for a, _ in ranked] == [a for a, _ in every[:4]]
    assert all(math.isclose(p, q) for (_, p), (_, q) in zip(ranked, every[:4], strict=True))


def test_darts_learns_logits_logs_them_and_exports_the_calibrated_argmax(tmp_path, recwarn):
    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(BatchNormSupernet(), num_classes=3, arch_lr=0.05, top_k=3,
                            export_dir=str(tmp_path / "out"))
    initial = {k: v.detach().clone() for k, v in nas.alphas.items()}
    data = BlobImages(n=250)  # batches of 64 against the validation split's 63
    trainer = _trainer(tmp_path, logger=CSVLogger(tmp_path, name="log"))
    trainer.fit(nas, datamodule=BilevelData(data))
    # each loss is logged with its own batch's size: Lightning need not guess from the pair
    assert not [w for w in recwarn if "ambiguous collection" in str(w.message)]
    assert [h["epoch"] for h in nas.history] == [1, 2, 3]
    assert all(not torch.allclose(v, initial[k]) for k, v in nas.alphas.items())
    with open(next((tmp_path / "log").rglob("metrics.csv"))) as f:  # the Trainer's logger
        rows = [r for r in csv.DictReader(f) if r.get("alpha/act/relu")]
    assert len(rows) == 3 and all(
        abs(float(r["alpha/act/relu"]) + float(r["alpha/act/tanh"]) - 1) < 1e-6 for r in rows)
    assert float(rows[-1]["alpha/c1/8"]) == pytest.approx(nas.probabilities()["c1"][1])
    # the three most probable architectures were scored; the best one is exported
    probs = [c["probability"] for c in nas.scored]
    assert len(nas.scored) == 3 and probs == sorted(probs, reverse=True)
    assert nas.scored[0]["arch"] == nas.derived_arch()
    assert nas.best_score == max(c["score"] for c in nas.scored)
    assert not any(isinstance(m, ChoiceModule) for m in nas.subnet.modules())
    saved = torch.load(tmp_path / "out" / "subnet.pt", weights_only=False)
    for subnet in (nas.subnet, saved):  # scores what the search reports (own BN statistics)
        assert val_accuracy(subnet, data) == nas.best_score
    best = yaml.safe_load((tmp_path / "out" / "best_arch.yaml").read_text())
    assert best["arch"] == nas.best_arch and best["algorithm"] == "darts"
    alphas = json.loads((tmp_path / "out" / "alphas.json").read_text())
    assert alphas["history"] == nas.history and alphas["values"]["c1"] == [4, 8]
    assert (tmp_path / "out" / "alphas.png").stat().st_size > 1000
    # a checkpoint saved after the fit loads into a fresh module (was: "Unexpected key(s) in
    # state_dict: subnet.0.weight, ...": the exported subnet was registered as a submodule)
    trainer.save_checkpoint(tmp_path / "after.ckpt")
    state = torch.load(tmp_path / "after.ckpt", weights_only=False)["state_dict"]
    assert not any(key.startswith("subnet.") for key in state)
    DifferentiableNAS(BatchNormSupernet(), num_classes=3).load_state_dict(state)


def test_gdas_runs_one_sampled_candidate_and_anneals_tau(tmp_path):
    pl.seed_everything(0, verbose=False)
    model = TinySupernet()
    calls = {name: 0 for name in model.net[1].candidates}
    for name, op in model.net[1].candidates.items():  # training forwards only
        op.register_forward_hook(lambda m, i, o, name=name: calls.__setitem__(
            name, calls[name] + m.training))
    nas = DifferentiableNAS(model, algorithm="gdas", num_classes=3, arch_lr=0.05)
    _trainer(tmp_path, limit_val_batches=0).fit(nas, datamodule=BilevelData(BlobData()))
    assert sum(calls.values()) == 3 * 3 * 2  # 3 epochs x 3 steps x (arch + weights) forwards
    assert all(n > 0 for n in calls.values())  # sampled, not always the same
    assert [round(h["tau"], 4) for h in nas.history] == [10.0, 1.0, 0.1]
    linear = DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_schedule="linear")
    assert [linear.temperature(e, 3) for e in range(3)] == pytest.approx([10.0, 5.05, 0.1])
    weights, index = nas.mixing_weights(sample=True, key=3)
    again = nas.mixing_weights(sample=True, key=3)[1]
    assert index == again  # a step's sample depends on (seed, epoch, batch) only
    assert all(torch.equal(weights[k].detach(), F.one_hot(torch.tensor(i), len(weights[k]))
                           .float()) for k, i in index.items())


def _as_dict(items: list) -> dict[str, torch.Tensor]:
    return {"x": torch.stack([x for x, _ in items]), "y": torch.stack([y for _, y in items])}


class _DictBlobs(BlobData):
    """Blobs as ``{"x", "y"}`` batches that its own batch hooks turn into ``(x, y)`` on the
    device; records the hooks Lightning calls on it (and the batches they get)."""

    def __init__(self, n: int = 64, batch_size: int = 32, seed: int = 7) -> None:
        super().__init__(n=n, batch_size=batch_size)
        self.save_hyperparameters()
        self.prepare_data_per_node = False
        self.calls: list[tuple[str, Any]] = []

    def setup(self, stage: str) -> None:
        self.calls.append(("setup", stage))
        super().setup(stage)

    def teardown(self, stage: str) -> None:
        self.calls.append(("teardown", stage))

    def on_exception(self, exception: BaseException) -> None:
        self.calls.append(("on_exception", type(exception).__name__))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, collate_fn=_as_dict)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size, collate_fn=_as_dict)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        self.calls.append(("before", sorted(batch)))
        return batch

    def transfer_batch_to_device(self, batch: Any, device: torch.device,
                                 dataloader_idx: int) -> Any:
        self.calls.append(("transfer", sorted(batch)))
        return {key: value.to(device) for key, value in batch.items()}

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        self.calls.append(("after", sorted(batch)))
        return batch["x"], batch["y"]


class _FailInFirstStep(pl.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        raise RuntimeError("stopped by a test")


def test_bilevel_data_passes_lightnings_datamodule_hooks_and_hparams_on(tmp_path):
    # was: the user's datamodule got only setup (no teardown, no on_exception), its batch
    # hooks were dropped (here: KeyError 0 on its dict batches) and a DARTS checkpoint had
    # datamodule_hyper_parameters None where a plain fit's holds them
    runs = {}
    for name in ("plain", "darts"):
        data = _DictBlobs()
        model = TinySupernet() if name == "plain" else DifferentiableNAS(TinySupernet(),
                                                                         num_classes=3)
        trainer = _trainer(tmp_path, max_epochs=1, limit_train_batches=2)
        trainer.fit(model, datamodule=data if name == "plain" else BilevelData(data))
        trainer.save_checkpoint(tmp_path / f"{name}.ckpt")
        runs[name] = data.calls, torch.load(tmp_path / f"{name}.ckpt", weights_only=False)
    (plain, plain_ckpt), (darts, darts_ckpt) = runs["plain"], runs["darts"]
    lifecycle = [call for call in darts if call[0] in ("setup", "teardown")]
    assert lifecycle == [c for c in plain if c[0] in ("setup", "teardown")] == [
        ("setup", "fit"), ("teardown", "fit")]
    # every batch hook ran on the datamodule's own batches (each part of a training pair)
    for hook in ("before", "transfer", "after"):
        got = [batch for kind, batch in darts if kind == hook]
        assert got and all(batch == ["x", "y"] for batch in got), hook
        assert len(got) >= 2 * 2  # both parts of 2 training batches, and validation's
    for key in ("datamodule_hyper_parameters", "datamodule_hparams_name"):
        assert darts_ckpt[key] == plain_ckpt[key], key
    assert darts_ckpt["datamodule_hyper_parameters"] == {"n": 64, "batch_size": 32, "seed": 7}
    assert BilevelData(_DictBlobs()).prepare_data_per_node is False
    data = _DictBlobs()
    with pytest.raises(RuntimeError, match="stopped by a test"):
        _trainer(tmp_path, max_epochs=1, callbacks=[_FailInFirstStep()]).fit(
            DifferentiableNAS(TinySupernet(), num_classes=3), datamodule=BilevelData(data))
    assert ("on_exception", "RuntimeError") in data.calls


class _AugmentedBlobs(BlobData):
    """Training-only augmentation both ways: in a batch hook (``trainer.training``) and in
    the training loader's ``collate_fn``."""

    def train_dataloader(self) -> DataLoader:
        def shifted(items):
            x, y = torch.utils.data.default_collate(items)
            return x + 500.0, y
        return DataLoader(self.train_set, batch_size=self.batch_size, collate_fn=shifted)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        x, y = batch
        assert dataloader_idx == 0
        return (x + 1000.0 if self.trainer.training else x), y


class _PartSpy(DifferentiableNAS):
    def training_step(self, batch: Any, batch_idx: int) -> None:
        self.seen = {part: float(batch[part][0].abs().min()) for part in ("train", "arch")}
        return super().training_step(batch, batch_idx)


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_batch_hooks_see_the_arch_batches_as_training_ones_and_collate_fn_does_not(
        tmp_path, algorithm):
    # as documented (README, BilevelData): a hook's train-only augmentation reaches the
    # architecture's validation batches (trainer.training True, dataloader_idx 0 for both
    # parts); the training loader's collate_fn reaches the weights' batches alone
    model = _PartSpy(TinySupernet(), num_classes=3, algorithm=algorithm)
    _trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1).fit(
        model, datamodule=BilevelData(_AugmentedBlobs()))
    assert model.seen["train"] > 1400  # collate_fn and hook
    assert 900 < model.seen["arch"] < 1100  # the hook only


def test_a_wrapped_lightning_module_gives_its_loss_and_optimizer(tmp_path):
    class Counting(TinySupernet):
        steps = 0
        seen: list[tuple[int, int]] = []

        def training_step(self, batch, batch_idx):
            Counting.steps += 1
            # its Trainer is the wrapper's: epoch and step read as in a plain fit
            Counting.seen.append((self.current_epoch, self.trainer.current_epoch))
            self.log("its_own_loss", 1.0)  # dropped, not an error
            self.log_dict({"its_own_dict": 2.0})
            return {"loss": super().training_step(batch, batch_idx)}

    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(Counting(), num_classes=3)
    trainer = _trainer(tmp_path, max_epochs=2, limit_val_batches=0)
    trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert Counting.steps == 2 * 3 * 2  # its training_step is the loss of both updates
    assert Counting.seen == [(0, 0)] * 6 + [(1, 1)] * 6
    assert "its_own_dict" not in trainer.logged_metrics
    assert isinstance(nas.optimizers()[0].optimizer, torch.optim.SGD)
    assert nas.optimizers()[0].optimizer.param_groups[0]["lr"] == 0.05
    assert "its_own_loss" not in trainer.logged_metrics and "train_loss" in trainer.logged_metrics
    plain = DifferentiableNAS(nn.Sequential(*TinySupernet().net), optimizer="adam", lr=0.01)
    assert plain.loss_fn is F.cross_entropy
    assert isinstance(plain.configure_optimizers()[0], torch.optim.Adam)


@pytest.mark.parametrize("sanity", [2, 0])
def test_layer_choice_candidates_of_different_shapes_are_refused_before_training(
        tmp_path, sanity):
    # was: torch's "The size of tensor a (12) must match the size of tensor b (6)"
    net = nn.Sequential(ChoiceLinear(8, 16, label="inp"),
                        LayerChoice({"wide": nn.Linear(16, 12), "narrow": nn.Linear(16, 6)},
                                    label="proj"),
                        ChoiceLinear(12, 3, label="out"))
    nas = DifferentiableNAS(net, num_classes=3)
    trainer = _trainer(tmp_path, max_epochs=1, num_sanity_val_steps=sanity)
    with pytest.raises(ConfigError, match=r"^choice 'proj': DARTS sums the outputs of its "
                                          r"candidates, which must have one shape; got "
                                          r"'wide': \(64, 12\), 'narrow': \(64, 6\); "):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and nas.history == []


def test_gdas_refuses_a_layer_choice_candidate_the_network_cannot_take_before_any_step(
        tmp_path):
    # was: torch's "mat1 and mat2 shapes cannot be multiplied" at the first step that
    # sampled 'narrow' (GDAS runs one candidate per step; DARTS's refusal points to it)
    def net(tail):
        return nn.Sequential(ChoiceLinear(8, 16, label="inp"),
                             LayerChoice({"wide": nn.Linear(16, 12),
                                          "narrow": nn.Linear(16, 6)}, label="proj"), tail)

    nas = DifferentiableNAS(net(nn.Linear(12, 3)), num_classes=3, algorithm="gdas")
    trainer = _trainer(tmp_path, max_epochs=1)
    with pytest.raises(ConfigError, match=r"^choice 'proj': GDAS trains and scores paths that "
                                          r"pick any candidate, and candidate 'narrow' does not "
                                          r"fit the network: .*mat1 and mat2.*'wide': \(64, 12\), "
                                          r"'narrow': \(64, 6\)\); "):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and nas.history == []
    # a tail that follows the width takes either: trained (two optimizer steps a batch)
    nas = DifferentiableNAS(net(ChoiceLinear(12, 3, label="out")), num_classes=3,
                            algorithm="gdas")
    trainer = _trainer(tmp_path / "follows", max_epochs=2)
    trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 2 * 3 * 2 and len(nas.history) == 2


def test_validate_after_a_fit_adds_no_epoch_to_the_history(tmp_path):
    # was: each trainer.validate() appended a phantom epoch max_epochs + 1
    nas = DifferentiableNAS(TinySupernet(), num_classes=3, export_dir=str(tmp_path / "out"))
    trainer = _trainer(tmp_path, max_epochs=2)
    trainer.fit(nas, datamodule=BilevelData(BlobData()))
    fitted = copy.deepcopy(nas.history)
    assert [h["epoch"] for h in fitted] == [1, 2]
    for _ in range(2):
        trainer.validate(nas, datamodule=BilevelData(BlobData()), verbose=False)
    assert nas.history == fitted and nas.alpha_history()["history"] == fitted
    # a copy: changing it changes nothing of the module (was: its values were the module's)
    values = copy.deepcopy(nas.choices)
    for decision in nas.alpha_history()["values"].values():
        decision.clear()
    assert nas.choices == values and all(values.values())


class _ManualSupernet(TinySupernet):
    """``TinySupernet`` stepping its optimizer itself (manual optimization)."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        loss = super().training_step(batch, batch_idx)
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        return loss


def test_a_module_of_manual_optimization_is_refused_before_training(tmp_path):
    # was: autograd's "element 0 of tensors does not require grad" in the sanity check, or
    # "backward through the graph a second time" in the first step
    with pytest.raises(ConfigError, match=r"^_ManualSupernet sets automatic_optimization=False, "
                                          r"but DifferentiableNAS \(DARTS, GDAS\) drives the "
                                          r"optimization itself: .*search with SPOS"):
        DifferentiableNAS(_ManualSupernet(), num_classes=3)
    model = TinySupernet()  # switched after it was wrapped: said when the fit starts
    nas = DifferentiableNAS(model, algorithm="gdas", num_classes=3)
    model.automatic_optimization = False
    trainer = _trainer(tmp_path, max_epochs=1, num_sanity_val_steps=0)
    with pytest.raises(ConfigError, match="TinySupernet sets automatic_optimization=False"):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and nas.history == []


class _SmoothedSupernet(TinySupernet):
    """A training loss of its own (label smoothing, an L2 penalty) and a validation_step
    logging the plain cross-entropy as ``val_loss``."""

    train_calls = 0

    def training_step(self, batch, batch_idx):
        _SmoothedSupernet.train_calls += 1
        x, y = batch
        self.log("inner_train_loss", 1.0)
        l2 = sum((p ** 2).sum() for p in self.parameters())
        return F.cross_entropy(self(x), y, label_smoothing=0.3) + 0.05 * l2

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))
        self.log("val_acc", 0.0)  # a key the wrapper logs itself (num_classes): the wrapper's
        self.log("val_own", 7.0)


def test_val_loss_is_the_modules_own_validation_loss(tmp_path, monkeypatch):
    # was: its training_step's loss (label smoothing, L2 penalty) on validation batches,
    # its own validation_step never ran
    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(_SmoothedSupernet(), num_classes=3)
    trainer = _trainer(tmp_path, max_epochs=1, limit_train_batches=2, num_sanity_val_steps=0)
    trainer.fit(nas, datamodule=BilevelData(BlobData()))
    _SmoothedSupernet.train_calls = 0
    data = BlobData()
    data.setup("fit")
    got = trainer.validate(nas, dataloaders=data.val_dataloader(), verbose=False)[0]
    assert _SmoothedSupernet.train_calls == 0 and "inner_train_loss" not in got
    nas.eval()
    weights, index = nas.mixing_weights(sample=False)
    total = correct = count = 0.0
    with torch.no_grad(), mixed(nas.supernet, weights, index):
        for x, y in data.val_dataloader():
            preds = nas.supernet(x)
            total += float(F.cross_entropy(preds, y, reduction="sum"))
            correct += float((preds.argmax(-1) == y).sum())
            count += len(y)
    assert got["val_loss"] == pytest.approx(total / count, rel=1e-5)
    assert got["val_acc"] == pytest.approx(correct / count) and got["val_own"] == 7.0
    # no validation_step of its own: val_loss is its training_step's loss, as documented
    monkeypatch.setattr(_SmoothedSupernet, "validation_step", pl.LightningModule.validation_step)
    l2 = float(sum((p ** 2).sum() for p in nas.supernet.parameters()))
    with torch.no_grad(), mixed(nas.supernet, weights, index):
        train_loss = [float(F.cross_entropy(nas.supernet(x), y, label_smoothing=0.3)) + 0.05 * l2
                      for x, y in data.val_dataloader()]
    got = _trainer(tmp_path).validate(nas, dataloaders=data.val_dataloader(), verbose=False)[0]
    sizes = [len(b[1]) for b in data.val_dataloader()]
    assert got["val_loss"] == pytest.approx(
        sum(v * n for v, n in zip(train_loss, sizes, strict=True)) / sum(sizes), rel=1e-5)
    assert "inner_train_loss" not in got


class _CollectingSupernet(TinySupernet):
    """Lightning 2.x's pattern: outputs collected per step, aggregated and cleared at the
    validation epoch's end."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[torch.Tensor] = []

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.outputs.append((self(x).argmax(-1) == y).float().mean())

    def on_validation_epoch_end(self) -> None:
        self.log("val_acc_mean", torch.stack(self.outputs).mean())
        self.outputs.clear()


def test_the_modules_validation_epoch_hooks_run_with_its_validation_step(tmp_path):
    # was: only its validation_step ran, so its outputs piled up and its epoch-end metric
    # was never logged
    pl.seed_everything(0, verbose=False)
    net = _CollectingSupernet()
    trainer = _trainer(tmp_path, max_epochs=3)
    trainer.fit(DifferentiableNAS(net, num_classes=3), datamodule=BilevelData(BlobData()))
    assert net.outputs == [] and "val_acc_mean" in trainer.callback_metrics


def test_bf16_mixed_precision_trains_the_logits(tmp_path):
    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(BatchNormSupernet(), num_classes=3, arch_lr=0.05)
    initial = {k: v.detach().clone() for k, v in nas.alphas.items()}
    _trainer(tmp_path, max_epochs=1, precision="bf16-mixed").fit(
        nas, datamodule=BilevelData(BlobImages()))
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all()
               and not torch.equal(v, initial[k]) for k, v in nas.alphas.items())
    assert nas.best_score is not None


class _RecordingSGD(torch.optim.SGD):
    """SGD that keeps the gradients of each of its steps (after unscaling and clipping)."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.grads: list[list[torch.Tensor]] = []

    def step(self, closure=None):
        self.grads.append([p.grad.detach().float().clone() for group in self.param_groups
                           for p in group["params"] if p.grad is not None])
        return super().step(closure)


class _RecordingSupernet(TinySupernet):
    def configure_optimizers(self):
        self.recorder = _RecordingSGD(self.parameters(), lr=self.hparams.lr)
        return self.recorder


@pytest.mark.parametrize(("algorithm", "clip"), [("darts", "norm"), ("gdas", "norm"),
                                               ("darts", "value")])
def test_gradient_clipping_acts_on_the_unscaled_16_mixed_gradients(tmp_path, algorithm, clip):
    # was: clipped right after manual_backward, i.e. the gradients scaled by 65536, so the
    # weights stepped with a norm of clip / 65536; and always by norm
    pl.seed_everything(0, verbose=False)
    model = _RecordingSupernet()
    nas = DifferentiableNAS(model, algorithm=algorithm, num_classes=3, gradient_clip_val=0.01,
                            gradient_clip_algorithm=clip)
    amp = MixedPrecision("16-mixed", device="cpu")
    _trainer(tmp_path, max_epochs=1, limit_val_batches=1, plugins=[amp]).fit(
        nas, datamodule=BilevelData(BlobData()))
    assert model.recorder.grads
    for grads in model.recorder.grads:
        if clip == "norm":
            assert float(torch.norm(torch.stack([g.norm() for g in grads]))) == pytest.approx(
                0.01, rel=1e-3)
        else:  # each entry within +-0.01, the largest ones at it
            assert max(float(g.abs().max()) for g in grads) == pytest.approx(0.01, rel=1e-3)
    with pytest.raises(ConfigError, match="unknown gradient_clip_algorithm 'nrom'; did you "
                                          "mean 'norm'"):
        DifferentiableNAS(TinySupernet(), gradient_clip_algorithm="nrom")


def test_an_lr_beside_the_modules_own_optimizer_is_refused_before_training(tmp_path):
    # was: taken into the hyperparameters (logged as the lr) and ignored: the weights
    # trained with the lr of the module's configure_optimizers
    model = TinySupernet(lr=0.05)
    before = [p.detach().clone() for p in model.parameters()]
    nas = DifferentiableNAS(model, num_classes=3, lr=0.5)
    with pytest.raises(ConfigError, match=re.escape(
            "DifferentiableNAS(lr=0.5, weight_decay=0.0) sets the weight optimizer it builds, "
            "but TinySupernet.configure_optimizers gives it (lr 0.05)")):
        _trainer(tmp_path, max_epochs=1).fit(nas, datamodule=BilevelData(BlobData()))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    named = DifferentiableNAS(TinySupernet(), optimizer="sgd", lr=0.5)  # it builds that one
    assert named.configure_optimizers()[0].param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("bound", [-1.0, float("nan")])
def test_a_negative_gradient_clip_val_is_refused_when_built(bound):
    # was: taken; torch clips by a negative bound by flipping the gradients' sign
    # (clip_grad_norm_ scales them by bound / norm), so the weights stepped uphill
    grad = torch.tensor([3.0, 4.0])
    weight = nn.Parameter(torch.zeros(2))
    weight.grad = grad.clone()
    torch.nn.utils.clip_grad_norm_([weight], -1.0)
    assert torch.allclose(weight.grad, -grad / 5)  # what it did
    with pytest.raises(ConfigError, match=re.escape(
            f"gradient_clip_val={bound!r}: must be a number >= 0 or None (null in YAML); 0 and "
            f"None: no clipping")):
        DifferentiableNAS(TinySupernet(), gradient_clip_val=bound)
    DifferentiableNAS(TinySupernet(), gradient_clip_val=0)  # no clipping, as None


# ----------------------------------------------------------------- resume
#: ``python SCRIPT RUN_DIR ALGORITHM AT_TRAIN_EPOCH_END``: the resume check, run alone
RESUME_SCRIPT = """
import sys
from pathlib import Path

import torch

from tests.test_differentiable import _check_the_resumed_search

if __name__ == "__main__":
    torch.set_num_threads(1)
    at_train_epoch_end = {"None": None, "False": False}[sys.argv[3]]
    _check_the_resumed_search(Path(sys.argv[1]), sys.argv[2], at_train_epoch_end)
    print("the resumed search ended as the uninterrupted one", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("algorithm", "at_train_epoch_end"),
                         [("darts", None), ("gdas", None), ("darts", False)])
def test_resume_from_a_mid_search_checkpoint_ends_with_the_same_search(
        request, tmp_path, algorithm, at_train_epoch_end):
    if os.environ.get("LNAS_FRESH_PROCESS") == "1":  # in this process (to debug it)
        _check_the_resumed_search(tmp_path, algorithm, at_train_epoch_end)
        return
    # an exactness check: run it in a process no earlier test ran in, so that no
    # process-wide state they left (threads, backends flags, RNG streams) decides it
    # (forked from the launcher's, which imported the training stack and ran nothing; the
    # check runs as a script there: a pytest session in it paid about 5 s a run for its
    # plugins, its rewriting of the tests' asserts and its garbage collection at exit)
    script, log = tmp_path / "resume_check.py", tmp_path / "resume_check.log"
    script.write_text(RESUME_SCRIPT)
    launcher = request.getfixturevalue("launcher")
    code = launcher.run([tmp_path / "run", algorithm, at_train_epoch_end], log, script,
                        timeout=900)
    assert code == 0, log.read_text()[-4000:]
    assert "the resumed search ended as the uninterrupted one" in log.read_text()


def _check_the_resumed_search(tmp_path: Path, algorithm: str,
                              at_train_epoch_end: bool | None) -> None:
    """Fit 4 epochs, and again from the checkpoint of epoch 1 (and, with checkpoints at
    each epoch's very end, from that of epoch 3): the same search, asserted."""

    def run(ckpt_path=None):
        pl.seed_everything(0, verbose=False)
        nas = DifferentiableNAS(BatchNormSupernet(), algorithm=algorithm, num_classes=3,
                                arch_lr=0.05)
        ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=-1, filename="{epoch}",
                               save_on_train_epoch_end=at_train_epoch_end)  # or after val
        _trainer(tmp_path, max_epochs=4, enable_checkpointing=True, callbacks=[ckpt]).fit(
            nas, datamodule=BilevelData(BlobImages()), ckpt_path=ckpt_path)  # shuffled data
        nas.rng_after = torch.get_rng_state()
        return nas

    full = run()
    resumed = run(ckpt_path=tmp_path / "ckpt" / "epoch=1.ckpt")
    assert resumed.best_arch == full.best_arch
    for key, value in full.alphas.items():
        assert torch.allclose(resumed.alphas[key], value, atol=1e-6), key
    assert resumed.history == full.history and len(full.history) == 4
    assert float(resumed.tau) == float(full.tau)
    if at_train_epoch_end is None:  # the last epoch's checkpoint, saved at its very end (a
        # fit killed in its final search): Lightning trains nothing and skips on_train_end;
        # the final search and export run at the fit's end, as the uninterrupted fit's (was:
        # ConfigError "DifferentiableNAS's final search and export did not run")
        ended = run(ckpt_path=tmp_path / "ckpt" / "epoch=3.ckpt")
        assert (ended.best_arch, ended.best_score) == (full.best_arch, full.best_score)
        assert ended.scored == full.scored and ended.history == full.history
        pairs = zip(ended.subnet.state_dict().values(), full.subnet.state_dict().values(),
                    strict=True)
        assert all(torch.equal(a, b) for a, b in pairs)
        assert torch.equal(ended.rng_after, full.rng_after)  # what a fine-tune draws from


# ----------------------------------------------------------------- DDP
#: two ranks started as ``torchrun`` starts them, both forked by this script (itself a launch
#: of the ``launcher``): was Lightning's launcher, whose rank 1 was a fresh ``python``
#: importing the training stack (seconds of CPU)
DDP_SCRIPT = """
import json, os, socket, sys, traceback
import lightning.pytorch as pl
import torch
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages


class FirstArchBatch(pl.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0 and trainer.current_epoch == 0:
            self.x = float(batch["arch"][0].sum())


def run_rank(folder):
    torch.set_num_threads(1)
    # DARTS uses every parameter in every step (plain ddp); GDAS leaves candidates unused
    for algorithm, strategy in (("darts", "ddp"), ("gdas", "ddp_find_unused_parameters_true")):
        pl.seed_everything(0, verbose=False)
        nas = DifferentiableNAS(BatchNormSupernet(), algorithm=algorithm, num_classes=3,
                                arch_lr=0.05, seed=1)
        seen = FirstArchBatch()
        trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=2, strategy=strategy,
                             logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False,
                             callbacks=[seen])
        trainer.fit(nas, datamodule=BilevelData(BlobImages()))
        with open(os.path.join(folder, f"{algorithm}{trainer.global_rank}.json"), "w") as f:
            json.dump({"logits": {k: v.tolist() for k, v in nas.alphas.items()},
                       "arch": nas.best_arch, "score": nas.best_score, "x": seen.x,
                       "initial": DifferentiableNAS(BatchNormSupernet(), seed=1).probabilities(),
                       "probs": nas.probabilities(),
                       "logged": {k: float(v) for k, v in trainer.callback_metrics.items()}}, f)
        trainer.strategy.barrier()  # rank 0 exits (the test reads) once every rank wrote


""" + torchrun_main("run_rank(sys.argv[1])")


@pytest.mark.slow
def test_ddp_ranks_hold_identical_logits_and_derive_the_same_architecture(tmp_path, launcher):
    script = tmp_path / "differentiable_ddp.py"
    script.write_text(DDP_SCRIPT)
    log = tmp_path / "log.txt"
    assert launcher.run([tmp_path], log, script, timeout=600) == 0, log.read_text()
    for algorithm in ("darts", "gdas"):
        r0, r1 = (json.loads((tmp_path / f"{algorithm}{r}.json").read_text()) for r in (0, 1))
        assert r0["x"] != r1["x"]  # each rank trained on its own shard ...
        assert r0["logits"] == r1["logits"]  # ... and holds the same logits (all-reduced)
        assert r0["probs"] != r0["initial"]  # which did move
        assert r0["arch"] == r1["arch"] and r0["score"] == r1["score"]
        # the epoch's logged losses are both ranks' (was: each rank's own shard's, so the
        # logger got rank 0's alone), alphas and tau too (the same on each rank: was
        # Lightning's warning to log them with sync_dist=True, one per value)
        assert {"train_loss", "arch_loss", "val_loss"} <= r0["logged"].keys()
        assert r0["logged"] == r1["logged"]
    assert "It is recommended to use `self.log(" not in log.read_text()


# ----------------------------------------------------------------- CLI and plot
def test_cli_oneshot_selects_the_algorithm(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    config = "examples/oneshot_digits/darts.yaml"
    tiny = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=2", "--oneshot.calibration_batches=1"]
    assert main(["oneshot", config, *tiny, "--oneshot.finetune_epochs=1",
                 f"--oneshot.run_dir={tmp_path / 'darts'}"]) == 0
    out = capsys.readouterr().out
    assert "DARTS search: derived {" in out and "Fine-tuned 1 epoch: val_acc=" in out
    # the derived architecture's own probability (was: the most probable's, whichever won)
    assert re.search(r"DARTS search: derived \{.*\} \(probability 0\.\d{3}(, the most "
                     r"probable|: the \d+(nd|rd|th) most probable of \d+, scored best; the "
                     r"most probable has 0\.\d{3})\); ", out), out
    for name in ("best_arch.yaml", "alphas.json", "alphas.png", "subnet.pt",
                 "subnet_finetuned.pt"):
        assert (tmp_path / "darts" / name).exists(), name
    assert main(["report", str(tmp_path / "darts")]) == 0  # draws the logits per epoch
    report = tmp_path / "darts" / "report"
    assert (report / "alphas.png").read_bytes()[:4] == b"\x89PNG"
    page = (report / "report.html").read_text()
    assert "darts one-shot search" in page and "conv1" in page and "base64," in page
    assert main(["report", str(tmp_path)]) == 2
    assert "nor a one-shot run folder (no best_arch.yaml)" in capsys.readouterr().err
    best = yaml.safe_load((tmp_path / "darts" / "best_arch.yaml").read_text())
    assert main(["show", str(tmp_path / "darts"), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["algorithm"] == "darts" and shown["finetune"]["epochs"] == 1
    assert shown["leaderboard"][0]["arch"] == best["arch"]
    assert len(shown["leaderboard"]) == len(best["candidates"])
    assert main(["oneshot", config, *tiny, "--oneshot.algorithm=gdas", "--oneshot.top_k=2",
                 f"--oneshot.run_dir={tmp_path / 'gdas'}"]) == 0
    best = yaml.safe_load((tmp_path / "gdas" / "best_arch.yaml").read_text())
    assert best["algorithm"] == "gdas" and len(best["candidates"]) == 2
    assert main(["oneshot", config, "--oneshot.algorithm=dart"]) == 2
    assert ("unknown oneshot algorithm 'dart'; did you mean 'darts'? valid algorithms: spos, "
            "darts, gdas" in capsys.readouterr().err)
    assert main(["oneshot", config, "--oneshot.num_candidates=5"]) == 2
    assert "'num_candidates' applies to algorithm spos only" in capsys.readouterr().err
    # one path per step leaves parameters unused: plain DDP would stop in the first step
    for path, algorithm in ((config, "gdas"), ("examples/oneshot_digits/oneshot.yaml", "spos")):
        assert main(["oneshot", path, f"--oneshot.algorithm={algorithm}",
                     "--trainer.strategy=ddp", f"--oneshot.run_dir={tmp_path / 'ddp'}"]) == 2
        assert (f"trainer.strategy='ddp' cannot train {algorithm}" in capsys.readouterr().err)
    assert not (tmp_path / "ddp").exists()


def test_cli_darts_takes_the_trainers_clip_algorithm_and_refuses_accumulation(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    run = ["oneshot", "examples/oneshot_digits/darts.yaml", "--trainer.max_epochs=1",
           "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
           "--oneshot.calibration_batches=1", f"--oneshot.run_dir={tmp_path}"]
    earlier = "arch: {}\nscore: 0.5\n"
    (tmp_path / "best_arch.yaml").write_text(earlier)
    # was: Lightning's MisconfigurationException in the first step, after the earlier
    # run's outputs were removed; and accumulation: "switch to automatic optimization"
    for setting, said in (
            ("accumulate_grad_batches=2", "trainer.accumulate_grad_batches=2 cannot train "
                                          "darts: its step updates the logits and the weights "
                                          "by hand (manual optimization)"),
            ("gradient_clip_algorithm=max", "trainer.gradient_clip_algorithm='max': must be "
                                            "'norm' or 'value'")):
        assert main([*run, f"--trainer.{setting}"]) == 2
        assert said in capsys.readouterr().err, setting
        assert (tmp_path / "best_arch.yaml").read_text() == earlier
    assert main([*run, "--trainer.gradient_clip_val=0.5",
                 "--trainer.gradient_clip_algorithm=value"]) == 0
    assert "DARTS search: derived {" in capsys.readouterr().out
    assert yaml.safe_load((tmp_path / "best_arch.yaml").read_text())["algorithm"] == "darts"


def test_plot_alphas_draws_a_panel_per_decision(tmp_path):
    alphas = {"algorithm": "darts", "values": {"act": ["relu", "tanh"], "w": [4, 8, 16]},
              "history": [{"epoch": e, "probs": {"act": [0.5, 0.5], "w": [0.2, 0.3, 0.5]}}
                          for e in (1, 2)]}
    plot_alphas(alphas, tmp_path / "alphas.png")
    assert (tmp_path / "alphas.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_a_choice_module_forward_never_calls_is_refused_before_training(tmp_path, algorithm):
    nas = DifferentiableNAS(UnusedChoice(), algorithm=algorithm, export_dir=str(tmp_path / "o"))
    trainer = _trainer(tmp_path, max_epochs=1)
    with pytest.raises(ConfigError, match=rf"{algorithm.upper()} searches .* forward never "
                                          r"called 'aux' \(net.aux: LayerChoice\)"):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and not (tmp_path / "o").exists()


class _RecordAtEpochStart(pl.Callback):
    """The epochs ``alphas.json`` holds when each training epoch starts (None: no file)."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen = path, []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seen.append([entry["epoch"] for entry in json.loads(
            self.path.read_text())["history"]] if self.path.is_file() else None)


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_alphas_json_holds_each_epoch_by_its_end(tmp_path, algorithm):
    # was: written when the fit ended, so a fit killed part-way left none (oneshot.records)
    pl.seed_everything(0, verbose=False)
    out = tmp_path / "out"
    nas = DifferentiableNAS(TinySupernet(), algorithm=algorithm, num_classes=3,
                            export_dir=str(out))
    record = _RecordAtEpochStart(out / "alphas.json")
    _trainer(tmp_path, max_epochs=3, limit_train_batches=2, limit_val_batches=1,
             callbacks=[record]).fit(nas, datamodule=BilevelData(BlobData()))
    assert record.seen == [None, [1], [1, 2]]
    assert json.loads((out / "alphas.json").read_text()) == nas.alpha_history()
    assert not list(out.glob(".*.partial"))
