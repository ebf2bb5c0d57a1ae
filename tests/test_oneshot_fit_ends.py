"""One-shot fits that end before or without training: zero epochs or steps (refused), a
callback that stops the fit at its start, a fit that took no training step, a training
step that returns None, and the resumes of fits stopped that way."""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.trainer_checks import check_oneshot_trainer
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import (
    TINY_CLI,
    cpu_trainer,
)
from tests.launcher import ROOT


@pytest.mark.parametrize(("override", "said", "needs"), [
    ("max_epochs=0", "max_epochs=0", ">= 1 (or -1: no limit)"),
    ("max_steps=0", "max_steps=0", ">= 1 (or -1: no limit)"),
    ("limit_train_batches=0", "limit_train_batches=0", "above 0"),
    ("max_time=00:00:00:00", "max_time='00:00:00:00'", "above zero"),
    ("max_time={minutes: 0, seconds: 0}", "max_time={'minutes': 0, 'seconds': 0}", "above zero"),
])
def test_a_training_of_zero_epochs_or_steps_is_refused_before_the_fit(
        tmp_path, override, said, needs, capsys):
    # was: refused only after setup, "this fit trained nothing (... resumed from a checkpoint
    # of its last epoch?)"; limit_train_batches and max_time were, after this
    run = tmp_path / "run"
    cli = [TINY_CLI[0], str(ROOT / TINY_CLI[1]), *TINY_CLI[2:]]
    key = override.split("=")[0]
    for argv in ([*cli, "--print_config"], cli):
        assert main([*argv, f"--trainer.{override}", f"--oneshot.run_dir={run}"]) == 2
        err = capsys.readouterr().err
        assert f"trainer.{said} trains nothing" in err and f"trainer.{key} {needs}" in err
        assert not run.exists()
    with pytest.raises(ConfigError, match=r"max_time=datetime.timedelta\(0\) trains nothing"):
        check_oneshot_trainer({"max_time": timedelta(0)}, "spos")
    check_oneshot_trainer({"max_time": "00:00:00:01", "limit_train_batches": 0.5}, "spos")


class _StopAtFitStart(pl.Callback):
    """Stops the fit as it starts, before its first training epoch."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
@pytest.mark.parametrize(("stop", "said", "fix"), [
    ({"callbacks": [_StopAtFitStart()]},
     "trainer.should_stop was set before its first training epoch (by a callback)",
     "see which of the Trainer's callbacks stops the fit as it starts"),
    ({"max_time": {"seconds": 0}}, "max_time spent (0:00:00 trained of 0:00:00)",
     "raise max_time"),
    ({"limit_train_batches": 0}, "no training batches (limit_train_batches=0)",
     "give it training batches"),
], ids=["callback", "max_time", "no_batches"])
def test_a_fit_ended_before_training_says_what_ended_it(tmp_path, algorithm, stop, said, fix):
    # was: "this fit trained nothing (epoch 0 of max_epochs=3: resumed from a checkpoint of
    # its last epoch?) ... raise max_epochs" whatever stopped it: a callback's should_stop,
    # a spent max_time, no training batches (the command refuses the last two before it
    # builds anything; Python reaches the fit)
    callbacks = [OneShotNAS(num_candidates=2, calibration_batches=1)] if algorithm == "spos" \
        else []
    trainer = pl.Trainer(**{"max_epochs": 3, "accelerator": "cpu", "logger": False,
                            "enable_checkpointing": False, "enable_progress_bar": False,
                            "default_root_dir": tmp_path, **stop,
                            "callbacks": [*stop.get("callbacks", []), *callbacks]})
    module = TinySupernet() if algorithm == "spos" else DifferentiableNAS(TinySupernet())
    data = BlobData() if algorithm == "spos" else BilevelData(BlobData())
    with pytest.raises(ConfigError, match="this fit trained nothing") as caught:
        trainer.fit(module, datamodule=data)
    message = str(caught.value)
    assert f"this fit trained nothing ({said})" in message and fix in message, message
    assert "max_epochs" not in message, message


class _StopAtTrainStart(pl.Callback):
    """Stops the fit in ``on_train_start``: Lightning runs no epoch, yet calls
    ``on_train_end``."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


