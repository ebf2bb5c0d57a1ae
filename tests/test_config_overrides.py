"""``lightning_nas.config.load.apply_overrides``: both override forms, YAML-typed values,
the ``init_args`` shorthand, overrides through what is no mapping or of no section refused,
Trainer objects and callbacks named by class as LightningCLI reads them, ``+=``
appending to a list, and a whole section (``--trainer='{devices: 1}'``, a YAML file's
name) merged over the config's as LightningCLI merges it."""

from __future__ import annotations

import re

import pytest
import yaml

from lightning_nas.config.load import apply_overrides, load_config
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers_config import (
    BASE,
    cli_built,
    config,
)


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


@pytest.mark.parametrize("override, said", [
    # was: "space keys must be non-empty strings, got ''", "model init_args key '' is not
    # an argument of ...", "unknown config section ''": none named the argument
    ("--search.space..x=1", "override '--search.space..x=1' has an empty key between two "
                            "dots ('search.space..x')"),
    ("--model.=3", "override '--model.=3' has an empty key at its end ('model.')"),
    ("--.model=3", "override '--.model=3' has an empty key at its start ('.model')"),
    ("--=1", "override '--=1' names no key"),
])
def test_an_override_with_an_empty_dotted_key_is_refused_naming_it(override, said):
    with pytest.raises(ConfigError) as info:
        apply_overrides(BASE, [override])
    assert str(info.value).startswith(said), str(info.value)
    assert "--search.budget=5" in str(info.value)


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


def test_overrides_given_as_one_string_are_refused_naming_the_list_to_give(tmp_path):
    # was: read a character at a time: "expected an override like --search.budget=5, got '-'"
    with pytest.raises(ConfigError, match=r"^overrides must be a list of overrides, one string "
                                          r"each; got the string '--search\.budget=5': give a "
                                          r"list: \['--search\.budget=5'\]$"):
        apply_overrides(BASE, "--search.budget=5")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    with pytest.raises(ConfigError, match=r"^overrides must be a list .* give a list: "
                                          r"\['--trainer\.max_epochs', '2'\]$"):
        load_config(path, "--trainer.max_epochs 2")


def test_a_trainer_object_named_by_its_class_is_a_node_as_lightningcli_reads_it(tmp_path):
    # was: "trainer.callbacks='LearningRateMonitor': expected list[Callback] or Callback or
    # null", from the command line or a file, though += took the same name
    cfg = config(tmp_path / "run")
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
    path.write_text(yaml.safe_dump(config(tmp_path / "run")))
    for given in ("LearningRateMonitr", "[ModelSummary, LearningRateMonitr]"):
        with pytest.raises(ConfigError, match=r"expected list\[Callback\] or Callback or null "
                                              r"\(the annotation of Trainer\); did you mean "
                                              r"LearningRateMonitor\b"):
            search_from_config(load_config(path, [f"--trainer.callbacks={given}"]))
    with pytest.raises(ConfigError) as info:  # nothing close: no guess
        search_from_config(load_config(path, ["--trainer.callbacks=NoSuchCallback"]))
    assert "did you mean" not in str(info.value)


def test_a_list_append_override_appends_as_lightningcli(tmp_path):
    # was: "unknown Trainer argument 'callbacks+'; did you mean 'callbacks'?" for
    # LightningCLI's --trainer.callbacks+=LearningRateMonitor
    cfg = config(tmp_path / "run")
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


