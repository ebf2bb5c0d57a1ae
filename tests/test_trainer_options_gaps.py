"""Trainer options the first audit of them left alone, met with a real tiny search: a
``DoublePrecision`` plugin given in ``trainer.plugins`` (not ``precision``), a
``GradientAccumulationScheduler`` of the module's ``configure_callbacks()``, an integer
``val_check_interval`` under a scheduler that judges each epoch, DDP trials with
``use_distributed_sampler: false``, a ``configure_callbacks()`` that reads its Trainer.
Real Trainers, real nevergrad, tiny data (3 training batches of 24, 1 validation batch)."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import EarlyStopping, GradientAccumulationScheduler
from lightning.pytorch.plugins import DoublePrecision

from lightning_nas import NASError, Search
from lightning_nas.cli import main
from lightning_nas.config.trainer_checks import check_validation_runs
from lightning_nas.errors import BatchSettingError, ConfigError
from lightning_nas.export import finetune
from lightning_nas.fit import fit_config
from lightning_nas.results import TrialStatus
from lightning_nas.search.rule_checks import check_epoch_interval
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_ranks import ShareNet
from tests.helpers_runs import one_thread

SPACE = {"width": {"choice": [8, 16]}}
CPU = {"accelerator": "cpu", "devices": 1}


_one_thread = pytest.fixture(autouse=True)(one_thread)


class OwnAccumulation(TinyNet):
    """A model whose ``configure_callbacks()`` returns a ``GradientAccumulationScheduler`` of
    ``factor`` batches a step (it replaces one of the Trainer's, as Lightning does)."""

    def __init__(self, width: int = 16, factor: int = 2) -> None:
        super().__init__(width=width)
        self.factor = factor

    def configure_callbacks(self):
        return [GradientAccumulationScheduler({0: self.factor})]


def _search(run_dir, trainer, space=SPACE, budget=1, data=None, **options):
    return Search(TinyNet, space, data=data or BlobData(n=96, batch_size=24),
                  trainer={**CPU, **trainer}, budget=budget, monitor="val_loss", mode="min",
                  run_dir=run_dir, verbose=False, progress=False, seed=0, **options)


@pytest.mark.parametrize("given", ["object", "node", "list of a node"])
def test_a_fine_tune_under_a_double_precision_plugin_starts_from_the_trials_weights(
        tmp_path, given):
    # was: as under precision 64-true before its fix, the weights loaded into the float32
    # model the fine-tune builds, rounded before the Trainer made it float64: "validated
    # before training" gave val_loss 1.0942843086037752 for the search's 1.09428430975679
    node = {"class_path": "lightning.pytorch.plugins.precision.DoublePrecision"}
    plugins = {"object": DoublePrecision(), "node": node, "list of a node": [node]}[given]
    result = _search(tmp_path / "run", {"max_epochs": 2, "plugins": plugins}).run()
    assert result.best.metrics["val_loss"] != float(torch.tensor(
        result.best.metrics["val_loss"], dtype=torch.float32))  # a float64 score
    objects = {"trainer": {"plugins": plugins}} if given == "object" else {}
    tuned = finetune(tmp_path / "run", max_epochs=1, model=TinyNet,
                     data=BlobData(n=96, batch_size=24), threads=1, **objects)
    assert tuned.status is TrialStatus.COMPLETED, tuned.error
    assert tuned.start_metrics == {k: result.best.metrics[k] for k in ("val_loss", "val_acc")}


@pytest.mark.slow
def test_ddp_trials_without_the_distributed_sampler_score_and_start_on_what_they_validate(
        tmp_path):
    # each of the 2 ranks validates the whole loader (no sampler splits it): the same first
    # batch under limit_val_batches=1, so the synced score is that batch's; best.ckpt on one
    # device validates to it. Was (the fine-tune's start): validated on one device as if
    # Lightning's sampler dealt the ranks' batches out, 1 batch times 2 ranks, the whole set
    # here: val_loss 1.1030502319335938 for the search's 1.0324108600616455
    data = {"n": 128, "batch_size": 16}  # 32 validation samples: 2 batches
    trainer = {"max_epochs": 2, "accelerator": "cpu", "devices": 2, "strategy": "ddp",
               "logger": False, "use_distributed_sampler": False, "limit_val_batches": 1}
    result = Search(ShareNet, SPACE, data=BlobData, data_init_args=data, trainer=trainer,
                    budget=1, monitor="val_loss", mode="min", run_dir=tmp_path / "run",
                    verbose=False, progress=False, seed=0).run()
    assert result.best.status is TrialStatus.COMPLETED, result.best.error
    one = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, limit_val_batches=1)
    got = one.validate(ShareNet.load_from_checkpoint(tmp_path / "run" / "best.ckpt"),
                       datamodule=BlobData(**data), verbose=False)[0]
    assert got["val_loss"] == pytest.approx(result.best.score, abs=1e-7)
    assert got["val_acc"] == pytest.approx(result.best.metrics["val_acc"], abs=1e-7)
    tuned = finetune(tmp_path / "run", max_epochs=1, model=ShareNet,
                     data=BlobData(**data), threads=1)
    assert tuned.status is TrialStatus.COMPLETED, tuned.error
    assert tuned.start_metrics["val_loss"] == pytest.approx(result.best.score, abs=1e-7)