class _StopAtEpochStart(pl.Callback):
    """Stops the fit as its first epoch starts: that epoch trains no batch."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


class _SkippingSupernet(TinySupernet):
    """Skips every epoch at its first batch (``on_train_batch_start`` returns -1)."""

    def on_train_batch_start(self, batch, batch_idx):
        return -1


_NO_STEP = {
    "train_start": ({"callbacks": [_StopAtTrainStart()]},
                    "trainer.should_stop was set before its first training step (by a callback)",
                    "see which of the Trainer's callbacks stops the fit as it starts"),
    "epoch_start": ({"callbacks": [_StopAtEpochStart()]},
                    "trainer.should_stop was set before its first training step (by a callback)",
                    "see which of the Trainer's callbacks stops the fit as it starts"),
    "skipped_batches": ({"skip": True}, "3 epochs ran without a training step (the "
                        "LightningModule's on_train_batch_start returned -1 on each epoch's "
                        "first batch?)", "on_train_batch_start returns -1 to skip the rest "
                        "of an epoch"),
    "max_steps_0": ({"max_steps": 0}, "max_steps=0 trains no step", "raise max_steps"),
    "max_epochs_0": ({"max_epochs": 0}, "max_epochs=0 trains no epoch", "raise max_epochs"),
}


@pytest.mark.parametrize(("algorithm", "stop", "said", "fix"), [
    pytest.param(algorithm, *case, id=f"{name}-{algorithm}")
    for name, case in _NO_STEP.items() for algorithm in ("spos", "darts")
    if not (name == "skipped_batches" and algorithm == "darts")])  # (its own hook: no -1)
def test_a_fit_that_took_no_training_step_searches_and_exports_nothing(
        tmp_path, algorithm, stop, said, fix):
    # reported: a callback stopping the fit in on_train_start (or as the first epoch starts,
    # or a module skipping each epoch's batches) ends it with no step, yet Lightning calls
    # on_train_end: SPOS searched and exported a subnet of the untrained supernet, without
    # a word (its history at epoch 0); max_steps=0 or max_epochs=0 were refused as a
    # "resumed from a checkpoint of its last step?" of a fit that resumed nothing
    out = tmp_path / "out"
    nas = OneShotNAS(num_candidates=2, calibration_batches=1, export_dir=str(out))
    trainer = pl.Trainer(**{"max_epochs": 3, "accelerator": "cpu", "logger": False,
                            "enable_checkpointing": False, "enable_progress_bar": False,
                            "default_root_dir": tmp_path,
                            **{k: v for k, v in stop.items() if k != "skip"},
                            "callbacks": [*stop.get("callbacks", []),
                                          *([nas] if algorithm == "spos" else [])]})
    model = (_SkippingSupernet if stop.get("skip") else TinySupernet)()
    module = model if algorithm == "spos" else DifferentiableNAS(model, export_dir=str(out))
    data = BlobData() if algorithm == "spos" else BilevelData(BlobData())
    with pytest.raises(ConfigError, match="this fit trained nothing") as caught:
        trainer.fit(module, datamodule=data)
    message = str(caught.value)
    assert f"this fit trained nothing ({said})" in message and fix in message, message
    assert "resumed from" not in message, message
    assert trainer.global_step == 0 and not out.exists()
    best = nas.best_arch if algorithm == "spos" else module.best_arch
    assert best is None


class _NoLossSupernet(TinySupernet):
    """Returns None from ``training_step`` for every batch: Lightning skips the backward
    pass (and, for plain SGD, every update) yet counts each optimizer step."""

    def training_step(self, batch, batch_idx):
        super().training_step(batch, batch_idx)


def test_a_supernet_whose_training_step_returns_none_is_not_searched_or_exported(tmp_path):
    # was: global_step counted Lightning's optimizer steps, each without a backward pass, so
    # OneShotNAS searched and exported a subnet of the untrained supernet as if trained
    out = tmp_path / "out"
    nas = OneShotNAS(num_candidates=2, calibration_batches=1, export_dir=str(out))
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         default_root_dir=tmp_path, callbacks=[nas])
    model = _NoLossSupernet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ConfigError, match="this fit trained nothing") as caught:
        trainer.fit(model, datamodule=BlobData())
    steps = trainer.global_step
    assert steps > 0 and all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert str(caught.value) == (
        f"this fit trained nothing (2 epochs ran {steps} optimizer steps without a backward "
        f"pass: the LightningModule's training_step returned None for every batch?), so "
        f"OneShotNAS's final search and export did not run; return the loss from "
        f"training_step (None skips the batch's backward pass and update)")
    assert nas.best_arch is None and not out.exists()


@pytest.mark.parametrize(("algorithm", "sanity_steps"), [("darts", 2), ("gdas", 0)])
def test_differentiable_nas_refuses_a_training_step_that_returns_none(
        tmp_path, algorithm, sanity_steps):
    # DifferentiableNAS takes the module's training_step as its two steps' loss and cannot
    # skip a batch (was: Lightning's "`self.log(val_loss, None)` was called" in the sanity
    # check, or "'NoneType' object has no attribute 'backward'" at the first step)
    out = tmp_path / "out"
    model = _NoLossSupernet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    search = DifferentiableNAS(model, algorithm=algorithm, num_classes=3, export_dir=str(out))
    trainer = cpu_trainer(tmp_path, [], max_epochs=1, enable_checkpointing=False,
                       num_sanity_val_steps=sanity_steps)
    with pytest.raises(ConfigError) as caught:
        trainer.fit(search, datamodule=BilevelData(BlobData()))
    assert str(caught.value) == (
        "_NoLossSupernet.training_step returned None for batch 0, but DifferentiableNAS "
        "(DARTS, GDAS) takes it as the loss of its architecture and weight steps, and "
        "cannot skip a batch; return the loss (a tensor, or a dict with a 'loss' key), or "
        "pass loss= (e.g. 'cross_entropy') to score the module's output instead")
    assert trainer.global_step == 0 and search.best_arch is None and not out.exists()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_a_fit_resumed_from_a_trained_checkpoint_and_stopped_at_start_still_searches(
        tmp_path):
    # the refusal is of weights that never took a step: a resume of a trained supernet
    # that a callback stops as training starts searches and exports it (as before)
    def fit(callbacks: list[pl.Callback], ckpt_path: Path | None = None) -> OneShotNAS:
        nas = OneShotNAS(num_candidates=2, calibration_batches=1)
        pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                   default_root_dir=tmp_path,
                   callbacks=[*callbacks, nas, ModelCheckpoint(tmp_path / "ckpt", "last")]
                   ).fit(TinySupernet(), datamodule=BlobData(), ckpt_path=ckpt_path)
        return nas

    fit([_StopAfterFirstEpochCallback()])
    nas = fit([_StopAtTrainStart()], tmp_path / "ckpt" / "last.ckpt")
    assert nas.best_arch is not None and {h["epoch"] for h in nas.history} == {1}


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_the_command_refuses_a_fit_a_callback_stopped_at_train_start(
        tmp_path, monkeypatch, capsys, algorithm):
    # as in Python (was: SPOS exported a subnet of the untrained supernet and fine-tuned
    # it, rc 0; DARTS said only that the logits had not moved)
    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    switch = ["--oneshot.algorithm=darts", "--oneshot.optimizer=null",
              "--oneshot.num_candidates=null"] if algorithm == "darts" else []
    assert main([*TINY_CLI, f"--oneshot.run_dir={run}", *switch,
                 "--trainer.callbacks=[{class_path: "
                 "tests.test_oneshot_fit_ends._StopAtTrainStart}]"]
                ) == 2
    err = capsys.readouterr().err
    assert ("this fit trained nothing (trainer.should_stop was set before its first training "
            "step (by a callback))") in err, err
    assert not any((run / name).exists() for name in ("best_arch.yaml", "subnet.pt"))


class _StopAfterFirstEpochCallback(pl.Callback):
    """Stops training at the end of its first epoch."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


