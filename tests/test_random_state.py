"""``search/random_state.py``: the random state a trial's checkpoints keep."""

from __future__ import annotations

import random
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch

from lightning_nas.search.callbacks import TrialReporter
from lightning_nas.search.random_state import capture, in_checkpoint, restore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


def test_restore_sets_back_what_capture_read():
    state = capture()
    drawn = (torch.rand(3), np.random.rand(3), random.random())
    restore(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(drawn[0], again[0]) and np.array_equal(drawn[1], again[1])
    assert drawn[2] == again[2]


def _checkpoint(tmp_path, callbacks: list[pl.Callback]):
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, callbacks=callbacks,
                         enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, limit_train_batches=2,
                         limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(TinyNet(width=4), datamodule=BlobData())
    trainer.save_checkpoint(tmp_path / "x.ckpt")
    return tmp_path / "x.ckpt"


def test_a_trials_checkpoint_holds_its_random_state_and_a_plain_one_does_not(tmp_path):
    # what the header of an exported best_config.yaml is decided by (was: "not a replay"
    # also for a promoted trial whose checkpoint kept its random state)
    for folder in "abc":
        (tmp_path / folder).mkdir()
    assert in_checkpoint(_checkpoint(tmp_path / "a", [TrialReporter("val_acc", "max")]))
    assert not in_checkpoint(_checkpoint(tmp_path / "b", []))  # an older version's, say
    assert not in_checkpoint(tmp_path / "gone.ckpt") and not in_checkpoint(None)
    # a hyperparameter weights_only loading refuses (a Path, as a config's annotation makes
    # it): was "kept no random state" in the export's header
    typed = tmp_path / "typed.ckpt"
    checkpoint = torch.load(_checkpoint(tmp_path / "c", [TrialReporter("val_acc", "max")]),
                            weights_only=False)
    torch.save({**checkpoint, "hyper_parameters": {"data_dir": Path("data")}}, typed)
    assert in_checkpoint(typed)
    (tmp_path / "bad.ckpt").write_text("not a checkpoint")
    assert not in_checkpoint(tmp_path / "bad.ckpt")