def test_an_int_val_check_interval_of_an_epochs_batches_is_judged_each_epoch(tmp_path):
    # was: refused before training, "scheduler 'asha' judges each trial by its validation
    # after every epoch, but trainer.check_val_every_n_epoch=None and
    # trainer.val_check_interval=6 does not validate once per epoch", though 6 batches (an
    # epoch's) across epochs validate at each epoch's end, where the rungs are: the same
    # search as with validation once per epoch, its promoted trials resumed from last.ckpt
    space = {"width": {"choice": [4, 8, 16]}, "lr": {"float": [0.002, 0.05], "log": True}}

    def search(run, trainer):  # seed 1: trials paused at a rung and promoted (seen in a run)
        Search(TinyNet, space, data=BlobData, data_init_args={"batch_size": 32}, seed=1,
               scheduler="asha", min_epochs=1, eta=2, max_epochs=4, budget=8,
               trainer={**CPU, "max_epochs": 4, "logger": False, **trainer}, run_dir=run,
               verbose=False, progress=False).run()
        with RunStore(run / "search.db") as store:
            return [(t.arch, t.status, t.curve, t.epochs, len(store.fits(t.trial_id)))
                    for t in store.trials()]

    by_batches = search(tmp_path / "batches", {"val_check_interval": 6,  # 192 samples / 32
                                               "check_val_every_n_epoch": None})
    assert by_batches == search(tmp_path / "epochs", {})
    assert any(fits > 1 for *_, fits in by_batches)  # the case under test happened


@pytest.mark.parametrize("scheduler", ["asha", "hyperband"])
def test_an_int_val_check_interval_off_an_epochs_batches_stops_a_judged_search(tmp_path,
                                                                              scheduler):
    # validations every 2 batches of 3-batch epochs: none at the end of epoch 1 (a rung);
    # refused at trial 1 as its fit sets up (the epoch's batches are not known before), in
    # one line naming both (was: refused before training without the epoch's batches)
    trainer = {"max_epochs": 3, "val_check_interval": 2, "check_val_every_n_epoch": None}
    with pytest.raises(NASError, match=(
            r"BatchSettingError: trainer.val_check_interval=2 with check_val_every_n_epoch="
            r"None validates every 2 training batches, across epochs, but an epoch here is 3 "
            rf"batches: scheduler '{scheduler}' judges each trial by its validation at the end "
            r"of every epoch; give val_check_interval=3 \(an epoch's batches\), or leave both "
            r"out")):
        _search(tmp_path / "run", trainer, budget=2, scheduler=scheduler).run()
    # an iterable dataset's epochs have no length (Lightning's inf): no count to give
    with pytest.raises(BatchSettingError, match=r"but an epoch here has no length \(an "
                                                r"iterable dataset\): scheduler"):
        check_epoch_interval(None, 2, float("inf"), scheduler)


#: validation every 6 training batches, across epochs, in at most 4 optimizer steps
STEPS = {"max_epochs": -1, "max_steps": 4, "val_check_interval": 6,
         "check_val_every_n_epoch": None}


