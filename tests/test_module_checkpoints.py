"""A ``ModelCheckpoint`` the module returns from ``configure_callbacks()`` in a search's
trials: each trial writes into a folder of its own, as one of ``trainer.callbacks`` does."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from lightning_nas.search.trial import TrialSpec, fit_trial
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_ranks import SyncedTinyNet
from tests.helpers_runs import checkpoint_files, paused_then_promoted


class DirpathNet(TinyNet):
    """Brings its own ``ModelCheckpoint`` into the folder ``ckpt_dir`` (or Lightning's own
    folder, ``ckpt_dir`` None), as some projects do."""

    def __init__(self, ckpt_dir: str | None = None, worse: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ckpt_dir, self.worse = ckpt_dir, worse

    def validation_step(self, batch, batch_idx):
        if not self.worse:
            return super().validation_step(batch, batch_idx)
        self.log("val_acc", 0.9 - 0.1 * self.current_epoch)
        return None

    def configure_callbacks(self):
        return ModelCheckpoint(dirpath=self.ckpt_dir, monitor="val_acc", mode="max",
                               save_top_k=1)


def test_a_modules_checkpoint_dirpath_keeps_each_trials_files_apart(tmp_path):
    # was: every trial wrote into dirpath itself: epoch=0-step=1.ckpt, then -v1, -v2, none
    # telling its trial, and Lightning's "exists and is not empty" for each later trial
    ckpts, run = tmp_path / "ckpts", tmp_path / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Search(DirpathNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData(n=64),
                        model_init_args={"ckpt_dir": str(ckpts)}, trainer={"max_epochs": 1},
                        budget=3, run_dir=run, seed=0, verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 3
    with RunStore(run / "search.db") as store:
        label = store.get_meta("log_label")
    saved = checkpoint_files(ckpts)
    assert [Path(p).parent.as_posix() for p in saved] == [
        f"trials/{label}_trial_000{i}" for i in (1, 2, 3)], saved
    assert not [w for w in caught if "exists and is not empty" in str(w.message)]
    for trial, path in zip(result.trials, saved, strict=True):  # each trial's own weights
        ckpt = torch.load(ckpts / path, weights_only=False)
        assert ckpt["state_dict"]["net.0.weight"].shape[0] == trial.arch["width"]
    # the search's best.ckpt and best.yaml stay the best trial's
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["trial"] == result.best.trial_id
    weights = torch.load(run / "best.ckpt", weights_only=False)["state_dict"]["net.0.weight"]
    assert weights.shape[0] == result.best.arch["width"]
    # a trial run again from scratch starts in an empty folder of its own, and leaves its
    # neighbours' alone
    spec = TrialSpec(trial_id=2, arch=result.trials[1].arch, model=DirpathNet,
                     trial_dir=str(run / "trials" / "trial_0002"), data=BlobData(n=64),
                     model_init_args={"ckpt_dir": str(ckpts)}, trainer={"max_epochs": 1},
                     log_label=label, quiet=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fit_trial(spec).status is TrialStatus.COMPLETED
    assert not [w for w in caught if "exists and is not empty" in str(w.message)]
    assert checkpoint_files(ckpts) == saved  # no -v1 beside the first run's file


@pytest.mark.parametrize("where", ["logger", "default_root_dir"])
def test_a_modules_checkpoint_without_a_dirpath_writes_into_each_trials_folder(
        tmp_path, where):
    # Lightning's folder for it: the trial's logger version, or its default_root_dir
    root, run = tmp_path / "root", tmp_path / "run"
    trainer = {"max_epochs": 1} if where == "logger" else {
        "max_epochs": 1, "logger": False, "default_root_dir": str(root)}
    result = Search(DirpathNet, {"width": {"choice": [4, 8]}}, data=BlobData(n=64),
                    trainer=trainer, budget=2, run_dir=run, seed=0, verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    with RunStore(run / "search.db") as store:
        label = store.get_meta("log_label")
    if where == "logger":
        assert [p for p in checkpoint_files(run / "trials") if "/logs/" in p] == [
            f"trial_000{i}/logs/checkpoints/epoch=0-step=1.ckpt" for i in (1, 2)]
    else:
        assert checkpoint_files(root) == [
            f"trials/{label}_trial_000{i}/checkpoints/epoch=0-step=1.ckpt" for i in (1, 2)]


@pytest.mark.parametrize("dirpath", [True, False])
def test_a_promoted_trial_keeps_its_modules_checkpoint_in_one_folder(tmp_path, dirpath):
    # was (no dirpath): the promoted segment's checkpoint, its logger a new version, wrote
    # into another folder and forgot its best ("The dirpath has changed")
    from lightning_nas.search.schedulers import ASHARule

    rule = ASHARule(min_epochs=2, max_epochs=4, eta=2)
    for key in (100, 101):  # two better trials at rung 2: trial 1 will be paused
        rule.record(key, [0.99, 0.99])
    ckpts = tmp_path / "ckpts"
    trial_dir = tmp_path / "run" / "trials" / "trial_0001"
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(trial_dir),
                     model=DirpathNet, data=BlobData, log_label="lbl",
                     model_init_args={"ckpt_dir": str(ckpts) if dirpath else None,
                                      "worse": True},
                     trainer={"max_epochs": 4}, rule=rule.snapshot(), quiet=False)
    said = paused_then_promoted(spec, rule)
    assert not [text for text in said if "dirpath has changed" in text or "exists and is not "
                "empty" in text], said
    folder = ckpts / "trials" / "lbl_trial_0001" if dirpath else trial_dir / "logs" / "checkpoints"
    saved = checkpoint_files(ckpts if dirpath else trial_dir)
    kept = [p for p in saved if p.split("/")[-1].startswith("epoch=")]
    assert kept == [(folder / "epoch=0-step=3.ckpt").relative_to(
        ckpts if dirpath else trial_dir).as_posix()], saved  # save_top_k=1: epoch 0 alone


class SyncedDirpathNet(SyncedTinyNet):
    """``SyncedTinyNet`` bringing its own ``ModelCheckpoint`` into ``ckpt_dir``."""

    def __init__(self, ckpt_dir: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ckpt_dir = ckpt_dir

    def configure_callbacks(self):
        return [ModelCheckpoint(dirpath=self.ckpt_dir, monitor="val_acc", mode="max",
                                save_top_k=1)]


@pytest.mark.slow
def test_both_ranks_of_a_ddp_trial_place_the_modules_checkpoint_in_its_folder(tmp_path):
    ckpts, run = tmp_path / "ck", tmp_path / "run"
    result = Search("tests.test_module_checkpoints.SyncedDirpathNet",
                    {"width": {"choice": [8, 16]}}, data=BlobData,
                    model_init_args={"ckpt_dir": str(ckpts)},
                    trainer={"accelerator": "cpu", "devices": 2, "strategy": "ddp",
                             "max_epochs": 1},
                    budget=2, run_dir=run, optimizer="RandomSearch", verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    with RunStore(run / "search.db") as store:
        label = store.get_meta("log_label")
    saved = checkpoint_files(ckpts)  # rank 0's file, in the folder both ranks name
    assert [Path(p).parent.as_posix() for p in saved] == [
        f"trials/{label}_trial_0001", f"trials/{label}_trial_0002"], saved