def test_a_key_under_a_list_of_nodes_sets_the_last_nodes_argument_as_lightningcli():
    # Lightning's docs: --trainer.callbacks+=EarlyStopping --trainer.callbacks.patience=5;
    # was refused: "--trainer.callbacks.patience: the config gives trainer.callbacks: [...],
    # not a mapping with keys"
    stop = {"class_path": "EarlyStopping", "init_args": {"monitor": "val_loss"}}
    cfg = apply_overrides({"trainer": {"callbacks": [stop]}}, [
        "--trainer.callbacks.patience=7",  # the config's last node, as LightningCLI sets it
        "--trainer.callbacks+=LearningRateMonitor", "--trainer.callbacks.logging_interval=step",
        "--trainer.logger+=CSVLogger", "--trainer.logger.save_dir=logs"])
    assert cfg["trainer"] == {
        "callbacks": [{"class_path": "EarlyStopping", "init_args": {"monitor": "val_loss",
                                                                    "patience": 7}},
                      {"class_path": "LearningRateMonitor",
                       "init_args": {"logging_interval": "step"}}],
        "logger": [{"class_path": "CSVLogger", "init_args": {"save_dir": "logs"}}]}
    assert stop["init_args"] == {"monitor": "val_loss"}  # the config's own, left as it was
    for trainer in ({"callbacks": []}, {"callbacks": ["x"]}):  # no node last: refused, named
        with pytest.raises(ConfigError, match=r"--trainer.callbacks.patience: the config "
                                              r"gives trainer.callbacks: \[.*not a mapping"):
            apply_overrides({"trainer": trainer}, ["--trainer.callbacks.patience=7"])


_STOP = {"class_path": "lightning.pytorch.callbacks.EarlyStopping",
         "init_args": {"monitor": "val_acc", "patience": 7}}


@pytest.mark.parametrize("overrides", [
    ["--trainer={devices: 1}"],
    ["--trainer={max_epochs: 2}", "--trainer={devices: 1}"],
    ["--trainer={devices: 1}", "--trainer.max_epochs=5"],
    ["--trainer={callbacks: [{class_path: lightning.pytorch.callbacks.LearningRateMonitor}]}"],
    # a list in place of the config's (a later file's merges item by item: patience kept)
    ["--trainer={callbacks: [{class_path: lightning.pytorch.callbacks.EarlyStopping, "
     "init_args: {monitor: val_loss}}]}"],
    # a node of the config's class merged over it (process_group_backend kept)
    ["--trainer={strategy: {class_path: lightning.pytorch.strategies.DDPStrategy, "
     "init_args: {static_graph: true}}}"],
    # so too a logger's class by its name or import path (was: in place of the config's
    # node, its save_dir and name lost)
    ["--trainer={logger: CSVLogger}"],
    ["--trainer={logger: lightning.pytorch.loggers.CSVLogger}"],
    ["--trainer=FILE"],
    ["--model={width: 8}"],
    ["--model={init_args: {width: 8}}"],
    ["--model={class_path: tests.helpers.TinyNet, init_args: {width: 8}}"],
    ["--model=FILE"],
    ["--data={n: 64}"],
    # a node's init_args as a mapping: merged as the node's are, lr and n kept (was: in
    # place of the config's, lr and n lost)
    ["--model.init_args={width: 8}"],
    ["--data.init_args={}"],
])
def test_a_whole_section_override_merges_as_lightningcli_merges_it(tmp_path, overrides):
    # LightningCLI's --trainer CONFIG (a YAML text or a file's name) merges over what the
    # config gave; was: in place of the whole section, so --trainer='{devices: 1}' dropped
    # the config's max_epochs and callbacks
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"width": 4, "lr": 0.5}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}},
        "trainer": {"max_epochs": 3, "enable_progress_bar": False, "logger": {
                        "class_path": "lightning.pytorch.loggers.CSVLogger",
                        "init_args": {"save_dir": str(tmp_path / "logs"), "name": "n"}},
                    "callbacks": [_STOP], "strategy": {
                        "class_path": "lightning.pytorch.strategies.DDPStrategy",
                        "init_args": {"process_group_backend": "gloo"}}}}))
    files = {"trainer": {"devices": 1, "max_epochs": 9}, "model": {"init_args": {"width": 8}}}
    for name, content in files.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(content))
    overrides = [o.replace("FILE", str(tmp_path / f"{o[2:].split('=')[0]}.yaml"))
                 for o in overrides]
    ours = load_config(path, overrides, searched=False)
    ours.pop("search")
    built = tmp_path / "ours.yaml"
    built.write_text(yaml.safe_dump(ours))
    mine, theirs = cli_built(built), cli_built(path, *overrides)
    assert {f"{name}.{key}": (value, theirs[name][key])  # (ours, LightningCLI's)
            for name in ("model", "data", "trainer") for key, value in mine[name].items()
            if value != theirs[name][key]} == {}
    assert mine == theirs


