"""Existing Lightning projects searched as they are: a LightningModule and DataModule written
for plain Lightning (a torchmetrics object, a monitor with a slash, two validation loaders, a
monitor-based ``ReduceLROnPlateau``, manual optimization with two optimizers, a DataModule
with ``prepare_data``/``setup``/``teardown`` and ``state_dict``, ``save_hyperparameters``
with ``ignore=`` and an ``nn.Module`` argument, a dataclass and a dict argument) searched
from Python and from a LightningCLI config, and the search's score, ``best.ckpt``, exported
YAML and fine-tune checked against a fresh ``Trainer.validate`` of the checkpoint; a monitor
no validation can score on refused before training, saying what to change.

Tiny blobs, one or two epochs, two trials: every trial trains for real.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Subset, TensorDataset
from torchmetrics.classification import MulticlassAccuracy

from lightning_nas import Search, finetune
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.trial import TrialSpec, fit_trial
from tests.helpers_data import make_blobs

TRAINER = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "logger": False,
           "limit_train_batches": 4}
SPACE = {"hidden": {"choice": [4, 8]}, "lr": {"choice": [0.5, 1.5]}}


class ProjectData(pl.LightningDataModule):
    """A DataModule as projects write one: ``prepare_data``, ``setup(stage)``,
    ``teardown``, ``state_dict``; ``two_val`` adds a second validation loader (the first 32
    training samples)."""

    def __init__(self, batch_size: int = 32, two_val: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.loads = 0

    def prepare_data(self) -> None:
        make_blobs(192)  # a download, in a real project

    def setup(self, stage: str) -> None:
        x, y = make_blobs(192)
        self.train_set, self.val_set = TensorDataset(x[:128], y[:128]), TensorDataset(x[128:],
                                                                                      y[128:])

    def teardown(self, stage: str) -> None:
        self.train_set = self.val_set = None

    def train_dataloader(self) -> DataLoader:
        self.loads += 1
        return DataLoader(self.train_set, batch_size=self.hparams.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        val = DataLoader(self.val_set, batch_size=self.hparams.batch_size)
        if not self.hparams.two_val:
            return val
        return [val, DataLoader(Subset(self.train_set, range(32)),
                                batch_size=self.hparams.batch_size)]

    def state_dict(self) -> dict[str, int]:
        return {"loads": self.loads}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.loads = state_dict["loads"]


class Project(pl.LightningModule):
    """A classifier logging ``val/acc`` (a torchmetrics object) and ``val/loss``, its learning
    rate on a ``ReduceLROnPlateau`` that watches ``val/loss``."""

    def __init__(self, hidden: int = 8, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 3))
        self.val_acc = MulticlassAccuracy(num_classes=3, average="micro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.val_acc(logits, y)
        self.log("val/acc", self.val_acc, sync_dist=True)
        self.log("val/loss", F.cross_entropy(logits, y), sync_dist=True)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": plateau, "monitor": "val/loss"}}


class TwoLoaders(Project):
    """Validates on each of two loaders: ``val/acc/dataloader_idx_0`` and ``_1``, its
    ``ReduceLROnPlateau`` on the first loader's loss."""

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        x, y = batch
        logits = self(x)
        self.log("val/acc", (logits.argmax(-1) == y).float().mean())
        self.log("val/loss", F.cross_entropy(logits, y))

    def configure_optimizers(self):
        optimizers = super().configure_optimizers()
        optimizers["lr_scheduler"]["monitor"] = "val/loss/dataloader_idx_0"
        return optimizers


class Manual(Project):
    """Manual optimization, one optimizer per layer."""

    def __init__(self, hidden: int = 8, lr: float = 0.05) -> None:
        super().__init__(hidden=hidden, lr=lr)
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        for opt in self.optimizers():
            opt.zero_grad()
        self.manual_backward(loss)
        for opt in self.optimizers():
            opt.step()

    def configure_optimizers(self):
        return [torch.optim.SGD(self.net[0].parameters(), lr=self.hparams.lr),
                torch.optim.SGD(self.net[2].parameters(), lr=self.hparams.lr)]


