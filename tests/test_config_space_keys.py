"""Space keys against the config: two keys for one argument, an override of a key the space
spells out, nodes spelt out with ``init_args``, ``class_path`` keys, a later file's
parameter replacing the earlier one whole, space-file overrides, and overrides of what a
group at a node does not search."""

from __future__ import annotations

import pytest
import yaml

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from lightning_nas.space import Ordered
from tests.helpers_config import (
    config,
    lightningcli,
)


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
    cfg = lightningcli(tmp_path, {}, {})
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
    cfg = lightningcli(tmp_path, {}, {})
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
    from lightning_nas.config.paths import set_paths
    from lightning_nas.config.space_paths import check_space_paths

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
    cfg = lightningcli(tmp_path, {}, {})
    values = ["examples.lightningcli.model.MLP", "torch.nn.Identity"]
    cfg["search"]["space"] = {key: {"choice": values}}
    with pytest.raises(ConfigError, match=pattern):
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()
    if key == "model.net.class_path":  # the advice is taken
        cfg["search"]["space"] = {"model.net": {"choice": [{"class_path": v} for v in values]}}
        (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
        assert main(["search", str(tmp_path / "nas.yaml"), "--print_config"]) == 0


@pytest.mark.parametrize(("spec", "advice"), [
    ({"choice": ["m.A", "m.B"]}, "{choice: [{class_path: m.A}, {class_path: m.B}]}"),
    ({"ordered": ["m.A", "m.B"]}, "{ordered: [{class_path: m.A}, {class_path: m.B}]}"),
    (Ordered(["m.A", "m.B"]), "{ordered: [{class_path: m.A}, {class_path: m.B}]}"),
    ({"fixed": "m.A"}, "{fixed: {class_path: m.A}}"),
])
def test_a_class_path_space_key_of_any_choice_kind_gets_the_node_advice(spec, advice):
    # was: only a `choice` spec's classes were read; `ordered` (or a Python Ordered, or a
    # `fixed` class) got the placeholder advice {choice: [{class_path: A}, ...]}
    from lightning_nas.config.space_paths import check_space_paths

    with pytest.raises(ConfigError) as info:
        check_space_paths({"model.net.class_path": spec})
    assert f"choose the node whole, its classes as class_path nodes: model.net: {advice} (" \
        in str(info.value)


def test_a_later_config_files_parameter_replaces_the_earlier_one_whole(tmp_path, capsys):
    # was: merged option by option: `log: true` kept from the first file, and a choice over
    # an int range "names several kinds ['int', 'choice']"
    cfg = lightningcli(tmp_path, {}, {})
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
    # while a later file's mapping merges into an earlier file's space file as into a mapping
    assert main(["search", str(tmp_path / "base.yaml"), str(tmp_path / "named.yaml"),
                 str(tmp_path / "over.yaml"), "--print_config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["search"]["space"] == {
        "model.net.lin1_size": {"choice": [4, 8]}, "model.net.lin2_size": {"choice": [8, 16]},
        "model.optimizer.lr": {"float": [0.001, 0.01]}, "model.net": {"dropout": {"fixed": 0.5}}}
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
    cfg = config(tmp_path / "run")
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
    cfg = lightningcli(tmp_path, {}, {"lr": 0.01})
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


def test_a_class_path_that_does_not_import_is_refused_before_training_naming_its_key(
        tmp_path):
    # a chosen node's, the config's, or a later file's (was, for a key the space searches
    # under it: "cannot import module 'no_such_mod' of 'no_such_mod.Net': ...", the key not
    # named): each refused by the checks, before any folder, naming the key and the class
    from lightning_nas.config.load import load_config
    from tests.helpers_records import chosen_search

    mlp = "examples.lightningcli.model.MLP"
    held = {"class_path": "examples.lightningcli.model.LitClassifier", "init_args": {
        "net": {"class_path": mlp, "init_args": {"lin1_size": 32}}}}
    missing = {"class_path": "no_such_mod.Net", "init_args": {"lin1_size": 32}}
    with pytest.raises(ConfigError, match=r"space key 'model.net' may take \{'class_path': "
                                          r"'no_such_mod.Net', .*: model.net.class_path: "
                                          r"cannot import module 'no_such_mod'"):
        chosen_search(tmp_path, held, "model.net", [missing, {"class_path": mlp}])
    with pytest.raises(ConfigError, match=r"^model.net.class_path: cannot import module "
                                          r"'no_such_mod' of 'no_such_mod.Net'"):
        chosen_search(tmp_path, {**held, "init_args": {"net": missing}}, "model.net",
                      [{"class_path": mlp}, {"init_args": {"lin1_size": 16}}])
    later = tmp_path / "later.yaml"
    later.write_text(yaml.safe_dump({"model": {"init_args": {"net": missing}}}))
    chosen_search(tmp_path, held, "model.net.lin1_size", [16, 32])  # (writes nas.yaml)
    # the bad value named first, the space key only where it was met (was: "space key
    # 'model.net.lin1_size': model.net.class_path: ...", blaming the key)
    with pytest.raises(ConfigError, match=r"^model.net.class_path: cannot import module "
                                          r"'no_such_mod' of 'no_such_mod.Net'.*; met "
                                          r"checking space key 'model.net.lin1_size'$"):
        search_from_config(load_config([tmp_path / "nas.yaml", later]))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("override", "key", "inner"), [
    ("--trainer={max_epochs: 2, devices: 1}", "trainer.max_epochs", "2"),
    ("--model={net: {lin1_size: 5}}", "model.net.lin1_size", "5"),
    ("--model={init_args: {net: {init_args: {lin1_size: 5}}}}", "model.net.lin1_size", "5"),
    ("--model={class_path: examples.lightningcli.model.LitClassifier, init_args: {net: "
     "{lin1_size: 5}}}", "model.net.lin1_size", "5"),
    ("--model={net: {hidden: {depth: [1, 2]}}}", "model.net.hidden", "{depth: [1, 2]}"),
    ("--model.net={lin1_size: 5}", "model.net.lin1_size", "5"),
    ("--data={batch_size: 16}", "data.batch_size", "16"),
    ("--trainer=FILE", "trainer.max_epochs", "2"),  # a YAML file of the section, as read
])
def test_a_whole_section_override_of_a_searched_key_is_refused_naming_it(tmp_path, override,
                                                                         key, inner):
    # a mapping merged over the section (LightningCLI's --trainer CONFIG) sets each key it
    # holds as the dotted form does; was: taken, and the space's value won in every trial
    from lightning_nas.config.load import load_config

    cfg = lightningcli(tmp_path, {}, {})
    cfg["search"]["space"] = {key: {"choice": [4, 16]}, "model.net.dropout": {"choice": [0.1]}}
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "trainer.yaml").write_text("max_epochs: 2\n")
    override = override.replace("FILE", str(tmp_path / "trainer.yaml"))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nas.yaml", [override])
    assert str(info.value).startswith(
        f"{override} (its {key}={inner}) sets a key the search space searches ('{key}'): every "
        f"trial takes the space's value. To fix it, --search.space.{key}={{fixed: {inner}}}")
    # a key of it the space does not search stays an override
    load_config(tmp_path / "nas.yaml", ["--trainer={devices: 1}", "--model={net: {lin2: 3}}"])


