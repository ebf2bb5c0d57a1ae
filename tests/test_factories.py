"""Tests of ``config.instantiate`` and ``config.factories``: class_path specs and factories.

Covers ``import_object`` and its errors, ``instantiate`` of nested specs, the Trainer
argument check, ``ModelFactory`` checks and builds, ``DataFactory`` and ``object_path``.
"""

from __future__ import annotations

import collections
import datetime
import fractions
import re
import types

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from lightning_nas import Search
from lightning_nas.config.convert import convert_args
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.instantiate import import_object, instantiate, object_path
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.config.trainer_checks import (
    check_search_trainer,
    check_trainer_kwargs,
    check_validation_runs,
)
from lightning_nas.errors import ConfigError, NASError
from lightning_nas.results import TrialStatus
from tests.helpers_data import BlobData, LoaderArgsData, make_blobs
from tests.helpers_models import DictArgNet, TinyNet, TypedNet
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


# ---------------------------------------------------------------- trainer kwargs
def test_check_trainer_kwargs():
    check_trainer_kwargs({"max_epochs": 2, "logger": False, "limit_train_batches": 2})
    check_trainer_kwargs({})
    with pytest.raises(ConfigError) as info:
        check_trainer_kwargs({"max_epochs": 1, "max_epoch": 3})
    msg = str(info.value)
    assert "unknown Trainer argument 'max_epoch'" in msg
    assert "did you mean 'max_epochs'" in msg
    assert "accelerator" in msg  # lists the valid arguments


def test_counts_the_trainer_takes_unchecked_are_checked():
    # Lightning takes them and fails in the first step (ZeroDivisionError), in every trial
    for kwargs, needle in (({"accumulate_grad_batches": 0}, "=0: must be >= 1"),
                           ({"val_check_interval": 1.5}, "=1.5: a fraction of an epoch in"),
                           ({"val_check_interval": 0}, "=0: a fraction")):
        with pytest.raises(ConfigError, match=needle):
            check_trainer_kwargs(kwargs)
    check_trainer_kwargs({"accumulate_grad_batches": 2, "val_check_interval": 0.25})
    check_trainer_kwargs({"val_check_interval": 30})
    steps = {"val_check_interval": 50, "check_val_every_n_epoch": None, "max_steps": 46}
    with pytest.raises(ConfigError, match="max_steps=46 runs no validation"):
        check_validation_runs(steps, "val_acc")
    check_validation_runs({**steps, "max_steps": 50}, "val_acc")


def test_a_negative_gradient_clip_val_is_refused_set_or_searched_before_any_file(
        tmp_path, tiny_space, tiny_trainer):
    # was: taken (Lightning checks no sign), and torch clips by a negative bound by flipping
    # the gradients' sign: every trial trained uphill without a word
    for value in (-1, -0.5, float("nan")):
        with pytest.raises(ConfigError, match=r"trainer.gradient_clip_val=(-1|-0.5|nan): must "
                                              r"be a number >= 0 \(0 or null: no clipping\)"):
            check_trainer_kwargs({"gradient_clip_val": value})
    check_trainer_kwargs({"gradient_clip_val": 0})
    check_trainer_kwargs({"gradient_clip_val": 0.5})
    check_trainer_kwargs({"gradient_clip_val": None})
    with pytest.raises(ConfigError, match="gradient_clip_val=-1: must be"):
        Search(TinyNet, tiny_space, data=BlobData, run_dir=tmp_path / "set", budget=2,
               trainer={**tiny_trainer, "gradient_clip_val": -1})
    searched = {**tiny_space, "trainer.gradient_clip_val": {"choice": [-1.0, 1.0]}}
    with pytest.raises(ConfigError, match=re.escape(
            "space key 'trainer.gradient_clip_val' may take -1.0: trainer.gradient_clip_val")):
        Search(TinyNet, searched, data=BlobData, run_dir=tmp_path / "searched", budget=2,
               trainer=tiny_trainer)
    assert not list(tmp_path.iterdir())


