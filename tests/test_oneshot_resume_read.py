"""A one-shot resume reads its checkpoint once: ``check_resume`` gives the shapes of the
supernet's weights with the settings, and ``check_resumed_supernet`` judges the config's
supernet on them, as it judges it on the file (a real GDAS fit's ``last.ckpt``)."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.bilevel import BilevelData
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from lightning_nas.oneshot.resume import (
    check_resume,
)
from lightning_nas.oneshot.resume_read import check_resumed_supernet
from lightning_nas.oneshot.run_checkpoint import epoch_end_checkpoint
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet

_OPTS = {"seed": 0, "arch_lr": 0.003, "arch_weight_decay": 0.001}


class NarrowSupernet(TinySupernet):
    """``TinySupernet`` with a hidden layer of 12 at most: another supernet's weights."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__(lr)
        from lightning_nas.oneshot.choices import ChoiceLinear

        self.net[0] = ChoiceLinear(8, [4, 8, 12], label="hidden")


def _gdas_checkpoint(folder: Path) -> Path:
    """The epoch-end checkpoint of a 1-epoch GDAS fit (seed 0)."""
    pl.seed_everything(0, verbose=False)
    pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, limit_val_batches=0,
               limit_train_batches=2, enable_progress_bar=False, default_root_dir=folder,
               callbacks=[epoch_end_checkpoint(folder)]).fit(
        DifferentiableNAS(TinySupernet(), algorithm="gdas", seed=0),
        datamodule=BilevelData(BlobData()))
    return folder / "checkpoints" / "last.ckpt"


def test_the_supernet_check_takes_the_shapes_the_settings_read_gave(tmp_path):
    last = _gdas_checkpoint(tmp_path)
    held = torch.load(last, map_location="cpu", weights_only=False)["state_dict"]
    _, stored, shapes = check_resume(last, "gdas", _OPTS, False, {"max_epochs": 2})
    assert stored["algorithm"] == "gdas" and stored["epoch"] == 0
    assert shapes == {key: tuple(value.shape) for key, value in held.items()}
    same = DifferentiableNAS(TinySupernet(), algorithm="gdas")
    other = DifferentiableNAS(NarrowSupernet(), algorithm="gdas")
    with pytest.raises(ConfigError) as from_file:
        check_resumed_supernet(last, other)
    last.unlink()  # judged on the shapes alone: the file is not read again
    check_resumed_supernet(last, same, shapes)
    with pytest.raises(ConfigError) as from_shapes:
        check_resumed_supernet(last, other, shapes)
    assert str(from_shapes.value) == str(from_file.value)
    assert " is (16, 8) there, (12, 8) now" in str(from_shapes.value)
