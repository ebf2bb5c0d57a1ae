"""A stop asked before the Trainer's ``min_epochs`` / ``min_steps`` (an ``EarlyStopping``, or
any callback setting ``trainer.should_stop``), which Lightning does not take while they are
unmet, leaves ``search_every_n_epochs``'s searches of the epochs it goes on to train."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest

from lightning_nas.oneshot.callback import OneShotNAS
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import cpu_trainer


class _StopEachEpoch(pl.Callback):
    """Asks the fit to stop at each epoch's end (before ``OneShotNAS``'s hook)."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


@pytest.mark.parametrize("minimum", [{"min_epochs": 3}, {"min_steps": 9}])
def test_searches_run_while_a_minimum_keeps_a_stopped_fit_training(tmp_path, minimum):
    # was: each epoch after the stop was asked counted as the fit's last, so its search was
    # left to the final one: searched after [3] of 3 epochs trained
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=2, num_classes=3, calibration_batches=1,
                          search_every_n_epochs=1)
    trainer = cpu_trainer(tmp_path, [_StopEachEpoch(), callback], max_epochs=5,
                          enable_checkpointing=False, **minimum)
    trainer.fit(TinySupernet(), datamodule=BlobData())  # 3 batches an epoch
    assert trainer.current_epoch == 3
    assert sorted({row["epoch"] for row in callback.history}) == [1, 2, 3]
