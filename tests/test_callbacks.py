"""Lightning callback conventions of ``TrialReporter``, ``PruningCallback`` and ``OneShotNAS``:
``state_key``, plain ``state_dict`` that round-trips, old checkpoints, pickling; and real
``Trainer`` runs of the two search callbacks."""

from __future__ import annotations

import json
import math
import pickle
import re
from typing import Any

import cloudpickle
import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loggers import CSVLogger

from lightning_nas.errors import ConfigError, MonitorError
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.results import TrialStatus
from lightning_nas.search.callbacks import TrialReporter
from lightning_nas.search.pruning import PruningCallback
from lightning_nas.search.schedulers import Decision, MedianRule, Rule
from lightning_nas.search.trial import TrialSpec, fit_trial
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

#: ``val_acc`` logged at the end of each validation epoch
SCRIPT = [0.25, 0.75, 0.5]


def _rule() -> MedianRule:
    return MedianRule(min_epochs=1, min_trials=1)


def _callbacks() -> list[pl.Callback]:
    return [TrialReporter(monitor="val_acc", mode="max", arch={"width": 8}),
            PruningCallback(_rule(), monitor="val_acc", trial_key="run-1"),
            OneShotNAS(num_candidates=5, seed=3)]


# ----------------------------------------------------------------- state_key
def test_state_keys_are_pinned():
    reporter, pruning, oneshot = _callbacks()
    assert reporter.state_key == "TrialReporter{'monitor': 'val_acc', 'mode': 'max'}"
    assert pruning.state_key == "PruningCallback{'monitor': 'val_acc', 'key': 'run-1'}"
    assert oneshot.state_key == "OneShotNAS{'optimizer': 'RandomSearch', 'seed': 3}"
    assert OneShotNAS().state_key == "OneShotNAS{'optimizer': 'RandomSearch', 'seed': 0}"
    assert PruningCallback(_rule()).state_key == "PruningCallback{'monitor': 'val_acc', 'key': '0'}"


def test_different_init_args_give_different_state_keys():
    pairs = [
        (TrialReporter("val_acc", "max"), TrialReporter("val_acc", "min")),
        (TrialReporter("val_acc", "max"), TrialReporter("val_loss", "max")),
        (PruningCallback(_rule(), trial_key="a"), PruningCallback(_rule(), trial_key="b")),
        (PruningCallback(_rule(), monitor="val_acc"), PruningCallback(_rule(), monitor="loss")),
        (OneShotNAS(seed=0), OneShotNAS(seed=1)),
        (OneShotNAS(optimizer="RandomSearch"), OneShotNAS(optimizer="OnePlusOne")),
    ]
    for a, b in pairs:
        assert a.state_key != b.state_key, (a.state_key, b.state_key)


def test_state_keys_differ_across_callback_types():
    keys = [cb.state_key for cb in _callbacks()]
    assert len(set(keys)) == 3


# ----------------------------------------------------------------- state_dict
def _plain(value) -> bool:
    """Plain data: what ``json`` writes and reads back unchanged."""
    return json.loads(json.dumps(value)) == value


@pytest.mark.parametrize("index", [0, 1, 2], ids=["TrialReporter", "PruningCallback",
                                                  "OneShotNAS"])
def test_fresh_state_dict_is_plain_and_round_trips(index):
    callback = _callbacks()[index]
    state = callback.state_dict()
    assert isinstance(state, dict) and _plain(state)
    other = _callbacks()[index]
    other.load_state_dict(json.loads(json.dumps(state)))
    assert other.state_dict() == state


def test_trial_reporter_state_round_trips():
    history = [{"epoch": 0, "metrics": {"val_acc": 0.5, "val_loss": 1.0}},
               {"epoch": 1, "metrics": {"val_acc": 0.75, "val_loss": 0.5}}]
    reporter = TrialReporter("val_acc", "max")
    reporter.load_state_dict({"history": history})
    state = reporter.state_dict()
    assert state["history"] == history and _plain(state)
    restored = TrialReporter("val_acc", "max")
    restored.load_state_dict(state)
    assert restored.curve() == [0.5, 0.75]
    assert restored.best()["epoch"] == 1
    restored.history.append({"epoch": 2, "metrics": {"val_acc": 0.1}})
    assert len(history) == 2  # loading copied the list


