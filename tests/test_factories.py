"""Tests of ``config.factories`` and ``config.instantiate.object_path``: ``ModelFactory``
checks and builds (a class, a builder, ``**kwargs`` passed on along a chain), an init_args
dict its searched group does not set whole, ``DataFactory`` and ``object_path``.
``import_object``/``instantiate``, the Trainer argument checks and the data checks:
``test_factories_<topic>.py``.
"""

from __future__ import annotations

import collections
import re

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lightning_nas import Search
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.instantiate import object_path
from lightning_nas.errors import ConfigError
from tests.helpers_data import BlobData
from tests.helpers_models import DictArgNet, TinyNet
from tests.helpers_records import NetConfig

TINY_ARGS = ["width", "activation", "lr", "depth"]


class KwargsNet(pl.LightningModule):
    """A module whose ``__init__`` takes anything."""

    def __init__(self, width: int = 4, **kwargs) -> None:
        super().__init__()
        self.width, self.extra = width, kwargs


class Pretrained(pl.LightningModule):
    """Fine-tunes a weight tensor it is given (``nn.Embedding.from_pretrained`` style: the
    parameter shares the tensor's storage) and the modules of a list it is given."""

    starts: list[tuple[torch.Tensor, torch.Tensor]] = []  # (weight, extra) at each build

    def __init__(self, weight: torch.Tensor, extra: list[nn.Module], width: int = 4) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8, bias=False)
        self.proj.weight = nn.Parameter(weight)
        self.extra = nn.ModuleList(extra)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 3))
        Pretrained.starts.append((weight.detach().clone(), extra[0].weight.detach().clone()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.extra[0](self.proj(x)))

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        self.log("val_acc", (self(batch[0]).argmax(-1) == batch[1]).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


def build_tiny(arch: dict) -> TinyNet:
    """A module-level builder callable."""
    return TinyNet(**arch)


# ---------------------------------------------------------------- ModelFactory
@pytest.mark.parametrize(("given", "group", "needle"), [
    ({"momentum": 0.9, "nesterov": True}, {"momentum": {"choice": [0.5, 0.8]}},
     "model init_args['opt_cfg'] has the key nesterov, which the search space's group "
     "'opt_cfg' does not set: the group's dict is each trial's 'opt_cfg', whole, so it would "
     "be lost. To fix it, add 'nesterov': Fixed(True) to the group 'opt_cfg'"),
    ({"sub": {"a": 1, "b": 2}, "c": 3}, {"sub": {"a": {"choice": [5, 6]}}},
     "has the keys sub.b, c, which the search space's group 'opt_cfg' does not set"),
    # a dataclass instance the dict holds: each trial would get the group's dict there, not
    # the class, whether or not the group sets its changed fields (was: the first refused,
    # "has the key net.depth", asking for 'net.depth': Fixed(2); the second not refused,
    # each trial got {'net': {'hidden': 4, 'depth': 2}, 'c': 3}, NetConfig gone); said as
    # a plain dict's (was: "a dict built from the group's dict over the instance's fields",
    # a dataclass argument's words, where the group's dict replaces the plain dict)
    ({"net": NetConfig(depth=2), "c": 3}, {"net": {"hidden": {"choice": [4, 8]}}, "c": {
        "fixed": 3}}, "model init_args['opt_cfg']['net'] is a NetConfig instance inside a "
     "plain dict (the values of 'opt_cfg' are annotated with no dataclass), and the search "
     "space's group 'opt_cfg' gives each trial its own dict as 'opt_cfg', whole, in place of "
     "the one given, as LightningCLI sets a dict argument: init_args['opt_cfg']['net'] would "
     "be the group's plain dict, not a NetConfig, and the instance's fields it leaves out "
     "would be lost. To fix it, annotate the values of 'opt_cfg' with NetConfig, or give a "
     "builder arch -> LightningModule that builds NetConfig(**arch['opt_cfg']['net']); else "
     "leave the instance out of init_args['opt_cfg']['net']"),
    ({"sub": {"net": NetConfig(depth=2)}, "c": 3}, {"sub": {"net": {"hidden": {"choice": [
        4, 8]}, "depth": {"fixed": 2}}}, "c": {"fixed": 3}},
     "model init_args['opt_cfg']['sub']['net'] is a NetConfig instance inside a plain dict "
     "(the values of 'opt_cfg'['sub'] are annotated with no dataclass), and the search "
     "space's group 'opt_cfg' gives each trial its own dict as 'opt_cfg', whole"),
])
def test_an_init_args_dict_with_keys_its_searched_group_does_not_set_is_refused(
        tmp_path, given, group, needle):
    # was: the group's dict replaced model_init_args' dict whole, so these keys were gone
    # from every trial (its optimizer, best_config.yaml, the checkpoint) without a word
    with pytest.raises(ConfigError, match=re.escape(needle)):
        Search(DictArgNet, {"opt_cfg": group}, data=BlobData, model_init_args={"opt_cfg": given},
               trainer={"max_epochs": 1}, budget=2, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # a group that sets every key of the dict (or more) is what the dict would be
    Search(DictArgNet, {"opt_cfg": {"momentum": {"choice": [0.5, 0.8]}, "nesterov": {
        "fixed": False}, "dampening": {"fixed": 0.0}}}, data=BlobData,
        model_init_args={"opt_cfg": {"momentum": 0.9, "nesterov": True}},
        trainer={"max_epochs": 1}, budget=2, run_dir=tmp_path / "kept")


class LoaderCfgData(BlobData):
    """``BlobData`` whose loader settings come as one dict (``{"batch_size": 16, ...}``)."""

    def __init__(self, n: int = 256, loader: dict | None = None) -> None:
        super().__init__(n=n, **(loader or {}))


def test_a_data_init_args_dict_with_keys_its_searched_group_does_not_set_is_refused(tmp_path):
    # was: the data.loader group's dict replaced data_init_args' dict whole, so shuffle was
    # gone from every trial without a word (model_init_args' dicts were refused so)
    space = {"width": {"choice": [4, 8]}, "data.loader": {"batch_size": {"choice": [8, 16]}}}
    with pytest.raises(ConfigError, match=re.escape(
            "data init_args['loader'] has the key shuffle, which the search space's group "
            "'data.loader' does not set: the group's dict is each trial's 'loader', whole")):
        Search(TinyNet, space, data=LoaderCfgData, trainer={"max_epochs": 1}, budget=2,
               data_init_args={"loader": {"batch_size": 32, "shuffle": False}},
               run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    Search(TinyNet, space, data=LoaderCfgData, trainer={"max_epochs": 1}, budget=2,
           data_init_args={"loader": {"batch_size": 32}}, run_dir=tmp_path / "kept")


def test_model_factory_check_accepts_init_args():
    ModelFactory(TinyNet).check(TINY_ARGS)
    ModelFactory("tests.helpers.TinyNet", {"lr": 0.1}).check(["width"])


def test_model_factory_check_rejects_unknown_space_key():
    with pytest.raises(ConfigError) as info:
        ModelFactory(TinyNet).check(["width", "num_layers"])
    msg = str(info.value)
    assert "'num_layers'" in msg and "TinyNet.__init__" in msg
    for arg in TINY_ARGS:
        assert arg in msg.split("accepted:")[1]
    with pytest.raises(ConfigError, match="did you mean 'width'"):
        ModelFactory(TinyNet).check(["widht"])


def test_model_factory_check_covers_init_args():
    with pytest.raises(ConfigError, match="'bogus'"):
        ModelFactory(TinyNet, {"bogus": 1}).check(["width"])


def test_model_factory_with_var_kwargs_accepts_everything():
    factory = ModelFactory(KwargsNet)
    factory.check(["anything", "at_all"])
    model = factory.build({"width": 8, "anything": 3})
    assert model.width == 8 and model.extra == {"anything": 3}


def test_model_factory_builds_a_class_with_init_args():
    factory = ModelFactory("tests.helpers.TinyNet", {"lr": 0.1, "depth": 2})
    assert factory.target is TinyNet and factory.path == "tests.helpers.TinyNet"
    model = factory.build({"width": 4, "lr": 0.2})  # the arch wins over init_args
    assert isinstance(model, TinyNet)
    assert (model.hparams.width, model.hparams.lr, model.hparams.depth) == (4, 0.2, 2)
    assert factory.build({"width": 4}) is not model


def test_tensors_and_modules_in_lists_in_init_args_start_fresh_in_each_trial(tmp_path):
    # was: only a module given alone was copied; a tensor (or a module in a list) was
    # trained in place by every trial, so later trials started from earlier trials' weights
    weight, extra = torch.randn(8, 8), [nn.Linear(8, 8)]
    given = (weight.clone(), extra[0].weight.detach().clone())
    Pretrained.starts.clear()
    result = Search(Pretrained, {"width": {"choice": [4, 8]}}, data=BlobData,
                    trainer={"max_epochs": 1}, budget=2, optimizer="RandomSearch",
                    model_init_args={"weight": weight, "extra": extra},
                    run_dir=tmp_path, verbose=False).run()
    assert len(result.trials) == 2 and len(Pretrained.starts) >= 3  # dry builds, trials
    assert torch.equal(weight, given[0]) and torch.equal(extra[0].weight, given[1])
    assert all(torch.equal(w, given[0]) and torch.equal(e, given[1])
               for w, e in Pretrained.starts)
    shared = nn.Parameter(torch.ones(8, 8))  # one object in two arguments stays one
    model = ModelFactory(KwargsNet, {"a": shared, "b": [shared], "n": 3}).build({})
    assert model.extra["a"] is model.extra["b"][0] and model.extra["a"] is not shared


def test_model_factory_callable_builder():
    factory = ModelFactory(build_tiny)
    factory.check(["whatever"])  # a builder takes the arch dict: nothing to check
    model = factory.build({"width": 6})
    assert isinstance(model, TinyNet) and model.hparams.width == 6
    assert factory.path == "tests.test_factories.build_tiny"
    assert factory.name == "build_tiny"
    with pytest.raises(ConfigError, match="init_args are only supported"):
        ModelFactory(build_tiny, {"lr": 0.1})


def test_model_factory_builder_must_return_a_lightning_module():
    with pytest.raises(TypeError, match="returned int"):
        ModelFactory(lambda arch: 3).build({})


def test_a_model_instance_is_refused_saying_what_model_takes(tmp_path, tiny_trainer):
    # was: Search(TinyNet(), ...) called the instance as a builder with the arch dict:
    # "linear(): argument 'input' must be Tensor, not dict"
    with pytest.raises(ConfigError, match=re.escape(
            "model is a LightningModule instance (TinyNet); give its class, an import path, "
            "or a builder arch -> LightningModule")):
        Search(TinyNet(), {"width": {"choice": [4, 8]}}, data=BlobData, trainer=tiny_trainer,
               budget=1, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match=r"model is a Module instance \(Linear\)"):
        ModelFactory(nn.Linear(2, 2))


def test_model_factory_rejects_non_modules():
    with pytest.raises(ConfigError, match="dict is a class but not a"):
        ModelFactory(dict)
    with pytest.raises(ConfigError, match="BlobData"):
        ModelFactory(BlobData)
    with pytest.raises(ConfigError, match="must be a LightningModule class"):
        ModelFactory(3)
    with pytest.raises(ConfigError, match="close names: TinyNet"):
        ModelFactory("tests.helpers.TinyNett")


# ---------------------------------------------------------------- DataFactory
def test_data_factory():
    assert DataFactory().build() is None
    factory = DataFactory("tests.helpers.BlobData", {"n": 32})
    first, second = factory.build(), factory.build()
    assert isinstance(first, BlobData) and first.n == 32 and first is not second
    assert factory.path == "tests.helpers.BlobData"
    instance = BlobData(n=16)
    assert DataFactory(instance).build() is instance
    with pytest.raises(ConfigError, match="not a LightningDataModule"):
        DataFactory(TinyNet)
    with pytest.raises(ConfigError, match="init_args need"):
        DataFactory(instance, {"n": 3})


# ---------------------------------------------------------------- object_path
def test_object_path():
    assert object_path(TinyNet) == "tests.helpers.TinyNet"
    assert object_path(KwargsNet) == "tests.test_factories.KwargsNet"
    assert object_path(collections.OrderedDict) == "collections.OrderedDict"

    def local() -> None:
        return None

    assert object_path(local) is None
    assert object_path(lambda: 1) is None
    assert object_path(3) is None


def test_model_init_args_key_not_taken_by_the_model_is_named_as_such():
    with pytest.raises(ConfigError, match="model init_args key 'bogus' is not an argument"):
        ModelFactory(TinyNet, {"bogus": 1}).check(["width"])


class KwTiny(TinyNet):
    """``TinyNet`` taking its arguments only through ``**kwargs``, passed on to it."""

    def __init__(self, extra: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)


class KwBlobData(BlobData):
    """``BlobData`` taking its arguments only through ``**kwargs``, passed on to it."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model_init_args": {"widht": 8}},
     "model init_args key 'widht' is not an argument of KwTiny.__init__ nor of a base its "
     "**kwargs passes them on to; did you mean 'width'? accepted: extra, width, activation"),
    ({"space": {"depht": {"choice": [1, 2]}}},
     "space key 'depht' is not an argument of KwTiny.__init__ nor of a base its **kwargs "
     "passes them on to; did you mean 'depth'?"),
    ({"data": KwBlobData, "data_init_args": {"batch_sise": 8}},
     "data.batch_sise: not an argument of KwBlobData.__init__ nor of a base its **kwargs "
     "passes them on to; did you mean 'batch_size'? accepted: n, batch_size, shuffle"),
    ({"data": KwBlobData, "space": {"data.batchsize": {"choice": [8, 16]}}},
     "space key 'data.batchsize' is not an argument of KwBlobData.__init__ nor of a base its "
     "**kwargs passes them on to"),
])
def test_a_python_argument_passed_on_by_kwargs_is_checked_along_the_chain(tmp_path, kwargs,
                                                                          message):
    # was: accepted (the class's own __init__ takes **kwargs), then "TinyNet.__init__() got
    # an unexpected keyword argument 'widht'" in every trial
    args = {"space": {"width": {"choice": [4, 8]}}, "data": BlobData, **kwargs}
    with pytest.raises(ConfigError) as info:
        Search(KwTiny, args.pop("space"), trainer={"max_epochs": 1}, run_dir=tmp_path / "run",
               verbose=False, **args)
    assert message in str(info.value)
    assert not (tmp_path / "run").exists()


class PoppingTiny(TinyNet):
    """``TinyNet`` that takes ``note`` out of its ``**kwargs`` first: it may take any name."""

    def __init__(self, **kwargs) -> None:
        note = kwargs.pop("note", None)
        super().__init__(**kwargs)
        self.note = note


def test_python_arguments_passed_on_by_kwargs_are_taken():
    assert ModelFactory(PoppingTiny, {"note": "x"}).build({"width": 4}).note == "x"
    ModelFactory(PoppingTiny, {"note": "x"}).check(["width"])
    ModelFactory(KwTiny, {"width": 4, "extra": 1}).check(["depth", "lr"])
    DataFactory(KwBlobData, {"n": 32}).check(["data.batch_size"])
    assert ModelFactory(KwTiny, {"width": 4}).build({"depth": 2}).hparams["depth"] == 2
    ModelFactory(KwargsNet, {"anything": 1}).check(["goes"])  # **kwargs kept: any name
