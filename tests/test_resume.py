"""A resumed search keeps the setup its trials ran with (``search/resume.py``): real
searches on real SQLite stores, refused before anything is written."""

from __future__ import annotations

import math
import re
import sqlite3
from contextlib import nullcontext

import lightning.pytorch as pl
import nevergrad as ng
import pytest
import yaml
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger

from lightning_nas import Search
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.search.resume import differences
from lightning_nas.search.schedulers import ASHARule
from lightning_nas.search.trainer_spelling import as_taken
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

SPACE = {"a": {"int": [0, 50]}, "b": {"float": [0.0, 1.0]}, "c": {"choice": [1, 2, 3]}}


def _score(arch: dict) -> dict:
    return {"score": arch["a"] / 50 + arch["b"] + arch["c"] / 3}


def _objective_search(run_dir, space=SPACE, **kw) -> Search:
    kw = {"budget": 3, "seed": 0, "objective": _score, "verbose": False, **kw}
    return Search(None, space, monitor="score", mode="max", run_dir=run_dir, **kw)


def _meta(run_dir) -> dict:
    store = RunStore(run_dir / "search.db")
    try:
        return {k: store.get_meta(k) for k in ("seed", "settings", "trainer")}
    finally:
        store.close()


def test_a_resume_that_changes_how_trials_run_is_refused_and_writes_nothing(tmp_path):
    def search(trainer: dict | None = None, **kw) -> Search:
        # max_epochs: a setting an objective= search ignores, yet stores and compares on resume
        with pytest.warns(UserWarning, match=r"trainer setting max_epochs is ignored"):
            return _objective_search(tmp_path, trainer=trainer or {"max_epochs": 1}, **kw)

    search().run()
    before = _meta(tmp_path)
    with pytest.raises(ConfigError) as info:
        search(budget=5, seed=5, optimizer="RandomSearch",
               trainer={"max_epochs": 2, "logger": False}).run()
    msg = str(info.value)
    for needle in ("search.seed: 0, now 5", "search.optimizer: 'SurrogateEvolution', now "
                   "'RandomSearch'", "trainer.max_epochs: 1, now 2", "choose another run_dir"):
        assert needle in msg
    assert "logger" not in msg  # it changes what a trial shows, not what it trains
    assert _meta(tmp_path) == before
    assert len(search().run().trials) == 3  # nothing ran
    # budget, failures tolerated and output settings may change
    resumed = search(budget=5, max_failures=0, trainer={"max_epochs": 1, "logger": False}).run()
    assert len(resumed.trials) == 5


def test_a_resume_refused_for_its_settings_leaves_an_older_versions_store_as_it_was(tmp_path):
    # the README: a refused resume writes nothing (was: the store of an older version was
    # migrated, its column added, before the changed seed was refused)
    _objective_search(tmp_path).run()
    db = tmp_path / "search.db"
    with sqlite3.connect(db) as old:  # as a version before the `epochs` column left it
        old.execute("ALTER TABLE trials DROP COLUMN epochs")
    old.close()
    before, mtime, files = db.read_bytes(), db.stat().st_mtime_ns, sorted(tmp_path.iterdir())
    with pytest.raises(ConfigError, match=r"other settings: search\.seed: 0, now 5"):
        _objective_search(tmp_path, seed=5).run()
    assert (db.read_bytes(), db.stat().st_mtime_ns) == (before, mtime)
    assert sorted(tmp_path.iterdir()) == files
    assert len(_objective_search(tmp_path, budget=4).run().trials) == 4  # resumes, migrated


def test_a_resume_with_other_model_arguments_is_refused(tmp_path, tiny_space, tiny_trainer):
    def search(**init_args):
        return Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1,
                      run_dir=tmp_path, verbose=False, model_init_args=init_args)

    search(lr=0.05).run()
    with pytest.raises(ConfigError, match=r"model.init_args.lr: 0.05, now 0.1"):
        search(lr=0.1).run()


def test_an_added_or_removed_model_argument_is_the_one_difference_named(tmp_path, tiny_space,
                                                                        tiny_trainer):
    # was: "model.init_args: {}, now 'unset'; model.init_args.lr: 'unset', now 0.1", a
    # change of init_args itself that did not happen
    def search(run_dir, **init_args):
        return Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1,
                      run_dir=tmp_path / run_dir, verbose=False, model_init_args=init_args)

    search("none").run()
    with pytest.raises(ConfigError, match=r"ran with other settings: model.init_args.lr: "
                                          r"'unset', now 0.1\. Resume with"):
        search("none", lr=0.1).run()
    search("some", lr=0.1).run()
    with pytest.raises(ConfigError, match=r"ran with other settings: model.init_args.lr: 0.1, "
                                          r"now 'unset'\. Resume with"):
        search("some").run()
    # an argument given as {} is not one left out (its default would apply), nor one given
    # keys; an empty init_args is no arguments, as none
    def node(**init_args):
        return {"model": {"class_path": "m.M", "init_args": init_args}}

    assert differences(node(opts={}), node()) == ["model.init_args.opts: {}, now 'unset'"]
    assert differences(node(opts={}), node(opts={"a": 1})) == [
        "model.init_args.opts.a: 'unset', now 1"]
    assert differences(node(opts=5), node(opts={"a": 1})) == [
        "model.init_args.opts: 5, now 'unset'", "model.init_args.opts.a: 'unset', now 1"]
    assert differences(node(), {"model": {"class_path": "m.M"}}) == []


