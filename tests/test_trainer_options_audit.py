"""Trainer options of a user's project in a search, where they meet the search's machinery
(one fresh Trainer per trial, schedulers that pause and promote trials from ``last.ckpt``,
the checks before training): nothing is quietly wrong, and nothing that works is refused.
Real Trainers, real nevergrad, tiny data (3 training batches of 24, 1 validation batch)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import yaml
from lightning.pytorch.callbacks import GradientAccumulationScheduler
from lightning.pytorch.profilers import SimpleProfiler

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.config.trainer_checks import check_validation_runs
from lightning_nas.errors import ConfigError
from lightning_nas.export import finetune
from lightning_nas.results import TrialStatus
from lightning_nas.search.trial_logs import clear_trial, placed_profiler
from lightning_nas.search.trial_spec import TrialSpec
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_runs import one_thread

SPACE = {"width": {"choice": [8, 16]}}
CPU = {"accelerator": "cpu", "devices": 1}


_one_thread = pytest.fixture(autouse=True)(one_thread)


class LaterFactors(GradientAccumulationScheduler):
    """A scheduler that sets its own scheduling: its factors unknown to a config's node."""

    def __init__(self, factor: int = 4) -> None:
        super().__init__({0: 1, 2: factor})


def _search(run_dir, trainer, space=SPACE, budget=1, **options):
    return Search(TinyNet, space, data=BlobData(n=96, batch_size=24),
                  trainer={**CPU, **trainer}, budget=budget, monitor="val_loss", mode="min",
                  run_dir=run_dir, verbose=False, progress=False, seed=0, **options)


@pytest.mark.parametrize("scheduler", ["asha", "hyperband"])
def test_reloaded_dataloaders_are_refused_where_trials_are_paused(tmp_path, scheduler):
    # was: taken; a promoted trial then trained other epochs than the uninterrupted fit
    # (Lightning makes the training iterator twice at each reload epoch of a fit, once at
    # the epoch it resumes at: other shuffles from there, and reloads counted from the
    # resume's epoch), so best_config.yaml's fit in one go did not give its score
    trainer = {"max_epochs": 3, "reload_dataloaders_every_n_epochs": 1}
    with pytest.raises(ConfigError, match=(
            rf"scheduler '{scheduler}' pauses trials and continues a promoted one from its "
            r"last.ckpt, but trainer.reload_dataloaders_every_n_epochs=1 .*leave it out "
            r"\(or 0\), or use scheduler 'median'")):
        _search(tmp_path / "run", trainer, scheduler=scheduler)
    assert not (tmp_path / "run" / "search.db").exists()  # refused before anything is written
    searched = {**SPACE, "trainer.reload_dataloaders_every_n_epochs": {"choice": [0, 2]}}
    with pytest.raises(ConfigError, match=r"space key 'trainer.reload_dataloaders_every_n_"
                                          r"epochs' may take 2: scheduler"):
        _search(tmp_path / "run", {"max_epochs": 3}, space=searched, scheduler=scheduler)


def test_median_takes_reloads_and_a_profilers_folder_gets_a_folder_per_trial(tmp_path):
    # was (the profiler): both trials appended their reports to PROF/fit-perf.txt, none
    # saying its trial, where a ModelCheckpoint's dirpath gets a folder per trial
    profiler = {"class_path": "lightning.pytorch.profilers.SimpleProfiler",
                "init_args": {"dirpath": str(tmp_path / "prof"), "filename": "perf"}}
    trainer = {"max_epochs": 2, "reload_dataloaders_every_n_epochs": 1, "profiler": profiler}
    result = _search(tmp_path / "run", trainer, budget=2, scheduler="median").run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    assert all(len(t.curve) == 2 for t in result.trials)
    reports = sorted(p.relative_to(tmp_path / "prof").as_posix()
                     for p in (tmp_path / "prof").rglob("*.txt"))
    assert [re.sub(r"^trials/run-\w+_trial_", "", r) for r in reports] == [
        "0001/fit-perf.txt", "0002/fit-perf.txt"], reports
    for report in reports:
        assert (tmp_path / "prof" / report).read_text().count("FIT Profiler Report") == 1


