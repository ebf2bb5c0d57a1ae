"""One-shot exports ready to use: ``subnet.pt`` (SPOS, DARTS) and the fine-tune's network
come out in eval mode while the supernet keeps its own mode."""

from __future__ import annotations

import lightning.pytorch as pl
import torch

from lightning_nas.cli import main
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.finetune import finetune_subnet
from tests.helpers_oneshot import ROOT
from tests.helpers_oneshot_fit import TINY_CLI, BatchNormSupernet, BlobImages, cpu_trainer


def _modes(module: torch.nn.Module) -> dict[str, bool]:
    """Each submodule's ``training`` flag, by name ('' for the module itself)."""
    return {name: m.training for name, m in module.named_modules()}


def _in_eval(module: torch.nn.Module) -> bool:
    return not any(_modes(module).values())


class ModeAt(pl.Callback):
    """Records the LightningModule's modes at ``on_train_end`` (a callback's runs before
    ``DifferentiableNAS``'s export, and before or after ``OneShotNAS``'s by its place in the
    list) and at ``on_fit_end`` (after either's export)."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, bool]] = {}

    def on_train_end(self, trainer, pl_module):
        self.seen["train_end"] = _modes(pl_module)

    def on_fit_end(self, trainer, pl_module):
        self.seen["fit_end"] = _modes(pl_module)


def test_spos_subnet_pt_is_in_eval_mode_and_the_supernet_keeps_its_mode(tmp_path):
    # was: saved in training mode (the README said to call .eval() before inference)
    pl.seed_everything(0, verbose=False)
    before, after = ModeAt(), ModeAt()
    callback = OneShotNAS(num_candidates=3, calibration_batches=2, export_dir=str(tmp_path))
    cpu_trainer(tmp_path, [before, callback, after], max_epochs=1, limit_train_batches=2,
                enable_checkpointing=False).fit(BatchNormSupernet(), datamodule=BlobImages())
    saved = torch.load(tmp_path / "subnet.pt", weights_only=False)
    assert saved.training is False and _in_eval(saved)
    assert _in_eval(callback.subnet)  # the callback's subnet, as saved
    # the supernet: as it was before the export (training mode, at the fit's end)
    assert before.seen["train_end"][""] is True
    assert after.seen["train_end"] == before.seen["train_end"]


def test_darts_subnet_pt_is_in_eval_mode_and_the_supernet_keeps_its_mode(tmp_path):
    pl.seed_everything(0, verbose=False)
    spy = ModeAt()
    nas = DifferentiableNAS(BatchNormSupernet(), num_classes=3, arch_lr=0.05, top_k=2,
                            calibration_batches=2, export_dir=str(tmp_path))
    cpu_trainer(tmp_path, [spy], max_epochs=1, limit_train_batches=2,
                enable_checkpointing=False).fit(nas, datamodule=BilevelData(BlobImages()))
    saved = torch.load(tmp_path / "subnet.pt", weights_only=False)
    assert saved.training is False and _in_eval(saved) and _in_eval(nas.subnet)
    assert spy.seen["train_end"][""] is True
    assert spy.seen["fit_end"] == spy.seen["train_end"]  # the module's export in between


class TrainModes(pl.Callback):
    """The network's modes at each training batch."""

    def __init__(self) -> None:
        self.modes: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.modes.append(not any(not m.training for m in pl_module.modules()))


def test_finetune_trains_an_eval_mode_subnet_in_training_mode_and_returns_it_in_eval(tmp_path):
    # torch.load(subnet.pt) is in eval mode: the fine-tune trains it in training mode
    # (Lightning keeps a module's mode: was, a subnet in eval mode trained with dropout off
    # and BatchNorm frozen), and what it returns (subnet_finetuned.pt) is ready to use
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=2, calibration_batches=1)
    cpu_trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=2,
                enable_checkpointing=False).fit(BatchNormSupernet(), datamodule=BlobImages())
    spy = TrainModes()
    module, _ = finetune_subnet(callback.subnet.eval(), BlobImages(), max_epochs=1,
                                num_classes=3,
                                trainer={"accelerator": "cpu", "limit_train_batches": 2,
                                         "callbacks": [spy]})
    assert spy.modes == [True, True]
    assert _in_eval(module) and _in_eval(module.net)


def test_cli_writes_subnet_and_subnet_finetuned_in_eval_mode(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cli = [arg for arg in TINY_CLI if "finetune" not in arg]
    assert main([*cli, "--oneshot.finetune_epochs=1", f"--oneshot.run_dir={tmp_path}"]) == 0
    for name in ("subnet.pt", "subnet_finetuned.pt"):
        net = torch.load(tmp_path / name, weights_only=False)
        assert net.training is False and _in_eval(net), name
