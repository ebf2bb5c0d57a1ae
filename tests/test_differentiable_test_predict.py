"""``trainer.test`` and ``trainer.predict`` of a ``DifferentiableNAS`` (DARTS, GDAS): after
a search, the exported ``subnet`` (what ``best_score`` is of, ``subnet.pt``); before one,
the derived (argmax) architecture on the supernet's shared weights."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.paths import set_path
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages, plain_trainer


class ScoredImages(BlobImages):
    """``BlobImages`` tested and predicted on its validation split."""

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def predict_dataloader(self) -> DataLoader:
        x, _ = self.val_set.tensors
        return DataLoader(TensorDataset(x), batch_size=self.batch_size)


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_test_and_predict_run_the_exported_subnet(tmp_path, algorithm):
    # was: Lightning's "No `test_step()` method defined to run `Trainer.test`"
    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(BatchNormSupernet(), algorithm=algorithm, num_classes=3, top_k=2,
                            loss="cross_entropy", calibration_batches=2)
    trainer = plain_trainer(tmp_path, max_epochs=2, num_sanity_val_steps=0)
    data = BilevelData(ScoredImages())
    trainer.fit(nas, datamodule=data)
    tested = trainer.test(nas, datamodule=data, verbose=False)[0]
    # the score the search gave its export, on the same (validation) data
    assert tested["test_acc"] == pytest.approx(nas.best_score)
    assert "test_loss" in tested
    predicted = torch.cat(trainer.predict(nas, datamodule=data))
    x, _ = data.datamodule.val_set.tensors
    nas.subnet.eval()
    with torch.no_grad():
        assert torch.allclose(predicted, nas.subnet(x), atol=1e-6)


def test_before_a_search_they_run_the_derived_architecture_on_the_supernet(tmp_path):
    nas = DifferentiableNAS(BatchNormSupernet(), num_classes=3)
    trainer = plain_trainer(tmp_path)
    data = BilevelData(ScoredImages())
    tested = trainer.test(nas, datamodule=data, verbose=False)[0]
    assert 0 <= tested["test_acc"] <= 1 and nas.subnet is None
    predicted = torch.cat(trainer.predict(nas, datamodule=data))
    set_path(nas.supernet, nas.derived_arch())  # the argmax path, single-path
    x, _ = data.datamodule.val_set.tensors
    with torch.no_grad():
        assert torch.allclose(predicted, nas.supernet.eval()(x), atol=1e-5)
