"""A LightningDataModule for scikit-learn's 8x8 handwritten digits.

The data ships with scikit-learn (``sklearn.datasets.load_digits``), so nothing is
downloaded. Images are float tensors of shape ``(N, 1, 8, 8)`` scaled to ``[0, 1]``
and labels are ``int64`` class indices in ``0..9``.

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
    """Train/validation split of scikit-learn's digits as a LightningDataModule.

    The split is fixed by ``seed`` through ``numpy.random.RandomState``, so it does not
    depend on torch's global random state: every trial of a search sees the same split.

    Args:
        batch_size: Samples per batch for both loaders.
        val_fraction: Fraction of the 1797 samples held out for validation.
        seed: Seed of the permutation that defines the split.
        num_workers: Worker processes per ``DataLoader``.

    Example:
        >>> dm = DigitsDataModule(val_fraction=0.25, seed=1)
        >>> dm.setup()
        >>> len(dm.train_set), len(dm.val_set)
        (1348, 449)
    """

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.2,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.seed = seed
        self.num_workers = num_workers
        self.train_set: TensorDataset | None = None
        self.val_set: TensorDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        """Load the digits and build the split (cached after the first call)."""
        if self.train_set is not None and self.val_set is not None:
            return
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.float32).div_(16.0).unsqueeze(1)
        labels = torch.as_tensor(digits.target, dtype=torch.int64)

        n = len(labels)
        n_val = max(1, round(n * self.val_fraction))
        perm = torch.as_tensor(np.random.RandomState(self.seed).permutation(n))
        train_idx, val_idx = perm[: n - n_val], perm[n - n_val :]
        self.train_set = TensorDataset(images[train_idx], labels[train_idx])
        self.val_set = TensorDataset(images[val_idx], labels[val_idx])

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches."""
        return DataLoader(
            self._require(self.train_set),
            batch_size=self.batch_size,
            shuffle=True,
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        """Validation batches in a fixed order."""
        return DataLoader(
            self._require(self.val_set),
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
        )

    @staticmethod
    def _require(dataset: TensorDataset | None) -> TensorDataset:
        if dataset is None:
            raise RuntimeError("call setup() before requesting a dataloader")
        return dataset
