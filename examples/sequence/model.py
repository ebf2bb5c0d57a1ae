"""A recurrent classifier on a generated task: which of 4 tokens is most frequent in a
sequence of 24 tokens (data made in code, no download).

Example:
    >>> import torch
    >>> model = SequenceClassifier(cell="lstm", hidden_size=16)
    >>> model(torch.zeros(2, 24, dtype=torch.long)).shape
    torch.Size([2, 4])
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

__all__ = ["MajorityTokenData", "SequenceClassifier"]

TOKENS, LENGTH = 4, 24


class MajorityTokenData(pl.LightningDataModule):
    """Random token sequences labelled with their most frequent token (ties: lowest).

    Args:
        n: number of sequences (a fixed 80/20 split).
        batch_size: batch size.
        seed: seed of the generator (the data does not depend on global seeding).
    """

    def __init__(self, n: int = 1200, batch_size: int = 64, seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()

    def setup(self, stage: str | None = None) -> None:
        g = torch.Generator().manual_seed(self.hparams.seed)
        x = torch.randint(0, TOKENS, (self.hparams.n, LENGTH), generator=g)
        counts = F.one_hot(x, TOKENS).sum(1)
        y = counts.argmax(-1)
        cut = int(0.8 * self.hparams.n)
        self.train_set, self.val_set = TensorDataset(x[:cut], y[:cut]), TensorDataset(
            x[cut:], y[cut:])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.hparams.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=256)


class SequenceClassifier(pl.LightningModule):
    """Embedding -> GRU or LSTM -> linear head on the last state.

    Args:
        cell: ``gru`` or ``lstm``.
        hidden_size: recurrent state size.
        num_layers: stacked recurrent layers.
        embed_dim: token embedding size.
        lr: Adam learning rate.
    """

    def __init__(self, cell: str = "gru", hidden_size: int = 32, num_layers: int = 1,
                 embed_dim: int = 8, lr: float = 3e-3) -> None:
        super().__init__()
        cells = {"gru": nn.GRU, "lstm": nn.LSTM}
        if cell not in cells:
            raise ValueError(f"unknown cell {cell!r}; valid: {', '.join(cells)}")
        self.save_hyperparameters()
        self.embed = nn.Embedding(TOKENS, embed_dim)
        self.rnn = cells[cell](embed_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, TOKENS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out[:, -1])

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        # sync_dist: under DDP the epoch's mean over every rank's batches (was: each rank's
        # own, and Lightning's sync_dist warning); a no-op on one device
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y), sync_dist=True)
        self.log("val_acc", (logits.argmax(-1) == y).float().mean(), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
