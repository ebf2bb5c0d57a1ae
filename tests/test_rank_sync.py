"""The metrics of DDP trials: real gloo ranks on CPU, each validating its share of the set."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers import BlobData, TinyNet


class ShareNet(TinyNet):
    """Logs ``val_acc`` and ``val_loss`` synced over the ranks, ``val_loss_shard`` (this
    rank's share of the validation set) unsynced, and ``val_ranks`` (the ranks' sum,
    reduced by hand) on rank 0 alone with ``rank_zero_only=True``."""

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.log("val_acc", (logits.argmax(-1) == y).float().mean(), sync_dist=True)
        self.log("val_loss", loss, sync_dist=True)
        self.log("val_loss_shard", loss)

    def on_validation_epoch_end(self):
        ranks = self.all_gather(torch.tensor(float(self.global_rank))).sum()
        if self.trainer.is_global_zero:
            self.log("val_ranks", ranks, rank_zero_only=True)


@pytest.mark.slow
def test_a_secondary_metric_that_differs_across_ranks_is_not_stored_and_is_named(tmp_path):
    # was: every metric besides the monitor and the objectives was stored as rank 0's value,
    # its share of the validation set (the digits example's val_loss under DDP), silently
    trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 2}
    Search("tests.test_rank_sync.ShareNet", {"width": {"choice": [8, 16]}}, data=BlobData,
           trainer=trainer, budget=1, threads_per_trial=1, run_dir=tmp_path,
           verbose=False).run()
    with RunStore(tmp_path / "search.db") as store:
        (trial,) = store.trials()
    assert trial.status is TrialStatus.COMPLETED
    assert {"val_acc", "val_loss", "train_loss"} <= set(trial.metrics)  # synced: stored
    assert "val_loss_shard" not in trial.metrics  # one rank's share: left out
    assert trial.metrics["val_ranks"] == 1.0  # rank 0's by choice (a hand-made reduction)
    log = (tmp_path / "trials" / "trial_0001" / "trial.log").read_text()
    assert log.count("metric 'val_loss_shard' differs across the 2 ranks") == 1  # once
    assert ("so the search leaves it out of the trial's stored metrics; log it with "
            "sync_dist=True (or log a torchmetrics metric) to store it") in log
    assert "'val_loss' differs" not in log and "'val_ranks' differs" not in log