def test_a_resume_of_a_fit_early_stopping_ended_trains_on_and_searches(tmp_path):
    # reported: "this fit trained nothing ... max_epochs" after EarlyStopping; it is not
    # reached there: EarlyStopping sets should_stop only after an epoch trained (the fit's
    # on_train_end, its final search, runs), and a fit resumed from its checkpoint trains
    # until EarlyStopping, restored, stops it again (Lightning does not keep should_stop)
    def fit(nas: DifferentiableNAS, ckpt_path: Path | None = None) -> pl.Trainer:
        stop = pl.callbacks.EarlyStopping("train_loss", min_delta=100.0, patience=0,
                                          check_on_train_epoch_end=True)
        trainer = pl.Trainer(max_epochs=5, accelerator="cpu", logger=False,
                             enable_progress_bar=False, limit_val_batches=0,
                             default_root_dir=tmp_path,
                             callbacks=[stop, ModelCheckpoint(tmp_path / "ckpt", "last")])
        trainer.fit(nas, datamodule=BilevelData(BlobData()), ckpt_path=ckpt_path)
        return trainer

    first = DifferentiableNAS(TinySupernet())
    assert fit(first).current_epoch == 2 and first.best_arch is not None  # stopped early
    resumed = DifferentiableNAS(TinySupernet())
    assert fit(resumed, tmp_path / "ckpt" / "last.ckpt").current_epoch == 3
    assert resumed.best_arch is not None and len(resumed.history) == 3


