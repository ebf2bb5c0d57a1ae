"""The removal of an earlier run's outputs from a one-shot run folder (``ClearOutputs``,
``oneshot/run_outputs.py``) in real fits of SPOS and DARTS on blobs, the callbacks ordered as
``lightning-nas oneshot`` orders them (the clearing, then the search, then the run's
epoch-end checkpoint), and what a user of the command sees of a resumed run's folder."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest

from lightning_nas.oneshot.bilevel import BilevelData
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from lightning_nas.oneshot.resume import epoch_end_checkpoint
from lightning_nas.oneshot.run_outputs import RUN_OUTPUTS, ClearOutputs
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet

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
