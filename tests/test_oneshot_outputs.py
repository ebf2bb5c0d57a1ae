"""The removal of an earlier run's outputs from a one-shot run folder (``ClearOutputs``,
``oneshot/run_outputs.py``) in real fits of SPOS and DARTS on blobs, the callbacks ordered as
``lightning-nas oneshot`` orders them (the clearing, then the search, then the run's
epoch-end checkpoint), and what a user of the command sees of a resumed run's folder."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas.cli import main
from lightning_nas.oneshot.bilevel import BilevelData
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from lightning_nas.oneshot.run_checkpoint import epoch_end_checkpoint
from lightning_nas.oneshot.run_outputs import RUN_OUTPUTS, ClearOutputs
from tests.helpers_callbacks import CrashAt
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot import EXAMPLE, TINY
from tests.launcher import ROOT

#: each algorithm's record file, and the other algorithm's
_RECORDS = {"spos": ("history.json", "alphas.json"), "darts": ("alphas.json", "history.json")}


class FolderSeen(pl.Callback):
    """Placed right after ``ClearOutputs``, before the search: the outputs the run folder
    holds when each of a fit's hooks where the clearing may run first runs here."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir, self.seen = run_dir, {}

    def _note(self, hook: str) -> None:
        self.seen.setdefault(hook, sorted(name for name in RUN_OUTPUTS
                                          if (self.run_dir / name).is_file()))

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._note("epoch start")

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: object, batch_idx: int) -> None:
        self._note("batch start")

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._note("fit end")


def _fit(run_dir: Path, algorithm: str, epochs: int, ckpt_path: Path | None = None,
         extra: tuple[pl.Callback, ...] = ()) -> FolderSeen:
    """A fit of ``epochs`` epochs of 3 batches of ``algorithm`` exporting into ``run_dir``,
    with the command's callbacks in its order and ``extra`` (a checkpoint every step, a
    crash) after them; what ``FolderSeen`` saw."""
    pl.seed_everything(0, verbose=False)
    seen, data = FolderSeen(run_dir), BlobData()
    if algorithm == "spos":
        module: pl.LightningModule = TinySupernet()
        search = [OneShotNAS(num_candidates=2, search_every_n_epochs=1, num_classes=3,
                             calibration_batches=1, export_dir=str(run_dir))]
    else:
        module = DifferentiableNAS(TinySupernet(), num_classes=3, export_dir=str(run_dir))
        data, search = BilevelData(data), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   limit_train_batches=3, limit_val_batches=1, default_root_dir=run_dir,
                   callbacks=[ClearOutputs(run_dir), seen, *search, *extra,
                              epoch_end_checkpoint(run_dir)]).fit(
            module, datamodule=data, ckpt_path=ckpt_path)
    return seen


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_a_resume_leaves_its_record_on_disk_for_the_search_to_replace(tmp_path, algorithm):
    # was: the record (SPOS's history.json, DARTS's alphas.json) was removed with the earlier
    # run's outputs as the resume's first epoch started, then written again from the
    # checkpoint by the search right after: a kill between left none on disk. Now it stays
    # for the search to replace at once; the other outputs go, the other algorithm's record
    # too.
    record, other = _RECORDS[algorithm]
    run_dir = tmp_path / "run"
    _fit(run_dir, algorithm, epochs=2)
    (run_dir / other).write_text("[]")  # an older run's, of the other algorithm
    last = run_dir / "checkpoints" / "last.ckpt"
    seen = _fit(run_dir, algorithm, epochs=3, ckpt_path=last)  # goes on to 3 epochs
    assert seen.seen["epoch start"] == [record]
    # resumed at its training's end (killed in its final search: no best_arch.yaml yet),
    # the outputs are removed as the fit ends, before that search: the record stays
    (run_dir / "best_arch.yaml").unlink()
    (run_dir / other).write_text("[]")
    seen = _fit(run_dir, algorithm, epochs=3, ckpt_path=last)
    assert "epoch start" not in seen.seen and seen.seen["fit end"] == [record]
    assert (run_dir / "best_arch.yaml").is_file() and not (run_dir / other).exists()


