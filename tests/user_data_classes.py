"""DataModules as real Lightning projects write them, for ``test_user_data`` (importable, so
worker processes and DDP ranks receive them by module)."""

from __future__ import annotations

import os
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset, random_split

from tests.helpers_data import make_blobs

__all__ = ["FullData", "LambdaData", "Mapped", "log_line"]


def log_line(folder: str | None, name: str, text: str) -> None:
    """Append ``text`` to ``folder/name`` (one line: a hook's call, with its rank and pid)."""
    if folder:
        with open(Path(folder) / name, "a") as f:
            f.write(f"{text} rank={os.environ.get('LOCAL_RANK', '0')} pid={os.getpid()}\n")


class FullData(pl.LightningDataModule):
    """A DataModule with every hook a Lightning project has: ``prepare_data`` writes the data
    to a file (once per machine), ``setup`` reads it and makes the train/validation split
    with ``random_split`` (``split_seed``: its own generator; None: the global random
    state, as many projects do), ``teardown``, ``state_dict``; each hook call is logged to
    ``notes`` (a folder)."""

    def __init__(self, root: str = "", notes: str = "", batch_size: int = 32,
                 num_workers: int = 0, persistent_workers: bool = False,
                 split_seed: int | None = 0) -> None:
        super().__init__()
        self.root, self.notes, self.batch_size = root, notes, batch_size
        self.num_workers, self.persistent = num_workers, persistent_workers
        self.split_seed = split_seed
        self.setups = 0

    @property
    def file(self) -> Path:
        return Path(self.root) / "blobs.pt"

    def prepare_data(self) -> None:
        log_line(self.notes, "prepare.log", "prepare_data")
        if not self.file.exists():
            x, y = make_blobs(192)
            torch.save((x, y), self.file)

    def setup(self, stage: str) -> None:
        self.setups += 1
        log_line(self.notes, "setup.log", f"setup {stage}")
        x, y = torch.load(self.file)
        generator = (None if self.split_seed is None
                     else torch.Generator().manual_seed(self.split_seed))
        self.train_set, self.val_set = random_split(TensorDataset(x, y), [144, 48],
                                                    generator=generator)
        log_line(self.notes, "split.log", " ".join(map(str, self.val_set.indices[:8])))

    def _loader(self, dataset, shuffle: bool) -> DataLoader:
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers,
                          persistent_workers=self.persistent and self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)

    def teardown(self, stage: str) -> None:
        log_line(self.notes, "teardown.log", f"teardown {stage}")

    def state_dict(self) -> dict:
        return {"setups": self.setups}

    def load_state_dict(self, state_dict: dict) -> None:
        self.setups = state_dict["setups"]


class LambdaData(FullData):
    """``FullData`` whose training set applies a lambda transform, as torchvision's
    ``transforms.Lambda(lambda x: ...)`` does: a forked DataLoader worker receives it, a
    spawned one would have to pickle it. Logs the start method its loaders' workers use."""

    def setup(self, stage: str) -> None:
        super().setup(stage)
        self.train_set = Mapped(self.train_set, lambda xy: (xy[0] * 1.0, xy[1]))

    def train_dataloader(self) -> DataLoader:
        import multiprocessing as mp

        log_line(self.notes, "start_method.log", mp.get_start_method())
        return super().train_dataloader()


class Mapped(torch.utils.data.Dataset):
    """``dataset`` with ``transform`` applied to each item."""

    def __init__(self, dataset, transform) -> None:
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return self.transform(self.dataset[index])
