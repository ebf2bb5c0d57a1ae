"""The wrapped LightningModule's own lifecycle hooks under ``DifferentiableNAS`` (DARTS,
GDAS): called as a plain fit of the module calls them, once each, with the same arguments;
the hooks that cannot be honoured under its two optimizers are warned of before training."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import nn

from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import plain_trainer

#: the lifecycle hooks a plain fit calls on the module, and DifferentiableNAS forwards
LIFECYCLE = ["setup", "teardown", "on_fit_start", "on_fit_end", "on_train_start",
             "on_train_end", "on_train_epoch_start", "on_train_epoch_end"]


class Recording(TinySupernet):
    """Records each lifecycle hook Lightning (or the wrapper) calls on it, with its
    arguments; its ``setup`` builds state its ``training_step`` reads."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def setup(self, stage: str) -> None:
        self.calls.append(("setup", stage))
        self.extra = nn.Parameter(torch.zeros(3))  # a plain fit's setup may build layers

    def teardown(self, stage: str) -> None:
        self.calls.append(("teardown", stage))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x) + self.extra, y)


for _name in LIFECYCLE[2:]:  # the hooks without arguments
    def _record(self, _name=_name) -> None:
        self.calls.append((_name,))
    setattr(Recording, _name, _record)


def test_the_wrapped_modules_lifecycle_hooks_run_as_in_a_plain_fit(tmp_path):
    # was: none of them ran (the state its setup builds: AttributeError at the first step)
    def fit(model, data, ckpt_path=None):
        trainer = plain_trainer(tmp_path, max_epochs=2, limit_val_batches=0)
        trainer.fit(model, datamodule=data, ckpt_path=ckpt_path)
        return trainer

    pl.seed_everything(0, verbose=False)
    plain = Recording()
    fit(plain, BlobData()).save_checkpoint(tmp_path / "plain.ckpt")
    wrapped = Recording()
    nas = DifferentiableNAS(wrapped, num_classes=3)
    fit(nas, BilevelData(BlobData())).save_checkpoint(tmp_path / "nas.ckpt")
    assert wrapped.calls == plain.calls  # each once, in Lightning's order, with the stage
    assert ("setup", "fit") in wrapped.calls and ("teardown", "fit") in wrapped.calls
    assert any(p is wrapped.extra for p in nas.optimizers()[0].optimizer.param_groups[0]["params"])
    # resumed at its end: Lightning trains nothing and skips on_train_start / _end, whose
    # final search and export the wrapper runs in on_fit_end; the module's, not run either
    plain, wrapped = Recording(), Recording()
    fit(plain, BlobData(), tmp_path / "plain.ckpt")
    fit(DifferentiableNAS(wrapped, num_classes=3), BilevelData(BlobData()), tmp_path / "nas.ckpt")
    assert wrapped.calls == plain.calls == [("setup", "fit"), ("on_fit_start",),
                                            ("on_fit_end",), ("teardown", "fit")]


class Counting(TinySupernet):
    """Keeps a count of its training steps in the checkpoint (its own key), and logs it at
    each epoch's end."""

    def __init__(self) -> None:
        super().__init__()
        self.count, self.loaded = 0, None

    def training_step(self, batch, batch_idx):
        self.count += 1
        return super().training_step(batch, batch_idx)

    def on_train_epoch_end(self) -> None:
        self.log("its_count", float(self.count))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["its_count"] = self.count

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.loaded = checkpoint["its_count"]
        self.count = checkpoint["its_count"]


def test_the_wrapped_modules_checkpoint_state_survives_a_resume(tmp_path):
    # was: its on_save_checkpoint never ran, its key was not in the checkpoint, and its
    # on_load_checkpoint never saw one
    pl.seed_everything(0, verbose=False)
    first = DifferentiableNAS(Counting(), num_classes=3)
    trainer = plain_trainer(tmp_path, max_epochs=1, limit_val_batches=0)
    trainer.fit(first, datamodule=BilevelData(BlobData()))
    trainer.save_checkpoint(tmp_path / "one.ckpt")
    checkpoint = torch.load(tmp_path / "one.ckpt", weights_only=False)
    assert checkpoint.get("its_count") == 6 and "differentiable_nas" in checkpoint
    assert trainer.logged_metrics["its_count"] == 6.0  # its epoch-end log: logged
    resumed = DifferentiableNAS(Counting(), num_classes=3)
    plain_trainer(tmp_path, max_epochs=2, limit_val_batches=0).fit(
        resumed, datamodule=BilevelData(BlobData()), ckpt_path=tmp_path / "one.ckpt")
    assert resumed.supernet.loaded == 6 and resumed.supernet.count == 12