def test_a_resume_with_a_rule_object_of_other_settings_is_refused(tmp_path, tiny_space,
                                                                    tiny_trainer):
    # was: only the rule's class name was stored, so another eta (other rungs, other
    # pauses) resumed the search without a word
    def search(rule):
        return Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1,
                      scheduler=rule, run_dir=tmp_path, verbose=False)

    search(ASHARule(min_epochs=1, max_epochs=2, eta=2)).run()
    before = _meta(tmp_path)
    assert before["settings"]["scheduler"] == "ASHARule(min_epochs=1, max_epochs=2, eta=2, " \
                                              "mode='max')"
    with pytest.raises(ConfigError, match=r"search\.scheduler: .*eta=2.*, now .*eta=3"):
        search(ASHARule(min_epochs=1, max_epochs=2, eta=3)).run()
    assert _meta(tmp_path) == before
    assert len(search(ASHARule(min_epochs=1, max_epochs=2, eta=2)).run().trials) == 1
    # a store of an older version kept the class name alone: it resumes as before
    old = {"settings": {"scheduler": "ASHARule"}}
    assert differences(old, {"settings": {"scheduler": before["settings"]["scheduler"]}}) == []
    assert differences(old, {"settings": {"scheduler": "MedianRule(min_epochs=1, "
                                                       "min_trials=2, mode='max')"}})