def test_an_int_val_check_interval_counts_batches_of_accumulated_steps(tmp_path):
    # was: refused before training, "trainer.val_check_interval=6 with
    # check_val_every_n_epoch=None and max_steps=4 runs no validation", though 4 steps of 2
    # accumulated batches train 6 batches here (the epoch's last batch steps alone) and
    # Lightning validates after the 6th
    trainer = {"max_epochs": -1, "max_steps": 4, "accumulate_grad_batches": 2,
               "val_check_interval": 6, "check_val_every_n_epoch": None}
    result = _search(tmp_path / "run", trainer).run()
    (trial,) = result.trials
    assert trial.status is TrialStatus.COMPLETED, trial.error
    assert len(trial.curve) == 1 and trial.epoch == 1 and trial.epochs == 2
    # above every batch max_steps may train (4 steps of at most 2 batches): still refused
    with pytest.raises(ConfigError, match=(
            r"trainer.val_check_interval=9 with check_val_every_n_epoch=None and max_steps=4 "
            r"\(of accumulate_grad_batches=2 batches each at most: 8 batches\) runs no "
            r"validation")):
        _search(tmp_path / "other", {**trainer, "val_check_interval": 9})


def test_a_gradient_accumulation_schedulers_largest_factor_counts_as_accumulated_batches(
        tmp_path):
    # was: refused before training, "trainer.val_check_interval=6 with
    # check_val_every_n_epoch=None and max_steps=4 runs no validation": the check read
    # accumulate_grad_batches alone, which Lightning wants 1 beside the scheduler
    trainer = {"max_epochs": -1, "max_steps": 4, "val_check_interval": 6,
               "check_val_every_n_epoch": None,
               "callbacks": [GradientAccumulationScheduler({0: 2})]}
    result = _search(tmp_path / "run", trainer).run()
    (trial,) = result.trials
    assert trial.status is TrialStatus.COMPLETED, trial.error
    assert len(trial.curve) == 1 and trial.epochs == 2
    # a config's node: its scheduling read; above the batches its factors let 4 steps
    # take (1 a step in epoch 0, 2 from epoch 1: 6 at most, tests/test_trainer_options_gaps)
    node = {"class_path": "lightning.pytorch.callbacks.GradientAccumulationScheduler",
            "init_args": {"scheduling": {0: 1, 1: 2}}}
    check_validation_runs({**trainer, "callbacks": node}, "val_loss")  # one alone too
    with pytest.raises(ConfigError, match=(
            r"trainer.val_check_interval=9 with check_val_every_n_epoch=None and max_steps=4 "
            r"\(of trainer.callbacks\[0\] \(GradientAccumulationScheduler\)'s factors "
            r"\{0: 1, 1: 2\}: at most 6 batches\) runs no validation")):
        check_validation_runs({**trainer, "callbacks": [node], "val_check_interval": 9},
                              "val_loss")
    # a factor that cannot be known before training (a node of a subclass that sets its
    # scheduling itself): the check cannot say no validation runs, and takes it
    later = {"class_path": f"{__name__}.LaterFactors"}
    check_validation_runs({**trainer, "callbacks": [later], "val_check_interval": 99},
                          "val_loss")


def test_min_steps_above_max_steps_is_refused_as_min_epochs_above_max_epochs_is(tmp_path):
    # was: taken; Lightning stops at max_steps and ignores min_steps without a word (the
    # trial trained 4 steps, not the 20 asked for)
    with pytest.raises(ConfigError, match=(
            r"trainer.min_steps=20 is above max_steps=4: Lightning stops at max_steps and "
            r"ignores min_steps; set min_steps <= max_steps \(or leave min_steps out\)")):
        _search(tmp_path / "run", {"max_epochs": 3, "max_steps": 4, "min_steps": 20})
    searched = {**SPACE, "trainer.min_steps": {"choice": [2, 20]}}
    with pytest.raises(ConfigError, match=r"space key 'trainer.min_steps' may take 20: "
                                          r"trainer.min_steps=20 is above max_steps=4"):
        _search(tmp_path / "run", {"max_epochs": 3, "max_steps": 4}, space=searched)


