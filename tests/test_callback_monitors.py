"""A misspelt ``monitor`` of the user's callbacks (``ModelCheckpoint``, ``EarlyStopping``) or
of a ``ReduceLROnPlateau`` scheduler fails every command early, in one line naming the
callback, the key, the closest logged key and all of them: ``search`` (stopped at trial 1,
a fixed config resumes), ``fit``, ``finetune``, ``oneshot``. Real Trainers, tiny models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from lightning_nas.cli import main
from lightning_nas.export import finetune
from lightning_nas.results import TrialStatus
from lightning_nas.search.trial import TrialSpec, fit_trial
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

DATA = {"class_path": "tests.helpers.BlobData", "init_args": {"n": 96, "batch_size": 24}}
TRAINER = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "limit_train_batches": 2,
           "enable_progress_bar": False}


def _callback(kind: str, monitor: str) -> dict[str, Any]:
    return {"class_path": f"lightning.pytorch.callbacks.{kind}",
            "init_args": {"monitor": monitor}}


def _write(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


class PlateauNet(TinyNet):
    """``TinyNet`` whose learning rate a ``ReduceLROnPlateau`` on ``plateau`` lowers."""

    def __init__(self, plateau: str = "val_loss", interval: str = "epoch", **kwargs: Any):
        super().__init__(**kwargs)
        self.plateau, self.interval = plateau, interval

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": self.plateau,
                                                   "interval": self.interval}}


class BestInEpochEnd(TinyNet):
    """``TinyNet`` that logs ``val_acc_best`` in its own ``on_train_epoch_end``."""

    def on_train_epoch_end(self) -> None:
        self.log("val_acc_best", self.trainer.callback_metrics["val_acc"])


def _one_line(err: str, command: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"lightning-nas {command}: error: "), err
    return err


def test_a_search_stops_at_trial_one_and_a_fixed_config_resumes_it(tmp_path, capsys):
    # was: trials 1 and 2 each trained an epoch and failed with Lightning's "Early stopping
    # conditioned on metric `val_los` which is not available", and the fixed config was
    # refused: "holds a search whose trials ran with other settings: trainer.callbacks"
    run = tmp_path / "run"
    cfg = {"model": {"class_path": "tests.helpers.TinyNet"}, "data": DATA,
           "trainer": {**TRAINER, "callbacks": [_callback("EarlyStopping", "val_los")]},
           "search": {"space": {"width": {"choice": [4, 8, 16]}}, "optimizer": "RandomSearch",
                      "budget": 2, "monitor": "val_loss", "mode": "min", "run_dir": str(run)}}
    config = _write(tmp_path / "search.yaml", cfg)
    assert main(["search", str(config)]) == 2
    err = capsys.readouterr().err
    assert ("trial 1 failed with an error every trial would hit: MonitorError: EarlyStopping's "
            "monitor 'val_los' is not logged; did you mean 'val_loss'? logged keys: "
            "['val_acc', 'val_loss'] (checked after the sanity check's validation: nothing "
            "trained). To go on, fix it and run the same search again (trial 1 runs again); "
            "a changed trainer.callbacks resumes it") in err, err
    with RunStore(run / "search.db") as store:
        trials = store.trials()
    assert [(t.trial_id, t.status, t.epochs) for t in trials] == [(1, TrialStatus.FAILED, 0)]
    cfg["trainer"]["callbacks"] = [_callback("EarlyStopping", "val_loss")]
    assert main(["search", str(_write(config, cfg))]) == 0
    with RunStore(run / "search.db") as store:
        assert [(t.trial_id, t.status) for t in store.trials()] == [
            (1, TrialStatus.COMPLETED), (2, TrialStatus.COMPLETED)]


def test_fit_refuses_a_misspelt_checkpoint_monitor_after_the_sanity_check(tmp_path, capsys):
    # was: exit 1 after the first epoch, "training failed: MisconfigurationException:
    # `ModelCheckpoint(monitor='val_los')` could not find the monitored key" and a traceback
    cfg = {"model": {"class_path": "tests.helpers.TinyNet"}, "data": DATA,
           "trainer": {**TRAINER, "callbacks": [_callback("ModelCheckpoint", "val_los")]}}
    out = tmp_path / "out"
    assert main(["fit", str(_write(tmp_path / "fit.yaml", cfg)), "--out", str(out)]) == 2
    err = _one_line(capsys.readouterr().err, "fit")
    assert err.endswith("ModelCheckpoint's monitor 'val_los' is not logged; did you mean "
                        "'val_loss'? logged keys: ['val_acc', 'val_loss'] (checked after the "
                        "sanity check's validation: nothing trained)\n"), err
    assert not out.exists()


def test_finetune_refuses_a_misspelt_stopping_monitor_from_python_and_the_command_line(
        tmp_path, capsys):
    # was: "training failed: RuntimeError: Early stopping conditioned on metric `val_los`
    # which is not available" with a traceback, exit 1, after the first epoch
    run = tmp_path / "run"
    cfg = {"model": {"class_path": "tests.helpers.TinyNet"}, "data": DATA, "trainer": TRAINER,
           "search": {"space": {"width": {"choice": [4, 8]}}, "optimizer": "RandomSearch",
                      "budget": 1, "run_dir": str(run)}}
    assert main(["search", str(_write(tmp_path / "search.yaml", cfg))]) == 0
    capsys.readouterr()
    result = finetune(run, trainer={"callbacks": [EarlyStopping(monitor="val_los")]})
    assert (result.status, result.fatal, result.epochs) == (TrialStatus.FAILED, True, 0)
    assert result.error.startswith("MonitorError: EarlyStopping's monitor 'val_los' is not "
                                   "logged; did you mean 'val_loss'? ")
    callbacks = yaml.safe_dump([_callback("EarlyStopping", "val_los")], default_flow_style=True)
    assert main(["finetune", str(run), f"--trainer.callbacks={callbacks.strip()}"]) == 2
    err = _one_line(capsys.readouterr().err, "finetune")
    assert "EarlyStopping's monitor 'val_los' is not logged; did you mean 'val_loss'?" in err


def test_oneshot_refuses_a_misspelt_stopping_monitor_before_the_supernet_trains(
        tmp_path, capsys):
    # was: Lightning's traceback (RuntimeError: Early stopping conditioned on metric
    # `val_ac` which is not available) after the supernet's first epoch, exit 1
    run = tmp_path / "run"
    cfg = {"model": "tests.helpers.TinySupernet", "data": DATA,
           "trainer": {**TRAINER, "callbacks": [_callback("EarlyStopping", "val_ac")]},
           "oneshot": {"calibration_batches": 1, "num_classes": 3, "seed": 0,
                       "num_candidates": 2, "run_dir": str(run)}}
    assert main(["oneshot", str(_write(tmp_path / "oneshot.yaml", cfg))]) == 2
    err = _one_line(capsys.readouterr().err, "oneshot")
    assert err.endswith("EarlyStopping's monitor 'val_ac' is not logged; did you mean "
                        "'val_acc'? logged keys: ['val_acc'] (checked after the sanity "
                        "check's validation: nothing trained)\n"), err
    assert not (run / "checkpoints").exists()


def _fit(tmp_path: Path, model: type, init_args: dict[str, Any] | None = None, **trainer: Any):
    spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(tmp_path / "trial"), model=model,
                     model_init_args=init_args or {}, data=BlobData(n=96, batch_size=24),
                     monitor="val_loss", mode="min",
                     trainer={**TRAINER, "logger": False, **trainer})
    return fit_trial(spec)


@pytest.mark.parametrize(("plateau", "interval", "said"), [
    ("train_los", "epoch", "did you mean 'train_loss'? logged keys: ['train_loss', 'val_acc', "
                           "'val_loss'] (checked at the end of training epoch 0)"),
    # a step scheduler reads the metrics of the batch: an epoch's mean is not among them
    ("train_loss", "step", "logged keys: [] (checked at the first training batch's end: a "
                           "scheduler of interval 'step' reads the keys each batch logs)"),
    ("val_los", "epoch", "did you mean 'val_loss'? logged keys: ['val_acc', 'val_loss'] "
                         "(checked after the sanity check's validation: nothing trained)")])
def test_a_plateau_scheduler_monitor_not_logged_fails_when_its_keys_are_known(
        tmp_path, plateau, interval, said):
    # was: Lightning's MisconfigurationException ("ReduceLROnPlateau conditioned on metric
    # train_los which is not available") once the first epoch (or batch) trained
    result = _fit(tmp_path, PlateauNet, {"plateau": plateau, "interval": interval})
    assert result.status is TrialStatus.FAILED and result.fatal
    assert result.error.splitlines()[0] == (
        f"MonitorError: configure_optimizers' ReduceLROnPlateau's monitor {plateau!r} is not "
        f"logged; {said}"), result.error


def test_without_a_sanity_check_the_first_validation_finds_it(tmp_path):
    result = _fit(tmp_path, TinyNet, num_sanity_val_steps=0,
                  callbacks=[EarlyStopping(monitor="val_los")])
    assert result.fatal and "(checked after the validation in epoch 0)" in result.error


@pytest.mark.parametrize("callback", [EarlyStopping, ModelCheckpoint])
def test_a_right_validation_monitor_waits_for_a_validation_every_second_epoch(
        tmp_path, callback):
    # check_val_every_n_epoch=2 without a sanity check: epoch 0 ends before any validation
    # (Lightning sets the validation loader up when it first validates), so its keys are
    # not known yet; was: "MonitorError: EarlyStopping's monitor 'val_loss' is not logged;
    # ... (checked at the end of training epoch 0)", every trial failed
    result = _fit(tmp_path, TinyNet, num_sanity_val_steps=0, check_val_every_n_epoch=2,
                  callbacks=[callback(monitor="val_loss")])
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.curve_epochs == [2]
    result = _fit(tmp_path, TinyNet, num_sanity_val_steps=0, check_val_every_n_epoch=2,
                  callbacks=[callback(monitor="val_los")])  # a misspelt one: its validation
    assert result.fatal and "(checked after the validation in epoch 1)" in result.error


def test_monitors_that_training_logs_are_not_taken_for_misspellings(tmp_path):
    # logged by training (per epoch, or in the module's on_train_epoch_end), or a step
    # scheduler on a metric the training step logs: each trains to its end
    result = _fit(tmp_path, BestInEpochEnd, callbacks=[
        EarlyStopping(monitor="train_loss"), ModelCheckpoint(monitor="val_acc_best"),
        EarlyStopping(monitor="val_los", strict=False, check_finite=False)])
    assert result.status is TrialStatus.COMPLETED, result.error
    result = _fit(tmp_path, PlateauNet, {"plateau": "val_acc"}, callbacks=[
        ModelCheckpoint(monitor="train_loss")])
    assert result.status is TrialStatus.COMPLETED, result.error


def test_a_resumed_search_keeps_its_completed_trials_and_stops_on_a_callback_of_python(
        tmp_path):
    # callbacks given as objects are compared by class alone: a resume may bring a misspelt
    # one; was: its trials failed one by one, counted towards max_failures, the search going
    # on ("DID NOT RAISE")
    from lightning_nas import Search
    from lightning_nas.errors import SearchError

    run = tmp_path / "run"

    def search(budget: int, monitor: str) -> Search:
        return Search(TinyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData(n=96),
                      trainer={**TRAINER, "callbacks": [EarlyStopping(monitor=monitor)]},
                      budget=budget, run_dir=run, seed=0, verbose=False)

    search(1, "val_loss").run()
    with pytest.raises(SearchError, match=r"trial 2 failed with an error every trial would "
                                          r"hit: MonitorError: EarlyStopping's monitor "
                                          r"'val_los' is not logged; did you mean 'val_loss'"):
        search(3, "val_los").run()
    with RunStore(run / "search.db") as store:
        assert [(t.trial_id, t.status) for t in store.trials()] == [
            (1, TrialStatus.COMPLETED), (2, TrialStatus.FAILED)]
    result = search(3, "val_loss").run()
    assert [(t.trial_id, t.status) for t in result.trials] == [
        (i, TrialStatus.COMPLETED) for i in (1, 2, 3)]
