"""``lightning_nas.config.load.load_config``: a space file read beside the config that
names it (and one holding no mapping refused), overrides inside a searched group or keys a
searched config dict does not set refused, keys a file leaves beside class_path refused as
LightningCLI refuses them, and the default run folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lightning_nas.cli import main
from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers_config import (
    config,
)
from tests.helpers_records import cli_model


def test_load_config_space_file_relative_to_the_config(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "space.yaml").write_text("width: {choice: [4, 8]}\nlr: {float: [1e-4, 1e-1]}\n")
    cfg = config(tmp_path / "run")
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
    cfg = config(tmp_path / "run")
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
    cfg = config(tmp_path / "run")
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


def test_an_interpolation_in_a_space_file_the_command_line_names_is_refused_naming_it(
        tmp_path):
    # was: not checked (the file is read after the config's interpolations are), the
    # choice '${oc.env:W}' searched as written
    cfg = config(tmp_path / "run")
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    space = tmp_path / "space.yaml"
    space.write_text("width: {choice: [4, '${oc.env:W}']}\n")
    for where in ([], ["--search.space.lr={float: [0.01, 0.1]}"]):  # read by an override too
        with pytest.raises(ConfigError) as info:
            load_config(tmp_path / "nas.yaml", [f"--search.space={space}", *where])
        assert str(info.value).startswith(
            f"search.space file {space}: search.space.width.choice[1]='${{oc.env:W}}': "
            f"${{oc.env:W}} is an OmegaConf interpolation"), where
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override", ["--model.head.hidden=99", "--model.init_args.head.q=7"])
def test_an_override_inside_a_searched_group_is_refused(tmp_path, override):
    # the group's value replaced the config's whole dict: both overrides were lost
    cfg = config(tmp_path / "run")
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
    # test_choice_mappings_hydra)
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
    cfg = config(tmp_path / "run")
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
    cfg = config(tmp_path / "run")
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
    cfg = config(tmp_path / "run")
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


_TINY = {"class_path": "tests.helpers.TinyNet", "init_args": {"width": 8}}
_STOP = "lightning.pytorch.callbacks.EarlyStopping"


@pytest.mark.parametrize(("later", "where", "stray"), [  # (a bare `model: {lr: 0.5}` is
    # taken as init_args, as LightningCLI takes it: test_node_merge)
    ({"model": {"class_path": "tests.helpers.TinyNet", "lr": 0.5}}, "model", "lr"),
    ({"model": {"init_args": {"width": 4}, "lr": 0.5}}, "model", "lr"),
    ({"trainer": {"callbacks": [{"class_path": _STOP, "init_args": {"monitor": "val_loss"},
                                 "patience": 3}]}}, r"trainer.callbacks\[0\]", "patience"),
])
def test_a_key_a_file_leaves_beside_class_path_is_refused_at_load_as_lightningcli_does(
        tmp_path, later, where, stray):
    # was: load_config kept the stray key beside class_path (refused later, by the section's
    # builder, naming no file; a callback's when it was built)
    (tmp_path / "first.yaml").write_text(yaml.safe_dump({"model": _TINY}))
    (tmp_path / "later.yaml").write_text(yaml.safe_dump(later))
    files = [tmp_path / "first.yaml", tmp_path / "later.yaml"]
    with pytest.raises(SystemExit):
        cli_model(tmp_path, _TINY, "--config", str(files[1]))
    with pytest.raises(ConfigError, match=rf"^{where}: unknown key '{stray}' beside class_path "
                                          rf"'.*'; valid keys: class_path, init_args, "
                                          rf"dict_kwargs, .* \(given in {re.escape(str(files[1]))}"
                                          rf"\)$"):
        load_config(files)


def test_a_stray_key_beside_class_path_at_a_plain_dict_argument_loads(tmp_path):
    # was: "model.spare: unknown key 'extra' beside class_path 'no.such.Thing'", where
    # LightningCLI passes the mapping at a `Mapping` argument as it is; beside a section's
    # own class_path, or a nested node's at a class argument, still refused
    cfg = config(tmp_path / "run")
    spare = {"class_path": "no.such.Thing", "extra": 1}
    cfg["model"] = {"class_path": "tests.helpers_config.OptimInitNet",
                    "init_args": {"spare": spare}}
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert load_config(path)["model"]["init_args"]["spare"] == spare
    cfg["model"] = {"class_path": "examples.lightningcli.model.LitClassifier", "init_args": {
        "net": {"class_path": "examples.lightningcli.model.MLP", "extra": 1}}}
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"model.net: unknown key 'extra' beside class_path"):
        load_config(path)


def test_a_class_import_path_at_a_plain_dict_argument_is_refused_as_no_dict(tmp_path):
    # was: read as {class_path: torch.optim.SGD} (a `net: mymod.MLP` at a class argument),
    # so the module got a dict LightningCLI never gives: it refuses the text there
    cfg = config(tmp_path / "run")
    cfg["model"] = {"class_path": "tests.helpers_config.OptimInitNet",
                    "init_args": {"optimizer_init": "torch.optim.SGD"}}
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"^model.optimizer_init='torch.optim.SGD': expected "
                                          r"dict or null \(the annotation of OptimInitNet"):
        search_from_config(load_config(path))


def test_a_nested_node_given_as_a_yaml_files_name_is_read_from_it_as_lightningcli(
        tmp_path, monkeypatch):
    # was: refused before training, "model.net='net.yaml': expected Module (the annotation
    # of LitClassifier.__init__)", where LightningCLI reads the node from the file, beside
    # the config that names it
    from lightning_nas.config.section_builder import ConfigBuilder

    folder = tmp_path / "conf"
    folder.mkdir()
    net = {"class_path": "examples.lightningcli.model.MLP", "init_args": {"lin1_size": 16}}
    (folder / "net.yaml").write_text(yaml.safe_dump(net))
    model = {"class_path": "examples.lightningcli.model.LitClassifier",
             "init_args": {"net": "net.yaml"}}
    (folder / "nas.yaml").write_text(yaml.safe_dump({"model": model}))
    monkeypatch.chdir(tmp_path)  # the file is not in the current folder
    loaded = load_config(folder / "nas.yaml", searched=False)
    assert loaded["model"]["init_args"]["net"] == net
    ours = ConfigBuilder(loaded["model"], "model", plain_keys=True)({})
    theirs = cli_model(folder, model)  # (its config written in folder, beside net.yaml)
    assert ours.net.layers[1].out_features == theirs.net.layers[1].out_features == 16


def test_a_plain_dict_argument_keeps_its_class_path_mapping_and_file_name_as_given(tmp_path):
    # was: the node-file reader rewrote every node it passed: a plain dict's data mapping
    # {class_path: torch.optim.Adam} got an empty init_args LightningCLI never adds, and a
    # YAML file's name at a Mapping argument was read from the file, where LightningCLI
    # refuses the text ("Expected a <class 'collections.abc.Mapping'>")
    (tmp_path / "other.yaml").write_text("{class_path: torch.nn.Identity}")
    model = {"class_path": "tests.helpers_config.OptimInitNet",
             "init_args": {"optimizer_init": {"class_path": "torch.optim.Adam"},
                           "spare": "other.yaml"}}
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump({"model": model}))
    assert load_config(tmp_path / "nas.yaml", searched=False)["model"] == model
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump({"model": model, "search": {
        "space": {"width": {"choice": [4, 8]}}, "budget": 1}}))
    with pytest.raises(ConfigError, match=r"model.spare='other.yaml': expected Mapping"):
        search_from_config(load_config(tmp_path / "nas.yaml"))  # before training


def test_a_config_that_is_no_yaml_file_says_a_yaml_config_was_expected(tmp_path, capsys):
    # `lightning-nas search model.py` (was: the parser's message alone, "model.py:1:3:
    # expected '<document start>', but found '<scalar>'")
    script = tmp_path / "model.py"
    script.write_text('"""A model."""\nimport torch\n')
    assert main(["search", str(script)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"lightning-nas search: error: {script} is not a YAML config file: "
        f"{script}:1:3: expected '<document start>', but found '<scalar>'; give a YAML "
        f"file (.yaml) holding a mapping with keys model, data, trainer, search, oneshot, "
        f"seed_everything")
    broken = tmp_path / "nas.yaml"  # a YAML file's own syntax error: the parser's, as it was
    broken.write_text("model: [\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(broken))}:2:1: "):
        load_config(broken)


@pytest.mark.parametrize("in_file", [True, False])
@pytest.mark.parametrize("key, value, variable", [
    ("search.run_dir", "$RUNS/try1", "$RUNS"),
    ("trainer.default_root_dir", "/scratch/$USER/nas", "$USER"),
    ("search.run_dir", "$HOME", "$HOME"),
])
def test_an_environment_variable_in_a_path_is_refused_naming_it(tmp_path, capsys,
                                                                monkeypatch, in_file, key,
                                                                value, variable):
    # was: taken as written, a folder named $RUNS made in the current folder ("Wrote
    # best.yaml ... in $RUNS/try1"), as a config is plain YAML (a shell expands it on the
    # command line alone)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable[1:], str(tmp_path / "set"))
    cfg = config(tmp_path / "run")
    section, name = key.split(".")
    if in_file:
        cfg[section][name] = value
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    given = [] if in_file else [f"--{key}={value}"]  # (quoted: no shell expanded it)
    assert main(["search", str(tmp_path / "nas.yaml"), *given]) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas search: error: {key}={value!r}: {variable} is an environment "
        f"variable, which lightning-nas does not expand (it reads its configs as plain YAML, "
        f"as LightningCLI does), so a folder named {variable} would be made; give the path "
        f"itself, or the override {key.join(['--', '='])}\"{value}\" in double quotes, "
        f"which the shell expands\n")
    assert not any(tmp_path.glob("$*")) and not (tmp_path / "run").exists()


def test_a_dollar_that_names_no_variable_at_a_path_segments_start_is_let_be(tmp_path):
    cfg = config(tmp_path / "run")
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    for value in ("runs/pay$5", "runs/a$b", "US$"):
        assert load_config(tmp_path / "nas.yaml", [f"--trainer.default_root_dir={value}"])[
            "trainer"]["default_root_dir"] == value


@pytest.mark.parametrize("override, whole, same", [
    ("--search.space.width.int=[4, 32]", "--search.space.width='{int: [4, 32]}'",
     "--search.space.width.choice=[8, 16]"),
    ("--search.space.activation.fixed=relu", "--search.space.activation='{fixed: relu}'",
     "--search.space.activation.choice=[relu, sigmoid]"),
])
def test_an_override_of_another_kind_than_the_configs_says_to_give_the_whole_parameter(
        tmp_path, override, whole, same):
    # was: "space key 'width' names several kinds ['choice', 'int']; give exactly one", the
    # override merged into the config's parameter, with no word of how to replace it
    cfg = config(tmp_path / "run")
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    key = override.split("=")[0].split(".")[2]
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nas.yaml", [override])
    assert str(info.value) == (
        f"{override.split('=')[0]}: space key {key!r} is a choice parameter in the config, "
        f"and an override of one of its keys is merged into it, so it would name two kinds; "
        f"to search it as another kind, give the whole parameter: {whole}")
    # the whole parameter replaces it; a key of the config's own kind is merged
    assert load_config(tmp_path / "nas.yaml", [whole.replace("'", "")])["search"]["space"][
        key] == yaml.safe_load(whole.split("=", 1)[1].strip("'"))
    assert load_config(tmp_path / "nas.yaml", [same])["search"]["space"][key] == {
        "choice": yaml.safe_load(same.split("=", 1)[1])}
