"""``fit_trial``: one fresh Trainer per trial, score at the best epoch, failures as data."""

from __future__ import annotations

import fcntl
import math
import os
import re
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from lightning_nas import Search, finetune
from lightning_nas.fit import fit_spec
from lightning_nas.results import TrialStatus
from lightning_nas.search.runner import run_trial
from lightning_nas.search.trial import TrialSpec, build_trainer, fit_trial
from lightning_nas.search.trial_logs import clear_trial
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_ranks import SeedEnv
from tests.helpers_runs import needs_tensorboard
from tests.helpers_search import tiny_spec


def test_completed_trial_scores_best_epoch_and_keeps_its_checkpoint(tmp_path):
    result = fit_trial(tiny_spec(tmp_path, {"width": 16, "lr": 0.1}))
    assert result.status is TrialStatus.COMPLETED and result.error is None
    assert len(result.curve) == 3
    assert result.score == max(result.curve)
    assert result.epoch == result.curve.index(result.score)
    assert {"val_acc", "val_loss", "train_loss"} <= set(result.metrics)
    assert result.fit_time > 0 and result.finished >= result.started
    ckpt = torch.load(result.checkpoint, weights_only=False)
    assert ckpt["epoch"] == result.epoch
    assert ckpt["hyper_parameters"]["width"] == 16


def test_mode_min_picks_the_lowest_value(tmp_path):
    result = fit_trial(tiny_spec(tmp_path, {"width": 16, "lr": 0.1}, monitor="val_loss",
                                 mode="min"))
    history = result.curve
    assert result.score == min(history)


def test_raising_trial_is_failed_with_its_error(tmp_path):
    result = fit_trial(tiny_spec(tmp_path, {"width": 4}, model_init_args={"fail_width": 4}))
    assert result.status is TrialStatus.FAILED and result.score is None
    assert result.error.startswith("RuntimeError: width 4 is broken on purpose")
    assert not result.fatal


class _BareAssert(pl.Callback):
    """Fails as a model's bare ``assert`` does outside pytest: an error without text."""

    def on_train_start(self, trainer, pl_module):
        raise AssertionError


def test_an_error_without_text_is_named_by_its_type(tmp_path):
    # was: "AssertionError: " and nothing after it, on the trial's FAILED line too
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "callbacks": [_BareAssert()]}
    result = fit_trial(tiny_spec(tmp_path, {"width": 4}, trainer=trainer))
    assert result.status is TrialStatus.FAILED
    assert result.error.splitlines()[0] == "AssertionError, with no message"


def test_nan_trial_is_failed(tmp_path):
    result = fit_trial(tiny_spec(tmp_path, {"width": 4}, model_init_args={"nan_width": 4}))
    assert result.status is TrialStatus.FAILED
    assert "'val_acc' is nan at epoch 0" in result.error
    assert all(math.isnan(v) for v in result.curve)


class BadObjectiveNet(TinyNet):
    """Logs an objective ``sec`` and a metric ``extra`` no search reads; ``bad`` (``"nan"``
    or ``"inf"``) is what ``bad_key`` logs at the validation of ``bad_epoch``."""

    def __init__(self, bad: str = "nan", bad_key: str = "sec", bad_epoch: int = 1,
                 **kwargs) -> None:
        super().__init__(**kwargs)

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        hp = self.hparams
        for key, fine in (("sec", 1.0 + self.current_epoch), ("extra", 2.0)):
            bad = key == hp.bad_key and self.current_epoch == hp.bad_epoch
            self.log(key, float(hp.bad) if bad else fine)


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_an_objective_nan_or_inf_at_any_epoch_fails_the_trial(tmp_path, bad):
    # was: COMPLETED, scored (and told) at its best epoch, which held a finite value, as if
    # the objective had been finite all along; a NaN monitor at any epoch fails its trial
    spec = tiny_spec(tmp_path, {"width": 16, "lr": 0.1}, model=BadObjectiveNet, logged=("sec",),
                     model_init_args={"bad": bad, "bad_epoch": 1},
                     trainer={"max_epochs": 3, "accelerator": "cpu", "devices": 1})
    result = fit_trial(spec)
    assert result.status is TrialStatus.FAILED and result.score is None
    assert result.error.startswith(f"objective 'sec' is {bad} at epoch 1"), result.error
    assert not result.fatal and len(result.curve) == 2  # stopped there (was: 3, max_epochs)


