"""Tests of ``lightning_nas.config``: LightningCLI-shaped configs, overrides and their checks.

Covers ``apply_overrides`` (both override forms, YAML-typed values, the ``init_args``
shorthand, errors), ``load_config`` (space given as a YAML file beside the config) and every
error ``search_from_config`` raises before any training, plus the seed default.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch.cli import LRSchedulerCallable

from lightning_nas.cli import main
from lightning_nas.config.instantiate import instantiate
from lightning_nas.config.load import apply_overrides, load_config
from lightning_nas.errors import ConfigError, NASError
from lightning_nas.search.facade import Search
from lightning_nas.search.from_config import search_from_config
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import CallableOptNet, TinyNet
from tests.helpers_nets import Body

BASE = {
    "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"lr": 0.1}},
    "search": {"budget": 3},
}


def _config(run_dir: Path) -> dict:
    return {
        "seed_everything": 7,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"lr": 0.1}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}},
        "trainer": {"max_epochs": 1, "limit_train_batches": 1},
        "search": {"space": {"width": {"choice": [4, 8]}, "activation": {"choice": ["relu",
                                                                                 "tanh"]}},
                   "budget": 2, "run_dir": str(run_dir), "verbose": False},
    }


# ---------------------------------------------------------------- apply_overrides
def test_override_forms_and_yaml_types():
    cfg = apply_overrides(BASE, [
        "--search.budget=5", "--trainer.max_epochs", "2", "--search.time_limit=1.5",
        "--trainer.devices=[0, 1]", "--trainer.fast_dev_run=true", "--search.mode", "min",
        "--search.space.w", "{choice: [1, 2]}",
    ])
    assert cfg["search"]["budget"] == 5
    assert cfg["trainer"]["max_epochs"] == 2 and isinstance(cfg["trainer"]["max_epochs"], int)
    assert cfg["search"]["time_limit"] == 1.5
    assert cfg["trainer"]["devices"] == [0, 1]
    assert cfg["trainer"]["fast_dev_run"] is True
    assert cfg["search"]["mode"] == "min"
    assert cfg["search"]["space"] == {"w": {"choice": [1, 2]}}
    assert BASE == {"model": {"class_path": "tests.helpers.TinyNet", "init_args": {"lr": 0.1}},
                    "search": {"budget": 3}}  # the input is not changed


def test_override_value_may_hold_an_equals_sign():
    cfg = apply_overrides({}, ["--search.run_dir=runs/a=b"])
    assert cfg["search"]["run_dir"] == "runs/a=b"


def test_override_exponent_is_a_float():
    cfg = apply_overrides(BASE, ["--model.lr=1e-4"])
    assert cfg["model"]["init_args"]["lr"] == 1e-4


def test_lightning_cli_shorthand_goes_into_init_args():
    cfg = apply_overrides(BASE, ["--model.width=64", "--model.init_args.depth=2"])
    assert cfg["model"]["init_args"] == {"lr": 0.1, "width": 64, "depth": 2}
    assert "width" not in cfg["model"]
    cfg = apply_overrides(BASE, ["--model.class_path=tests.helpers.Other"])
    assert cfg["model"] == {"class_path": "tests.helpers.Other", "init_args": {"lr": 0.1}}
    cfg = apply_overrides({}, ["--data.class_path=tests.helpers.BlobData", "--data.n=32"])
    assert cfg["data"] == {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}}


def test_override_unknown_section():
    with pytest.raises(ConfigError) as info:
        apply_overrides(BASE, ["--modle.width=64"])
    msg = str(info.value)
    assert "unknown config section 'modle'" in msg and "did you mean 'model'" in msg
    assert "trainer" in msg and "seed_everything" in msg


@pytest.mark.parametrize("section", ["model", "data"])
def test_an_override_under_a_section_given_as_a_class_path_keeps_the_class(section):
    # `model: my.Net` is the class alone; --model.depth=2 sets its argument (was: the
    # class silently dropped, the section replaced by {depth: 2})
    cfg = apply_overrides({section: "tests.helpers.TinyNet"}, [f"--{section}.depth=2"])
    assert cfg[section] == {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 2}}


@pytest.mark.parametrize("given, override, path", [
    ({"search": [1]}, "--search.budget=3", "search: [1]"),
    ({"trainer": 5}, "--trainer.max_epochs=1", "trainer: 5"),
    ({"search": {"budget": 2}}, "--search.budget.x=3", "search.budget: 2"),
    ({"model": {"class_path": "m.N", "init_args": {"w": [1, 2]}}}, "--model.w.a=3",
     "model.w: [1, 2]"),
    # a setting of the search or oneshot block named by a string is no class: was "`optimizer`
    # must be a registry name, got {'class_path': 'NGOpt', 'init_args': {'budget': 3}}"
    ({"search": {"optimizer": "NGOpt"}}, "--search.optimizer.budget=3",
     "search.optimizer: 'NGOpt'"),
    ({"oneshot": {"algorithm": "spos"}}, "--oneshot.algorithm.tau=1", "oneshot.algorithm: 'spos'"),
])
def test_an_override_through_a_value_that_is_no_mapping_is_refused(given, override, path):
    # was: the value silently replaced by a mapping of the override alone
    with pytest.raises(ConfigError) as info:
        apply_overrides(given, [override])
    assert str(info.value).startswith(f"{override.split('=')[0]}: the config gives {path}, ")


def test_override_without_value():
    for args in (["--search.budget"], ["--search.budget", "--search.mode=min"]):
        with pytest.raises(ConfigError, match="'--search.budget' has no value"):
            apply_overrides(BASE, args)
    with pytest.raises(ConfigError, match="expected an override like"):
        apply_overrides(BASE, ["search.budget=3"])


def test_a_trainer_object_named_by_its_class_is_a_node_as_lightningcli_reads_it(tmp_path):
    # was: "trainer.callbacks='LearningRateMonitor': expected list[Callback] or Callback or
    # null", from the command line or a file, though += took the same name
    cfg = _config(tmp_path / "run")
    cfg["trainer"]["logger"] = "lightning.pytorch.loggers.CSVLogger"  # in the file
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_config(path, ["--trainer.callbacks=[LearningRateMonitor, ModelSummary]",
                                f"--trainer.logger.save_dir={tmp_path / 'csv'}"])
    assert loaded["trainer"]["callbacks"] == [
        {"class_path": "LearningRateMonitor", "init_args": {}},
        {"class_path": "ModelSummary", "init_args": {}}]
    assert loaded["trainer"]["logger"] == {"class_path": "lightning.pytorch.loggers.CSVLogger",
                                           "init_args": {"save_dir": str(tmp_path / "csv")}}
    assert load_config(path, ["--trainer.callbacks=LearningRateMonitor"])["trainer"][
        "callbacks"] == {"class_path": "LearningRateMonitor", "init_args": {}}
    result = search_from_config(loaded).run()  # the trials train with them
    assert [t.status.value for t in result.trials] == ["COMPLETED"] * 2
    logs = sorted((tmp_path / "csv" / "trials").rglob("metrics.csv"))  # the CSVLogger's
    assert len(logs) == 2 and "lr-SGD" in logs[0].read_text().splitlines()[0]
    # a string that names no class stays a string, for the Trainer's check to name
    with pytest.raises(ConfigError, match=r"trainer.callbacks='NoSuchCallback': expected"):
        search_from_config(load_config(path, ["--trainer.callbacks=NoSuchCallback"]))


def test_a_misspelt_trainer_callback_class_is_answered_with_close_names(tmp_path):
    # was: "expected list[Callback] or Callback or null (the annotation of Trainer)", with
    # no word of LearningRateMonitor
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path / "run")))
    for given in ("LearningRateMonitr", "[ModelSummary, LearningRateMonitr]"):
        with pytest.raises(ConfigError, match=r"expected list\[Callback\] or Callback or null "
                                              r"\(the annotation of Trainer\); did you mean "
                                              r"LearningRateMonitor\b"):
            search_from_config(load_config(path, [f"--trainer.callbacks={given}"]))
    with pytest.raises(ConfigError) as info:  # nothing close: no guess
        search_from_config(load_config(path, ["--trainer.callbacks=NoSuchCallback"]))
    assert "did you mean" not in str(info.value)


def test_a_list_append_override_appends_as_lightningcli(tmp_path, capsys):
    # was: "unknown Trainer argument 'callbacks+'; did you mean 'callbacks'?" for
    # LightningCLI's --trainer.callbacks+=LearningRateMonitor
    cfg = _config(tmp_path / "run")
    cfg["trainer"]["callbacks"] = [{"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                                    "init_args": {"monitor": "val_acc", "mode": "max"}}]
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_config(path, ["--trainer.callbacks+=LearningRateMonitor",
                                "--trainer.callbacks+=[{class_path: ModelSummary, init_args: "
                                "{max_depth: 2}}]", "--trainer.logger+=CSVLogger"])
    assert loaded["trainer"]["callbacks"] == [
        cfg["trainer"]["callbacks"][0], {"class_path": "LearningRateMonitor", "init_args": {}},
        {"class_path": "ModelSummary", "init_args": {"max_depth": 2}}]
    assert loaded["trainer"]["logger"] == [{"class_path": "CSVLogger", "init_args": {}}]
    result = search_from_config(loaded).run()  # the trials train with them
    assert [t.status.value for t in result.trials] == ["COMPLETED"] * 2
    logs = (tmp_path / "run" / "logs" / "trials" / "trial_0001" / "metrics.csv").read_text()
    assert "lr-SGD" in logs.splitlines()[0]  # LearningRateMonitor's
    with pytest.raises(ConfigError, match=r"--trainer.logger\+=: trainer.logger is False, "
                                          r"not a list to append to; give the whole value"):
        apply_overrides({"trainer": {"logger": False}}, ["--trainer.logger+=CSVLogger"])
    # a string appended to a list of strings stays one (was: Adam became a class_path
    # node), and a lone string is a list of it (warm_start: one folder)
    assert apply_overrides({"model": {"names": ["SGD"]}, "search": {"warm_start": "runs/a"}},
                           ["--model.names+=Adam", "--search.warm_start+=runs/b"]) == {
        "model": {"names": ["SGD", "Adam"]}, "search": {"warm_start": ["runs/a", "runs/b"]}}
    # a fine-tune's --trainer.* values replace the search's: an append is refused, named
    assert main(["finetune", str(tmp_path / "run"), "--trainer.callbacks+=ModelSummary"]) == 2
    assert ("finetune cannot append to the search's trainer.callbacks "
            "(--trainer.callbacks+=)") in capsys.readouterr().err


# ---------------------------------------------------------------- load_config
def test_load_config_space_file_relative_to_the_config(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "space.yaml").write_text("width: {choice: [4, 8]}\nlr: {float: [1e-4, 1e-1]}\n")
    cfg = _config(tmp_path / "run")
    cfg["search"]["space"] = "space.yaml"
    (folder / "nas.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(tmp_path)  # the space file is not in the current folder
    loaded = load_config(folder / "nas.yaml", ["--search.budget=4"])
    assert loaded["search"]["space"]["width"] == {"choice": [4, 8]}
    assert loaded["search"]["budget"] == 4
    search = search_from_config(loaded)
    assert search.space.size() == float("inf")
    assert search.space.params["lr"].low == 1e-4
    # a second config merged over it: still beside the file that names it (was: looked
    # for beside the second one only, "not found")
    (tmp_path / "over.yaml").write_text("search: {budget: 5}\n")
    merged = load_config([folder / "nas.yaml", tmp_path / "over.yaml"])
    assert merged["search"]["space"]["width"] == {"choice": [4, 8]}


def test_a_space_file_a_config_names_is_read_beside_it_not_from_the_current_folder(
        tmp_path, monkeypatch, capsys):
    # was: read from the current folder first: with a space.yaml there, another space was
    # searched without a word, though the README says "relative to the config that names it"
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "space.yaml").write_text("width: {choice: [4, 8]}\n")
    (tmp_path / "space.yaml").write_text("width: {choice: [64, 128]}\n")
    cfg = _config(tmp_path / "run")
    cfg["search"]["space"] = "space.yaml"
    (folder / "nas.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(tmp_path)
    assert load_config(Path("conf/nas.yaml"))["search"]["space"] == {
        "width": {"choice": [4, 8]}}
    assert main(["search", "conf/nas.yaml", "--print_config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["search"]["space"] == {
        "width": {"choice": [4, 8]}}
    # one an override names is the current folder's, as the shell reads it
    assert load_config(Path("conf/nas.yaml"), ["--search.space=space.yaml"])["search"][
        "space"] == {"width": {"choice": [64, 128]}}
    # the config's file missing beside it: refused as that path, the current folder's unread
    (folder / "space.yaml").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"search.space file {folder / 'space.yaml'} not found")):
        load_config(Path("conf/nas.yaml"))
    assert not (tmp_path / "run").exists()


def test_a_space_file_that_holds_no_mapping_is_refused_naming_it(tmp_path, capsys):
    # was: a file holding a string ('other.yaml', 'hi') was read as the name of another space
    # file ("search.space file hi not found"), an empty one as no space at all ("the config
    # needs `search.space`"), a list as "a search space must be ..." without the file's name
    cfg = _config(tmp_path / "run")
    cfg["search"]["space"] = "space.yaml"
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    for text, shown in (("hi\n", "'hi'"), ("", "None"), ("- 1\n- 2\n", "[1, 2]"),
                        ("{}\n", "{}")):
        (tmp_path / "space.yaml").write_text(text)
        assert main(["search", str(tmp_path / "nas.yaml")]) == 2
        assert (f"search.space file {tmp_path / 'space.yaml'} must hold a non-empty mapping "
                f"of space keys (width: {{choice: [16, 32]}}), got {shown}") in \
            capsys.readouterr().err, text
    (tmp_path / "space.yaml").unlink()
    (tmp_path / "space.yaml").mkdir()  # was: "not found", of a folder that is there
    assert main(["search", str(tmp_path / "nas.yaml")]) == 2
    assert (f"search.space file {tmp_path / 'space.yaml'} is a folder") in \
        capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override", ["--model.head.hidden=99", "--model.init_args.head.q=7"])
def test_an_override_inside_a_searched_group_is_refused(tmp_path, override):
    # the group's value replaced the config's whole dict: both overrides were lost
    cfg = _config(tmp_path / "run")
    cfg["search"]["space"] = {"head": {"hidden": {"choice": [2, 3]}, "p": {"fixed": 0.5}}}
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="sets a key inside 'head', which the search space "
                                          "gives every trial as a whole") as info:
        load_config(path, [override])
    inner, value = override.rsplit(".", 1)[1].split("=")
    assert f"--search.space.head.{inner}={{fixed: {value}}}" in str(info.value)


@pytest.mark.parametrize(("model", "space", "where", "keys", "fix"), [
    ({"class_path": "tests.helpers.DictArgNet", "init_args": {"opt_cfg": {
        "momentum": 0.9, "nesterov": True}}}, {"opt_cfg": {"momentum": {"choice": [0.5, 0.8]}}},
     "model.init_args.opt_cfg", "the key nesterov", ["--search.space.opt_cfg.nesterov={fixed: "
                                                     "true}"]),
    ({"class_path": "tests.helpers.DictArgNet", "init_args": {"opt_cfg": {
        "momentum": 0.9, "nesterov": True, "dampening": 0.0}}},  # (a Hydra node's: merged,
     {"model.opt_cfg": {"nesterov": {"fixed": True}}}, "model.init_args.opt_cfg",  # kept:
     "the keys momentum, dampening", ["--search.space.model.opt_cfg.momentum={fixed: 0.9}",
                                      "--search.space.model.opt_cfg.dampening={fixed: 0.0}"]),
    # test_choice_mappings)
    # a dict inside the group's dict, and a dict argument of a node a group at the node sets
    ({"class_path": "tests.helpers.DictArgNet", "init_args": {"opt_cfg": {
        "sub": {"a": 1, "b": 2}}}}, {"opt_cfg": {"sub": {"a": {"fixed": 3}}}},
     "model.init_args.opt_cfg", "the key sub.b", ["--search.space.opt_cfg.sub.b={fixed: 2}"]),
    ({"class_path": "tests.helpers.TinyNet", "init_args": {"net": {
        "class_path": "tests.helpers.DictArgNet", "init_args": {"opt_cfg": {"nesterov": True}}}}},
     {"model.net": {"opt_cfg": {"momentum": {"fixed": 0.5}}}},
     "model.init_args.net.init_args.opt_cfg", "the key nesterov",
     ["--search.space.model.net.opt_cfg.nesterov={fixed: true}"]),
])
def test_a_config_dict_with_keys_its_searched_group_does_not_set_is_refused(
        tmp_path, model, space, where, keys, fix):
    # was: the group's value replaced the config's dict whole, so these keys were gone from
    # every trial (and best_config.yaml, the checkpoint) without a word
    cfg = _config(tmp_path / "run")
    cfg["model"], cfg["search"]["space"] = model, space
    base, search = tmp_path / "base.yaml", tmp_path / "search.yaml"  # merged before the check
    base.write_text(yaml.safe_dump({k: v for k, v in cfg.items() if k != "search"},
                                   sort_keys=False))
    search.write_text(yaml.safe_dump({"search": cfg["search"]}))
    with pytest.raises(ConfigError) as info:
        load_config([base, search])
    message = str(info.value)
    assert message.startswith(f"{where} has {keys}, which the search space's group "
                              f"{next(iter(space))!r} does not set: the group gives every "
                              f"trial {where} as a whole, so ")
    them = "it" if len(fix) == 1 else "them"
    assert f"({' '.join(fix)})" in message and f"else leave {them} out of {where}" in message
    fixed = load_config([base, search], fix)  # the fix it names loads
    assert fixed["search"]["space"][next(iter(space))] != space[next(iter(space))]


def test_a_searched_group_that_sets_every_key_of_the_config_dict_loads(tmp_path):
    cfg = _config(tmp_path / "run")
    cfg["model"] = {"class_path": "tests.helpers.DictArgNet", "init_args": {"opt_cfg": {
        "momentum": 0.9, "nesterov": True}}}
    cfg["search"]["space"] = {"opt_cfg": {"momentum": {"choice": [0.5, 0.8]},
                                          "nesterov": {"choice": [True, False]}}}
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert load_config(path)["model"] == cfg["model"]
    # a key set by a parameter (a chosen dict) is given whole, as documented: not refused
    cfg["search"]["space"] = {"model.opt_cfg": {"choice": [{"momentum": 0.5}]}}
    path.write_text(yaml.safe_dump(cfg))
    assert load_config(path)["search"]["space"] == cfg["search"]["space"]


def test_load_config_default_run_dir_and_errors(tmp_path):
    path = tmp_path / "exp1.yaml"
    cfg = _config(tmp_path / "run")
    del cfg["search"]["run_dir"]
    path.write_text(yaml.safe_dump(cfg))
    assert load_config(path)["search"]["run_dir"] == "runs/exp1"
    cfg["search"]["space"] = "missing_space.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(FileNotFoundError, match="missing_space.yaml"):
        load_config(path)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "nope.yaml")
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(path)


# ---------------------------------------------------------------- search_from_config
def test_search_from_config_builds_a_search(tmp_path):
    run_dir = tmp_path / "run"
    search = search_from_config(_config(run_dir))
    assert isinstance(search, Search)
    assert search.model.target is TinyNet and search.model.init_args == {"lr": 0.1}
    assert search.data.target is BlobData and search.data.init_args == {"n": 32}
    assert search.trainer == {"max_epochs": 1, "limit_train_batches": 1}
    assert search.settings.goal.budget == 2 and search.run_dir == run_dir
    assert search.space.names() == ["width", "activation"]
    assert search.settings.goal.seed == 7  # from seed_everything
    assert not (run_dir / "trials").exists()


def test_search_seed_wins_over_seed_everything(tmp_path):
    cfg = _config(tmp_path / "run")
    cfg["search"]["seed"] = 3
    assert search_from_config(cfg).settings.goal.seed == 3
    del cfg["seed_everything"], cfg["search"]["seed"]
    assert search_from_config(cfg).settings.goal.seed == 0


def test_a_seed_everything_out_of_range_is_refused_beside_a_search_seed(tmp_path):
    # was: search.seed wins, and seed_everything -5 was ignored without a word (refused
    # where it is the seed)
    for value in (-5, 2**32):
        cfg = _config(tmp_path / "run")
        cfg["search"]["seed"], cfg["seed_everything"] = 3, value
        with pytest.raises(ConfigError, match="seed_everything"):
            search_from_config(cfg)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("block, goal", [
    ({}, ("val_acc", "max", None)),
    ({"monitor": "val_loss"}, ("val_loss", "min", None)),  # was: max, the highest loss won
    ({"monitor": "val_loss", "mode": "max"}, ("val_loss", "max", None)),
    # was: refused, "monitor='val_acc', mode='max' disagrees with the first objective"
    ({"objectives": {"val_loss": "min", "params": "min"}}, ("val_loss", "min", ["val_loss",
                                                                              "params"])),
    # was: refused, "monitor=None, mode=None disagrees" (a file's monitor nulled on the
    # command line, as the error said to leave them out)
    ({"monitor": None, "mode": None, "objectives": {"val_loss": "min", "params": "min"}},
     ("val_loss", "min", ["val_loss", "params"])),
])
def test_the_search_blocks_goal_is_what_it_gives(tmp_path, block, goal):
    cfg = _config(tmp_path / "run")
    cfg["search"].update(block)
    settings = search_from_config(cfg).settings.goal
    names = None if settings.objectives is None else settings.objectives.names
    assert (settings.monitor, settings.mode, names) == goal
    cfg["search"]["monitor"] = "val_score"  # its name says no mode: refused, not taken as max
    cfg["search"].pop("mode", None), cfg["search"].pop("objectives", None)
    with pytest.raises(ConfigError, match=r"`monitor: 'val_score'` needs a `mode`"):
        search_from_config(cfg)


def _broken(tmp_path: Path, change) -> tuple[str, Path]:
    cfg = copy.deepcopy(_config(tmp_path / "run"))
    change(cfg)
    with pytest.raises(NASError) as info:
        search_from_config(cfg)
    return str(info.value), tmp_path / "run"


@pytest.mark.parametrize(("change", "needles"), [
    (lambda c: c["search"].update(budgt=3),
     ["unknown search setting 'budgt'", "did you mean 'budget'"]),
    (lambda c: c["search"].pop("space"), ["search.space"]),
    (lambda c: c.pop("model"), ["needs `model`"]),
    (lambda c: c.update(trainr={}), ["unknown config section 'trainr'", "'trainer'"]),
    (lambda c: c["search"].update(optimizer="NGOp"), ["unknown optimizer 'NGOp'", "NGOpt"]),
    (lambda c: c["search"].update(optimizer="RandomSerch"), ["RandomSearch"]),
    (lambda c: c["trainer"].update(max_epoch=1),
     ["unknown Trainer argument 'max_epoch'", "max_epochs"]),
    (lambda c: c["search"]["space"].update(num_layers={"choice": [1, 2]}),
     ["'num_layers'", "TinyNet.__init__", "width, activation, lr, depth"]),
    (lambda c: c["model"].update(init_arg={}), ["model: unknown key 'init_arg'"]),
    (lambda c: c["search"]["space"].update(k={"choise": [3, 5]}),
     ["unknown space kind 'choise'"]),
    (lambda c: c["search"].update(mode="maximum"), ["mode"]),
])
def test_search_from_config_errors_before_training(tmp_path, change, needles):
    msg, run_dir = _broken(tmp_path, change)
    for needle in needles:
        assert needle in msg
    assert not (run_dir / "trials").exists()
    assert not (run_dir / "search.db").exists()


def test_seed_everything_true_picks_a_seed_and_an_int_is_used(tmp_path):
    base = {"model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
            "search": {"space": {"width": {"choice": [4, 8]}}, "run_dir": str(tmp_path)}}
    assert search_from_config({**base, "seed_everything": 11}).settings.goal.seed == 11
    seed = search_from_config({**base, "seed_everything": True}).settings.goal.seed
    assert isinstance(seed, int) and not isinstance(seed, bool)
    # was: seeded with 0, though LightningCLI (and `lightning-nas fit`) read false as none
    assert search_from_config({**base, "seed_everything": False}).settings.goal.seed is None
    assert search_from_config({**base, "seed_everything": False, "search": {
        **base["search"], "seed": 3}}).settings.goal.seed == 3
    assert search_from_config(base).settings.goal.seed == 0
    # a run an older version made with seed_everything false (seeded with 0) resumes with it
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("settings", {"seed": 0})
    assert search_from_config({**base, "seed_everything": False}).settings.goal.seed == 0


def test_a_seed_out_of_range_names_the_key_the_user_wrote(tmp_path):
    # was: "`seed` must be an integer >= 0 or null, got -1" for --seed_everything=-1 (no
    # search.seed: the search's seed is seed_everything's)
    path = tmp_path / "exp.yaml"
    cfg = _config(tmp_path / "run")
    path.write_text(yaml.safe_dump(cfg))
    # (was: "an integer >= 0 or null", "below 2**32": the range whole, true and false now)
    valid = "must be an integer from 0 to 4294967295 (2**32 - 1)"
    for value in (-1, 2**32):
        with pytest.raises(ConfigError, match=re.escape(
                f"`seed_everything` {valid}, true (a drawn seed) or false (no seeding), got "
                f"{value}")):
            search_from_config(load_config(path, [f"--seed_everything={value}"]))
        with pytest.raises(ConfigError, match=re.escape(f"`seed` {valid} or null, got {value}")):
            search_from_config(load_config(path, [f"--search.seed={value}"]))
    assert not (tmp_path / "run").exists()
    assert search_from_config(load_config(path, ["--seed_everything=3"])).settings.goal.seed == 3


def test_a_null_run_dir_is_the_documented_default(tmp_path):
    # was: runs/nas (and runs/oneshot) for --search.run_dir=null, not runs/<config name>
    path = tmp_path / "exp2.yaml"
    cfg = _config(tmp_path / "run")
    path.write_text(yaml.safe_dump(cfg))
    assert load_config(path, ["--search.run_dir=null"])["search"]["run_dir"] == "runs/exp2"
    cfg["search"]["run_dir"] = None
    path.write_text(yaml.safe_dump(cfg))
    assert load_config(path)["search"]["run_dir"] == "runs/exp2"
    assert search_from_config(load_config(path)).settings.run_dir == Path("runs/exp2")
    oneshot = {k: v for k, v in cfg.items() if k != "search"}
    path.write_text(yaml.safe_dump({**oneshot, "oneshot": {"run_dir": None}}))
    assert load_config(path)["oneshot"]["run_dir"] == "runs/exp2"


def test_a_config_lightningcli_wrote_is_taken_and_its_unsupported_keys_refused(tmp_path):
    # was: "unknown config section 'optimizer'" for the null keys LightningCLI writes
    # (fit --print_config, every run's config.yaml)
    written = {**_config(tmp_path), "optimizer": None, "lr_scheduler": None,
               "ckpt_path": None, "weights_only": None}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(written))
    cfg = load_config(path)
    assert not {"optimizer", "lr_scheduler", "ckpt_path", "weights_only"} & set(cfg)
    assert search_from_config(cfg).settings.goal.budget == 2
    with pytest.raises(ConfigError, match=r"`ckpt_path: 'last.ckpt'` is the checkpoint "
                                          r"LightningCLI's fit resumes from.*leave it null"):
        load_config(path, ["--ckpt_path=last.ckpt"])
    adam = {"class_path": "torch.optim.Adam"}
    path.write_text(yaml.safe_dump({**written, "optimizer": adam}))  # a search applies it
    assert load_config(path)["optimizer"] == {**adam, "init_args": {}}  # (test_cli_optimizer)
    oneshot = {k: v for k, v in written.items() if k != "search"}  # a supernet: its own
    path.write_text(yaml.safe_dump({**oneshot, "oneshot": {}, "optimizer": adam}))
    with pytest.raises(ConfigError, match="automatic configure_optimizers.*give the model"):
        load_config(path)


def test_seed_everything_true_resumes_with_the_seed_its_run_drew(tmp_path):
    # was: each invocation drew another seed, so the same command with a larger budget (or
    # after a crash) was refused: "search.seed: 1754834900, now 990750371"
    cfg = {**_config(tmp_path), "seed_everything": True}
    cfg["search"]["budget"] = 1
    first = search_from_config(cfg)
    first.run()
    cfg["search"]["budget"] = 2
    again = search_from_config(cfg)
    assert again.settings.goal.seed == first.settings.goal.seed
    assert len(again.run().trials) == 2  # resumed: one more trial


# ---------------------------------------------------------------- issue 11: found before training
@pytest.mark.parametrize(("text", "where"), [
    ("model: tests.helpers.TinyNet\nsearch: {budget: [3}\n", ":2:20: expected ',' or ']'"),
    ("model:\n  class_path: tests.helpers.TinyNet\n init_args: {}\n", ":3:2: expected <block end>"),
    ("model:\n\tclass_path: tests.helpers.TinyNet\n", ":2:1: found character '\\t'"),
])
def test_yaml_syntax_error_names_file_line_and_column(tmp_path, text, where):
    path = tmp_path / "nas.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}{where}") and "\n" not in str(info.value)


def test_yaml_syntax_error_of_an_override_or_a_space_file(tmp_path):
    with pytest.raises(ConfigError, match=r"^--search\.space\.width:1:15: expected ',' or ']'"):
        apply_overrides(BASE, ["--search.space.width={choice: [4, 8}"])
    cfg = _config(tmp_path / "run")
    cfg["search"]["space"] = "space.yaml"
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "space.yaml").write_text("width: {choice: [4, 8]}\nlr: {float: [1, 2}\n")
    with pytest.raises(ConfigError, match=r"space\.yaml:2:18: expected ',' or ']'"):
        load_config(tmp_path / "nas.yaml")


def test_empty_space_path_and_folder_config_are_errors_not_tracebacks(tmp_path):
    cfg = _config(tmp_path / "run")
    cfg["search"]["space"] = ""
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="needs `search.space`"):
        search_from_config(load_config(tmp_path / "nas.yaml"))
    with pytest.raises(FileNotFoundError, match="is a folder"):
        load_config(tmp_path)


@pytest.mark.parametrize(("change", "needles"), [
    (lambda c: c.update(seed_everything="abc"), ["`seed_everything`", "'abc'"]),
    (lambda c: c.update(search=[1]), ["`search` must be a mapping"]),
    (lambda c: c["search"].update(constraints=3), ["`constraints`", "got 3"]),
    (lambda c: c["search"].update(constraints=["tests.helpers.nope"]),
     ["search.constraints[0]='tests.helpers.nope'", "no attribute 'nope'"]),
    (lambda c: c["search"].update(constraints=[{"class_path": "tests.helpers.CrashAt",
                                                "init_args": {"epochz": 1}}]),
     ["search.constraints[0]=", "epochz: not an argument of CrashAt; did you mean 'epoch'? "
      "it takes ['epoch', 'batch']"]),
    # was: "constraints must be callables arch -> bool/float, got 3.14159...", unnamed, and
    # a cost limit written as a constraint got no word of max_params / max_flops
    (lambda c: c["search"].update(constraints=["math.pi"]),
     ["search.constraints[0]='math.pi' is no callable arch -> bool: give an import path"]),
    (lambda c: c["search"].update(constraints={"params": 1000}),
     ["search.constraints[0]={'params': 1000} is no callable arch -> bool",
      "a limit on a cost is max_params or max_flops, beside constraints"]),
    (lambda c: c["search"].update(max_params=True), ["`max_params`", "got True"]),
    (lambda c: c["model"]["init_args"].update(lr="abc"),
     ["model.lr='abc': expected float", "TinyNet.__init__"]),
    (lambda c: c["data"]["init_args"].update(n=[1]), ["data.n=[1]: expected int"]),
    (lambda c: c["data"]["init_args"].update(batch_sise=3),
     ["data.batch_sise: not an argument of BlobData", "did you mean 'batch_size'"]),
    (lambda c: c["trainer"].update(max_epochs="abc"),
     ["trainer.max_epochs='abc': expected int or null"]),
    (lambda c: c["trainer"].update(accelerator="tpu"), ["trainer.accelerator='tpu'", "torch_xla"]),
    (lambda c: c["model"].update(class_path="tests.helpers.TinyNett"),
     ["model='tests.helpers.TinyNett'", "close names: TinyNet"]),
    (lambda c: c["search"]["space"].update({"trainer.max_epoch": {"choice": [1, 2]}}),
     ["space key 'trainer.max_epoch' is not a Trainer argument; did you mean "
      "'trainer.max_epochs'?"]),
])
def test_more_errors_before_training(tmp_path, change, needles):
    msg, run_dir = _broken(tmp_path, change)
    for needle in needles:
        assert needle in msg
    assert not run_dir.exists()


def _lightningcli(tmp_path: Path, net: dict, optimizer: dict) -> dict:
    return {"model": {"class_path": "examples.lightningcli.model.LitClassifier",
                      "init_args": {"net": {"class_path": "examples.lightningcli.model.MLP",
                                            "init_args": net},
                                    "optimizer": {"class_path": "torch.optim.Adam",
                                                  "init_args": optimizer}}},
            "data": {"class_path": "examples.digits.data.DigitsDataModule"},
            "trainer": {"max_epochs": 1},
            "search": {"space": {"model.net.lin1_size": {"choice": [32, 64]}},
                       "run_dir": str(tmp_path / "run")}}


@pytest.mark.parametrize(("net", "optimizer", "pattern"), [
    ({}, {"lr": 0.01, "betaz": [0.9, 0.99]},
     r"^model\.optimizer\.betaz: not an argument of Adam.__init__; did you mean 'betas'"),
    ({"dropout": "abc"}, {}, r"^model\.net\.dropout='abc': expected float \(the annotation of "
                            r"MLP.__init__\)"),
    ({"dropout": 5.0}, {}, r"^model\.net\.dropout=5\.0: ValueError: dropout probability has to "
                          r"be between 0 and 1, but got 5\.0; found building the model"),
    # was: `float | Tensor` took any string (a Tensor "cannot be told"), so every trial
    # failed in its first step ("'<' not supported between 'str' and 'float'")
    ({}, {"lr": "fast"}, r"^model\.optimizer\.lr='fast': expected float or Tensor"),
])
def test_paths_into_nested_objects_are_checked_and_blamed(tmp_path, net, optimizer, pattern):
    with pytest.raises(ConfigError, match=pattern):
        search_from_config(_lightningcli(tmp_path, net, optimizer))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("fixed", "space"), [
    (0.01, {}),  # the learning rate written where the optimizer goes
    (None, {"model.optimizer": {"choice": [{"class_path": "torch.optim.SGD"}, 0.1]}}),
])
def test_a_number_for_an_optimizer_callable_is_refused_before_training(tmp_path, fixed, space):
    # was: taken (a Callable "cannot be told"), so every trial failed in configure_optimizers
    # ("'float' object is not callable") after the run folder was written
    cfg = _lightningcli(tmp_path, {}, {})
    if fixed is not None:
        cfg["model"]["init_args"]["optimizer"] = fixed
    cfg["search"]["space"].update(space)
    with pytest.raises(ConfigError, match=r"model\.optimizer=0\.0?1: expected "
                                          r"Callable\[\[Iterable\], Optimizer\]"):
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("section", ["model", "data"])
def test_a_section_that_builds_no_module_blames_no_argument(tmp_path, section):
    # was: "data.batch_size=32: TypeError: ... returned partial": the blame rebuilt the
    # section without the type check that failed, so leaving out any argument "worked"
    cfg = {"model": {"_target_": "tests.helpers.TinyNet", "width": 8},
           "data": {"_target_": "tests.helpers.BlobData", "batch_size": 32},
           "trainer": {"max_epochs": 1},
           "search": {"space": {"model.lr": {"choice": [0.05, 0.1]}},
                      "run_dir": str(tmp_path / "run")}}
    cfg[section]["_partial_"] = True
    kind = {"model": "LightningModule", "data": "LightningDataModule"}[section]
    with pytest.raises(ConfigError, match=rf"^{section} \(for model\.lr=.*\): TypeError: .* "
                                          rf"returned partial \(a functools.partial: the "
                                          rf"section's `_partial_: true` makes one.*\), "
                                          rf"expected a {kind}"):
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("section", "pattern"), [
    ({"class_path": "tests.helpers.ClassesNet"},
     r"^model \(for model\.[a-z.]+=[0-9.]+\): ClassesNet: the config does not give "
     r"required argument 'num_classes'; set "
     r"model.init_args.num_classes \(on the command line: --model.init_args.num_classes=\.\.\.; "
     r"the link_arguments of your own LightningCLI are not "
     r"applied: README, LightningCLI configs, 'Not taken from a LightningCLI project'\)"),
    ({"class_path": "examples.lightningcli.model.LitClassifier",  # built as LightningCLI does
      "init_args": {"optimizer": {"class_path": "torch.optim.SGD"}}},
     r"^model \(for model\.[a-z.]+=[0-9.]+\): LitClassifier: the config does not give "
     r"required argument 'net'; set "
     r"model.init_args.net \(on the command line: --model.init_args.net=\.\.\.; the "
     r"link_arguments"),
    ({"_target_": "tests.helpers.ClassesNet"},
     r"^model \(for model\.[a-z.]+=[0-9.]+\): ClassesNet: the config does not give "
     r"required argument 'num_classes'; set "
     r"model.num_classes; found"),
])
def test_a_required_model_argument_left_out_names_where_to_set_it(tmp_path, section, pattern):
    # was: "if it is to be called later ... add `_partial_: true` to its node", and with it
    # the section was refused: "returned partial (...) drop `_partial_`"
    cfg = _config(tmp_path / "run")
    cfg["model"] = section
    cfg["search"]["space"] = {"model.optimizer.lr" if "optimizer" in str(section) else
                              "model.lr": {"choice": [0.05, 0.1]}}
    with pytest.raises(ConfigError, match=pattern) as info:
        search_from_config(cfg)
    assert "_partial_" not in str(info.value)
    assert not (tmp_path / "run").exists()


def test_a_space_key_may_spell_out_its_init_args_levels(tmp_path):
    # was: 'init_args' is not an argument of LitClassifier, though the init_args level is one
    # a path *may* leave out (LightningCLI's own overrides take both spellings)
    cfg = _lightningcli(tmp_path, {}, {"lr": 0.01})
    cfg["trainer"].update(limit_train_batches=2, limit_val_batches=1, enable_checkpointing=False)
    cfg["search"].update(budget=2, optimizer="RandomSearch", space={
        "model.init_args.net.init_args.lin1_size": {"choice": [32, 64]},
        "model.init_args.optimizer.init_args.lr": {"float": [0.001, 0.1], "log": True}})
    result = search_from_config(cfg).run()
    best = result.best
    exported = yaml.safe_load((tmp_path / "run" / "best_config.yaml").read_text())
    net = exported["model"]["init_args"]["net"]["init_args"]
    assert net["lin1_size"] == best.arch["model.init_args.net.init_args.lin1_size"]
    optimizer = exported["model"]["init_args"]["optimizer"]["init_args"]
    assert optimizer["lr"] == best.arch["model.init_args.optimizer.init_args.lr"]


def test_a_group_at_a_node_sets_the_nodes_arguments(tmp_path):
    # was: the group's values replaced the whole node with a plain dict, so `net` was a dict
    # and every trial failed ("'dict' object is not callable") after the checks had passed
    cfg = _lightningcli(tmp_path, {"lin2_size": 16}, {"lr": 0.01})
    cfg["trainer"].update(limit_train_batches=2, limit_val_batches=1, enable_checkpointing=False)
    cfg["search"].update(budget=2, optimizer="RandomSearch", space={
        "model.net": {"lin1_size": {"choice": [32, 64]}, "dropout": {"float": [0.0, 0.5]}}})
    result = search_from_config(cfg).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]
    exported = yaml.safe_load((tmp_path / "run" / "best_config.yaml").read_text())
    net = exported["model"]["init_args"]["net"]
    assert net == {"class_path": "examples.lightningcli.model.MLP",
                   "init_args": {"lin2_size": 16, **result.best.arch["model.net"]}}
    cfg["search"]["space"] = {"model.net": {"lin1_sze": {"choice": [32, 64]}}}
    cfg["search"]["run_dir"] = str(tmp_path / "typo")
    with pytest.raises(ConfigError, match="lin1_sze"):
        search_from_config(cfg).run()
    assert not (tmp_path / "typo").exists()


def test_a_class_given_as_a_bare_import_path_is_built_as_lightningcli_builds_it(tmp_path):
    # was: the string went to the model as is ("'str' object is not callable" in every trial
    # and in `fit`), and a key under it replaced it with a plain dict
    path = tmp_path / "train.yaml"
    cfg = _lightningcli(tmp_path, {}, {})
    cfg["model"]["init_args"] = {"net": "examples.lightningcli.model.MLP",
                                 "optimizer": "torch.optim.Adam"}
    cfg["trainer"].update(limit_train_batches=2, limit_val_batches=1, enable_checkpointing=False)
    cfg["search"].update(budget=2, optimizer="RandomSearch",
                         space={"model.net.lin1_size": {"choice": [32, 64]}})
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_config(path, ["--model.net.lin2_size=16"])
    assert loaded["model"]["init_args"]["net"] == {
        "class_path": "examples.lightningcli.model.MLP", "init_args": {"lin2_size": 16}}
    assert loaded["model"]["init_args"]["optimizer"] == {"class_path": "torch.optim.Adam",
                                                         "init_args": {}}
    result = search_from_config(loaded).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]
    exported = yaml.safe_load((tmp_path / "run" / "best_config.yaml").read_text())
    assert exported["model"]["init_args"]["net"]["init_args"] == {
        "lin2_size": 16, "lin1_size": result.best.arch["model.net.lin1_size"]}


def test_a_subclass_passes_its_kwargs_arguments_on_as_lightningcli_builds_them(tmp_path):
    # was: under a subclass taking them through **kwargs, an OptimizerCallable's class_path
    # was built at once ("SGD: the config does not give required argument 'params'") and a
    # bare import path went to the model as a string ("'str' object is not callable")
    path = tmp_path / "train.yaml"
    cfg = _config(tmp_path / "run")
    cfg["model"] = {"class_path": "tests.helpers.KwargsCallableOptNet", "init_args": {
        "net": "torch.nn.Identity",
        "optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.1}}}}
    cfg["search"].update(space={"model.extra": {"choice": [0, 1]}}, optimizer="RandomSearch")
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_config(path)
    assert loaded["model"]["init_args"]["net"] == {"class_path": "torch.nn.Identity",
                                                   "init_args": {}}
    model = instantiate(loaded["model"], "model")
    assert isinstance(model.net, torch.nn.Identity)
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["lr"] == 0.1
    assert optimizer.param_groups[0]["params"] == list(model.parameters())
    result = search_from_config(loaded).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]


KW_BODY = "tests.helpers.KwBody"


def _net_config(run_dir: Path, space: dict) -> dict:
    cfg = _config(run_dir)
    cfg["model"] = {"class_path": "tests.helpers.CallableOptNet",
                    "init_args": {"net": {"class_path": KW_BODY}}}
    cfg["search"]["space"] = space
    return cfg


@pytest.mark.parametrize(("space", "message"), [
    ({"model.net.widht": {"choice": [4, 8]}},
     "space key 'model.net.widht': 'widht' is not an argument of KwBody (model.net); did you "
     "mean 'width'? accepted: extra, width, depth"),
    ({"model.net": {"choice": [{"class_path": KW_BODY, "init_args": {"width": 4}},
                               {"class_path": KW_BODY, "init_args": {"widht": 8}}]}},
     "space key 'model.net' may take {'class_path': 'tests.helpers.KwBody', 'init_args': "
     "{'widht': 8}}: model.net.widht: not an argument of KwBody.__init__ nor of a base its "
     "**kwargs passes them on to; did you mean 'width'? accepted: extra, width, depth"),
])
def test_a_misspelt_argument_a_subclass_passes_on_by_kwargs_is_named(tmp_path, space, message):
    # was: accepted (the class takes **kwargs), then "TypeError: Body.__init__() got an
    # unexpected keyword argument 'widht'" when a trial (or the dry build) built it
    with pytest.raises(ConfigError) as info:
        search_from_config(_net_config(tmp_path / "run", space))
    assert message in str(info.value)
    assert not (tmp_path / "run").exists()  # before any training


def test_a_value_a_subclass_passes_on_by_kwargs_is_checked_against_the_bases_annotation(
        tmp_path):
    # was: only KwBody.__init__'s own annotations were read, so width='wide' went to
    # Body.__init__ and failed in torch when a trial chose it
    space = {"model.net": {"choice": [{"class_path": KW_BODY, "init_args": {"width": 4}},
                                      {"class_path": KW_BODY, "init_args": {"width": "wide"}}]}}
    with pytest.raises(ConfigError, match=re.escape(
            "model.net.width='wide': expected int (the annotation of KwBody.__init__)")):
        search_from_config(_net_config(tmp_path / "run", space))
    space = {"model.net.width": {"choice": [4, 6]}, "model.net.extra": {"choice": [0, 1]}}
    result = search_from_config(_net_config(tmp_path / "ok", space)).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]


def test_a_plain_space_key_a_config_model_passes_on_by_kwargs_is_checked(tmp_path):
    # was: accepted (KwargsCallableOptNet takes **kwargs), then "CallableOptNet.__init__()
    # got an unexpected keyword argument 'nett'" in the dry build
    cfg = _net_config(tmp_path / "run", {"nett": {"choice": [None, None]}})
    cfg["model"]["class_path"] = "tests.helpers.KwargsCallableOptNet"
    cfg["search"]["space"] = {"nett": {"choice": [{"class_path": KW_BODY},
                                                  {"class_path": "torch.nn.Identity"}]}}
    with pytest.raises(ConfigError, match=re.escape(
            "space key 'nett' is not an argument of KwargsCallableOptNet.__init__; did you "
            "mean 'net'? accepted: extra, net, optimizer")):
        search_from_config(cfg)


class WideBody(Body):
    """Requires its ``width``."""

    def __init__(self, width: int) -> None:
        super().__init__(width=width)


class KwWideBody(WideBody):
    """Takes ``width`` only through ``**kwargs``, passed on to ``WideBody``, which requires it."""

    def __init__(self, extra: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)


class WideHolder(torch.nn.Module):
    """Builds a ``WideBody`` with its ``**kwargs`` (so ``width`` is required)."""

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.body = WideBody(**kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class FourWide(WideBody):
    """Gives ``WideBody`` its ``width`` itself, the rest through ``**kwargs``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(width=4, **kwargs)


