"""What ``DifferentiableNAS`` cannot search is refused when built or before any training
step, naming the bad value: its settings, ``num_classes``, several validation loaders,
candidates of different shapes, manual optimization, an ``lr`` beside the module's own
optimizer, a negative ``gradient_clip_val``, a choice module forward never calls."""

from __future__ import annotations

import inspect
import re

import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError, SpaceError
from lightning_nas.oneshot.base import ChoiceModule
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.choices import ChoiceLinear, LayerChoice
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.differentiable_args import GDAS_DEFAULTS
from lightning_nas.space import Float
from tests.helpers_data import BlobData, TwoValBlobData
from tests.helpers_nets import TinySupernet, TwoValSupernet
from tests.helpers_oneshot_fit import UnusedChoice, plain_trainer, two_val_config
from tests.launcher import ROOT


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="unknown algorithm 'drats'; did you mean 'darts'"):
        DifferentiableNAS(TinySupernet(), algorithm="drats")
    with pytest.raises(ConfigError, match="tau_min <= tau_max"):
        DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_min=5.0, tau_max=1.0)
    with pytest.raises(ConfigError, match="BilevelData"):  # plain data: no arch batches
        plain_trainer(None, max_epochs=1).fit(DifferentiableNAS(TinySupernet()),
                                              datamodule=BlobData())
    # was: trained, and "derived" the argmax of the logits' random start
    nas = DifferentiableNAS(TinySupernet(), warmup_epochs=2)
    with pytest.raises(ConfigError, match=r"warmup_epochs=2 trains only the weights in all 2 "
                                          r"epochs \(max_epochs\)"):
        plain_trainer(None, max_epochs=2).fit(nas, datamodule=BilevelData(BlobData()))
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


def test_a_decision_of_no_values_is_refused_when_built_naming_it():
    # a choice module of a range (a Float): was AttributeError: 'Float' object has no
    # attribute 'values', naming neither the decision nor what DARTS/GDAS relax
    class Scale(ChoiceModule):
        label = "scale"

        def decisions(self):
            return {"scale": Float(0.5, 2.0)}

        def forward(self, x):
            return x

    with pytest.raises(SpaceError, match=r"^choice 'scale' decides Float\(0\.5, 2\.0\), "
                                         r"which DARTS and GDAS cannot relax: .*Choice, Ordered"):
        DifferentiableNAS(nn.Sequential(nn.Linear(4, 3), Scale()))


@pytest.mark.parametrize("kwargs", [{"tau_max": 5.0}, {"tau_min": 0.5},
                                    {"tau_schedule": "linear"}, {"tau_epochs": 3}])
def test_gdas_settings_beside_darts_are_refused_when_built(kwargs):
    # as lightning-nas oneshot refuses them (was: taken, and ignored: DARTS has no temperature)
    (key, value), = kwargs.items()
    with pytest.raises(ConfigError, match=f"^{key}={value!r} sets GDAS's temperature, but "
                                          f"algorithm='darts' has none"):
        DifferentiableNAS(TinySupernet(), **kwargs)
    DifferentiableNAS(TinySupernet(), algorithm="gdas", **kwargs)
    said = inspect.signature(DifferentiableNAS).parameters  # the defaults the check knows
    assert {key: said[key].default for key in GDAS_DEFAULTS} == GDAS_DEFAULTS


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


