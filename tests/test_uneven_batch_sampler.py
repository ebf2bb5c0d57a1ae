"""A DDP validation loader built with a batch sampler (``batch_sampler=``, no
``batch_size``): Lightning puts its ``DistributedSampler`` inside the batch sampler, and
the uneven-split check finds it there (real gloo ranks on CPU)."""

from __future__ import annotations

import warnings

import pytest
import torch
import yaml
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    SequentialSampler,
    TensorDataset,
)

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from lightning_nas.search.uneven_split import uneven_splits
from tests.helpers_data import BlobData
from tests.helpers_ranks import MetricNet


class EvenBatches(BatchSampler):
    """A ``BatchSampler`` of the user's (a subclass: Lightning rebuilds it around its
    ``DistributedSampler``; the plain class it turns into a loader of batches of 1)."""


class Batches:
    """A batch sampler that is no ``BatchSampler``: its ``sampler``, ``batch_size`` and
    ``drop_last`` are what Lightning rebuilds it with; how it batches, only it knows."""

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        return iter(BatchSampler(self.sampler, self.batch_size, self.drop_last))

    def __len__(self) -> int:
        return len(BatchSampler(self.sampler, self.batch_size, self.drop_last))


class BatchSamplerData(BlobData):
    """``BlobData`` validated through an ``EvenBatches`` of 16."""

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_sampler=EvenBatches(
            SequentialSampler(self.val_set), batch_size=16, drop_last=False))


def _shared(samples: int, kind: type = EvenBatches, batch_size: int = 10,
            drop_last: bool = False) -> DataLoader:
    """Rank 0's loader as Lightning rebuilds a batch sampler's under 2 DDP ranks."""
    data = TensorDataset(torch.zeros(samples, 1))
    sampler = DistributedSampler(data, num_replicas=2, rank=0, shuffle=False)
    return DataLoader(data, batch_sampler=kind(sampler, batch_size=batch_size,
                                               drop_last=drop_last))


def test_a_batch_samplers_distributed_sampler_is_checked():
    # 101 samples on 2 ranks: 51 each, the repeat each rank's 51st (was: not looked at,
    # the loader's own sampler a SequentialSampler)
    (said,) = uneven_splits(_shared(101))
    assert said.startswith("the validation set holds 101 samples, which the 2 ranks do not "
                           "divide: Lightning's DistributedSampler repeats 1 of them"), said
    assert uneven_splits(_shared(100)) == []
    # its batches of 10 (a BatchSampler's own batching): 5 stop before the 51st, 6 reach it
    assert uneven_splits(_shared(101), batches=[5]) == []
    assert uneven_splits(_shared(101), batches=[6]) == [said]
    # drop_last: the 5 full batches of each rank leave the repeat out
    assert uneven_splits(_shared(101, drop_last=True), batches=[5]) == []
    # batches it sizes itself (no BatchSampler): said, wherever each rank stops
    assert uneven_splits(_shared(101, Batches), batches=[5]) == [said]


@pytest.mark.slow
def test_a_ddp_search_says_an_uneven_split_of_a_batch_sampler(tmp_path):
    # 101 validation samples through a batch sampler on 2 ranks: Lightning's sampler
    # inside it repeats one (was: said nowhere, best.yaml without notes)
    trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1,
               "limit_train_batches": 2, "logger": False}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (trial,) = Search(MetricNet, {"width": {"choice": [4, 8]}}, data=BatchSamplerData,
                          data_init_args={"n": 404, "batch_size": 16}, trainer=trainer,
                          budget=1, run_dir=tmp_path, verbose=False).run().trials
    assert trial.status is TrialStatus.COMPLETED, trial.error
    console = [str(w.message) for w in caught if "DistributedSampler" in str(w.message)]
    assert len(console) == 1 and "holds 101 samples, which the 2 ranks" in console[0], console
    (note,) = yaml.safe_load((tmp_path / "best.yaml").read_text())["notes"]
    assert note.startswith("the validation set holds 101 samples, which the 2 ranks do not "
                           "divide: Lightning's DistributedSampler repeats 1 of them"), note
