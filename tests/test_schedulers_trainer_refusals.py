"""A scheduler refuses, before training, Trainer settings that would decide its stops for it:
limits that end trials early, an ``EarlyStopping`` (the user's or the module's), searched
Trainer values it cannot judge, minimums that cancel its stops, and no checkpoint to resume
a paused trial from."""

from __future__ import annotations

import re

import lightning.pytorch as pl
import pytest
from lightning.pytorch.callbacks import EarlyStopping, Timer

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.pruning import PruningCallback
from lightning_nas.search.schedulers import ASHARule, HyperbandRule, MedianRule
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


@pytest.mark.parametrize("trainer", [{"max_time": "00:00:00:04"}, {"max_steps": 5}])
@pytest.mark.parametrize(("scheduler", "does"), [("asha", "stops and promotes"),
                                                 ("median", "stops")])  # (was: "promotes")
def test_a_scheduler_refuses_trainer_limits_that_end_trials_early(tmp_path, trainer, scheduler,
                                                                  does):
    # a trial cut off by max_time counted as COMPLETED at whatever epoch it reached
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.01, 0.1]}}
    key = next(iter(trainer))
    with pytest.raises(ConfigError, match=f"scheduler '{scheduler}' {does} trials at "
                                          f"epochs up to max_epochs, but trainer.{key}"):
        Search(TinyNet, space, data=BlobData, trainer={"max_epochs": 9, **trainer}, budget=2,
               scheduler=scheduler, run_dir=tmp_path, verbose=False).run()
    assert not (tmp_path / "search.db").exists()


@pytest.mark.parametrize("callbacks, where", [
    ({"class_path": "lightning.pytorch.callbacks.EarlyStopping",
      "init_args": {"monitor": "val_acc", "mode": "max", "patience": 1}},
     "trainer.callbacks (EarlyStopping)"),
    ([{"class_path": "lightning.pytorch.callbacks.LearningRateMonitor"},
      EarlyStopping(monitor="val_acc", mode="max")], "trainer.callbacks[1] (EarlyStopping)"),
])
def test_a_scheduler_refuses_an_early_stopping_callback(tmp_path, callbacks, where):
    # was: a trial it stopped after 2 of 6 epochs was stored COMPLETED and could be the best
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.01, 0.1]}}
    with pytest.raises(ConfigError, match=re.escape(
            f"scheduler 'asha' stops and promotes trials at epochs up to max_epochs, but "
            f"{where} would end a trial at another epoch")):
        Search(TinyNet, space, data=BlobData, budget=2, scheduler="asha", run_dir=tmp_path,
               trainer={"max_epochs": 6, "callbacks": callbacks}, verbose=False).run()
    assert not (tmp_path / "search.db").exists()


class TimerNet(TinyNet):
    """Brings a ``Timer`` with a duration (``configure_callbacks``): it ends a fit."""

    def configure_callbacks(self):
        return [Timer(duration="00:00:00:02")]


@pytest.mark.parametrize("model, callbacks, where", [
    (TinyNet, {"class_path": "lightning.pytorch.callbacks.Timer",
               "init_args": {"duration": "00:00:00:02"}}, "trainer.callbacks (Timer)"),
    (TinyNet, [Timer(duration={"seconds": 2})], "trainer.callbacks[0] (Timer)"),
    (TimerNet, [], "the module's configure_callbacks() (Timer)"),
])
def test_a_scheduler_refuses_a_timer_callback_with_a_duration(tmp_path, model, callbacks, where):
    # Lightning's max_time is such a Timer; was: taken, and every trial the Timer stopped
    # was FAILED after training ("stopped after 3 of max_epochs 4 epochs by the model or a
    # callback"), the search stopped by its failures
    with pytest.raises(ConfigError, match=re.escape(
            f"scheduler 'median' stops trials at epochs up to max_epochs, but {where} would "
            f"end a trial at another epoch")):
        Search(model, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               scheduler="median", run_dir=tmp_path, verbose=False,
               trainer={"max_epochs": 4, "callbacks": callbacks})
    assert not (tmp_path / "search.db").exists()
    # one that only measures (no duration) ends nothing: taken
    Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
           scheduler="median", run_dir=tmp_path, verbose=False,
           trainer={"max_epochs": 4, "callbacks": [Timer()]})


class EarlyStoppingNet(TinyNet):
    """Brings its own ``EarlyStopping`` (``configure_callbacks``), as some projects do."""

    def configure_callbacks(self):
        return [EarlyStopping(monitor="val_acc", mode="max", patience=1)]


class LateEarlyStoppingNet(TinyNet):
    """Its ``configure_callbacks`` reads its Trainer: it says nothing before ``fit``."""

    def configure_callbacks(self):
        return EarlyStopping(monitor="val_acc", mode="max", patience=self.trainer.max_epochs)


MODULE_STOPS = ("scheduler {!r} stops and promotes trials at epochs up to max_epochs, but the "
                "module's configure_callbacks() (EarlyStopping) would end a trial")


def test_a_scheduler_refuses_an_early_stopping_of_the_modules_configure_callbacks(tmp_path):
    # was: every trial failed in setup ("scheduler 'ASHARule' ... trainer.callbacks[3]"),
    # then "trials 1 and 2 failed the same way in training", two FAILED trials left
    with pytest.raises(ConfigError, match=re.escape(MODULE_STOPS.format("asha"))):
        Search(EarlyStoppingNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               scheduler="asha", trainer={"max_epochs": 3}, run_dir=tmp_path / "run",
               verbose=False)
    assert not (tmp_path / "run").exists()