def test_a_nan_in_a_metric_no_search_reads_is_stored_as_nan(tmp_path):
    # only logged (no objective): the trial completes, and its metric is NaN, not a number
    result = Search(BadObjectiveNet, {"width": {"choice": [8, 16]}}, data=BlobData,
                    trainer={"max_epochs": 1, "accelerator": "cpu", "devices": 1},
                    model_init_args={"bad_key": "extra", "bad_epoch": 0}, budget=1,
                    run_dir=tmp_path, verbose=False).run()
    assert result.trials[0].status is TrialStatus.COMPLETED
    with RunStore(tmp_path / "search.db") as store:
        assert math.isnan(store.get(result.trials[0].trial_id).metrics["extra"])


class EpochNet(TinyNet):
    """Logs, at each validation, the epoch it ran in (``val_epoch``)."""

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        self.log("val_epoch", float(self.current_epoch))


class StopAtStep(pl.Callback):
    """Stops the fit (``should_stop``, as ``max_time`` does) after training step ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        trainer.should_stop = trainer.should_stop or trainer.global_step == self.step


@pytest.mark.parametrize(("stop", "validations"), [
    ({"max_steps": 4}, 1),  # Lightning does not validate the cut epoch
    ({"max_epochs": 5, "callbacks": [StopAtStep(4)]}, 2)])  # it validates it, mid-epoch
def test_epochs_counts_an_epoch_cut_short_and_metrics_keep_their_epoch(tmp_path, stop,
                                                                       validations):
    # what the README says of ``epochs`` and ``epoch``: 3 batches an epoch, stopped after 4
    # steps: epochs=2 (the second begun, not finished); each entry is its validation's epoch
    result = fit_trial(tiny_spec(tmp_path, {"width": 16, "lr": 0.1}, model=EpochNet,
                                 trainer={"accelerator": "cpu", "devices": 1, **stop}))
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.epochs == 2 and len(result.curve) == validations
    assert result.metrics["val_epoch"] == result.epoch == validations - 1


def test_unlogged_monitor_is_fatal_and_lists_logged_keys(tmp_path):
    result = fit_trial(tiny_spec(tmp_path, {"width": 4}, monitor="val_accuracy"))
    assert result.fatal and result.status is TrialStatus.FAILED
    assert ("monitor 'val_accuracy' was not logged by the validation of epoch 0; did you mean "
            "'val_acc'?" in result.error)
    assert "'val_loss'" in result.error


def test_a_rules_stop_at_the_last_epoch_leaves_the_trial_completed(tmp_path):
    from lightning_nas.search.schedulers import MedianRule

    def run(epochs: int):
        rule = MedianRule(min_epochs=2, min_trials=1)
        rule.values = {2: {"other": 2.0}}  # a run no accuracy beats: stop at epoch 2
        trainer = {"max_epochs": epochs, "accelerator": "cpu", "devices": 1}
        return fit_trial(tiny_spec(tmp_path / str(epochs), {"width": 4}, rule=rule,
                                   trainer=trainer))

    stopped = run(3)
    assert stopped.status is TrialStatus.PRUNED and stopped.epochs == 2
    full = run(2)  # the verdict came at its last epoch: it was PRUNED, checkpoint deleted
    assert full.status is TrialStatus.COMPLETED and full.epochs == 2 and full.checkpoint


class StopsItself(TinyNet):
    """Sets ``trainer.should_stop`` after its second epoch (as some modules do)."""

    def on_train_epoch_end(self) -> None:
        self.trainer.should_stop = self.current_epoch >= 1


def test_a_trial_stopped_early_by_other_than_its_rule_is_failed(tmp_path):
    # was: COMPLETED at 2 of 4 epochs, and it could be the best of a scheduled search
    from lightning_nas.search.schedulers import MedianRule

    rule = MedianRule(min_epochs=3, min_trials=1)
    trainer = {"max_epochs": 4, "accelerator": "cpu", "devices": 1}
    result = fit_trial(tiny_spec(tmp_path, {"width": 4}, rule=rule, trainer=trainer,
                                 model=StopsItself))
    assert result.status is TrialStatus.FAILED and result.epochs == 2
    assert "stopped after 2 of max_epochs 4 epochs by the model or a callback" in result.error
    assert len(result.curve) == 2 and not result.fatal
    # without a scheduler the model's own stop is the user's: the trial is complete
    assert fit_trial(tiny_spec(tmp_path / "b", {"width": 4}, trainer=trainer,
                               model=StopsItself)).status is TrialStatus.COMPLETED


class StepLogged(TinyNet):
    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        self.log("loss", loss, on_step=True, on_epoch=True)
        return loss


class BothLogged(StepLogged):
    """Logs ``loss`` in validation too (a shared step without a prefix)."""

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        x, y = batch
        self.log("loss", torch.nn.functional.cross_entropy(self(x), y))


def test_a_monitor_logged_in_training_is_fatal_with_the_reason(tmp_path):
    # logged per step: it would score the last training step's value (it did)
    result = fit_trial(tiny_spec(tmp_path, {"width": 4}, model=StepLogged, monitor="loss",
                                 mode="min"))
    assert result.fatal and result.status is TrialStatus.FAILED
    assert "'loss' is logged in training_step" in result.error
    # validation logs it too (the sanity check sees it): it scores validation's value
    both = fit_trial(tiny_spec(tmp_path / "b", {"width": 4}, model=BothLogged, monitor="loss",
                               mode="min"))
    assert both.status is TrialStatus.COMPLETED, both.error
    # logged per epoch only: it is not known when validation ends (it said "never logged")
    result = fit_trial(tiny_spec(tmp_path, {"width": 4}, monitor="train_loss", mode="min"))
    assert result.fatal and "not known when validation ends" in result.error


def test_a_profilers_report_the_settings_ask_for_is_printed(tmp_path, caplog):
    # was: the quiet trial's Lightning log level dropped it (no report, no word)
    spec = tiny_spec(tmp_path, {"width": 4}, trainer={"max_epochs": 1, "accelerator": "cpu",
                                                      "devices": 1, "profiler": "simple"})
    assert spec.quiet
    assert fit_trial(spec).status is TrialStatus.COMPLETED
    assert "FIT Profiler Report" in caplog.text  # Lightning's log, on stderr outside pytest
    caplog.clear()
    fit_trial(tiny_spec(tmp_path / "b", {"width": 4}, trainer={"max_epochs": 1}))
    assert "Profiler Report" not in caplog.text and "GPU available" not in caplog.text


def test_rerun_clears_the_interrupted_trial_folder(tmp_path):
    stale = tmp_path / "t1" / "stale.ckpt"
    stale.parent.mkdir(parents=True)
    stale.write_text("left by a killed run")
    result = fit_trial(tiny_spec(tmp_path, {"width": 8}))
    assert result.status is TrialStatus.COMPLETED and not stale.exists()


class _EpochStamps(TinyNet):
    """Logs its epoch from training (epoch-level) and validation, and a scripted score whose
    best is epoch 1 of 3."""

    def training_step(self, batch, batch_idx):
        self.log("train_epoch", float(self.current_epoch), on_step=False, on_epoch=True)
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.log("val_epoch", float(self.current_epoch))
        self.log("scripted", [0.2, 0.9, 0.5][self.current_epoch])
        return super().validation_step(batch, batch_idx)


def test_best_epoch_metrics_all_belong_to_that_epoch(tmp_path):
    result = fit_trial(TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path / "t"),
                                 model=_EpochStamps, data=BlobData, monitor="scripted",
                                 trainer={"max_epochs": 3, "accelerator": "cpu"}))
    assert result.status is TrialStatus.COMPLETED and result.epoch == 1
    assert result.metrics["val_epoch"] == 1.0
    assert result.metrics["train_epoch"] == 1.0  # logged after validation: still epoch 1's
    assert result.curve == pytest.approx([0.2, 0.9, 0.5])


def test_nulls_of_a_printed_lightningcli_config_are_lightnings_defaults(tmp_path, monkeypatch):
    # was: `enable_checkpointing: null` (LightningCLI's --print_config) kept no checkpoint,
    # so finetune could not start from the search's weights; `enable_progress_bar: null`
    # replaced the trials' quiet default; `logger: null` and `default_root_dir: null` sent
    # the trial's logs to lightning_logs/ in the working directory
    monkeypatch.chdir(tmp_path)
    trainer = {"max_epochs": 1, "accelerator": "cpu", "enable_checkpointing": None,
               "enable_progress_bar": None, "enable_model_summary": None, "logger": None,
               "default_root_dir": None}
    spec = tiny_spec(tmp_path, {"width": 8}, trainer=trainer)
    assert build_trainer(spec, []).progress_bar_callback is None
    result = fit_trial(spec)
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.checkpoint is not None and Path(result.checkpoint).is_file()
    assert (tmp_path / "t1" / "logs" / "metrics.csv").is_file()
    assert not (tmp_path / "lightning_logs").exists()


def test_a_progress_bar_among_the_users_callbacks_turns_progress_bars_on(tmp_path):
    # was: refused before any training ("Trainer was configured with
    # `enable_progress_bar=False` but found `TQDMProgressBar` in callbacks list"), a false
    # the user never wrote: the trials' default was applied whatever the callbacks held
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import ModelSummary, TQDMProgressBar

    bar = {"class_path": "lightning.pytorch.callbacks.TQDMProgressBar",
           "init_args": {"refresh_rate": 5}}
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "callbacks": [bar],
               "enable_progress_bar": None}  # as LightningCLI's config.yaml has it
    result = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer,
                    budget=1, run_dir=tmp_path / "run", verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]
    config = {"model": {"class_path": "tests.helpers.TinyNet"}, "data": "tests.helpers.BlobData",
              "trainer": {**trainer, "callbacks": [TQDMProgressBar(refresh_rate=5)]}}
    spec = fit_spec(config, out_dir=tmp_path / "fit")  # an object too, in `fit`
    assert build_trainer(spec, []).progress_bar_callback.refresh_rate == 5
    assert fit_trial(spec).status is TrialStatus.COMPLETED
    # a false the user wrote still refuses it, as in Lightning; a ModelSummary callback of
    # the user's runs with the trials' enable_model_summary default
    with pytest.raises(MisconfigurationException, match="enable_progress_bar=False"):
        build_trainer(tiny_spec(tmp_path, {}, trainer={"callbacks": [bar],
                                                       "enable_progress_bar": False}), [])
    summary = {"class_path": "lightning.pytorch.callbacks.ModelSummary"}
    built = build_trainer(tiny_spec(tmp_path, {}, trainer={"callbacks": [summary]}), [])
    assert built.progress_bar_callback is None
    assert any(isinstance(c, ModelSummary) for c in built.callbacks)


class StopsOnce(pl.Callback):
    """Stops the search process (SIGTERM's ``SystemExit(143)``) when epoch 1 of its first
    fit starts: a search killed in the middle of a trial, after epoch 0's files."""

    left = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == 1 and StopsOnce.left:
            StopsOnce.left -= 1
            raise SystemExit(143)


def test_a_trial_run_again_from_scratch_starts_in_clean_versions_of_the_users_loggers(
        tmp_path):
    # was: the re-run kept the killed attempt's files in the user's logger versions: its
    # ModelCheckpoint's last.ckpt (epoch 0) beside the re-run's last-v1.ckpt, and two
    # attempts' TensorBoard event files in one version
    needs_tensorboard()
    loggers = [{"class_path": "lightning.pytorch.loggers.CSVLogger"},
               {"class_path": "lightning.pytorch.loggers.TensorBoardLogger",
                "init_args": {"save_dir": str(tmp_path / "tb")}}]
    checkpoint = {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                  "init_args": {"monitor": "val_acc", "mode": "max", "save_last": True}}
    trainer = {"max_epochs": 2, "logger": loggers,
               "callbacks": [checkpoint, {"class_path": "tests.test_trial.StopsOnce"}]}
    run = tmp_path / "run"
    StopsOnce.left = 1
    with pytest.raises(SystemExit):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer,
               budget=1, run_dir=run, verbose=False).run()
    version = run / "logs" / "trials" / "trial_0001"
    assert sorted(p.name for p in (version / "checkpoints").iterdir()) == [
        "epoch=0-step=3.ckpt", "last.ckpt"]  # the killed attempt's
    result = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer,
                    budget=1, run_dir=run, verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]
    saved = sorted(p.name for p in (version / "checkpoints").iterdir())
    assert "last.ckpt" in saved and not any("-v1" in name for name in saved), saved
    with RunStore(run / "search.db") as store:
        board = tmp_path / "tb" / "trials" / f"{store.get_meta('log_label')}_trial_0001"
    assert len(list(board.glob("events.out.tfevents.*"))) == 1


