"""Running ``lightning-nas oneshot`` on the digits example in tests and reading its record
files: the example's folder, the tiny run's arguments, a run in a process of its own (one a
SIGKILL can end) and the entries of SPOS's ``history.json`` / DARTS's ``alphas.json``; the
example's supernet with a ``ReduceLROnPlateau`` (``PlateauDigits``) and a callback that notes
the weights' rate at each epoch's start (``RateLog``).

Example:
    >>> RECORD["darts.yaml"], EXAMPLE.name
    ('alphas.json', 'oneshot_digits')
"""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as pl
import torch

from examples.oneshot_digits.model import DigitsSupernet
from tests.helpers_paths import at_helpers
from tests.launcher import ROOT

__all__ = ["EXAMPLE", "RECORD", "TINY", "PlateauDigits", "RateLog", "oneshot_process",
           "record_entries"]

EXAMPLE = ROOT / "examples" / "oneshot_digits"
#: a run of three epochs of two batches, calibrated on one batch, without a fine-tune
TINY = ["--trainer.max_epochs=3", "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=2", "--oneshot.calibration_batches=1",
        "--oneshot.finetune_epochs=0"]

#: the record a run keeps of its epochs: SPOS the subnets each search scored, DARTS/GDAS
#: the logits and probabilities of each epoch
RECORD = {"oneshot.yaml": "history.json", "darts.yaml": "alphas.json"}


def record_entries(config: str, record: Path) -> list[dict[str, object]]:
    """The entries of a run's ``record`` file (its ``history``), epoch by epoch; ``config``:
    the example's file the run was of (``RECORD``'s keys)."""
    content = json.loads(record.read_text())
    return content if config == "oneshot.yaml" else content["history"]


def oneshot_process(launcher, folder: Path, *args: str) -> tuple[int, str, str]:
    """``lightning-nas oneshot ARGS`` in a process of its own (one a SIGKILL can end), forked
    by ``launcher`` (its imports paid once); its exit code, stdout and stderr (files in
    ``folder``)."""
    out, err = folder / "out.txt", folder / "err.txt"
    for path in (out, err):
        path.unlink(missing_ok=True)
    code = launcher.run(["oneshot", *args], out, err=err, timeout=600)
    return code, out.read_text(), err.read_text()


@at_helpers
class PlateauDigits(DigitsSupernet):
    """The example's supernet trained by SGD (lr 0.05) whose rate a ``ReduceLROnPlateau`` on
    ``val_acc`` halves after every epoch but the first (no epoch betters the first tenfold)."""

    def configure_optimizers(self):
        sgd = torch.optim.SGD(self.parameters(), lr=0.05)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(sgd, mode="max", factor=0.5,
                                                             patience=0, threshold=10.0)
        return {"optimizer": sgd, "lr_scheduler": {"scheduler": plateau, "monitor": "val_acc"}}


@at_helpers
class RateLog(pl.Callback):
    """Appends ``[epoch, lr]`` of the weights' optimizer (the first) at each training epoch's
    start to the JSON-lines file ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizer = trainer.optimizers[0]
        rate = getattr(optimizer, "optimizer", optimizer).param_groups[0]["lr"]
        with open(self.path, "a") as f:
            f.write(json.dumps([trainer.current_epoch, rate]) + "\n")
