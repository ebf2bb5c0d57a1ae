"""From Python, a search of an argument annotated with a ``Union`` of dataclasses
(``Search(Typed, {"net": {"hidden": {"rate": Choice([1, 2])}}})``, or a ``Choice`` of
mappings at ``net``) gives each trial the object LightningCLI builds from a config holding
the trial's values (its class, its fields, an int a float field gets as the float), and
``best.yaml``'s node builds it again; values no class takes are refused before training,
naming the key, the value and each class.

The searches train real trials (tiny blobs, one epoch, one thread).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightning.pytorch as pl
import pytest
import torch
import yaml
from torch import nn

from lightning_nas import Choice, Search
from lightning_nas.config.factories import ModelFactory
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.errors import ConfigError
from tests.helpers_data import BlobData
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import DEEP, NetConfig, cli_model

torch.set_num_threads(1)

TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False, "enable_model_summary": False}


@dataclass
class Named:
    """``NetConfig``'s fields, ``hidden`` a name."""

    hidden: str = "h"
    depth: int = 2


@dataclass
class Inner:
    """A nested dataclass with a float field."""

    x: int = 0
    rate: float = 0.5


@dataclass
class Nested:
    """``NetConfig``'s fields, ``hidden`` a nested dataclass; a float field of its own."""

    hidden: Inner = field(default_factory=Inner)
    depth: int = 1
    scale: float = 1.0


class Typed(ClassifierSteps, pl.LightningModule):
    """``net`` takes a ``NetConfig``, a ``Named`` or a ``Nested``, in that order."""

    built: list[object] = []  # the ``net`` of each model built
    trained: list[object] = []  # the ``net`` of each model fitted, in the trials' order

    def __init__(self, net: NetConfig | Named | Nested = DEEP) -> None:
        super().__init__()
        self.save_hyperparameters()
        Typed.built.append(net)
        self.net = net
        self.layer = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def on_fit_start(self) -> None:
        Typed.trained.append(self.net)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def _cli_net(folder, net: dict) -> object:
    """The ``net`` LightningCLI builds for ``Typed`` from a config giving it ``net``."""
    return cli_model(folder, {"class_path": f"{__name__}.Typed", "init_args": {"net": net}}).net


def _cli_hparams(folder, net: dict) -> object:
    """The hyperparameter ``net`` LightningCLI saves for ``Typed`` from that config."""
    return cli_model(folder, {"class_path": f"{__name__}.Typed",
                              "init_args": {"net": net}}).hparams["net"]


@pytest.mark.parametrize("net", [{"hidden": {"rate": 1}, "scale": 3}, {"hidden": {"x": 5}},
                                 {"hidden": "wide"}, {"hidden": 3}])
def test_a_models_hyperparameters_are_the_config_lightningcli_saves(tmp_path, net):
    want = cli_model(tmp_path, {"class_path": f"{__name__}.Typed", "init_args": {"net": net}})
    python = ModelFactory(Typed).build({"net": net})  # a group of the space
    config = ConfigBuilder({"class_path": f"{__name__}.Typed", "init_args": {"net": net}},
                           "model", plain_keys=True)({})  # a config's init_args
    for model in (python, config):  # the built class's every field, as load_from_checkpoint
        assert model.net == want.net  # builds it again (was: the mapping as given, which it
        assert model.hparams["net"] == want.hparams["net"]  # builds over net's default)


@pytest.mark.parametrize(("space", "budget"), [
    ({"net": {"hidden": {"rate": Choice([1, 2])}, "scale": Choice([2, 3])}}, 2),
    ({"net": Choice([{"hidden": {"x": 5}}, {"hidden": "wide"}, {"hidden": 3}])}, 3),
])
def test_each_trial_gets_and_best_yaml_builds_what_lightningcli_builds(tmp_path, space, budget):
    Typed.trained.clear()
    run = tmp_path / "run"
    result = Search(Typed, space, data=BlobData, trainer=TRAINER, budget=budget, run_dir=run,
                    seed=0, verbose=False).run()
    trained = list(Typed.trained)
    wants = [_cli_net(tmp_path, trial.arch["net"]) for trial in result.trials]
    assert trained == wants and list(map(type, trained)) == list(map(type, wants))
    assert all(isinstance(net.scale, float) for net in trained if isinstance(net, Nested))
    best = yaml.safe_load((run / "best.yaml").read_text())
    want = _cli_net(tmp_path, result.best.arch["net"])
    model = cli_model(tmp_path, best["model"])  # LightningCLI's own build of best.yaml's node
    assert model.net == want and type(model.net) is type(want)
    assert model.hparams["net"] == _cli_hparams(tmp_path, result.best.arch["net"])
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)  # best.ckpt's weights in it: its score
    got = trainer.validate(model, datamodule=BlobData(), ckpt_path=run / "best.ckpt",
                           weights_only=False, verbose=False)[0]  # (load_from_checkpoint
    assert got["val_acc"] == pytest.approx(best["score"], abs=1e-6)  # cannot build a Union
    saved = torch.load(run / "best.ckpt", weights_only=False)["hyper_parameters"]  # of
    assert saved["net"] == model.hparams["net"]  # dataclasses: LightningCLI's own neither)


@pytest.mark.parametrize(("space", "net", "says"), [
    ({"net": {"hidden": Choice([5, [1]])}}, {"hidden": [1]}, "model.net.hidden=[1]: "),
    ({"net": {"hidden": {"zzz": Choice([1, 2])}}}, {"hidden": {"zzz": 1}},
     "model.net.hidden={'zzz': "),
])
def test_values_no_class_takes_are_refused_before_training_naming_each_class(
        tmp_path, space, net, says):
    with pytest.raises((SystemExit, ValueError)):  # LightningCLI refuses it too
        _cli_net(tmp_path, net)
    with pytest.raises(ConfigError) as err:
        Search(Typed, space, data=BlobData, trainer=TRAINER, budget=2,
               run_dir=tmp_path / "run", seed=0, verbose=False).run()
    message = str(err.value)  # (was: "expected int (the annotation of NetConfig.hidden)"
    assert says in message, message  # alone, as if net were a NetConfig)
    assert "model.net: the dict {'hidden': " in message, message
    assert "builds none of the dataclasses model.net is annotated with" in message, message
    assert "NetConfig (fields: hidden, depth)" in message, message
    assert "Named (fields: hidden, depth)" in message, message
    assert "Nested (fields: hidden, depth, scale)" in message, message
    assert not (tmp_path / "run").exists()
