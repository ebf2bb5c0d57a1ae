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


def _values(state) -> int:
    """The values ``state`` holds, nested ones counted: what a checkpoint's pickler visits
    one by one (``torch.save`` calls its ``persistent_id`` for each)."""
    if isinstance(state, dict):
        return 1 + sum(_values(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return 1 + sum(_values(v) for v in state)
    return 1


def test_the_state_is_a_few_values_that_weights_only_loading_reads(tmp_path):
    # each of a trial's checkpoints (best.ckpt, last.ckpt each epoch) holds it: was some
    # 6300 numbers in lists (torch's 5056 bytes one by one), pickled one by one in every save
    state = capture()
    assert _values(state) < 20, _values(state)
    torch.save({"random": state}, tmp_path / "s.ckpt")
    loaded = torch.load(tmp_path / "s.ckpt", weights_only=True)["random"]
    drawn = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    restore(loaded)
    again = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    assert torch.equal(drawn[0], again[0]) and np.array_equal(drawn[1], again[1])
    assert drawn[2:] == again[2:]


def test_a_state_an_earlier_version_wrote_as_lists_is_restored():
    # plain lists of numbers: what the checkpoints of trials written before held
    np.random.randn()  # a Gaussian held: its part of NumPy's state
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    old = {"torch": torch.get_rng_state().tolist(),
           "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
           "random": [version, list(internal), gauss_next]}
    drawn = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    restore(old)
    again = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    assert torch.equal(drawn[0], again[0]) and np.array_equal(drawn[1], again[1])
    assert drawn[2:] == again[2:]


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