def test_trial_reporter_checkpoints_the_seconds_trained():
    # a promotion's fit: 5 s stored; its pause's checkpoint held less (the fit's end was
    # stored too), one a fit killed with its search wrote holds more, an older one none
    for held, trained in ((3.0, 5.0), (8.0, 8.0), (None, 5.0)):
        reporter = TrialReporter("val_acc", "max", trained=5.0)
        reporter.load_state_dict({"history": []} if held is None
                                 else {"history": [], "trained": held})
        assert reporter.trained == trained
        assert reporter.state_dict()["trained"] == trained  # no fit began: nothing added
    assert TrialReporter("val_acc", "max").state_dict()["trained"] == 0.0


def test_pruning_callback_state_round_trips():
    callback = PruningCallback(_rule(), trial_key="run-1")
    callback.stopped_epoch, callback.decision = 4, Decision.PAUSE
    state = callback.state_dict()
    assert state == {"stopped_epoch": 4, "decision": "PAUSE"} and _plain(state)
    restored = PruningCallback(_rule(), trial_key="run-1")
    restored.load_state_dict(state)
    assert restored.stopped_epoch == 4


def test_oneshot_state_round_trips_the_sampler_and_the_result():
    callback = OneShotNAS(num_candidates=5, seed=3)
    for _ in range(7):
        callback.rng.random()
    callback.history = [{"epoch": 1, "arch": {"hidden": 8, "act": "relu"}, "score": 0.5}]
    callback.best_arch, callback.best_score = {"hidden": 8, "act": "relu"}, 0.5
    state = callback.state_dict()
    assert _plain(state)
    restored = OneShotNAS(num_candidates=5, seed=3)
    restored.load_state_dict(json.loads(json.dumps(state)))
    assert restored.history == callback.history
    assert (restored.best_arch, restored.best_score) == ({"hidden": 8, "act": "relu"}, 0.5)
    assert [restored.rng.random() for _ in range(3)] == [callback.rng.random() for _ in range(3)]


def test_load_empty_state_tolerates_old_checkpoints():
    reporter, pruning, oneshot = _callbacks()
    reporter.history = [{"epoch": 0, "metrics": {"val_acc": 0.5}}]
    reporter.load_state_dict({})
    assert reporter.history == [] and reporter.best() is None

    pruning.stopped_epoch = 2
    pruning.load_state_dict({})
    assert pruning.stopped_epoch is None

    expected = OneShotNAS(num_candidates=5, seed=3).rng.random()
    oneshot.load_state_dict({})
    assert oneshot.history == [] and oneshot.best_arch is None and oneshot.best_score is None
    assert oneshot.rng.random() == expected  # the sampler keeps its seeded state


# ----------------------------------------------------------------- pickling
@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_callbacks_pickle(dumps):
    for callback in _callbacks():
        copy = pickle.loads(dumps(callback))
        assert type(copy) is type(callback)
        assert copy.state_key == callback.state_key
        assert copy.state_dict() == callback.state_dict()


def test_pickled_pruning_callback_keeps_its_rule():
    rule = _rule()
    rule.decide("other", 1, 0.9)
    copy = pickle.loads(cloudpickle.dumps(PruningCallback(rule, trial_key="run-1")))
    assert isinstance(copy.rule, MedianRule)
    assert copy.rule.decide("run-1", 1, 0.1) is Decision.STOP


# ----------------------------------------------------------------- checks
def test_bad_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="maximum"):
        TrialReporter("val_acc", mode="maximum")
    with pytest.raises(ConfigError, match="maximum"):
        OneShotNAS(mode="maximum")
    with pytest.raises(ConfigError, match="num_candidates"):
        OneShotNAS(num_candidates=0)


