"""``TrialReporter`` in a real Trainer: each entry holds the values of its own validation
epoch (two validations an epoch, a user's callback or the module logging at an epoch's
end), and a monitor logged late, in some validations only, only by training, or by both, is
scored on the epochs that logged it or refused, naming the closest key."""

from __future__ import annotations

import csv
import math
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger

from lightning_nas.errors import MonitorError
from lightning_nas.results import TrialStatus
from lightning_nas.search.callbacks import TrialReporter
from lightning_nas.search.pruning import PruningCallback
from lightning_nas.search.trial import TrialSpec, fit_trial
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_search_callbacks import (
    SCRIPT,
    LaterAcc,
    ScriptedModel,
    fit_scripted,
    is_plain,
    median_rule,
)


def test_reporter_records_each_validation_epoch_in_a_real_trainer():
    reporter = TrialReporter(monitor="val_acc", mode="max", arch={"width": 8})
    fit_scripted([reporter])
    history = reporter.state_dict()["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]  # the sanity check is not recorded
    assert [h["metrics"]["val_acc"] for h in history] == pytest.approx(SCRIPT)
    assert reporter.curve() == pytest.approx(SCRIPT)
    assert reporter.best()["epoch"] == 1
    assert is_plain(reporter.state_dict())


class EpochLogged(ScriptedModel):
    """Also logs its epoch as the training epoch metric ``trained``."""

    def training_step(self, batch, batch_idx):
        self.log("trained", float(self.current_epoch), on_step=False, on_epoch=True)
        return super().training_step(batch, batch_idx)


def test_every_metric_of_an_entry_is_of_its_epoch_with_two_validations_per_epoch():
    reporter = TrialReporter(monitor="val_acc", mode="max")
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", devices=1, callbacks=[reporter],
                         enable_progress_bar=False, enable_model_summary=False, logger=False,
                         enable_checkpointing=False, limit_train_batches=4,
                         limit_val_batches=1, val_check_interval=0.5)
    trainer.fit(EpochLogged())
    history = reporter.history
    assert [h["epoch"] for h in history] == [0, 0, 1, 1, 2, 2]
    # the epoch's last validation gets its training metrics at the epoch's end; the one
    # before it has none (it had the previous epoch's "trained")
    assert [h["metrics"].get("trained") for h in history] == [None, 0.0, None, 1.0, None, 2.0]


class StepLRLogged(EpochLogged):
    """Halves its learning rate (0.1) after every epoch."""

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)]


def test_a_user_callback_logging_at_the_next_epoch_start_does_not_overwrite_an_entry(tmp_path):
    # was: LearningRateMonitor (a user callback, so before the reporter) logs the next
    # epoch's rate at its start, which the entry of the epoch before took: epoch 0 had 0.05
    reporter = TrialReporter(monitor="val_acc", mode="max")
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", devices=1,
                         callbacks=[LearningRateMonitor(), reporter], logger=CSVLogger(tmp_path),
                         enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(StepLRLogged())
    assert [h["metrics"]["lr-SGD"] for h in reporter.history] == pytest.approx([0.1, 0.05, 0.025])
    assert [h["metrics"]["trained"] for h in reporter.history] == [0.0, 1.0, 2.0]


class EpochEndLogged(StepLRLogged):
    """Also logs at its own ``on_train_epoch_end`` (after the callbacks' hook), and a
    training loss both per step and per epoch."""

    def training_step(self, batch, batch_idx):
        self.log("step_and_epoch", float(10 * self.current_epoch + batch_idx), on_step=True,
                 on_epoch=True)
        return super().training_step(batch, batch_idx)

    def on_train_epoch_end(self) -> None:
        self.log("hooked", float(self.current_epoch))