class Cap:
    """A constraint object with an argument."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, arch: dict) -> bool:
        return arch["a"] <= self.limit


def _store_settings(run_dir, **changed) -> None:
    """Rewrite the stored settings as an older version (or another invocation) kept them."""
    store = RunStore(run_dir / "search.db")
    try:
        store.set_meta("settings", {**store.get_meta("settings"), **changed})
    finally:
        store.close()


def test_scheduler_settings_left_out_resume_a_store_that_kept_their_defaults(
        tmp_path, tiny_space, tiny_trainer):
    # min_epochs and eta left out are None now (was: 1 and 3, stored so, and refused on a
    # resume had they changed): an older store's 1 and 3 are those defaults; a value its
    # scheduler did not use (eta beside scheduler none: ignored then, refused now) is not
    # compared; a value it used still is
    def search(run_dir, **kw):
        return Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer,
                      run_dir=run_dir, verbose=False, **{"budget": 1, **kw})

    search(tmp_path / "asha", scheduler="asha").run()
    assert _meta(tmp_path / "asha")["settings"]["eta"] is None
    _store_settings(tmp_path / "asha", min_epochs=1, eta=3)
    assert len(search(tmp_path / "asha", scheduler="asha", budget=2).run().trials) == 2
    _store_settings(tmp_path / "asha", eta=2)
    with pytest.raises(ConfigError, match=r"search\.eta: 2, now 3"):
        search(tmp_path / "asha", scheduler="asha").run()
    _objective_search(tmp_path / "none").run()
    _store_settings(tmp_path / "none", min_epochs=4, eta=2)
    assert len(_objective_search(tmp_path / "none", budget=4).run().trials) == 4


def test_a_schedulers_max_epochs_left_out_resumes_with_the_trainers_same_epochs(
        tmp_path, tiny_space, tiny_trainer):
    # search.max_epochs left out is trainer.max_epochs (2), the epochs a trial trains:
    # given as 2 on a resume it is no change (was: "search.max_epochs: None, now 2"); 3 is
    def search(**kw):
        return Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer,
                      run_dir=tmp_path, verbose=False, scheduler="asha", **kw)

    search(budget=1).run()
    assert _meta(tmp_path)["settings"]["max_epochs"] is None
    assert len(search(budget=2, max_epochs=tiny_trainer["max_epochs"]).run().trials) == 2
    with pytest.raises(ConfigError, match=r"search\.max_epochs: 2, now 3"):
        search(budget=3, max_epochs=3).run()


def test_a_resume_with_a_constraint_object_of_other_arguments_is_refused(tmp_path):
    # was: stored as '<tests.test_resume.Cap object>' (its address left out): Cap(10)
    # resumed a Cap(40) search, trials of both in one leaderboard
    _objective_search(tmp_path, budget=2, constraints=[Cap(40)]).run()
    before = _meta(tmp_path)
    assert before["settings"]["constraints"] == [f"{__name__}.Cap(limit=40)"]
    with pytest.raises(ConfigError, match=rf"search\.constraints: \['{__name__}\.Cap\(limit=40"
                                          rf"\)'\], now \['{__name__}\.Cap\(limit=10\)'\]"):
        _objective_search(tmp_path, budget=3, constraints=[Cap(10)]).run()
    assert _meta(tmp_path) == before
    assert len(_objective_search(tmp_path, budget=3, constraints=[Cap(40)]).run().trials) >= 3
    # a store of an older version kept the default repr alone: it resumes with that class
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("settings", {**store.get_meta("settings"),
                                    "constraints": [f"<{__name__}.Cap object>"]})
    assert len(_objective_search(tmp_path, budget=4, constraints=[Cap(40)]).run().trials) >= 4
    assert differences({"settings": {"constraints": [f"<{__name__}.Cap object>"]}},
                       {"settings": {"constraints": ["other.Cap(limit=40)"]}})
    # the oldest kept its address too (was: refused for ever, the address another each run)
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("settings", {**store.get_meta("settings"), "constraints": [
            f"<{__name__}.Cap object at 0x7f16679bc910>"]})
    assert len(_objective_search(tmp_path, budget=5, constraints=[Cap(40)]).run().trials) >= 5


class OtherBlobs(BlobData):
    """Another DataModule class (another task, to the search)."""


def test_a_resume_with_a_data_object_of_another_class_is_refused(tmp_path, tiny_space,
                                                                 tiny_trainer):
    # was: a DataModule object is stored without import path, as {class_path: None}: any
    # other object resumed the search silently, one leaderboard over two tasks
    def search(data):
        return Search(TinyNet, tiny_space, data=data, trainer=tiny_trainer, budget=1,
                      run_dir=tmp_path, verbose=False)

    search(BlobData(n=64)).run()
    with pytest.raises(ConfigError, match=r"data.instance: 'tests.helpers.BlobData', now "
                                          r"'tests.test_resume.OtherBlobs'"):
        search(OtherBlobs(n=64)).run()
    with pytest.raises(ConfigError, match=r"data.class_path: None, now 'tests.helpers"):
        search(BlobData).run()
    assert len(search(BlobData(n=128)).run().trials) == 1  # its arguments cannot be known
    with RunStore(tmp_path / "search.db") as store:  # as a store of an older version
        store.set_meta("data", {"class_path": None, "init_args": {}})
    assert len(search(BlobData(n=64)).run().trials) == 1  # by the class name it kept
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("data", {"class_path": None, "init_args": {}})
    with pytest.raises(ConfigError, match=r"data.instance: 'a BlobData object', now "
                                          r"'tests.test_resume.OtherBlobs'"):
        search(OtherBlobs(n=64)).run()


def test_a_resume_with_trainer_objects_of_other_classes_is_refused(tmp_path, tiny_space,
                                                                    tiny_trainer):
    # was: objects are not plain data, so they were left out of the comparison: a resume
    # without the EarlyStopping mixed trials of both in one leaderboard, and rewrote meta
    # trainer_objects (finetune no longer asked for the callbacks the best trial had)
    def search(*callbacks, **trainer):
        given = {"callbacks": list(callbacks)} if callbacks else {}
        return Search(TinyNet, tiny_space, data=BlobData, budget=1, run_dir=tmp_path,
                      trainer={**tiny_trainer, **given, **trainer}, verbose=False)

    stop = EarlyStopping(monitor="val_acc", mode="max", patience=1)
    search(stop).run()
    before = _meta(tmp_path)
    with RunStore(tmp_path / "search.db") as store:
        objects = store.get_meta("trainer_objects")
    assert objects == ["callbacks"]
    early = "['lightning.pytorch.callbacks.early_stopping.EarlyStopping']"
    with pytest.raises(ConfigError, match=re.escape(f"trainer.callbacks: {early}, now 'unset'")):
        search().run()
    with pytest.raises(ConfigError, match=re.escape(f"trainer.callbacks: {early}, now ['lightning"
                                                    f".pytorch.callbacks.lr_monitor.")):
        search(LearningRateMonitor()).run()
    assert _meta(tmp_path) == before
    with RunStore(tmp_path / "search.db") as store:
        assert store.get_meta("trainer_objects") == objects
        assert store.count(TrialStatus.COMPLETED) == 1
    # objects of the same classes (their arguments cannot be read back), and another logger
    # (what a trial shows), resume
    resumed = search(EarlyStopping(monitor="val_acc", mode="max", patience=3),
                     logger=CSVLogger(tmp_path / "logs")).run()
    assert len(resumed.trials) == 1
    with RunStore(tmp_path / "search.db") as store:  # as a store of an older version
        store.set_meta("trainer_classes", None)
    assert len(search(stop).run().trials) == 1  # by the Trainer keys it kept
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("trainer_classes", None)
    with pytest.raises(ConfigError, match=r"trainer.callbacks: 'an object', now 'unset'"):
        search().run()


def test_the_same_space_in_another_key_order_resumes_exactly(tmp_path):
    whole = _objective_search(tmp_path / "whole", budget=8).run()
    _objective_search(tmp_path / "cut", budget=4).run()
    reordered = {k: SPACE[k] for k in ("c", "b", "a")}
    resumed = _objective_search(tmp_path / "cut", space=reordered, budget=8).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in whole.trials]


def test_a_space_whose_values_changed_type_is_refused_on_resume(tmp_path):
    # was: 1 == 1.0 == True to Python, so the resume went on and trained the stored values
    _objective_search(tmp_path, budget=1).run()
    floats = {**SPACE, "c": {"choice": [1.0, 2.0, 3.0]}}
    with pytest.raises(ConfigError, match="a search with a different space"):
        _objective_search(tmp_path, space=floats, budget=2).run()


def test_a_changed_space_on_resume_names_the_keys_that_differ(tmp_path):
    # was: both whole spaces printed, "stored {...}, now {...}", left to diff by eye
    _objective_search(tmp_path, budget=1).run()
    changed = {**{k: v for k, v in SPACE.items() if k != "a"}, "c": {"choice": [1, 2]},
               "d": {"choice": [0, 1]}}
    with pytest.raises(ConfigError) as err:
        _objective_search(tmp_path, space=changed, budget=2).run()
    held = str(err.value).split("different space (")[1].split("); resume")[0]
    assert held == (f"a: {SPACE['a']!r}, now 'unset'; c: {SPACE['c']!r}, now "
                    "{'choice': [1, 2]}; d: 'unset', now {'choice': [0, 1]}"), held


class _Stop(Exception):
    pass


def test_a_resume_stopped_by_max_failures_exports_the_best_so_far(tmp_path):
    # was: the check at resume raised before the search's export: no best.yaml, although
    # a trial had completed (the README: a max_failures stop exports the best so far)
    calls = []

    def first_fails(arch: dict) -> dict:
        calls.append(arch)
        if len(calls) == 1:
            raise RuntimeError("a broken first trial")
        return _score(arch)

    def stop_after_two(result) -> None:
        if len(calls) == 2:
            raise _Stop

    with pytest.raises(_Stop):
        _objective_search(tmp_path, budget=4, objective=first_fails,
                          on_trial_end=stop_after_two).run()
    assert not (tmp_path / "best.yaml").exists()
    with pytest.raises(SearchError, match=r"1 trial of .* failed \(max_failures=0\)"):
        _objective_search(tmp_path, budget=4, objective=first_fails, max_failures=0).run()
    assert len(calls) == 2  # nothing trained
    with RunStore(tmp_path / "search.db") as store:
        best = store.best("max")
    assert best is not None and best.trial_id == 2
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["trial"] == best.trial_id


@pytest.mark.parametrize("optimizer", ["EDA", "IsoEMNA"])
def test_an_unseeded_run_of_an_optimizer_told_only_its_proposals_is_refused_on_resume(
        tmp_path, optimizer):
    # was: the replay (no seed: other proposals) told the optimizer architectures it had not
    # proposed, and it failed "at its tell 1 (TellNotAskedNotSupportedError) after 2
    # completed trial(s) (those running then were let finish) ... an error of the optimizer
    # itself, not of a trial", though nothing was running, and without the cause
    calls = []

    def stops_at_the_third_call(arch: dict) -> dict:
        calls.append(arch)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return _score(arch)

    def search(run_dir, seed):
        return _objective_search(run_dir, budget=5, seed=seed, optimizer=optimizer,
                                 objective=stops_at_the_third_call)

    # nevergrad warns that IsoEMNA's population (64) exceeds the budget (EDA: no warning)
    with (pytest.warns(ng.errors.InefficientSettingsWarning, match="Budget may be too small")
          if optimizer == "IsoEMNA" else nullcontext()):
        with pytest.raises(KeyboardInterrupt):
            search(tmp_path / "unseeded", None).run()
        with pytest.raises(ConfigError) as refused:
            search(tmp_path / "unseeded", None).run()
        assert len(calls) == 3  # nothing trained
        run_dir = tmp_path / "unseeded"
        assert re.fullmatch(
            rf"cannot resume {re.escape(str(run_dir))} with optimizer '{optimizer}': the run has "
            r"no seed \(`seed: null`\), so the replay of its optimizer proposed other "
            r"architectures than the run did \(from ask \d+ of the replay on\), and .* cannot "
            r"be told the results of architectures it did not propose; a search with a seed "
            r"\(`seed: 0`.*`seed_everything: true`.*\) replays exactly and resumes; to go on "
            r"from this run's results, search in a new run_dir with another optimizer \(e\.g\. "
            r"SurrogateEvolution, .*\) warm-started from it \(`warm_start: "
            rf"\[{re.escape(str(run_dir))}\]`\); nothing was trained", str(refused.value)), \
            refused.value
        with RunStore(run_dir / "search.db") as store:
            assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED] * 2 + [
                TrialStatus.RUNNING]
        # seeded, the same stop resumes and makes the uninterrupted search's choices
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            search(tmp_path / "seeded", 0).run()
        search(tmp_path / "seeded", 0).run()
        search(tmp_path / "full", 0).run()
        with RunStore(tmp_path / "seeded" / "search.db") as seeded, \
                RunStore(tmp_path / "full" / "search.db") as full:
            assert [(t.arch, t.status) for t in seeded.trials()] == [
                (t.arch, t.status) for t in full.trials()]
            assert seeded.count(TrialStatus.COMPLETED) == 5


def _broken(calls: list, fixed: list | None = None):
    """An objective that fails as a broken setup does, every trial the same way (until
    ``fixed`` holds something)."""
    def objective(arch: dict) -> dict:
        calls.append(arch)
        if not fixed:
            raise RuntimeError("the setup is broken")
        return {"score": float(sum(arch.values()))}
    return objective


def test_a_resumed_search_stops_at_its_first_repeat_of_the_last_error(tmp_path):
    # was: the last failure's error was only in memory: a resume after a kill trained two
    # more doomed trials before "trials 2 and 3 failed the same way"
    calls = []

    def stop_after_one(result) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        _objective_search(tmp_path, budget=4, objective=_broken(calls), max_failures=9,
                          on_trial_end=stop_after_one).run()
    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way .*the setup "
                                          r"is broken"):
        _objective_search(tmp_path, budget=4, objective=_broken(calls), max_failures=9).run()
    assert len(calls) == 2


def test_the_trials_an_error_every_trial_hits_stopped_run_again_once_it_is_fixed(tmp_path,
                                                                                    capsys):
    # was: after the fix, a resume replayed them as failures of their architectures and
    # never trained them ("All 4 architectures of the space are evaluated", best of 2)
    space = {"c": {"choice": [1, 2, 3, 4]}}
    kw = {"space": space, "budget": 4, "optimizer": "RandomSearch", "verbose": True}
    straight = _objective_search(tmp_path / "straight", objective=_broken([], [True]), **kw).run()
    calls, fixed = [], []
    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way"):
        _objective_search(tmp_path / "run", objective=_broken(calls, fixed), **kw).run()
    # the cause still there: trial 1 fails as before, which ends the re-runs (trial 2 is
    # not run again), and the next new trial failing so stops the search
    with pytest.raises(SearchError, match=r"trials 1 and 3 failed the same way"):
        _objective_search(tmp_path / "run", objective=_broken(calls, fixed), **kw).run()
    assert len(calls) == 4 and calls[2] == calls[0]
    assert "Trials 1, 2 run again: their error stopped the search" in capsys.readouterr().out
    fixed.append(True)
    resumed = _objective_search(tmp_path / "run", objective=_broken(calls, fixed), **kw).run()
    assert "Trials 1, 2, 3 run again" in capsys.readouterr().out
    assert [t.arch for t in resumed.trials[:3]] == [calls[0], calls[1], calls[3]]
    assert sorted(t.arch["c"] for t in resumed.trials) == sorted(
        t.arch["c"] for t in straight.trials)  # every architecture, none twice
    assert all(t.status is TrialStatus.COMPLETED for t in resumed.trials)
    with RunStore(tmp_path / "run" / "search.db") as store:  # each a first attempt
        assert [store.attempts(t.trial_id) for t in resumed.trials] == [1] * 4


def test_a_refused_resume_of_a_run_that_completed_no_trial_says_how_to_start_anew(tmp_path):
    # was: a run whose every trial failed (a Trainer setting that cannot work, such as
    # max_time 0) was refused on a rerun without that setting, with no way out named
    with pytest.raises(SearchError, match=r"failed the same way"):
        _objective_search(tmp_path / "run", objective=_broken([])).run()
    with pytest.raises(ConfigError, match=rf"other settings: search\.seed: 0, now 5\. Resume "
                                          rf"with the settings it ran with, or choose another "
                                          rf"run_dir \(it completed no trial: remove "
                                          rf"{re.escape(str(tmp_path / 'run'))} to start anew\)"):
        _objective_search(tmp_path / "run", seed=5).run()
    _objective_search(tmp_path / "done").run()
    with pytest.raises(ConfigError, match=r"search\.seed: 0, now 5") as refused:
        _objective_search(tmp_path / "done", seed=5).run()
    assert "completed no trial" not in str(refused.value)  # its trials are worth keeping


def _stored_failed(run_dir, trial_id: int, timeout: float = 60.0) -> None:
    """Wait until the search in ``run_dir`` has stored ``trial_id`` as FAILED."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if (run_dir / "search.db").is_file():
            with RunStore(run_dir / "search.db", read_only=True) as store:
                if any(t.trial_id == trial_id and t.status is TrialStatus.FAILED
                       for t in store.trials()):
                    return
        time.sleep(0.02)
    raise AssertionError(f"trial {trial_id} was not stored FAILED within {timeout} s")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failure_of_the_architectures_does_not_hold_a_resume_back(tmp_path, workers):
    # was: two architectures that fail (not the setup) stopped the search as "the same
    # way"; every resume ran them again and stopped again, for good (with 2 workers, both
    # re-run at once, even after the first fix)
    from concurrent.futures import ThreadPoolExecutor

    space = {"c": {"choice": [1, 2, 3, 4]}}
    kw = {"space": space, "budget": 4, "optimizer": "RandomSearch", "num_workers": workers}
    if workers > 1:
        kw["executor"] = ThreadPoolExecutor(workers)
    order = [t.arch["c"] for t in _objective_search(tmp_path / "straight", objective=_broken(
        [], [True]), **kw).run().trials]

    def objective(arch: dict) -> dict:
        if arch["c"] in order[:2]:
            raise ValueError("this value of c is not supported")
        if workers > 1:  # trial 3 starts once trial 1 failed: its result stored before
            _stored_failed(tmp_path / "run", 2)  # trial 2's (a loaded machine) left no stop
        return {"score": float(arch["c"])}

    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way"):
        _objective_search(tmp_path / "run", objective=objective, **kw).run()
    result = _objective_search(tmp_path / "run", objective=objective, **kw).run()
    assert [t.status for t in result.trials] == [TrialStatus.FAILED] * 2 + \
        [TrialStatus.COMPLETED] * 2
    assert result.best.arch["c"] in order[2:]
    again = _objective_search(tmp_path / "run", objective=objective, **kw).run()
    assert [t.status for t in again.trials] == [t.status for t in result.trials]


