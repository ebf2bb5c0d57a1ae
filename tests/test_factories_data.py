"""Tests of the data ``config.factories`` builds: ``data.*`` space keys (from Python, with a
builder model or a data class), batch sizes and loader arguments torch refuses, data that is
no DataModule, and no data for a model without dataloaders, refused before training.
"""

from __future__ import annotations

import re

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_nas import Search
from lightning_nas.config.factories import DataFactory
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from tests.helpers_data import BlobData, LoaderArgsData, make_blobs
from tests.helpers_models import TinyNet


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
