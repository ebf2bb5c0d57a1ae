"""The user's own callbacks and Trainer folders in a search's trials: each trial writes into
folders of its own, and a setting no trial can train with is refused before any training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.trial import TrialSpec, fit_trial
from lightning_nas.search.trial_logs import clear_trial
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_runs import checkpoint_files, paused_then_promoted


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


_MC = "lightning.pytorch.callbacks.ModelCheckpoint"


class _Killed(Exception):
    pass


@pytest.mark.parametrize("given", ["object", "node", "hydra"])
def test_a_users_checkpoint_dirpath_keeps_each_trials_files_apart(tmp_path, given):
    # was: only warned of; every trial wrote into dirpath itself, Lightning's default
    # filename (epoch=1-step=2.ckpt) the same for each, so a later trial replaced an
    # earlier one's file and its save_top_k=1 removed files of other trials
    ckpts = tmp_path / "ckpts"
    args = {"dirpath": str(ckpts), "save_top_k": 1, "monitor": "val_acc", "mode": "max"}
    callback = {"object": ModelCheckpoint(**args), "node": {"class_path": _MC, "init_args": args},
                "hydra": {"_target_": _MC, **args}}[given]
    run = tmp_path / "run"
    trainer = {"max_epochs": 2, "callbacks": [callback]}
    if given == "node":  # a LightningCLI config through the command line
        config = tmp_path / "search.yaml"
        config.write_text(yaml.safe_dump({
            "model": {"class_path": "tests.helpers.TinyNet"},
            "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 64}},
            "trainer": trainer,
            "search": {"space": {"width": {"choice": [4, 8, 16]}}, "budget": 3, "seed": 0,
                       "run_dir": str(run), "verbose": False}}))
        assert main(["search", str(config)]) == 0
        best = yaml.safe_load((run / "best_config.yaml").read_text())
        assert best["trainer"]["callbacks"] == [callback]  # the config as written
    else:
        def kill_after_2(result) -> None:
            if result.trial_id == 2:
                raise _Killed

        def search(**kw) -> Search:
            return Search(TinyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData(n=64),
                          trainer=trainer, budget=3, run_dir=run, seed=0, verbose=False, **kw)

        with pytest.raises(_Killed):  # resumed: trial 3 runs beside the first two's files
            search(on_trial_end=kill_after_2).run()
        search().run()
    with RunStore(run / "search.db") as store:
        label = store.get_meta("log_label")
        trials = store.trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
    saved = checkpoint_files(ckpts)
    assert [Path(p).parent.as_posix() for p in saved] == [
        f"trials/{label}_trial_000{i}" for i in (1, 2, 3)], saved
    for trial, path in zip(trials, saved, strict=True):  # each trial's own weights
        ckpt = torch.load(ckpts / path, weights_only=False)
        assert ckpt["hyper_parameters"]["width"] == trial.arch["width"]
        assert ckpt["state_dict"]["net.0.weight"].shape[0] == trial.arch["width"]
        assert ckpt["epoch"] == trial.epoch
    if given == "object":  # the user's object itself is left as it was
        assert callback.dirpath == str(ckpts.resolve())
    # a trial run again from scratch empties its own folder, never dirpath itself nor a
    # neighbour's
    (ckpts / "mine.txt").write_text("the user's")
    spec = TrialSpec(trial_id=2, arch={}, trial_dir=str(run / "trials" / "trial_0002"),
                     model=TinyNet, trainer=trainer, log_label=label)
    clear_trial(TrialSpec(**{**spec.__dict__, "ckpt_path": "last.ckpt"}))  # a promotion
    assert len(checkpoint_files(ckpts)) == 3
    clear_trial(spec)
    assert sorted(p.name for p in (ckpts / "trials").iterdir()) == [
        f"{label}_trial_0001", f"{label}_trial_0003"]
    assert (ckpts / "mine.txt").read_text() == "the user's"
    url = {**args, "dirpath": "s3://bucket/ckpts"}
    (run / "trials" / "trial_0003").mkdir(exist_ok=True)
    clear_trial(TrialSpec(**{**spec.__dict__, "trial_dir": str(run / "trials" / "trial_0003"),
                             "trainer": {"callbacks": [{"class_path": _MC, "init_args": url}]}}))
    assert len(checkpoint_files(ckpts)) == 2  # a URL's folder: nothing removed here


class _WorseEachEpoch(TinyNet):
    def validation_step(self, batch, batch_idx):
        self.log("val_acc", 0.9 - 0.1 * self.current_epoch)


def test_a_promoted_trial_keeps_writing_into_its_own_folder_under_a_users_dirpath(tmp_path):
    # was: a paused trial's files and its promoted segment's lay in dirpath itself, beside
    # every other trial's
    from lightning_nas.search.schedulers import ASHARule

    rule = ASHARule(min_epochs=2, max_epochs=4, eta=2)
    for key in (100, 101):  # two better trials at rung 2: trial 1 will be paused
        rule.record(key, [0.99, 0.99])
    ckpts = tmp_path / "ckpts"
    user = ModelCheckpoint(dirpath=ckpts, save_top_k=1, monitor="val_acc", mode="max")
    trial_dir = tmp_path / "run" / "trials" / "trial_0001"
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(trial_dir),
                     model=_WorseEachEpoch, data=BlobData, log_label="lbl",
                     trainer={"max_epochs": 4, "callbacks": [user], "logger": False},
                     rule=rule.snapshot())
    said = paused_then_promoted(spec, rule)
    assert not [text for text in said if "dirpath has changed" in text or "exists and is not "
                "empty" in text], said
    saved = checkpoint_files(ckpts)  # save_top_k=1: the best epoch's alone, in its folder
    assert len(saved) == 1 and saved[0].startswith("trials/lbl_trial_0001/epoch=0-"), saved
    states = torch.load(trial_dir / "last.ckpt", weights_only=False)["callbacks"]
    state = next(v for k, v in states.items() if k.startswith("ModelCheckpoint"))
    assert Path(state["best_model_path"]) == (ckpts / saved[0]).resolve()
    assert float(state["best_model_score"]) == pytest.approx(0.9)
    assert user.dirpath == str(ckpts.resolve())


def test_a_fit_keeps_a_users_dirpath_as_given(tmp_path):
    ckpts = tmp_path / "ckpts"
    spec = TrialSpec(trial_id=0, arch={"width": 4}, trial_dir=str(tmp_path / "out"),
                     model=TinyNet, data=BlobData(n=64), own_logs=True, clear_dir=False,
                     trainer={"max_epochs": 1, "callbacks": [ModelCheckpoint(dirpath=ckpts)]})
    assert fit_trial(spec).status is TrialStatus.COMPLETED
    assert [Path(p).parent.as_posix() for p in checkpoint_files(ckpts)] == ["."]


@pytest.mark.slow
def test_trials_in_parallel_workers_keep_their_checkpoints_apart_under_a_users_dirpath(
        tmp_path):
    ckpts = tmp_path / "ckpts"
    user = ModelCheckpoint(dirpath=ckpts, save_top_k=1, monitor="val_acc", mode="max")
    run = tmp_path / "run"
    Search(TinyNet, {"width": {"choice": [4, 8, 16]}, "lr": {"float": [0.05, 0.3]}},
           data=BlobData, data_init_args={"n": 64}, trainer={"max_epochs": 2,
                                                             "callbacks": [user]},
           budget=4, num_workers=2, run_dir=run, seed=0, verbose=False).run()
    with RunStore(run / "search.db") as store:
        label = store.get_meta("log_label")
        trials = store.trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 4
    saved = checkpoint_files(ckpts)
    assert [Path(p).parent.as_posix() for p in saved] == [
        f"trials/{label}_trial_000{i}" for i in (1, 2, 3, 4)], saved
    for trial, path in zip(trials, saved, strict=True):
        ckpt = torch.load(ckpts / path, weights_only=False)
        assert ckpt["hyper_parameters"]["lr"] == trial.arch["lr"]


@pytest.mark.slow
def test_both_ranks_of_a_ddp_trial_write_into_its_folder_under_a_users_dirpath(tmp_path):
    node = {"class_path": _MC, "init_args": {"dirpath": str(tmp_path / "ck"), "save_top_k": 1,
                                             "monitor": "val_acc", "mode": "max"}}
    run = tmp_path / "run"
    result = Search("tests.helpers.SyncedTinyNet", {"width": {"choice": [8, 16]}},
                    data=BlobData, trainer={"accelerator": "cpu", "devices": 2,
                                            "strategy": "ddp", "max_epochs": 2,
                                            "callbacks": [node]},
                    budget=2, run_dir=run, optimizer="RandomSearch", verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    with RunStore(run / "search.db") as store:
        label = store.get_meta("log_label")
    saved = checkpoint_files(tmp_path / "ck")  # rank 0's file, in the folder both ranks name
    assert [Path(p).parent.as_posix() for p in saved] == [
        f"trials/{label}_trial_0001", f"trials/{label}_trial_0002"], saved