# ----------------------------------------------------------------- real Trainer
class ScriptedModel(BoringModel):
    """Logs ``SCRIPT[epoch]`` as ``val_acc`` at the end of each validation epoch."""

    def on_validation_epoch_end(self) -> None:
        self.log("val_acc", SCRIPT[self.current_epoch])


def _fit(callbacks: list[pl.Callback], epochs: int = 3,
         model: type[ScriptedModel] = ScriptedModel, **settings: Any) -> pl.Trainer:
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, callbacks=callbacks,
                         enable_progress_bar=False, enable_model_summary=False, logger=False,
                         enable_checkpointing=False, limit_train_batches=2,
                         limit_val_batches=1, **settings)
    trainer.fit(model())
    return trainer


def test_reporter_records_each_validation_epoch_in_a_real_trainer():
    reporter = TrialReporter(monitor="val_acc", mode="max", arch={"width": 8})
    _fit([reporter])
    history = reporter.state_dict()["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]  # the sanity check is not recorded
    assert [h["metrics"]["val_acc"] for h in history] == pytest.approx(SCRIPT)
    assert reporter.curve() == pytest.approx(SCRIPT)
    assert reporter.best()["epoch"] == 1
    assert _plain(reporter.state_dict())


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
    _fit([reporter], model=EvenEpochsLogged)
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
        _fit([reporter], model=EvenEpochsLogged)


class OddEpochsLogged(EvenEpochsLogged):
    """Logs ``val_acc`` only in the validations of odd epochs, ``val_loss`` in each."""

    def on_validation_epoch_end(self) -> None:
        self.log("val_loss", 1.0 - SCRIPT[self.current_epoch])
        if self.current_epoch % 2 == 1:
            self.log("val_acc", SCRIPT[self.current_epoch])


def test_a_monitor_the_first_validation_did_not_log_is_scored_on_the_later_ones():
    # was: "MonitorError: monitor 'val_acc' was not logged by the validation of epoch 0"
    reporter = TrialReporter(monitor="val_acc", mode="max")
    _fit([reporter], model=OddEpochsLogged)
    assert [h["metrics"].get("val_acc") for h in reporter.history] == [None, 0.75, None]
    assert [math.isnan(v) for v in reporter.curve()] == [True, False, True]
    assert reporter.best()["epoch"] == 1


class LaterAcc(TinyNet):
    """Logs ``val_acc`` from epoch ``first`` on, every ``every`` epochs (``val_loss`` in
    every validation): an expensive metric, or one that means nothing before a warm-up."""

    def __init__(self, width: int = 8, first: int = 1, every: int = 1) -> None:
        super().__init__(width=width)
        self.first, self.every = first, every

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        if self.current_epoch >= self.first and (self.current_epoch - self.first) % self.every == 0:
            self.log("val_acc", (logits.argmax(-1) == y).float().mean())


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
    pruning = PruningCallback(_rule(), monitor="val_acc", trial_key="run-1")
    with pytest.raises(MonitorError, match=r"monitor 'val_acc' was not logged by the "
                                           r"validation of epoch 0; .*\(the rule judges each "
                                           r"epoch: log it in every validation, or search "
                                           r"without a scheduler\)"):
        _fit([TrialReporter(monitor="val_acc", mode="max"), pruning], model=OddEpochsLogged)


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
        _fit([reporter], model=TrainLogged)


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
    pruning = PruningCallback(_rule(), monitor="val_acc", trial_key="run-1")
    with pytest.raises(MonitorError, match="validation of epoch 1 did not log it"):
        _fit([pruning, TrialReporter(monitor="val_acc", mode="max")], model=EvenEpochsLogged)
    assert pruning.decision is None


def test_reporter_names_an_unlogged_monitor():
    reporter = TrialReporter(monitor="val_accuracy", mode="max")
    with pytest.raises(MonitorError, match="val_accuracy") as info:
        _fit([reporter], epochs=1)
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
        _fit([reporter], epochs=4, model=TrainEpochLossLogged, check_val_every_n_epoch=2)
    assert reporter.history == []


def test_a_monitor_only_training_logs_per_epoch_is_refused_at_the_second_validation():
    # the first validation comes before training's first epoch mean: it is not scored by
    # the mean that the epoch's end logs (was: "not logged by the validation of epoch 0")
    reporter = TrialReporter(monitor="loss", mode="min")
    with pytest.raises(MonitorError, match="'loss' is logged in training_step"):
        _fit([reporter], model=TrainEpochLossLogged)
    assert [h["metrics"].get("loss") for h in reporter.history] == [None]


def test_a_monitor_only_training_logs_is_refused_without_a_sanity_check():
    # was: with num_sanity_val_steps=0 only a warning, and every trial was scored on the
    # last training step's value
    reporter = TrialReporter(monitor="loss", mode="min")
    with pytest.raises(MonitorError, match="'loss' is logged in training_step"):
        _fit([reporter], model=TrainLossLogged, num_sanity_val_steps=0)
    assert reporter.history == []  # refused at the first validation's end, nothing scored
    both = TrialReporter(monitor="loss", mode="min")  # validation logs it too: not refused
    _fit([both], model=LossLoggedByBoth, num_sanity_val_steps=0)
    assert [h["epoch"] for h in both.history] == [0, 1, 2]


@pytest.mark.parametrize("sanity", [0, 2])
def test_a_monitor_validation_and_training_both_log_scores_validations_value(sanity):
    # was: training's epoch mean of the same name replaced it at the epoch's end, so the
    # curve and the score were training's while the checkpoint was chosen by validation's
    reporter = TrialReporter(monitor="loss", mode="min")
    _fit([reporter], model=LossLoggedByBoth, num_sanity_val_steps=sanity)
    assert reporter.curve() == pytest.approx([1.0 - v for v in SCRIPT])
    assert reporter.best()["epoch"] == 1


def test_pruning_callback_stops_a_weak_run_in_a_real_trainer():
    rule = _rule()
    for epoch in (1, 2, 3):
        rule.decide("strong", epoch, 0.9)  # an earlier run, better at every epoch
    pruning = PruningCallback(rule, monitor="val_acc", trial_key="weak")
    reporter = TrialReporter(monitor="val_acc", mode="max")
    trainer = _fit([reporter, pruning])
    assert pruning.decision is Decision.STOP
    assert pruning.stopped_epoch == 1
    assert pruning.state_dict() == {"stopped_epoch": 1, "decision": "STOP"}
    assert trainer.current_epoch == 1  # stopped after its first epoch
    assert len(reporter.history) == 1


def test_pruning_callback_refuses_a_rule_whose_mode_is_not_the_monitors(tmp_path):
    # was: a MedianRule (mode max by default) judging val_loss stopped the lowest losses
    kw = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "logger": False,
          "enable_checkpointing": False, "enable_progress_bar": False,
          "enable_model_summary": False, "limit_train_batches": 2, "limit_val_batches": 1,
          "default_root_dir": tmp_path}
    for callback, needle in (
            (PruningCallback(_rule(), monitor="val_loss"), "monitor 'val_loss' says by its "
             "name mode 'min': the rule would stop the best runs; build it with mode='min', "
             "e.g. MedianRule(..., mode='min')"),
            (PruningCallback(_rule(), monitor="val_acc", mode="min"), "MedianRule has "
             "mode='max', but monitor 'val_acc' is given as mode 'min'")):
        trainer = pl.Trainer(callbacks=[callback], **kw)
        with pytest.raises(ConfigError, match=re.escape(needle)):
            trainer.fit(TinyNet(width=8), datamodule=BlobData())
        assert trainer.global_step == 0  # refused before training
    for callback in (PruningCallback(MedianRule(mode="min"), monitor="val_loss"),
                     PruningCallback(_rule(), monitor="val_loss", mode="max")):  # as said
        trainer = pl.Trainer(callbacks=[callback], **kw)
        trainer.fit(TinyNet(width=8), datamodule=BlobData())
        assert trainer.current_epoch == 2
    # a search's trials judge by the search's mode, given against the name's too
    from lightning_nas import Search

    done = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=1,
                  monitor="val_loss", mode="max", scheduler="median", run_dir=tmp_path / "run",
                  trainer={"max_epochs": 2, "limit_train_batches": 2}, verbose=False).run()
    assert [t.status for t in done.trials] == [TrialStatus.COMPLETED], done.trials[0].error


