"""The record files of a one-shot run on disk (SPOS's ``history.json``, DARTS/GDAS's
``alphas.json``, ``oneshot/records.py``) across kills and resumes: with real Trainers on the
digits example and a real SIGKILL, or on blobs with a mid-epoch checkpoint."""

from __future__ import annotations

import json
import signal
import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas.cli import main
from lightning_nas.oneshot.bilevel import BilevelData
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from tests.helpers_callbacks import CrashAt
from tests.helpers_oneshot import EXAMPLE, RECORD, TINY, oneshot_process, record_entries
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages
from tests.launcher import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("config", ["oneshot.yaml", "darts.yaml"])
def test_a_resume_killed_in_its_final_search_keeps_the_record_on_disk(
        tmp_path, monkeypatch, launcher, config):
    # was: a run resumed from the checkpoint of its training's end removed its outputs when
    # its fit ended, then ran its final search, and wrote the record again with the export:
    # killed in that search (SIGKILL, out of memory), it left no history.json / alphas.json
    # on disk, though the checkpoint held the record. Now the record is back on disk before
    # the final search starts (the checkpoint's, as the killed run left it).
    name = RECORD[config]
    first, second = tmp_path / "at_train_end", tmp_path / "in_final_search"
    args = [str(EXAMPLE / config), *TINY,
            f"--trainer.callbacks=[{{class_path: tests.helpers.KillAtTrainEnd, init_args: "
            f"{{marker: {first}}}}}]",
            f"--data={{class_path: tests.helpers.KillInResumedSearch, init_args: "
            f"{{marker: {second}, batch_size: 64}}}}"]
    if config == "oneshot.yaml":
        args += ["--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=1"]
    full, dead = tmp_path / "full", tmp_path / "dead"
    first.touch()
    second.touch()  # the uninterrupted run: the same command, not killed
    code, _, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={full}")
    assert code == 0, err[-3000:]
    first.unlink()
    second.unlink()
    code, _, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={dead}")
    assert code == -signal.SIGKILL and first.is_file() and not second.exists(), err[-3000:]
    before = (dead / name).read_bytes()
    # SPOS's searches after epochs 1 and 2 (the third is the final search); DARTS's three
    # epochs, each recorded by its end
    ended = record_entries(config, full / name)
    assert record_entries(config, dead / name) == (
        [entry for entry in ended if entry["epoch"] <= 2] if config == "oneshot.yaml" else ended)
    code, out, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={dead}",
                                     "--ckpt_path", "last")
    assert code == -signal.SIGKILL and second.is_file(), (out + err)[-3000:]
    assert "its training is done: running its final search and export" in out, out
    assert not (dead / "best_arch.yaml").exists()  # killed before the export
    assert (dead / name).is_file(), sorted(p.name for p in dead.iterdir())
    assert (dead / name).read_bytes() == before
    assert not list(dead.glob(".*.partial"))
    # resumed again, it ends with the uninterrupted run's record, byte for byte
    monkeypatch.chdir(ROOT)
    assert main(["oneshot", *args, f"--oneshot.run_dir={dead}", "--ckpt_path", "last"]) == 0
    assert (dead / name).read_bytes() == (full / name).read_bytes()
    assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()


def _mid_epoch_fit(tmp_path: Path, algorithm: str, crash: pl.Callback,
                   ckpt_path: Path | None = None) -> None:
    """A 3-epoch fit of ``algorithm`` (``spos``: ``OneShotNAS`` searching after each epoch;
    ``darts``: ``DifferentiableNAS``) on blobs, its record in ``tmp_path/out``, a checkpoint
    every 6 batches (mid-epoch 2: 4 batches an epoch), ``crash`` ending it."""
    pl.seed_everything(0, verbose=False)
    out = tmp_path / "out"
    data = BlobImages(n=400, batch_size=32)
    if algorithm == "spos":
        module = BatchNormSupernet()
        search = [OneShotNAS(num_candidates=2, search_every_n_epochs=1, num_classes=3,
                             calibration_batches=1, export_dir=str(out))]
    else:
        module = DifferentiableNAS(BatchNormSupernet(), num_classes=3, export_dir=str(out))
        data, search = BilevelData(data), []
    steps = 6 if algorithm == "spos" else 12  # DARTS: two optimizer steps a batch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pl.Trainer(max_epochs=3, accelerator="cpu", devices=1, logger=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   limit_train_batches=4, limit_val_batches=1, default_root_dir=tmp_path,
                   callbacks=[*search, crash, ModelCheckpoint(
                       dirpath=tmp_path / "ckpt", filename="{step}", save_top_k=-1,
                       every_n_train_steps=steps)]).fit(
            module, datamodule=data, ckpt_path=ckpt_path)


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_a_resume_from_a_mid_epoch_checkpoint_rewrites_the_record_before_it_trains(
        tmp_path, algorithm):
    # Lightning skips on_train_epoch_start in a fit resumed mid-epoch, where the record is
    # rewritten from the checkpoint (was: until the next epoch started, the record of the
    # killed run stood on disk: entries of epochs the checkpoint does not hold, which the
    # resume trains again, on another data order; a resume killed again in that epoch left
    # them, for `lightning-nas show` and the report to read as the search's)
    record = tmp_path / "out" / ("history.json" if algorithm == "spos" else "alphas.json")
    with pytest.raises(RuntimeError, match="crash at epoch 2"):
        _mid_epoch_fit(tmp_path, algorithm, CrashAt(epoch=2))
    assert sorted({entry["epoch"] for entry in _entries(algorithm, record)}) == [1, 2]
    ckpt = tmp_path / "ckpt" / ("step=6.ckpt" if algorithm == "spos" else "step=12.ckpt")
    saved = torch.load(ckpt, weights_only=False)
    assert saved["epoch"] == 1  # saved in epoch 2, after its second batch
    held = (saved["callbacks"][OneShotNAS().state_key]["history"] if algorithm == "spos"
            else saved["differentiable_nas"]["history"])
    assert {entry["epoch"] for entry in held} == {1}
    with pytest.raises(RuntimeError, match="crash at epoch 1, batch 3"):  # killed again
        _mid_epoch_fit(tmp_path, algorithm, CrashAt(epoch=1, batch=3), ckpt_path=ckpt)
    assert _entries(algorithm, record) == held


def _entries(algorithm: str, record: Path) -> list[dict[str, object]]:
    content = json.loads(record.read_text())
    return content if algorithm == "spos" else content["history"]
