"""``lightning_nas.search.settings`` and ``search.setting_groups``: validated, frozen, grouped
search settings."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import SEARCH_KEYS
from lightning_nas.search.objectives import Objectives
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


def test_objectives_set_monitor_and_mode_to_the_first():
    s = SearchSettings.from_options(objectives={"val_loss": "min", "params": "min"})
    assert isinstance(s.goal.objectives, Objectives)
    assert s.goal.objectives.names == ["val_loss", "params"]
    assert (s.goal.monitor, s.goal.mode) == ("val_loss", "min")
    goal = Goal(objectives=Objectives({"loss": "min"}))
    assert (goal.monitor, goal.mode) == ("loss", "min")


def test_the_same_monitor_again_keeps_its_mode():
    # was: "monitor: 'score' needs a mode" (a Search(settings=s, monitor=...) too)
    s = SearchSettings.from_options(monitor="score", mode="max")
    assert s.replace(monitor="score").goal.mode == "max"
    assert s.replace(monitor="val_loss").goal.mode == "min"  # another one: its name's


def test_an_explicit_monitor_replaces_earlier_objectives():
    s = SearchSettings.from_options(objectives={"val_loss": "min", "params": "min"})
    t = s.replace(monitor="val_acc", mode="max")
    assert t.goal.objectives is None
    assert (t.goal.monitor, t.goal.mode) == ("val_acc", "max")
    assert s.goal.objectives is not None  # the old settings keep theirs


@pytest.mark.parametrize("monitor, mode", [
    ("val_loss", "min"), ("train/loss_epoch", "min"), ("val_error", "min"), ("val_mse", "min"),
    ("val_acc", "max"), ("val/acc_best", "max"), ("val_f1", "max"), ("val_auroc", "max"),
    # the names of common image, language and generative metrics (timm's top1/acc1, BLEU,
    # PSNR, SSIM, FID, MAPE, bits per dimension)
    ("val_top1", "max"), ("val/acc1", "max"), ("val_bleu", "max"), ("val_psnr", "max"),
    ("val_ssim", "max"), ("val_miou", "max"), ("val_fid", "min"), ("val_mape", "min"),
    ("val_bpd", "min"),
])
def test_a_monitor_without_a_mode_takes_the_mode_its_name_says(monitor, mode):
    # was: mode max for any monitor, so `monitor: val_loss` kept the worst epoch of each
    # trial and the search chased the highest loss, without a word
    assert SearchSettings.from_options(monitor=monitor).goal.mode == mode
    assert Goal(monitor=monitor).mode == mode
    # a new monitor on settings that had another one takes its own mode, not the old one
    assert SearchSettings.from_options().replace(monitor=monitor).goal.mode == mode
    other = "max" if mode == "min" else "min"
    assert SearchSettings.from_options(monitor=monitor, mode=other).goal.mode == other


@pytest.mark.parametrize("monitor", ["val_score", "val_loss_acc", "objective"])
def test_a_monitor_whose_name_says_no_mode_needs_one(monitor):
    with pytest.raises(ConfigError, match=rf"`monitor='{monitor}'` needs a `mode` \('max' "
                                          rf"or 'min'\) beside it"):
        SearchSettings.from_options(monitor=monitor)
    assert SearchSettings.from_options(monitor=monitor, mode="min").goal.mode == "min"


@pytest.mark.parametrize("monitor", ["neg_loss", "val/neg_mse", "inv_ppl", "minus_val_loss"])
def test_a_turned_monitor_name_needs_a_mode(monitor):
    # was: the loss word alone decided, so `monitor: neg_loss` was minimised, without a word:
    # the search ranked the highest loss best (the warning of a contrary mode skips such names)
    with pytest.raises(ConfigError, match=rf"`monitor='{monitor}'` needs a `mode` \('max' "
                                          rf"or 'min'\) beside it"):
        SearchSettings.from_options(monitor=monitor)
    assert SearchSettings.from_options(monitor=monitor, mode="max").goal.mode == "max"


def test_a_mode_or_the_same_monitor_keeps_the_objectives():
    # was: replace(mode=...) dropped the objectives; mode="max" then maximised the loss
    s = SearchSettings.from_options(objectives={"val_loss": "min", "params": "min"})
    for change in ({"mode": "min"}, {"monitor": "val_loss"}, {"monitor": "val_loss",
                                                              "mode": "min"}):
        goal = s.replace(**change).goal
        assert goal.objectives.names == ["val_loss", "params"], change
        assert (goal.monitor, goal.mode) == ("val_loss", "min")
    with pytest.raises(ConfigError, match=r"mode='max' disagrees with the first objective "
                                          r"\(val_loss: min\)"):
        s.replace(mode="max")
    assert s.replace(monitor="val_acc").goal.objectives is None  # another monitor replaces


def test_bad_objective_mode_names_it():
    with pytest.raises(ConfigError, match="objectives.params"):
        SearchSettings.from_options(objectives={"val_acc": "max", "params": "smallest"})


def test_a_cost_as_the_first_objective_is_refused_before_training():
    # was: taken as the monitor; the first trial trained, then "'params' was never logged"
    with pytest.raises(ConfigError, match=r"'params' is counted, not logged: list a logged "
                                          r"metric first, e\.g\. objectives=\{\"val_acc\": "
                                          r"\"max\", \"params\": \"min\"\}"):
        SearchSettings.from_options(objectives={"params": "min", "val_acc": "max"})


@pytest.mark.parametrize("cost", ["params", "flops"])
def test_a_cost_as_the_monitor_is_refused_before_training(cost):
    # was: taken; the first trial trained, then "monitor 'params' was not logged by the
    # validation of epoch 0" stopped the search (as a first objective it was refused)
    for mode in ("min", None):
        with pytest.raises(ConfigError, match=(
                rf"`monitor='{cost}'` is counted, not logged: the monitor is a metric "
                rf"validation logs; give one \(val_acc, val_loss\) and {cost} as a second "
                rf"objective, e\.g\. objectives=\{{\"val_acc\": \"max\", \"{cost}\": "
                rf"\"min\"\}}, or a limit, max_{cost}")):
            SearchSettings.from_options(monitor=cost, mode=mode)


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
    assert set(keys) == set(SEARCH_KEYS) - {"space"}
    assert keys[:2] == ["optimizer", "budget"]
    assert keys[-3:] == ["run_dir", "verbose", "progress"]


@pytest.mark.parametrize("options", [
    {"max_trials_per_worker": 2},
    {"max_trials_per_worker": 2, "executor": "inline"},
    {"max_trials_per_worker": 2, "executor": "ray", "num_workers": 2},
])
def test_max_trials_per_worker_without_worker_processes_is_refused(options):
    with pytest.raises(ConfigError, match="max_trials_per_worker recycles worker processes"):
        SearchSettings.from_options(**options)
    assert SearchSettings.from_options(max_trials_per_worker=2, num_workers=2)
    assert SearchSettings.from_options(max_trials_per_worker=2, executor="process")


@pytest.mark.parametrize("options", [
    {"devices_per_trial": 2},
    {"devices_per_trial": 1, "executor": "inline"},
    {"devices_per_trial": 1, "executor": "auto", "num_workers": 1},
])
def test_devices_per_trial_without_worker_processes_is_refused(options):
    # was: accepted and ignored (the trials took trainer.devices in the search's process),
    # while max_trials_per_worker was refused in the same place
    with pytest.raises(ConfigError, match=re.escape(
            "devices_per_trial gives each worker process (or Ray trial) its GPUs, and "
            f"executor '{options.get('executor', 'auto')}' with num_workers=1 starts none")):
        SearchSettings.from_options(**options)
    assert SearchSettings.from_options(devices_per_trial=2, num_workers=2)
    assert SearchSettings.from_options(devices_per_trial=2, executor="process")
    assert SearchSettings.from_options(devices_per_trial=2, executor="ray")


@pytest.mark.parametrize("executor", ["auto", "process", "inline"])
def test_ray_settings_without_the_ray_executor_are_refused(executor):
    with pytest.raises(ConfigError, match=rf"`ray` \({{'address': 'auto'}}\) configures "
                                          rf"executor 'ray', and executor is '{executor}'.*"
                                          rf"set executor: ray \(or drop ray\)"):
        SearchSettings.from_options(executor=executor, ray={"address": "auto"})
    assert SearchSettings.from_options(executor="ray", ray={"address": "auto"})
    assert SearchSettings.from_options(executor=executor, ray={})  # nothing to lose


@pytest.mark.parametrize(("given", "needle"), [
    ({"monitor": "val_acc", "mode": "max", "objectives": {"val_acc": "min", "params": "min"}},
     "monitor='val_acc', mode='max' disagrees with the first objective (val_acc: min)"),
    ({"monitor": "val_acc", "objectives": {"val_loss": "min", "params": "min"}},
     "monitor='val_acc' disagrees with the first objective (val_loss: min)"),
])
def test_a_monitor_given_with_objectives_must_be_the_first(given, needle):
    # was: the objectives replaced the explicit monitor and mode without a word
    with pytest.raises(ConfigError, match=re.escape(needle)):
        SearchSettings.from_options(**given)
    agreeing = {"monitor": "val_acc", "mode": "max",
                "objectives": {"val_acc": "max", "params": "min"}}
    assert SearchSettings.from_options(**agreeing).goal.monitor == "val_acc"
    assert SearchSettings.from_options(monitor="val_acc", objectives={
        "val_acc": "max", "params": "min"}).goal.mode == "max"


def test_search_max_epochs_without_a_scheduler_is_refused():
    # was: accepted, and every trial trained the Trainer's max_epochs
    with pytest.raises(ConfigError, match=r"`max_epochs` \(2\) is a scheduler's complete trial, "
                                          r"and no scheduler is set"):
        SearchSettings.from_options(max_epochs=2)
    assert SearchSettings.from_options(max_epochs=2, scheduler="asha").early_stopping.active


@pytest.mark.parametrize(("options", "needle"), [
    ({"min_epochs": 2}, r"`min_epochs` \(2\) is the epochs a scheduler trains a trial before it "
                        r"first judges it, and no scheduler is set: nothing uses it"),
    ({"min_epochs": 1, "scheduler": "none"}, r"`min_epochs` \(1\) .* no scheduler is set.*"
                                             r"leave it out \(min_epochs=None\)"),
    ({"eta": 2}, r"`eta` \(2\) is the reduction factor of scheduler asha or hyperband, and no "
                 r"scheduler is set: .*set a scheduler \(asha or hyperband\)"),
    ({"eta": 9, "scheduler": "median"}, r"`eta` \(9\) is the reduction factor of scheduler "
                                        r"asha or hyperband; scheduler 'median' has none.*"
                                        r"\(eta=None\)"),  # Python's words
    ({"eta": 2, "scheduler": MedianRule()}, r"`eta` \(2\) .* scheduler MedianRule is a rule "
                                            r"object, which keeps its own: it has none"),
    ({"min_epochs": 2, "scheduler": MedianRule()}, r"build it with min_epochs=2, and leave "
                                                   r"`min_epochs` out"),
])
def test_scheduler_settings_the_scheduler_does_not_use_are_refused(tmp_path, options, needle):
    # was: ignored without a word (max_epochs in the same place was refused)
    from lightning_nas import Search

    with pytest.raises(ConfigError, match=needle):
        SearchSettings.from_options(**options)
    with pytest.raises(ConfigError, match=needle):  # before anything is written
        Search(None, {"x": {"float": [0, 1]}}, objective=lambda arch: {"val_acc": arch["x"]},
               run_dir=tmp_path / "run", **options)
    assert not (tmp_path / "run").exists()


def test_scheduler_settings_the_scheduler_uses_are_kept():
    stopping = SearchSettings.from_options(scheduler="median", min_epochs=2).early_stopping
    assert (stopping.min_epochs, stopping.eta) == (2, None)
    stopping = SearchSettings.from_options(scheduler="hyperband", eta=2).early_stopping
    assert (stopping.min_epochs, stopping.eta) == (None, 2)
    stopping = SearchSettings.from_options(scheduler=MedianRule(), max_epochs=4).early_stopping
    assert stopping.max_epochs == 4  # the epochs the rule object's trials train


def test_a_seed_numpy_cannot_take_is_refused():
    # was: accepted, then numpy refused it after the run folder was written
    with pytest.raises(ConfigError, match=r"`seed` must be an integer from 0 to 4294967295 "
                                          r"\(2\*\*32 - 1\) or None \(null in YAML\), got "
                                          r"4294967296"):
        SearchSettings.from_options(seed=2**32)


def test_numpy_numbers_are_accepted_as_plain_ones_and_bools_are_not(tmp_path):
    # was: "`budget` must be a positive integer or null, got np.int64(3)" (a value read from
    # an array or a DataFrame); a resume must compare 3, not np.int64(3)
    import numpy as np

    from lightning_nas import Search
    from lightning_nas.store import RunStore

    numpy = {"budget": np.int64(3), "seed": np.int32(1), "keep_top_k": np.int64(2),
             "time_limit": np.float32(60.0), "max_failures": np.int64(2),
             "num_workers": np.int64(1), "threads_per_trial": np.int64(1),
             "max_params": np.float64(1e6)}
    flat = SearchSettings.from_options(**numpy, scheduler="asha", max_epochs=4,
                                       eta=np.int64(2)).flat()
    for key, value in {**numpy, "eta": 2}.items():
        assert flat[key] == value and type(flat[key]) is (
            float if isinstance(value, np.floating) else int), key
    json.dumps(flat)
    assert type(Goal(seed=np.uint8(7)).seed) is int
    for key, value in (("budget", True), ("seed", np.bool_(True)), ("time_limit", False),
                       ("keep_top_k", 2.0), ("budget", np.float64(3))):
        with pytest.raises(ConfigError, match=f"`{key}` must be"):
            SearchSettings.from_options(**{key: value})

    def objective(arch):
        return {"val_acc": arch["x"]}

    space = {"x": {"float": [0, 1]}}
    Search(None, space, objective=objective, run_dir=tmp_path, verbose=False,
           budget=np.int64(2), seed=np.int64(1)).run()
    with RunStore(tmp_path / "search.db") as store:
        stored = store.get_meta("settings")
    assert (stored["budget"], stored["seed"]) == (2, 1)
    # a resume with plain numbers is the same search (and one with NumPy's, too)
    assert len(Search(None, space, objective=objective, run_dir=tmp_path, verbose=False,
                      budget=3, seed=1).run().trials) == 3
    assert len(Search(None, space, objective=objective, run_dir=tmp_path, verbose=False,
                      budget=np.int64(3), seed=np.int64(1)).run().trials) == 3


_NONE = "None (null in YAML)"
_SEED = "must be an integer from 0 to 4294967295 (2**32 - 1)"


def _python_search(**options):
    from lightning_nas.search.facade import Search
    from tests.helpers import BlobData, TinyNet

    return Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData(), run_dir="unused",
                  **options)


def _yaml_search(**block):
    from lightning_nas.search.from_config import search_from_config

    return search_from_config({"model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
                               "search": {"space": {"width": {"choice": [4, 8]}},
                                          "run_dir": "unused", **block}})


_SAID = [
    ({"budget": 0}, "`budget` must be a positive integer or {null}, got 0"),
    ({"time_limit": -1}, "`time_limit` must be a positive number or {null}, got -1"),
    ({"seed": -1}, f"`seed` {_SEED} or {{null}}, got -1"),
    ({"devices_per_trial": 0}, "`devices_per_trial` must be a positive integer or {null}, got 0"),
    ({"eta": 1, "scheduler": "asha"}, "`eta` must be an integer >= 2 or {null}, got 1"),
    ({"time_limit": float("inf")}, "`time_limit` must be a finite number of seconds, got inf; "
                                   "{null} is no time limit, beside a `budget`"),
    ({"objectives": {"val_acc": "max"}, "mode": "min"},
     "mode='min' disagrees with the first objective (val_acc: max), which is the monitor; "
     "leave monitor and mode out or set them to {null}, or list the objectives with the "
     "monitor first"),
]


@pytest.mark.parametrize(("options", "said"), _SAID)
@pytest.mark.parametrize("build", [SearchSettings.from_options, _python_search])
def test_from_python_a_setting_that_may_be_none_says_none(build, options, said):
    # was: "`budget` must be a positive integer or null, got 0" to Search(budget=0), YAML's
    # word to a caller from Python (the one-shot side says errors.PYTHON_NULL)
    with pytest.raises(ConfigError) as err:
        build(**options)
    assert str(err.value) == said.format(null=_NONE)


@pytest.mark.parametrize(("options", "said"), _SAID)
def test_from_a_config_a_setting_that_may_be_null_says_null(options, said):
    with pytest.raises(ConfigError) as err:
        _yaml_search(**options)
    assert str(err.value) == said.format(null="null")
    # and the word is the config's only while it is read: Python's again after
    with pytest.raises(ConfigError, match=re.escape(f"or {_NONE}, got 0")):
        SearchSettings.from_options(budget=0)


def _from_config(tmp_path: Path, **search: object) -> None:
    """A config's ``search:`` block with ``search`` read as ``lightning-nas search`` reads
    it (``search_from_config``); its settings' errors say a config's words."""
    from lightning_nas.search.from_config import search_from_config

    search_from_config({
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 1,
                   "run_dir": str(tmp_path / "run"), **search}})


@pytest.mark.parametrize(("options", "python", "config"), [
    ({"verbose": 3}, "`verbose` must be True or False, got 3",
     "`verbose` must be true or false, got 3"),
    ({"progress": "yes"}, "`progress` can be True, False, 'auto'; got 'yes'",
     "`progress` can be true, false, auto; got 'yes'"),
])
def test_a_flag_is_refused_in_the_words_of_its_caller(tmp_path, options, python, config):
    # was: "`verbose` must be true or false" (YAML's words) from Python too
    with pytest.raises(ConfigError) as info:
        SearchSettings.from_options(**options)
    assert str(info.value) == python
    with pytest.raises(ConfigError) as info:
        _from_config(tmp_path, **options)
    assert str(info.value) == config
    assert not (tmp_path / "run").exists()


def test_a_scheduler_setting_left_unused_is_cleared_in_the_words_of_its_caller(tmp_path):
    # was: "--search.min_epochs=null" (a command line's words) from Python too
    with pytest.raises(ConfigError) as info:
        SearchSettings.from_options(scheduler="median", eta=3)
    assert str(info.value).endswith("leave it out (eta=None), or use scheduler asha or "
                                    "hyperband"), info.value
    with pytest.raises(ConfigError) as info:
        SearchSettings.from_options(min_epochs=2, eta=3)
    assert str(info.value).endswith("leave them out (min_epochs=None, eta=None), or set a "
                                    "scheduler (asha or hyperband)"), info.value
    assert "--search" not in str(info.value) and "null" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        _from_config(tmp_path, scheduler="median", eta=3)
    assert str(info.value).endswith("leave it out (a file's: --search.eta=null), or use "
                                    "scheduler asha or hyperband"), info.value
    with pytest.raises(ConfigError) as info:
        _from_config(tmp_path, min_epochs=2, eta=3)
    assert str(info.value).endswith("leave them out (a file's, when the command line turns "
                                    "the scheduler off: --search.min_epochs=null "
                                    "--search.eta=null), or set a scheduler (asha or "
                                    "hyperband)"), info.value
    assert not (tmp_path / "run").exists()