class PlateauNet(TinyNet):
    """SGD with momentum, a ``ReduceLROnPlateau`` on a metric that never improves (the rate
    halves after every epoch but the first) and an epoch-interval ``StepLR`` (times 0.9
    after every epoch)."""

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        self.log("flat", 1.0)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
        step = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)
        return [opt], [{"scheduler": plateau, "monitor": "flat"}, step]


class TrainingState(pl.Callback):
    """Saves what training goes on from at each epoch's start and at the fit's end
    (``state_<epoch>.pt``, ``state_end.pt`` in the trial folder): weights, optimizer state,
    rates, the schedulers' states and the step."""

    def _save(self, trainer: pl.Trainer, name: str) -> None:
        state = {"weights": trainer.lightning_module.state_dict(),
                 "optimizer": trainer.optimizers[0].state_dict(),
                 "schedulers": [c.scheduler.state_dict() for c in trainer.lr_scheduler_configs],
                 "step": trainer.global_step, "epoch": trainer.current_epoch}
        torch.save(state, f"{trainer.default_root_dir}/state_{name}.pt")

    def on_train_epoch_start(self, trainer, pl_module):
        self._save(trainer, str(trainer.current_epoch))

    def on_train_end(self, trainer, pl_module):
        self._save(trainer, "end")