def test_a_modules_accumulation_scheduler_counts_for_an_int_val_check_interval(tmp_path):
    # was: refused before training, "trainer.val_check_interval=6 with
    # check_val_every_n_epoch=None and max_steps=4 runs no validation": the check read the
    # config's callbacks alone, and the module's scheduler accumulates 2 batches a step
    result = Search(OwnAccumulation, SPACE, data=BlobData(n=96, batch_size=24),
                    model_init_args={"factor": 2}, trainer={**CPU, **STEPS},
                    budget=1, monitor="val_loss", mode="min", run_dir=tmp_path / "run",
                    verbose=False, progress=False, seed=0).run()
    (trial,) = result.trials
    assert trial.status is TrialStatus.COMPLETED, trial.error
    assert len(trial.curve) == 1 and trial.epochs == 2
    # its fine-tune and its fit take it too (they ask the module they build, as the search)
    tuned = finetune(tmp_path / "run", model=OwnAccumulation,
                     data=BlobData(n=96, batch_size=24), threads=1)
    assert tuned.status is TrialStatus.COMPLETED and len(tuned.curve) == 1, tuned.error
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"class_path": f"{__name__}.OwnAccumulation", "init_args": {"width": 8}},
        "data": {"class_path": "tests.helpers.BlobData",
                 "init_args": {"n": 96, "batch_size": 24}},
        "trainer": {**CPU, **STEPS, "enable_progress_bar": False}}))
    assert main(["fit", str(config), "--out", str(tmp_path / "fit"), "--monitor",
                 "val_loss", "--mode", "min"]) == 0
    # the module's (1 batch a step) replaces the Trainer's (2): 4 batches, no validation.
    # Was: taken, and the trial failed after training, "no validation ran in the 2 epochs
    # (4 steps) it trained"
    with pytest.raises(ConfigError, match=(
            r"trainer.val_check_interval=6 with check_val_every_n_epoch=None and max_steps=4 "
            r"runs no validation")):
        Search(OwnAccumulation, SPACE, data=BlobData(n=96, batch_size=24),
               model_init_args={"factor": 1},
               trainer={**CPU, **STEPS, "callbacks": [GradientAccumulationScheduler({0: 2})]},
               budget=1, monitor="val_loss", mode="min", run_dir=tmp_path / "other",
               verbose=False, progress=False, seed=0)
    assert not (tmp_path / "other").exists()  # refused before anything is written


def test_an_accumulation_schedule_counts_the_batches_of_the_epochs_a_trial_reaches(tmp_path):
    # 1 batch a step in epoch 0, 2 from epoch 1: 4 steps train at most 6 batches (epochs of
    # 2: 2 steps, then 1, then 1 of epoch 2), not 4 * 2. Was: 7 taken (then no validation)
    schedule = {**STEPS, "callbacks": [GradientAccumulationScheduler({0: 1, 1: 2})]}
    with pytest.raises(ConfigError, match=(
            r"trainer.val_check_interval=7 with check_val_every_n_epoch=None and max_steps=4 "
            r"\(of trainer.callbacks\[0\] \(GradientAccumulationScheduler\)'s factors "
            r"\{0: 1, 1: 2\}: at most 6 batches\) runs no validation")):
        check_validation_runs({**schedule, "val_check_interval": 7}, "val_loss")
    result = _search(tmp_path / "run", schedule, data=BlobData(n=64, batch_size=24)).run()
    (trial,) = result.trials  # 48 training samples: epochs of 2 batches, validated at the 6th
    assert trial.status is TrialStatus.COMPLETED, trial.error
    assert len(trial.curve) == 1 and trial.epochs == 3
    # a factor of epochs max_epochs never reaches does not count (was: 4 * 4 = 16 batches)
    later = {**STEPS, "max_epochs": 2, "val_check_interval": 5,
             "callbacks": [GradientAccumulationScheduler({0: 1, 2: 4})]}
    with pytest.raises(ConfigError, match=r"at most 4 batches\) runs no validation"):
        check_validation_runs(later, "val_loss")


def _own(run_dir, factor, trainer, space):
    return Search(OwnAccumulation, {**SPACE, **space}, data=BlobData(n=96, batch_size=24),
                  model_init_args={"factor": factor}, trainer={**CPU, **trainer}, budget=1,
                  monitor="val_loss", mode="min", run_dir=run_dir, verbose=False,
                  progress=False, seed=0)


