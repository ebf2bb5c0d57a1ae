"""Tests of ``config.instantiate``: ``import_object`` and its errors, ``instantiate`` of
nested class_path specs, and a spec's values converted to their annotations.
"""

from __future__ import annotations

import collections
import datetime
import fractions
import types

import pytest
import torch
from torch import nn

from lightning_nas.config.convert import convert_args
from lightning_nas.config.factories import ModelFactory
from lightning_nas.config.instantiate import import_object, instantiate
from lightning_nas.errors import ConfigError, NASError
from tests.helpers_models import TinyNet, TypedNet


# ---------------------------------------------------------------- import_object
def test_import_object_finds_classes():
    assert import_object("collections.OrderedDict") is collections.OrderedDict
    assert import_object("collections:OrderedDict") is collections.OrderedDict
    assert import_object("tests.helpers.TinyNet") is TinyNet


def test_import_object_needs_a_module_part():
    with pytest.raises(ConfigError, match="needs a module part") as info:
        import_object("OrderedDict")
    assert "'OrderedDict'" in str(info.value)
    for bad in ("", "  ", None, 3):
        with pytest.raises(ConfigError, match="expected an import path"):
            import_object(bad)


def test_a_class_name_alone_is_found_where_lightningcli_finds_it():
    # was: "import path 'EarlyStopping' needs a module part", where LightningCLI trains
    from lightning.pytorch.callbacks import EarlyStopping
    from lightning.pytorch.loggers import CSVLogger
    from torch.optim import Adam
    from torch.optim.lr_scheduler import StepLR
    assert [import_object(n) for n in ("EarlyStopping", "CSVLogger", "Adam", "StepLR")] == [
        EarlyStopping, CSVLogger, Adam, StepLR]
    with pytest.raises(ConfigError) as info:  # the message says where the node is
        instantiate([{"class_path": "EarlyStoping"}], "trainer.callbacks")
    assert str(info.value).startswith("trainer.callbacks[0]: import path 'EarlyStoping'")
    assert "looked up in lightning.pytorch.callbacks" in str(info.value)


def test_import_object_missing_module():
    with pytest.raises(ConfigError, match="cannot import module 'no_such_pkg_xyz.models'") as info:
        import_object("no_such_pkg_xyz.models.Net")
    assert "no_such_pkg_xyz.models.Net" in str(info.value)


def test_import_object_missing_attribute_lists_close_names():
    with pytest.raises(ConfigError) as info:
        import_object("tests.helpers.TinyNett")
    msg = str(info.value)
    assert "has no attribute 'TinyNett'" in msg and "'tests.helpers'" in msg
    assert "close names: TinyNet" in msg
    with pytest.raises(ConfigError, match="close names: OrderedDict"):
        import_object("collections.OrderedDic")
    with pytest.raises(ConfigError) as info:
        import_object("collections.Zzzzzzzz")
    assert "close names" not in str(info.value)


def test_config_error_belongs_to_the_one_error_family():
    assert issubclass(ConfigError, NASError) and not issubclass(ConfigError, ValueError)


# ---------------------------------------------------------------- instantiate
def test_instantiate_nested_specs():
    spec = {
        "a": [{"class_path": "fractions.Fraction", "init_args": {"numerator": 1,
                                                               "denominator": 3}}],
        "b": {"class_path": "types.SimpleNamespace",
              "init_args": {"frac": {"class_path": "fractions.Fraction",
                                     "init_args": {"numerator": 6, "denominator": 4}},
                            "n": 2}},
        "c": {"plain": [1, "x"]},
        "d": {"class_path": "collections.OrderedDict"},
    }
    out = instantiate(spec)
    assert out["a"] == [fractions.Fraction(1, 3)]
    assert out["b"] == types.SimpleNamespace(frac=fractions.Fraction(3, 2), n=2)
    assert out["c"] == {"plain": [1, "x"]}
    assert type(out["d"]) is collections.OrderedDict


def test_instantiate_gives_fresh_objects():
    spec = {"x": [1, {"y": [2]}]}
    a, b = instantiate(spec), instantiate(spec)
    a["x"][1]["y"].append(3)
    assert b == spec and spec == {"x": [1, {"y": [2]}]}
    objs = [instantiate({"class_path": "collections.OrderedDict"}) for _ in range(2)]
    assert objs[0] is not objs[1]


def test_instantiate_rejects_extra_keys():
    with pytest.raises(ConfigError) as info:
        instantiate({"class_path": "datetime.timedelta", "init_arg": {"seconds": 3}})
    msg = str(info.value)
    assert "unknown key 'init_arg'" in msg and "'datetime.timedelta'" in msg
    assert "valid keys: class_path, init_args" in msg


def test_instantiate_bad_class_path():
    with pytest.raises(ConfigError, match="close names: timedelta"):
        instantiate({"class_path": "datetime.timedelt"})