class PauseAfter(Rule):
    """Pauses a trial after each of ``epochs`` (a promotion resumes it)."""

    def __init__(self, *epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def decide(self, key, epoch, value):
        return Decision.PAUSE if epoch in self.epochs else Decision.CONTINUE

    def _observe(self, key, epoch, value):
        pass

    def promotion(self, paused):
        return None


def _assert_same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a} != {b}"


def test_a_paused_and_promoted_trial_trains_on_as_an_uninterrupted_one(tmp_path):
    # was: last.ckpt was written in the epoch-end hooks, before Lightning stepped the
    # ReduceLROnPlateau, which it does not step on a resume from such a checkpoint: each
    # pause lost a step (epochs 2 and 3 trained at lr 0.081 and 0.0729, not 0.0405 and
    # 0.018225); the epoch-interval StepLR, stepped at the epoch's last batch, was right
    def spec(name: str, rule: Rule | None) -> TrialSpec:
        return TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path / name),
                         model=PlateauNet, model_init_args={"lr": 0.1}, data=BlobData,
                         data_init_args={"shuffle": False}, rule=rule,
                         trainer={"max_epochs": 4, "callbacks": [TrainingState()]})

    whole = fit_trial(spec("whole", None))
    assert whole.status is TrialStatus.COMPLETED and whole.epochs == 4, whole.error
    paused = spec("paused", PauseAfter(1, 2))
    for epochs in (1, 2):  # paused after epoch 1, promoted, paused after epoch 2, promoted
        result = fit_trial(paused)
        assert result.status is TrialStatus.PAUSED and result.epochs == epochs, result.error
        paused.ckpt_path, paused.clear_dir = str(tmp_path / "paused" / "last.ckpt"), False
        paused.known_epochs = epochs
    result = fit_trial(paused)
    assert result.status is TrialStatus.COMPLETED and result.epochs == 4, result.error
    for name in ("1", "2", "3", "end"):  # each segment starts where the whole run was
        states = [torch.load(tmp_path / run / f"state_{name}.pt", weights_only=False)
                  for run in ("whole", "paused")]
        _assert_same(*states, f"state_{name}")
    assert result.curve == whole.curve
    rates = [torch.load(tmp_path / "whole" / f"state_{e}.pt", weights_only=False)
             ["optimizer"]["param_groups"][0]["lr"] for e in range(4)]
    # the first step sets the plateau's best; it halves the rate from the second on
    assert rates == pytest.approx([0.1, 0.09, 0.1 * 0.9**2 / 2, 0.1 * 0.9**3 / 4])


