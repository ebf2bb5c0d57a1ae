"""``lightning_nas.search.settings`` and ``search.setting_groups``: the grouped settings,
where flat keys go, unknown keys and bad values named, the run folder's path checked before
any folder, rules and executors stored as text, frozen settings and ``replace``, and
``flat()`` round-tripping as the search block's keys."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import SEARCH_KEYS
from lightning_nas.search.schedulers import MedianRule
from lightning_nas.search.setting_groups import EarlyStopping, Execution, Goal, Limits, Transfer
from lightning_nas.search.settings import SearchSettings
from lightning_nas.strategies import DEFAULT_OPTIMIZER


def test_the_groups_stay_importable_from_settings():
    # documented there, and the path that older pickles of a group name
    from lightning_nas.search import settings

    assert (settings.Goal, settings.Execution, settings.EarlyStopping, settings.Limits,
            settings.Transfer) == (Goal, Execution, EarlyStopping, Limits, Transfer)


def test_every_group_is_exported_by_the_search_package():
    # was: Goal, Execution, EarlyStopping and Limits were, Transfer not
    import lightning_nas.search as search

    for group in (Goal, Execution, EarlyStopping, Limits, Transfer):
        assert group.__name__ in search.__all__ and getattr(search, group.__name__) is group


def test_defaults():
    s = SearchSettings()
    assert s.goal == Goal()
    assert (s.goal.optimizer, s.goal.budget, s.goal.time_limit) == (DEFAULT_OPTIMIZER, 20, None)
    assert (s.goal.monitor, s.goal.mode, s.goal.seed) == ("val_acc", "max", 0)
    assert s.goal.objectives is None
    assert (s.goal.max_failures, s.goal.keep_top_k) == (5, 3)
    assert (s.execution.num_workers, s.execution.executor) == (1, "auto")
    assert s.execution.executor_name == "auto"
    assert s.execution.devices_per_trial is None and s.execution.ray is None
    assert s.early_stopping.scheduler == "none" and not s.early_stopping.active
    # YAML's null (--search.scheduler=null) means none, as it reads
    assert SearchSettings.from_options(scheduler=None).early_stopping.scheduler == "none"
    # left out: None, the documented 1 and 3 where a scheduler uses them (make_rule's)
    assert (s.early_stopping.min_epochs, s.early_stopping.max_epochs, s.early_stopping.eta) == (
        None, None, None)
    assert (s.limits.max_params, s.limits.max_flops, s.limits.constraints) == (None, None, ())
    assert s.run_dir == Path("runs/nas") and isinstance(s.run_dir, Path)
    assert s.verbose is True and s.progress == "auto"
    assert SearchSettings.from_options() == s


def test_from_options_routes_flat_keys_to_their_groups():
    s = SearchSettings.from_options(budget=7, seed=3, num_workers=2, executor="process",
                                    scheduler="asha", eta=2, min_epochs=2, max_params=1e6,
                                    run_dir="runs/x", verbose=False, progress=False)
    assert (s.goal.budget, s.goal.seed) == (7, 3)
    assert (s.execution.num_workers, s.execution.executor) == (2, "process")
    assert (s.early_stopping.scheduler, s.early_stopping.eta, s.early_stopping.min_epochs) == (
        "asha", 2, 2)
    assert s.early_stopping.active
    assert s.limits.max_params == 1e6
    assert s.run_dir == Path("runs/x")
    assert s.verbose is False and s.progress is False
    # untouched groups keep their defaults
    assert s.goal.monitor == "val_acc" and s.execution.devices_per_trial is None


def test_unknown_key_names_the_key_and_suggests():
    with pytest.raises(ConfigError) as info:
        SearchSettings.from_options(num_worker=2)
    text = str(info.value)
    assert "'num_worker'" in text
    assert "did you mean 'num_workers'?" in text
    assert "budget" in text  # the valid keys are listed


@pytest.mark.parametrize(("name", "value"), [
    ("goal", {"budget": 1}), ("execution", 3), ("early_stopping", "asha"), ("limits", {}),
    ("transfer", None), ("goal", Execution()),
])
def test_a_group_of_another_kind_names_the_group_and_its_class(name, value):
    # was: an AttributeError naming no argument ('dict' object has no attribute 'budget'),
    # or (execution=3, limits={}) taken, to fail later inside Search
    kinds = {"goal": "Goal", "execution": "Execution", "early_stopping": "EarlyStopping",
             "limits": "Limits", "transfer": "Transfer"}
    with pytest.raises(ConfigError, match=rf"`{name}` must be a {kinds[name]} .*from_options"):
        SearchSettings(**{name: value})


def test_unknown_key_in_replace():
    with pytest.raises(ConfigError, match="unknown search setting 'budgt'; did you mean 'budget'"):
        SearchSettings().replace(budgt=3)


@pytest.mark.parametrize(("options", "names"), [
    ({"budget": 0}, ["`budget`", "0"]),
    ({"budget": "abc"}, ["`budget`", "'abc'"]),
    ({"budget": True}, ["`budget`"]),
    ({"seed": "abc"}, ["`seed`", "'abc'"]),
    ({"seed": -1}, ["`seed`"]),
    ({"mode": "maximum"}, ["`mode`", "'maximum'"]),
    ({"num_workers": 0}, ["`num_workers`"]),
    ({"executor": "proces"}, ["'proces'", "did you mean 'process'?"]),
    # was: "valid keys: auto, inline, process, ray" (the executors called keys)
    ({"executor": "proces"}, ["valid executors: auto, inline, process, ray"]),
    ({"scheduler": "ashaa"}, ["'ashaa'", "did you mean 'asha'?"]),
    ({"eta": 1}, ["`eta`", ">= 2"]),
    ({"max_params": -1}, ["max_params", "-1"]),
    ({"executor": "inline", "num_workers": 2}, ["inline", "num_workers"]),
    ({"progress": "sometimes"}, ["`progress`", "'sometimes'"]),
    ({"progress": 1}, ["`progress`", "got 1"]),  # was: accepted (1 == True), verbose=1 not
    ({"progress": 0}, ["`progress`", "got 0"]),
    ({"budget": None}, ["`budget`", "`time_limit`"]),
    ({"budget": None, "time_limit": None}, ["`budget`", "`time_limit`"]),
    ({"time_limit": 0}, ["`time_limit`"]),
    # was: accepted, "time limit infs", and with no budget a search without an end
    ({"budget": None, "time_limit": float("inf")}, ["`time_limit`", "finite", "got inf"]),
    ({"keep_top_k": 0}, ["`keep_top_k`"]),
    ({"min_epochs": 0}, ["`min_epochs`"]),
    ({"monitor": ""}, ["`monitor`"]),
    ({"verbose": "yes"}, ["`verbose`"]),
    ({"run_dir": 3}, ["`run_dir`"]),
    ({"executor": 3}, ["executor"]),
])
def test_validation_names_the_setting(options, names):
    with pytest.raises(ConfigError) as info:
        SearchSettings.from_options(**options)
    for name in names:
        assert name in str(info.value)


def test_time_limit_alone_is_enough():
    s = SearchSettings.from_options(budget=None, time_limit=30)
    assert s.goal.budget is None and s.goal.time_limit == 30


def test_a_file_named_like_the_default_run_dir_does_not_block_settings(tmp_path, monkeypatch):
    # was: the default SearchSettings() checked its runs/nas against a file named runs in
    # the working directory before the user's run_dir replaced it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").write_text("mine")
    assert SearchSettings.from_options(run_dir=tmp_path / "elsewhere").run_dir.name == "elsewhere"


def test_a_run_dir_and_warm_start_folders_with_a_tilde_are_in_the_home_folder(
        tmp_path, monkeypatch):
    # was: Path("~/nas/digits") as it is: search.db and best.* went into ./~/nas/digits,
    # the trials' checkpoints and logs (Lightning expands ~) into $HOME/nas/digits
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = SearchSettings.from_options(run_dir="~/nas/digits")
    assert settings.run_dir == tmp_path / "nas" / "digits"
    assert settings.flat()["run_dir"] == str(tmp_path / "nas" / "digits")
    transfer = Transfer(warm_start=["~/earlier", "runs/a"])
    assert transfer.warm_start == (str(tmp_path / "earlier"), "runs/a")
    assert transfer.fixed()["warm_start_sources"][0] == str(tmp_path / "earlier")


def test_a_run_dir_holding_a_newline_is_refused_before_any_folder(tmp_path, tiny_space,
                                                                  tiny_trainer):
    # was: taken; best_config.yaml's header named it on two lines, and `lightning-nas fit` of
    # it said "unknown config section 'x'" (with "\nseed_everything: 7": a key of its own)
    from lightning_nas import Search
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    for name in ("nl\nx", "nl\nseed_everything: 7", "cr\rx", "tab\tx", "sep\u2028x"):
        run = tmp_path / name
        for make in (lambda run: SearchSettings.from_options(run_dir=run),
                     lambda run: Search(TinyNet, tiny_space, data=BlobData,
                                        trainer=tiny_trainer, run_dir=str(run), verbose=False)):
            with pytest.raises(ConfigError) as err:
                make(run)
            assert str(err.value).startswith(
                f"`run_dir` must be a folder path of printable characters (letters, digits, "
                f"spaces, punctuation), without control characters (a newline, a carriage "
                f"return, a tab); got {str(run)!r}, which holds "), name
    assert list(tmp_path.iterdir()) == []  # nothing made
    assert SearchSettings.from_options(run_dir=tmp_path / "my run").run_dir.name == "my run"


def test_a_run_dir_of_none_is_the_default_as_a_configs_null(tmp_path, monkeypatch,
                                                          tiny_space, tiny_trainer):
    # was: "`run_dir` must be a folder path, got None" from Python, while the README's table
    # says `null`: the default (a config's null is runs/<config name>, Python's runs/nas)
    from lightning_nas import Search
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    monkeypatch.chdir(tmp_path)
    assert SearchSettings.from_options(run_dir=None).run_dir == Path("runs/nas")
    mine = SearchSettings.from_options(run_dir="runs/mine")
    assert mine.replace(run_dir=None).run_dir == Path("runs/nas")
    search = Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, run_dir=None,
                    verbose=False)
    assert search.run_dir == Path("runs/nas")
    assert list(tmp_path.iterdir()) == []  # nothing made before .run()


def test_an_empty_or_non_path_run_dir_is_refused_before_anything_is_read_or_made(
        tmp_path, monkeypatch, capsys):
    # was: run_dir='' was the current folder from Python (a search filled it with its files)
    # and runs/nas from a config; run_dir: 5 beside seed_everything: true a raw TypeError
    import yaml

    from lightning_nas.cli import main

    monkeypatch.chdir(tmp_path)
    for empty in ("", "  "):
        with pytest.raises(ConfigError, match=r"`run_dir` must be a folder path, got '\s*' "
                                              r"\(empty: write '\.' for the current folder"):
            SearchSettings.from_options(run_dir=empty)
    assert SearchSettings.from_options(run_dir=".").run_dir == Path(".")
    for run_dir, shown in (("", "''"), (5, "5"), (["a"], "['a']")):
        cfg = {"seed_everything": True,
               "model": {"class_path": "tests.helpers.TinyNet"},
               "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}},
               "trainer": {"max_epochs": 1, "limit_train_batches": 1},
               "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 2,
                          "run_dir": run_dir, "verbose": False}}
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
        assert main(["search", str(tmp_path / "c.yaml")]) == 2, run_dir
        assert f"`run_dir` must be a folder path, got {shown}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]  # no runs/nas, no store


def test_groups_validate_when_made():
    with pytest.raises(ConfigError, match="num_workers"):
        Execution(num_workers=0)
    with pytest.raises(ConfigError, match="eta"):
        EarlyStopping(eta=1)
    with pytest.raises(ConfigError, match="max_flops"):
        Limits(max_flops=0)
    with pytest.raises(ConfigError, match="mode"):
        Goal(mode="up")


def test_a_rule_and_an_executor_object_are_accepted():
    class Submitter:
        def submit(self, fn, *args):
            return fn(*args)

    rule = MedianRule(min_epochs=1, min_trials=1)
    s = SearchSettings.from_options(scheduler=rule, executor=Submitter(), num_workers=2)
    assert s.early_stopping.scheduler is rule and s.early_stopping.active
    assert s.execution.executor_name.startswith("<") and "Submitter" in s.execution.executor_name
    flat = s.flat()
    assert flat["scheduler"] == "MedianRule(min_epochs=1, min_trials=1, mode='max')"
    assert "Submitter" in flat["executor"]
    json.dumps(flat)


class _Thing:
    def __repr__(self) -> str:
        return "<Thing at 0x7F97A121F3E0>"  # an address, as some objects print it


class _PatientMedian(MedianRule):
    """A rule of a user's: its own setting, the base's passed on as **kwargs."""

    def __init__(self, patience: int = 2, thing: object = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.patience, self.thing = patience, thing


def test_a_rule_is_stored_with_its_bases_settings_and_no_address():
    # was: a subclass passing **kwargs on was stored without the base's settings (a resume
    # with another min_trials went on), and an upper-case address stayed in the text (every
    # resume was refused)
    flat = SearchSettings.from_options(scheduler=_PatientMedian(thing=_Thing(),
                                                                min_trials=3)).flat()
    assert flat["scheduler"] == ("_PatientMedian(patience=2, thing=<Thing>, min_epochs=1, "
                                 "min_trials=3, mode='max')")


def test_settings_are_frozen():
    s = SearchSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.verbose = False
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.goal.budget = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.execution.num_workers = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.early_stopping.eta = 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.limits.max_params = 10
    assert s.verbose is True and s.goal.budget == 20


def test_replace_returns_a_new_object_and_leaves_the_old_unchanged():
    old = SearchSettings.from_options(budget=10, num_workers=2)
    new = old.replace(budget=5, scheduler="median")
    assert new is not old
    assert (new.goal.budget, new.early_stopping.scheduler) == (5, "median")
    assert (old.goal.budget, old.early_stopping.scheduler) == (10, "none")
    assert new.execution is old.execution  # an untouched group is shared, not copied
    assert new.execution.num_workers == 2
    # a bad value fails and changes nothing
    with pytest.raises(ConfigError):
        old.replace(budget=0)
    assert old.goal.budget == 10


@pytest.mark.parametrize("options", [
    {},
    {"budget": 7, "seed": 3, "num_workers": 2, "executor": "process", "scheduler": "asha",
     "eta": 2, "max_params": 1000.0, "run_dir": "runs/x", "verbose": False, "progress": True},
    {"budget": None, "time_limit": 12.5, "monitor": "val_loss", "mode": "min", "seed": None,
     "ray": {"address": "auto"}, "executor": "ray", "devices_per_trial": 1},
])
def test_flat_is_json_and_round_trips(options):
    s = SearchSettings.from_options(**options)
    flat = s.flat()
    assert json.loads(json.dumps(flat)) == flat
    assert set(flat) == set(SearchSettings.keys())
    again = SearchSettings.from_options(**flat)
    assert again == s
    assert again.flat() == flat


def test_flat_with_objectives_round_trips_as_data():
    s = SearchSettings.from_options(objectives={"val_loss": "min", "params": "min"})
    flat = s.flat()
    assert flat["objectives"] == {"val_loss": "min", "params": "min"}
    assert (flat["monitor"], flat["mode"]) == ("val_loss", "min")
    json.dumps(flat)
    assert SearchSettings.from_options(**flat).flat() == flat


def test_keys_are_the_search_block_keys():
    keys = SearchSettings.keys()
    assert len(keys) == len(set(keys))
    assert set(keys) == set(SEARCH_KEYS) - {"space", "cli"}  # a config's (its sections)
    assert keys[:2] == ["optimizer", "budget"]
    assert keys[-3:] == ["run_dir", "verbose", "progress"]