def test_differences_read_nested_nodes_and_skip_what_an_older_store_lacks():
    stored = {"config": {"model": {"class_path": "m.M", "init_args": {"net": {"w": 8}}}},
              "trainer": {"max_epochs": 3, "enable_progress_bar": True}}
    current = {"settings": {"seed": 1}, "model": {}, "data": {}, "config": {
        "model": {"class_path": "m.M", "init_args": {"net": {"w": 16}}}},
        "trainer": {"max_epochs": 3, "enable_progress_bar": False}}
    assert differences(stored, current) == ["model.init_args.net.w: 8, now 16"]


KILL_BETWEEN_WRITES = """
import os, sys

from lightning_nas import Search
from lightning_nas.search import asktell


def score(arch):
    return {"val_acc": arch["x"] / 10 - 0.01 * arch["y"]}


def dying(log, write, die_at):
    def wrapped(self, candidate, trial_id, *args, **kwargs):
        if trial_id == die_at:  # killed right after the trial's row was written
            os._exit(9)
        return write(self, candidate, trial_id, *args, **kwargs)
    return wrapped


if __name__ == "__main__":
    run_dir, die_at = sys.argv[1], int(sys.argv[2])
    asktell.AskTell.started = dying(asktell.AskTell, asktell.AskTell.started, die_at)
    Search(None, {"x": {"int": [0, 10]}, "y": {"choice": [0, 1, 2]}}, objective=score,
           monitor="val_acc", mode="max", budget=8, seed=3, run_dir=run_dir,
           verbose=False).run()
"""


