"""Bad input to the bundled search config (examples/digits/search.yaml), one change at a time:
each is refused before anything trains, in one line that names the bad key or value and
lists the valid ones (was: a message that gave the wrong reason or listed nothing).

None of these tests trains: every error comes from ``--print_config``, which runs every
check of a search before training.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.cli import main

torch.set_num_threads(1)

DIGITS = Path(__file__).resolve().parents[1] / "examples" / "digits" / "search.yaml"
KINDS = "choice, ordered, int, float, fixed"


def _refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict,
             *overrides: str) -> str:
    """The one-line error of ``lightning-nas search --print_config`` for the digits config
    with ``change`` made to its ``search.space`` (exit status 2, nothing written)."""
    cfg = yaml.safe_load(DIGITS.read_text())
    cfg["search"]["run_dir"] = str(tmp_path / "run")
    cfg["search"]["space"].update(change)
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["search", str(path), "--print_config", *overrides]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()
    return err


@pytest.mark.parametrize("bounds, where", [([float("nan"), 0.03], "low"),
                                           ([1e-3, float("nan")], "high")])
def test_a_nan_bound_is_named_as_nan(tmp_path, capsys, bounds, where):
    # was: "space key 'lr': `float` needs low < high, got [nan, 0.03]" (the bounds were not
    # out of order: NaN compares false with everything)
    err = _refusal(tmp_path, capsys, {"lr": {"float": bounds, "log": True}})
    assert f"space key 'lr': `float` {where} bound must be finite, got nan" in err
    assert "low < high" not in err


def test_an_empty_space_entry_lists_the_kinds(tmp_path, capsys):
    # was: "a search space at 'kernel_size' must be a non-empty mapping, got {}" (no kind
    # named: the entry read as an empty group)
    err = _refusal(tmp_path, capsys, {"kernel_size": {}})
    assert "space key 'kernel_size'" in err and KINDS in err, err
    assert "got {}" in err


def test_an_empty_entry_in_a_group_names_its_path(tmp_path, capsys):
    err = _refusal(tmp_path, capsys, {}, "--search.space.head={w: {}}")
    assert "space key 'head.w'" in err and KINDS in err, err


def test_an_empty_space_is_said_empty_not_missing(tmp_path, capsys):
    # was: "the config needs `search.space` (a mapping, or a path to a YAML file): add a
    # `search:` block with a `space`, ..." for a config that has both, the space empty
    err = _refusal(tmp_path, capsys, {}, "--search.space={}")
    assert "`search.space` is empty" in err and KINDS in err, err
    assert "add a `search:` block" not in err


LIGHTNINGCLI = DIGITS.parents[1] / "lightningcli"


@pytest.mark.parametrize("override, key", [
    ("--search.space={modle.net.lin1_size: {choice: [32]}}", "modle.net.lin1_size"),
    # an override's dots make groups: the key checked is the group 'modle'
    ("--search.space.modle.net.lin1_size={choice: [32]}", "modle"),
])
def test_a_misspelt_section_of_a_dotted_space_key_is_named(tmp_path, capsys, override, key):
    # was: "space key 'modle.net.lin1_size' is not an argument of LitClassifier.__init__;
    # accepted: net, optimizer", nothing on the section the path should start with
    code = main(["search", str(LIGHTNINGCLI / "train.yaml"), str(LIGHTNINGCLI / "search.yaml"),
                 override, f"--search.run_dir={tmp_path / 'run'}", "--print_config"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0, err
    assert f"space key '{key}' is not an argument of LitClassifier.__init__" in err, err
    assert "did you mean 'model" in err and "model., data., trainer." in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("words", [["--trainer.max_epochs="], ["--search.run_dir="],
                                   ["--trainer.max_epochs", ""], ["--search.seed=  "]])
def test_an_override_without_a_value_is_refused_not_read_as_null(tmp_path, capsys, words):
    # was: taken as null, silently: --trainer.max_epochs= trained Lightning's default 1000
    # epochs a trial, --search.run_dir= (an unset $RUN) wrote runs/<config name>
    code = main(["search", str(DIGITS), *words, "--search.budget=1", "--print_config"])
    err = capsys.readouterr().err.strip()
    key = words[0].split("=")[0]
    assert code == 2 and err.count("\n") == 0, err
    assert f"override {key}" in err and f"{key}=null" in err and "''" in err, err


@pytest.mark.parametrize("key", ["model.dropout", "trainer.num_nodes", "data.batch_size",
                                 "optimizer.lr"])
def test_an_empty_override_outside_the_search_block_does_not_call_null_a_default(capsys, key):
    # was: "--trainer.num_nodes=null for null, which a setting reads as its default": the
    # argument gets None, which its annotation refuses ("trainer.num_nodes=None: expected
    # int"), and a Trainer argument whose default is None (max_epochs) trains Lightning's
    # 1000 epochs; what keeps the config's value is leaving the override out
    code = main(["search", str(DIGITS), f"--{key}=", "--print_config"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0, err
    assert "reads as its default" not in err, err
    assert f"leave --{key} out for the config's value" in err, err
    assert f"--{key}=null passes null (None)" in err and f"--{key}=''" in err, err


@pytest.mark.parametrize(("key", "default"), [
    ("monitor", "val_acc"), ("optimizer", "SurrogateEvolution"), ("max_failures", "5"),
    ("keep_top_k", "3"), ("num_workers", "1"), ("executor", "auto"), ("verbose", "true"),
    ("progress", "auto"), ("retrain_top_k", "0"), ("budget", "20")])
def test_an_empty_override_of_a_setting_without_null_names_its_default(capsys, key, default):
    # was: "--search.verbose=null for null, which a setting reads as its default", which
    # the setting then refused ("`verbose` must be true or false, got None")
    code = main(["search", str(DIGITS), f"--search.{key}=", "--print_config"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0, err
    assert f"--search.{key}={default} for its default" in err, err
    assert (f"--search.{key}=null" in err) == (key == "budget"), err  # beside a time_limit


def test_the_settings_an_empty_override_says_take_no_null_are_those_that_refuse_it():
    # the hint's table (config/overrides.py) is the search settings': each refuses null
    # and has the default it names; every other setting takes null
    from lightning_nas.config.overrides import NO_NULL
    from lightning_nas.errors import ConfigError
    from lightning_nas.search.settings import SearchSettings

    defaults = SearchSettings().flat()
    for key in SearchSettings.keys():
        refused = False
        try:
            SearchSettings.from_options(**{key: None})
        except ConfigError:
            refused = True
        assert refused == (key in NO_NULL), key
        if refused:
            assert yaml.safe_load(NO_NULL[key]) == defaults[key], key


@pytest.mark.parametrize("value, shown", [("null", "None"), ("3", "3"), ("''", "''")])
def test_a_monitor_that_names_no_metric_says_what_to_give(tmp_path, capsys, value, shown):
    # was: "`monitor` must name a logged metric, got None": no example, nor that leaving it
    # out gives the default
    code = main(["search", str(DIGITS), f"--search.monitor={value}",
                 f"--search.run_dir={tmp_path / 'run'}", "--print_config"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0, err
    assert f"`monitor` must name a logged metric, got {shown}" in err, err
    assert "such as 'val_acc' or 'val_loss'" in err and "leave it out for 'val_acc'" in err, err


@pytest.mark.parametrize(("key", "options", "said"), [
    ("kernel_size", [3, "3", 5], "3 and '3' (both 3 for its annotation int)"),
    ("lr", [1, 1.0], "1 and 1.0 (both 1.0 for its annotation float)"),
    ("stride", ["2", 1, 2], "'2' and 2 (both 2 for its annotation int)")])
def test_choice_options_an_annotation_converts_to_one_value_are_refused(tmp_path, capsys,
                                                                       key, options, said):
    # was: taken as two options: a trial of '3' built the model of 3 (jsonargparse reads
    # the text as the int) and stored '3', a trial of the budget spent on a duplicate
    err = _refusal(tmp_path, capsys, {key: {"choice": options}})
    assert f"space key {key!r}: the choice options {said}" in err, err
    assert "keep one" in err, err


def test_choice_options_of_a_class_searched_from_python_are_compared_as_converted(tmp_path):
    # the same from Python: a model class's arguments are converted as jsonargparse would
    from examples.digits.data import DigitsDataModule
    from examples.digits.model import DigitsCNN
    from lightning_nas import Search
    from lightning_nas.errors import ConfigError

    with pytest.raises(ConfigError, match=r"space key 'kernel_size': the choice options 3 "
                                          r"and '3' \(both 3 for its annotation int\)"):
        Search(DigitsCNN, {"kernel_size": {"choice": [3, "3"]}, "stride": {"choice": [1, 2]}},
               data=DigitsDataModule, run_dir=tmp_path / "run", budget=2)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("options", "said"), [
    ([32, "32-true"], "32 and '32-true' (both '32-true' as Lightning takes them)"),
    (["bf16-mixed", "bf16"], "'bf16-mixed' and 'bf16' (both 'bf16-mixed' as Lightning"),
])
def test_choice_options_of_a_trainer_argument_lightning_takes_as_one_are_refused(
        tmp_path, capsys, options, said):
    # was: taken as two options: trial 3's precision '32-true' trained trial 1's model
    # (of 32) again, the store keeping two architectures that are one
    err = _refusal(tmp_path, capsys, {"trainer.precision": {"choice": options}})
    assert f"space key 'trainer.precision': the choice options {said}" in err, err
    assert "keep one" in err, err


def test_choice_options_inside_a_group_an_annotation_converts_to_one_value_are_refused(
        tmp_path, capsys):
    # a group at a config's node (model.net: {lin1_size: ...}) sets the node's arguments
    # as a dotted key does, so its options are compared alike (was: not compared, trial 2
    # of lin1_size '32' trained trial 1's model of 32 again)
    example = DIGITS.parents[1] / "lightningcli"
    cfg = yaml.safe_load((example / "search.yaml").read_text())
    cfg["search"]["run_dir"] = str(tmp_path / "run")
    cfg["search"]["space"] = {"model.net": {"lin1_size": {"choice": [32, "32", 64]}},
                              "data.batch_size": {"choice": [32, 64]}}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["search", str(example / "train.yaml"), str(path), "--print_config"]) == 2
    err = capsys.readouterr().err.strip()
    assert "space key 'model.net.lin1_size': the choice options 32 and '32' (both 32 for " \
           "its annotation int)" in err, err
    assert not (tmp_path / "run").exists()