class WithBackbone(Project):
    """A pretrained ``backbone`` passed in, left out of ``save_hyperparameters``; a nested
    dict of settings kept there."""

    def __init__(self, backbone: nn.Module, hidden: int = 8, lr: float = 0.05,
                 extra: dict | None = None) -> None:
        super().__init__(hidden=hidden, lr=lr)
        self.save_hyperparameters(ignore=["backbone"])
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.backbone(x))


class StepOnly(Project):
    """``val_acc`` logged per validation batch only, as a plain fit's progress bar shows it."""

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean(), on_step=True,
                 on_epoch=False)


class StepAndEpoch(StepOnly):
    """``on_step=True, on_epoch=True``: ``val_acc_step`` and ``val_acc_epoch``."""

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean(), on_step=True,
                 on_epoch=True)


@dataclasses.dataclass
class NetConfig:
    """A project's network settings, one dataclass argument."""

    hidden: int = 8
    depth: int = 1


class Configured(Project):
    """``__init__(net: NetConfig, optim: dict)``: the searched values under nested names."""

    built: list[tuple[NetConfig, dict]] = []  # what each build got

    def __init__(self, net: NetConfig | None = None, optim: dict | None = None,
                 head=None) -> None:  # noqa: ANN001 - an older project's, unannotated
        net, optim = net or NetConfig(), optim or {"lr": 0.5}
        super().__init__(hidden=net.hidden, lr=optim["lr"])
        self.save_hyperparameters()
        Configured.built.append((net, optim))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.optim["lr"])


#: a default that is not its dataclass's own
DEEP = NetConfig(depth=3)


class DeepDefault(Configured):
    """``net``'s default sets a field other than the dataclass's default."""

    def __init__(self, net: NetConfig = DEEP, optim: dict | None = None, head=None) -> None:  # noqa: ANN001
        super().__init__(net=net, optim=optim, head=head)


def _validated(model: pl.LightningModule, data: pl.LightningDataModule, metric: str) -> float:
    """``metric`` of ``model`` validated by a fresh Trainer."""
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    per_loader = trainer.validate(model, datamodule=data, verbose=False)
    return next(logged[metric] for logged in per_loader if metric in logged)


def _search(model, run_dir: Path, monitor: str, **kwargs) -> Search:
    return Search(model, SPACE, data=ProjectData, trainer=TRAINER, budget=2, monitor=monitor,
                  mode="max", run_dir=run_dir, seed=0, verbose=False, **kwargs)


def _check_best(run_dir: Path, model_cls: type[pl.LightningModule], data_args: dict,
                **objects) -> dict:
    """``best.yaml``'s score is its ``best.ckpt``'s, rebuilt by ``load_from_checkpoint``."""
    best = yaml.safe_load((run_dir / "best.yaml").read_text())
    model = model_cls.load_from_checkpoint(run_dir / "best.ckpt", weights_only=False, **objects)
    assert {k: model.hparams[k] for k in best["arch"]} == best["arch"]
    score = _validated(model, ProjectData(**data_args), best["monitor"])
    assert score == pytest.approx(best["score"], abs=1e-6)
    return best


