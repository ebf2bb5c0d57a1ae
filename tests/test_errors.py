"""``lightning_nas.errors``: one error family, and messages that name the bad key."""

from __future__ import annotations

import pytest

import lightning_nas
from lightning_nas.errors import (
    MODES,
    ConfigError,
    MonitorError,
    NASError,
    SearchError,
    SpaceError,
    check_mode,
    did_you_mean,
    unknown,
)


@pytest.mark.parametrize("kind", [ConfigError, SpaceError, SearchError, MonitorError])
def test_every_kind_is_a_nas_error(kind):
    assert issubclass(kind, NASError)
    assert issubclass(kind, Exception)
    with pytest.raises(NASError, match="boom"):
        raise kind("boom")


def test_kinds_are_distinct():
    kinds = {ConfigError, SpaceError, SearchError, MonitorError}
    assert len(kinds) == 4
    assert not issubclass(ConfigError, SpaceError)
    assert not issubclass(SpaceError, ConfigError)


def test_public_nas_error_is_the_same_class():
    assert lightning_nas.NASError is NASError


def test_unknown_names_key_closest_match_and_valid_keys():
    err = unknown("search setting", "budgt", ["budget", "seed", "mode"])
    assert isinstance(err, ConfigError)
    text = str(err)
    assert text.startswith("unknown search setting 'budgt'")
    assert "did you mean 'budget'?" in text
    assert text.endswith("valid keys: budget, seed, mode")


def test_unknown_without_a_close_match_lists_the_valid_keys_only():
    text = str(unknown("executor", "zzzzzz", ("inline", "process")))
    assert "did you mean" not in text
    assert "'zzzzzz'" in text
    assert "valid keys: inline, process" in text


def test_unknown_takes_the_error_kind_and_any_iterable():
    err = unknown("parameter", "widht", iter(["width", "depth"]), error=SpaceError)
    assert type(err) is SpaceError
    assert "did you mean 'width'?" in str(err)
    assert "valid keys: width, depth" in str(err)


@pytest.mark.parametrize("mode", ["max", "min"])
def test_check_mode_passes_max_and_min(mode):
    assert check_mode(mode) == mode


@pytest.mark.parametrize("bad", ["maximum", "MAX", "", None, 1])
def test_check_mode_names_the_bad_value(bad):
    with pytest.raises(ConfigError) as info:
        check_mode(bad)
    assert repr(bad) in str(info.value)
    assert "max, min" in str(info.value)


def test_check_mode_names_the_setting():
    with pytest.raises(ConfigError, match=r"`objective_mode` can be max, min; got 'up'"):
        check_mode("up", name="objective_mode")


def test_modes():
    assert MODES == ("max", "min")


def test_did_you_mean():
    assert did_you_mean("budgt", ["budget", "seed"]) == "did you mean 'budget'? "
    assert did_you_mean("sed", ["budget", "seed"]) == "did you mean 'seed'? "
    assert did_you_mean("xyz", ["budget", "seed"]) == ""
    assert did_you_mean("budget", []) == ""
    # non-string keys and choices are compared as text
    assert did_you_mean(12, [13, 120]) in ("did you mean '13'? ", "did you mean '120'? ")


def test_unknown_lists_valid_values_where_the_bad_name_is_a_value():
    assert str(unknown("tau_schedule", "lin", ("exponential", "linear"), listing="values")) == \
        "unknown tau_schedule 'lin'; did you mean 'linear'? valid values: exponential, linear"


def _value_errors():
    """Each check of a name that is a value (no key), and the message it must give."""
    from lightning_nas.module import NASModule
    from lightning_nas.oneshot.differentiable import DifferentiableNAS
    from lightning_nas.oneshot.setting_checks import check_algorithm
    from lightning_nas.oneshot.wrapped import optimizer_class
    from tests.helpers_nets import TinySupernet, build_mlp

    return [
        (lambda: check_algorithm({"algorithm": "sops"}),
         "unknown oneshot algorithm 'sops'; did you mean 'spos'? valid algorithms: spos, "
         "darts, gdas"),
        (lambda: DifferentiableNAS(TinySupernet(), algorithm="drats"),
         "unknown algorithm 'drats'; did you mean 'darts'? valid algorithms: darts, gdas"),
        (lambda: DifferentiableNAS(TinySupernet(), gradient_clip_algorithm="nrom"),
         "unknown gradient_clip_algorithm 'nrom'; did you mean 'norm'? valid values: norm, "
         "value"),
        (lambda: DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_schedule="lin"),
         "unknown tau_schedule 'lin'; did you mean 'linear'? valid values: exponential, linear"),
        (lambda: DifferentiableNAS(TinySupernet(), loss="msee"),
         "unknown loss 'msee'; did you mean 'mse'? valid losses: "),
        (lambda: optimizer_class("adm"),
         "unknown optimizer 'adm'; did you mean 'adam'? valid optimizers: "),
        (lambda: NASModule(build_mlp, arch={"width": 4}, metrics=["acuracy"], num_classes=3),
         "unknown metric 'acuracy'; did you mean 'accuracy'? valid metrics: accuracy, f1, "),
        (lambda: NASModule(build_mlp, arch={"width": 4}, loss="msee"),
         "unknown loss 'msee'; did you mean 'mse'? valid losses: "),
        (lambda: NASModule(build_mlp, arch={"width": 4}, task="multiclas",
                           metrics=["accuracy"], num_classes=3),
         "unknown task 'multiclas'; did you mean 'multiclass'? valid tasks: binary, "
         "multiclass, multilabel"),
    ]