def test_clear_trial_removes_only_the_versions_the_search_gave_the_trial(tmp_path):
    run = tmp_path / "run"
    trials, shared = run / "logs" / "trials", tmp_path / "shared" / "trials"
    folders = [trials / "trial_0001", trials / "trial_0001_resumed_17", trials / "trial_00010",
               trials / "v2_trial_0001", shared / "old_trial_0001", shared / "run_trial_0001",
               tmp_path / "lightning_logs" / "version_0"]
    for folder in folders:
        (folder / "checkpoints").mkdir(parents=True)
    csv = "lightning.pytorch.loggers.CSVLogger"
    spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(run / "trials" / "trial_0001"),
                     model=TinyNet, trainer={"logger": [
                         {"class_path": csv},
                         {"class_path": csv, "init_args": {"save_dir": str(shared.parent)}},
                         pl.loggers.CSVLogger(str(tmp_path))]}, log_label="run")
    # a trial that never ran in this folder (a copy of the run folder, which keeps its
    # log_label, may have written these versions): nothing is removed (was: all of them)
    clear_trial(spec)
    assert all(f.exists() for f in folders)
    spec = TrialSpec(**{**spec.__dict__, "log_label": None})
    Path(spec.trial_dir).mkdir(parents=True)  # an earlier attempt of this trial ran here
    clear_trial(spec)  # a run of an older version (no log_label): a shared save_dir's kept
    assert [f.exists() for f in folders] == [False, False, True, True, True, True, True]
    Path(spec.trial_dir).mkdir(parents=True)
    clear_trial(TrialSpec(**{**spec.__dict__, "log_label": "old"}))
    assert [f.exists() for f in folders] == [False, False, True, True, False, True, True]
    # a promotion (ckpt_path) and the ranks of a DDP trial (clear_dir off) remove nothing
    for kept in ({"ckpt_path": "last.ckpt"}, {"clear_dir": False}):
        (trials / "trial_0001").mkdir()
        clear_trial(TrialSpec(**{**spec.__dict__, **kept}))
        assert (trials / "trial_0001").exists()
        (trials / "trial_0001").rmdir()