def test_an_entry_holds_what_the_module_logs_at_its_epoch_end_of_that_epoch(tmp_path):
    # was: the module's on_train_epoch_end runs after the reporter's, so from epoch 1 on the
    # entry kept the previous epoch's "hooked"; and the bare name of a metric logged per step
    # and per epoch kept the last step's value, not the epoch's mean (what Lightning's
    # callback_metrics, and a user's EarlyStopping on it, hold after the epoch)
    reporter = TrialReporter(monitor="val_acc", mode="max")
    csv = CSVLogger(tmp_path, name="", version="")
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", devices=1,
                         callbacks=[LearningRateMonitor(), reporter], logger=csv,
                         enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(EpochEndLogged())
    history = reporter.history
    assert [h["metrics"]["hooked"] for h in history] == [0.0, 1.0, 2.0]
    assert [h["metrics"]["step_and_epoch"] for h in history] == [0.5, 10.5, 20.5]
    assert [h["metrics"]["lr-SGD"] for h in history] == pytest.approx([0.1, 0.05, 0.025])
    assert [h["metrics"]["trained"] for h in history] == [0.0, 1.0, 2.0]


class FirstEpochLogged(ScriptedModel):
    """Logs ``warmup`` in training only in epoch 0: per step (``warmup_step``) and at its
    training epoch's end (``warmup_end``), as a module logs a warm-up's values."""

    def training_step(self, batch, batch_idx):
        if self.current_epoch == 0:
            self.log("warmup_step", 1.0, on_step=True, on_epoch=False)
        return super().training_step(batch, batch_idx)

    def on_train_epoch_end(self) -> None:
        if self.current_epoch == 0:
            self.log("warmup_end", 2.0)


@pytest.mark.parametrize("settings", [{}, {"val_check_interval": 0.5}])
def test_an_entry_holds_no_value_training_logged_in_an_earlier_epoch_only(settings):
    # was: Lightning keeps a key's last value in callback_metrics, so every later epoch's
    # entry (the best epoch's stored metrics) held epoch 0's warmup_end and warmup_step
    reporter = TrialReporter(monitor="val_acc", mode="max")
    fit_scripted([reporter], model=FirstEpochLogged, **settings)
    last = [h for h in reporter.history if h["epoch"] == 0][-1]
    assert last["metrics"]["warmup_end"] == 2.0 and last["metrics"]["warmup_step"] == 1.0
    later = [h for h in reporter.history if h["epoch"] > 0]
    assert [h["epoch"] for h in later] == ([1, 2] if not settings else [1, 1, 2, 2])
    assert [sorted(set(h["metrics"]) & {"warmup_end", "warmup_step"}) for h in later] == (
        [[]] * len(later))


class EvenEpochsLogged(ScriptedModel):
    """Logs ``val_acc`` only in the validations of even epochs, ``val_loss`` in each."""

    def on_validation_epoch_end(self) -> None:
        if self.current_epoch % 2 == 0:
            super().on_validation_epoch_end()
        self.log("val_loss", 1.0 - SCRIPT[self.current_epoch])


def test_an_entry_holds_no_value_a_validation_did_not_log():
    # was: Lightning keeps the last logged value in callback_metrics, so epoch 1's entry
    # and curve held epoch 0's val_acc (0.25) as if measured after epoch 1
    reporter = TrialReporter(monitor="val_acc", mode="max")
    fit_scripted([reporter], model=EvenEpochsLogged)
    history = reporter.history
    assert [h["metrics"].get("val_acc") for h in history] == [0.25, None, 0.5]
    assert [h["metrics"]["val_loss"] for h in history] == pytest.approx([0.75, 0.25, 0.5])
    curve = reporter.curve()
    assert curve[0] == 0.25 and math.isnan(curve[1]) and curve[2] == 0.5
    assert reporter.best()["epoch"] == 2


def test_an_objective_a_validation_did_not_log_stops_the_trial():
    # was: the stale val_acc of epoch 0 was taken as epoch 1's objective
    reporter = TrialReporter(monitor="val_loss", mode="min", logged=("val_acc",))
    with pytest.raises(MonitorError, match="objective 'val_acc' was not logged in epoch 1"):
        fit_scripted([reporter], model=EvenEpochsLogged)


