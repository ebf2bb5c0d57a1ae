"""How many batches one device validates to cover the samples a plain DDP fit's ranks
validate under a ``limit_val_batches``: the one-device start of a DDP fine-tune
(``start_score.validate_start``) scores what the fine-tune's epochs score.

Lightning gives each validation loader of a DDP fit a ``DistributedSampler`` with shuffle
off: it pads the sampler's index list at its end to a multiple of the ranks (repeating its
first indices) and deals it out in turn, rank ``r`` taking indices ``r, r + W, r + 2W, ...``
Each rank validating its share's first ``k`` batches of ``B`` samples, the ranks together
take the list's first ``k * W * B`` samples, each once, as long as no rank reaches its
share's end: on one device, the loader's first ``k * W`` batches. Where they do reach it,
each covers its whole share: the whole set (one repeated sample per rank the split does not
divide), where one device covers each sample once.

An integer limit ``k`` is each rank's ``k`` (``one_device_limit``); a fraction ``f`` gives
each rank ``int(f * len(its loader))`` batches, which only the loader says
(``rank_batches``): ``ShareLimit`` reads it as the one-device validation sets up.

Example:
    >>> from torch.utils.data import DataLoader
    >>> loader = DataLoader(range(64), batch_size=8)  # 8 batches, 4 on each of 2 ranks
    >>> rank_batches(loader, 0.4, replicas=2), int(0.4 * len(loader))
    (1, 3)
    >>> one_device_limit(0.4, loader, replicas=2)  # the ranks' 2 batches of 8: samples 0-15
    2
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset

__all__ = ["ShareLimit", "one_device_limit", "rank_batches"]


def rank_batches(loader: Any, fraction: float, replicas: int) -> int | None:
    """The batches of ``loader`` each of ``replicas`` DDP ranks validates under
    ``limit_val_batches=fraction`` (Lightning's ``int(fraction * len)`` of its share's
    loader); None where Lightning would not deal it out with a ``DistributedSampler`` of its
    own (no ``DataLoader``, an iterable dataset, the user's sampler already distributed) or
    batches it otherwise (a batch sampler of the user's), or where no batch is left.

    Example:
        >>> from torch.utils.data import DataLoader
        >>> rank_batches(DataLoader(range(65), batch_size=8), 0.5, replicas=2)  # 33 a rank
        2
    """
    if (not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset)
            or isinstance(loader.sampler, DistributedSampler) or loader.batch_size is None):
        return None
    share = math.ceil(len(loader.sampler) / replicas)  # the sampler pads, drop_last off
    batches = share // loader.batch_size if loader.drop_last else math.ceil(
        share / loader.batch_size)
    return int(batches * fraction) or None


def one_device_limit(limit: float, loaders: Any, replicas: int) -> int | None:
    """The integer ``limit_val_batches`` under which one device validates, of every loader
    in ``loaders`` (a ``DataLoader``, or a list or dict of them), the samples ``replicas``
    DDP ranks validate under ``limit`` (a fraction); None where no one count does (a loader
    ``rank_batches`` cannot count, or loaders whose counts differ).

    Example:
        >>> from torch.utils.data import DataLoader
        >>> one_device_limit(0.5, [DataLoader(range(64), batch_size=8)] * 2, replicas=2)
        4
    """
    flat = (list(loaders.values()) if isinstance(loaders, Mapping) else list(loaders)
            if isinstance(loaders, Sequence) else [loaders])
    counts = {rank_batches(loader, limit, replicas) for loader in flat}
    return None if len(counts) != 1 or None in counts else counts.pop() * replicas


class ShareLimit(pl.Callback):
    """Sets a one-device validation's fractional ``limit_val_batches`` to the integer
    ``one_device_limit`` of its loaders, as it sets up (its datamodule set up, before its
    loop counts batches); where none fits, it leaves the fraction.

    It asks the validation's source (the datamodule, else the model) for its loaders once
    more, as Lightning's tuner callbacks set ``trainer.limit_val_batches`` too.

    Args:
        limit: the DDP fit's ``limit_val_batches``, a fraction.
        replicas: its ranks (``trainer.distributed_sampler_kwargs["num_replicas"]``).
    """

    def __init__(self, limit: float, replicas: int) -> None:
        self.limit, self.replicas = limit, replicas

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Set ``trainer.limit_val_batches`` to the loaders' one-device count."""
        module = trainer.datamodule
        source = (module if module is not None and type(module).val_dataloader
                  is not pl.LightningDataModule.val_dataloader else pl_module)
        try:
            count = one_device_limit(self.limit, source.val_dataloader(), self.replicas)
        except Exception:  # noqa: BLE001 - the validation itself says what is wrong
            return
        if count is not None:
            trainer.limit_val_batches = count
