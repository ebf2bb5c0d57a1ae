"""Lightning's ``sync_batchnorm`` and the supernet's ``ChoiceBatchNorm2d``: a fit whose DDP
strategy swapped one for a plain ``SyncBatchNorm`` is refused at its start, before any step
(``oneshot/sync_norms.py``). Real Lightning layer sync (``TorchSyncBatchNorm``), real fits."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
from lightning.pytorch.plugins import TorchSyncBatchNorm
from torch import nn

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.choices import ChoiceBatchNorm2d
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.sync_norms import check_norms_kept, choice_norms
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages


def test_the_choice_norms_lightning_swaps_are_named():
    net = BatchNormSupernet()
    names = choice_norms(net)
    assert names == ["net.1", "net.3.blocks.0.1"]  # not the head's plain BatchNorm1d
    assert all(isinstance(net.get_submodule(name), ChoiceBatchNorm2d) for name in names)
    check_norms_kept(net, names, "OneShotNAS")  # as built: kept
    synced = TorchSyncBatchNorm().apply(net)  # what Trainer(sync_batchnorm=True) does
    assert isinstance(synced.get_submodule(names[0]), nn.SyncBatchNorm)
    with pytest.raises(ConfigError, match=rf"OneShotNAS: the Trainer's sync_batchnorm=True "
                                          rf"swapped the supernet's ChoiceBatchNorm2d "
                                          rf"'{names[0]}' \(and 1 more\) for torch's "
                                          rf"SyncBatchNorm.*Leave sync_batchnorm off"):
        check_norms_kept(synced, names, "OneShotNAS")


class SwapNorms(pl.Callback):
    """Does at ``setup`` what a DDP strategy with ``sync_batchnorm=True`` does to the model
    before ``on_fit_start`` (Lightning's own ``TorchSyncBatchNorm``). On CPU a real DDP fit
    cannot get there: DDP refuses to wrap a ``SyncBatchNorm`` that is not on a GPU."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        TorchSyncBatchNorm().apply(pl_module)


@pytest.mark.parametrize("who", ["OneShotNAS", "DifferentiableNAS"])
def test_a_fit_whose_choice_norms_were_swapped_is_refused_before_any_step(tmp_path, who):
    # was: the plain SyncBatchNorm ran: the first narrower path failed with "running_mean
    # should contain 4 elements not 8", a DARTS mixed forward lost its width mask
    if who == "OneShotNAS":  # it names the layers in its own setup, before the swap
        module, data = BatchNormSupernet(), BlobImages()
        callbacks = [OneShotNAS(num_candidates=2, calibration_batches=1), SwapNorms()]
    else:  # named when it is made
        module, data = DifferentiableNAS(BatchNormSupernet(), num_classes=3), \
            BilevelData(BlobImages())
        callbacks = [SwapNorms()]
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False,
                         default_root_dir=tmp_path, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=callbacks)
    with pytest.raises(ConfigError, match=rf"^{who}: the Trainer's sync_batchnorm=True "
                                          rf"swapped the supernet's ChoiceBatchNorm2d "
                                          rf"'net.1' \(and 1 more\).*nothing was trained$"):
        trainer.fit(module, datamodule=data)
    assert trainer.global_step == 0