class OddEpochsLogged(EvenEpochsLogged):
    """Logs ``val_acc`` only in the validations of odd epochs, ``val_loss`` in each."""

    def on_validation_epoch_end(self) -> None:
        self.log("val_loss", 1.0 - SCRIPT[self.current_epoch])
        if self.current_epoch % 2 == 1:
            self.log("val_acc", SCRIPT[self.current_epoch])


def test_a_monitor_the_first_validation_did_not_log_is_scored_on_the_later_ones():
    # was: "MonitorError: monitor 'val_acc' was not logged by the validation of epoch 0"
    reporter = TrialReporter(monitor="val_acc", mode="max")
    fit_scripted([reporter], model=OddEpochsLogged)
    assert [h["metrics"].get("val_acc") for h in reporter.history] == [None, 0.75, None]
    assert [math.isnan(v) for v in reporter.curve()] == [True, False, True]
    assert reporter.best()["epoch"] == 1


@pytest.mark.parametrize("first, every, logs", [(1, 2, [1, 3]), (2, 1, [2, 3])],
                         ids=["odd-epochs", "after-warm-up"])
def test_a_trial_whose_monitor_is_first_logged_after_epoch_0_is_scored_on_those_epochs(
        tmp_path, monkeypatch, first, every, logs):
    # was: the trial failed (MonitorError at epoch 0's validation) and stopped the search,
    # though the README says a metric only some validations log is scored where it was
    from lightning_nas.search import callbacks
    from lightning_nas.user_warnings import UserWarningCache

    monkeypatch.setattr(callbacks, "_WARNINGS", UserWarningCache())  # told once a process
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path / "t1"),
                     model=LaterAcc, model_init_args={"first": first, "every": every},
                     data=BlobData, trainer={"max_epochs": 4})
    with pytest.warns(UserWarning, match=r"monitor 'val_acc' was not logged by the "
                                         r"validation of epoch 0; logged keys: \['val_loss'\]: "
                                         r"the trial trains on"):
        result = fit_trial(spec)
    assert result.status is TrialStatus.COMPLETED and result.error is None, result.error
    assert [e for e, v in enumerate(result.curve) if not math.isnan(v)] == logs
    assert result.epoch in logs and result.score == max(result.curve[e] for e in logs)
    assert result.metrics["val_acc"] == result.score
    best = torch.load(result.checkpoint, weights_only=False)  # chosen among those epochs
    assert best["epoch"] == result.epoch


def test_a_monitor_no_validation_logs_fails_at_the_end_naming_the_closest_key(
        tmp_path, monkeypatch):
    from lightning_nas.search import callbacks
    from lightning_nas.user_warnings import UserWarningCache

    monkeypatch.setattr(callbacks, "_WARNINGS", UserWarningCache())
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path / "t1"),
                     model=TinyNet, data=BlobData, trainer={"max_epochs": 2},
                     monitor="val_accuracy")
    with pytest.warns(UserWarning, match="did you mean 'val_acc'[?]"):  # at epoch 0
        result = fit_trial(spec)
    assert result.status is TrialStatus.FAILED and result.fatal and result.epochs == 2
    assert ("MonitorError: monitor 'val_accuracy' was not logged by the validation of epoch "
            "0; did you mean 'val_acc'? logged keys: ['val_acc', 'val_loss']; nor did the one "
            "after it (epoch 1): a trial is scored on the validations that log its "
            "monitor") in result.error
    assert [math.isnan(v) for v in result.curve] == [True, True]


def test_a_scheduler_refuses_a_monitor_the_first_validation_did_not_log():
    # the rule judges every epoch (was: the reporter's "a trial is scored on what every
    # validation logs", which a search without a scheduler does not ask)
    pruning = PruningCallback(median_rule(), monitor="val_acc", trial_key="run-1")
    with pytest.raises(MonitorError, match=r"monitor 'val_acc' was not logged by the "
                                           r"validation of epoch 0; .*\(the rule judges each "
                                           r"epoch: log it in every validation, or search "
                                           r"without a scheduler\)"):
        fit_scripted([TrialReporter(monitor="val_acc", mode="max"), pruning], model=OddEpochsLogged)


