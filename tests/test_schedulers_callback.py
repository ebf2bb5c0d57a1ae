"""``PruningCallback`` alone, in a plain Trainer: a rule object judges each search by its own
trials, the median rule prunes, and what it refuses before training (no rule object, a
monitor never logged, validation every 2 epochs, ``min_epochs``)."""

from __future__ import annotations

import math
import re

import lightning.pytorch as pl
import pytest
from lightning.pytorch.callbacks import EarlyStopping

from lightning_nas import Search
from lightning_nas.errors import ConfigError, MonitorError
from lightning_nas.results import TrialStatus
from lightning_nas.search.pruning import PruningCallback
from lightning_nas.search.schedulers import ASHARule, Decision, MedianRule
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


def test_a_rule_object_given_to_two_searches_judges_each_by_its_own_trials(tmp_path):
    # was: the object recorded the first search's values, and the second search's first
    # trials were pruned against them (no earlier trial of its own)
    rule = MedianRule(min_epochs=1, mode="max")
    trainer = {"max_epochs": 3, "accelerator": "cpu", "devices": 1}
    Search(TinyNet, {"width": {"choice": [8, 16]}}, data=BlobData, trainer=trainer,
           model_init_args={"lr": 0.3}, budget=2, scheduler=rule, seed=0,
           run_dir=tmp_path / "a", verbose=False).run()
    assert rule.values == {}  # the user's object: untouched
    weak = Search(TinyNet, {"width": {"choice": [8, 16]}}, data=BlobData, trainer=trainer,
                  model_init_args={"lr": 1e-6}, budget=2, scheduler=rule, seed=0,
                  run_dir=tmp_path / "b", verbose=False).run()
    assert [t.status for t in weak.trials] == [TrialStatus.COMPLETED] * 2


def test_pruning_callback_in_a_plain_trainer_with_the_median_rule(tmp_path):
    rule = MedianRule(min_epochs=2, min_trials=2)
    stopped = {}
    for run, lr in enumerate([0.3, 0.3, 1e-6]):
        pl.seed_everything(run, verbose=False)
        callback = PruningCallback(rule, monitor="val_acc", trial_key=run)
        trainer = pl.Trainer(max_epochs=5, accelerator="cpu", logger=False,
                             enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, callbacks=[callback],
                             default_root_dir=tmp_path)
        trainer.fit(TinyNet(width=16, lr=lr), datamodule=BlobData())
        stopped[run] = (callback.decision, trainer.current_epoch)
    assert stopped[0] == (None, 5) and stopped[1] == (None, 5)
    assert stopped[2] == (Decision.STOP, 2)  # worse than the median at epoch 2: stopped


@pytest.mark.parametrize(("rule", "says"), [
    ("median", "got 'median', a search's search.scheduler name; build the rule it names: "
               "MedianRule("),
    (ASHARule, "got the class ASHARule; build one: ASHARule(...)"),
    (None, "got None; build one"),
])
def test_pruning_callback_refuses_what_is_no_rule_object_before_training(rule, says):
    # was: accepted; the first epoch trained, then its end raised Python's AttributeError
    # ('str' object has no attribute 'decide'), or a TypeError for a class
    with pytest.raises(ConfigError, match=r"PruningCallback's rule must be a rule object "
                                          r"\(ASHARule, HyperbandRule or MedianRule") as err:
        PruningCallback(rule, monitor="val_acc", trial_key=0)
    assert says in str(err.value)
    with pytest.raises(ConfigError, match=r"monitor must name a logged metric.*got None"):
        PruningCallback(MedianRule(), monitor=None)  # was: AttributeError in fit's setup
    with pytest.raises(ConfigError, match=r"trial_key names the run in the rule.*got \[1\]"):
        PruningCallback(MedianRule(), trial_key=[1])  # was: TypeError after the 1st epoch


def test_pruning_callback_alone_fails_on_a_monitor_that_is_never_logged(tmp_path):
    callback = PruningCallback(MedianRule(min_epochs=1, min_trials=1), monitor="val_accuracy")
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[callback], default_root_dir=tmp_path)
    with pytest.raises(MonitorError, match="'val_accuracy' was not logged by the validation "
                                           "of epoch 0; did you mean "
                                           "'val_acc'.*logged keys: \\[.*'val_acc'"):
        trainer.fit(TinyNet(width=8), datamodule=BlobData())
    assert trainer.current_epoch == 0  # stopped at the first validation, not after 3 epochs


