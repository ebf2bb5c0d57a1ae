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
divide), where one device covers each sample once; with the loader's ``drop_last=True``,
each rank's full batches of its share, ``k * W`` batches on one device too, which may be
fewer than the loader's own.

The limit is Lightning's own for the fit (``trainer.limit_val_batches``: ``overfit_batches``
or ``fast_dev_run`` set it too). Each rank validates ``min(k, its batches)`` under an
integer ``k`` and ``int(f * its batches)`` under a fraction ``f``, which only the loader
says (``rank_batches``): ``ShareLimit`` reads it as the one-device validation sets up.

Example:
    >>> from torch.utils.data import DataLoader
    >>> loader = DataLoader(range(64), batch_size=8)  # 8 batches, 4 on each of 2 ranks
    >>> rank_batches(loader, 0.4, replicas=2), int(0.4 * len(loader))
    (1, 3)
    >>> one_device_limit(0.4, loader, replicas=2)  # the ranks' 2 batches of 8: samples 0-15
    2
    >>> dropped = DataLoader(range(60), batch_size=8, drop_last=True)  # 3 full on each rank
    >>> one_device_limit(4, dropped, replicas=2), len(dropped)  # samples 0-47, not 0-55
    (6, 7)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset

__all__ = ["ShareLimit", "one_device_limit", "rank_batches"]


def rank_batches(loader: Any, limit: float, replicas: int) -> int | None:
    """The batches of ``loader`` each of ``replicas`` DDP ranks validates under
    ``limit_val_batches=limit``: an integer, at most its share's batches; a fraction,
    Lightning's ``int(fraction * len)`` of its share's loader. None where Lightning would
    not deal it out with a ``DistributedSampler`` of its own (no ``DataLoader``, an
    iterable dataset, the user's sampler already distributed) or batches it otherwise (a
    batch sampler of the user's), or where no batch is left.

    Example:
        >>> from torch.utils.data import DataLoader
        >>> loader = DataLoader(range(65), batch_size=8)  # 33 a rank: 5 batches
        >>> rank_batches(loader, 0.5, replicas=2), rank_batches(loader, 9, replicas=2)
        (2, 5)
    """
    if (not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset)
            or isinstance(loader.sampler, DistributedSampler) or loader.batch_size is None):
        return None
    share = math.ceil(len(loader.sampler) / replicas)  # the sampler pads, drop_last off
    batches = share // loader.batch_size if loader.drop_last else math.ceil(
        share / loader.batch_size)
    return int(min(limit, batches) if type(limit) is int else batches * limit) or None


def one_device_limit(limit: float, loaders: Any, replicas: int) -> int | None:
    """The integer ``limit_val_batches`` under which one device validates, of every loader
    in ``loaders`` (a ``DataLoader``, or a list or dict of them), the samples ``replicas``
    DDP ranks validate under ``limit`` (an integer or a fraction): each loader's
    ``rank_batches`` times the ranks, or any count past a loader's end where that reaches
    it. None where no one count does (a loader ``rank_batches`` cannot count, or loaders
    whose counts differ below their ends).

    Example:
        >>> from torch.utils.data import DataLoader
        >>> one_device_limit(0.5, [DataLoader(range(64), batch_size=8)] * 2, replicas=2)
        4
        >>> one_device_limit(9, [DataLoader(range(64), batch_size=8)], replicas=2)  # all 8
        8
    """
    flat = (list(loaders.values()) if isinstance(loaders, Mapping) else list(loaders)
            if isinstance(loaders, Sequence) else [loaders])
    counts = [rank_batches(loader, limit, replicas) for loader in flat]
    if not flat or None in counts:
        return None
    needs = [(count * replicas, len(loader)) for count, loader in zip(counts, flat, strict=True)]
    exact = {need for need, whole in needs if need < whole}  # stops inside that loader
    if len(exact) > 1:
        return None
    count = exact.pop() if exact else max(need for need, _ in needs)
    return count if all(need == count or count >= whole for need, whole in needs) else None


class ShareLimit(pl.Callback):
    """Sets a one-device validation's ``limit_val_batches`` to the integer
    ``one_device_limit`` of its loaders, as it sets up (its datamodule set up, before its
    loop counts batches); where none fits, it leaves what it was (a fraction: that fraction
    of each whole loader; an integer: the DDP fit's times its ranks).

    It asks the validation's source (the datamodule, else the model) for its loaders once
    more, as Lightning's tuner callbacks set ``trainer.limit_val_batches`` too.

    Args:
        limit: the DDP fit's ``limit_val_batches`` as Lightning set it, an integer or a
            fraction.
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
