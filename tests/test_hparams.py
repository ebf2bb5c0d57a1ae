"""Tests of ``config.hparams``: a config section with objects in its ``init_args`` is built
as LightningCLI builds it, so ``save_hyperparameters()`` keeps config and
``load_from_checkpoint`` rebuilds the module."""

from __future__ import annotations

import enum
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F

from lightning_nas.config.hparams import CLI_INSTANTIATOR, lightningcli_hparams
from lightning_nas.config.section_builder import ConfigBuilder
from tests.helpers_data import BlobData
from tests.helpers_records import DEEP, NetConfig, cli_model


class Body(nn.Module):
    """The injected network."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SavesItsArgs(pl.LightningModule):
    """A LightningCLI-shaped module (network and optimizer injected) that saves its
    arguments, as LightningCLI users write them."""

    def __init__(self, net: nn.Module, optimizer: OptimizerCallable = torch.optim.Adam,
                 scale: float = 1.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net, self.optimizer = net, optimizer

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.net(x) * self.hparams.scale, y)

    def configure_optimizers(self):
        return self.optimizer(self.parameters())


SECTION = {"class_path": "tests.test_hparams.SavesItsArgs",
           "init_args": {"net": {"class_path": "tests.test_hparams.Body"},
                         "optimizer": {"class_path": "torch.optim.SGD",
                                       "init_args": {"lr": 0.1}}}}


def test_a_module_built_from_nodes_saves_config_and_loads_from_its_checkpoint(tmp_path):
    # was: its hparams held the Body object and the optimizer partial, so its checkpoint
    # failed to load ("Weights only load failed ... GLOBAL tests.test_hparams.Body")
    model = ConfigBuilder(SECTION, "model", plain_keys=True)({"model.net.hidden": 5})
    assert model.hparams["net"] == {"class_path": "tests.test_hparams.Body",
                                    "init_args": {"hidden": 5}}
    assert model.hparams["_instantiator"] == CLI_INSTANTIATOR
    assert model.hparams["scale"] == 1.0  # a default, as LightningCLI's config has it
    assert isinstance(model.net, Body) and model.optimizer.keywords == {"lr": 0.1}
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=2, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(model, datamodule=BlobData())
    trainer.save_checkpoint(tmp_path / "best.ckpt")
    loaded = SavesItsArgs.load_from_checkpoint(tmp_path / "best.ckpt")
    assert loaded.net.layers[0].out_features == 5 and loaded.optimizer.keywords["lr"] == 0.1
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 loaded.state_dict().values(), strict=True))


def test_sections_of_plain_values_and_hydra_nodes_are_built_as_they_are():
    plain = {"class_path": "tests.test_hparams.Body", "init_args": {"hidden": 4}}
    hydra = {"_target_": "tests.test_hparams.SavesItsArgs",
             "net": {"_target_": "tests.test_hparams.Body"}}
    assert lightningcli_hparams(plain) is None and lightningcli_hparams(hydra) is None
    assert lightningcli_hparams(SECTION)["_class_path"] == SECTION["class_path"]
    no_optimizer = {**SECTION, "init_args": {"net": SECTION["init_args"]["net"]}}
    assert lightningcli_hparams(no_optimizer)["optimizer"] == "torch.optim.Adam"  # (was:
    # torch.optim.adam.Adam; LightningCLI's class_path, as jsonargparse writes it)
    model = ConfigBuilder(hydra, "model", plain_keys=True)({})
    assert isinstance(model.hparams["net"], Body)  # Hydra's way: what save_hyperparameters found


def test_a_chosen_node_keeps_the_values_searched_under_it_whatever_the_key_order():
    # was: keys applied in the space's order, so `model.optimizer.lr` before `model.optimizer`
    # was overwritten by the chosen node's lr: the trial trained with 0.01 while the store
    # and best.yaml said 0.5
    from lightning_nas.config.paths import get_dotted
    from lightning_nas.export import best_config

    adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.01}}
    for arch in ({"model.optimizer.lr": 0.5, "model.optimizer": adam},
                 {"model.optimizer": adam, "model.optimizer.lr": 0.5}):
        model = ConfigBuilder(SECTION, "model", plain_keys=True)(arch)
        optimizer = model.configure_optimizers()
        assert isinstance(optimizer, torch.optim.Adam)
        assert optimizer.param_groups[0]["lr"] == 0.5
        assert get_dotted(best_config({"model": SECTION}, arch), "model.optimizer") == {
            "class_path": "torch.optim.Adam", "init_args": {"lr": 0.5}}
        assert adam["init_args"]["lr"] == 0.01  # the space's option is left as it was


class Shade(enum.Enum):
    """An ``Enum`` argument's type."""

    LIGHT = "light"
    DARK = "dark"


