"""Class-valued arguments as LightningCLI reads them: plain space keys of ``class_path``
options, ``type``-annotated arguments given a class, its import path or a ``class_path``
node, values a base's annotations take, and LightningCLI's top-level config (its ``fit``
section, a fixed class's section)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import torch
import yaml
from lightning.pytorch.demos.boring_classes import BoringModel

from lightning_nas.config.instantiate import instantiate
from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers_config import (
    COSINE,
    KW_BODY,
    STEP,
    config,
)


def test_a_plain_space_key_of_class_path_options_is_built_as_its_dotted_form(tmp_path):
    # was: a model section without nodes went through ModelFactory(class), which passed
    # each trial the option's dict: "TypeError: 'dict' object is not callable" in training
    cfg = config(tmp_path / "run")
    cfg["model"]["class_path"] = "tests.helpers_config.SchedTiny"
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
    cfg = config(tmp_path / "run")
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
    cfg = config(tmp_path / "run")
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
    cfg = config(tmp_path / "run")
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


class LossNet(BoringModel):
    """A model taking its loss function, ``Callable``-annotated, as projects pass one."""

    def __init__(self, loss_fn: Callable = torch.nn.functional.cross_entropy) -> None:
        super().__init__()
        self.loss_fn = loss_fn


def test_a_callable_argument_given_a_functions_import_path_gets_the_function(tmp_path):
    # was: the text passed on ('torch.nn.functional.mse_loss'), where LightningCLI imports
    # the function a Callable argument's import path names
    from typing import Callable as TypingCallable  # noqa: UP035 - taken too
    from typing import Optional, Union

    from lightning_nas.config.convert import convert
    from lightning_nas.config.section_builder import ConfigBuilder
    from tests.helpers_records import cli_model

    mse = torch.nn.functional.mse_loss
    for hint in (Callable, TypingCallable, TypingCallable[..., torch.Tensor],
                 Optional[Callable]):  # noqa: UP045
        assert convert("torch.nn.functional.mse_loss", hint) is mse
    assert convert("torch.nn.functional.mse_loss", Union[str, Callable]) == (  # noqa: UP007
        "torch.nn.functional.mse_loss")  # a str first: the text, as jsonargparse
    assert convert("torch.nn.functional.nothere", Callable) == "torch.nn.functional.nothere"
    section = {"class_path": f"{__name__}.LossNet",
               "init_args": {"loss_fn": "torch.nn.functional.mse_loss"}}
    assert ConfigBuilder(section, "model", plain_keys=True)({}).loss_fn is mse
    assert cli_model(tmp_path, section).loss_fn is mse  # LightningCLI's


def test_another_class_keeps_the_values_its_bases_annotations_take_as_lightningcli():
    # was: a value for an argument KwBody passes on to Body was kept whatever its type
    # (Body's annotation unread), so width='wide' went on to Linear(8, 'wide'); as for an
    # argument of the class itself, a value its annotation does not take is dropped
    from lightning_nas.config.node_merge import merge_node

    named = {"class_path": "tests.helpers_config.NamedBody", "init_args": {"width": "wide"}}
    for other in ("tests.helpers.Body", KW_BODY):
        assert merge_node(named, other) == {"class_path": other, "init_args": {}}
    assert merge_node({"class_path": "tests.helpers.Body", "init_args": {"width": 4}},
                      KW_BODY) == {"class_path": KW_BODY, "init_args": {"width": 4}}


def test_a_config_for_lightningclis_top_level_config_is_read_from_its_fit_section(tmp_path):
    # was: "unknown config section 'fit'" for `python main.py --config config.yaml fit`'s
    # file, a section per subcommand
    flat = config(tmp_path / "run")
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
    cfg = config(tmp_path / "run")
    search = section.pop("search", {})
    cfg.update(section)
    cfg["search"].update(search)
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert message in str(info.value)