def test_an_objective_named_with_the_epoch_suffix_is_pointed_to_the_logged_name():
    # was: "did you mean 'train_loss_epoch'?" for 'val_loss_epoch', where 'val_loss' is logged
    class TrainLogged(ScriptedModel):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            out = super().training_step(batch, batch_idx)
            self.log("train_loss", out["loss"], on_step=True, on_epoch=True)
            return out

        def on_validation_epoch_end(self) -> None:
            super().on_validation_epoch_end()
            self.log("val_loss", 1.0 - SCRIPT[self.current_epoch])

    reporter = TrialReporter(monitor="val_acc", mode="max", logged=("val_loss_epoch",))
    with pytest.raises(MonitorError, match="objective 'val_loss_epoch' was not logged in "
                                           "epoch 0; did you mean 'val_loss'[?]"):
        fit_scripted([reporter], model=TrainLogged)


def test_an_objective_only_training_logs_is_refused_with_validations_within_an_epoch(
        tmp_path):
    from lightning_nas import Search
    from lightning_nas.errors import SearchError
    from lightning_nas.store import RunStore

    # was: a trial whose best validation was within an epoch was stored COMPLETED without
    # train_loss, then telling nevergrad raised, and so did every resume of the folder
    with pytest.raises(SearchError, match=r"objective 'train_loss' is logged by training, "
                                          r"once per epoch, .*val_check_interval=0.5"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData,
               trainer={"max_epochs": 2, "val_check_interval": 0.5},
               objectives={"val_acc": "max", "train_loss": "min"}, budget=2, seed=0,
               run_dir=tmp_path, verbose=False).run()
    trial, = RunStore(tmp_path / "search.db").trials()
    assert trial.status is TrialStatus.FAILED and len(trial.curve) == 3  # the first epoch's


def test_pruning_callback_refuses_a_monitor_a_validation_did_not_log():
    # was: the rule judged epoch 2 by epoch 1's value
    pruning = PruningCallback(median_rule(), monitor="val_acc", trial_key="run-1")
    with pytest.raises(MonitorError, match="validation of epoch 1 did not log it"):
        fit_scripted([pruning, TrialReporter(monitor="val_acc", mode="max")],
                     model=EvenEpochsLogged)
    assert pruning.decision is None


def test_reporter_names_an_unlogged_monitor():
    reporter = TrialReporter(monitor="val_accuracy", mode="max")
    with pytest.raises(MonitorError, match="val_accuracy") as info:
        fit_scripted([reporter], epochs=1)
    assert "did you mean 'val_acc'?" in str(info.value)


class TrainLossLogged(ScriptedModel):
    """Logs ``loss`` in ``training_step`` (per step and per epoch)."""

    def training_step(self, batch, batch_idx):
        out = super().training_step(batch, batch_idx)
        self.log("loss", out["loss"], on_step=True, on_epoch=True)
        return out


class LossLoggedByBoth(TrainLossLogged):
    """Logs ``loss`` in validation too (a shared step without a prefix)."""

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        self.log("loss", 1.0 - SCRIPT[self.current_epoch])


class TrainEpochLossLogged(ScriptedModel):
    """Logs ``loss`` in ``training_step`` per epoch only (known from the first epoch's end)."""

    def training_step(self, batch, batch_idx):
        out = super().training_step(batch, batch_idx)
        self.log("loss", out["loss"], on_step=False, on_epoch=True)
        return out


def test_a_monitor_only_training_logs_per_epoch_is_refused_when_validation_comes_later():
    # was: with check_val_every_n_epoch=2 the first validation (epoch 1) found epoch 0's
    # training mean, and the checkpoint was chosen by the previous epoch's value each time
    reporter = TrialReporter(monitor="loss", mode="min")
    with pytest.raises(MonitorError, match="'loss' is logged in training_step"):
        fit_scripted([reporter], epochs=4, model=TrainEpochLossLogged, check_val_every_n_epoch=2)
    assert reporter.history == []