def test_a_kill_between_a_trial_and_its_ask_resumes_the_same_search(tmp_path, launcher):
    # was: the trial's row and the optimizer's ask were two commits; a kill between them left
    # a trial whose ask the resume never replayed, so every later proposal shifted
    script = tmp_path / "kill.py"
    script.write_text(KILL_BETWEEN_WRITES)

    def run(run_dir, die_at):
        return launcher.run([run_dir, die_at], tmp_path / "log.txt", script, timeout=120)

    assert run(tmp_path / "full", 0) == 0
    assert run(tmp_path / "killed", 4) == 9
    assert run(tmp_path / "killed", 0) == 0

    def trials_and_events(run_dir):
        with RunStore(run_dir / "search.db") as store:
            return ([(t.trial_id, t.arch, t.status, t.score) for t in store.trials()],
                    store.events())

    # the same trials from the same optimizer calls: trial 4 was asked, as it was uninterrupted
    # (not a "given" architecture whose ask the optimizer never made)
    assert trials_and_events(tmp_path / "killed") == trials_and_events(tmp_path / "full")


KILL_ONCE = """
import os, sys

import lightning.pytorch as pl
import torch

from lightning_nas import Search
from tests.helpers import BlobData, TinyNet


class DieOnce(pl.Callback):
    # ends the process once: at the end of a promoted (resumed) fit the scheduler stopped
    # again (after its last.ckpt, before the search stored the pause), or in the first epoch

    def __init__(self, marker, when):
        self.marker, self.when = marker, when

    def _die(self):
        if self.marker and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(9)

    def on_train_end(self, trainer, pl_module):
        if self.when == "stopped_again" and trainer.ckpt_path \\
                and trainer.current_epoch < trainer.max_epochs:
            self._die()

    def on_train_epoch_end(self, trainer, pl_module):
        if self.when == "first_epoch":
            self._die()


if __name__ == "__main__":
    torch.set_num_threads(1)
    run_dir, marker, when = sys.argv[1:4]
    space = {"width": {"choice": [4, 8, 16, 32, 64]}, "lr": {"float": [0.01, 0.5], "log": True},
             "depth": {"choice": [1, 2]}}
    how = ({"scheduler": "asha", "eta": 2, "min_epochs": 1, "budget": 8}
           if when == "stopped_again" else
           {"objectives": {"val_acc": "max", "params": "min"}, "budget": 3})
    Search(TinyNet, space, data=BlobData,
           trainer={"max_epochs": 4, "accelerator": "cpu", "devices": 1,
                    "callbacks": [DieOnce(marker, when)]},
           seed=0, optimizer="NGOpt", run_dir=run_dir, verbose=False, **how).run()
"""


