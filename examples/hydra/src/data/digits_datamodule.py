"""``DigitsDataModule``: scikit-learn's 8x8 handwritten digits (they ship with
scikit-learn, nothing downloads) split into training and validation sets.

Example:
    >>> dm = DigitsDataModule(batch_size=32)
    >>> dm.setup("fit")
    >>> x, y = next(iter(dm.train_dataloader()))
    >>> tuple(x.shape), y.dtype
    ((32, 1, 8, 8), torch.int64)
"""

from __future__ import annotations

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

__all__ = ["DigitsDataModule"]


class DigitsDataModule(LightningDataModule):
    """Digits as float images ``(N, 1, 8, 8)`` in ``[0, 1]`` and int64 labels.

    Args:
        batch_size: samples per batch.
        val_fraction: share of the 1797 samples held out for validation.
        seed: seed of the split (``numpy.random.RandomState``: every job sees the same).
        num_workers: ``DataLoader`` worker processes.
        pin_memory: ``DataLoader`` ``pin_memory``.
    """

    def __init__(self, batch_size: int = 64, val_fraction: float = 0.2, seed: int = 0,
                 num_workers: int = 0, pin_memory: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.data_train: TensorDataset | None = None
        self.data_val: TensorDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        """Load the digits and split them (once)."""
        if self.data_train is not None:
            return
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.float32).div_(16.0).unsqueeze(1)
        labels = torch.as_tensor(digits.target, dtype=torch.int64)
        perm = torch.as_tensor(np.random.RandomState(self.hparams.seed).permutation(len(labels)))
        n_val = round(len(labels) * self.hparams.val_fraction)
        train, val = perm[n_val:], perm[:n_val]
        self.data_train = TensorDataset(images[train], labels[train])
        self.data_val = TensorDataset(images[val], labels[val])

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches."""
        return self._loader(self.data_train, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches in a fixed order."""
        return self._loader(self.data_val, shuffle=False)

    def _loader(self, dataset: TensorDataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        return DataLoader(dataset, batch_size=self.hparams.batch_size, shuffle=shuffle,
                          num_workers=self.hparams.num_workers,
                          pin_memory=self.hparams.pin_memory)
