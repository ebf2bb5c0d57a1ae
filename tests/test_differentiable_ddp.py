"""A differentiable search over two DDP ranks (gloo on CPU): each rank trains its own shard
and holds the same logits, derives the same architecture and logs both ranks' values."""

from __future__ import annotations

import json

import pytest

from tests.helpers_standalone import torchrun_main

#: two ranks started as ``torchrun`` starts them, both forked by this script (itself a launch
#: of the ``launcher``): was Lightning's launcher, whose rank 1 was a fresh ``python``
#: importing the training stack (seconds of CPU)
DDP_SCRIPT = """
import json, os, socket, sys, traceback
import lightning.pytorch as pl
import torch
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages


class FirstArchBatch(pl.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0 and trainer.current_epoch == 0:
            self.x = float(batch["arch"][0].sum())


def run_rank(folder):
    torch.set_num_threads(1)
    # DARTS uses every parameter in every step (plain ddp); GDAS leaves candidates unused
    for algorithm, strategy in (("darts", "ddp"), ("gdas", "ddp_find_unused_parameters_true")):
        pl.seed_everything(0, verbose=False)
        nas = DifferentiableNAS(BatchNormSupernet(), algorithm=algorithm, num_classes=3,
                                arch_lr=0.05, seed=1)
        seen = FirstArchBatch()
        trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=2, strategy=strategy,
                             logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False,
                             callbacks=[seen])
        trainer.fit(nas, datamodule=BilevelData(BlobImages()))
        with open(os.path.join(folder, f"{algorithm}{trainer.global_rank}.json"), "w") as f:
            json.dump({"logits": {k: v.tolist() for k, v in nas.alphas.items()},
                       "arch": nas.best_arch, "score": nas.best_score, "x": seen.x,
                       "initial": DifferentiableNAS(BatchNormSupernet(), seed=1).probabilities(),
                       "probs": nas.probabilities(),
                       "logged": {k: float(v) for k, v in trainer.callback_metrics.items()}}, f)
        trainer.strategy.barrier()  # rank 0 exits (the test reads) once every rank wrote


""" + torchrun_main("run_rank(sys.argv[1])")


@pytest.mark.slow
def test_ddp_ranks_hold_identical_logits_and_derive_the_same_architecture(tmp_path, launcher):
    script = tmp_path / "differentiable_ddp.py"
    script.write_text(DDP_SCRIPT)
    log = tmp_path / "log.txt"
    assert launcher.run([tmp_path], log, script, timeout=600) == 0, log.read_text()
    for algorithm in ("darts", "gdas"):
        r0, r1 = (json.loads((tmp_path / f"{algorithm}{r}.json").read_text()) for r in (0, 1))
        assert r0["x"] != r1["x"]  # each rank trained on its own shard ...
        assert r0["logits"] == r1["logits"]  # ... and holds the same logits (all-reduced)
        assert r0["probs"] != r0["initial"]  # which did move
        assert r0["arch"] == r1["arch"] and r0["score"] == r1["score"]
        # the epoch's logged losses are both ranks' (was: each rank's own shard's, so the
        # logger got rank 0's alone), alphas and tau too (the same on each rank: was
        # Lightning's warning to log them with sync_dist=True, one per value)
        assert {"train_loss", "arch_loss", "val_loss"} <= r0["logged"].keys()
        assert r0["logged"] == r1["logged"]
    assert "It is recommended to use `self.log(" not in log.read_text()
