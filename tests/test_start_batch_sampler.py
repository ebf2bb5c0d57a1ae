"""A DDP fine-tune's start validation with a loader built on a plain ``BatchSampler``
under an integer ``limit_val_batches``: Lightning drops the batch sampler for its
``DistributedSampler`` and validates batches of 1 on each rank, so the start (rank 0, one
device, the user's batches of 8) validates the ranks' samples where whole batches hold
them, and is skipped where none do (real gloo ranks on CPU)."""

from __future__ import annotations

import pytest
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler, Subset

from lightning_nas import finetune
from lightning_nas.results import TrialStatus
from tests.helpers_data import BlobData
from tests.helpers_finetune import best_alone, searched


class BatchSamplerData(BlobData):
    """``BlobData`` (64 validation samples) validated through a plain ``BatchSampler`` of
    8: 8 batches on one device; on 2 DDP ranks Lightning deals out 32 samples to each, in
    batches of 1."""

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_sampler=BatchSampler(
            SequentialSampler(self.val_set), batch_size=8, drop_last=False))


@pytest.fixture(scope="module")
def adam_run(tmp_path_factory):
    return searched(tmp_path_factory.mktemp("batch_sampler"))


def test_a_ddp_start_over_a_plain_batch_sampler_validates_the_ranks_samples(adam_run):
    # limit_val_batches=4: each rank validates 4 batches of 1, samples 0-7 together, one
    # batch of 8 on one device (was: 4 * 2 batches of 8, the whole set: 8 times as many)
    alone = best_alone(adam_run, BatchSamplerData(), 8)
    tuned = finetune(adam_run, max_epochs=1, model_init_args={"lr": 1e-9},
                     data=BatchSamplerData, trainer={"devices": 2, "strategy": "ddp",
                                                     "limit_val_batches": 4})
    assert tuned.status is TrialStatus.COMPLETED, tuned.error
    epoch = {key: tuned.metrics[key] for key in alone}
    assert epoch == pytest.approx(alone, rel=1e-5), (epoch, alone)
    assert tuned.start_metrics == pytest.approx(alone, rel=1e-5), (tuned.start_metrics, alone)


def test_a_ddp_start_whose_batches_cannot_hold_the_ranks_samples_is_skipped(adam_run):
    # limit_val_batches=3: the ranks validate samples 0-5, no whole batch of 8 holds them:
    # no start score (the search's stands in; was: 6 batches of 8, samples 0-47)
    tuned = finetune(adam_run, max_epochs=1, model_init_args={"lr": 1e-9},
                     data=BatchSamplerData, trainer={"devices": 2, "strategy": "ddp",
                                                     "limit_val_batches": 3})
    assert tuned.status is TrialStatus.COMPLETED, tuned.error
    assert tuned.start_metrics == {}


def test_a_plain_batch_samplers_one_device_count_is_the_ranks_samples_in_its_batches():
    from lightning_nas.search.rank_shares import NoShareMatch, one_device_limit

    data = BatchSamplerData()
    data.setup("validate")
    loader = data.val_dataloader()
    # 2 ranks, 32 samples each: 4 each are 8 together, 1 batch; 16 each, 4 batches; 32 or
    # more (a rank's whole share), the whole set: any count from its 8 batches
    assert [one_device_limit(limit, loader, replicas=2) for limit in (4, 16, 32, 40)] == [
        1, 4, 8, 8]
    assert one_device_limit(0.5, loader, replicas=2) == 4  # 16 of each rank's 32
    for limit in (3, 0.1):  # 6 samples together: no whole batch of 8 holds them
        with pytest.raises(NoShareMatch, match="batches of 8"):
            one_device_limit(limit, loader, replicas=2)
    sixty = Subset(data.val_set, range(60))
    dropped = DataLoader(sixty, batch_sampler=BatchSampler(SequentialSampler(sixty),
                                                           batch_size=8, drop_last=True))
    with pytest.raises(NoShareMatch):  # the ranks validate all 60, one device 56
        one_device_limit(40, dropped, replicas=2)