@pytest.mark.parametrize(("model", "monitor", "data_args"), [
    (Project, "val/acc", {}),
    (TwoLoaders, "val/acc/dataloader_idx_1", {"two_val": True}),
    (Manual, "val/acc", {}),
], ids=["slash-plateau", "second-loader", "manual-two-optimizers"])
def test_a_projects_search_stores_shows_exports_and_finetunes_what_it_scored(
        tmp_path, capsys, model, monitor, data_args):
    result = _search(model, tmp_path, monitor, data_init_args=data_args).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    assert len({t.score for t in result.trials}) == 2  # told apart: a real ranking
    best = _check_best(tmp_path, model, data_args)
    assert best["score"] == result.best.score == max(t.score for t in result.trials)
    checkpoint = torch.load(tmp_path / "best.ckpt", weights_only=False)
    assert checkpoint["datamodule_hyper_parameters"] == {"batch_size": 32, **{
        "two_val": False, **data_args}}
    assert checkpoint["ProjectData"]["loads"] >= 1  # the DataModule's own state
    tuned = finetune(tmp_path, max_epochs=1)
    assert tuned.status is TrialStatus.COMPLETED and math.isfinite(tuned.score)
    capsys.readouterr()
    assert main(["show", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert f"monitor {monitor} (max)" in shown and f"{best['score']:.4f}" in shown
    assert main(["report", str(tmp_path)]) == 0
    assert monitor in (tmp_path / "report" / "report.html").read_text()


def test_a_module_argument_left_out_of_hparams_is_asked_for_again_and_rebuilt(tmp_path,
                                                                              capsys):
    backbone = nn.Linear(8, 8)
    initial = backbone.weight.detach().clone()
    result = _search(WithBackbone, tmp_path, "val/acc", model_init_args={
        "backbone": backbone, "extra": {"a": {"b": [1, 2]}}}).run()
    assert all(t.status is TrialStatus.COMPLETED for t in result.trials)
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert best["model"]["init_args"]["extra"] == {"a": {"b": [1, 2]}}
    assert "backbone" in best["model_objects"]
    checkpoint = torch.load(tmp_path / "best.ckpt", weights_only=False)
    trained = {k[len("backbone."):]: v for k, v in checkpoint["state_dict"].items()
               if k.startswith("backbone.")}
    _check_best(tmp_path, WithBackbone, {}, backbone=nn.Linear(8, 8))
    with pytest.raises(ConfigError, match=r"backbone.*model_init_args"):
        finetune(tmp_path, max_epochs=1)
    tuned = finetune(tmp_path, max_epochs=1, model_init_args={"backbone": nn.Linear(8, 8)})
    assert tuned.status is TrialStatus.COMPLETED
    # the command line says its own way, a class_path node, and takes it
    capsys.readouterr()
    assert main(["finetune", str(tmp_path), "--max_epochs", "1"]) != 0
    assert ("(lightning-nas finetune: --model.backbone='{class_path: ..., init_args: {...}}')"
            in capsys.readouterr().err)
    assert main(["finetune", str(tmp_path), "--max_epochs", "1", "--model.backbone={class_path: "
                 "torch.nn.Linear, init_args: {in_features: 8, out_features: 8}}"]) == 0
    # each trial trained a copy of the backbone; the user's stays as given
    assert torch.equal(backbone.weight, initial) and not torch.equal(trained["weight"], initial)


@pytest.mark.parametrize(("model", "monitor", "says"), [
    (StepOnly, "val_acc", "log it with on_epoch=True"),
    (StepAndEpoch, "val_acc_step", "score val_acc_epoch instead"),
], ids=["on-step-only", "the-step-name"])
def test_a_monitor_validation_logs_per_batch_only_is_refused_before_training(
        tmp_path, model, monitor, says):
    spec = TrialSpec(trial_id=1, arch={"hidden": 4, "lr": 0.5}, trial_dir=str(tmp_path),
                     model=model, data=ProjectData, seed=1, monitor=monitor,
                     trainer={**TRAINER, "max_epochs": 3})
    result = fit_trial(spec)
    assert result.status is TrialStatus.FAILED and result.fatal
    assert "logged per validation batch only" in result.error and says in result.error
    assert not result.curve  # refused at the sanity check: no epoch trained


def test_a_monitor_of_two_loaders_under_its_plain_name_is_named_with_the_loaders_names(
        tmp_path):
    spec = TrialSpec(trial_id=1, arch={"hidden": 4, "lr": 0.5}, trial_dir=str(tmp_path),
                     model=TwoLoaders, data=ProjectData, data_init_args={"two_val": True},
                     seed=1, monitor="val/acc", trainer={**TRAINER, "max_epochs": 1})
    result = fit_trial(spec)
    assert result.status is TrialStatus.FAILED
    assert ("did you mean 'val/acc/dataloader_idx_0'? (a validation of several loaders logs a "
            "metric once per loader, under these names: val/acc/dataloader_idx_0, "
            "val/acc/dataloader_idx_1)") in result.error


def _config(tmp_path: Path, space: dict, model: str = "Configured",
            init_args: dict | None = None) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"class_path": f"{__name__}.{model}",
                  "init_args": init_args or {"net": {"hidden": 8, "depth": 2},
                                             "optim": {"lr": 0.5, "nesterov": False},
                                             "head": {"bias": True}}},
        "data": {"class_path": f"{__name__}.ProjectData"},
        "trainer": {**TRAINER, "max_epochs": 1},
        "search": {"space": space, "budget": 2, "monitor": "val/acc", "mode": "max",
                   "seed": 0, "run_dir": str(tmp_path / "run")}}))
    return path