@pytest.mark.parametrize("kwargs", [{"max_steps": 2}, {"max_epochs": -1, "max_steps": 2}])
def test_gdas_without_a_number_of_epochs_names_the_arguments(tmp_path, kwargs):
    # was: "GDAS needs max_epochs or tau_epochs for its temperature", naming neither as
    # written (the Trainer's argument, DifferentiableNAS's)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path, **kwargs)
    with pytest.raises(ConfigError, match=re.escape(
            "GDAS needs the Trainer's max_epochs above 0 or DifferentiableNAS(tau_epochs=...) "
            "for its temperature schedule: max_epochs=-1 (Lightning's where max_steps or "
            "max_time is given without max_epochs) sets no number of epochs to decay it "
            "over")):
        trainer.fit(DifferentiableNAS(TinySupernet(), algorithm="gdas"),
                    datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0


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
    trainer = plain_trainer(tmp_path, max_epochs=1, num_sanity_val_steps=0)
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
    # the key as written (was: "num_classes=5 ...; set num_classes=10")
    assert "oneshot.num_classes=5 does not fit the data: the network predicts 10 classes " \
           "and the targets reach class 9; set oneshot.num_classes=10" in capsys.readouterr().err
    assert (tmp_path / "best_arch.yaml").read_text() == "an earlier run's result"


@pytest.mark.parametrize("sanity", [2, 0])
def test_several_validation_loaders_are_refused_before_training(tmp_path, capsys, sanity):
    # was: "no `dataloader_idx` argument in `DifferentiableNAS.validation_step()`" at the
    # sanity check; without it "'list' object has no attribute 'shape'" in the first step
    # (the list of loaders zipped into the architecture's batches)
    nas = DifferentiableNAS(TwoValSupernet(), num_classes=3, export_dir=str(tmp_path / "out"))
    trainer = plain_trainer(tmp_path, max_epochs=1, num_sanity_val_steps=sanity)
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


@pytest.mark.parametrize("sanity", [2, 0])
def test_layer_choice_candidates_of_different_shapes_are_refused_before_training(
        tmp_path, sanity):
    # was: torch's "The size of tensor a (12) must match the size of tensor b (6)"
    net = nn.Sequential(ChoiceLinear(8, 16, label="inp"),
                        LayerChoice({"wide": nn.Linear(16, 12), "narrow": nn.Linear(16, 6)},
                                    label="proj"),
                        ChoiceLinear(12, 3, label="out"))
    nas = DifferentiableNAS(net, num_classes=3)
    trainer = plain_trainer(tmp_path, max_epochs=1, num_sanity_val_steps=sanity)
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
    trainer = plain_trainer(tmp_path, max_epochs=1)
    with pytest.raises(ConfigError, match=r"^choice 'proj': GDAS trains and scores paths that "
                                          r"pick any candidate, and candidate 'narrow' does not "
                                          r"fit the network: .*mat1 and mat2.*'wide': \(64, 12\), "
                                          r"'narrow': \(64, 6\)\); "):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and nas.history == []
    # a tail that follows the width takes either: trained (two optimizer steps a batch)
    nas = DifferentiableNAS(net(ChoiceLinear(12, 3, label="out")), num_classes=3,
                            algorithm="gdas")
    trainer = plain_trainer(tmp_path / "follows", max_epochs=2)
    trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 2 * 3 * 2 and len(nas.history) == 2


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
    trainer = plain_trainer(tmp_path, max_epochs=1, num_sanity_val_steps=0)
    with pytest.raises(ConfigError, match="TinySupernet sets automatic_optimization=False"):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and nas.history == []


def test_an_lr_beside_the_modules_own_optimizer_is_refused_before_training(tmp_path):
    # was: taken into the hyperparameters (logged as the lr) and ignored: the weights
    # trained with the lr of the module's configure_optimizers
    model = TinySupernet(lr=0.05)
    before = [p.detach().clone() for p in model.parameters()]
    nas = DifferentiableNAS(model, num_classes=3, lr=0.5)
    with pytest.raises(ConfigError, match=re.escape(
            "DifferentiableNAS(lr=0.5, weight_decay=0.0) sets the weight optimizer it builds, "
            "but TinySupernet.configure_optimizers gives it (lr 0.05)")):
        plain_trainer(tmp_path, max_epochs=1).fit(nas, datamodule=BilevelData(BlobData()))
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


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_a_choice_module_forward_never_calls_is_refused_before_training(tmp_path, algorithm):
    nas = DifferentiableNAS(UnusedChoice(), algorithm=algorithm, export_dir=str(tmp_path / "o"))
    trainer = plain_trainer(tmp_path, max_epochs=1)
    with pytest.raises(ConfigError, match=rf"{algorithm.upper()} searches .* forward never "
                                          r"called 'aux' \(net.aux: LayerChoice\)"):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and not (tmp_path / "o").exists()


@pytest.mark.parametrize(("setting", "advice"), [
    ({"gradient_clip_val": 0.5, "gradient_clip_algorithm": "value"},
     r"DifferentiableNAS\(gradient_clip_val=0.5, gradient_clip_algorithm='value'\)"),
    ({"accumulate_grad_batches": 2}, r"leave it at 1 \(a larger data batch_size")])
def test_the_trainers_clipping_and_accumulation_are_refused_saying_what_works(setting, advice):
    # was: Lightning's "Remove `Trainer(gradient_clip_val=0.5)` or switch to automatic
    # optimization", which DifferentiableNAS cannot: its argument clips
    nas = DifferentiableNAS(TinySupernet(), num_classes=3)
    start = {k: v.detach().clone() for k, v in nas.state_dict().items()}
    key = next(iter(setting))
    with pytest.raises(ConfigError, match=rf"Trainer\({key}=.*manual optimization.*{advice}"):
        plain_trainer(None, max_epochs=1, **setting).fit(
            nas, datamodule=BilevelData(BlobData()))
    assert all(torch.equal(v, start[k]) for k, v in nas.state_dict().items())  # untrained


class _ChoiceOutsideNet(TinySupernet):
    """A supernet with a decision (``post``) outside its exported ``net``."""

    def __init__(self) -> None:
        super().__init__()
        self.post = LayerChoice({"id": nn.Identity(), "tanh": nn.Tanh()}, label="post")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.net(x))


def test_a_decision_outside_the_exported_network_is_refused_when_built():
    # was: trained, then "SpaceError: architecture keys do not match the space: missing [],
    # unknown ['post']" at the export, after the whole search
    with pytest.raises(ConfigError, match=r"net_attr 'net': the decision 'post' is outside "
                                          r"Sequential \(in post\), so its export"):
        DifferentiableNAS(_ChoiceOutsideNet(), num_classes=3)