def test_a_trial_stopped_before_its_monitor_is_logged_fails_alone_not_the_search(tmp_path):
    # was (review): fatal, "an error every trial would hit", though a searched max_epochs
    # or an early stop ended it before the epochs that log the monitor (others log it)
    from lightning.pytorch.callbacks import EarlyStopping

    from lightning_nas.search.trial import TrialSpec, fit_trial

    def trial(name, arch, **trainer):
        spec = TrialSpec(trial_id=1, arch=arch, trial_dir=str(tmp_path / name), model=LaterAcc,
                         model_init_args={"first": 2}, data=BlobData,
                         trainer={"max_epochs": 2, "accelerator": "cpu", "logger": False,
                                  **trainer})
        return fit_trial(spec)

    searched = trial("searched", {"width": 8, "trainer.max_epochs": 2})
    stopped = trial("stopped", {"width": 8}, max_epochs=5, callbacks=[
        EarlyStopping("val_loss", patience=0, mode="max", check_finite=False)])
    full = trial("full", {"width": 8})  # fixed max_epochs 2: every trial ends so
    for result in (searched, stopped, full):
        assert result.status is TrialStatus.FAILED
        assert "monitor 'val_acc' was not logged" in result.error
    assert not searched.fatal and not stopped.fatal and stopped.epochs < 5
    assert full.fatal


class BufferScored(TinyNet):
    """Scored by a buffer that training forwards change and the optimizer does not, as
    BatchNorm's running statistics: ``seen``, the training batches so far; ``val_acc`` is
    ``scores[seen]``. A checkpoint holds the buffer, so a fresh Trainer's ``validate`` of it
    logs the score of the validation it was written at."""

    def __init__(self, width: int = 8, scores: dict[int, float] | None = None) -> None:
        super().__init__(width=width)
        self.scores = dict(scores or {})
        self.register_buffer("seen", torch.tensor(0))

    def training_step(self, batch, batch_idx):
        self.seen += 1
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.log("val_acc", self.scores.get(int(self.seen), 0.0))


@pytest.mark.parametrize("scores", [
    {2: 0.5, 4: 0.6, 6: 0.9, 8: 0.7},  # best at the global step best.ckpt was saved at
    {2: 0.9, 4: 0.6, 6: 0.5, 8: 0.7},  # best before the first optimizer step (step 0)
], ids=["same-step", "step-0"])
def test_best_ckpt_is_the_stored_best_validation_within_an_accumulation_window(tmp_path,
                                                                                scores):
    # was: Lightning's ModelCheckpoint skips a validation at the global step it last saved
    # at (or at step 0: "no steps were taken"), so with accumulate_grad_batches 4 and four
    # validations an epoch (after batches 2, 4, 6, 8: steps 0, 1, 1, 2) the stored score
    # was 0.9 while best.ckpt held the 0.7 of batch 8 (validated: 0.7)
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path / "t"),
                     model=BufferScored, model_init_args={"scores": scores}, data=BlobData,
                     data_init_args={"batch_size": 24, "shuffle": False},
                     trainer={"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                              "logger": False, "accumulate_grad_batches": 4,
                              "val_check_interval": 0.25})
    result = fit_trial(spec)
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.curve == pytest.approx([scores[2], scores[4], scores[6], scores[8]])
    assert result.score == pytest.approx(0.9) and result.epoch == 0
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    validated = trainer.validate(BufferScored(scores=scores), datamodule=BlobData(batch_size=24),
                                 ckpt_path=result.checkpoint, verbose=False, weights_only=False)
    assert validated[0]["val_acc"] == pytest.approx(result.score)