def test_an_early_stopping_the_module_makes_in_fit_is_named_as_the_modules(tmp_path):
    # a module whose configure_callbacks needs its Trainer: a plain fit's check names it
    # (and the rule: a rule object by its class, one a search made by its search.scheduler
    # name); a search asks it attached to a trial's Trainer, and refuses it before training
    # (was: accepted, then "trials 1 and 2 failed the same way while building ... or in
    # Lightning's checks before training")
    callback = PruningCallback(ASHARule(min_epochs=1, max_epochs=3), monitor="val_acc")
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, callbacks=[callback],
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path)
    with pytest.raises(ConfigError, match=re.escape(MODULE_STOPS.format("ASHARule"))):
        trainer.fit(LateEarlyStoppingNet(width=8), datamodule=BlobData())
    assert trainer.global_step == 0
    with pytest.raises(ConfigError, match=re.escape(MODULE_STOPS.format("asha"))
                       + r".* or search without a scheduler"):
        Search(LateEarlyStoppingNet, {"width": {"choice": [4, 8]}}, data=BlobData,
               budget=2, scheduler="asha", trainer={"max_epochs": 3},
               optimizer="RandomSearch", run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("searched, needle", [
    ({"trainer.max_steps": {"choice": [-1, 3]}}, r"space key 'trainer.max_steps' may take 3: "
                                                 r"scheduler 'asha' stops and promotes trials"),
    ({"trainer.check_val_every_n_epoch": {"choice": [1, 2]}},
     r"space key 'trainer.check_val_every_n_epoch' may take 2: scheduler 'asha' judges"),
    ({"trainer.max_epochs": {"choice": [2, 6]}}, r"space key 'trainer.max_epochs' is searched, "
                                                 r"but scheduler 'asha' sets every trial's "
                                                 r"epochs"),
])
def test_a_scheduler_refuses_searched_trainer_values_it_cannot_judge(tmp_path, searched, needle):
    # was: accepted; a trial cut at 2 of 4 epochs by max_steps was COMPLETED, a searched
    # max_epochs was overridden (two "different" trials trained the same), and a trial that
    # validated every 2 epochs failed at fit, counted against max_failures
    with pytest.raises(ConfigError, match=needle):
        Search(TinyNet, {"width": {"choice": [4, 8]}, **searched}, data=BlobData,
               trainer={"max_epochs": 4}, budget=2, scheduler="asha", run_dir=tmp_path)
    assert not (tmp_path / "search.db").exists()


@pytest.mark.parametrize(("trainer", "searched", "scheduler", "needle"), [
    ({"min_epochs": 5}, {}, "asha", "^scheduler 'asha' .*trainer.min_epochs=5"),
    ({"min_steps": 40}, {}, "median", "^scheduler 'median' .*trainer.min_steps=40"),
    ({}, {"trainer.min_epochs": {"choice": [1, 3]}}, "hyperband",
     "^space key 'trainer.min_epochs' may take 3: scheduler 'hyperband' .*trainer.min_epochs=3"),
])
def test_a_scheduler_refuses_trainer_minimums_that_cancel_its_stops(tmp_path, trainer,
                                                                    searched, scheduler, needle):
    # was: accepted; Lightning ignored should_stop until min_epochs, so ASHA's pauses were
    # cancelled, its paused trials landed on no rung and were never promoted
    with pytest.raises(ConfigError, match=rf"{needle} makes Lightning ignore a stop.*"
                                          rf"search\.min_epochs"):
        Search(TinyNet, {"width": {"choice": [4, 8]}, **searched}, data=BlobData,
               trainer={"max_epochs": 9, **trainer}, budget=2, scheduler=scheduler,
               run_dir=tmp_path, verbose=False)
    assert not (tmp_path / "search.db").exists()
    Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2, scheduler=scheduler,
           trainer={"max_epochs": 9, "min_epochs": 1}, run_dir=tmp_path, verbose=False)


@pytest.mark.parametrize("scheduler", ["asha", "hyperband",
                                       HyperbandRule(min_epochs=1, max_epochs=4, eta=2)])
def test_a_pausing_scheduler_refuses_a_trainer_that_writes_no_checkpoint(tmp_path, scheduler):
    # was: accepted; every promotion failed after training with FileNotFoundError for
    # last.ckpt, and the paused trial's stored result was wiped
    name = scheduler if isinstance(scheduler, str) else "HyperbandRule"
    assert ASHARule().pauses and not MedianRule().pauses
    with pytest.raises(ConfigError, match=rf"scheduler '{name}' pauses trials and continues "
                                          rf"a promoted one from its last\.ckpt, but "
                                          rf"trainer\.enable_checkpointing=False"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               trainer={"max_epochs": 4, "enable_checkpointing": False}, scheduler=scheduler,
               run_dir=tmp_path, verbose=False)
    assert not (tmp_path / "search.db").exists()


def test_a_resume_that_turns_checkpoints_off_under_asha_is_refused(tmp_path):
    # enable_checkpointing may change on resume (an output setting), but not when paused
    # trials need their last.ckpt to be promoted
    kw = {"data": BlobData, "scheduler": "asha", "eta": 2, "run_dir": tmp_path / "run",
          "verbose": False}
    space = {"width": {"choice": [4, 8]}}
    Search(TinyNet, space, budget=1, trainer={"max_epochs": 2}, **kw).run()
    with pytest.raises(ConfigError, match=r"trainer\.enable_checkpointing=False"):
        Search(TinyNet, space, budget=2, **kw,
               trainer={"max_epochs": 2, "enable_checkpointing": False})
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert [t.trial_id for t in store.trials()] == [1]
    # median only stops trials: it needs no checkpoint
    done = Search(TinyNet, space, budget=2, scheduler="median", run_dir=tmp_path / "median",
                  data=BlobData, trainer={"max_epochs": 2, "enable_checkpointing": False},
                  verbose=False).run()
    assert [t.status for t in done.trials] == [TrialStatus.COMPLETED] * 2
