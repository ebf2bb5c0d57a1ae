"""Errors a config holds are found before training, each naming where: YAML syntax (file,
line, column), an empty space path, a folder as a config, paths into nested objects, a
number for an optimizer callable, a section that builds no module, a required model
argument left out."""

from __future__ import annotations

import pytest
import yaml

from lightning_nas.config.load import apply_overrides, load_config
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers_config import (
    BASE,
    broken,
    config,
    lightningcli,
)


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
    cfg = config(tmp_path / "run")
    cfg["search"]["space"] = "space.yaml"
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "space.yaml").write_text("width: {choice: [4, 8]}\nlr: {float: [1, 2}\n")
    with pytest.raises(ConfigError, match=r"space\.yaml:2:18: expected ',' or ']'"):
        load_config(tmp_path / "nas.yaml")


def test_empty_space_path_and_folder_config_are_errors_not_tracebacks(tmp_path):
    cfg = config(tmp_path / "run")
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
      "it takes ['epoch', 'batch', 'rank']"]),
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
    msg, run_dir = broken(tmp_path, change)
    for needle in needles:
        assert needle in msg
    assert not run_dir.exists()


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
        search_from_config(lightningcli(tmp_path, net, optimizer))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("fixed", "space"), [
    (0.01, {}),  # the learning rate written where the optimizer goes
    (None, {"model.optimizer": {"choice": [{"class_path": "torch.optim.SGD"}, 0.1]}}),
])
def test_a_number_for_an_optimizer_callable_is_refused_before_training(tmp_path, fixed, space):
    # was: taken (a Callable "cannot be told"), so every trial failed in configure_optimizers
    # ("'float' object is not callable") after the run folder was written
    cfg = lightningcli(tmp_path, {}, {})
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
     r"the link_arguments of your own LightningCLI are applied only where search.cli names "
     r"it: README, LightningCLI configs, 'link_arguments: name your CLI in search.cli'\)"),
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
    cfg = config(tmp_path / "run")
    cfg["model"] = section
    cfg["search"]["space"] = {"model.optimizer.lr" if "optimizer" in str(section) else
                              "model.lr": {"choice": [0.05, 0.1]}}
    with pytest.raises(ConfigError, match=pattern) as info:
        search_from_config(cfg)
    assert "_partial_" not in str(info.value)
    assert not (tmp_path / "run").exists()