def test_pruning_callback_alone_refuses_a_trainer_that_validates_every_2_epochs(tmp_path):
    callback = PruningCallback(ASHARule(min_epochs=1, max_epochs=4), monitor="val_acc")
    trainer = pl.Trainer(max_epochs=4, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         check_val_every_n_epoch=2, callbacks=[callback],
                         default_root_dir=tmp_path)
    with pytest.raises(ConfigError, match=re.escape(
            "'ASHARule' judges each trial at its rungs, after epochs 1, 3, 4, but "
            "trainer.check_val_every_n_epoch=2 validates after epochs 2, 4, ... only: rungs "
            "1, 3 are not validated; give check_val_every_n_epoch 1 (a divisor of every "
            "rung), or leave the PruningCallback out")):
        trainer.fit(TinyNet(width=8), datamodule=BlobData())
    assert trainer.global_step == 0  # refused before training


def test_pruning_callback_alone_refuses_a_trainer_with_min_epochs(tmp_path):
    # was: Lightning ignored the callback's stop until epoch 3: a "stopped" run trained on
    callback = PruningCallback(MedianRule(min_epochs=1, min_trials=1), monitor="val_acc")
    trainer = pl.Trainer(max_epochs=4, min_epochs=3, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[callback],
                         default_root_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"trainer.min_epochs=3 makes Lightning ignore a stop"):
        trainer.fit(TinyNet(width=8), datamodule=BlobData())
    assert trainer.global_step == 0


@pytest.mark.parametrize("setting", [{"val_check_interval": 0.5}, {"min_epochs": 3},
                                     {"callbacks": [EarlyStopping(monitor="val_acc")]}])
def test_pruning_callback_alone_says_to_leave_it_out_not_to_search_without_a_scheduler(
        tmp_path, setting):
    # was: "... or search without a scheduler (search.scheduler: none)" in a plain fit
    callbacks = [PruningCallback(MedianRule(min_epochs=1, min_trials=1), monitor="val_acc"),
                 *setting.get("callbacks", [])]
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, callbacks=callbacks,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path,
                         **{k: v for k, v in setting.items() if k != "callbacks"})
    with pytest.raises(ConfigError, match=r"scheduler 'MedianRule' .* or leave the "
                                          r"PruningCallback out$") as refused:
        trainer.fit(TinyNet(width=8), datamodule=BlobData())
    assert "search" not in str(refused.value)
    assert trainer.global_step == 0



class _RungEpochsNet(TinyNet):
    """Logs no ``val_acc`` in the validation of epoch ``SKIP`` (counted from 0); the others
    do, as a metric too costly for every epoch."""

    SKIP = 1  # after 2 epochs: between ASHA's rungs 1 and 3 (min_epochs=1, eta=3)

    def validation_step(self, batch, batch_idx):
        if self.current_epoch != self.SKIP:
            return super().validation_step(batch, batch_idx)
        return None


class _RungUnloggedNet(_RungEpochsNet):
    SKIP = 2  # after 3 epochs: ASHA's rung 3


def test_asha_takes_a_monitor_missing_at_epochs_it_does_not_judge(tmp_path):
    # was: "the rule judges each run by 'val_acc' after every epoch, but the validation of
    # epoch 1 did not log it": a SearchError at trial 1, though ASHA judges at rungs 1, 3
    result = Search(_RungEpochsNet, {"width": {"choice": [8, 16]}}, data=BlobData,
                    trainer={"max_epochs": 3}, scheduler="asha", eta=3, budget=2,
                    optimizer="RandomSearch", seed=0, run_dir=tmp_path, verbose=False).run()
    assert result.best is not None and result.best.epochs == 3, result.trials
    for trial in result.trials:  # no value stored for epoch 2 (as without a scheduler)
        if trial.epochs == 3:
            assert trial.curve_epochs == [1, 2, 3] and math.isnan(trial.curve[1]), trial.curve
    callback = PruningCallback(ASHARule(min_epochs=1, max_epochs=3, eta=3), monitor="val_acc")
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[callback], default_root_dir=tmp_path / "alone")
    with pytest.raises(MonitorError, match=r"judges each run by 'val_acc' at its rungs, after "
                                           r"epochs 1, 3, but the validation of epoch 2 did "
                                           r"not log it"):  # a rung's: refused, as before
        trainer.fit(_RungUnloggedNet(width=8), datamodule=BlobData())


def _plain_trainer(tmp_path, callback, **settings) -> pl.Trainer:
    return pl.Trainer(**{"max_epochs": 2, "accelerator": "cpu", "logger": False,
                         "enable_checkpointing": False, "enable_progress_bar": False,
                         "enable_model_summary": False, "callbacks": [callback],
                         "default_root_dir": tmp_path, **settings})


