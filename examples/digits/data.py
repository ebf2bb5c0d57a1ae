"""A LightningDataModule for scikit-learn's 8x8 handwritten digits.

The data ships with scikit-learn (``sklearn.datasets.load_digits``), so nothing is
downloaded. Images are float tensors of shape ``(N, 1, 8, 8)`` scaled to ``[0, 1]``
and labels are ``int64`` class indices in ``0..9``. An optional held-out test split
(``test_fraction``, off by default) is for benchmarks that must report accuracy on data
no search saw.

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
    """Train/validation (and optional test) split of scikit-learn's digits as a
    LightningDataModule.

    The split is fixed by ``seed`` through ``numpy.random.RandomState``, so it does not
    depend on torch's global random state: every trial of a search sees the same split.
    With ``test_fraction`` > 0 the test samples are taken from the end of the training
    part of the same permutation: the validation set is the same as without a test split,
    the training set is smaller, and ``test_dataloader`` serves the held-out samples.
    With the default ``test_fraction=0`` the train/validation split is exactly the one of
    earlier versions.

    Args:
        batch_size: Samples per batch for both loaders.
        val_fraction: Fraction of the 1797 samples held out for validation.
        seed: Seed of the permutation that defines the split.
        num_workers: Worker processes per ``DataLoader``.
        test_fraction: Fraction of the 1797 samples held out as a test split that neither
            training nor validation sees (0: no test split).

    Example:
        >>> dm = DigitsDataModule(val_fraction=0.25, seed=1)
        >>> dm.setup()
        >>> len(dm.train_set), len(dm.val_set)
        (1348, 449)
        >>> dm = DigitsDataModule(val_fraction=0.25, seed=1, test_fraction=0.2)
        >>> dm.setup()
        >>> len(dm.train_set), len(dm.val_set), len(dm.test_set)
        (989, 449, 359)
    """

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.2,
        seed: int = 0,
        num_workers: int = 0,
        test_fraction: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        if not 0.0 <= test_fraction < 1.0 - val_fraction:
            raise ValueError(
                f"test_fraction must be in [0, 1 - val_fraction), got {test_fraction}"
            )
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.seed = seed
        self.num_workers = num_workers
        self.test_fraction = test_fraction
        self.train_set: TensorDataset | None = None
        self.val_set: TensorDataset | None = None
        self.test_set: TensorDataset | None = None

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
        n_test = round(n * self.test_fraction)
        perm = torch.as_tensor(np.random.RandomState(self.seed).permutation(n))
        train_idx, val_idx = perm[: n - n_val - n_test], perm[n - n_val :]
        self.train_set = TensorDataset(images[train_idx], labels[train_idx])
        self.val_set = TensorDataset(images[val_idx], labels[val_idx])
        if n_test:
            test_idx = perm[n - n_val - n_test : n - n_val]
            self.test_set = TensorDataset(images[test_idx], labels[test_idx])

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

    def test_dataloader(self) -> DataLoader:
        """Held-out test batches in a fixed order (needs ``test_fraction`` > 0)."""
        if self.train_set is not None and self.test_set is None:
            raise RuntimeError("no test split: create the DigitsDataModule with test_fraction > 0")
        return DataLoader(
            self._require(self.test_set),
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
        )

    @staticmethod
    def _require(dataset: TensorDataset | None) -> TensorDataset:
        if dataset is None:
            raise RuntimeError("call setup() before requesting a dataloader")
        return dataset
