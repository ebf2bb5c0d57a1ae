"""A dataclass argument given as a mapping and not searched (a config's ``init_args: {net:
{hidden: 2}}``, ``model_init_args={"net": {"hidden": 2}}`` from Python) is set over the
fields of its signature default, as LightningCLI builds it: ``net: NetConfig =
NetConfig(depth=3)`` gives ``NetConfig(hidden=2, depth=3)`` (was: ``depth=1``, the
dataclass's own default), in the model and data sections, in a ``class_path`` node nested in
``init_args``, and along ``**kwargs`` to a base's argument. What LightningCLI does not merge
is not merged either: an ``Optional[NetConfig]`` argument's mapping, a ``dict`` argument's
(passed whole), a Python instance (it replaces the default), a Hydra ``_target_`` node's
mapping (passed as Hydra's ``instantiate`` passes it).

A searched path or group into a ``dict`` of dataclasses (``model.nets.a``), an ``Optional``
dataclass, or a ``Union`` whose classes annotate one field differently (a ``dict`` in one, a
dataclass in another) builds what LightningCLI's ``--key=value`` after the config builds, and
so does LightningCLI from the trial's config (``best.yaml``'s node); the model's
hyperparameters (its checkpoint's) are LightningCLI's. A path into a default that is a dict of
dataclass instances, which LightningCLI refuses, is refused before training.

Each case is checked against LightningCLI itself (``LightningCLI(run=False)``); one real
one-trial search checks that the trial, ``best_config.yaml`` read by LightningCLI, and the fit
of it get the same fields.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

import lightning.pytorch as pl
import pytest
import torch
import yaml
from lightning.pytorch.cli import LightningCLI
from torch import nn

from lightning_nas.cli import main
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.instantiate import instantiate
from lightning_nas.config.load import section_target
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.errors import ConfigError
from lightning_nas.export_config import best_config, model_section
from lightning_nas.search.from_config import search_from_config
from tests.helpers_data import BlobData
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import DEEP, NetConfig, Sized, cli_model, deep_layers

torch.set_num_threads(1)

HERE = __name__  # the import path of this module's classes, for class_path


class Backbone(nn.Module):
    """A nested ``class_path`` node's class, with a dataclass argument."""

    def __init__(self, cfg: NetConfig = DEEP) -> None:  # noqa: B008
        super().__init__()
        self.cfg = cfg


class DeepNet(ClassifierSteps, pl.LightningModule):
    """``net``'s default sets ``depth`` to 3; ``opt`` is a dict, ``maybe`` an Optional."""

    built: list[dict[str, Any]] = []  # the arguments of each model built

    def __init__(self, net: NetConfig = DEEP, opt: dict = {"lr": 0.1, "momentum": 0.9},  # noqa: B006
                 size: Sized = Sized(width=5), maybe: Optional[NetConfig] = DEEP,  # noqa: B008, UP045
                 backbone: Optional[Backbone] = None) -> None:  # noqa: UP045
        super().__init__()
        self.save_hyperparameters(ignore=["backbone"])
        self.args = {"net": net, "opt": opt, "size": size, "maybe": maybe,
                     "backbone": backbone and backbone.cfg}
        DeepNet.built.append(self.args)
        self.layers = deep_layers(net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class ChildNet(DeepNet):
    """``net`` reached through ``**kwargs``, as jsonargparse follows it to the base."""

    def __init__(self, extra: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)


@dataclasses.dataclass
class Keyed:
    """A dataclass with a plain ``dict`` field."""

    extra: dict = dataclasses.field(default_factory=dict)
    depth: int = 1


class KeyedNet(DeepNet):
    """``ext``'s default gives its ``dict`` field a key."""

    def __init__(self, ext: Keyed = Keyed({"x": 4}, 3)) -> None:  # noqa: B008
        super().__init__()
        self.ext = ext


class DeepData(BlobData):
    """``BlobData`` with a dataclass argument whose default is not its dataclass's own."""

    def __init__(self, cfg: NetConfig = DEEP, batch_size: int = 64) -> None:  # noqa: B008
        super().__init__(batch_size=batch_size)
        self.cfg = cfg


def _cli(tmp_path: Path, cfg: Mapping[str, Any]) -> LightningCLI:
    """LightningCLI's own build of ``cfg`` (nothing run)."""
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump(dict(cfg)))
    return LightningCLI(run=False, args=["--config", str(path)], save_config_callback=None,
                        trainer_defaults={"logger": False, "enable_progress_bar": False})