def test_a_trial_whose_folder_another_run_of_it_holds_trains_nothing_there(tmp_path):
    # a trial of a stopped search that a user's pool starts late (from its call queue)
    # while a resume's run of it holds its folder: it cleared that folder and trained there
    # too (was: COMPLETED, over the other run's files); now FAILED, the folder left alone
    spec = tiny_spec(tmp_path, {"width": 4})
    folder = Path(spec.trial_dir)
    folder.mkdir()
    (folder / "best.ckpt").write_text("the other run's")
    with open(folder / "trial.lock", "a") as other:  # the other run's hold (a real flock)
        other.write("pid 4242 on elsewhere\n")
        other.flush()
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_trial(spec)
    assert result.status is TrialStatus.FAILED
    assert f"{folder} is held by another run of trial 1 (pid 4242 on elsewhere)" in result.error
    assert sorted(p.name for p in folder.iterdir()) == ["best.ckpt", "trial.lock"]
    assert (folder / "best.ckpt").read_text() == "the other run's"


def test_fine_tunes_and_fits_in_folders_of_one_name_keep_their_own_logs_in_a_shared_save_dir(
        tmp_path):
    # was: A/ft and B/ft's fine-tunes (and two fits --out A/x/fit, B/x/fit) both logged
    # to version ft_finetune_logs (x_fit_logs) of the shared save_dir, the second deleting
    # the first's metrics.csv ("Experiment logs directory ... exists and is not empty")
    shared = tmp_path / "shared"
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
              "init_args": {"save_dir": str(shared)}}
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": logger}
    for exp in ("A", "B"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer,
               budget=1, run_dir=tmp_path / exp / "ft", verbose=False).run()
        finetune(tmp_path / exp / "ft", max_epochs=1)
        config = {"model": {"class_path": "tests.helpers.TinyNet"},
                  "data": "tests.helpers.BlobData", "trainer": trainer}
        fitted = fit_trial(fit_spec(config, out_dir=tmp_path / exp / "x" / "fit"))
        assert fitted.status is TrialStatus.COMPLETED, fitted.error
    versions = sorted(p.parent.name for p in shared.glob("*/metrics.csv"))
    assert len(versions) == 4, versions  # each kept its own
    assert [re.sub("-[0-9a-f]{6}_", "-?_", v) for v in versions] == [
        "ft_finetune-?_logs", "ft_finetune-?_logs", "x_fit-?_logs", "x_fit-?_logs"]