def _steps(tmp_path: Path, algorithm: str) -> ModelCheckpoint:
    """A checkpoint after each batch (DARTS: two optimizer steps a batch), in its own folder."""
    return ModelCheckpoint(dirpath=tmp_path / "steps", filename="{step}", save_top_k=-1,
                           every_n_train_steps=1 if algorithm == "spos" else 2)


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_a_resume_from_a_mid_epoch_checkpoint_clears_the_outputs_before_it_trains(
        tmp_path, algorithm):
    # Lightning skips on_train_epoch_start in a fit resumed mid-epoch (was: a finished run's
    # best_arch.yaml, subnet.pt and report/ stood beside the resumed training until the next
    # epoch started, and for good where the resumed epoch was the last: a finished run's
    # best beside the record of the checkpoint, report/ of the run before)
    record, _ = _RECORDS[algorithm]
    run_dir, per_step = tmp_path / "run", 1 if algorithm == "spos" else 2
    _fit(run_dir, algorithm, epochs=3, extra=(_steps(tmp_path, algorithm),))
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report" / "report.html").is_file()
    mid_last = tmp_path / "steps" / f"step={7 * per_step}.ckpt"  # 1 batch of epoch 3
    seen = _fit(run_dir, algorithm, epochs=3, ckpt_path=mid_last)
    assert "epoch start" not in seen.seen and seen.seen["batch start"] == [record]
    assert (run_dir / "best_arch.yaml").is_file()
    assert not (run_dir / "report" / "report.html").exists()
    # from the checkpoint of the last epoch's last batch (saved before its end), which
    # trains no batch: cleared before the final search and export (was: report/ kept)
    assert main(["report", str(run_dir)]) == 0
    seen = _fit(run_dir, algorithm, epochs=3,
                ckpt_path=tmp_path / "steps" / f"step={9 * per_step}.ckpt")
    assert list(seen.seen) == ["fit end"] and record in seen.seen["fit end"]
    assert not [name for name in seen.seen["fit end"] if name.startswith("report/")]
    # a dead run's record of epochs 1 and 2, resumed from a checkpoint in epoch 1, which
    # holds no entry: removed before the resumed training (was: it stood until epoch 2)
    dead = tmp_path / "dead"
    with pytest.raises(RuntimeError, match="crash at epoch 2"):
        _fit(dead, algorithm, epochs=3, extra=(_steps(tmp_path, algorithm), CrashAt(epoch=2)))
    assert (dead / record).is_file()
    seen = _fit(dead, algorithm, epochs=3, ckpt_path=tmp_path / "steps" / f"step={per_step}.ckpt")
    assert seen.seen["batch start"] == []


def test_a_killed_mid_epoch_resume_of_a_finished_run_is_not_shown_as_finished(
        tmp_path, monkeypatch, capsys):
    # was: the finished run's best_arch.yaml and subnet.pt stood beside the record the
    # resume wrote from its mid-epoch checkpoint: killed there, `show` listed one epoch's
    # subnets under the finished run's best (a subnet none of them is), and `--ckpt_path
    # last` said "Nothing left to train ... holds the finished run's outputs" and kept them
    monkeypatch.chdir(ROOT)
    run_dir, steps = tmp_path / "run", tmp_path / "steps"
    args = ["oneshot", str(EXAMPLE / "oneshot.yaml"), *TINY, "--trainer.max_epochs=2",
            "--trainer.limit_train_batches=3", "--oneshot.num_candidates=2",
            "--oneshot.search_every_n_epochs=1", f"--oneshot.run_dir={run_dir}"]
    every_step = ("{class_path: lightning.pytorch.callbacks.ModelCheckpoint, init_args: "
                  "{filename: '{step}', save_top_k: -1, every_n_train_steps: 1, "
                  f"dirpath: {steps}}}}}")
    assert main([*args, f"--trainer.callbacks=[{every_step}]"]) == 0
    finished = (run_dir / "history.json").read_text()
    crash = "{class_path: tests.helpers.CrashAt, init_args: {epoch: 1, batch: 2}}"
    with pytest.raises(RuntimeError, match="crash at epoch 1, batch 2"):  # in its last epoch
        main([*args, f"--trainer.callbacks=[{crash}]", "--ckpt_path", str(steps / "step=4.ckpt")])
    assert not (run_dir / "best_arch.yaml").exists() and not (run_dir / "subnet.pt").exists()
    capsys.readouterr()
    assert main(["show", str(run_dir)]) == 2
    assert "no best_arch.yaml yet: a one-shot run that did not finish?" in capsys.readouterr().err
    assert main([*args, "--ckpt_path", "last"]) == 0  # the finished run's last checkpoint
    assert "its training is done: running its final search and export" in \
        capsys.readouterr().out
    assert (run_dir / "history.json").read_text() == finished


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_fast_dev_run_writes_nothing_into_the_export_dir(tmp_path, algorithm):
    # Lightning's debugging run suppresses checkpoints and logs; the search's files too, so
    # a debug fit pointed at a finished search's export_dir leaves its results (was: they
    # were replaced by a one-batch search's). Its results stay in memory.
    out = tmp_path / "out"
    out.mkdir()
    earlier = {name: b"an earlier run's" for name in ("best_arch.yaml", "subnet.pt",
                                                      _RECORDS[algorithm][0])}
    for name, text in earlier.items():
        (out / name).write_bytes(text)
    pl.seed_everything(0, verbose=False)
    if algorithm == "spos":
        module: pl.LightningModule = TinySupernet()
        search = OneShotNAS(num_candidates=2, search_every_n_epochs=1, num_classes=3,
                            calibration_batches=1, export_dir=str(out))
        data, callbacks = BlobData(), [search]
    else:
        module = search = DifferentiableNAS(TinySupernet(), num_classes=3, export_dir=str(out))
        data, callbacks = BilevelData(BlobData()), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pl.Trainer(fast_dev_run=True, accelerator="cpu", devices=1, enable_progress_bar=False,
                   enable_model_summary=False, default_root_dir=tmp_path,
                   callbacks=callbacks).fit(module, datamodule=data)
    assert search.best_arch is not None and search.subnet is not None
    assert {path.name: path.read_bytes() for path in out.iterdir()} == earlier