def test_a_config_key_into_a_dataclass_or_dict_argument_sets_that_key_alone(tmp_path):
    Configured.built.clear()
    path = _config(tmp_path, {"model.net.hidden": {"choice": [4, 16]},
                              "model.optim.lr": {"choice": [0.5, 1.5]}})
    assert main(["search", str(path)]) == 0
    trial_nets = {(net.hidden, net.depth) for net, _ in Configured.built}
    assert {4, 16} & {hidden for hidden, _ in trial_nets}
    assert all(isinstance(net, NetConfig) and net.depth == 2 for net, _ in Configured.built)
    assert all(optim["nesterov"] is False for _, optim in Configured.built)  # the rest kept
    run = tmp_path / "run"
    best = yaml.safe_load((run / "best.yaml").read_text())
    exported = yaml.safe_load((run / "best_config.yaml").read_text())["model"]["init_args"]
    assert exported == {"net": {"hidden": best["arch"]["model.net.hidden"], "depth": 2},
                        "optim": {"lr": best["arch"]["model.optim.lr"], "nesterov": False},
                        "head": {"bias": True}}
    model = Configured.load_from_checkpoint(run / "best.ckpt", weights_only=False)
    assert model.hparams.net == NetConfig(best["arch"]["model.net.hidden"], 2)
    assert _validated(model, ProjectData(), "val/acc") == pytest.approx(best["score"], abs=1e-6)


def test_a_config_key_into_an_argument_the_config_leaves_out_keeps_its_defaults_fields(
        tmp_path):
    Configured.built.clear()
    path = _config(tmp_path, {"model.net.hidden": {"choice": [4, 16]}}, "DeepDefault",
                   {"optim": {"lr": 0.5}})
    assert main(["search", str(path)]) == 0
    # as LightningCLI's --model.net.hidden=4 gives NetConfig(hidden=4, depth=3)
    assert Configured.built and all(net.depth == 3 for net, _ in Configured.built)
    run = tmp_path / "run"
    best = yaml.safe_load((run / "best.yaml").read_text())
    exported = yaml.safe_load((run / "best_config.yaml").read_text())["model"]["init_args"]
    assert exported["net"] == {"hidden": best["arch"]["model.net.hidden"], "depth": 3}


def test_a_config_key_into_an_unannotated_argument_the_config_gives_a_mapping_is_taken(
        tmp_path, capsys):
    path = _config(tmp_path, {"model.head.bias": {"choice": [True, False]}})
    assert main(["search", str(path), "--print_config"]) == 0
    assert "head" in capsys.readouterr().out


def _plain(key: str, where: str, kind: str) -> str:
    return (f"space key {key!r}: {where} is a {kind} argument, with no keys inside; accepted "
            f"key: {where}")


@pytest.mark.parametrize(("key", "says", "model", "init_args"), [
    ("model.net.hiden", "model.net.hiden: not a field of NetConfig; did you mean 'hidden'?",
     "Configured", None),
    # was: "model.optim.lr has no class_path or _target_ in the config, so 'x' cannot be
    # checked; write model.optim.lr as class_path + init_args, ...": no advice for a float
    ("model.optim.lr.x", _plain("model.optim.lr.x", "model.optim.lr", "float"), "Configured",
     None),
    ("model.head.bias.x", _plain("model.head.bias.x", "model.head.bias", "bool"),
     "Configured", None),
    ("model.lr.x", _plain("model.lr.x", "model.lr", "float"), "Project", {"lr": 0.1}),
    ("model.lr.x", _plain("model.lr.x", "model.lr", "float"), "Project", {"hidden": 8}),
])
def test_a_config_key_into_an_argument_is_checked_before_training(tmp_path, capsys, key,
                                                                   says, model, init_args):
    path = _config(tmp_path, {key: {"choice": [4, 16]}}, model, init_args)
    assert main(["search", str(path)]) != 0
    err = capsys.readouterr().err
    assert says in err, err
    assert "class_path + init_args" not in err, err
    assert not (tmp_path / "run").exists()