@pytest.mark.parametrize("index", range(9))
def test_a_misspelt_value_lists_the_valid_values_not_keys(index):
    # was: "valid keys: darts, gdas" (a value called a key), or a bare "valid: ..."
    make, message = _value_errors()[index]
    with pytest.raises(ConfigError) as info:
        make()
    assert str(info.value).startswith(message), str(info.value)


def test_did_you_mean_reads_a_name_in_other_case_as_the_name():
    # was: "unknown oneshot algorithm 'DARTS'; valid algorithms: ..." with no suggestion
    # (difflib compares case: 'DARTS' and 'darts' share no character)
    assert did_you_mean("DARTS", ["spos", "darts", "gdas"]) == "did you mean 'darts'? "
    assert did_you_mean("Max_Epochs", ["max_epochs", "max_steps"]) == \
        "did you mean 'max_epochs'? "
    assert did_you_mean("ngopt", ["NGOpt", "NGO"]) == "did you mean 'NGOpt'? "
    assert did_you_mean("DARTZ", ["spos", "darts", "gdas"]) == "did you mean 'darts'? "
    assert did_you_mean("xyz", ["spos", "darts"]) == ""


@pytest.mark.parametrize(("mode", "meant"), [("maximize", "max"), ("MAX", "max"), ("mx", "max"),
                                             ("Minimum", "min"), ("minimise", "min")])
def test_check_mode_says_did_you_mean_as_the_one_shot_side(mode, meant):
    # was: "`objective_mode` can be max, min; got 'maximize'", no did-you-mean (the one-shot
    # side's errors.mode_hint says it)
    with pytest.raises(ConfigError) as info:
        check_mode(mode, name="objective_mode")
    assert str(info.value) == (f"`objective_mode` can be max, min; got {mode!r}: did you mean "
                               f"{meant!r}?")


def _search(**options):
    from lightning_nas.search.facade import Search
    from tests.helpers import BlobData, TinyNet

    return Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData(), run_dir="unused",
                  **options)


def _yaml(**block):
    from lightning_nas.search.from_config import search_from_config

    return search_from_config({"model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
                               "search": {"space": {"width": {"choice": [4, 8]}},
                                          "run_dir": "unused", **block}})


def _reporter(mode):
    from lightning_nas.search.callbacks import TrialReporter

    return TrialReporter("val_acc", mode=mode)


def _pruning(mode):
    from lightning_nas.search.pruning import PruningCallback
    from lightning_nas.search.schedulers import MedianRule

    return PruningCallback(MedianRule(), mode=mode)


@pytest.mark.parametrize(("build", "said"), [
    (lambda: _search(mode="maximize"), "`mode` can be max, min; got 'maximize'"),
    (lambda: _search(objectives={"val_acc": "MAX"}), "`objectives.val_acc` can be max, min; "
                                                     "got 'MAX'"),
    (lambda: _yaml(mode="maximize"), "`mode` can be max, min; got 'maximize'"),
    (lambda: _yaml(objectives={"val_acc": "maximum"}), "`objectives.val_acc` can be max, min; "
                                                       "got 'maximum'"),
    (lambda: _reporter("maximize"), "`mode` can be max, min; got 'maximize'"),
    (lambda: _pruning("maximize"), "`mode` can be max, min; got 'maximize'"),
])
def test_every_search_entry_point_lists_the_modes_with_did_you_mean(build, said):
    # was: "`mode` can be max, min; got 'maximize'" from Search(mode=...), YAML's search.mode
    # and search.objectives, TrialReporter and PruningCallback: no did-you-mean
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value) == f"{said}: did you mean 'max'?"
