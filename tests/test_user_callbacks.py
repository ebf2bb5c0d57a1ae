"""The user's own callbacks and Trainer folders in a search's trials: each trial writes into
folders of its own, and a setting no trial can train with is refused before any training."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.trial import TrialSpec
from lightning_nas.search.trial_logs import clear_trial
from lightning_nas.store import RunStore
from tests.helpers import BlobData, TinyNet


def test_each_trial_gets_a_folder_of_its_own_under_a_default_root_dir_of_the_users(tmp_path):
    # was: with logger: false every trial's ModelCheckpoint (no dirpath) wrote into
    # ROOT/checkpoints, best.ckpt, best-v1.ckpt, ... side by side, none telling its trial
    root = tmp_path / "root"
    trainer = {"max_epochs": 1, "logger": False, "default_root_dir": str(root),
               "callbacks": [ModelCheckpoint(filename="best", monitor="val_loss")]}
    run = tmp_path / "run"
    result = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData(n=64),
                    trainer=trainer, budget=2, run_dir=run, seed=0, verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    with RunStore(run / "search.db") as store:
        label = store.get_meta("log_label")
    saved = sorted(str(p.relative_to(root)) for p in root.rglob("*.ckpt"))
    assert saved == [f"trials/{label}_trial_0001/checkpoints/best.ckpt",
                     f"trials/{label}_trial_0002/checkpoints/best.ckpt"], saved
    # a trial run again from scratch starts in an empty folder of its own (it is the
    # trial's), and leaves its neighbour's alone
    spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(run / "trials" / "trial_0001"),
                     model=TinyNet, trainer=trainer, log_label=label)
    clear_trial(spec)
    assert sorted(p.name for p in (root / "trials").iterdir()) == [f"{label}_trial_0002"]


@pytest.mark.parametrize("logger", [False, []])
def test_a_callback_that_needs_a_logger_is_refused_without_one_before_any_training(
        tmp_path, logger):
    # was: every trial failed when training started ("Cannot use `LearningRateMonitor`
    # callback with `Trainer` that has no logger"), two of them stored before the stop
    trainer = {"max_epochs": 1, "logger": logger,
               "callbacks": [ModelCheckpoint(monitor="val_loss"), LearningRateMonitor()]}
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"trainer.callbacks\[1\] \(LearningRateMonitor\) "
                                          r"logs to the Trainer's logger.*trainer.logger="):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData(n=64), trainer=trainer,
               budget=2, run_dir=run, verbose=False).run()
    assert not (run / "trials").exists()


def test_the_command_line_refuses_a_learning_rate_monitor_without_a_logger(tmp_path, capsys):
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 64}},
        "trainer": {"max_epochs": 1, "logger": False, "callbacks": [
            {"class_path": "lightning.pytorch.callbacks.LearningRateMonitor"}]},
        "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 2,
                   "run_dir": str(tmp_path / "run")}}))
    assert main(["search", str(config)]) == 2
    err = capsys.readouterr().err
    assert "trainer.callbacks[0] (LearningRateMonitor) logs to the Trainer's logger" in err
    assert not Path(tmp_path / "run" / "trials").exists()


def test_a_logger_object_of_a_fixed_version_is_said_before_training(tmp_path):
    # was: said by nothing of the search's: each trial's CSVLogger replaced the one
    # before's metrics.csv in the one version (Lightning's "Previous log files in this
    # directory will be deleted" from the second trial on, naming no setting)
    fixed = CSVLogger(str(tmp_path / "logs"), name="n", version="fixed")
    trainer = {"max_epochs": 1, "logger": [CSVLogger(str(tmp_path / "free")), fixed]}
    with pytest.warns(UserWarning) as said:
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData(n=64), trainer=trainer,
               budget=2, run_dir=tmp_path / "run", verbose=False).run()
    texts = [str(w.message) for w in said if "every trial" in str(w.message)]
    assert len(texts) == 1, texts  # the one of the fixed version, not the free one's
    assert texts[0].startswith("trainer.logger[1] (CSVLogger) has version 'fixed': every "
                               "trial writes into one folder, "
                               f"{tmp_path / 'logs' / 'n' / 'fixed'}"), texts[0]
    assert (tmp_path / "logs" / "n" / "fixed" / "metrics.csv").exists()  # as before