class FourBody(Body):
    """Gives ``Body`` its ``width`` itself, the rest (``depth``) through ``**kwargs``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(width=4, **kwargs)


class FourDeep(Body):
    """Gives ``Body`` its first argument (``width``) by position."""

    def __init__(self, **kwargs) -> None:
        super().__init__(4, **kwargs)


GIVEN = ("FourBody.__init__ gives it to Body.__init__ itself (its super().__init__ call), so "
         "a value for it would be a second one; accepted: depth")


@pytest.mark.parametrize(("space", "message"), [
    ({"model.net.width": {"choice": [4, 8]}},
     f"space key 'model.net.width': 'width' is not an argument of FourBody (model.net); "
     f"{GIVEN}"),
    ({"model.net": {"choice": [{"class_path": "tests.test_config.FourBody"},
                               {"class_path": "tests.test_config.FourBody",
                                "init_args": {"width": 8}}]}},
     f"model.net.width: not an argument of FourBody.__init__ nor of a base its **kwargs "
     f"passes them on to; {GIVEN}"),
])
def test_an_argument_a_subclass_gives_its_base_itself_is_refused(tmp_path, space, message):
    # was: FourBody (super().__init__(width=4, **kwargs)) took `width` from the config, then
    # "Body.__init__() got multiple values for keyword argument 'width'" building a trial's
    # model (a choice option's: in the trial that chose it)
    cfg = _net_config(tmp_path / "run", space)
    cfg["model"]["init_args"]["net"] = {"class_path": "tests.test_config.FourBody"}
    with pytest.raises(ConfigError, match=re.escape(message)):
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()


def test_a_python_call_takes_no_argument_a_subclass_gives_its_base_itself():
    from lightning_nas.config.chain import init_kwargs

    assert init_kwargs(FourBody) == (["depth"], False)  # as LightningCLI, and as Python
    assert init_kwargs(FourBody, forwarded=True) == (["depth"], False)  # calls it (Hydra)
    assert init_kwargs(FourDeep) == (["depth"], False)  # given by position: width
    assert init_kwargs(FourWide) == ([], False)
    with pytest.raises(ConfigError, match=re.escape(
            "space key 'width' is not an argument of FourTiny.__init__ nor of a base its "
            "**kwargs passes them on to; FourTiny.__init__ gives it to TinyNet.__init__ itself")):
        Search(FourTiny, {"width": {"choice": [4, 8]}}, data=BlobData)


class FourTiny(TinyNet):
    """``TinyNet`` of width 4, given by its ``super().__init__`` call."""

    def __init__(self, **kwargs) -> None:
        super().__init__(width=4, **kwargs)


class SchedNet(CallableOptNet):
    """``CallableOptNet`` with a learning-rate scheduler, LightningCLI's
    ``LRSchedulerCallable`` (``optimizer -> scheduler``)."""

    def __init__(self, scheduler: LRSchedulerCallable | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scheduler = scheduler

    def configure_optimizers(self):
        optimizer = self.optimizer(self.parameters())
        return [optimizer], [self.scheduler(optimizer)] if self.scheduler else []


STEP, COSINE = "torch.optim.lr_scheduler.StepLR", "torch.optim.lr_scheduler.CosineAnnealingLR"


@pytest.mark.parametrize(("space", "message"), [
    ({"model.scheduler": {"choice": [{"class_path": STEP, "init_args": {"step_size": 1}},
                                     {"class_path": COSINE}]}},
     f"space key 'model.scheduler' may take {{'class_path': '{COSINE}'}}: model.scheduler: "
     f"CosineAnnealingLR lacks required argument 'T_max' (the node gives none), and building "
     f"it would fail; set model.scheduler.init_args.T_max"),
    ({"model.net": {"choice": [{"class_path": KW_BODY},
                               {"class_path": "tests.test_config.WideBody"}]}},
     "space key 'model.net' may take {'class_path': 'tests.test_config.WideBody'}: model.net: "
     "WideBody lacks required argument 'width' (the node gives none), and building it would "
     "fail; set model.net.init_args.width; or, if it is to be called later"),
])
def test_a_choice_option_whose_class_lacks_a_required_argument_is_refused_before_training(
        tmp_path, space, message):
    # was: accepted; the trial that chose it failed ("CosineAnnealingLR.__init__() missing 1
    # required positional argument: 'T_max'")
    cfg = _net_config(tmp_path / "run", space)
    cfg["model"]["class_path"] = "tests.test_config.SchedNet"
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert message in str(info.value)


@pytest.mark.parametrize("cls", ["KwWideBody", "WideHolder"])
def test_a_required_argument_passed_on_by_kwargs_is_asked_of_a_choice_option(tmp_path, cls):
    # was: accepted (the class's own __init__ requires nothing), then "WideBody.__init__()
    # missing 1 required positional argument: 'width'" in the trial that chose it
    path = f"tests.test_config.{cls}"
    space = {"model.net": {"choice": [{"class_path": KW_BODY}, {"class_path": path}]}}
    with pytest.raises(ConfigError) as info:
        search_from_config(_net_config(tmp_path / "run", space))
    assert (f"space key 'model.net' may take {{'class_path': '{path}'}}: model.net: {cls} "
            f"lacks required argument 'width' (the node gives none; its **kwargs passes "
            f"'width' on to a base or a class it builds, which requires it, as LightningCLI "
            f"finds), and building it would fail; set model.net.init_args.width") \
        in str(info.value)
    assert not (tmp_path / "run").exists()  # before any training


class ArgsSGD(torch.optim.SGD):
    """Passes ``*args`` and ``**kwargs`` on to ``SGD`` (its ``params`` come positionally)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)


