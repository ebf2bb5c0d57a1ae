"""What fine-tune tests start from: ``AdamNet`` (an MLP trained with Adam and a StepLR
schedule), a one-trial search of it (``searched``), blobs validated in batches of 8
(``EightsData``) and the search's ``best.ckpt`` validated alone on one device
(``best_alone``).

Example:
    >>> AdamNet(width=4).hparams.lr
    0.05
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset

from lightning_nas import Search
from tests.helpers_data import BlobData

__all__ = ["AdamNet", "EightsData", "best_alone", "searched"]


class AdamNet(pl.LightningModule):
    """An MLP trained with Adam and a StepLR schedule: a fine-tune starts both afresh."""

    def __init__(self, width: int = 16, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
                      ) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
                        ) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_acc", (logits.argmax(-1) == y).float().mean(), sync_dist=True)
        self.log("val_loss", F.cross_entropy(logits, y), sync_dist=True)

    def configure_optimizers(self) -> dict:
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, 0.3)}


class EightsData(BlobData):
    """``BlobData`` validated in batches of 8: its 64 validation samples are 8 batches on
    one device, 4 on each of 2 DDP ranks."""

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=8)


def searched(tmp_path: Path, model: type = AdamNet) -> Path:
    """A one-trial search of ``model`` (3 epochs on blobs) in ``tmp_path / "run"``."""
    run = tmp_path / "run"
    Search(model, {"width": {"choice": [16, 32]}}, data=BlobData,
           trainer={"max_epochs": 3, "accelerator": "cpu", "devices": 1}, budget=1,
           run_dir=run, verbose=False).run()
    return run


def best_alone(run: Path, data: BlobData, samples: int) -> dict[str, float]:
    """The search's ``best.ckpt`` validated on one device over ``data``'s first
    ``samples`` validation samples, in batches of 8."""
    data.setup("validate")
    return pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                      enable_model_summary=False).validate(
        AdamNet.load_from_checkpoint(run / "best.ckpt"),
        DataLoader(Subset(data.val_set, range(samples)), batch_size=8), verbose=False)[0]
