"""From Python, a dataclass argument searched as a group (``Search(Net, {"net": {"hidden":
Choice(...)}})``) whose signature default is an instance other than the dataclass's own
(``net: NetConfig = NetConfig(depth=3)``) keeps that default's other fields, as a config
search's ``model.net.hidden`` does and as LightningCLI's ``--model.net='{hidden: 4}'``
does: each trial gets ``NetConfig(hidden=<searched>, depth=3)``.

The search trains one real trial (tiny blobs, one epoch); the factory's build, which every
executor's trial runs, is checked on its own too.
"""

from __future__ import annotations

import re

import lightning.pytorch as pl
import pytest
import torch
import yaml
from lightning.pytorch.cli import instantiate_module

from lightning_nas import Choice, Search
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.errors import ConfigError
from lightning_nas.export_config import model_section
from tests.helpers_data import BlobData
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import DEEP, NetConfig, Sized, cli_model, deep_layers

TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False}


class DeepDefault(ClassifierSteps, pl.LightningModule):
    """``net``'s default sets ``depth`` to 3; ``opt``'s is a plain dict (passed whole)."""

    built: list[dict] = []  # the arguments of each model built

    def __init__(self, net: NetConfig = DEEP, opt: dict = {"lr": 0.1, "momentum": 0.9},  # noqa: B006
                 size: Sized = Sized(width=5)) -> None:  # noqa: B008
        super().__init__()
        self.save_hyperparameters()
        DeepDefault.built.append({"net": net, "opt": opt, "size": size})
        self.net = deep_layers(net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class DeepData(BlobData):
    """``BlobData`` with a dataclass argument whose default is not its dataclass's own."""

    def __init__(self, net: NetConfig = DEEP, batch_size: int = 64) -> None:  # noqa: B008
        super().__init__(batch_size=batch_size)
        self.net = net


def _built(factory: ModelFactory, arch: dict) -> dict:
    """The arguments a model built for ``arch`` was given."""
    DeepDefault.built.clear()
    factory.build(arch)
    return DeepDefault.built[-1]


def test_a_groups_dataclass_keeps_its_signature_defaults_other_fields():
    model = ModelFactory(DeepDefault).build({"net": {"hidden": 4}})
    assert DeepDefault.built[-1]["net"] == NetConfig(hidden=4, depth=3)  # (was: depth=1)
    assert model.hparams.net == {"hidden": 4, "depth": 3}  # the config, as LightningCLI's
    # the group's fields win; a required field the default gives is kept
    got = _built(ModelFactory(DeepDefault), {"net": {"hidden": 4, "depth": 2},
                                             "size": {"act": "tanh"}})
    assert (got["net"], got["size"]) == (NetConfig(4, 2), Sized(5, "tanh"))


def test_a_required_field_the_signature_default_gives_is_not_refused_before_training():
    factory = ModelFactory(DeepDefault)
    factory.check_arch({"size": {"act": "tanh"}})  # (was: refused, Sized requires width)
    with pytest.raises(ConfigError, match=re.escape("model.size.widht: not a field of Sized")):
        factory.check_arch({"size": {"widht": 3}})


def test_a_model_init_args_instance_replaces_the_signature_default():
    # the user's instance is the argument: its fields, not the default's, are kept
    factory = ModelFactory(DeepDefault, {"net": NetConfig(hidden=2, depth=1)})
    assert _built(factory, {"net": {"hidden": 4}})["net"] == NetConfig(hidden=4, depth=1)


def test_a_class_path_node_of_the_dataclass_is_set_over_the_signature_default(tmp_path):
    # as LightningCLI's --model.net='{class_path: NetConfig, init_args: {hidden: 4}}' (was:
    # over NetConfig's own defaults, depth=1, where best.yaml's node built depth=3)
    node = {"class_path": f"{NetConfig.__module__}.NetConfig", "init_args": {"hidden": 4}}
    model = ModelFactory(DeepDefault).build({"net": node})
    assert DeepDefault.built[-1]["net"] == NetConfig(hidden=4, depth=3)
    saved = {k: v for k, v in model.hparams.items() if k != "_instantiator"}
    instantiate_module(DeepDefault, saved)  # as load_from_checkpoint rebuilds it
    assert DeepDefault.built[-1]["net"] == NetConfig(hidden=4, depth=3)
    cli_model(tmp_path, model_section({"class_path": f"{__name__}.DeepDefault"}, {"net": node}))
    assert DeepDefault.built[-1]["net"] == NetConfig(hidden=4, depth=3)  # best.yaml's


def test_a_dict_argument_searched_as_a_group_is_still_passed_whole():
    # a dict's group is the argument whole, as LightningCLI's --model.opt='{lr: 0.2}'
    assert _built(ModelFactory(DeepDefault), {"opt": {"lr": 0.2}})["opt"] == {"lr": 0.2}


def test_a_data_classs_dataclass_group_keeps_its_signature_defaults_other_fields():
    factory = DataFactory(DeepData)
    assert factory.build({"data.net": {"hidden": 4}}).net == NetConfig(hidden=4, depth=3)


def test_a_search_trains_and_exports_the_fields_its_trial_got(tmp_path):
    DeepDefault.built.clear()
    run = tmp_path / "run"
    result = Search(DeepDefault, {"net": {"hidden": Choice([4, 16])}}, data=BlobData,
                    trainer=TRAINER, budget=1, run_dir=run, seed=0, verbose=False).run()
    hidden = result.best.arch["net"]["hidden"]
    assert DeepDefault.built and all(
        args["net"].depth == 3 for args in DeepDefault.built)
    ckpt = torch.load(run / "best.ckpt", weights_only=False)
    weights = [v for k, v in ckpt["state_dict"].items() if k.endswith("weight")]
    assert len(weights) == 4 and weights[0].shape == (hidden, 8)  # three hidden layers
    model = DeepDefault.load_from_checkpoint(run / "best.ckpt", weights_only=False)
    assert model.hparams.net == NetConfig(hidden=hidden, depth=3)
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["arch"] == {"net": {"hidden": hidden}}  # the space's values, as searched
    assert best["model"]["init_args"]["net"] == {"hidden": hidden, "depth": 3}
