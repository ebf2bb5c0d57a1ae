"""``lightning_nas.search.template.TrialTemplate``: how each trial of a search is built."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest
import torch
from lightning.pytorch.demos.boring_classes import BoringModel

from lightning_nas import Search
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.schedulers import MedianRule
from lightning_nas.search.template import TrialTemplate
from lightning_nas.search.trial import TrialSpec
from tests.helpers_data import BlobData
from tests.helpers_models import ManualTinyNet, TinyNet

TRAINER = {"max_epochs": 2, "accelerator": "cpu", "devices": 1}


def _template(**kwargs) -> TrialTemplate:
    options = {"model": ModelFactory("tests.helpers.TinyNet", {"depth": 1}),
               "data": DataFactory("tests.helpers.BlobData", {"n": 32}),
               "trainer": dict(TRAINER), "run_dir": Path("runs/demo")}
    return TrialTemplate(**{**options, **kwargs})


def test_trial_dir_format():
    template = _template()
    assert template.trial_dir(3) == Path("runs/demo/trials/trial_0003")
    assert template.trial_dir(0).name == "trial_0000"
    assert template.trial_dir(12345).name == "trial_12345"
    assert template.spec(7, {"width": 4}).trial_dir == str(Path("runs/demo/trials/trial_0007"))


def test_spec_carries_the_template():
    template = _template(monitor="val_loss", mode="min", seed=11)
    arch = {"width": 8, "activation": "tanh"}
    spec = template.spec(5, arch)
    assert isinstance(spec, TrialSpec)
    assert spec.trial_id == 5 and spec.arch == arch
    assert (spec.monitor, spec.mode, spec.seed) == ("val_loss", "min", 11)
    assert spec.trainer == TRAINER
    assert spec.model is TinyNet and spec.model_init_args == {"depth": 1}
    assert spec.data is BlobData and spec.data_init_args == {"n": 32}
    assert spec.rule is None and spec.objective is None
    assert spec.ckpt_path is None and spec.clear_dir is True


def test_spec_copies_the_trainer_settings():
    template = _template()
    spec = template.spec(1, {"width": 4})
    spec.trainer["max_epochs"] = 99
    assert template.trainer["max_epochs"] == 2
    assert template.spec(2, {"width": 4}).trainer["max_epochs"] == 2


def test_each_spec_holds_a_copy_of_a_logger_object_with_a_version_of_its_own(tmp_path):
    # was: every spec held the user's object; each trial's copy picked "the next free
    # version" when it ran, so trials in parallel workers picked the same one
    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(tmp_path / "csv")
    template = _template(trainer={**TRAINER, "logger": [logger]}, run_dir=tmp_path / "run")
    checked = template.spec(0, {"width": 4}, dry=True)  # a check before training
    assert checked.trainer["logger"] == [logger] and not (tmp_path / "csv").exists()
    specs = [template.spec(trial_id, {"width": 4}) for trial_id in (1, 2)]
    pinned = [spec.trainer["logger"][0] for spec in specs]
    assert all(p is not logger for p in pinned)
    assert [p.version for p in pinned] == [0, 1]
    assert all(Path(p.log_dir).is_dir() for p in pinned)  # the next pick skips them
    assert pickle.loads(pickle.dumps(specs[1])).trainer["logger"][0].version == 1  # a worker's


def test_a_searched_trainer_key_overrides_the_trainer_setting():
    template = _template()
    spec = template.spec(1, {"width": 4, "trainer.max_epochs": 5,
                             "trainer.gradient_clip_val": 0.5})
    assert spec.trainer["max_epochs"] == 5
    assert spec.trainer["gradient_clip_val"] == 0.5
    assert spec.trainer["accelerator"] == "cpu"
    # the architecture itself is passed on unchanged
    assert spec.arch["trainer.max_epochs"] == 5
    assert template.trainer["max_epochs"] == 2


def test_template_max_epochs_overrides_trainer_and_arch():
    template = _template(max_epochs=9)
    assert template.spec(1, {"width": 4}).trainer["max_epochs"] == 9
    assert template.spec(2, {"width": 4, "trainer.max_epochs": 3}).trainer["max_epochs"] == 9


def test_ckpt_path_continues_in_the_existing_folder():
    rule = MedianRule(min_epochs=1, min_trials=1)
    spec = _template().spec(4, {"width": 4}, rule=rule, ckpt_path="runs/demo/last.ckpt")
    assert spec.ckpt_path == "runs/demo/last.ckpt"
    assert spec.clear_dir is False
    assert spec.rule is rule


def test_spec_pickles_when_model_is_an_import_path():
    spec = _template(seed=3).spec(2, {"width": 8, "lr": 0.1})
    copy = pickle.loads(pickle.dumps(spec))
    assert copy.model is TinyNet and copy.data is BlobData
    assert dataclasses.asdict(copy) == dataclasses.asdict(spec)


def test_template_is_frozen():
    template = _template()
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.seed = 5


def test_costs_counts_params_without_training():
    template = _template(cost_names=("params",))
    # TinyNet: Linear(8, w) + Linear(w, 3)
    assert template.costs({"width": 4}) == {"params": float(8 * 4 + 4 + 4 * 3 + 3)}
    assert template.costs({"width": 16}) == {"params": float(8 * 16 + 16 + 16 * 3 + 3)}
    deeper = _template(model=ModelFactory(TinyNet, {"depth": 2}), cost_names=("params",))
    assert deeper.costs({"width": 4}) == {"params": float(8 * 4 + 4 + 4 * 4 + 4 + 4 * 3 + 3)}


def test_costs_are_empty_without_cost_names():
    assert _template().costs({"width": 4}) == {}


def test_template_with_a_boring_model_and_no_data():
    template = TrialTemplate(ModelFactory(BoringModel), DataFactory(), {"max_epochs": 1},
                             run_dir=Path("runs/boring"), cost_names=("params",))
    spec = template.spec(1, {})
    assert spec.model is BoringModel and spec.data is None
    assert template.costs({}) == {"params": 66.0}  # Linear(32, 2)


_MANUAL = "the model (ManualTinyNet) sets automatic_optimization=False, and Lightning refuses "


@pytest.mark.parametrize(("trainer", "space", "needle"), [
    ({}, {"trainer.accumulate_grad_batches": {"choice": [1, 2, 4]}},
     "space key 'trainer.accumulate_grad_batches' may take 2, 4: " + _MANUAL
     + "accumulate_grad_batches other than 1 with manual optimization (valid: 1;"),
    ({}, {"trainer.gradient_clip_val": {"choice": [0.0, None, 1.0]}},
     "space key 'trainer.gradient_clip_val' may take 1.0: " + _MANUAL
     + "gradient_clip_val above 0 with manual optimization (valid: None or 0;"),
    ({"gradient_clip_val": 0.5}, {},
     "trainer.gradient_clip_val=0.5: " + _MANUAL + "gradient_clip_val above 0"),
    ({"accumulate_grad_batches": 2}, {"trainer.gradient_clip_val": {"choice": [0.0, None]}},
     "trainer.accumulate_grad_batches=2: " + _MANUAL + "accumulate_grad_batches other than 1"),
], ids=["searched-accumulate", "searched-clip", "set-clip", "set-accumulate"])
def test_trainer_values_manual_optimization_cannot_take_are_refused_before_training(
        tmp_path, trainer, space, needle):
    # was: the trials drawing them failed when fit started ("Automatic gradient accumulation
    # is not supported for manual optimization"), ate max_failures and stopped the search
    with pytest.raises(ConfigError) as info:
        Search(ManualTinyNet, {"width": {"choice": [4, 8]}, **space}, data=BlobData,
               trainer={**TRAINER, **trainer}, budget=4, run_dir=tmp_path / "run",
               optimizer="RandomSearch", verbose=False, progress=False).run()
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


def test_a_searched_trainer_value_the_trainer_refuses_names_its_space_key(tmp_path):
    # was: "trainer.accelerator='gpuu': ValueError: ... (every trial would fail)", without
    # the "space key ... may take" other searched values' errors have; the first sampled
    # architecture (seed 0) draws gpuu, the one the Trainer is built for
    with pytest.raises(ConfigError) as info:
        Search(TinyNet, {"width": {"choice": [4, 8]},
                         "trainer.accelerator": {"choice": ["cpu", "gpuu"]}}, data=BlobData,
               trainer=dict(TRAINER), budget=2, run_dir=tmp_path / "run", seed=0,
               verbose=False, progress=False).run()
    message = str(info.value)
    assert message.startswith("space key 'trainer.accelerator' may take 'gpuu': ValueError: ")
    assert message.endswith("found building the Trainer of a trial before any training "
                            "(every trial drawing it would fail)")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("space", "needle"), [
    ({"trainer.accelerator": {"choice": ["cpu", "gpuu"]}},
     "space key 'trainer.accelerator' may take 'gpuu': ValueError: "),
    ({"trainer.devices": {"int": [0, 2]}},  # a range: its bounds
     "space key 'trainer.devices' may take 0: MisconfigurationException: "),
    ({"trainer.max_time": {"choice": ["00:00:01:00", "1 minute"]}},
     "space key 'trainer.max_time' may take '1 minute': MisconfigurationException: "),
], ids=["accelerator", "int-range", "max_time"])
def test_every_value_of_a_searched_trainer_key_is_built_before_training(tmp_path, space, needle):
    # was: the Trainer was built for the first sampled architecture's values alone; seed 1
    # draws the good value first, and the bad one failed as trials, one by one, after others
    # had trained
    with pytest.raises(ConfigError) as info:
        Search(TinyNet, {"width": {"choice": [4, 8]}, **space}, data=BlobData,
               trainer=dict(TRAINER), budget=2, run_dir=tmp_path / "run", seed=1,
               verbose=False, progress=False)
    assert str(info.value).startswith(needle) and "\n" not in str(info.value)
    assert str(info.value).endswith("(every trial drawing it would fail)")
    assert not (tmp_path / "run").exists()


def test_a_searched_plugin_merged_over_the_configs_is_built_as_its_trial_builds_it(tmp_path):
    # was: refused, "space key 'trainer.plugins' may take [{'class_path': ...}]: ... does not
    # give required argument 'precision'": the check set the option in place of the
    # config's plugin, where the trial merges it over it (as LightningCLI does)
    mixed = "lightning.pytorch.plugins.precision.MixedPrecision"
    given = {"class_path": mixed, "init_args": {"precision": "bf16-mixed", "device": "cpu"}}
    Search(TinyNet, {"width": {"choice": [4, 8]}, "trainer.plugins": {"choice": [
        [{"class_path": mixed}], [{"class_path": mixed, "init_args": {"precision": "16-mixed"}}]]}},
           data=BlobData, trainer={**TRAINER, "plugins": [given]}, budget=2,
           run_dir=tmp_path / "run", seed=1, verbose=False, progress=False)
    assert not (tmp_path / "run").exists()


def test_building_each_searched_trainer_value_starts_and_writes_nothing(tmp_path, monkeypatch):
    # DDP on 2 CPU devices, and loggers of their own folders: built, not launched or made
    monkeypatch.chdir(tmp_path)
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
              "init_args": {"save_dir": "mylogs"}}
    Search(TinyNet, {"width": {"choice": [4, 8]},
                     "trainer.strategy": {"choice": ["auto", "ddp"]},
                     "trainer.devices": {"choice": [1, 2]},
                     "trainer.logger": {"choice": [True, logger]}}, data=BlobData,
           trainer=dict(TRAINER), budget=2, run_dir=tmp_path / "run", seed=1,
           verbose=False, progress=False)
    assert list(tmp_path.iterdir()) == []
    assert torch.distributed.is_available() is False or not torch.distributed.is_initialized()


def test_trainer_values_manual_optimization_takes_train_as_searched(tmp_path):
    space = {"width": {"choice": [4, 8]}, "trainer.gradient_clip_val": {"choice": [0.0, None]},
             "trainer.accumulate_grad_batches": {"choice": [1]}}
    result = Search(ManualTinyNet, space, data=BlobData, trainer={**TRAINER, "max_epochs": 1},
                    budget=1, run_dir=tmp_path, verbose=False, progress=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]


class MaybeManualNet(ManualTinyNet):
    """Manual optimization only where its searched argument says so."""

    def __init__(self, width: int = 16, manual: bool = True) -> None:
        super().__init__(width=width)
        self.automatic_optimization = not manual

    def training_step(self, batch, batch_idx):
        if self.automatic_optimization:
            return TinyNet.training_step(self, batch, batch_idx)
        return super().training_step(batch, batch_idx)


@pytest.mark.parametrize("seed", range(4))
def test_a_model_manual_only_for_some_architectures_is_not_refused(tmp_path, seed):
    # was: the first architecture the check built decided: with seed 1 (manual=True drawn
    # first) the whole search was refused, "every trial would fail"
    space = {"width": {"choice": [4, 8]}, "manual": {"choice": [True, False]}}
    Search(MaybeManualNet, space, data=BlobData, trainer={**TRAINER, "gradient_clip_val": 1.0},
           budget=2, run_dir=tmp_path, seed=seed, verbose=False)  # checked here: no refusal
    with pytest.raises(ConfigError, match="sets automatic_optimization=False"):
        Search(MaybeManualNet, {**space, "manual": {"choice": [True]}}, data=BlobData,
               trainer={**TRAINER, "gradient_clip_val": 1.0}, budget=2, run_dir=tmp_path,
               seed=seed, verbose=False)


def _cached_table(n: int) -> torch.Tensor:
    return _TABLES.setdefault(n, torch.linspace(-1, 1, n * 2).reshape(2, n))


_TABLES: dict[int, torch.Tensor] = {}  # a module-level cache, as functools.lru_cache keeps


class CachedTableNet(TinyNet):
    """A constant table from a module-level cache, registered as a buffer."""

    def __init__(self, width: int = 16, activation: str = "relu", lr: float = 0.05) -> None:
        super().__init__(width=width, activation=activation, lr=lr)
        self.register_buffer("table", _cached_table(2).clone())


@pytest.mark.parametrize("costs", [{}, {"max_params": 10_000}])
def test_the_checks_before_training_leave_a_cached_tensor_of_the_model_alone(
        tmp_path, tiny_space, tiny_trainer, costs):
    # was: the model was built inside torch.device("meta"), so the cached table was made a
    # meta tensor: every trial failed ("Cannot copy out of meta tensor") and so did the
    # user's own models built afterwards; only parameters go to meta now
    _TABLES.clear()
    search = Search(CachedTableNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=2,
                    run_dir=tmp_path, verbose=False, **costs)
    assert _TABLES[2].device.type == "cpu"
    assert [t.status for t in search.run().trials] == [TrialStatus.COMPLETED] * 2
    assert CachedTableNet().table.device.type == "cpu"


def test_a_searched_callback_is_built_before_training_merged_over_the_configs(tmp_path):
    # was: refused before training, "space key 'trainer.callbacks' may take [...]:
    # trainer.callbacks[0]: EarlyStopping: the config does not give required argument
    # 'monitor'": each value built in place of the config's, where a trial (as LightningCLI)
    # merges it over the config's
    early = "lightning.pytorch.callbacks.EarlyStopping"
    held = [{"class_path": early, "init_args": {"monitor": "val_loss", "mode": "min"}}]
    values = [[{"class_path": early, "init_args": {"patience": p}}] for p in (1, 2)]
    search = Search(TinyNet, {"width": {"choice": [4, 8]},
                              "trainer.callbacks": {"choice": values}}, data=BlobData,
                    trainer={**TRAINER, "callbacks": held}, budget=2,
                    run_dir=tmp_path / "run", seed=1, verbose=False, progress=False)
    spec = search.template.spec(1, {"width": 4, "trainer.callbacks": values[1]}, dry=True)
    assert spec.trainer["callbacks"] == [{"class_path": early, "init_args": {
        "monitor": "val_loss", "mode": "min", "patience": 2}}]
    assert not (tmp_path / "run").exists()
