"""The data of a bilevel (differentiable NAS) search: a datamodule's training batches for the
weights zipped with its validation batches for the architecture logits.

``BilevelData(datamodule)`` keeps the datamodule's validation and test loaders; its train
loader is a ``CombinedLoader`` (``max_size_cycle``: the validation loader is cycled) that
yields ``{"train": batch, "arch": batch}``, so Lightning moves both parts to the device and
gives each rank its shard under DDP. When a search resumes, it sets the checkpoint's random
state before each training iterator Lightning makes until the first batch, so the resumed
run draws the shuffles the uninterrupted one drew.

Example:
    >>> from lightning.pytorch.demos.boring_classes import BoringDataModule
    >>> data = BilevelData(BoringDataModule())
    >>> data.setup("fit")
    >>> sorted(next(iter(data.train_dataloader()))[0])
    ['arch', 'train']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import CombinedLoader

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.scoring import set_rng_state

__all__ = ["BilevelData"]


class _TrainLoader(CombinedLoader):
    """The zipped loader; sets a resumed search's random state before making its iterators
    (so the first epoch after a resume draws the data order the search would have drawn)."""

    def __init__(self, iterables: dict[str, Any], data: BilevelData) -> None:
        super().__init__(iterables, "max_size_cycle")
        self.data = data

    def __iter__(self) -> Any:
        if self.data.resume_rng is not None:
            set_rng_state(self.data.resume_rng)
        return super().__iter__()


class BilevelData(pl.LightningDataModule):
    """A datamodule's training batches zipped with its validation batches (cycled) for the
    architecture step: ``{"train": batch, "arch": batch}``; validation and test as before.
    The architecture's batches come from one validation loader: a ``val_dataloader()``
    that returns several is a ``ConfigError`` when a fit sets up, before any training.

    Args:
        datamodule: the user's datamodule (its ``prepare_data`` / ``setup`` run as usual;
            its batch-transfer hooks do not).

    Attributes:
        resume_rng: torch's random state set before each new training iterator until the
            first training batch of a resumed search (set by ``DifferentiableNAS``).
    """

    def __init__(self, datamodule: pl.LightningDataModule) -> None:
        super().__init__()
        self.datamodule = datamodule
        self.resume_rng: dict[str, Any] | None = None

    def prepare_data(self) -> None:
        self.datamodule.prepare_data()

    def setup(self, stage: str) -> None:
        self.datamodule.trainer = self.trainer
        self.datamodule.setup(stage)
        if stage == "fit":  # several validation loaders: said before any training
            self._arch_loader()

    def _arch_loader(self) -> Any:
        """The datamodule's one validation loader, whose batches train the architecture.

        Raises:
            ConfigError: ``val_dataloader()`` returns several loaders (or none), naming the
                datamodule and their number.
        """
        value = self.datamodule.val_dataloader()
        found = list(value.values()) if isinstance(value, Mapping) else (
            list(value) if isinstance(value, (list, tuple)) else [value])
        if len(found) != 1:
            raise ConfigError(
                f"data {type(self.datamodule).__name__}: val_dataloader() returns "
                f"{len(found)} validation loaders, but a differentiable search (DARTS, GDAS; "
                f"BilevelData) trains the architecture on the batches of one; return a single "
                f"loader (e.g. over a torch.utils.data.ConcatDataset of the validation sets), "
                f"or search with SPOS (oneshot.algorithm: spos, or the OneShotNAS callback), "
                f"which scores subnets on every validation loader")
        return found[0]

    def train_dataloader(self) -> CombinedLoader:
        return _TrainLoader({"train": self.datamodule.train_dataloader(),
                             "arch": self._arch_loader()}, self)

    def val_dataloader(self) -> Any:
        return self.datamodule.val_dataloader()

    def test_dataloader(self) -> Any:
        return self.datamodule.test_dataloader()

    def state_dict(self) -> dict[str, Any]:
        return self.datamodule.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.datamodule.load_state_dict(state_dict)
