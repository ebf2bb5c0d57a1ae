"""A submodule the user put in eval mode (a frozen BatchNorm) stays in eval mode through
lightning_nas's own eval/train round trips (the first-batch checks, scoring, the export), as
Lightning keeps it through validation: its running statistics never train."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from lightning_nas.module import NASModule
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.scoring import calibrate_batchnorm, default_forward
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages, cpu_trainer, val_accuracy

#: Lightning's note of a module in eval mode at the start of training: frozen on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Found 1 module.s. in eval mode")


class FrozenHead(BatchNormSupernet):
    """``BatchNormSupernet`` whose head BatchNorm (``net[7]``) is frozen in ``__init__``."""

    def __init__(self) -> None:
        super().__init__()
        self.net[7].eval()


class FrozenSeen(pl.Callback):
    """The frozen BatchNorm's mode at each training batch, of the supernet itself or of the
    one ``DifferentiableNAS`` wraps."""

    def __init__(self) -> None:
        self.modes: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        net = getattr(pl_module, "supernet", pl_module).net
        self.modes.append(net[7].training)


def _check(net: nn.Sequential, seen: FrozenSeen) -> None:
    assert seen.modes == [False] * 4  # was: True from the first batch's check on
    assert net[7].training is False and net[0].training is True  # after scoring, export
    assert torch.equal(net[7].running_mean, torch.zeros(8))  # never trained
    assert int(net[7].num_batches_tracked) == 0


def test_spos_keeps_a_frozen_submodule_in_eval_mode(tmp_path):
    pl.seed_everything(0, verbose=False)
    model, seen, data = FrozenHead(), FrozenSeen(), BlobImages()
    callback = OneShotNAS(num_candidates=2, calibration_batches=1, search_every_n_epochs=1)
    cpu_trainer(tmp_path, [seen, callback], max_epochs=2, limit_train_batches=2,
                limit_val_batches=1, enable_checkpointing=False
                ).fit(model, datamodule=data)
    _check(model.net, seen)
    frozen = callback.subnet[7]  # scored and exported with the statistics it was frozen with
    assert torch.equal(frozen.running_mean, torch.zeros(8))  # was: calibrated
    assert int(frozen.num_batches_tracked) == 0
    assert val_accuracy(callback.subnet, data) == callback.best_score


def test_darts_keeps_a_frozen_submodule_in_eval_mode(tmp_path):
    pl.seed_everything(0, verbose=False)
    model, seen = FrozenHead(), FrozenSeen()
    nas = DifferentiableNAS(model, num_classes=3, top_k=2, calibration_batches=1)
    cpu_trainer(tmp_path, [seen], max_epochs=2, limit_train_batches=2, limit_val_batches=1,
                enable_checkpointing=False).fit(nas, datamodule=BilevelData(BlobImages()))
    _check(model.net, seen)


@pytest.mark.filterwarnings("ignore:NASModule's builder")
def test_nasmodule_output_check_keeps_a_frozen_submodule_in_eval_mode():
    net = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    net[1].eval()
    module = NASModule(lambda arch: net, num_classes=3, example_input_array=torch.zeros(2, 8))
    module.check_output_width()
    assert module.training is True and net[0].training is True
    assert net[1].training is False  # was: True


def test_calibration_leaves_a_frozen_batchnorm_as_it_is():
    net = nn.Sequential(nn.BatchNorm1d(2), nn.BatchNorm1d(2))
    net[1].eval()  # frozen: in eval mode while the network trains
    batches = [(torch.randn(4, 2) + 5, None)]
    calibrate_batchnorm(net, default_forward, batches)
    assert net[0].running_mean.min() > 1
    assert torch.equal(net[1].running_mean, torch.zeros(2))  # was: calibrated
    assert int(net[1].num_batches_tracked) == 0
    assert [net.training, net[0].training, net[1].training] == [True, True, False]
    net.eval()  # all in eval mode (a validation): none can be told frozen, all calibrated
    calibrate_batchnorm(net, default_forward, batches)
    assert int(net[1].num_batches_tracked) == 1