def test_a_fine_tune_in_64_true_starts_from_the_trials_weights_not_rounded(tmp_path):
    # was: the weights loaded into the float32 model the fine-tune builds, rounded before
    # the Trainer made it float64: "validated before training" gave val_loss
    # 1.101388673593231 for the search's 1.1013886699353752, and it trained from there
    trainer = {"max_epochs": 2, "precision": "64-true"}
    result = _search(tmp_path / "run", trainer).run()
    tuned = finetune(tmp_path / "run", max_epochs=1, model=TinyNet,
                     data=BlobData(n=96, batch_size=24), threads=1)
    assert tuned.status is TrialStatus.COMPLETED, tuned.error
    assert tuned.start_metrics == {k: result.best.metrics[k] for k in ("val_loss", "val_acc")}


def test_barebones_is_refused_in_its_own_words(tmp_path):
    # was: refused by the Trainer's build, naming a logger the user never gave:
    # "trainer.barebones=True: ValueError: `Trainer(barebones=True, logger=<...CSVLogger
    # object at 0x...>)` was passed. Logging can impact raw speed ..."
    with pytest.raises(ConfigError, match=(
            r"^trainer.barebones=True turns off self.log, which Lightning then refuses: the "
            r"monitor 'val_loss' could never be logged .*leave it out")):
        _search(tmp_path / "run", {"max_epochs": 2, "barebones": True})


def test_a_trial_run_anew_clears_the_profiler_report_of_its_interrupted_run(tmp_path):
    # was: kept; Lightning's profiler appends to its file, so the re-run's report followed
    # that of a run killed after its fit wrote it, before the search stored the trial
    prof = tmp_path / "prof"
    for given in (SimpleProfiler(dirpath=str(prof), filename="perf"),
                  {"class_path": "lightning.pytorch.profilers.SimpleProfiler",
                   "init_args": {"dirpath": str(prof), "filename": "perf"}}):
        spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(tmp_path / "run" / "trials" /
                                                            "trial_0001"),
                         model=TinyNet, trainer={"profiler": given}, log_label="run-abc")
        folder = Path(placed_profiler(spec, SimpleProfiler(dirpath=str(prof))).dirpath)
        other = folder.parent / "run-abc_trial_0002"
        for report in (folder / "fit-perf.txt", other / "fit-perf.txt", prof / "mine.txt"):
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text("FIT Profiler Report\n")
        Path(spec.trial_dir).mkdir(parents=True, exist_ok=True)  # its earlier run's
        clear_trial(spec)
        assert not folder.exists()
        assert (other / "fit-perf.txt").is_file() and (prof / "mine.txt").is_file()


def test_a_fit_resumed_with_reloaded_dataloaders_is_warned_of_other_shuffles(tmp_path, capsys):
    # was: resumed without a word, though Lightning makes a reload epoch's training iterator
    # twice in a fit and once in the epoch it resumes at: other shuffles than a fit in one go
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"width": 8}},
        "data": {"class_path": "tests.helpers.BlobData",
                 "init_args": {"n": 96, "batch_size": 24}},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1,
                    "reload_dataloaders_every_n_epochs": 1, "enable_progress_bar": False,
                    "enable_model_summary": False}}))
    argv = ["fit", str(config), "--out", str(tmp_path / "fit")]
    ctrl_c = ("--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtEpoch, "
              "init_args: {epoch: 1}}]")
    with warnings.catch_warnings():  # as the command shows them (the suite may ignore them)
        warnings.simplefilter("default")
        assert main([*argv, ctrl_c]) == 130
        assert "shuffles" not in capsys.readouterr().err  # a new fit: one go so far
        assert main([*argv, "--ckpt_path", "last"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "shuffles" in line]
    assert said == [
        "lightning-nas fit: warning: trainer.reload_dataloaders_every_n_epochs=1: the resumed "
        "fit draws other shuffles than an uninterrupted one would (Lightning makes a reload "
        "epoch's training iterator twice in a fit, once in the epoch it resumes at), so its "
        "epochs from here on differ from those of a fit in one go"], said
