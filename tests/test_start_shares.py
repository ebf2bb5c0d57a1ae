"""A DDP fine-tune's start validation (rank 0, one device) scores the samples the ranks'
epochs validate together: under ``overfit_batches`` and under a ``limit_val_batches`` that
reaches each rank's end of a ``drop_last`` loader (real gloo ranks on CPU)."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
from torch.utils.data import DataLoader, DistributedSampler, Subset

from lightning_nas import finetune
from lightning_nas.results import TrialStatus
from lightning_nas.search.rank_shares import one_device_limit, rank_batches
from tests.helpers_data import BlobData
from tests.helpers_finetune import AdamNet, EightsData, best_alone, searched


class DropData(BlobData):
    """``BlobData`` of 240 samples (60 validated) in batches of 8, ``drop_last=True``: 7
    full batches on one device; on 2 DDP ranks 30 each, 3 full batches (samples 0-47)."""

    def __init__(self, n: int = 240) -> None:
        super().__init__(n=n)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=8, drop_last=True)


@pytest.fixture(scope="module")
def adam_run(tmp_path_factory):
    return searched(tmp_path_factory.mktemp("shares"))


@pytest.mark.parametrize(("data", "settings", "samples"), [
    # 64 samples, 2 ranks: each rank's first 2 batches of 8 of its 32, samples 0-31
    # together (was: the start's 2 batches, samples 0-15)
    (EightsData, {"overfit_batches": 2}, 32),
    # 60 samples, drop_last: each rank's 30 are 3 full batches, all of them under a limit
    # of 4: samples 0-47 together (was: 8 batches asked, the loader's 7 on one device,
    # samples 0-55)
    (DropData, {"limit_val_batches": 4}, 48),
], ids=["overfit_batches", "drop_last_past_the_end"])
def test_a_ddp_start_validates_what_the_ranks_validate_together(adam_run, data, settings,
                                                                samples):
    # a learning rate of 1e-9: the fine-tune's one epoch validates the weights it started
    # from, over the samples its ranks validate (synced): the start scores the same
    alone = best_alone(adam_run, data(), samples)
    tuned = finetune(adam_run, max_epochs=1, model_init_args={"lr": 1e-9}, data=data,
                     trainer={"devices": 2, "strategy": "ddp", **settings})
    assert tuned.status is TrialStatus.COMPLETED, tuned.error
    epoch = {key: tuned.metrics[key] for key in alone}
    assert epoch == pytest.approx(alone, rel=1e-5), (epoch, alone)
    assert tuned.start_metrics == pytest.approx(alone, rel=1e-5), (tuned.start_metrics, alone)


def test_each_ranks_batches_of_a_drop_last_loader_cap_an_integer_limit():
    # 60 samples in full batches of 8 on 2 ranks: 3 each; a limit at or past that end
    # gives the ranks' 6 together, one below it its own count on each rank
    loader = DropData()
    loader.setup("validate")
    loader = loader.val_dataloader()
    shares = [list(DataLoader(loader.dataset, batch_size=8, drop_last=True, sampler=(
        DistributedSampler(loader.dataset, 2, rank, shuffle=False)))) for rank in (0, 1)]
    assert [len(share) for share in shares] == [3, 3]
    assert [rank_batches(loader, limit, replicas=2) for limit in (2, 3, 4, 0.5)] == [2, 3, 3, 1]
    assert [one_device_limit(limit, loader, replicas=2) for limit in (2, 3, 4)] == [4, 6, 6]
    # without drop_last the ranks' whole shares are the whole set: one device's whole loader
    whole = DataLoader(loader.dataset, batch_size=8)
    assert one_device_limit(4, whole, replicas=2) == 8 and len(whole) == 8
    # loaders that need different counts: none fits (the integer's count times the ranks)
    assert one_device_limit(4, [loader, DataLoader(loader.dataset, batch_size=4,
                                                   drop_last=True)], replicas=2) is None


@pytest.mark.parametrize("settings", [{"overfit_batches": 0.5}, {"fast_dev_run": 2}])
def test_the_start_takes_the_limit_lightning_sets_for_the_ranks(settings, tmp_path):
    # overfit_batches=0.5 and fast_dev_run=2 both give each of the 2 ranks 2 of its 4
    # batches of 8 (Lightning sets limit_val_batches from them): samples 0-31 together
    # (was, fast_dev_run: the start's own 2 batches, samples 0-15)
    from lightning_nas.search.start_score import validate_start
    from lightning_nas.search.trial import TrialSpec, build_trainer

    data = EightsData()
    data.setup("validate")
    model = AdamNet()
    alone = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                       enable_model_summary=False).validate(
        model, DataLoader(Subset(data.val_set, range(32)), batch_size=8), verbose=False)[0]
    spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(tmp_path), model=AdamNet, trainer={
        "accelerator": "cpu", "devices": 2, "strategy": "ddp", **settings})
    assert validate_start(spec, model, EightsData(), build_trainer) == pytest.approx(alone)
