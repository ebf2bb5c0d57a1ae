"""A resumed search keeps the setup its trials ran with (``search/resume.py``): real
searches on real SQLite stores, a resume with other settings, model or data arguments,
scheduler, constraint or Trainer objects refused before anything is written. What is no
difference, failures on resume and replays after a kill: ``test_resume_<topic>.py``."""

from __future__ import annotations

import re
import sqlite3

import pytest
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.resume import differences
from lightning_nas.search.schedulers import ASHARule
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_resume import objective_search as _objective_search


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


def test_the_resume_line_of_a_search_without_a_scheduler_counts_no_paused_trials(tmp_path,
                                                                                 capsys):
    # was: "Resuming RUN: 3 completed, 0 failed, 0 to re-run, 0 paused", where only a
    # scheduler pauses trials (with one, its count stays: test_schedulers_driver)
    _objective_search(tmp_path).run()
    capsys.readouterr()
    _objective_search(tmp_path, budget=4, verbose=True).run()
    assert f"Resuming {tmp_path}: 3 completed, 0 failed, 0 to re-run\n" in \
        capsys.readouterr().out


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


def test_a_resume_under_another_scheduler_names_no_setting_the_new_one_does_not_use():
    # was: "search.eta: 2, now 3; search.min_epochs: 2, now 1; search.scheduler: 'asha', now
    # 'none'": defaults no scheduler uses, which a search without one refuses if given
    was = {"settings": {"scheduler": "asha", "eta": 2, "min_epochs": 2, "max_epochs": None}}
    for now, kept in (("none", ()), ("median", ("min_epochs",))):
        current = {"settings": {"scheduler": now, "eta": None, "max_epochs": None,
                                "min_epochs": 2 if kept else None}}
        assert differences(was, current) == [f"search.scheduler: 'asha', now {now!r}"]
    current = {"settings": {"scheduler": "median", "eta": None, "min_epochs": 3,
                            "max_epochs": None}}  # one both use, changed: still named
    assert differences(was, current) == ["search.min_epochs: 2, now 3",
                                         "search.scheduler: 'asha', now 'median'"]
