"""``lightning-nas oneshot`` seeds as LightningCLI and a search's trials do, with
``workers=True``: each DataLoader worker gets a seed of its own rank's, so DDP ranks do not
draw the same augmentations (``lightning_nas.oneshot.run``, ``lightning_nas.oneshot.seed``)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from lightning.pytorch import Callback
from torch.utils.data import DataLoader, Dataset

from examples.digits.data import DigitsDataModule
from tests.helpers_standalone import torchrun_main

__all__ = ["NoisyDigitsData", "RecordDraws"]


class _Noisy(Dataset):
    """A digits split whose every sample carries a NumPy draw of the worker that loaded it
    (augmentation as many projects write it) in its image's first pixel."""

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        x, y = self.base[i]
        x = x.clone()
        x.view(-1)[0] = float(np.random.randint(1 << 20))
        return x, y


class NoisyDigitsData(DigitsDataModule):
    """``DigitsDataModule`` whose training loader draws in a worker process of its own."""

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_Noisy(self.train_set), batch_size=2, num_workers=1)


class RecordDraws(Callback):
    """Writes the draws of each rank's training batches to ``OUT/draws<rank>.json``."""

    def __init__(self, out: str) -> None:
        self.out, self.draws = out, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.draws += [float(v) for v in batch[0].flatten(1)[:, 0]]

    def on_train_end(self, trainer, pl_module) -> None:
        with open(os.path.join(self.out, f"draws{trainer.global_rank}.json"), "w") as f:
            json.dump(self.draws, f)


#: the run on two ranks forked as ``torchrun`` starts them (``torchrun_main``; was Lightning's
#: launcher, whose rank 1 was a fresh ``python`` importing the training stack: seconds); each
#: rank seeds itself (``run_oneshot``), as a rank Lightning's launcher starts does
SCRIPT = """
import os, socket, sys, traceback
import torch
from lightning_nas.config.load import load_config
from lightning_nas.oneshot.run import run_oneshot


def run_rank(out):
    torch.set_num_threads(1)
    run_oneshot(load_config("examples/oneshot_digits/oneshot.yaml", [
        "--trainer.devices=2", "--trainer.strategy=ddp_find_unused_parameters_true",
        "--trainer.max_epochs=1", "--trainer.limit_train_batches=3",
        "--trainer.limit_val_batches=1", "--oneshot.num_candidates=2",
        "--oneshot.search_every_n_epochs=null", "--oneshot.calibration_batches=1",
        "--oneshot.finetune_epochs=0", f"--oneshot.run_dir={out}/run",
        "--data.class_path=tests.test_oneshot_seed.NoisyDigitsData",
        "--trainer.callbacks=[{class_path: tests.test_oneshot_seed.RecordDraws, "
        "init_args: {out: " + out + "}}]"]))


""" + torchrun_main("run_rank(sys.argv[1])")


@pytest.mark.slow
def test_ddp_ranks_dataloader_workers_draw_apart(tmp_path, launcher):
    # was: pl.seed_everything(seed) without workers=True: both ranks seeded alike, so their
    # DataLoader workers started from one base seed and drew the same numbers (each
    # rank's augmentations the other's), unlike a search's DDP trials and LightningCLI
    script = tmp_path / "oneshot_draws.py"
    script.write_text(SCRIPT)
    log = tmp_path / "log.txt"
    assert launcher.run([tmp_path], log, script) == 0, log.read_text()
    r0, r1 = (json.loads((tmp_path / f"draws{r}.json").read_text()) for r in (0, 1))
    assert len(r0) == len(r1) == 6
    assert r0 != r1, (r0, r1)


def test_a_one_device_ddp_run_leaves_the_callers_launcher_variables_as_they_were(
        tmp_path, monkeypatch):
    # was: the supernet trains in this process, where Lightning's launcher set LOCAL_RANK,
    # NODE_RANK, MASTER_ADDR and MASTER_PORT and left them (as a search's trials did): a
    # later DDP Trainer of the caller took its process for one a launcher had started
    import torch.distributed as dist
    from lightning.fabric.plugins.environments import LightningEnvironment

    from lightning_nas.oneshot.run import run_oneshot
    from lightning_nas.search.lifetime import DISTRIBUTED_VARIABLES

    for name in DISTRIBUTED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    cfg = {"model": "tests.helpers.TinySupernet",
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 64}},
           "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                       "strategy": "ddp_find_unused_parameters_true",
                       "enable_checkpointing": False},
           "oneshot": {"num_candidates": 2, "calibration_batches": 1, "num_classes": 3,
                       "seed": 4, "run_dir": str(tmp_path / "run"), "finetune_epochs": 0}}
    assert run_oneshot(cfg, verbose=False)["arch"]
    assert [name for name in DISTRIBUTED_VARIABLES if name in os.environ] == []
    assert not LightningEnvironment().creates_processes_externally
    assert not dist.is_initialized()  # was: its group left in this process