def _ours(section: Mapping[str, Any], name: str = "model") -> Any:
    """A config section built as a search's trial builds it (``section_target``: a plain
    ``class_path`` node by its class and ``init_args``, one holding nodes by a builder)."""
    target, args = section_target(dict(section), name)
    if name == "model":
        factory = ModelFactory(target, args)
        factory.check([])
        return factory.build({})
    data = DataFactory(target, args)
    data.check()
    return data.build({})


MODEL = {"class_path": f"{HERE}.DeepNet", "init_args": {
    "net": {"hidden": 2}, "opt": {"lr": 0.5}, "maybe": {"hidden": 2}}}


def test_a_config_mapping_gets_the_fields_lightningcli_gives(tmp_path):
    cli = _cli(tmp_path, {"model": MODEL})
    assert cli.model.args["net"] == NetConfig(hidden=2, depth=3)  # LightningCLI's own
    assert cli.model.args["opt"] == {"lr": 0.5}  # a dict: whole
    assert cli.model.args["maybe"] == NetConfig(hidden=2, depth=1)  # Optional: not merged
    ours = _ours(MODEL).args
    assert {k: ours[k] for k in ("net", "opt", "maybe")} == {
        k: cli.model.args[k] for k in ("net", "opt", "maybe")}
    assert _ours(MODEL).hparams.net == {"hidden": 2, "depth": 3}  # as LightningCLI's config


def test_a_nested_class_path_nodes_mapping_and_a_bases_argument_get_lightningclis_fields(
        tmp_path):
    nested = {"class_path": f"{HERE}.DeepNet", "init_args": {"backbone": {
        "class_path": f"{HERE}.Backbone", "init_args": {"cfg": {"hidden": 2}}}}}
    child = {"class_path": f"{HERE}.ChildNet", "init_args": {"net": {"hidden": 2}}}
    for section, key in ((nested, "backbone"), (child, "net")):
        cli = _cli(tmp_path, {"model": section})
        assert cli.model.args[key] == NetConfig(hidden=2, depth=3)  # LightningCLI's own
        assert _ours(section).args[key] == NetConfig(hidden=2, depth=3)  # (was: depth=1)


def test_a_group_at_a_nodes_argument_merges_a_dataclass_mapping_as_lightningcli(tmp_path):
    section = {"class_path": f"{HERE}.DeepNet", "init_args": {"backbone": {
        "class_path": f"{HERE}.Backbone", "init_args": {"cfg": {"hidden": 2, "depth": 5}}}}}
    want = cli_model(tmp_path, section, "--model.init_args.backbone.init_args.cfg={hidden: 4}")
    assert want.args["backbone"] == NetConfig(4, 5)  # LightningCLI's own: merged
    arch = {"model.backbone": {"cfg": {"hidden": 4}}}  # model.backbone: {cfg: {choice: [...]}}
    trial = ConfigBuilder(section, "model", plain_keys=True)(arch)  # nothing trained
    assert trial.args["backbone"] == want.args["backbone"]  # (was: NetConfig(4, 3))
    best = best_config({"model": section}, arch)["model"]  # best_config.yaml's node
    assert cli_model(tmp_path, best).args["backbone"] == want.args["backbone"]


