"""One-shot exports ready to use: ``subnet.pt`` (SPOS, DARTS) and the fine-tune's network
come out in eval mode while the supernet keeps its own mode, and the BatchNorm calibration
reads no more training batches than a training epoch runs (``limit_train_batches``)."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import Dataset

from lightning_nas.cli import main
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.finetune import finetune_subnet
from tests.helpers_oneshot_fit import TINY_CLI, BatchNormSupernet, BlobImages, cpu_trainer
from tests.launcher import ROOT


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


class CountedSet(Dataset):
    """A dataset that counts the samples read while ``counting`` is on."""

    def __init__(self, base: Dataset) -> None:
        self.base, self.counting, self.read = base, False, 0

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int):
        self.read += self.counting
        return self.base[index]


class CountedImages(BlobImages):
    """``BlobImages`` (batches of 8) whose training samples are counted."""

    def __init__(self) -> None:
        super().__init__(batch_size=8)

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        self.train_set = CountedSet(self.train_set)


class CountAfterTraining(pl.Callback):
    """Counts the training samples read from ``on_train_end`` on: the final search's and
    the export's calibration (its on_train_end runs before OneShotNAS's when listed first,
    and before the LightningModule's, DifferentiableNAS's)."""

    def __init__(self, data: CountedImages) -> None:
        self.data = data

    def on_train_end(self, trainer, pl_module):
        self.data.train_set.counting = True


def test_spos_calibrates_on_no_more_batches_than_training_runs(tmp_path):
    # was: 5 batches, 3 of them beyond limit_train_batches=2 (data training never read)
    pl.seed_everything(0, verbose=False)
    data = CountedImages()
    callback = OneShotNAS(num_candidates=3, calibration_batches=5)
    cpu_trainer(tmp_path, [CountAfterTraining(data), callback], max_epochs=1,
                limit_train_batches=2, enable_checkpointing=False).fit(
        BatchNormSupernet(), datamodule=data)
    assert callback.best_arch is not None
    assert data.train_set.read / 8 == 2


def test_darts_calibrates_on_no_more_batches_than_training_runs(tmp_path):
    pl.seed_everything(0, verbose=False)
    data = CountedImages()
    nas = DifferentiableNAS(BatchNormSupernet(), num_classes=3, arch_lr=0.05,
                            calibration_batches=5)
    cpu_trainer(tmp_path, [CountAfterTraining(data)], max_epochs=1, limit_train_batches=2,
                enable_checkpointing=False).fit(nas, datamodule=BilevelData(data))
    assert nas.best_arch is not None
    assert data.train_set.read / 8 == 2


def test_calibration_takes_what_is_asked_below_the_limit(tmp_path):
    # the limit caps the count; a smaller calibration_batches is taken as given
    pl.seed_everything(0, verbose=False)
    data = CountedImages()
    callback = OneShotNAS(num_candidates=2, calibration_batches=1)
    cpu_trainer(tmp_path, [CountAfterTraining(data), callback], max_epochs=1,
                limit_train_batches=3, enable_checkpointing=False).fit(
        BatchNormSupernet(), datamodule=data)
    assert data.train_set.read / 8 == 1
