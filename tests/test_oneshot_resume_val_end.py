"""An SPOS fit resumed from a checkpoint a ``ModelCheckpoint`` of the user's saved after the
validation of an epoch's last batch (as it does by default under
``check_val_every_n_epoch`` above 1 or ``val_check_interval`` below 1, or with
``save_on_train_epoch_end=False``), before that epoch's search: Lightning resumes it as a
mid-epoch checkpoint with no batch left, and the resumed fit goes on exactly as the
uninterrupted one (the same searches, scores and weights)."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas.oneshot.callback import OneShotNAS
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages, cpu_trainer


def _fit(tmp_path: Path, schedule: dict, ckpt_path: Path | None = None,
         max_epochs: int = 3) -> tuple[OneShotNAS, BatchNormSupernet]:
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=3, num_classes=3, calibration_batches=2,
                          search_every_n_epochs=1)
    model = BatchNormSupernet()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{epoch}", save_top_k=-1,
                                 monitor="val_acc", mode="max")
    cpu_trainer(tmp_path, [callback, checkpoint], max_epochs=max_epochs, limit_train_batches=4,
                **schedule).fit(model, datamodule=BlobImages(n=400, batch_size=32),
                                ckpt_path=ckpt_path)
    return callback, model


@pytest.mark.parametrize(("schedule", "saved"), [
    ({"check_val_every_n_epoch": 2}, "epoch=1.ckpt"),
    ({"val_check_interval": 0.5}, "epoch=0-v1.ckpt"),  # the second validation of epoch 1
])
def test_a_resume_from_a_checkpoint_saved_after_an_epochs_last_validation_goes_on_exactly(
        tmp_path, schedule, saved):
    # was: the resumed fit ran that epoch's search at the random state Lightning left after
    # making its training iterator, not the checkpoint's: other calibration batches, other
    # scores (0.63 against 0.66 for check_val_every_n_epoch=2), and the next epoch on
    # another data order (other weights)
    full, trained = _fit(tmp_path, schedule)
    resumed, again = _fit(tmp_path / "again", schedule, tmp_path / "ckpt" / saved)
    assert resumed.history == full.history
    assert (resumed.best_arch, resumed.best_score) == (full.best_arch, full.best_score)
    pairs = zip(trained.parameters(), again.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