class Stepping(TinySupernet):
    """Overrides hooks of the optimization that DifferentiableNAS drives itself."""

    def on_before_optimizer_step(self, optimizer) -> None:
        pass

    def on_after_batch_transfer(self, batch, dataloader_idx):  # (the wrapper gets pairs)
        return batch


def test_hooks_it_cannot_honour_are_warned_of_before_training(tmp_path, recwarn):
    # was: ignored without a word (its gradient clipping or schedule never ran)
    nas = DifferentiableNAS(Stepping(), num_classes=3)
    plain_trainer(tmp_path, max_epochs=2, limit_val_batches=0, limit_train_batches=1).fit(
        nas, datamodule=BilevelData(BlobData()))
    said = [str(w.message) for w in recwarn if "DifferentiableNAS does not call" in str(w.message)]
    assert len(said) == 1  # once a fit
    assert said[0].startswith("Stepping overrides on_before_optimizer_step and "
                              "on_after_batch_transfer, which DifferentiableNAS does not call")
    recwarn.clear()
    plain_trainer(tmp_path, max_epochs=1, limit_val_batches=0, limit_train_batches=1).fit(
        DifferentiableNAS(TinySupernet(), num_classes=3), datamodule=BilevelData(BlobData()))
    assert not [w for w in recwarn if "does not call" in str(w.message)]


class ValRecording(TinySupernet):
    """Records each validation hook Lightning (or the wrapper) calls on it, with what it is
    given and its mode; its ``validation_step`` returns what ``on_validation_batch_end``
    gets as ``outputs`` in a plain fit."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        return {"seen": batch_idx * 10}

    def on_validation_start(self) -> None:
        self.calls.append(("on_validation_start", self.training))

    def on_validation_end(self) -> None:
        self.calls.append(("on_validation_end", self.training))

    def on_validation_batch_start(self, batch, batch_idx):  # one loader: no dataloader_idx
        self.calls.append(("on_validation_batch_start", len(batch[0]), batch_idx))
        self.log("its_batches", float(batch_idx + 1), on_epoch=True, reduce_fx="max")

    def on_validation_batch_end(self, outputs, batch, batch_idx):
        self.calls.append(("on_validation_batch_end", outputs, len(batch[0]), batch_idx))

    def on_validation_model_eval(self) -> None:
        super().on_validation_model_eval()
        self.net[1].train()  # keeps a submodule in training mode (dropout, say)
        self.calls.append(("on_validation_model_eval", self.training, self.net[1].training))

    def on_validation_model_train(self) -> None:
        super().on_validation_model_train()
        self.calls.append(("on_validation_model_train", self.training))


def test_the_wrapped_modules_validation_hooks_run_as_in_a_plain_fit(tmp_path):
    # was: none of them ran, and nothing said so
    def fit(model, data):
        trainer = plain_trainer(tmp_path, max_epochs=1, limit_train_batches=2,
                                limit_val_batches=2, num_sanity_val_steps=1)
        trainer.fit(model, datamodule=data)
        return trainer

    plain = ValRecording()
    fit(plain, BlobData(batch_size=32))
    wrapped = ValRecording()
    trainer = fit(DifferentiableNAS(wrapped, num_classes=3),
                  BilevelData(BlobData(batch_size=32)))
    assert wrapped.calls == plain.calls  # sanity check, then the epoch's validation
    assert ("on_validation_batch_end", {"seen": 10}, 32, 1) in wrapped.calls
    assert ("on_validation_model_eval", False, True) in wrapped.calls
    assert trainer.logged_metrics["its_batches"] == 2.0  # its self.log: logged


class Frozen(TinySupernet):
    """Keeps a submodule in eval mode throughout (a frozen layer), and notes its mode at
    each training epoch's end (after that epoch's validation)."""

    def __init__(self) -> None:
        super().__init__()
        self.modes: list[tuple[bool, bool]] = []

    def on_train_start(self) -> None:  # (after the wrapper's check of a first batch)
        self.net[1].eval()

    def on_train_epoch_end(self) -> None:
        self.modes.append((self.net[0].training, self.net[1].training))


def test_each_submodules_mode_is_restored_after_validation_as_lightning_restores_it(tmp_path):
    for model, data in ((Frozen(), BlobData()), (DifferentiableNAS(Frozen(), num_classes=3),
                                                  BilevelData(BlobData()))):
        plain_trainer(tmp_path, max_epochs=2, limit_train_batches=1, limit_val_batches=1,
                      num_sanity_val_steps=0).fit(model, datamodule=data)
        frozen = model if isinstance(model, Frozen) else model.supernet
        assert frozen.modes == [(True, False), (True, False)]