def test_a_monitor_only_training_logs_per_epoch_is_refused_at_the_second_validation():
    # the first validation comes before training's first epoch mean: it is not scored by
    # the mean that the epoch's end logs (was: "not logged by the validation of epoch 0")
    reporter = TrialReporter(monitor="loss", mode="min")
    with pytest.raises(MonitorError, match="'loss' is logged in training_step"):
        fit_scripted([reporter], model=TrainEpochLossLogged)
    assert [h["metrics"].get("loss") for h in reporter.history] == [None]


def test_a_monitor_only_training_logs_is_refused_without_a_sanity_check():
    # was: with num_sanity_val_steps=0 only a warning, and every trial was scored on the
    # last training step's value
    reporter = TrialReporter(monitor="loss", mode="min")
    with pytest.raises(MonitorError, match="'loss' is logged in training_step"):
        fit_scripted([reporter], model=TrainLossLogged, num_sanity_val_steps=0)
    assert reporter.history == []  # refused at the first validation's end, nothing scored
    both = TrialReporter(monitor="loss", mode="min")  # validation logs it too: not refused
    fit_scripted([both], model=LossLoggedByBoth, num_sanity_val_steps=0)
    assert [h["epoch"] for h in both.history] == [0, 1, 2]


@pytest.mark.parametrize("sanity", [0, 2])
def test_a_monitor_validation_and_training_both_log_scores_validations_value(sanity):
    # was: training's epoch mean of the same name replaced it at the epoch's end, so the
    # curve and the score were training's while the checkpoint was chosen by validation's
    reporter = TrialReporter(monitor="loss", mode="min")
    fit_scripted([reporter], model=LossLoggedByBoth, num_sanity_val_steps=sanity)
    assert reporter.curve() == pytest.approx([1.0 - v for v in SCRIPT])
    assert reporter.best()["epoch"] == 1


def test_a_validate_call_outside_fit_is_no_epoch_of_the_history(tmp_path):
    # was: trainer.validate() before fit recorded the untrained model's values as epoch 0
    # (an entry the best epoch could be), and one after a 2-epoch fit an epoch 2 it never
    # trained, as PruningCallback did before 7ebd9891
    reporter = TrialReporter(monitor="val_acc", mode="max")
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=1, callbacks=[reporter],
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path)
    model, data = TinyNet(width=8), BlobData()
    trainer.validate(model, datamodule=data, verbose=False)
    assert reporter.history == []
    trainer.fit(model, datamodule=data)
    trainer.validate(model, datamodule=data, verbose=False)
    assert [h["epoch"] for h in reporter.history] == [0, 1]


def test_a_fit_resumed_at_its_end_logs_the_score_the_killed_fit_logged(tmp_path):
    # a fit killed as it ended (``on_fit_end``: its loggers' rows of the end of training
    # unwritten) resumes from its last epoch's checkpoint: Lightning trains nothing and
    # skips the end of training, so its reporter logs the score as the fit ends (was: none)
    def fit(version: str, ckpt_path: Any = None) -> pl.Trainer:
        pl.seed_everything(0, verbose=False)
        trainer = pl.Trainer(max_epochs=3, accelerator="cpu", devices=1,
                             callbacks=[TrialReporter(monitor="val_acc", mode="max")],
                             logger=CSVLogger(tmp_path, name="logs", version=version),
                             enable_progress_bar=False, enable_model_summary=False,
                             enable_checkpointing=False, limit_train_batches=2,
                             limit_val_batches=1, num_sanity_val_steps=0)
        trainer.fit(ScriptedModel(), ckpt_path=ckpt_path)
        return trainer

    fit("whole").save_checkpoint(tmp_path / "last.ckpt")
    fit("resumed", tmp_path / "last.ckpt")
    whole, resumed = (_filled_rows(tmp_path / "logs" / v / "metrics.csv")
                      for v in ("whole", "resumed"))
    assert resumed == [row for row in whole if "hp_metric" in row]
    assert resumed == [{"hp_metric": str(max(SCRIPT)), "step": "6"}]


def _filled_rows(path: Any) -> list[dict[str, str]]:
    """The rows of the ``metrics.csv`` at ``path``, each without its empty values."""
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(f)]