class _Started(Exception):
    """Raised by ``_RaiseAtTrainStart``."""


class _RaiseAtTrainStart(pl.Callback):
    """Ends the fit as its training starts, after the warnings of its start."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        raise _Started


_ENDLESS = ("Trainer(max_epochs=-1) is Lightning's 'no limit', and no max_steps, max_time, "
            "EarlyStopping or Timer callback ends the fit: it trains until a callback of "
            "yours stops it, for ever where none does, and {}'s final search and export run "
            "when its training ends; give max_epochs a number or add one of them")


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
@pytest.mark.parametrize(("limits", "warned"), [
    ({"max_epochs": -1}, True), ({"max_epochs": -1, "max_steps": 4}, False),
    ({"max_epochs": -1, "max_time": {"minutes": 5}}, False), ({"max_epochs": 2}, False),
    ({"max_epochs": -1, "callbacks": [pl.callbacks.EarlyStopping("val_acc")]}, False),
    ({"max_epochs": -1, "callbacks": [pl.callbacks.Timer({"minutes": 5})]}, False),
    # a Timer without a duration only measures (was: counted as ending the fit)
    ({"max_epochs": -1, "callbacks": [pl.callbacks.Timer(None)]}, True)])
def test_a_python_fit_nothing_ends_is_warned_of_once_as_it_starts(tmp_path, algorithm, limits,
                                                                 warned):
    # was: said nothing (nor does Lightning), and trained for ever; lightning-nas oneshot
    # warned before it built anything (trainer_checks.warn_endless_run)
    callbacks = [OneShotNAS(num_candidates=2)] if algorithm == "spos" else []
    trainer = pl.Trainer(**{"accelerator": "cpu", "logger": False, "enable_progress_bar": False,
                            "enable_checkpointing": False, "num_sanity_val_steps": 0,
                            "default_root_dir": tmp_path, **limits, "callbacks": [
                                *limits.get("callbacks", []), *callbacks, _RaiseAtTrainStart()]})
    module = TinySupernet() if algorithm == "spos" else DifferentiableNAS(TinySupernet())
    data = BlobData() if algorithm == "spos" else BilevelData(BlobData())
    with warnings.catch_warnings(record=True) as said, pytest.raises(_Started):
        warnings.simplefilter("always")
        trainer.fit(module, datamodule=data)
    endless = [str(w.message) for w in said if "max_epochs" in str(w.message)]
    who = "OneShotNAS" if algorithm == "spos" else "DifferentiableNAS"
    assert endless == ([_ENDLESS.format(who)] if warned else []), endless
