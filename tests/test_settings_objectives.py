"""``SearchSettings``' objectives, monitor and mode: the first objective sets monitor and
mode, a monitor's mode from its name (or asked for where its name says none), and costs
refused as the first objective or the monitor before training."""

from __future__ import annotations

import re

import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.search.objectives import Objectives
from lightning_nas.search.setting_groups import Goal
from lightning_nas.search.settings import SearchSettings
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


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
    # (a search that trains checks it: Search's __init__, an objective= search's does not)
    with pytest.raises(ConfigError, match=r"'params' is counted, not logged: list a logged "
                                          r"metric first, e\.g\. objectives=\{\"val_acc\": "
                                          r"\"max\", \"params\": \"min\"\}"):
        SearchSettings.from_options(objectives={"params": "min",
                                                "val_acc": "max"}).goal.check_counted()


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
            SearchSettings.from_options(monitor=cost, mode=mode).goal.check_counted()


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


@pytest.mark.parametrize("cost", ["params", "flops"])
def test_an_objective_search_takes_a_cost_name_first_as_what_the_function_returns(
        cost, tmp_path):
    # an objective= search counts nothing: `params` is a name its function returns (was:
    # refused, "'params' is counted, not logged: list a logged metric first")
    def objective(arch):
        return {cost: float(arch["w"]), "acc": arch["w"] / 10}

    space = {"w": {"choice": [1, 2, 3]}}
    for goal in ({"objectives": {cost: "min", "acc": "max"}},
                 {"monitor": cost, "mode": "min"}):
        result = Search(None, space, objective=objective, budget=3, verbose=False,
                        run_dir=tmp_path / f"{cost}-{len(goal)}", **goal).run()
        assert (result.monitor, result.mode) == (cost, "min")
        assert result.best.arch == {"w": 1} and result.best.score == 1.0, goal
    # a search that trains a model still refuses it, before anything is written
    for goal in ({"objectives": {cost: "min", "val_acc": "max"}}, {"monitor": cost}):
        with pytest.raises(ConfigError, match=rf"'{cost}'`? is counted, not logged"):
            Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData,
                   run_dir=tmp_path / "model", **goal)
    assert not (tmp_path / "model").exists()
