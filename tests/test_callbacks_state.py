"""Lightning callback conventions of ``TrialReporter``, ``PruningCallback`` and ``OneShotNAS``:
``state_key``, a plain ``state_dict`` that round-trips, old checkpoints, pickling, and a bad
``mode``."""

from __future__ import annotations

import json
import pickle

import cloudpickle
import lightning.pytorch as pl
import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.search.callbacks import TrialReporter
from lightning_nas.search.pruning import PruningCallback
from lightning_nas.search.schedulers import Decision, MedianRule
from tests.helpers_search_callbacks import is_plain, median_rule


def _callbacks() -> list[pl.Callback]:
    return [TrialReporter(monitor="val_acc", mode="max", arch={"width": 8}),
            PruningCallback(median_rule(), monitor="val_acc", trial_key="run-1"),
            OneShotNAS(num_candidates=5, seed=3)]


def test_state_keys_are_pinned():
    reporter, pruning, oneshot = _callbacks()
    assert reporter.state_key == "TrialReporter{'monitor': 'val_acc', 'mode': 'max'}"
    assert pruning.state_key == "PruningCallback{'monitor': 'val_acc', 'key': 'run-1'}"
    assert oneshot.state_key == "OneShotNAS{'optimizer': 'RandomSearch', 'seed': 3}"
    assert OneShotNAS().state_key == "OneShotNAS{'optimizer': 'RandomSearch', 'seed': 0}"
    assert PruningCallback(median_rule()).state_key == \
        "PruningCallback{'monitor': 'val_acc', 'key': '0'}"


def test_different_init_args_give_different_state_keys():
    pairs = [
        (TrialReporter("val_acc", "max"), TrialReporter("val_acc", "min")),
        (TrialReporter("val_acc", "max"), TrialReporter("val_loss", "max")),
        (PruningCallback(median_rule(), trial_key="a"),
         PruningCallback(median_rule(), trial_key="b")),
        (PruningCallback(median_rule(), monitor="val_acc"),
         PruningCallback(median_rule(), monitor="loss")),
        (OneShotNAS(seed=0), OneShotNAS(seed=1)),
        (OneShotNAS(optimizer="RandomSearch"), OneShotNAS(optimizer="OnePlusOne")),
    ]
    for a, b in pairs:
        assert a.state_key != b.state_key, (a.state_key, b.state_key)


def test_state_keys_differ_across_callback_types():
    keys = [cb.state_key for cb in _callbacks()]
    assert len(set(keys)) == 3


@pytest.mark.parametrize("index", [0, 1, 2], ids=["TrialReporter", "PruningCallback",
                                                  "OneShotNAS"])
def test_fresh_state_dict_is_plain_and_round_trips(index):
    callback = _callbacks()[index]
    state = callback.state_dict()
    assert isinstance(state, dict) and is_plain(state)
    other = _callbacks()[index]
    other.load_state_dict(json.loads(json.dumps(state)))
    assert other.state_dict() == state


def test_trial_reporter_state_round_trips():
    history = [{"epoch": 0, "metrics": {"val_acc": 0.5, "val_loss": 1.0}},
               {"epoch": 1, "metrics": {"val_acc": 0.75, "val_loss": 0.5}}]
    reporter = TrialReporter("val_acc", "max")
    reporter.load_state_dict({"history": history})
    state = reporter.state_dict()
    assert state["history"] == history and is_plain(state)
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
    callback = PruningCallback(median_rule(), trial_key="run-1")
    callback.stopped_epoch, callback.decision = 4, Decision.PAUSE
    state = callback.state_dict()
    assert state == {"stopped_epoch": 4, "decision": "PAUSE"} and is_plain(state)
    restored = PruningCallback(median_rule(), trial_key="run-1")
    restored.load_state_dict(state)
    assert restored.stopped_epoch == 4


def test_oneshot_state_round_trips_the_sampler_and_the_result():
    callback = OneShotNAS(num_candidates=5, seed=3)
    for _ in range(7):
        callback.rng.random()
    callback.history = [{"epoch": 1, "arch": {"hidden": 8, "act": "relu"}, "score": 0.5}]
    callback.best_arch, callback.best_score = {"hidden": 8, "act": "relu"}, 0.5
    state = callback.state_dict()
    assert is_plain(state)
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


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_callbacks_pickle(dumps):
    for callback in _callbacks():
        copy = pickle.loads(dumps(callback))
        assert type(copy) is type(callback)
        assert copy.state_key == callback.state_key
        assert copy.state_dict() == callback.state_dict()


def test_pickled_pruning_callback_keeps_its_rule():
    rule = median_rule()
    rule.decide("other", 1, 0.9)
    copy = pickle.loads(cloudpickle.dumps(PruningCallback(rule, trial_key="run-1")))
    assert isinstance(copy.rule, MedianRule)
    assert copy.rule.decide("run-1", 1, 0.1) is Decision.STOP


def test_bad_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="maximum"):
        TrialReporter("val_acc", mode="maximum")
    with pytest.raises(ConfigError, match="maximum"):
        OneShotNAS(mode="maximum")
    with pytest.raises(ConfigError, match="num_candidates"):
        OneShotNAS(num_candidates=0)