def _killed_once_and_resumed(tmp_path, launcher, when):
    """The stores of an uninterrupted run of ``KILL_ONCE`` and of one killed once ``when``
    and resumed: ``(trial id, arch, status, epochs, curve, metrics)`` per trial."""
    script = tmp_path / "kill.py"
    script.write_text(KILL_ONCE)

    def run(run_dir, marker):
        return launcher.run([run_dir, marker, when], tmp_path / "log.txt", script)

    marker = tmp_path / "killed_once"
    assert run(tmp_path / "full", "") == 0
    assert run(tmp_path / "killed", str(marker)) == 9 and marker.exists()
    assert run(tmp_path / "killed", str(marker)) == 0

    def trials(run_dir):
        with RunStore(run_dir / "search.db") as store:
            return [(t.trial_id, t.arch, t.status, t.epochs, t.curve, t.metrics)
                    for t in store.trials()]

    return trials(tmp_path / "full"), trials(tmp_path / "killed")


def test_a_promoted_trial_killed_after_its_next_pause_is_paused_on_resume(tmp_path, launcher):
    # was: its last.ckpt (written after the rule paused it again) was taken as a promotion to
    # continue: nothing judged it at that rung, and it trained on to max_epochs, COMPLETED
    full, killed = _killed_once_and_resumed(tmp_path, launcher, "stopped_again")
    assert killed == full