def test_a_specs_values_are_converted_to_the_annotations_as_jsonargparse_converts_them():
    # was: passed as YAML wrote them (a str for an Enum or a Path, a list for a tuple), so
    # a model that used them failed in every trial
    from pathlib import Path

    from tests.helpers_models import Act

    given = {"act": "tanh", "path": "/tmp", "sizes": [1, 2], "pair": [3, 4], "tags": ["a"],
             "either": "/x", "named": {"k": "relu"}, "untyped": [1]}
    got = instantiate({"class_path": "tests.helpers.annotated", "init_args": given})
    assert got == {"act": Act.tanh, "path": Path("/tmp"), "sizes": (1, 2), "pair": (3, 4),
                   "tags": {"a"}, "either": "/x", "named": {"k": Act.relu}, "untyped": [1]}
    assert type(got["either"]) is str  # a Union takes its first type that fits
    assert instantiate({"class_path": "tests.helpers.annotated",
                        "init_args": {"pair": None}})["pair"] is None
    # a value that does not fit stays as written (the checks say what is wrong with it)
    assert instantiate({"class_path": "tests.helpers.annotated",
                        "init_args": {"pair": [1, 2, 3]}})["pair"] == [1, 2, 3]
    # Hydra's instantiate converts nothing: neither does a _target_ node
    assert instantiate({"_target_": "tests.helpers.annotated", "act": "tanh"})["act"] == "tanh"
    # a section of plain values, built by its class as a search and fit build it
    model = ModelFactory("tests.helpers.TypedNet", {"sizes": [4]}).build({"act": "tanh"})
    assert model.hparams.act == "tanh" and isinstance(model.net[1], nn.Tanh)


class ChildOfTyped(TypedNet):
    """Passes every argument but ``depth`` on to ``TypedNet`` through ``**kwargs``."""

    def __init__(self, depth: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)


def test_a_bases_arguments_passed_on_by_kwargs_are_converted_and_kept_as_hyperparameters():
    # was: a base's annotation (act: Act) was not looked at, so 'tanh' stayed a str and
    # every trial failed; and a converted value (sizes [4] -> (4,)) built the class with
    # hyperparameters of its own arguments only, so the base's self.hparams.lr was gone
    from tests.helpers_models import Act

    model = ModelFactory(ChildOfTyped, {"sizes": [4]}).build({"act": "tanh", "depth": 2})
    assert isinstance(model.net[1], nn.Tanh)
    assert model.hparams.lr == 0.05 and model.hparams.act == "tanh"
    assert convert_args(ChildOfTyped, {"act": "relu"}) == {"act": Act.relu}
    # an Enum's value is no member's name: passed as given, as jsonargparse refuses it
    assert convert_args(TypedNet, {"act": 1}) == {"act": 1}


def test_instantiate_dict_kwargs_are_not_silently_dropped():
    try:
        obj = instantiate({"class_path": "datetime.timedelta", "dict_kwargs": {"seconds": 3}})
    except ConfigError:
        return
    assert obj == datetime.timedelta(seconds=3)


# ------------------------------------------------- a mapping at a plain dict argument
#: Lightning's documented ``optimizer_init: dict`` pattern, and a stray key LightningCLI
#: passes too, at a ``Mapping`` and a ``dict[str, Any]`` argument
DATA_ARGS = {"optimizer_init": {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.1}},
             "spare": {"class_path": "no.such.Thing", "extra": 1},
             "extra": {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.2}}}


def test_a_class_path_mapping_at_a_plain_dict_argument_is_data_as_lightningcli_passes_it(
        tmp_path):
    # was: built, "model.optimizer_init: Adam: the config does not give required argument
    # 'params'", where LightningCLI gives the module the mapping as it is
    pytest.importorskip("jsonargparse")
    from lightning_nas.config.instantiate import check_init_args
    from tests.helpers_config import OptimInitNet
    from tests.helpers_records import cli_model

    node = {"class_path": "tests.helpers_config.OptimInitNet", "init_args": DATA_ARGS}
    check_init_args(OptimInitNet, DATA_ARGS, "model", dict_kwargs=())
    ours, theirs = instantiate(node, "model"), cli_model(tmp_path, node)
    assert ours.got == theirs.got == DATA_ARGS
    assert type(ours.configure_optimizers()) is type(theirs.configure_optimizers()) is \
        torch.optim.Adam
    # a dict[str, Any]'s node values are built, as LightningCLI builds an Any's (a bare
    # dict's stay data: ours as written, LightningCLI's a jsonargparse Namespace)
    net = {"net": {"class_path": "torch.nn.Identity"}}
    node["init_args"] = dict.fromkeys(DATA_ARGS, net)
    ours, theirs = instantiate(node, "model"), cli_model(tmp_path, node)
    assert ours.got["optimizer_init"] == ours.got["spare"] == net
    assert type(ours.got["extra"]["net"]) is type(theirs.got["extra"]["net"]) is nn.Identity