def test_runs_under_one_trial_key_are_refused_before_the_second_trains(tmp_path):
    # was: every run took the default trial_key 0, each run's values replaced the last's,
    # so the rule never compared two runs and stopped none (a clearly worse run trained on)
    rule = MedianRule(min_epochs=1, min_trials=1)
    first = PruningCallback(rule, monitor="val_acc")
    _plain_trainer(tmp_path, first).fit(TinyNet(width=8, lr=0.3), datamodule=BlobData())
    again = _plain_trainer(tmp_path, PruningCallback(rule, monitor="val_acc"))
    with pytest.raises(ConfigError, match=re.escape(
            "PruningCallback's rule holds values of trial_key=0 already, an earlier run's: a "
            "run's values would replace them, so the rule would compare no two runs; give each "
            "run a trial_key of its own (PruningCallback(rule, monitor, trial_key=run)), or "
            "call rule.forget(0) first to run it again")):
        again.fit(TinyNet(width=8, lr=1e-6), datamodule=BlobData())
    assert again.global_step == 0  # refused before training
    rule.forget(0)  # the way out it names: taken
    _plain_trainer(tmp_path, PruningCallback(rule, monitor="val_acc")).fit(
        TinyNet(width=8, lr=0.3), datamodule=BlobData())


def test_a_run_resumed_from_its_checkpoint_goes_on_under_its_own_key(tmp_path):
    rule = MedianRule(min_epochs=1, min_trials=1)
    saver = pl.callbacks.ModelCheckpoint(dirpath=tmp_path, save_last=True)
    first = _plain_trainer(tmp_path, PruningCallback(rule, monitor="val_acc", trial_key="a"),
                           enable_checkpointing=True)
    first.callbacks.append(saver)
    first.fit(TinyNet(width=8), datamodule=BlobData())
    resumed = _plain_trainer(tmp_path, PruningCallback(rule, monitor="val_acc", trial_key="a"),
                             max_epochs=3)
    model = TinyNet(width=8)
    resumed.fit(model, datamodule=BlobData(), ckpt_path=saver.last_model_path)
    assert resumed.current_epoch == 3 and sorted(rule.values) == [1, 2, 3]
    resumed.fit_loop.max_epochs = 4  # a second fit of the same Trainer goes on too
    resumed.fit(model, datamodule=BlobData())
    assert resumed.current_epoch == 4 and sorted(rule.values) == [1, 2, 3, 4]


def test_a_strategy_that_starts_its_ranks_inside_fit_is_refused_before_training(tmp_path):
    # was: rank 0 judged each run by a copy of the rule in its own process, which kept its
    # values: the rule compared no two runs, stopped none, and `decision` stayed None here
    rule = MedianRule(min_epochs=1, min_trials=1)
    trainer = _plain_trainer(tmp_path, PruningCallback(rule, monitor="val_acc", trial_key=1),
                             strategy="ddp_fork", devices=1)
    with pytest.raises(Exception, match=re.escape(  # raised in the rank: the launcher's error
            "PruningCallback's rule is an object of this process, but the Trainer's strategy "
            "(DDPStrategy as ddp_spawn, ddp_fork or ddp_notebook make it) runs the fit in "
            "processes it starts: rank 0 would judge the run by a copy of the rule, whose "
            "values never come back, so the rule would compare no two runs")):
        trainer.fit(TinyNet(width=8), datamodule=BlobData())
    assert rule.values == {}


@pytest.mark.parametrize("setting", [{"limit_val_batches": 0}, {"validation": False}],
                         ids=["limit_val_batches_0", "no_val_dataloader"])
def test_a_plain_fit_that_does_not_validate_an_epoch_the_rule_judges_stops_there(tmp_path,
                                                                                  setting):
    # was: no validation, no verdict: the rule judged nothing, the run trained to its end
    # (Lightning's EarlyStopping raises at the first epoch's end in this case)
    rule = MedianRule(min_epochs=2, min_trials=1)
    trainer = _plain_trainer(tmp_path, PruningCallback(rule, monitor="val_acc", trial_key=1),
                             max_epochs=4, limit_val_batches=setting.get("limit_val_batches"))
    data = BlobData()
    if setting.get("validation") is False:
        data.setup()
        loaders = {"train_dataloaders": data.train_dataloader()}
    else:
        loaders = {"datamodule": data}
    with pytest.raises(MonitorError, match=re.escape(
            "the rule judges each run by 'val_acc' after every epoch, but epoch 1 ended "
            "without a validation (no val_dataloader, no validation_step, or "
            "limit_val_batches=0), so the rule would judge the run by nothing; give the fit "
            "validation data, or leave the PruningCallback out")):
        trainer.fit(TinyNet(width=8), **loaders)
    assert trainer.current_epoch == 1  # the epoch before the first it judges trains alone


