"""Data for fast, real trials: Gaussian blobs made in code (no download) and the
DataModules over them.

Example:
    >>> x, y = make_blobs(4)
    >>> tuple(x.shape), tuple(y.shape)
    ((4, 8), (4,))
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset, TensorDataset

from tests.helpers_paths import at_helpers

__all__ = [
    "BlobData",
    "LoaderArgsData",
    "NoValLoaderData",
    "TwoValBlobData",
    "make_blobs",
    "rank0_loader",
]


@at_helpers
def make_blobs(n: int = 256, dim: int = 8, classes: int = 3, seed: int = 0):
    """Gaussian blobs, generated in code (no download)."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=g) * 2.0
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, dim, generator=g)
    return x, y


@at_helpers
class BlobData(pl.LightningDataModule):
    """Train/val split of ``make_blobs`` (``shuffle=False``: the same batches every epoch,
    in the same order)."""

    def __init__(self, n: int = 256, batch_size: int = 64, shuffle: bool = True) -> None:
        super().__init__()
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle

    def setup(self, stage: str | None = None) -> None:
        x, y = make_blobs(self.n)
        cut = int(0.75 * self.n)
        self.train_set = TensorDataset(x[:cut], y[:cut])
        self.val_set = TensorDataset(x[cut:], y[cut:])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=self.shuffle)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size)


class NoValLoaderData(BlobData):
    """``BlobData`` without a ``val_dataloader`` (a DataModule of training data only)."""

    val_dataloader = pl.LightningDataModule.val_dataloader


class InitValLoaderData(NoValLoaderData):
    """``NoValLoaderData`` given its ``val_dataloader`` in ``__init__``, an instance
    attribute, which Lightning validates with (its class has none)."""

    def __init__(self, n: int = 256, batch_size: int = 64) -> None:
        super().__init__(n=n, batch_size=batch_size)
        self.val_dataloader = lambda: DataLoader(self.val_set, batch_size=self.batch_size)


class SetupValLoaderData(NoValLoaderData):
    """``NoValLoaderData`` given its ``val_dataloader`` in ``setup()``, an instance
    attribute set as the fit runs, which Lightning validates with (its class has none)."""

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        self.val_dataloader = lambda: DataLoader(self.val_set, batch_size=self.batch_size)


@at_helpers
class LoaderArgsData(BlobData):
    """``BlobData`` whose ``DataLoader`` arguments come in a dict, ``loader`` (its
    ``batch_size`` among them), and a ``num_workers``."""

    def __init__(self, n: int = 256, loader: dict | None = None, num_workers: int = 0) -> None:
        super().__init__(n=n)
        self.loader, self.num_workers = {"batch_size": 64, **(loader or {})}, num_workers

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, num_workers=self.num_workers, **self.loader)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, num_workers=self.num_workers, **self.loader)


@at_helpers
class TwoValBlobData(BlobData):
    """``BlobData`` with two validation loaders: the validation split and the first 32
    training samples."""

    def val_dataloader(self) -> list[DataLoader]:
        return [super().val_dataloader(),
                DataLoader(Subset(self.train_set, range(32)), batch_size=self.batch_size)]


def rank0_loader(samples: int, ranks: int = 2, batch_size: int = 1,
                 **sampler: bool) -> DataLoader:
    """A loader of ``samples`` zeros as rank 0 of ``ranks`` reads it (a ``DistributedSampler``
    taking ``sampler``'s settings, unshuffled): what an uneven split's check is given.

    Example:
        >>> len(rank0_loader(5, ranks=2))
        3
    """
    data = TensorDataset(torch.zeros(samples, 1))
    return DataLoader(data, batch_size=batch_size,
                      sampler=DistributedSampler(data, num_replicas=ranks, rank=0,
                                                 shuffle=False, **sampler))