def test_a_searched_int_val_check_interval_counts_the_modules_accumulation_scheduler(
        tmp_path):
    steps = {k: v for k, v in STEPS.items() if k != "val_check_interval"}
    # the module accumulates 2 batches a step: 4 steps take 6 batches here (epochs of 3), so
    # 5 and 6 validate. Was: refused, "space key 'trainer.val_check_interval' may take 5:
    # ... max_steps=4 runs no validation", each searched value counted without the module's
    # scheduler
    result = _own(tmp_path / "run", 2, steps,
                  {"trainer.val_check_interval": {"choice": [5, 6]}}).run()
    (trial,) = result.trials
    assert trial.status is TrialStatus.COMPLETED, trial.error
    assert len(trial.curve) == 1
    # together too: max_steps 4 with val_check_interval 5 (was: refused, 4 batches < 5)
    _own(tmp_path / "both", 2, {k: v for k, v in steps.items() if k != "max_steps"},
         {"trainer.max_steps": {"choice": [4, 8]}, "trainer.val_check_interval": {
             "choice": [5, 6]}})
    # the module's scheduler (1 batch a step) replaces the Trainer's (2): 4 batches, no
    # validation. Was: taken (the Trainer's counted), the trial failed after training
    with pytest.raises(ConfigError, match=(
            r"space key 'trainer.val_check_interval' may take 5: trainer.val_check_interval=5 "
            r"with check_val_every_n_epoch=None and max_steps=4 runs no validation")):
        _own(tmp_path / "other", 1, {**steps, "callbacks": [GradientAccumulationScheduler(
            {0: 2})]}, {"trainer.val_check_interval": {"choice": [5, 6]}})
    with pytest.raises(ConfigError, match=(
            r"space keys 'trainer.max_steps' and 'trainer.val_check_interval' may take 4 and "
            r"5 in one trial")):
        _own(tmp_path / "other", 1, {**{k: v for k, v in steps.items() if k != "max_steps"},
                                     "callbacks": [GradientAccumulationScheduler({0: 2})]},
             {"trainer.max_steps": {"choice": [4, 8]},
              "trainer.val_check_interval": {"choice": [5, 6]}})
    assert not (tmp_path / "other").exists()  # refused before anything is written


class TrainerStops(TinyNet):
    """``configure_callbacks()`` reads its Trainer (it raises before ``fit`` attaches one):
    an ``EarlyStopping`` for runs that accumulate gradients, none for the others."""

    def configure_callbacks(self):
        if self.trainer.accumulate_grad_batches > 1:
            return [EarlyStopping(monitor="val_loss", patience=1)]
        return []


class TrainerAccumulates(TinyNet):
    """``configure_callbacks()`` reads its Trainer: runs limited in steps accumulate 2
    batches a step."""

    def configure_callbacks(self):
        return [GradientAccumulationScheduler({0: 2 if self.trainer.max_steps > 0 else 1})]


def test_a_scheduler_asks_a_module_that_reads_its_trainer_for_each_searched_value(tmp_path):
    # accumulate_grad_batches 2 gives the trial's module an EarlyStopping, which would end
    # trials between rungs. Was: accepted (the module asked without a Trainer said none),
    # then trials failed as their fits set up, one by one
    space = {**SPACE, "trainer.accumulate_grad_batches": {"choice": [1, 2]}}
    with pytest.raises(ConfigError, match=(
            r"space key 'trainer.accumulate_grad_batches' may take 2: scheduler 'asha' stops "
            r"and promotes trials at epochs up to max_epochs, but the module's "
            r"configure_callbacks\(\) \(EarlyStopping\) would end a trial")):
        Search(TrainerStops, space, data=BlobData(n=96, batch_size=24), scheduler="asha",
               trainer={**CPU, "max_epochs": 2}, budget=2, monitor="val_loss", mode="min",
               run_dir=tmp_path / "run", verbose=False, progress=False, seed=0)
    assert not (tmp_path / "run").exists()  # refused before anything is written
    # the values under which it returns none are taken, and judged each epoch
    result = Search(TrainerStops, {**SPACE, "trainer.gradient_clip_val": {"choice": [0.5, 1.0]}},
                    data=BlobData(n=96, batch_size=24), scheduler="asha", min_epochs=1,
                    eta=2, trainer={**CPU, "max_epochs": 2, "logger": False}, budget=2,
                    monitor="val_loss", mode="min", run_dir=tmp_path / "ok", verbose=False,
                    progress=False, seed=0).run()
    assert all(t.status is not TrialStatus.FAILED for t in result.trials), result.trials