@pytest.mark.parametrize("value", ["null", "[1]", "3"])
def test_a_whole_trainer_override_that_is_no_mapping_is_refused_named(tmp_path, value):
    # LightningCLI: 'Parser key "trainer": Unable to load config'; was: taken in place of
    # the config's Trainer settings (null: Lightning's defaults, max_epochs 1000 a trial)
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(config(tmp_path / "run")))
    with pytest.raises(ConfigError) as info:
        load_config(path, [f"--trainer={value}"])
    assert str(info.value) == (
        f"--trainer={value}: a whole trainer override is merged over the config's Trainer "
        f"settings, as LightningCLI's --trainer CONFIG: give a mapping of Trainer arguments "
        f"(--trainer='{{devices: 1}}') or the name of a YAML file of one, or set one "
        f"argument, --trainer.KEY=VALUE")
    assert not (tmp_path / "run").exists()


def test_a_whole_trainer_override_lightningcli_refuses_is_refused_before_training(tmp_path):
    # LightningCLI refuses a node without class_path in --trainer CONFIG (no earlier class
    # to take there: "Not a valid subclass of Strategy") and an unknown key ("Group
    # 'trainer' does not accept option 'max_epoch'"); so does the search, naming the key
    cfg = config(tmp_path / "run")
    cfg["trainer"]["strategy"] = {"class_path": "lightning.pytorch.strategies.DDPStrategy",
                                  "init_args": {"process_group_backend": "gloo"}}
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    for given, named in [("{strategy: {init_args: {static_graph: true}}}", "trainer.strategy="),
                         ("{callbacks: [{init_args: {patience: 2}}]}", "trainer.callbacks="),
                         ("{max_epoch: 2}", "unknown Trainer argument 'max_epoch'")]:
        with pytest.raises(ConfigError) as info:
            search_from_config(load_config(path, [f"--trainer={given}"]))
        assert str(info.value).startswith(named), given
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key", ["model.init_args", "data.init_args", "model.dict_kwargs"])
def test_a_nodes_init_args_of_null_is_refused(tmp_path, key):
    # LightningCLI refuses --model.init_args=null (and ignores --model.dict_kwargs=null);
    # was: taken, the config's arguments dropped without a word (the model's defaults)
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"width": 4}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}}}))
    if key.endswith("init_args"):
        with pytest.raises(SystemExit):
            cli_built(path, f"--{key}=null")
    with pytest.raises(ConfigError, match=re.escape(
            f"--{key}=null would drop the {key.rsplit('.', 1)[1]} of {key.split('.')[0]}")):
        load_config(path, [f"--{key}=null"], searched=False)


def test_an_option_of_a_dotted_space_key_is_set_in_it_as_a_plain_keys_is():
    # was: read as a space key of its own, refused: 'data.batch_size.int' ("data.batch_size
    # is an int argument, with no keys inside"), 'trainer.max_epochs.choice' ("must be a
    # mapping with one of the kinds")
    space = {"w": {"int": [1, 4]}, "data.batch_size": {"int": [16, 64], "step": 16},
             "trainer.max_epochs": {"choice": [1, 2]}, "model.net": {"choice": ["a.B", "a.C"]}}
    cfg = apply_overrides({"search": {"space": space}}, [
        "--search.space.w.int=[1,8]", "--search.space.data.batch_size.int=[16,128]",
        "--search.space.data.batch_size.step=8", "--search.space.trainer.max_epochs.choice=[1,3]",
        "--search.space.model.net.width={int: [8, 16]}"])  # a key beneath a choice: its own
    assert cfg["search"]["space"] == {
        "w": {"int": [1, 8]}, "data.batch_size": {"int": [16, 128], "step": 8},
        "trainer.max_epochs": {"choice": [1, 3]}, "model.net": {"choice": ["a.B", "a.C"]},
        "model.net.width": {"int": [8, 16]}}