def test_a_validate_call_outside_fit_is_no_epoch_the_rule_judges(tmp_path):
    # was: trainer.validate() before fit recorded the untrained model's value at epoch 1,
    # and after fit a value at epoch 3, which the 2-epoch run never trained (a later run
    # was compared with it there), and could set `decision` on a run that had completed
    rule = MedianRule(min_epochs=1, min_trials=1)
    rule.record("strong", [1.0, 1.0, 1.0])  # an earlier run, better at every epoch
    callback = PruningCallback(rule, monitor="val_acc", trial_key="a")
    trainer = _plain_trainer(tmp_path, callback)
    model, data = TinyNet(width=8, lr=1e-6), BlobData()
    trainer.validate(model, datamodule=data, verbose=False)
    assert rule.values == {epoch: {"strong": 1.0} for epoch in (1, 2, 3)}
    assert callback.decision is None
    trainer.fit(model, datamodule=data)  # judged by its epochs alone
    assert (callback.decision, callback.stopped_epoch) == (Decision.STOP, 1)
    trainer.validate(model, datamodule=data, verbose=False)
    assert sorted(rule.values[1]) == ["a", "strong"] and "a" not in rule.values[2]


@pytest.mark.parametrize("again", ["same_trainer", "new_trainer_from_checkpoint"])
def test_a_paused_run_promoted_with_the_same_callback_is_judged_at_its_next_rung(tmp_path,
                                                                               again):
    # was: the callback kept the first fit's PAUSE, so the promoted fit was judged at no
    # rung: it trained to max_epochs, its values never reached the rule, and `decision`
    # and `stopped_epoch` still said paused at epoch 1
    rule = ASHARule(min_epochs=1, max_epochs=4, eta=2)
    rule.record("a", [0.99, 0.99, 0.99, 0.99])  # two stronger runs at every rung
    rule.record("b", [0.98, 0.98, 0.98, 0.98])
    callback = PruningCallback(rule, monitor="val_acc", trial_key="run")
    saver = pl.callbacks.ModelCheckpoint(dirpath=tmp_path, save_last=True)
    trainer = _plain_trainer(tmp_path, callback, max_epochs=4, enable_checkpointing=True)
    trainer.callbacks.append(saver)
    model, data = TinyNet(width=8, lr=1e-6), BlobData()
    trainer.fit(model, datamodule=data)
    assert (callback.decision, callback.stopped_epoch, trainer.current_epoch) == \
        (Decision.PAUSE, 1, 1)
    for key in "cdef":  # weaker runs come: the paused run enters the top half of rung 1
        rule.record(key, [0.0])
    assert rule.promotion({"run": 1}) == "run"
    if again == "same_trainer":
        trainer.fit(model, datamodule=data)
    else:
        trainer = _plain_trainer(tmp_path, callback, max_epochs=4)
        trainer.fit(TinyNet(width=8, lr=1e-6), datamodule=data,
                    ckpt_path=saver.last_model_path)
    # judged at rung 2 by the rule: weaker than both stronger runs there, paused again
    assert "run" in rule.values[2]
    assert (callback.decision, callback.stopped_epoch, trainer.current_epoch) == \
        (Decision.PAUSE, 2, 2)


class Forgets(MedianRule):
    """A rule of one's own whose ``decide`` forgets to return its decision."""

    def decide(self, key, epoch, value):
        super().decide(key, epoch, value)


class Says(MedianRule):
    """A rule of one's own whose ``decide`` returns the decision's name."""

    def decide(self, key, epoch, value):
        return "STOP" if epoch == 2 else "CONTINUE"


def test_a_rule_whose_decide_returns_no_decision_is_named_at_its_first_verdict(tmp_path):
    # was: AttributeError: 'NoneType' object has no attribute 'value', naming no rule
    trainer = _plain_trainer(tmp_path, PruningCallback(Forgets(), "val_acc", trial_key=1))
    with pytest.raises(ConfigError, match=re.escape(
            "rule Forgets's decide(1, 1, value) returned None, not a Decision: return "
            "Decision.CONTINUE, Decision.PAUSE or Decision.STOP (lightning_nas.search."
            "schedulers.Decision)")):
        trainer.fit(TinyNet(width=8), datamodule=BlobData())
    assert trainer.current_epoch == 0  # at the end of the first epoch it judged
    # the name of a decision is one (Decision is a str enum): taken
    callback = PruningCallback(Says(), "val_acc", trial_key=1)
    trainer = _plain_trainer(tmp_path, callback, max_epochs=4)
    trainer.fit(TinyNet(width=8), datamodule=BlobData())
    assert (callback.decision, callback.stopped_epoch, trainer.current_epoch) == \
        (Decision.STOP, 2, 2)