def test_a_whole_section_override_into_a_group_at_a_node_is_judged_key_by_key(tmp_path):
    # as --model.net.lin1_size=5 (refused) and --model.net.dropout=0.3 (taken)
    from lightning_nas.config.load import load_config

    cfg = lightningcli(tmp_path, {}, {})
    cfg["search"]["space"] = {"model.net": {"lin1_size": {"choice": [4, 16]}}}
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"^--model=\{net: \{lin1_size: 5\}\} \(its model.net."
                                          r"lin1_size=5\) sets a key the search space searches "
                                          r"\('lin1_size' in the group 'model.net'\)"):
        load_config(tmp_path / "nas.yaml", ["--model={net: {lin1_size: 5}}"])
    load_config(tmp_path / "nas.yaml", ["--model={net: {init_args: {dropout: 0.3}}}"])


def test_a_space_key_into_a_list_of_nodes_says_a_key_cannot_reach_into_a_list():
    # was: "model.modules has no class_path or _target_ in the config, so '1' cannot be
    # checked; write model.modules as class_path + init_args, ...": it is a list, whose item
    # 1 is a node, and a space key (a path of argument names) cannot index a list
    from lightning_nas.config.space_paths import check_dotted

    linear = {"class_path": "torch.nn.Linear", "init_args": {"in_features": 2,
                                                             "out_features": 2}}
    cfg = {"model": {"class_path": "torch.nn.ModuleList",
                     "init_args": {"modules": [linear, linear]}}}
    with pytest.raises(ConfigError) as info:
        check_dotted(cfg, "model.modules.1.bias")
    assert str(info.value) == (
        "space key 'model.modules.1.bias': model.modules is a list in the config (2 items), "
        "and a space key cannot reach into a list's items ('1'): search model.modules whole, "
        "a space key 'model.modules' whose values are lists")