def test_a_search_with_a_counted_objective_resumes_after_a_kill(tmp_path, launcher):
    # was: the re-run trial was stored without its params (counted only when proposed), the
    # search stopped ("objective 'params' is neither logged nor counted") and so did every
    # later resume of the folder
    full, killed = _killed_once_and_resumed(tmp_path, launcher, "first_epoch")
    assert killed == full and all("params" in metrics for *_, metrics in killed)


def test_a_resumed_searchs_progress_bar_starts_at_the_trials_done(tmp_path, capsys):
    # was: 0/4 at the start of the resume, then the earlier trials counted as done within
    # this invocation's first seconds (a rate far too high, a time left far too short)
    def run(budget: int) -> None:
        Search(None, {"x": {"choice": [1, 2, 3, 4, 5]}}, objective=lambda a: {"val_acc": a["x"]},
               budget=budget, seed=0, run_dir=tmp_path, verbose=True, progress=True).run()

    run(2)
    capsys.readouterr()
    run(4)
    bars = [frame for frame in re.split(r"[\r\n]", capsys.readouterr().err) if "/4" in frame]
    assert bars and "2/4" in bars[0] and not any(" 0/4" in b or "|0/4" in b for b in bars), bars


def test_a_store_written_before_events_were_logged_says_its_resume_cannot_choose_as_before(
        tmp_path, capsys):
    # such a store's trials are told as given, the fresh optimizer's random state never
    # advances and later asks redraw the first trials' numbers (was: without a word)
    import sqlite3

    _objective_search(tmp_path, budget=2, verbose=True).run()
    _objective_search(tmp_path, budget=3, verbose=True).run()  # events replayed: not said
    assert "did not log the optimizer's asks" not in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "search.db") as db:  # as a version before events left it
        db.execute("DELETE FROM events")
    db.close()
    assert len(_objective_search(tmp_path, budget=4, verbose=True).run().trials) == 4
    out = capsys.readouterr().out
    assert out.count("This run was written by a version that did not log the optimizer's "
                     "asks; the search goes on from the stored results, but cannot make the "
                     "choices the uninterrupted run would have.") == 1