def test_validation_every_0_epochs_is_refused_set_or_searched_before_any_file(
        tmp_path, tiny_space, tiny_trainer):
    # was: accepted, then every trial died in Lightning with "ZeroDivisionError: integer
    # modulo by zero" after search.db and trials/ were written
    needle = ("trainer.check_val_every_n_epoch=0: must be an integer >= 1 (validate every "
              "that many epochs), or null")
    for value in (0, -1):
        with pytest.raises(ConfigError, match=f"check_val_every_n_epoch={value}: must be"):
            check_trainer_kwargs({"check_val_every_n_epoch": value})
    check_trainer_kwargs({"check_val_every_n_epoch": 2})
    check_trainer_kwargs({"check_val_every_n_epoch": None})
    with pytest.raises(ConfigError, match=re.escape(needle)):
        Search(TinyNet, tiny_space, data=BlobData, run_dir=tmp_path / "set", budget=2,
               trainer={**tiny_trainer, "check_val_every_n_epoch": 0})
    searched = {**tiny_space, "trainer.check_val_every_n_epoch": {"choice": [0, 1]}}
    with pytest.raises(ConfigError, match=re.escape(
            f"space key 'trainer.check_val_every_n_epoch' may take 0: {needle}")):
        Search(TinyNet, searched, data=BlobData, run_dir=tmp_path / "searched", budget=2,
               trainer=tiny_trainer)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("trainer", "needle"), [
    ({"callbacks": [{"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                     "init_args": {"monitor": "val_acc", "patience": "abc"}}]},
     "trainer.callbacks[0].patience='abc': expected int (the annotation of "
     "EarlyStopping.__init__)"),
    ({"logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                 "init_args": {"save_dir": "logs", "nme": "x"}}},
     "trainer.logger.nme: not an argument of CSVLogger.__init__; did you mean 'name'?"),
])
def test_the_arguments_of_trainer_callbacks_and_loggers_are_checked(trainer, needle):
    # was: never checked, so `patience: abc` trained until EarlyStopping compared it
    with pytest.raises(ConfigError) as info:
        check_trainer_kwargs(trainer)
    assert needle in str(info.value)


@pytest.mark.parametrize(("trainer", "why"), [
    ({"limit_val_batches": 0}, "trainer.limit_val_batches=0 "),
    ({"limit_val_batches": 0.0, "max_epochs": 3}, "trainer.limit_val_batches=0.0 "),
    ({"check_val_every_n_epoch": 4, "max_epochs": 3},
     "trainer.check_val_every_n_epoch=4 with max_epochs=3 "),
    # was: each trial trained nothing and failed "no validation ran", until max_failures
    ({"limit_train_batches": 0, "max_epochs": 1}, "trainer.limit_train_batches=0 "),
    ({"max_steps": 0}, "trainer.max_steps=0 "),
    # was: taken, each trial failing "no validation ran in the 0 epochs"
    ({"max_time": "00:00:00:00"}, "trainer.max_time='00:00:00:00' "),
    ({"max_time": {"hours": 0}}, r"trainer.max_time=\{'hours': 0\} ")])
def test_a_search_that_never_validates_is_refused_before_training(tmp_path, trainer, why):
    """Before, each trial trained in full and failed, until max_failures stopped the search."""
    with pytest.raises(ConfigError, match=why + "runs no validation, so the monitor 'val_acc' "
                                                "would never be logged"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer,
               budget=2, run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()
    check_validation_runs({**trainer, "limit_val_batches": 2, "limit_train_batches": 2,
                           "max_epochs": 4, "max_steps": -1, "max_time": None}, "val_acc")


@pytest.mark.parametrize(("trainer", "space", "needle"), [
    ({"fast_dev_run": True}, {}, "trainer.fast_dev_run=True runs 1 batch of training"),
    ({"fast_dev_run": 3}, {}, "trainer.fast_dev_run=3 runs 3 batches of training"),
    ({}, {"trainer.fast_dev_run": {"choice": [False, 2]}},
     "space key 'trainer.fast_dev_run' may take 2: trainer.fast_dev_run=2 runs 2 batches")])
def test_a_search_with_fast_dev_run_is_refused_before_training(tmp_path, trainer, space, needle):
    # was: every trial trained one batch, was stored COMPLETED on that score with no
    # checkpoint, and used up the budget
    with pytest.raises(ConfigError, match=re.escape(needle)) as info:
        Search(TinyNet, {"width": {"choice": [4, 8]}, **space}, data=BlobData,
               trainer={"max_epochs": 2, **trainer}, budget=2, run_dir=tmp_path / "run")
    assert "limit_train_batches and limit_val_batches" in str(info.value)
    assert not (tmp_path / "run").exists()
    check_search_trainer({"fast_dev_run": False})
    check_search_trainer({"fast_dev_run": 0, "limit_train_batches": 2})


@pytest.mark.parametrize("trainer", [
    {"accelerator": "cpu", "strategy": "ddp", "devices": 2},
    {"accelerator": "cpu", "strategy": "ddp_find_unused_parameters_true", "devices": 1},
    {"accelerator": "cpu", "devices": 2, "strategy": {
        "class_path": "lightning.pytorch.strategies.DDPStrategy"}}])
def test_a_search_with_sync_batchnorm_under_ddp_on_cpu_is_refused_before_training(
        tmp_path, trainer):
    # was: every trial's DDP setup failed with torch's "SyncBatchNorm layers only work with
    # GPU modules", after its processes started, until the search gave up
    with pytest.raises(ConfigError, match=re.escape(
            "trainer.sync_batchnorm=True needs CUDA devices: torch's SyncBatchNorm")):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData,
               trainer={"max_epochs": 1, "sync_batchnorm": True, **trainer}, budget=2,
               run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    check_search_trainer({**trainer, "sync_batchnorm": False})
    check_search_trainer({"accelerator": "cpu", "devices": 1, "sync_batchnorm": True})


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
    # each trial got {'net': {'hidden': 4, 'depth': 2}, 'c': 3}, NetConfig gone)
    ({"net": NetConfig(depth=2), "c": 3}, {"net": {"hidden": {"choice": [4, 8]}}, "c": {
        "fixed": 3}}, "model init_args['opt_cfg']['net'] is a NetConfig instance, and the "
     "search space's group 'opt_cfg' gives each trial a dict built from the group's dict"),
    ({"sub": {"net": NetConfig(depth=2)}, "c": 3}, {"sub": {"net": {"hidden": {"choice": [
        4, 8]}, "depth": {"fixed": 2}}}, "c": {"fixed": 3}},
     "model init_args['opt_cfg']['sub']['net'] is a NetConfig instance, and the search "
     "space's group 'opt_cfg' gives each trial a dict built from the group's dict over the "
     "instance's fields, not a NetConfig (the values of 'opt_cfg'['sub'] are annotated with "
     "no dataclass). To fix it"),
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


class OwnLoadersNet(TinyNet):
    """``TinyNet`` with dataloaders of its own (a search given no data trains on them)."""

    def setup(self, stage: str) -> None:
        self.blobs = BlobData(n=64)
        self.blobs.setup(stage)

    def train_dataloader(self) -> DataLoader:
        return self.blobs.train_dataloader()

    def val_dataloader(self) -> DataLoader:
        return self.blobs.val_dataloader()


def build_of_width(arch: dict) -> TinyNet:
    """A builder that reads the key it knows (the others are the data's)."""
    return OwnLoadersNet(width=arch["width"])


def test_a_search_given_no_data_for_a_model_without_dataloaders_is_refused(tmp_path):
    # was: trials 1 and 2 failed ("`train_dataloader` must be implemented to be used with the
    # Lightning Trainer") and the search stopped, its run folder written
    with pytest.raises(ConfigError, match=re.escape(
            "no data was given (data= from Python, a data section in a config), so trials "
            "train on the model's own dataloaders, and TinyNet has no train_dataloader() or "
            "val_dataloader(): give data a LightningDataModule (its class, an instance or an "
            "import path), or define them on the model")):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, trainer={"max_epochs": 1}, budget=2,
               run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()
    result = Search(OwnLoadersNet, {"width": {"choice": [4, 8]}}, budget=1,
                    trainer={"max_epochs": 1, "limit_train_batches": 1}, verbose=False,
                    run_dir=tmp_path / "own").run()
    assert result.trials[0].status is TrialStatus.COMPLETED, result.trials[0].error


BATCH_SIZES: list[int] = []  # the batch size of each BlobData build_data built


def build_data(arch: dict) -> BlobData:
    """A data builder: receives the architecture, so ``data.*`` keys reach it."""
    BATCH_SIZES.append(arch["data.batch_size"])
    return BlobData(n=64, batch_size=arch["data.batch_size"])


def test_a_data_path_the_data_never_receives_is_refused_with_a_builder_model(tmp_path):
    # was: with a builder function, data.batch_size was accepted, stored with each trial
    # and never applied (every trial ran with the DataModule's own batch size)
    space = {"width": {"choice": [4, 8]}, "data.batch_size": {"choice": [16, 32]}}
    with pytest.raises(ConfigError, match=r"space key 'data.batch_size' is a path into the "
                                          r"data config, and the data \(a BlobData instance\)"
                                          r".*never be applied"):
        Search(build_of_width, space, data=BlobData(), budget=2, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # without data a builder's model brings its loaders, which may read the key: accepted
    Search(build_of_width, space, data=None, budget=2, run_dir=tmp_path / "own")
    BATCH_SIZES.clear()  # a data builder receives it: its trials run with the value
    result = Search(build_of_width, space, data=build_data, trainer={"max_epochs": 1},
                    budget=2, optimizer="RandomSearch", run_dir=tmp_path / "ok",
                    verbose=False).run()
    assert [t.arch["data.batch_size"] for t in result.trials] == BATCH_SIZES[-2:]


class SizedData(BlobData):
    """``BlobData`` that records the batch size of each one built, and of each loader."""

    built: list[int] = []
    loaded: list[int] = []

    def __init__(self, n: int = 256, batch_size: int = 64) -> None:
        super().__init__(n=n, batch_size=batch_size)
        SizedData.built.append(batch_size)

    def train_dataloader(self) -> DataLoader:
        loader = super().train_dataloader()
        SizedData.loaded.append(loader.batch_size)
        return loader


def sized_data(arch: dict) -> SizedData:
    """A data builder that reads the architecture's ``data.batch_size``."""
    return SizedData(n=64, batch_size=arch["data.batch_size"])


@pytest.mark.parametrize("key", ["data.batch_size", "data.init_args.batch_size"])
def test_a_data_key_from_python_is_an_argument_of_a_data_class_each_trial_builds(tmp_path, key):
    # was: with a model class, "space key 'data.batch_size' is a path into a config, and
    # TinyNet is a class: search its argument by its name" (batch_size is no argument of
    # the model), and a callable data= (the data's own advice) was refused the same way
    space = {"width": {"choice": [4, 8]}, key: {"choice": [16, 32]}}
    for data, init_args in ((SizedData, {"n": 64}), (sized_data, None)):
        if data is sized_data and key != "data.batch_size":
            continue
        SizedData.built.clear()
        SizedData.loaded.clear()
        result = Search(TinyNet, space, data=data, data_init_args=init_args,
                        trainer={"max_epochs": 1}, budget=3, optimizer="RandomSearch",
                        seed=0, run_dir=tmp_path / data.__name__, verbose=False).run()
        sizes = [t.arch[key] for t in result.trials]
        assert result.best.score is not None and len(set(sizes)) == 2, sizes
        # each trial's data was built with its value, and its loader used it
        assert SizedData.built[-3:] == sizes and SizedData.loaded[-3:] == sizes
        # the model took its own arguments only (its checkpoint's too)
        best = torch.load(result.best.checkpoint, weights_only=False)
        assert "data.batch_size" not in best["hyper_parameters"]
        assert best["hyper_parameters"]["width"] == result.best.arch["width"]


@pytest.mark.parametrize(("space", "data", "needle"), [
    ({"data.batchsize": {"choice": [16]}}, SizedData,
     r"space key 'data.batchsize' is not an argument of SizedData.__init__ \(from Python, a "
     r"data class takes data.<argument> keys.*did you mean 'batch_size'\? accepted: n, "
     r"batch_size"),
    ({"data.batch_size": {"choice": [16]}, "data.init_args.batch_size": {"choice": [8]}},
     SizedData, r"space keys 'data.batch_size' and 'data.init_args.batch_size' both set "
                r"data.batch_size"),
    ({"data.batch_size.x": {"choice": [16]}}, SizedData,
     r"space key 'data.batch_size.x' is not an argument of SizedData.__init__"),
    ({"data.batch_size": {"choice": ["16x", 32]}}, SizedData,
     r"space key 'data.batch_size' may take '16x': data.batch_size='16x'"),
    ({"data.batch_size": {"choice": [16, 32]}}, SizedData(),
     r"the data \(a SizedData instance\) is built once, without the architecture, so the "
     r"value would never be applied: give data= its class, SizedData \(data_init_args= its "
     r"other arguments; each trial builds one with data.batch_size\), or a callable arch -> "
     r"LightningDataModule that reads arch\['data.batch_size'\]"),
    ({"data.batch_size": {"choice": [16, 32]}},
     pl.LightningDataModule.from_datasets(TensorDataset(*make_blobs(32)), batch_size=8),
     r"the data \(a LightningDataModule instance\) is built once, without the architecture, "
     r"so the value would never be applied: give data= a callable arch -> "
     r"LightningDataModule that reads arch\['data.batch_size'\]$"),
    ({"data.batch_size": {"choice": [16, 32]}}, None,
     r"there is no data= \(the model's own dataloaders\) and the model TinyNet is a class, "
     r"which takes no data.\* key, so the value would never be applied: give data= a "
     r"LightningDataModule class that takes 'batch_size'"),
])
def test_a_data_key_no_data_can_take_is_refused_naming_what_takes_it(tmp_path, space, data,
                                                                     needle):
    with pytest.raises(ConfigError, match=needle):
        Search(TinyNet, {"width": {"choice": [4, 8]}, **space}, data=data,
               trainer={"max_epochs": 1}, budget=2, run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()


_BATCH = "a DataLoader's batch_size must be an integer >= 1 (or null: no batching)"


@pytest.mark.parametrize(("space", "init_args", "needle"), [
    ({}, {"batch_size": 0}, "data.batch_size=0: " + _BATCH),
    ({}, {"batch_size": -1}, "data.batch_size=-1: " + _BATCH),
    ({"data.batch_size": {"choice": [16, 0]}}, {},
     "space key 'data.batch_size' may take 0: data.batch_size=0: " + _BATCH),
    ({"data.batch_size": {"int": [0, 16]}}, {},
     "space key 'data.batch_size' may take 0: data.batch_size=0: " + _BATCH),
], ids=["fixed-0", "fixed-negative", "searched-choice", "searched-range"])
def test_a_batch_size_below_1_is_refused_before_training(tmp_path, space, init_args, needle):
    # was: each trial failed in its train_dataloader ("batch_size should be a positive
    # integer value, but got batch_size=0") until two in a row stopped the search, its run
    # folder written
    with pytest.raises(ConfigError) as info:
        Search(TinyNet, {"width": {"choice": [4, 8]}, **space}, data=BlobData,
               data_init_args=init_args, trainer={"max_epochs": 1}, budget=2,
               run_dir=tmp_path / "run", verbose=False)
    assert str(info.value).startswith(needle)
    assert not (tmp_path / "run").exists()


def test_a_data_section_batch_size_below_1_is_refused_before_training():
    # a config's data section (lightning-nas search, fit): its arguments, and as an
    # architecture sets them
    section = {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 0}}
    with pytest.raises(ConfigError, match=re.escape("data.batch_size=0: " + _BATCH)):
        DataFactory(ConfigBuilder(section, "data", plain_keys=False)).check()
    section["init_args"]["batch_size"] = 8
    DataFactory(ConfigBuilder(section, "data", plain_keys=False)).check()
    with pytest.raises(ConfigError, match=re.escape("data.batch_size=0: " + _BATCH)):
        DataFactory(ConfigBuilder(section, "data", plain_keys=False)).check_arch(
            {"data.batch_size": 0})


_WORKERS = "a DataLoader's num_workers must be an integer >= 0 (0: loading in the main process)"


@pytest.mark.parametrize(("space", "init_args", "needle"), [
    ({}, {"loader": {"batch_size": 0}}, "data.loader.batch_size=0: " + _BATCH),
    ({}, {"num_workers": -1}, "data.num_workers=-1: " + _WORKERS),
    ({}, {"loader": {"batch_size": 8.0}}, "data.loader.batch_size=8.0: " + _BATCH + ", not float"),
    ({}, {"loader": {"batch_size": "64"}}, "data.loader.batch_size='64': " + _BATCH + ", not str"),
    ({"data.loader": {"choice": [{"batch_size": 8}, {"batch_size": 0}]}}, {},
     "space key 'data.loader' may take {'batch_size': 0}: data.loader.batch_size=0: " + _BATCH),
    ({"data.num_workers": {"choice": [0, -2]}}, {},
     "space key 'data.num_workers' may take -2: data.num_workers=-2: " + _WORKERS),
], ids=["nested-0", "workers-negative", "nested-float", "nested-str", "searched-nested",
        "searched-workers"])
def test_loader_arguments_torch_refuses_are_refused_before_training(tmp_path, space, init_args,
                                                                     needle):
    # was: only a top-level batch_size below 1 was; these failed in each trial's
    # train_dataloader (torch's "batch_size should be a positive integer value",
    # "num_workers option should be non-negative") until two in a row stopped the search,
    # its run folder written
    with pytest.raises(ConfigError) as info:
        Search(TinyNet, {"width": {"choice": [4, 8]}, **space}, data=LoaderArgsData,
               data_init_args=init_args, trainer={"max_epochs": 1}, budget=2,
               run_dir=tmp_path / "run", verbose=False)
    assert str(info.value).startswith(needle), str(info.value)
    assert "torch refuses it only once a fit asks the data for its loaders" in str(info.value)
    assert not (tmp_path / "run").exists()


def test_loader_arguments_torch_takes_are_let_be(tmp_path):
    # null, an interpolation still to be resolved, per-split dicts of good values
    from lightning_nas.config.data_checks import check_loader_args

    check_loader_args({"batch_size": None, "num_workers": "${oc.env:WORKERS}",
                       "loader": {"batch_size": {"train": 64, "val": 128}, "num_workers": 2,
                                  "prefetch_factor": None}, "shuffle": True}, "data")
    with pytest.raises(ConfigError, match=r"^data\.loaders\.1\.batch_size=True: .*, not bool"):
        check_loader_args({"loaders": [{"batch_size": 8}, {"batch_size": True}]}, "data")


def test_a_nested_data_section_loader_argument_is_refused_as_set_and_as_searched():
    # a config's data section (lightning-nas search --data.loader.batch_size=0): was let be
    section = {"class_path": "tests.helpers.LoaderArgsData",
               "init_args": {"loader": {"batch_size": 0}}}
    with pytest.raises(ConfigError, match=re.escape("data.loader.batch_size=0: " + _BATCH)):
        DataFactory(ConfigBuilder(section, "data", plain_keys=False)).check()
    section["init_args"]["loader"]["batch_size"] = 8
    DataFactory(ConfigBuilder(section, "data", plain_keys=False)).check()
    with pytest.raises(ConfigError, match=re.escape("data.num_workers=-1: " + _WORKERS)):
        DataFactory(ConfigBuilder(section, "data", plain_keys=False)).check_arch(
            {"data.num_workers": -1})
    with pytest.raises(ConfigError, match=re.escape("data.loader.batch_size=0: " + _BATCH)):
        DataFactory(ConfigBuilder(section, "data", plain_keys=False)).check_arch(
            {"data.loader.batch_size": 0})


def loader_builder(arch: dict) -> DataLoader:
    """A data builder that returns a DataLoader, not a DataModule."""
    return DataLoader(TensorDataset(*make_blobs(32)), batch_size=8)


@pytest.mark.parametrize(("data", "needle"), [
    (DataLoader(TensorDataset(*make_blobs(32)), batch_size=8), "is of type DataLoader, not data"),
    (42, "data=42 is of type int, not data"), (TinyNet(), "is of type TinyNet, not data"),
    (loader_builder, "data builder loader_builder returned DataLoader, expected a "
                     "LightningDataModule")])
def test_data_that_is_no_datamodule_is_refused_before_anything_is_written(
        tmp_path, data, needle):
    # was: accepted; every trial failed with AttributeError ('DataLoader' object has no
    # attribute 'on_exception') after the run folder was written
    with pytest.raises(ConfigError, match=re.escape(needle)) as info:
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=data, trainer={"max_epochs": 1},
               budget=2, run_dir=tmp_path / "run", verbose=False)
    if not callable(data):
        assert "a LightningDataModule instance, class or import path" in str(info.value)
    assert not (tmp_path / "run").exists()


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
