"""The data of a bilevel (differentiable NAS) search: a datamodule's training batches for the
weights zipped with its validation batches for the architecture logits.

``BilevelData(datamodule)`` keeps the datamodule's validation and test loaders; its train
loader is a ``CombinedLoader`` that yields ``{"train": batch, "arch": batch}``, so Lightning
moves both parts to the device and gives each rank its shard under DDP: an epoch is one
pass over the training loader, and the validation loader is cycled, restarting with each
epoch (one longer than the training loader, unshuffled, gives each epoch its first
batches only). When a search resumes, it sets the checkpoint's random state before each
training iterator Lightning makes until the first batch, so the resumed run draws the
shuffles the uninterrupted one drew.

Lightning's datamodule hooks reach the wrapped datamodule as in a plain fit: ``setup``,
``teardown``, ``on_exception``, ``state_dict`` / ``load_state_dict`` and the batch-transfer
hooks (on each part of a training batch, in the datamodule's own batch format); a checkpoint
holds its hyperparameters (``datamodule_hyper_parameters``) and its
``prepare_data_per_node`` is kept. The hooks cannot tell the two parts apart: both run with
``trainer.training`` True and ``dataloader_idx`` 0, so a hook's training-only augmentation
(``if self.trainer.training: ...``) reaches the architecture's (validation) batches too; put
it in the training dataset's transforms or ``train_dataloader()``'s ``collate_fn``, which
only the weights' batches pass through.

Example:
    >>> from lightning.pytorch.demos.boring_classes import BoringDataModule
    >>> data = BilevelData(BoringDataModule())
    >>> data.setup("fit")
    >>> sorted(next(iter(data.train_dataloader()))[0])
    ['arch', 'train']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.data import sized_len
from lightning.pytorch.utilities import CombinedLoader

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.random_state import set_rng_state

__all__ = ["BilevelData"]


class _TrainLoader(CombinedLoader):
    """The zipped loader: an epoch is one pass over the training loader (``limits``, which
    Lightning sets from ``limit_train_batches``, may end it sooner); the architecture's
    loader is cycled, restarting with each epoch. It sets a resumed search's random state
    before making its iterators (so the first epoch after a resume draws the data order
    the search would have drawn). Was: ``max_size_cycle``, which cycled the training
    loader when the validation loader was the longer one."""

    def __init__(self, iterables: dict[str, Any], data: BilevelData) -> None:
        super().__init__(iterables, "max_size_cycle")
        self.data = data
        self._iters: list[Any] | None = None
        self._index = 0

    def __iter__(self) -> Any:
        if self.data.resume_rng is not None:
            set_rng_state(self.data.resume_rng)
        self._iters = [iter(loader) for loader in self.flattened]  # train, then arch
        self._index = 0
        return self

    def __next__(self) -> tuple[dict[str, Any], int, int]:
        if self._iters is None or self._index >= self._length():
            raise StopIteration
        train = next(self._iters[0])
        try:
            arch = next(self._iters[1])
        except StopIteration:  # cycled
            self._iters[1] = iter(self.flattened[1])
            arch = next(self._iters[1])
        self._index += 1
        return {"train": train, "arch": arch}, self._index - 1, 0

    def _length(self) -> float:
        """The training loader's length, within ``limits`` (inf: a loader without one)."""
        length = sized_len(self.flattened[0])
        return min(math.inf if length is None else length,
                   self.limits[0] if self.limits else math.inf)

    def __len__(self) -> int:
        return self._length()  # type: ignore[return-value]  # inf: len() fails, as Lightning's

    def reset(self) -> None:
        self._iters = None
        super().reset()