def test_a_data_sections_mapping_gets_the_fields_lightningcli_gives(tmp_path):
    data = {"class_path": f"{HERE}.DeepData", "init_args": {"cfg": {"hidden": 2}}}
    cli = _cli(tmp_path, {"model": {"class_path": f"{HERE}.DeepNet"}, "data": data})
    assert cli.datamodule.cfg == NetConfig(hidden=2, depth=3)
    assert _ours(data, "data").cfg == NetConfig(hidden=2, depth=3)  # (was: depth=1)
    built = ConfigBuilder(data, "data", plain_keys=False)({})  # a data section's builder
    assert built.cfg == NetConfig(hidden=2, depth=3)


def test_a_required_field_the_signature_default_gives_is_not_refused(tmp_path):
    section = {"class_path": f"{HERE}.DeepNet", "init_args": {"size": {"act": "tanh"}}}
    assert _cli(tmp_path, {"model": section}).model.args["size"] == Sized(5, "tanh")
    assert _ours(section).args["size"] == Sized(5, "tanh")  # (was: refused before training)
    nested = {"class_path": f"{HERE}.DeepNet", "init_args": {"backbone": {
        "class_path": f"{HERE}.Backbone", "init_args": {"cfg": {"hidden": 2}}}, **section[
            "init_args"]}}
    ConfigBuilder(nested, "model", plain_keys=True).check({})  # a builder's section too


def test_python_init_args_mappings_are_set_over_the_signature_default():
    factory = ModelFactory(DeepNet, {"net": {"hidden": 2}, "size": {"act": "tanh"}})
    factory.check([])  # (was: refused, Sized requires the field width)
    args = factory.build({}).args
    assert (args["net"], args["size"]) == (NetConfig(2, 3), Sized(5, "tanh"))
    # a group over a model_init_args mapping too, as the config's search builds it
    assert factory.build({"net": {"hidden": 4}}).args["net"] == NetConfig(4, 3)
    data = DataFactory(DeepData, {"cfg": {"hidden": 2}})
    assert data.build({}).cfg == NetConfig(2, 3)


def test_what_lightningcli_does_not_merge_is_not_merged():
    # an instance replaces the default; a dict is passed whole; an Optional's mapping is
    # the dataclass's own defaults, as LightningCLI's --model.maybe='{hidden: 4}'
    factory = ModelFactory(DeepNet, {"net": NetConfig(hidden=2)})
    assert factory.build({}).args["net"] == NetConfig(2, 1)
    assert ModelFactory(DeepNet).build({"opt": {"lr": 0.2}}).args["opt"] == {"lr": 0.2}
    assert ModelFactory(DeepNet).build({"maybe": {"hidden": 4}}).args["maybe"] == NetConfig(4, 1)


def test_a_dict_field_of_a_dataclass_mapping_replaces_the_defaults_as_lightningcli(tmp_path):
    section = {"class_path": f"{HERE}.KeyedNet", "init_args": {"ext": {"extra": {"z": 2}}}}
    want = _cli(tmp_path, {"model": section}).model.ext
    assert want == Keyed({"z": 2}, 3)  # LightningCLI's own: the default's extra.x dropped
    assert _ours(section).ext == want  # (was: Keyed({'x': 4, 'z': 2}, 3), merged)
    assert ModelFactory(KeyedNet).build({"ext": {"extra": {"z": 2}}}).ext == want  # a group


def test_a_hydra_nodes_mapping_is_passed_as_hydras_instantiate_passes_it():
    hydra_utils = pytest.importorskip("hydra.utils")
    node = {"_target_": f"{HERE}.Backbone", "cfg": {"hidden": 2}}
    theirs = hydra_utils.instantiate(node).cfg
    assert dict(theirs) == {"hidden": 2}  # Hydra: the mapping, nothing merged
    assert instantiate(node, "model").cfg == dict(theirs)


def test_best_yaml_of_a_python_search_says_the_fields_its_trial_got():
    model = {"class_path": f"{HERE}.DeepNet", "init_args": {"net": {"hidden": 2}}}
    assert model_section(model, {})["init_args"]["net"] == {"hidden": 2, "depth": 3}