def test_a_modules_accumulation_read_from_its_trainer_counts_for_each_searched_value(tmp_path):
    # the trial's module accumulates 2 batches a step under max_steps=4: 6 batches, so 5
    # and 6 validate. Was: refused, "space key 'trainer.val_check_interval' may take 5: ...
    # max_steps=4 runs no validation" (the module asked without a Trainer said none)
    space = {**SPACE, "trainer.val_check_interval": {"choice": [5, 6]}}
    steps = {k: v for k, v in STEPS.items() if k != "val_check_interval"}
    result = Search(TrainerAccumulates, space, data=BlobData(n=96, batch_size=24),
                    trainer={**CPU, **steps}, budget=1, monitor="val_loss", mode="min",
                    run_dir=tmp_path / "run", verbose=False, progress=False, seed=0).run()
    (trial,) = result.trials
    assert trial.status is TrialStatus.COMPLETED, trial.error
    assert len(trial.curve) == 1


def _fit_yaml(tmp_path, model: dict, trainer: dict):
    config = tmp_path / f"fit_{len(list(tmp_path.glob('fit_*.yaml')))}.yaml"
    config.write_text(yaml.safe_dump({
        "model": model, "data": {"class_path": "tests.helpers.BlobData",
                                 "init_args": {"n": 96, "batch_size": 24}},
        "trainer": {**CPU, **trainer, "enable_progress_bar": False}}))
    return config


@pytest.mark.parametrize("model", [
    {"class_path": f"{__name__}.TrainerStops"},
    {"class_path": f"{__name__}.OwnAccumulation", "init_args": {"factor": 1}}],
    ids=["reads its Trainer", "alone"])
def test_a_fit_asks_its_built_module_for_the_callbacks_that_count_its_batches(tmp_path,
                                                                               model):
    # its module (no scheduler where it does not accumulate, or 1 batch a step) trains 4
    # batches in max_steps=4: val_check_interval=6 never validates. Was: taken (a module
    # with configure_callbacks() of its own was not asked before it was built), and the fit
    # failed after training, "no validation ran"
    with pytest.raises(ConfigError, match=(
            r"trainer.val_check_interval=6 with check_val_every_n_epoch=None and max_steps=4 "
            r"runs no validation")):
        fit_config(_fit_yaml(tmp_path, model, STEPS), monitor="val_loss", mode="min",
                   out_dir=tmp_path / "fit", threads=1)
    assert not (tmp_path / "fit").exists()  # refused before anything is written


def test_a_fit_and_a_fine_tune_take_a_module_that_reads_its_trainer_and_validates(tmp_path):
    # the module accumulates 2 batches a step where it trains in steps: 4 steps take 6
    # batches (epochs of 3), so val_check_interval=6 validates once, asked attached to a
    # Trainer built from the fit's settings (alone it raises, reading self.trainer)
    result = fit_config(_fit_yaml(tmp_path, {"class_path": f"{__name__}.TrainerAccumulates"},
                                  STEPS), monitor="val_loss", mode="min",
                        out_dir=tmp_path / "fit", threads=1)
    assert result.status is TrialStatus.COMPLETED and len(result.curve) == 1, result.error
    # a fine-tune of a search's best trial, its module one that says no scheduler to its
    # Trainer: refused before training (was: taken, then failed, "no validation ran")
    steps = {**STEPS, "val_check_interval": 3}  # TinyNet: 4 batches, validated at the 3rd
    searched = _search(tmp_path / "run", steps).run()
    assert searched.best is not None
    with pytest.raises(ConfigError, match=(
            r"trainer.val_check_interval=6 with check_val_every_n_epoch=None and max_steps=4 "
            r"runs no validation")):
        finetune(tmp_path / "run", model=TrainerStops, data=BlobData(n=96, batch_size=24),
                 trainer={"val_check_interval": 6}, out_dir=tmp_path / "tuned", threads=1)
    assert not (tmp_path / "tuned").exists()