def test_a_search_and_a_finetune_leave_the_seed_variables_as_they_were(tmp_path, monkeypatch):
    # was: PL_GLOBAL_SEED and PL_SEED_WORKERS=1 stayed set, so a later DDP Trainer of the
    # caller was seeded again with the search's seed, its DataLoaders got Lightning's worker
    # seeding, and the processes it started inherited both
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    monkeypatch.setenv("PL_SEED_WORKERS", "0")
    SeedEnv.seen.clear()
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "callbacks": [SeedEnv()]}
    Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer, budget=1,
           seed=7, run_dir=tmp_path / "run", verbose=False).run()
    assert SeedEnv.seen == [("7", "1")]  # while the trial trains (its DDP ranks read them)
    assert "PL_GLOBAL_SEED" not in os.environ and os.environ["PL_SEED_WORKERS"] == "0"
    monkeypatch.setenv("PL_GLOBAL_SEED", "123")
    finetune(tmp_path / "run", max_epochs=1, trainer={"callbacks": [SeedEnv()]}, seed=5)
    assert SeedEnv.seen[1:] == [("5", "1")]
    assert os.environ["PL_GLOBAL_SEED"] == "123" and os.environ["PL_SEED_WORKERS"] == "0"


def test_a_trial_resumed_from_its_last_checkpoint_judges_on_with_its_earlier_values(tmp_path):
    # a trial killed before its result reached the search (in its first fit, or a promoted
    # fit past its pause) goes on from its last.ckpt, judged by a rule snapshot that holds
    # none of the epochs it trained since the search last heard of it: they are recorded
    # into it from the checkpoint's history as the fit resumes, as its uninterrupted fit's
    # snapshot held them (its decide had recorded them), so a rule that judges a trial by
    # its own earlier values judges it alike (was: epochs 3 and 4 alone)
    from lightning_nas.search.schedulers import Decision, MedianRule

    class PauseAt2(MedianRule):
        def decide(self, key, epoch, value):
            return Decision.PAUSE if epoch == 2 else super().decide(key, epoch, value)

    trainer = {"max_epochs": 4, "accelerator": "cpu", "devices": 1, "logger": False,
               "enable_progress_bar": False, "enable_model_summary": False}
    spec = tiny_spec(tmp_path, {"width": 8}, trainer=trainer, rule=PauseAt2())
    first = fit_trial(spec)
    assert first.status is TrialStatus.PAUSED and first.epochs == 2, first.error
    snapshot = MedianRule(min_epochs=1, min_trials=99)  # never stops; keeps every value
    spec.rule, spec.clear_dir, spec.ckpt_path = snapshot, False, str(tmp_path / "t1" / "last.ckpt")
    spec.known_epochs = 2  # (0 would keep the pause its last.ckpt holds)
    second = fit_trial(spec)
    assert second.status is TrialStatus.COMPLETED and second.epochs == 4, second.error
    assert second.curve_epochs == [1, 2, 3, 4]
    assert {epoch: at[1] for epoch, at in snapshot.values.items()} == \
        dict(zip(second.curve_epochs, second.curve, strict=True))
