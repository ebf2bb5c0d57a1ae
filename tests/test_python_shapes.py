"""``Search(Class, space)`` from Python over LightningModules shaped as real projects write
them: a dataclass config argument (``cfg: ModelConfig``) searched as a group, and a nested
``net: nn.Module`` argument (the lightning-hydra-template ``__init__(net, optimizer, ...)``)
whose own arguments are searched.

Each search trains for real (tiny blobs, one epoch), and the checkpoint's hyperparameters and
layer sizes are checked against the architecture the store says.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import TYPE_CHECKING, Literal

import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from lightning_nas import Choice, Fixed, Search
from lightning_nas.config.factories import ModelFactory
from lightning_nas.errors import ConfigError
from tests.helpers_data import BlobData
from tests.helpers_models import ClassifierSteps

if TYPE_CHECKING:  # for type checkers only, as projects import what only annotations name
    from torch.optim.lr_scheduler import LRScheduler

TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False}


class _Classifier(ClassifierSteps, pl.LightningModule):
    """The steps every model here shares: cross-entropy, ``val_acc``."""

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


@dataclasses.dataclass
class ModelConfig:
    """A project's model config, one dataclass argument."""

    width: int = 16
    depth: int = 1
    act: str = "relu"


class CfgNet(_Classifier):
    """``__init__(self, cfg: ModelConfig)``: the architecture in one dataclass."""

    def __init__(self, cfg: ModelConfig, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        act = {"relu": nn.ReLU, "tanh": nn.Tanh}[cfg.act]
        layers, d = [], 8
        for _ in range(cfg.depth):
            layers += [nn.Linear(d, cfg.width), act()]
            d = cfg.width
        self.net = nn.Sequential(*layers, nn.Linear(d, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DenseNet(nn.Module):
    """The nested network of the template's LitModule (``SimpleDenseNet``)."""

    def __init__(self, input_size: int = 8, hidden: int = 16, output_size: int = 3) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Linear(input_size, hidden), nn.ReLU(),
                                   nn.Linear(hidden, output_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class TemplateNet(_Classifier):
    """lightning-hydra-template's ``DigitsLitModule`` shape: the network and the optimizer
    are objects, not saved as hyperparameters."""

    def __init__(self, net: nn.Module, optimizer: functools.partial,
                 scheduler: functools.partial | None = None, compile: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False, ignore=["net"])
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def configure_optimizers(self):
        return self.hparams.optimizer(params=self.parameters())


class NetOnly(_Classifier):
    """A network argument and plain values only (its hyperparameters as LightningCLI's)."""

    def __init__(self, net: nn.Module, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CheckedNet(_Classifier):
    """Annotations as a typed project writes them, one naming a ``TYPE_CHECKING`` import
    (which does not resolve at run time)."""

    def __init__(self, width: int = 16, act: Literal["relu", "tanh"] = "relu",
                 scheduler: LRScheduler | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, width), nn.ReLU() if act == "relu" else nn.Tanh(),
                                 nn.Linear(width, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _search(model, space, run_dir, **kwargs):
    return Search(model, space, data=BlobData, trainer=TRAINER, budget=2, run_dir=run_dir,
                  seed=0, **kwargs)


def test_a_dataclass_argument_searched_as_a_group_gets_the_dataclass(tmp_path):
    # was: each trial got the group's dict ('dict' object has no attribute 'act', refused as
    # a build error of every trial); jsonargparse builds the dataclass from it
    space = {"cfg": {"width": Choice([4, 32]), "depth": Choice([1, 2])}}
    result = _search(CfgNet, space, tmp_path / "run").run()
    cfg = result.best.arch["cfg"]
    ckpt = torch.load(tmp_path / "run" / "best.ckpt", weights_only=False)
    assert ckpt["hyper_parameters"]["cfg"] == {**cfg, "act": "relu"}  # every field, as
    # LightningCLI saves them (was: the group's alone)
    weights = [v for k, v in ckpt["state_dict"].items() if k.endswith("weight")]
    assert len(weights) == cfg["depth"] + 1 and weights[0].shape == (cfg["width"], 8)
    model = CfgNet.load_from_checkpoint(tmp_path / "run" / "best.ckpt")
    assert model.hparams.cfg == ModelConfig(**cfg)  # rebuilt by jsonargparse, as LightningCLI
    assert model.net[0].out_features == cfg["width"]


@pytest.mark.parametrize(("group", "needle"), [
    ({"widht": Choice([4, 32])}, "model.cfg.widht: not a field of ModelConfig; did you mean "
                                 "'width'? fields: width, depth, act"),
    ({"width": Choice([4, 32.5])}, "space key 'cfg.width' may take 32.5: model.cfg.width=32.5: "
                                   "expected int (the annotation of ModelConfig.width)"),
])
def test_a_dataclass_groups_bad_field_is_refused_before_training_naming_it(
        tmp_path, group, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        _search(CfgNet, {"cfg": group, "lr": Choice([0.05, 0.1])}, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_dataclass_in_init_args_keeps_the_fields_its_group_does_not_set(tmp_path):
    # depth=2 given, the group sets width only: each trial's ModelConfig keeps depth 2, as
    # LightningCLI's --model.cfg='{width: 4}' keeps a config's (was: refused, "model
    # init_args['cfg'] has the key depth, which the search space's group 'cfg' does not set")
    given = {"cfg": ModelConfig(depth=2)}
    _search(CfgNet, {"cfg": {"width": Choice([4, 32])}, "lr": Choice([0.05, 0.1])},
            tmp_path / "run", model_init_args=given)  # the checks before training: passed
    model = ModelFactory(CfgNet, given).build({"cfg": {"width": 4}, "lr": 0.1})
    assert len(model.net) == 5  # two hidden layers; the checkpoint's hyperparameters:
    assert model.hparams.cfg == {"width": 4, "depth": 2, "act": "relu"}


def test_an_instance_the_store_cannot_keep_with_fields_its_group_does_not_set_is_refused(
        tmp_path):
    @dataclasses.dataclass
    class Local:  # no import path: the store keeps no record of it, so best.yaml's node
        width: int = 16  # could not say depth=2, though each trial keeps it
        depth: int = 1
        act: str = "relu"

    class LocalNet(CfgNet):
        def __init__(self, cfg: Local, lr: float = 0.05) -> None:
            super().__init__(cfg, lr)

    LocalNet.__init__.__annotations__["cfg"] = Local  # as a script without the future import
    space = {"cfg": {"width": Choice([4, 32])}, "lr": Choice([0.05, 0.1])}
    with pytest.raises(ConfigError, match=re.escape(
            "model init_args['cfg'] has the key depth, which the search space's group 'cfg' "
            "does not set: each trial keeps it (the group's dict is set over the instance's "
            "fields), but the store keeps no record of the instance")) as err:
        _search(LocalNet, space, tmp_path / "run", model_init_args={"cfg": Local(depth=2)})
    assert "'depth': Fixed(2)" in str(err.value)
    assert not (tmp_path / "run").exists()
    # fields left at their defaults are what best.yaml's node says: taken
    _search(LocalNet, space, tmp_path / "kept", model_init_args={"cfg": Local(width=8)})


def test_a_modules_arguments_searched_as_a_plain_group_are_refused_before_training(tmp_path):
    # was: each trial got net={'hidden': 4}, and trials 1 and 2 failed in
    # configure_optimizers ("optimizer got an empty parameter list"), a run folder written
    adam = functools.partial(torch.optim.Adam, lr=1e-2)
    with pytest.raises(ConfigError, match=re.escape(
            "expected Module (the annotation of TemplateNet.__init__); a dict is no Module: "
            "search its arguments in a class_path node")) as err:
        _search(TemplateNet, {"net": {"hidden": Choice([4, 32])}, "compile": Choice([False])},
                tmp_path / "run", model_init_args={"net": DenseNet(), "optimizer": adam})
    assert "model.net={'hidden': " in str(err.value)
    assert str(err.value).startswith("space key 'net' may take {'hidden': ")  # (was: unnamed)
    assert "builder arch -> LightningModule" in str(err.value) and "model.net.<argument>" in str(
        err.value)
    assert not (tmp_path / "run").exists()


def test_a_modules_bare_import_path_from_python_is_refused_saying_the_node_to_give(tmp_path):
    # a config's `net: tests.helpers.Body` is read as its class_path node; from Python the
    # text stays a text (was refused as "expected Module (the annotation of
    # NetOnly.__init__)", with no word of what to give)
    with pytest.raises(ConfigError) as err:
        _search(NetOnly, {"lr": Choice([0.05, 0.1])}, tmp_path / "run",
                model_init_args={"net": "tests.helpers.Body"})
    assert str(err.value).startswith("model.net='tests.helpers.Body': expected Module")
    assert "give {'class_path': 'tests.helpers.Body'}" in str(err.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("model", [NetOnly, TemplateNet])
def test_a_modules_arguments_searched_as_a_class_path_group_build_it_in_every_trial(
        tmp_path, model):
    # was: the node reached the model as a dict (trials failed: "optimizer got an empty
    # parameter list", "'dict' object is not callable") unless another argument's value
    # was converted (an Enum's name), then it was built
    init_args = {"optimizer": functools.partial(torch.optim.Adam, lr=1e-2)} if (
        model is TemplateNet) else {}
    space = {"net": {"class_path": Fixed(f"{__name__}.DenseNet"),
                     "init_args": {"hidden": Choice([4, 32])}},
             "compile" if model is TemplateNet else "lr": Choice([False, True]) if (
                 model is TemplateNet) else Choice([0.05, 0.1])}
    result = _search(model, space, tmp_path / "run", model_init_args=init_args).run()
    assert [t.status.name for t in result.trials] == ["COMPLETED", "COMPLETED"]
    hidden = result.best.arch["net"]["init_args"]["hidden"]
    ckpt = torch.load(tmp_path / "run" / "best.ckpt", weights_only=False)
    assert ckpt["state_dict"]["net.model.0.weight"].shape == (hidden, 8)


@pytest.mark.parametrize(("init_args", "needle"), [
    ({"hiden": Choice([4, 32])}, "model.net.hiden: not an argument of DenseNet.__init__; did "
                                 "you mean 'hidden'? accepted: input_size, hidden, output_size"),
    ({"hidden": Choice([4, 32.5])}, "space key 'net.init_args.hidden' may take 32.5: "
                                    "model.net.hidden=32.5: expected int (the annotation of "
                                    "DenseNet.__init__)"),
])
def test_a_class_path_groups_bad_argument_is_refused_before_training_naming_it(
        tmp_path, init_args, needle):
    space = {"net": {"class_path": Fixed(f"{__name__}.DenseNet"), "init_args": init_args},
             "lr": Choice([0.05, 0.1])}
    with pytest.raises(ConfigError, match=re.escape(needle)):
        _search(NetOnly, space, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_hydra_partial_optimizer_node_reaches_the_module_as_hydra_gives_it(tmp_path):
    # the template reads self.hparams.optimizer(params=...): a Hydra `_partial_` node must
    # be the partial there, as Hydra's instantiate gives it (was: the dict, "'dict' object is
    # not callable" in trials 1 and 2; with a class_path node beside it, the node's config)
    space = {"net": {"class_path": Fixed(f"{__name__}.DenseNet"),
                     "init_args": {"hidden": Choice([4, 32])}},
             "optimizer": Choice([{"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01},
                                  {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1}])}
    result = _search(TemplateNet, space, tmp_path / "run").run()
    assert [t.status.name for t in result.trials] == ["COMPLETED", "COMPLETED"]
    ckpt = torch.load(tmp_path / "run" / "best.ckpt", weights_only=False)
    group = ckpt["optimizer_states"][0]["param_groups"][0]
    optimizer = result.best.arch["optimizer"]
    assert group["lr"] == optimizer["lr"]
    assert ("betas" in group) == (optimizer["_target_"] == "torch.optim.Adam")


@pytest.mark.parametrize(("model", "key", "form"), [
    (TemplateNet, "net.hidden", "{'net': {'class_path': Fixed('pkg.Class'), 'init_args': "
                                "{'hidden': ...}}}"),
    (CfgNet, "cfg.width", "{'cfg': {'width': ...}}"),
])
def test_a_dotted_key_into_an_argument_names_how_python_searches_it(tmp_path, model, key, form):
    # was: "space key 'net.hidden' is not an argument of TemplateNet.__init__; accepted: net,
    # optimizer, scheduler, compile", which says neither why nor what to write
    init_args = {"net": DenseNet(), "optimizer": functools.partial(torch.optim.Adam)} if (
        model is TemplateNet) else {}
    with pytest.raises(ConfigError, match=re.escape(
            f"space key {key!r} is not an argument of {model.__name__}.__init__; it reaches "
            f"into the argument {key.split('.')[0]!r}")) as err:
        _search(model, {key: Choice([4, 32]), "compile" if model is TemplateNet else "lr":
                        Choice([0.05, 0.1])}, tmp_path / "run", model_init_args=init_args)
    assert form in str(err.value) and f"model.{key}" in str(err.value)
    assert not (tmp_path / "run").exists()


def test_the_annotations_that_resolve_are_checked_beside_one_that_does_not(tmp_path):
    # was: `scheduler: LRScheduler | None` (a TYPE_CHECKING import) made typing refuse the
    # whole signature, so no annotation was read: 'gelu' for Literal['relu', 'tanh'] trained
    # a Tanh network, stored as gelu
    with pytest.raises(ConfigError, match=re.escape(
            "space key 'act' may take 'gelu': model.act='gelu': expected 'relu' or 'tanh' "
            "(the annotation of CheckedNet.__init__)")):
        _search(CheckedNet, {"act": Choice(["relu", "gelu"]), "width": Choice([4, 32])},
                tmp_path / "run")
    assert not (tmp_path / "run").exists()