class BilevelData(pl.LightningDataModule):
    """A datamodule's training batches zipped with its validation batches (cycled; an epoch
    is one pass over the training batches) for the architecture step: ``{"train": batch,
    "arch": batch}``; validation and test as before.
    The architecture's batches come from one validation loader, the weights' from one
    training loader: a ``val_dataloader()`` or ``train_dataloader()`` that returns several
    is a ``ConfigError`` when a fit sets up, before any training.
    The datamodule's batch hooks run on them as on the training part (``trainer.training``
    True, ``dataloader_idx`` 0): training-only augmentation belongs in the training
    dataset or ``train_dataloader()``, not in a hook (see the module docstring).

    Args:
        datamodule: the user's datamodule (its hooks run as in a plain fit; the loggers
            get ``DifferentiableNAS``'s hyperparameters only: the datamodule's could clash
            with its keys, such as ``seed`` or ``lr``).

    Attributes:
        resume_rng: torch's random state set before each new training iterator until the
            first training batch of a resumed search (set by ``DifferentiableNAS``).
    """

    def __init__(self, datamodule: pl.LightningDataModule) -> None:
        super().__init__()
        self.datamodule = datamodule
        self.resume_rng: dict[str, Any] | None = None
        self.prepare_data_per_node = datamodule.prepare_data_per_node
        self.allow_zero_length_dataloader_with_multiple_devices = (
            datamodule.allow_zero_length_dataloader_with_multiple_devices)

    @property
    def hparams(self) -> MutableMapping[str, Any]:
        """The wrapped datamodule's hyperparameters (a checkpoint holds them)."""
        return self.datamodule.hparams

    @property
    def _hparams_name(self) -> str | None:
        """The wrapped datamodule's, which Lightning writes beside its hyperparameters
        (``AttributeError`` where it saved none, as Lightning expects)."""
        return self.datamodule._hparams_name

    def prepare_data(self) -> None:
        self.datamodule.trainer = self.trainer
        self.datamodule.prepare_data()

    def setup(self, stage: str) -> None:
        self.datamodule.trainer = self.trainer
        self.datamodule.setup(stage)
        if stage == "fit":  # several validation or training loaders: said before any training
            self._arch_loader()
            self._train_loader()

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

    def _train_loader(self) -> Any:
        """The datamodule's one training loader, whose batches train the weights.

        Raises:
            ConfigError: ``train_dataloader()`` returns several loaders (a list, tuple or
                dict), naming the datamodule and their number (was: the first batch's
                check said "its first batch is a str", of a dict's key).
        """
        value = self.datamodule.train_dataloader()
        if isinstance(value, (Mapping, list, tuple)):
            raise ConfigError(
                f"data {type(self.datamodule).__name__}: train_dataloader() returns "
                f"{len(value)} training loaders, but a differentiable search (DARTS, GDAS; "
                f"BilevelData) trains the weights on the batches of one; return a single "
                f"loader (e.g. over a torch.utils.data.ConcatDataset of the training sets)")
        return value

    def train_dataloader(self) -> CombinedLoader:
        return _TrainLoader({"train": self._train_loader(), "arch": self._arch_loader()}, self)

    def val_dataloader(self) -> Any:
        return self.datamodule.val_dataloader()

    def test_dataloader(self) -> Any:
        return self.datamodule.test_dataloader()

    def predict_dataloader(self) -> Any:
        return self.datamodule.predict_dataloader()

    def teardown(self, stage: str) -> None:
        self.datamodule.teardown(stage)

    def on_exception(self, exception: BaseException) -> None:
        self.datamodule.on_exception(exception)

    def _batch_hook(self, name: str, batch: Any, *args: Any) -> Any:
        """The batch hook ``name`` as Lightning picks it in a plain fit: the wrapped
        datamodule's where it has its own (on each part of a training batch
        ``{"train", "arch"}``: each in the datamodule's batch format), else the
        LightningModule's (on the batch as it is)."""
        if getattr(type(self.datamodule), name) is getattr(pl.LightningDataModule, name):
            return getattr(self.trainer.lightning_module, name)(batch, *args)
        hook = getattr(self.datamodule, name)
        if self.trainer.training and isinstance(batch, Mapping) and set(batch) == {"train",
                                                                                   "arch"}:
            return {key: hook(part, *args) for key, part in batch.items()}
        return hook(batch, *args)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return self._batch_hook("on_before_batch_transfer", batch, dataloader_idx)

    def transfer_batch_to_device(self, batch: Any, device: torch.device,
                                 dataloader_idx: int) -> Any:
        return self._batch_hook("transfer_batch_to_device", batch, device, dataloader_idx)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return self._batch_hook("on_after_batch_transfer", batch, dataloader_idx)

    def state_dict(self) -> dict[str, Any]:
        return self.datamodule.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.datamodule.load_state_dict(state_dict)