class ObjectDefaults(pl.LightningModule):
    """A module whose defaults are objects a config writes as text: a class, an ``Enum``
    member, a ``Path``; and a dataclass instance, which it writes as its fields."""

    def __init__(self, hidden: int = 8, act: type[nn.Module] = nn.ReLU,
                 shade: Shade = Shade.LIGHT, root: Path = Path("data"),
                 net: NetConfig = DEEP) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, hidden), act(), nn.Linear(hidden, 3))


def test_a_section_of_plain_values_over_object_defaults_saves_config_as_lightningcli(
        tmp_path):
    # was: built as it is, so its hparams held the class, the Enum member and the Path, and
    # load_from_checkpoint of its checkpoint failed ("Weights only load failed ... GLOBAL
    # torch.nn.modules.activation.ReLU"), where LightningCLI's saves them as text
    section = {"class_path": f"{__name__}.ObjectDefaults", "init_args": {"hidden": 4}}
    model = ConfigBuilder(section, "model", plain_keys=True)({"hidden": 5})
    theirs = dict(cli_model(tmp_path, {**section, "init_args": {"hidden": 5}}).hparams)
    ours = dict(model.hparams)
    # the class by the shortest path it imports from, as jsonargparse writes it (was:
    # torch.nn.modules.activation.ReLU, where LightningCLI's hold torch.nn.ReLU)
    assert ours == theirs == {
        "_class_path": section["class_path"], "hidden": 5, "act": "torch.nn.ReLU",
        "shade": "LIGHT", "root": "data", "net": {"hidden": 8, "depth": 3},
        "_instantiator": CLI_INSTANTIATOR}
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                "pytorch-lightning_version": pl.__version__}, tmp_path / "best.ckpt")
    loaded = ObjectDefaults.load_from_checkpoint(tmp_path / "best.ckpt")  # weights_only
    assert loaded.net[0].out_features == 5 and isinstance(loaded.net[1], nn.ReLU)
    assert loaded.hparams["net"] == DEEP  # rebuilt by LightningCLI's instantiator


class TextNumbers(pl.LightningModule):
    """A module whose arguments a config may give as text LightningCLI reads as numbers."""

    def __init__(self, k: int | str = 1, s: str | int = "a", width: int = 4,
                 rate: float = 0.5) -> None:
        super().__init__()
        self.save_hyperparameters()


def test_a_text_a_numbers_annotation_reads_is_saved_as_the_number_as_lightningcli_saves_it(
        tmp_path):
    # a Union tries its types in order, as jsonargparse: '3' for int | str is 3, for
    # str | int '3'; was: the texts saved as given ('3', '5', '0.25'), in the hparams and in
    # best_config.yaml, where LightningCLI's hold the numbers
    from lightning_nas.export_config import best_config

    section = {"class_path": f"{__name__}.TextNumbers",
               "init_args": {"k": "3", "s": "3", "width": "5", "rate": "0.25"}}
    theirs = dict(cli_model(tmp_path, section).hparams)
    ours = dict(ConfigBuilder(section, "model", plain_keys=True)({}).hparams)
    assert ours == theirs == {"_class_path": section["class_path"], "k": 3, "s": "3",
                              "width": 5, "rate": 0.25, "_instantiator": CLI_INSTANTIATOR}
    assert best_config({"model": section}, {})["model"]["init_args"] == {
        "k": 3, "s": "3", "width": 5, "rate": 0.25}