class ArgsStepLR(torch.optim.lr_scheduler.StepLR):
    """Passes ``*args`` and ``**kwargs`` on to ``StepLR`` (its optimizer comes first)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)


def test_a_passed_on_argument_given_later_by_position_is_not_asked():
    # an OptimizerCallable's params and an LRSchedulerCallable's optimizer come later as the
    # first positional values, which *args passes on; StepLR's step_size does not
    from lightning_nas.config.required import check_required

    net = {"class_path": "torch.nn.Identity"}
    sgd = {"class_path": "tests.test_config.ArgsSGD", "init_args": {"lr": 0.1}}
    step = {"class_path": "tests.test_config.ArgsStepLR"}
    check_required({"class_path": "tests.test_config.SchedNet", "init_args": {
        "net": net, "optimizer": sgd,
        "scheduler": {**step, "init_args": {"step_size": 1}}}}, "model")
    with pytest.raises(ConfigError, match=re.escape(
            "model.scheduler: ArgsStepLR lacks required argument 'step_size'")):
        check_required({"class_path": "tests.test_config.SchedNet", "init_args": {
            "net": net, "optimizer": sgd, "scheduler": step}}, "model")


def test_a_required_argument_a_subclass_gives_its_base_itself_is_not_asked():
    from lightning_nas.config.required import check_required

    net = {"class_path": "tests.test_config.FourWide"}  # width given by FourWide itself
    check_required({"class_path": "tests.helpers.CallableOptNet", "init_args": {"net": net}},
                   "model")
    holder = {"class_path": "tests.test_config.WideHolder", "init_args": {"width": 4}}
    check_required({"class_path": "tests.helpers.CallableOptNet", "init_args": {"net": holder}},
                   "model")
    hydra = {"_target_": "tests.test_config.KwWideBody"}  # called as Python calls it
    check_required({"_target_": "tests.helpers.CallableOptNet", "net": hydra}, "model")


def test_arguments_lightningcli_supplies_are_not_asked_of_a_choice_option(tmp_path):
    # an OptimizerCallable's params, an LRSchedulerCallable's optimizer (given when the model
    # calls them), a searched argument, one passed on by **kwargs (KwBody's width)
    space = {"model.scheduler": {"choice": [{"class_path": STEP, "init_args": {"step_size": 1}},
                                            {"class_path": COSINE, "init_args": {"T_max": 2}}]},
             "model.optimizer": {"choice": [{"class_path": "torch.optim.SGD"},
                                            {"class_path": "torch.optim.Adam"}]},
             "model.net": {"choice": [{"class_path": KW_BODY, "init_args": {"width": 4}},
                                      {"class_path": "tests.test_config.WideBody"}]},
             "model.net.width": {"choice": [4, 6]}}
    cfg = _net_config(tmp_path / "run", space)
    cfg["model"]["class_path"] = "tests.test_config.SchedNet"
    cfg["search"]["optimizer"] = "RandomSearch"
    result = search_from_config(cfg).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]


class SchedTiny(TinyNet):
    """``TinyNet`` with a learning-rate scheduler, LightningCLI's ``LRSchedulerCallable``;
    its config section holds no node."""

    def __init__(self, scheduler: LRSchedulerCallable | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scheduler = scheduler

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        return [optimizer], [self.scheduler(optimizer)] if self.scheduler else []


def test_a_plain_space_key_of_class_path_options_is_built_as_its_dotted_form(tmp_path):
    # was: a model section without nodes went through ModelFactory(class), which passed
    # each trial the option's dict: "TypeError: 'dict' object is not callable" in training
    cfg = _config(tmp_path / "run")
    cfg["model"]["class_path"] = "tests.test_config.SchedTiny"
    cfg["search"]["optimizer"] = "RandomSearch"
    cfg["search"]["space"] = {"scheduler": {"choice": [
        {"class_path": STEP, "init_args": {"step_size": 1}},
        {"class_path": "torch.optim.lr_scheduler.ExponentialLR", "init_args": {"gamma": 0.9}}]}}
    result = search_from_config(cfg).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]
    cfg["search"]["run_dir"] = str(tmp_path / "bad")  # and checked as the dotted form is
    cfg["search"]["space"]["scheduler"]["choice"][1] = {"class_path": COSINE}
    with pytest.raises(ConfigError, match=re.escape(
            "space key 'scheduler' may take {'class_path': 'torch.optim.lr_scheduler.Cosine"
            "AnnealingLR'}: model.scheduler: CosineAnnealingLR lacks required argument 'T_max'")):
        search_from_config(cfg)


def test_a_type_annotated_argument_gets_the_class_given_or_searched(tmp_path):
    # was: a given `act: torch.nn.GELU` became a class_path node, built into an instance
    # (the model got GELU(), not GELU); a searched one stayed a string
    path = tmp_path / "cfg.yaml"
    cfg = _config(tmp_path / "run")
    cfg["model"] = {"class_path": "tests.helpers.ActNet",
                    "init_args": {"act": "torch.nn.GELU"}}
    cfg["search"]["space"] = {"width": {"choice": [4, 8]}}
    cfg["search"]["budget"] = 1
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_config(str(path))
    assert loaded["model"]["init_args"]["act"] == "torch.nn.GELU"
    assert search_from_config(loaded).run().trials[0].status.value == "COMPLETED"
    cfg["search"]["run_dir"] = str(tmp_path / "searched")
    cfg["search"]["space"] = {"act": {"choice": ["torch.nn.Tanh", "torch.nn.GELU"]}}
    cfg["search"].update(optimizer="RandomSearch", budget=2)
    result = search_from_config(cfg).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]
    expected = "expected type[Module], a subclass of Module or its import path (the annotation"
    cfg["search"]["space"]["act"]["choice"][1] = "torch.optim.SGD"
    with pytest.raises(ConfigError, match=re.escape(
            f"space key 'act' may take 'torch.optim.SGD': model.act='torch.optim.SGD': "
            f"{expected}")):
        search_from_config(cfg)
    cfg["model"]["init_args"]["act"] = "torch.nn.Gelu"
    with pytest.raises(ConfigError, match=re.escape(f"model.act='torch.nn.Gelu': {expected}")):
        search_from_config(cfg)


def test_a_class_path_node_for_a_type_argument_gives_the_class(tmp_path):
    # was: {class_path: torch.nn.GELU} at act: type[nn.Module] was built into GELU(), so the
    # model got an instance (its act() failed in every trial); one with init_args likewise
    path = tmp_path / "cfg.yaml"
    cfg = _config(tmp_path / "run")
    cfg["model"] = {"class_path": "tests.helpers.ActNet",
                    "init_args": {"act": {"class_path": "torch.nn.GELU"}}}
    cfg["search"].update(space={"width": {"choice": [4, 8]}}, budget=1)
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_config(str(path))
    assert loaded["model"]["init_args"]["act"] == "torch.nn.GELU"  # LightningCLI's form
    assert instantiate(cfg["model"], "model").net[1].__class__ is torch.nn.GELU
    assert search_from_config(cfg).run().trials[0].status.value == "COMPLETED"
    cfg["search"]["run_dir"] = str(tmp_path / "searched")
    cfg["search"].update(optimizer="RandomSearch", budget=2, space={"act": {"choice": [
        {"class_path": "torch.nn.Tanh"}, {"class_path": "torch.nn.GELU"}]}})
    result = search_from_config(cfg).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]
    cfg["search"]["space"]["act"]["choice"][1] = {"class_path": "torch.nn.GELU",
                                                  "init_args": {"approximate": "tanh"}}
    with pytest.raises(ConfigError, match=re.escape(
            "space key 'act' may take {'class_path': 'torch.nn.GELU', 'init_args': "
            "{'approximate': 'tanh'}}: model.act: its class_path node gives approximate, so "
            "building it would give an object, and the argument is annotated type[Module]: "
            "it takes a class, which the model builds; give the class by its import path "
            "(model.act: torch.nn.GELU)")):
        search_from_config(cfg)


@pytest.mark.parametrize("act", ["GELU", {"class_path": "GELU"}])
def test_a_class_name_alone_for_a_type_argument_is_refused_naming_its_import_path(tmp_path,
                                                                                  act):
    # was: "expected type[Module], ..." without the form to write (a node's: "import path
    # 'GELU' needs a module part, e.g. 'mypkg.models.GELU'"); jsonargparse refuses it too
    cfg = _config(tmp_path / "run")
    cfg["model"] = {"class_path": "tests.helpers.ActNet", "init_args": {"act": act}}
    with pytest.raises(ConfigError, match=re.escape(
            "model.act='GELU': expected type[Module], a subclass of Module or its import path "
            "(the annotation of ActNet.__init__); a class name alone is no import path "
            "(LightningCLI refuses it too): write torch.nn.GELU")):
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()


def test_type_and_typing_type_annotations_take_a_class_or_its_import_path():
    from typing import Optional, Type  # noqa: UP035 - the old spelling is taken too

    from lightning_nas.config.convert import convert
    from lightning_nas.config.instantiate import matches
    for hint in (type[torch.nn.Module], Type[torch.nn.Module],  # noqa: UP006
                 Optional[type[torch.nn.Module]]):  # noqa: UP045
        assert convert("torch.nn.GELU", hint) is torch.nn.GELU
        assert convert(torch.nn.Tanh, hint) is torch.nn.Tanh
        assert matches("torch.nn.GELU", hint) and matches(torch.nn.Tanh, hint)
        assert not matches("torch.optim.SGD", hint) and not matches(torch.optim.SGD, hint)
        assert not matches("torch.nn.Gelu", hint) and not matches(torch.nn.GELU(), hint)
    assert convert("torch.optim.SGD", type[torch.nn.Module]) == "torch.optim.SGD"  # as given


class NamedBody(torch.nn.Module):
    """Takes a ``width`` that is a name, not a number."""

    def __init__(self, width: str = "wide") -> None:
        super().__init__()


def test_another_class_keeps_the_values_its_bases_annotations_take_as_lightningcli():
    # was: a value for an argument KwBody passes on to Body was kept whatever its type
    # (Body's annotation unread), so width='wide' went on to Linear(8, 'wide'); as for an
    # argument of the class itself, a value its annotation does not take is dropped
    from lightning_nas.config.paths import merge_node

    named = {"class_path": "tests.test_config.NamedBody", "init_args": {"width": "wide"}}
    for other in ("tests.helpers.Body", KW_BODY):
        assert merge_node(named, other) == {"class_path": other, "init_args": {}}
    assert merge_node({"class_path": "tests.helpers.Body", "init_args": {"width": 4}},
                      KW_BODY) == {"class_path": KW_BODY, "init_args": {"width": 4}}


def test_a_config_for_lightningclis_top_level_config_is_read_from_its_fit_section(tmp_path):
    # was: "unknown config section 'fit'" for `python main.py --config config.yaml fit`'s
    # file, a section per subcommand
    flat = _config(tmp_path / "run")
    fit = {k: flat.pop(k) for k in ("model", "data", "trainer", "seed_everything")}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**flat, "fit": fit, "test": {"trainer": {"max_epochs": 9}}}))
    loaded = load_config(path, ["--trainer.max_epochs=1"])
    assert loaded["trainer"] == {"max_epochs": 1, "limit_train_batches": 1}
    assert "fit" not in loaded and "test" not in loaded
    assert loaded["model"] == fit["model"] and loaded["seed_everything"] == 7
    search_from_config(loaded)  # checked as the flat config is
    for part, message in (
            ({"test": {"trainer": {}}}, "config.yaml: test is the config of LightningCLI's test "
             "subcommand, and a search trains as `fit` does: give the `fit:` section, or its "
             "keys (model, data, trainer, ...) at the top level"),
            ({"fit": fit, "trainer": {}}, "config.yaml: trainer given both in `fit:` and at the "
             "top level; give each once")):
        path.write_text(yaml.safe_dump({**flat, **part}))
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(path)


@pytest.mark.parametrize(("section", "message"), [
    ({"model": {"init_args": {"lr": 0.1}}},
     "`model` names no class (keys: init_args): a LightningCLI made for a fixed class "
     "(LightningCLI(MyModel, MyData)) takes it from its code, which lightning-nas does not "
     "read; add class_path beside init_args, the import path of your class: model: "
     "{class_path: package.module.MyClass, init_args: {lr: 0.1}} (valid keys of a section: "
     "class_path, init_args, dict_kwargs, _partial_; or a Hydra node with _target_)"),
    ({"data": {"n": 32}},
     "`data` names no class (keys: n): a LightningCLI made for a fixed class"),
    ({"data": {"n": 32}, "search": {"space": {"data.n": {"choice": [16, 32]}}}},
     "move n under init_args and add class_path, the import path of your class: data: "
     "{class_path: package.module.MyClass, init_args: {n: 32}}"),
])
def test_a_section_of_a_fixed_class_lightningcli_says_to_add_its_class_path(
        tmp_path, section, message):
    # was: "`model` must be an import path, a mapping with class_path and init_args, or a
    # Hydra node with _target_; got {...}" (or, for a space key, "data has no class_path")
    cfg = _config(tmp_path / "run")
    search = section.pop("search", {})
    cfg.update(section)
    cfg["search"].update(search)
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert message in str(info.value)


# ---------------------------------------------------------------- space keys that clash
@pytest.mark.parametrize(("space", "message"), [
    ({"optimizer": {"fixed": {"class_path": "torch.optim.SGD"}},
      "model.optimizer": {"fixed": {"class_path": "torch.optim.Adam"}}},
     "space keys 'optimizer' and 'model.optimizer' both set model.optimizer"),
    ({"model.net.lin1_size": {"choice": [4, 16]},
      "model.init_args.net.init_args.lin1_size": {"choice": [6, 18]}},
     "space keys 'model.net.lin1_size' and 'model.init_args.net.init_args.lin1_size' both "
     "set model.net.lin1_size"),
    ({"net": {"lin1_size": {"choice": [4, 16]}}, "model.net.lin1_size": {"choice": [6, 18]}},
     "space keys 'net' and 'model.net.lin1_size' both set model.net.lin1_size"),
])
def test_two_space_keys_for_one_argument_are_refused(tmp_path, capsys, space, message):
    # was: both searched, the arch stored both values (best.yaml: lin1_size=4) while the
    # model got the one set last (18)
    cfg = _lightningcli(tmp_path, {}, {})
    cfg["search"]["space"] = space
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["search", str(tmp_path / "nas.yaml")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    # a whole-node choice with values searched under it is no clash
    cfg["search"]["space"] = {
        "model.optimizer": {"choice": [{"class_path": "torch.optim.Adam"},
                                       {"class_path": "torch.optim.SGD"}]},
        "model.optimizer.lr": {"float": [0.001, 0.1]}, "model.net": {"dropout": {"fixed": 0.1}},
        "model.net.lin1_size": {"choice": [4, 16]}}
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["search", str(tmp_path / "nas.yaml"), "--print_config"]) == 0
    capsys.readouterr()
    # the fix a refused override suggests sets the value in the group, not beside it
    assert main(["search", str(tmp_path / "nas.yaml"), "--print_config",
                 "--search.space.model.init_args.net.dropout={fixed: 0.2}"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)["search"]["space"]
    assert printed["model.net"] == {"dropout": {"fixed": 0.2}}
    assert "model.init_args.net.dropout" not in printed


@pytest.mark.parametrize("key", ["model.net.lin1_size", "model.init_args.net.init_args.lin1_size",
                                 "model.init_args.net.lin1_size"])
@pytest.mark.parametrize("override", ["--model.net.lin1_size=5",
                                      "--model.init_args.net.init_args.lin1_size=5"])
def test_an_override_of_a_key_the_space_spells_out_is_refused(tmp_path, capsys, key, override):
    # was: with init_args spelt out in the space key the override was taken, and lost:
    # every trial took the space's value
    cfg = _lightningcli(tmp_path, {}, {})
    cfg["search"]["space"] = {key: {"choice": [4, 16]}}
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["search", str(tmp_path / "nas.yaml"), override]) == 2
    err = capsys.readouterr().err
    assert f"sets a key the search space searches ('{key}')" in err
    assert f"--search.space.{key}={{fixed: 5}}" in err
    assert not (tmp_path / "run").exists()


def test_a_node_spelt_out_with_init_args_is_set_as_its_short_form():
    # was: `model.init_args.net` came after `model.net.dropout` (more dots) and replaced
    # the searched dropout; a group at `model.init_args.net.init_args` replaced the node's
    # arguments whole (the config's and another key's `model.net.lin2_size` lost)
    from lightning_nas.config.paths import check_space_paths, set_paths

    node = {"class_path": "tests.helpers.Head", "init_args": {"w": 16}}
    for values in ([("model.net.w", 4), ("model.init_args.net", node)],
                   [("model.init_args.net", node), ("model.net.w", 4)]):
        cfg = {"model": {"class_path": "tests.helpers.TinyNet", "init_args": {}}}
        assert set_paths(cfg, values)["model"]["init_args"]["net"]["init_args"] == {"w": 4}
    with pytest.raises(ConfigError, match=r"space key 'model.init_args.net.init_args' names a "
                                          r"node's init_args; give its arguments as a group "
                                          r"at the node: model.net: "):
        check_space_paths({"model.init_args.net.init_args": {"w": {"choice": [4, 8]}},
                           "model.net.lin2_size": {"choice": [16, 32]}})


@pytest.mark.parametrize(("key", "pattern"), [
    ("model.net.class_path", r"^space key 'model.net.class_path' names a node's class_path, "
     r"which a group at the node cannot change; choose the node whole, its classes as "
     r"class_path nodes: model.net: \{choice: \[\{class_path: examples.lightningcli.model.MLP"
     r"\}, \{class_path: torch.nn.Identity\}\]\}"),
    ("model.class_path", r"^space key 'model.class_path': the class of the model section "
     r"cannot be searched .*run one search per model class$"),
    ("data.class_path", r"^space key 'data.class_path': the class of the data section "
     r"cannot be searched .*run one search per data class$"),
    ("model.init_args", r"^space key 'model.init_args' names the model section's init_args; "
     r"give each argument a key of its own: model.<name>"),
])
def test_a_class_path_space_key_names_the_way_to_choose_the_class(tmp_path, key, pattern):
    # was: "give its arguments as a group at the node: model.model: {...}" (the section
    # read as a model argument; `model.net` for a nested node's class, though a group
    # cannot change a class), and following it was refused again
    cfg = _lightningcli(tmp_path, {}, {})
    values = ["examples.lightningcli.model.MLP", "torch.nn.Identity"]
    cfg["search"]["space"] = {key: {"choice": values}}
    with pytest.raises(ConfigError, match=pattern):
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()
    if key == "model.net.class_path":  # the advice is taken
        cfg["search"]["space"] = {"model.net": {"choice": [{"class_path": v} for v in values]}}
        (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
        assert main(["search", str(tmp_path / "nas.yaml"), "--print_config"]) == 0


def test_a_later_config_files_parameter_replaces_the_earlier_one_whole(tmp_path, capsys):
    # was: merged option by option: `log: true` kept from the first file, and a choice over
    # an int range "names several kinds ['int', 'choice']"
    cfg = _lightningcli(tmp_path, {}, {})
    cfg["search"]["space"] = {"model.net.lin2_size": {"int": [4, 64], "log": True},
                              "model.optimizer.lr": {"float": [0.001, 0.1], "log": True},
                              "model.net": {"lin1_size": {"choice": [8, 16]}}}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "over.yaml").write_text(
        "search:\n  space:\n    model.net.lin2_size: {choice: [8, 16]}\n"
        "    model.optimizer.lr: {float: [0.001, 0.01]}\n"
        "    model.net: {dropout: {fixed: 0.5}}\n")
    assert main(["search", str(tmp_path / "base.yaml"), str(tmp_path / "over.yaml"),
                 "--print_config"]) == 0
    space = yaml.safe_load(capsys.readouterr().out)["search"]["space"]
    assert space == {"model.net.lin2_size": {"choice": [8, 16]},
                     "model.optimizer.lr": {"float": [0.001, 0.01]},
                     "model.net": {"lin1_size": {"choice": [8, 16]},  # a group: merged
                                   "dropout": {"fixed": 0.5}}}
    # a space named as a file replaces the earlier space whole, as --search.space=FILE
    # does, and an earlier file's missing space file is no error once replaced
    (tmp_path / "small.yaml").write_text("model.net.lin1_size: {choice: [4, 8]}\n")
    (tmp_path / "named.yaml").write_text("search:\n  space: small.yaml\n")
    (tmp_path / "missing.yaml").write_text(yaml.safe_dump({**cfg, "search": {
        **cfg["search"], "space": "nowhere.yaml"}}))
    for first in ("base.yaml", "missing.yaml"):
        assert main(["search", str(tmp_path / first), str(tmp_path / "named.yaml"),
                     "--print_config"]) == 0
        assert yaml.safe_load(capsys.readouterr().out)["search"]["space"] == {
            "model.net.lin1_size": {"choice": [4, 8]}}
    assert main(["search", str(tmp_path / "missing.yaml"), "--print_config"]) == 2
    assert f"search.space file {tmp_path / 'nowhere.yaml'} not found" in capsys.readouterr().err


def test_a_space_file_takes_search_space_overrides(tmp_path, monkeypatch, capsys):
    # was: the overrides were applied to the file's name: "space key 'class_path' must be a
    # mapping ... got 'sub/space.yaml'" (also for the fix the tool suggests), or a TypeError
    # traceback for --search.space.trainer.max_epochs
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "space.yaml").write_text("width: {int: [4, 64], log: true}\n"
                                       "activation: {choice: [relu, tanh]}\n")
    cfg = _config(tmp_path / "run")
    cfg["search"]["space"] = "space.yaml"
    (folder / "nas.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(tmp_path)  # the space file is found beside its config only
    assert main(["search", "sub/nas.yaml", "--model.width=5"]) == 2
    assert "--search.space.width={fixed: 5}" in capsys.readouterr().err
    assert main(["search", "sub/nas.yaml", "--print_config", "--search.space.width={fixed: 5}",
                 "--search.space.trainer.max_epochs={choice: [1, 2]}"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["search"]["space"] == {
        "width": {"fixed": 5}, "activation": {"choice": ["relu", "tanh"]},
        "trainer.max_epochs": {"choice": [1, 2]}}
    # a space file an override names: read before the keys set in it
    assert main(["search", "sub/nas.yaml", "--print_config", "--search.space=sub/space.yaml",
                 "--search.space.activation={fixed: relu}"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["search"]["space"] == {
        "width": {"int": [4, 64], "log": True}, "activation": {"fixed": "relu"}}
    assert not (tmp_path / "run").exists()


def test_an_argument_a_group_at_a_node_does_not_search_may_be_overridden(tmp_path, capsys):
    # was: refused, "the search space gives every trial as a whole (a group): the override
    # would be lost", though a group at a node sets only the arguments it names
    cfg = _lightningcli(tmp_path, {}, {"lr": 0.01})
    cfg["trainer"].update(limit_train_batches=2, limit_val_batches=1, enable_checkpointing=False)
    cfg["search"].update(budget=1, optimizer="RandomSearch", verbose=False,
                         space={"model.net": {"lin1_size": {"choice": [32, 64]}},
                                "model.optimizer.lr": {"choice": [0.01, 0.02]}})
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(path), "--model.net.dropout=0.3"]) == 0
    exported = yaml.safe_load((tmp_path / "run" / "best_config.yaml").read_text())
    assert exported["model"]["init_args"]["net"]["init_args"]["dropout"] == 0.3
    capsys.readouterr()
    # an argument the group searches is refused, and the fix it names sets it in the group
    assert main(["search", str(path), "--print_config", "--model.init_args.net.lin1_size=5"]) == 2
    err = capsys.readouterr().err
    assert "sets a key the search space searches ('lin1_size' in the group 'model.net')" in err
    assert main(["search", str(path), "--print_config",  # another space: another run_dir
                 "--search.space.model.net.lin1_size={fixed: 5}",
                 f"--search.run_dir={tmp_path / 'run2'}"]) == 0
    space = yaml.safe_load(capsys.readouterr().out)["search"]["space"]
    assert space["model.net"] == {"lin1_size": {"fixed": 5}}


# ---------------------------------------------------------------- values as jsonargparse
def test_enum_path_and_tuple_values_are_converted_as_lightningcli_converts_them(tmp_path):
    # was: checked as jsonargparse checks them, never converted: the model got 'tanh', a
    # str path and lists, and every trial failed before training ("search.space.act='tanh':
    # AttributeError: 'str' object has no attribute 'value'"), as did fit and finetune
    import torch

    from tests.helpers_models import Act, TypedNet

    run = tmp_path / "run"
    cfg = _config(run)
    cfg["model"] = {"class_path": "tests.helpers.TypedNet",
                    "init_args": {"out_dir": str(tmp_path), "sizes": [4, 4], "pair": [1, 2]}}
    cfg["search"].update(space={"act": {"choice": ["relu", "tanh"]}}, optimizer="RandomSearch")
    path = tmp_path / "typed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(path)]) == 0  # TypedNet refuses a str, a list
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["arch"]["act"] in ("relu", "tanh")  # kept as the YAML wrote it
    exported = yaml.safe_load((run / "best_config.yaml").read_text())
    assert exported["model"]["init_args"] == {"out_dir": str(tmp_path), "sizes": [4, 4],
                                              "pair": [1, 2], "act": best["arch"]["act"]}
    # the checkpoint keeps the config's values, and is rebuilt converted, as LightningCLI's
    hparams = torch.load(run / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert (hparams["act"], hparams["sizes"]) == (best["arch"]["act"], [4, 4])
    model = TypedNet.load_from_checkpoint(run / "best.ckpt")
    assert model.hparams.act is Act[best["arch"]["act"]]
    assert main(["fit", str(run / "best_config.yaml"), "--out", str(tmp_path / "fit")]) == 0
    assert main(["finetune", str(run), "--max_epochs", "1"]) == 0
    with pytest.raises(ConfigError, match=r"model.act='gelu': expected Act \(the annotation"):
        search_from_config(load_config(path, ["--search.space.act={choice: [gelu, tanh]}"])).run()


# ---------------------------------------------------------------- dict_kwargs
def test_dict_kwargs_beside_init_args_are_read_as_lightningcli_reads_them(tmp_path, capsys):
    # was: "unknown key(s) ['dict_kwargs'] beside class_path", though LightningCLI takes
    # there the arguments a class takes only through **kwargs (NASModule's arch keys)
    import torch

    run = tmp_path / "run"
    cfg = _config(run)
    cfg["model"] = {"class_path": "lightning_nas.NASModule",
                    "init_args": {"builder": "tests.helpers.build_mlp", "num_classes": 3},
                    "dict_kwargs": {"width": 4}}
    cfg["search"]["space"] = {"model.dict_kwargs.width": {"choice": [4, 8]},
                              "lr": {"choice": [0.01, 0.1]}}
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    # an override or a space key reaches it with or without the dict_kwargs level
    loaded = load_config(path, ["--search.space.model.dict_kwargs.width={choice: [5, 6]}",
                                "--model.extra=1", "--model.dict_kwargs.more=2"],
                         searched=False)
    assert loaded["model"]["dict_kwargs"] == {"width": 4, "more": 2}
    assert loaded["model"]["init_args"]["extra"] == 1
    assert main(["search", str(path), "--model.width=6"]) == 2
    assert "sets a key the search space searches ('model.dict_kwargs.width')" in \
        capsys.readouterr().err
    result = search_from_config(load_config(path)).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]
    exported = yaml.safe_load((run / "best_config.yaml").read_text())["model"]
    assert exported["dict_kwargs"] == {"width": result.best.arch["model.dict_kwargs.width"]}
    assert main(["fit", str(run / "best_config.yaml"), "--model.width=5",
                 "--out", str(tmp_path / "fit")]) == 0
    hparams = torch.load(tmp_path / "fit" / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert hparams["width"] == 5
    cfg["search"]["run_dir"] = str(tmp_path / "bad")
    for bad, needle in (({"dict_kwargs": [4]}, "model.dict_kwargs: expected a mapping"),
                        ({"dict_kwargs": {"num_classes": 3}},
                         "model: num_classes given in both init_args and dict_kwargs")):
        cfg["model"].update(bad)
        path.write_text(yaml.safe_dump(cfg))
        with pytest.raises(ConfigError, match=needle):
            search_from_config(load_config(path)).run()
        assert not (tmp_path / "bad").exists()


def test_an_init_args_that_is_no_mapping_is_refused_not_dropped(tmp_path, capsys):
    # was: `init_args: [1, 2]` (or a string, a number, true) was read as no arguments, and
    # the search trained every trial without the model's, the data's or a callback's values
    run = tmp_path / "run"
    for section, bad, needle in (
            ("model", [1, 2], "model.init_args: expected a mapping, got [1, 2]"),
            ("model", "lr=0.1", "model.init_args: expected a mapping, got 'lr=0.1'"),
            ("data", 32, "data.init_args: expected a mapping, got 32"),
            ("trainer", ["val_acc"], "trainer.callbacks[0].init_args: expected a mapping")):
        cfg = _config(run)
        if section == "trainer":
            cfg["trainer"]["callbacks"] = [{
                "class_path": "lightning.pytorch.callbacks.EarlyStopping", "init_args": bad}]
        else:
            cfg[section]["init_args"] = bad
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(cfg))
        assert main(["search", str(path)]) == 2
        assert needle in capsys.readouterr().err
        assert not run.exists()


def test_a_later_files_empty_section_is_refused_not_merged_as_nothing(tmp_path):
    # was: `trainer:` with its keys commented out replaced the earlier trainer whole, so
    # trials ran with Lightning's defaults (1000 epochs, any accelerator) without a word
    base, later = tmp_path / "base.yaml", tmp_path / "later.yaml"
    base.write_text(yaml.safe_dump(_config(tmp_path / "run")))
    later.write_text("trainer:\n#   max_epochs: 3\n")
    with pytest.raises(ConfigError, match=re.escape(
            f"{later}: section 'trainer' is empty (null: its keys commented out?), and it "
            f"would replace the trainer an earlier config file gives (limit_train_batches, "
            f"max_epochs) with nothing")):
        load_config([base, later])
    later.write_text("trainer:\n  max_epochs: 3\n")  # keys: merged over the earlier ones
    assert load_config([base, later])["trainer"] == {"max_epochs": 3, "limit_train_batches": 1}


def _lightningcli_config(*args: str) -> dict:
    """The config plain LightningCLI (as ``examples/lightningcli/main.py`` runs it) reads from
    ``args``, parsed in this process (``run=False``: no subcommand, nothing trained)."""
    from lightning.pytorch.cli import LightningCLI

    cli = LightningCLI(save_config_callback=None, run=False, args=list(args))
    return yaml.safe_load(cli.parser.dump(cli.config, skip_none=False))


def test_a_class_changed_by_an_override_or_a_later_file_keeps_its_arguments_as_lightningcli(
        tmp_path, capsys):
    # was: --model.optimizer=torch.optim.SGD over Adam {lr: 0.003} trained at SGD's default lr
    # 0.001, and a later file's SGD over Adam {lr: 0.003, amsgrad: true} was refused ("amsgrad:
    # not an argument of SGD.__init__"); LightningCLI keeps lr 0.003, drops amsgrad
    pytest.importorskip("jsonargparse")
    pytest.importorskip("sklearn")
    import torch

    train = Path(__file__).resolve().parents[1] / "examples" / "lightningcli" / "train.yaml"
    ams, sgd, space = tmp_path / "adam_ams.yaml", tmp_path / "to_sgd.yaml", tmp_path / "s.yaml"
    ams.write_text("model: {init_args: {optimizer: {class_path: torch.optim.Adam, "
                   "init_args: {lr: 0.003, amsgrad: true}}}}\n")
    sgd.write_text("model: {init_args: {optimizer: {class_path: torch.optim.SGD, "
                   "init_args: {momentum: 0.9}}}}\n")
    space.write_text(yaml.safe_dump({"search": {
        "space": {"model.net.lin1_size": {"choice": [16, 32]}}, "budget": 1, "verbose": False,
        "run_dir": str(tmp_path / "run")}}))

    def optimizer(cfg: dict) -> dict:
        return cfg["model"]["init_args"]["optimizer"]

    files = [str(p) for p in (train, ams, sgd)]
    plain = _lightningcli_config(*(arg for f in files for arg in ("--config", f)))
    assert optimizer(load_config([*files, space])) == {
        "class_path": "torch.optim.SGD", "init_args": {"lr": 0.003, "momentum": 0.9}}
    assert optimizer(plain)["class_path"] == "torch.optim.SGD"
    assert (optimizer(plain)["init_args"]["lr"], optimizer(plain)["init_args"]["momentum"],
            "amsgrad" in optimizer(plain)["init_args"]) == (0.003, 0.9, False)
    for override in ("--model.optimizer=torch.optim.SGD",
                     "--model.init_args.optimizer.class_path=torch.optim.SGD",
                     "--model.optimizer={class_path: torch.optim.SGD}"):
        assert optimizer(load_config([train, space], [override])) == {
            "class_path": "torch.optim.SGD", "init_args": {"lr": 0.003}}, override
    plain = _lightningcli_config("--config", str(train), "--model.optimizer=torch.optim.SGD")
    assert optimizer(plain)["class_path"] == "torch.optim.SGD"
    assert optimizer(plain)["init_args"]["lr"] == 0.003
    # the same class again keeps its arguments too (was: Adam at its default lr)
    assert optimizer(load_config([train, space], ["--model.optimizer=torch.optim.Adam"])) == {
        "class_path": "torch.optim.Adam", "init_args": {"lr": 0.003}}
    # and the trial trains with them
    assert main(["search", str(train), str(space), "--model.optimizer=torch.optim.SGD",
                 "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
                 "--trainer.limit_val_batches=1"]) == 0, capsys.readouterr().err
    ckpt = torch.load(tmp_path / "run" / "best.ckpt", weights_only=False)
    group = ckpt["optimizer_states"][0]["param_groups"][0]
    assert (group["lr"], "amsgrad" in group) == (0.003, False)


@pytest.mark.parametrize(("model", "change", "kept"), [
    # **kwargs passed on to TinyNet: its arguments kept, as jsonargparse follows them
    ({"class_path": "tests.helpers.TinyNet", "init_args": {"width": 8, "lr": 0.1, "depth": 2}},
     ["--model=tests.helpers.ConfigureModelNet"], {"width": 8, "lr": 0.1, "depth": 2}),
    # a name the new class takes, of another type (width: str), is dropped too
    ({"class_path": "tests.helpers.TinyNet", "init_args": {"width": 8, "lr": 0.1, "depth": 2}},
     ["--model.class_path=tests.helpers.NamedWidthNet"], {"lr": 0.1}),
    ({"class_path": "tests.helpers.TinyNet", "init_args": {"width": 8, "lr": 0.1, "depth": 2}},
     [{"model": {"class_path": "tests.helpers.NamedWidthNet",
                 "init_args": {"width": "large"}}}], {"width": "large", "lr": 0.1}),
    # dict_kwargs stay, those the new class names as its arguments, as jsonargparse moves them
    ({"class_path": "lightning_nas.NASModule", "init_args": {
        "builder": "tests.helpers.build_mlp", "lr": 0.01}, "dict_kwargs": {"width": 4}},
     [{"model": "tests.helpers.TinyNet"}], {"lr": 0.01, "width": 4}),
    ({"class_path": "lightning_nas.NASModule", "init_args": {
        "builder": "tests.helpers.build_mlp", "lr": 0.01}, "dict_kwargs": {"width": 4}},
     ["--model.class_path=tests.helpers.ConfigureModelNet"], {"lr": 0.01, "width": 4}),
])
def test_a_changed_class_keeps_the_arguments_jsonargparse_keeps(tmp_path, model, change, kept):
    jsonargparse = pytest.importorskip("jsonargparse")
    import lightning.pytorch as pl

    first = tmp_path / "first.yaml"
    first.write_text(yaml.safe_dump({"model": model}))
    files, overrides = [first], [c for c in change if isinstance(c, str)]
    for i, part in enumerate(c for c in change if isinstance(c, dict)):
        files.append(tmp_path / f"later{i}.yaml")
        files[-1].write_text(yaml.safe_dump(part))
    ours = load_config(files, overrides, searched=False)["model"]
    parser = jsonargparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--config", action="config")
    parser.add_argument("--model", type=pl.LightningModule)
    theirs = yaml.safe_load(parser.dump(parser.parse_args(
        [arg for f in files for arg in ("--config", str(f))] + overrides)))["model"]
    assert ours["init_args"] == kept
    assert ours["class_path"] == theirs["class_path"]
    assert ours.get("dict_kwargs") == theirs.get("dict_kwargs")
    for key, value in model["init_args"].items():  # kept with its value, or the default
        assert (theirs["init_args"].get(key) == ours["init_args"][key] if key in kept else
                theirs["init_args"].get(key) != value), key