def test_a_config_search_its_best_config_and_lightningcli_train_the_same_fields(tmp_path):
    DeepNet.built.clear()
    run = tmp_path / "run"
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 0,
        "model": {"class_path": f"{HERE}.DeepNet", "init_args": {"net": {"hidden": 2}}},
        "data": {"class_path": f"{HERE}.DeepData", "init_args": {"cfg": {"hidden": 2}}},
        "trainer": {"max_epochs": 1, "limit_train_batches": 1, "limit_val_batches": 1,
                    "accelerator": "cpu", "devices": 1, "enable_progress_bar": False,
                    "logger": False},
        "search": {"space": {"opt": {"lr": {"choice": [0.3, 0.5]}}}, "budget": 1, "verbose": False,
                   "optimizer": "RandomSearch", "run_dir": str(run)}}))
    assert main(["search", str(config)]) == 0
    assert DeepNet.built and all(args["net"] == NetConfig(2, 3) for args in DeepNet.built)
    state = torch.load(run / "best.ckpt", weights_only=False)["state_dict"]
    assert sum(k.endswith("weight") for k in state) == 4  # three hidden layers: depth 3
    best = yaml.safe_load((run / "best_config.yaml").read_text())
    cli = _cli(tmp_path, {k: best[k] for k in ("model", "data")})  # the user's own CLI
    assert cli.model.args["net"] == NetConfig(2, 3) and cli.datamodule.cfg == NetConfig(2, 3)
    fit = _ours(best["model"]), _ours(best["data"], "data")  # what `fit` builds of it
    assert fit[0].args["net"] == NetConfig(2, 3) and fit[1].cfg == NetConfig(2, 3)


class Held(ClassifierSteps, pl.LightningModule):
    """The base of the models whose one argument a search sets a path into: ``value`` of the
    last one built; its hyperparameters are what its checkpoint keeps."""

    last: Any = None

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.save_hyperparameters()
        Held.last = value
        self.layer = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class Nets(Held):
    """``nets`` a ``dict`` of dataclasses."""

    def __init__(self, nets: dict[str, NetConfig] = None) -> None:  # type: ignore[assignment]
        super().__init__(nets)


class Maybe(Held):
    """``net`` an ``Optional`` dataclass, its default an instance."""

    def __init__(self, net: Optional[NetConfig] = DEEP) -> None:  # noqa: B008, UP045
        super().__init__(net)


@dataclasses.dataclass
class In:
    """An inner dataclass."""

    x: int = 0
    y: int = 1


@dataclasses.dataclass
class WithIn:
    """``hidden`` a dataclass: a mapping set there is merged over the one there."""

    hidden: In = dataclasses.field(default_factory=In)
    width: int = 1


@dataclasses.dataclass
class WithDict:
    """``hidden`` a plain ``dict``: a mapping set there replaces the one there."""

    hidden: dict = dataclasses.field(default_factory=lambda: {"x": 2, "y": 3})
    depth: int = 1


class Mixed(Held):
    """``net``'s classes annotate ``hidden`` differently, a ``dict`` and a dataclass."""

    def __init__(self, net: Union[WithDict, WithIn] = WithDict()) -> None:  # noqa: B008, UP007
        super().__init__(net)