def test_a_nan_or_inf_in_the_stored_setup_is_no_difference_on_resume(tmp_path):
    # the store writes strict JSON (a NaN as null, inf as 9e999): what it reads back is
    # compared as the current setup would be stored (was: a NaN argument, stored and read
    # back as NaN, differed from itself, so such a run could not be resumed)
    setup = {"model": {"class_path": "m.M", "init_args": {"clip": math.nan, "top": math.inf}},
             "trainer": {"max_epochs": 1, "gradient_clip_val": math.inf}}
    with RunStore(tmp_path / "search.db") as store:
        for key, value in setup.items():
            store.set_meta(key, value)
        stored = {key: store.get_meta(key) for key in setup}
    assert differences(stored, setup) == []
    assert differences(stored, {**setup, "trainer": {"max_epochs": 1}}) == [
        "trainer.gradient_clip_val: inf, now 'unset'"]


@pytest.mark.filterwarnings("ignore:an objective= search calls the function")
def test_a_search_whose_trainer_holds_inf_resumes(tmp_path):
    # inf is stored as 9e999 (strict JSON) and read back as inf: the same setup
    trainer = {"max_epochs": 1, "gradient_clip_val": math.inf}
    _objective_search(tmp_path, budget=2, trainer=trainer).run()
    result = _objective_search(tmp_path, budget=3, trainer=trainer).run()
    assert len(result.trials) == 3
    with RunStore(tmp_path / "search.db") as store:
        assert store._db.execute("SELECT json_extract(value, '$.gradient_clip_val') FROM meta "
                                 "WHERE key = 'trainer'").fetchone() == (math.inf,)


@pytest.mark.filterwarnings("ignore:an objective= search calls the function")
def test_a_trainer_argument_spelt_at_its_default_is_no_difference_on_resume(tmp_path):
    # Lightning takes an argument left out at its signature default: spelt out on a resume,
    # or left out on a resume of a run that spelt it, it trains the same (was: refused,
    # "trainer.check_val_every_n_epoch: 'unset', now 1"); another value is still refused
    def search(run_dir: str, budget: int, **trainer) -> Search:
        return _objective_search(tmp_path / run_dir, budget=budget,
                                 trainer={"max_epochs": 2, **trainer})

    defaults = {"check_val_every_n_epoch": 1, "max_steps": -1, "accelerator": "auto",
                "gradient_clip_val": None, "precision": None}
    search("out", 1).run()
    with pytest.raises(ConfigError, match=r"other settings: trainer\.check_val_every_n_epoch: "
                                          r"'unset', now 2\. Resume with"):
        search("out", 2, check_val_every_n_epoch=2).run()
    assert len(search("out", 2, **defaults).run().trials) == 2
    search("set", 1, **defaults).run()
    with pytest.raises(ConfigError, match=r"other settings: trainer\.check_val_every_n_epoch: 1, "
                                          r"now 2\. Resume with the settings it ran with"):
        search("set", 2, check_val_every_n_epoch=2).run()
    assert len(search("set", 2).run().trials) == 2


def test_only_what_lightning_takes_as_the_same_trainer_setting_is_no_difference():
    def trainer(**given) -> dict:
        return {"trainer": given}

    # None where the default is 1 validates by val_check_interval alone; True is no int;
    # the default accelerator is not the one it picks; 1000 epochs is a default only
    # without max_steps or a Timer
    for given in ({"check_val_every_n_epoch": None}, {"check_val_every_n_epoch": True},
                  {"accelerator": "cpu"}, {"max_epochs": 1000}, {"devices": 1}):
        (key, value), = given.items()
        assert differences(trainer(), trainer(**given)) == [
            f"trainer.{key}: 'unset', now {value!r}"]
    # Lightning's spellings of one precision (its alias conversion) are the same
    assert differences(trainer(precision=32), trainer(precision="32-true")) == []
    assert differences(trainer(precision="bf16"), trainer(precision="bf16-mixed")) == []
    assert differences(trainer(precision=32), trainer(precision="16-mixed")) == [
        "trainer.precision: 32, now '16-mixed'"]
    assert differences(trainer(accumulate_grad_batches=1), trainer()) == []


@pytest.mark.parametrize("spelling", [64, "64", 32, "32", "bf16"])
def test_each_precision_spelling_taken_as_one_is_the_one_a_trainer_takes_it_as(spelling):
    # the table resume compares by (as_taken) against a real Trainer's public precision
    # (16 is left out: 16-mixed refuses CPU)
    taken = pl.Trainer(accelerator="cpu", devices=1, precision=spelling, logger=False,
                       enable_checkpointing=False, enable_progress_bar=False,
                       enable_model_summary=False).precision
    assert as_taken({"precision": spelling}) == {"precision": taken}
