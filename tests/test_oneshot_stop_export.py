"""A fit stopped after a periodic search (a callback after ``OneShotNAS`` asks it to stop at
the epoch's end) exports that search's winner calibrated on the batches it was scored with,
whatever random numbers the callbacks after the search draw before the fit ends."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from lightning_nas.oneshot.callback import OneShotNAS
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages, cpu_trainer, val_accuracy


class _StopAfterSearch(pl.Callback):
    """Asks the fit to stop at the end of its first epoch, after ``OneShotNAS``'s hook (so
    after that epoch's search), drawing a random number first where ``draws``."""

    def __init__(self, draws: bool) -> None:
        self.draws = draws

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.draws:
            torch.rand(1)  # (a callback that logs a random sample, say)
        trainer.should_stop = True


@pytest.mark.parametrize("draws", [False, True])
def test_a_fit_stopped_after_a_search_exports_the_subnet_it_scored(tmp_path, draws):
    # was, with draws: the export took other calibration batches than the search's (drawn
    # at the random state the fit ended at), so subnet.pt held other BatchNorm statistics
    # than the subnet scored best_score
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=8, calibration_batches=1, search_every_n_epochs=1,
                          export_dir=str(tmp_path), seed=2)
    data = BlobImages()  # shuffled: each draw of the calibration batches differs
    cpu_trainer(tmp_path, [callback, _StopAfterSearch(draws)], max_epochs=3,
                enable_checkpointing=False).fit(BatchNormSupernet(), datamodule=data)
    assert {row["epoch"] for row in callback.history} == {1}  # one search, the final one
    subnet = torch.load(tmp_path / "subnet.pt", weights_only=False)
    assert val_accuracy(subnet, data) == callback.best_score
    # exactly: the statistics of the search's own calibration batches, drawn or not
    pl.seed_everything(0, verbose=False)
    again = OneShotNAS(num_candidates=8, calibration_batches=1, search_every_n_epochs=1,
                       seed=2)
    cpu_trainer(tmp_path, [again], max_epochs=1, enable_checkpointing=False).fit(
        BatchNormSupernet(), datamodule=BlobImages())
    assert again.history == callback.history
    assert all(torch.equal(a, b) for a, b in zip(subnet.state_dict().values(),
                                                 again.subnet.state_dict().values(),
                                                 strict=True))
