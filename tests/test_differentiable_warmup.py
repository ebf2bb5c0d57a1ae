"""Training that ends within ``warmup_epochs`` (``max_steps``, a callback, an ``arch_lr`` too
small to move the logits) is refused, said in the singular where it is one: nothing is
exported, the record of the epochs that trained is kept."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import plain_trainer
from tests.launcher import ROOT


def _files(folder: Path) -> list[str]:
    """The names of the files in ``folder`` (none: no folder)."""
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_warmup_of_one_epoch_one_batch_one_step_is_said_in_the_singular(tmp_path):
    # was: "in all 1 epochs", "which take 1 steps (1 x 1 training batches", "after 1 steps"
    with pytest.raises(ConfigError, match=r"warmup_epochs=1 trains only the weights in its 1 "
                                          r"epoch \(max_epochs\)"):
        plain_trainer(None, max_epochs=1).fit(DifferentiableNAS(TinySupernet(), warmup_epochs=1),
                                              datamodule=BilevelData(BlobData()))
    one = {"limit_train_batches": 1, "limit_val_batches": 1}
    with pytest.raises(ConfigError, match=r"max_steps=1 ends training within warmup_epochs=1, "
                                          r"which take 1 step \(1 x 1 training batch, one "
                                          r"step each"):
        plain_trainer(tmp_path, max_steps=1, **one).fit(
            DifferentiableNAS(TinySupernet(), warmup_epochs=1),
            datamodule=BilevelData(BlobData()))
    with pytest.raises(ConfigError, match=r"training stopped after 1 step, before the "):
        plain_trainer(tmp_path, callbacks=[_StopAfterFirstEpoch()], **one).fit(
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
        plain_trainer(tmp_path, max_epochs=1).fit(nas, datamodule=BilevelData(BlobData()))
    assert all(torch.equal(v, initial[k]) for k, v in nas.alphas.items())
    # nothing exported; the record of the epoch that trained is kept (oneshot.records)
    assert nas.best_arch is None and _files(tmp_path / "out") == ["alphas.json"]


class _StopAfterFirstEpoch(pl.Callback):
    """Stops training at the end of its first epoch (as EarlyStopping or a Timer may)."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


def test_training_that_ends_within_the_warmup_is_refused(tmp_path, monkeypatch, capsys):
    # was: max_steps (or max_time) ending training within warmup_epochs derived and
    # exported the argmax of the logits' random start, with no word
    nas = DifferentiableNAS(TinySupernet(), warmup_epochs=1, export_dir=str(tmp_path / "out"))
    trainer = plain_trainer(tmp_path, max_epochs=3, max_steps=3)  # 3 batches: the warmup's steps
    with pytest.raises(ConfigError, match=r"the Trainer's max_steps=3 ends training within "
                                          r"warmup_epochs=1, which take 3 steps \(1 x 3 "
                                          r"training batches, one step each"):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and not (tmp_path / "out").exists()
    # stopped within the warmup later than the start knows (max_time, a callback)
    nas = DifferentiableNAS(TinySupernet(), warmup_epochs=2, export_dir=str(tmp_path / "out"))
    with pytest.raises(ConfigError, match=r"training stopped after 3 steps, before the "
                                          r"architecture logits took a step \(warmup_epochs=2"):
        plain_trainer(tmp_path, callbacks=[_StopAfterFirstEpoch()]).fit(
            nas, datamodule=BilevelData(BlobData()))
    # nothing exported; the record of the epoch that trained is kept (oneshot.records)
    assert nas.best_arch is None and _files(tmp_path / "out") == ["alphas.json"]
    # one step past the warmup trains the logits: accepted
    nas = DifferentiableNAS(TinySupernet(), warmup_epochs=1, num_classes=3)
    initial = {k: v.detach().clone() for k, v in nas.alphas.items()}
    plain_trainer(tmp_path, max_steps=5).fit(nas, datamodule=BilevelData(BlobData()))
    assert any(not torch.equal(v, initial[k]) for k, v in nas.alphas.items())
    monkeypatch.chdir(ROOT)
    (tmp_path / "best_arch.yaml").write_text("an earlier run's result")
    assert main(["oneshot", "examples/oneshot_digits/darts.yaml", "--trainer.max_epochs=3",
                 "--trainer.max_steps=4", "--trainer.limit_train_batches=4",
                 "--oneshot.warmup_epochs=1", "--oneshot.finetune_epochs=0",
                 f"--oneshot.run_dir={tmp_path}"]) == 2
    assert "max_steps=4 ends training within warmup_epochs=1" in capsys.readouterr().err
    assert (tmp_path / "best_arch.yaml").read_text() == "an earlier run's result"
