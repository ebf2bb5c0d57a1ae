"""Configs of classes that pass arguments on as LightningCLI builds them: space keys that
spell out ``init_args`` levels, groups at a node, bare import paths, subclasses passing
``**kwargs`` on (their arguments checked against the base's), arguments a subclass gives
its base itself, and required arguments asked of each choice option only where needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.config.instantiate import instantiate
from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.search.facade import Search
from lightning_nas.search.from_config import search_from_config
from tests.helpers_config import (
    COSINE,
    KW_BODY,
    STEP,
    FourBody,
    FourWide,
    config,
    lightningcli,
)
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_nets import Body


def test_a_space_key_may_spell_out_its_init_args_levels(tmp_path):
    # was: 'init_args' is not an argument of LitClassifier, though the init_args level is one
    # a path *may* leave out (LightningCLI's own overrides take both spellings)
    cfg = lightningcli(tmp_path, {}, {"lr": 0.01})
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
    cfg = lightningcli(tmp_path, {"lin2_size": 16}, {"lr": 0.01})
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
    cfg = lightningcli(tmp_path, {}, {})
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
    cfg = config(tmp_path / "run")
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
    # best_config.yaml keeps them in init_args, where LightningCLI takes them (it follows
    # the **kwargs to the base) and its --print_config writes them (was: under dict_kwargs)
    node = yaml.safe_load((tmp_path / "run" / "best_config.yaml").read_text())["model"]
    assert set(node) == {"class_path", "init_args"}, node
    assert set(node["init_args"]) == {"net", "optimizer", "extra"}, node


def _net_config(run_dir: Path, space: dict) -> dict:
    cfg = config(run_dir)
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


def test_a_bad_fixed_value_of_the_config_is_named_as_the_culprit_not_a_space_key(tmp_path):
    # was: "space key 'model.extra' may take 1: model.net: Linear lacks ...", though no value
    # of model.extra fits (the config's own model.net fails whatever the space takes)
    cfg = config(tmp_path / "run")
    cfg["model"] = {"class_path": "tests.helpers.KwargsCallableOptNet",
                    "init_args": {"net": {"class_path": "torch.nn.Linear"}}}
    cfg["search"]["space"] = {"model.extra": {"choice": [0, 1]}}
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert str(info.value).startswith(
        "the config's own value (no space key's): model.net: Linear lacks required arguments "
        "'in_features', 'out_features'"), info.value
    assert not (tmp_path / "run").exists()


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
    ({"model.net": {"choice": [{"class_path": "tests.helpers_config.FourBody"},
                               {"class_path": "tests.helpers_config.FourBody",
                                "init_args": {"width": 8}}]}},
     f"model.net.width: not an argument of FourBody.__init__ nor of a base its **kwargs "
     f"passes them on to; {GIVEN}"),
])
def test_an_argument_a_subclass_gives_its_base_itself_is_refused(tmp_path, space, message):
    # was: FourBody (super().__init__(width=4, **kwargs)) took `width` from the config, then
    # "Body.__init__() got multiple values for keyword argument 'width'" building a trial's
    # model (a choice option's: in the trial that chose it)
    cfg = _net_config(tmp_path / "run", space)
    cfg["model"]["init_args"]["net"] = {"class_path": "tests.helpers_config.FourBody"}
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


@pytest.mark.parametrize(("space", "message"), [
    ({"model.scheduler": {"choice": [{"class_path": STEP, "init_args": {"step_size": 1}},
                                     {"class_path": COSINE}]}},
     f"space key 'model.scheduler' may take {{'class_path': '{COSINE}'}}: model.scheduler: "
     f"CosineAnnealingLR lacks required argument 'T_max' (the node gives none), and building "
     f"it would fail; set model.scheduler.init_args.T_max"),
    ({"model.net": {"choice": [{"class_path": KW_BODY},
                               {"class_path": "tests.helpers_config.WideBody"}]}},
     "space key 'model.net' may take {'class_path': 'tests.helpers_config.WideBody'}: model.net: "
     "WideBody lacks required argument 'width' (the node gives none), and building it would "
     "fail; set model.net.init_args.width; or, if it is to be called later"),
])
def test_a_choice_option_whose_class_lacks_a_required_argument_is_refused_before_training(
        tmp_path, space, message):
    # was: accepted; the trial that chose it failed ("CosineAnnealingLR.__init__() missing 1
    # required positional argument: 'T_max'")
    cfg = _net_config(tmp_path / "run", space)
    cfg["model"]["class_path"] = "tests.helpers_config.SchedNet"
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert message in str(info.value)


@pytest.mark.parametrize("cls", ["KwWideBody", "WideHolder"])
def test_a_required_argument_passed_on_by_kwargs_is_asked_of_a_choice_option(tmp_path, cls):
    # was: accepted (the class's own __init__ requires nothing), then "WideBody.__init__()
    # missing 1 required positional argument: 'width'" in the trial that chose it
    path = f"tests.helpers_config.{cls}"
    space = {"model.net": {"choice": [{"class_path": KW_BODY}, {"class_path": path}]}}
    with pytest.raises(ConfigError) as info:
        search_from_config(_net_config(tmp_path / "run", space))
    assert (f"space key 'model.net' may take {{'class_path': '{path}'}}: model.net: {cls} "
            f"lacks required argument 'width' (the node gives none; its **kwargs passes "
            f"'width' on to a base or a class it builds, which requires it, as LightningCLI "
            f"finds), and building it would fail; set model.net.init_args.width") \
        in str(info.value)
    assert not (tmp_path / "run").exists()  # before any training


def test_a_passed_on_argument_given_later_by_position_is_not_asked():
    # an OptimizerCallable's params and an LRSchedulerCallable's optimizer come later as the
    # first positional values, which *args passes on; StepLR's step_size does not
    from lightning_nas.config.required import check_required

    net = {"class_path": "torch.nn.Identity"}
    sgd = {"class_path": "tests.helpers_config.ArgsSGD", "init_args": {"lr": 0.1}}
    step = {"class_path": "tests.helpers_config.ArgsStepLR"}
    check_required({"class_path": "tests.helpers_config.SchedNet", "init_args": {
        "net": net, "optimizer": sgd,
        "scheduler": {**step, "init_args": {"step_size": 1}}}}, "model")
    with pytest.raises(ConfigError, match=re.escape(
            "model.scheduler: ArgsStepLR lacks required argument 'step_size'")):
        check_required({"class_path": "tests.helpers_config.SchedNet", "init_args": {
            "net": net, "optimizer": sgd, "scheduler": step}}, "model")


def test_a_required_argument_a_subclass_gives_its_base_itself_is_not_asked():
    from lightning_nas.config.required import check_required

    net = {"class_path": "tests.helpers_config.FourWide"}  # width given by FourWide itself
    check_required({"class_path": "tests.helpers.CallableOptNet", "init_args": {"net": net}},
                   "model")
    holder = {"class_path": "tests.helpers_config.WideHolder", "init_args": {"width": 4}}
    check_required({"class_path": "tests.helpers.CallableOptNet", "init_args": {"net": holder}},
                   "model")
    hydra = {"_target_": "tests.helpers_config.KwWideBody"}  # called as Python calls it
    check_required({"_target_": "tests.helpers.CallableOptNet", "net": hydra}, "model")


def test_arguments_lightningcli_supplies_are_not_asked_of_a_choice_option(tmp_path):
    # an OptimizerCallable's params, an LRSchedulerCallable's optimizer (given when the model
    # calls them), a searched argument, one passed on by **kwargs (KwBody's width)
    space = {"model.scheduler": {"choice": [{"class_path": STEP, "init_args": {"step_size": 1}},
                                            {"class_path": COSINE, "init_args": {"T_max": 2}}]},
             "model.optimizer": {"choice": [{"class_path": "torch.optim.SGD"},
                                            {"class_path": "torch.optim.Adam"}]},
             "model.net": {"choice": [{"class_path": KW_BODY, "init_args": {"width": 4}},
                                      {"class_path": "tests.helpers_config.WideBody"}]},
             "model.net.width": {"choice": [4, 6]}}
    cfg = _net_config(tmp_path / "run", space)
    cfg["model"]["class_path"] = "tests.helpers_config.SchedNet"
    cfg["search"]["optimizer"] = "RandomSearch"
    result = search_from_config(cfg).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]