@pytest.mark.parametrize(("cls", "init", "key", "values"), [
    (Nets, {"nets": {"a": {"depth": 2}}}, "model.nets.a.hidden", (5, 6)),
    (Nets, {"nets": {"a": {"depth": 2}, "c": {}}}, "model.nets.a", ({"hidden": 5}, {})),
    (Nets, {"nets": {"a": {"depth": 2}, "c": {}}}, "model.nets", ({"a": {"hidden": 5}}, {})),
    (Maybe, {}, "model.net.hidden", (5, 6)),  # the default's depth=3 kept
    (Maybe, {"net": {"depth": 2}}, "model.net", ({"hidden": 5}, {})),  # the config's kept
    (Mixed, {"net": {"hidden": {"x": 4}}}, "model.net.hidden", ({"y": 5}, {})),
    (Mixed, {}, "model.net.hidden", ({"y": 5}, {})),
    (Mixed, {"net": {"hidden": {"x": 4}}}, "model.net", ({"hidden": {"y": 5}}, {})),
    (Mixed, {"net": {"hidden": {"x": 4}, "width": 2}}, "model.net", ({"hidden": {"y": 5}},
                                                                     {"width": 3})),
])
def test_a_searched_path_or_group_into_a_dict_optional_or_union_builds_what_lightningcli_builds(
        tmp_path, cls, init, key, values):
    node = {"class_path": f"{HERE}.{cls.__name__}", "init_args": init}
    search = search_from_config({  # nothing trained
        "model": node, "data": {"class_path": "tests.helpers_data.BlobData"},
        "trainer": {"max_epochs": 1, "logger": False},
        "search": {"space": {key: {"choice": list(values)}}, "budget": 1,
                   "run_dir": str(tmp_path / "run")}})
    value, name = values[0], key.split(".")[1]  # (the other value: a choice's second)
    theirs = cli_model(tmp_path, node, f"--{key}={json.dumps(value)}")  # LightningCLI's own
    want = Held.last
    ours = search.model.build({key: value})
    assert Held.last == want  # (was: nets.a's depth 2 lost, a group set in place of the
    # mapping there; Mixed's hidden.x 4 kept, a dict field's mapping merged into it)
    assert ours.hparams[name] == theirs.hparams[name]  # what the checkpoint keeps
    cli_model(tmp_path, search.model.target.config({key: value}))  # best.yaml's node
    assert Held.last == want


class NetsSet(Held):
    """``nets``' default a dict of dataclass instances."""

    def __init__(self, nets: dict[str, NetConfig] = {"a": DEEP, "b": NetConfig()}) -> None:  # noqa: B006, B008
        super().__init__(nets)


@pytest.mark.parametrize("key", ["model.nets.a.hidden", "model.nets.a"])
def test_a_path_into_a_default_dict_of_dataclass_instances_is_refused_before_training(
        tmp_path, key):
    node = {"class_path": f"{HERE}.NetsSet"}
    if key.endswith("hidden"):
        with pytest.raises(SystemExit):  # LightningCLI refuses --model.nets.a.hidden=5
            cli_model(tmp_path, node, f"--{key}=5")
    with pytest.raises(ConfigError) as err:  # (was: trials built nets.a with depth 1 and
        search_from_config({  # the instance b, which best.yaml cannot write)
            "model": node, "data": {"class_path": "tests.helpers_data.BlobData"},
            "trainer": {"max_epochs": 1, "logger": False},
            "search": {"space": {key: {"choice": [5, 6] if key.endswith("n") else [
                {"hidden": 5}, {}]}}, "budget": 1, "run_dir": str(tmp_path / "run")}})
    message = str(err.value)
    assert message.startswith(f"space key {key!r}: "), message
    assert "NetsSet's nets" in message and "give nets in the config" in message
    assert "{nets: {a: {...}, b: {...}}}" in message
    assert not (tmp_path / "run").exists()


def test_a_misspelt_field_in_a_dict_of_dataclasses_is_refused_before_training(tmp_path):
    node = {"class_path": f"{HERE}.Nets", "init_args": {"nets": {"a": {"hiden": 3}}}}
    with pytest.raises(SystemExit):  # LightningCLI refuses it
        cli_model(tmp_path, node)
    says = r"model\.nets\.a\.hiden: not a field of NetConfig; did you mean 'hidden'"
    with pytest.raises(ConfigError, match=says):  # (was: the model got the dict {'hiden': 3})
        ConfigBuilder(node, "model", plain_keys=True).check()  # a config's init_args
    with pytest.raises(ConfigError, match=says):
        ModelFactory(Nets).check_arch({"nets": {"a": {"hiden": 3}}})  # a group of the space
