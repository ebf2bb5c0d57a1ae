"""A differentiable search resumed from a mid-search checkpoint (or the last epoch's) ends
with the same search as the uninterrupted one, checked in a process of its own."""

from __future__ import annotations

import os
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages, plain_trainer

#: ``python SCRIPT RUN_DIR ALGORITHM AT_TRAIN_EPOCH_END``: the resume check, run alone
RESUME_SCRIPT = """
import sys
from pathlib import Path

import torch

from tests.test_differentiable_resume import _check_the_resumed_search

if __name__ == "__main__":
    torch.set_num_threads(1)
    at_train_epoch_end = {"None": None, "False": False}[sys.argv[3]]
    _check_the_resumed_search(Path(sys.argv[1]), sys.argv[2], at_train_epoch_end)
    print("the resumed search ended as the uninterrupted one", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("algorithm", "at_train_epoch_end"),
                         [("darts", None), ("gdas", None), ("darts", False)])
def test_resume_from_a_mid_search_checkpoint_ends_with_the_same_search(
        request, tmp_path, algorithm, at_train_epoch_end):
    if os.environ.get("LNAS_FRESH_PROCESS") == "1":  # in this process (to debug it)
        _check_the_resumed_search(tmp_path, algorithm, at_train_epoch_end)
        return
    # an exactness check: run it in a process no earlier test ran in, so that no
    # process-wide state they left (threads, backends flags, RNG streams) decides it
    # (forked from the launcher's, which imported the training stack and ran nothing; the
    # check runs as a script there: a pytest session in it paid about 5 s a run for its
    # plugins, its rewriting of the tests' asserts and its garbage collection at exit)
    script, log = tmp_path / "resume_check.py", tmp_path / "resume_check.log"
    script.write_text(RESUME_SCRIPT)
    launcher = request.getfixturevalue("launcher")
    code = launcher.run([tmp_path / "run", algorithm, at_train_epoch_end], log, script,
                        timeout=900)
    assert code == 0, log.read_text()[-4000:]
    assert "the resumed search ended as the uninterrupted one" in log.read_text()


def _check_the_resumed_search(tmp_path: Path, algorithm: str,
                              at_train_epoch_end: bool | None) -> None:
    """Fit 4 epochs, and again from the checkpoint of epoch 1 (and, with checkpoints at
    each epoch's very end, from that of epoch 3): the same search, asserted."""

    def run(ckpt_path=None):
        pl.seed_everything(0, verbose=False)
        nas = DifferentiableNAS(BatchNormSupernet(), algorithm=algorithm, num_classes=3,
                                arch_lr=0.05)
        ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=-1, filename="{epoch}",
                               save_on_train_epoch_end=at_train_epoch_end)  # or after val
        plain_trainer(tmp_path, max_epochs=4, enable_checkpointing=True, callbacks=[ckpt]).fit(
            nas, datamodule=BilevelData(BlobImages()), ckpt_path=ckpt_path)  # shuffled data
        nas.rng_after = torch.get_rng_state()
        return nas

    full = run()
    resumed = run(ckpt_path=tmp_path / "ckpt" / "epoch=1.ckpt")
    assert resumed.best_arch == full.best_arch
    for key, value in full.alphas.items():
        assert torch.allclose(resumed.alphas[key], value, atol=1e-6), key
    assert resumed.history == full.history and len(full.history) == 4
    assert float(resumed.tau) == float(full.tau)
    if at_train_epoch_end is None:  # the last epoch's checkpoint, saved at its very end (a
        # fit killed in its final search): Lightning trains nothing and skips on_train_end;
        # the final search and export run at the fit's end, as the uninterrupted fit's (was:
        # ConfigError "DifferentiableNAS's final search and export did not run")
        ended = run(ckpt_path=tmp_path / "ckpt" / "epoch=3.ckpt")
        assert (ended.best_arch, ended.best_score) == (full.best_arch, full.best_score)
        assert ended.scored == full.scored and ended.history == full.history
        pairs = zip(ended.subnet.state_dict().values(), full.subnet.state_dict().values(),
                    strict=True)
        assert all(torch.equal(a, b) for a, b in pairs)
        assert torch.equal(ended.rng_after, full.rng_after)  # what a fine-tune draws from


def test_a_resume_with_the_other_algorithm_is_refused_before_training(tmp_path):
    # was: a DARTS checkpoint resumed by GDAS trained on, and alphas.json and
    # best_arch.yaml said "gdas" of a search whose first epoch was DARTS's
    def trainer(epochs: int) -> pl.Trainer:
        return plain_trainer(tmp_path, max_epochs=epochs, limit_val_batches=0)

    first = trainer(1)
    first.fit(DifferentiableNAS(TinySupernet(), num_classes=3),
              datamodule=BilevelData(BlobData()))
    first.save_checkpoint(tmp_path / "darts.ckpt")
    nas = DifferentiableNAS(TinySupernet(), algorithm="gdas", num_classes=3)
    start = {k: v.detach().clone() for k, v in nas.alphas.items()}
    with pytest.raises(ConfigError, match=r"is of a 'darts' search, but this DifferentiableNAS "
                                          r"searches with algorithm='gdas'.*algorithm='darts'"):
        trainer(2).fit(nas, datamodule=BilevelData(BlobData()),
                       ckpt_path=tmp_path / "darts.ckpt")
    assert nas.history == [] and all(torch.equal(v, start[k]) for k, v in nas.alphas.items())
