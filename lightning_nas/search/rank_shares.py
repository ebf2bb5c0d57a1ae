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

A loader built on a plain ``BatchSampler`` (the class itself, ``batch_sampler=``) is
batched otherwise on the ranks: Lightning drops it for its ``DistributedSampler`` and
validates batches of 1, so the ranks' ``k`` batches are ``k * W`` samples together, which
one device covers with its own batches of ``B`` only where whole batches hold them
(``k * W`` a multiple of ``B``, or the whole set without a dropped last batch); where they
do not, ``NoShareMatch`` says so and the start is skipped (was: ``k * W`` batches of
``B``, ``B`` times the ranks' samples).

Example:
    >>> from torch.utils.data import BatchSampler, DataLoader, SequentialSampler
    >>> loader = DataLoader(range(64), batch_size=8)  # 8 batches, 4 on each of 2 ranks
    >>> rank_batches(loader, 0.4, replicas=2), int(0.4 * len(loader))
    (1, 3)
    >>> one_device_limit(0.4, loader, replicas=2)  # the ranks' 2 batches of 8: samples 0-15
    2
    >>> dropped = DataLoader(range(60), batch_size=8, drop_last=True)  # 3 full on each rank
    >>> one_device_limit(4, dropped, replicas=2), len(dropped)  # samples 0-47, not 0-55
    (6, 7)
    >>> plain = DataLoader(range(64), batch_sampler=BatchSampler(SequentialSampler(range(64)),
    ...                                                          8, drop_last=False))
    >>> one_device_limit(8, plain, replicas=2)  # 8 samples a rank: 0-15, 2 batches of 8
    2
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    SequentialSampler,
)

__all__ = ["NoShareMatch", "ShareLimit", "one_device_limit", "rank_batches"]


class NoShareMatch(Exception):
    """No count of one device's batches covers the samples the DDP ranks validate: the
    start's validation is skipped (``start_score.validate_start`` gives ``{}``)."""


def _plain_batches(loader: Any) -> BatchSampler | None:
    """The batch sampler of a loader built on a plain ``BatchSampler`` (the class itself),
    which Lightning drops under DDP (its ranks validate batches of 1); None for any
    other."""
    batches = getattr(loader, "batch_sampler", None)
    return batches if type(batches) is BatchSampler and loader.batch_size is None else None


def rank_batches(loader: Any, limit: float, replicas: int) -> int | None:
    """The batches of ``loader`` each of ``replicas`` DDP ranks validates under
    ``limit_val_batches=limit``: an integer, at most its share's batches; a fraction,
    Lightning's ``int(fraction * len)`` of its share's loader. None where Lightning would
    not deal it out with a ``DistributedSampler`` of its own (no ``DataLoader``, an
    iterable dataset, the user's sampler already distributed) or batches it otherwise (a
    batch sampler of the user's class), or where no batch is left. A plain
    ``BatchSampler``'s loader: the samples, each rank's batches of 1.

    Example:
        >>> from torch.utils.data import DataLoader
        >>> loader = DataLoader(range(65), batch_size=8)  # 33 a rank: 5 batches
        >>> rank_batches(loader, 0.5, replicas=2), rank_batches(loader, 9, replicas=2)
        (2, 5)
    """
    if (not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset)
            or isinstance(loader.sampler, DistributedSampler)
            or (loader.batch_size is None and _plain_batches(loader) is None)):
        return None
    share = math.ceil(len(loader.sampler) / replicas)  # the sampler pads, drop_last off
    size, drop = (1, False) if loader.batch_size is None else (loader.batch_size,
                                                                loader.drop_last)
    batches = share // size if drop else math.ceil(share / size)
    return int(min(limit, batches) if type(limit) is int else batches * limit) or None


def one_device_limit(limit: float, loaders: Any, replicas: int) -> int | None:
    """The integer ``limit_val_batches`` under which one device validates, of every loader
    in ``loaders`` (a ``DataLoader``, or a list or dict of them), the samples ``replicas``
    DDP ranks validate under ``limit`` (an integer or a fraction): each loader's
    ``rank_batches`` times the ranks, or any count past a loader's end where that reaches
    it. None where no one count does (a loader ``rank_batches`` cannot count, or loaders
    whose counts differ below their ends).

    Raises:
        NoShareMatch: for a plain ``BatchSampler``'s loader (``_plain_batches``) whose
            batches cannot cover its ranks' samples (``_plain_need``), or beside loaders
            no one count fits: the other counts would validate ``B`` times its samples.

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
    needs = [(count * replicas if _plain_batches(loader) is None  # (batches of 1 there)
              else _plain_need(loader, count * replicas), len(loader))
             for count, loader in zip(counts, flat, strict=True)]
    exact = {need for need, whole in needs if need < whole}  # stops inside that loader
    count = None if len(exact) > 1 else exact.pop() if exact else max(n for n, _ in needs)
    if count is None or not all(need == count or count >= whole for need, whole in needs):
        if any(_plain_batches(loader) is not None for loader in flat):  # (was: the rest's
            # count of its batches of B, B times its ranks' samples)
            raise NoShareMatch("no one count covers the ranks' samples of each loader")
        return None
    return count


def _plain_need(loader: DataLoader, samples: int) -> int:
    """The batches of a plain ``BatchSampler``'s ``loader`` on one device that hold the
    first ``samples`` its DDP ranks validate in batches of 1 (all its batches where those
    are the whole set).

    Raises:
        NoShareMatch: where its batches do not hold them: a count its batch size does not
            divide, a last batch it drops, or samples it draws in another order or number
            (its sampler no ``SequentialSampler`` over the whole set).
    """
    batches = loader.batch_sampler
    whole = len(loader.sampler)
    size = batches.batch_size
    if type(batches.sampler) is not SequentialSampler or len(batches.sampler) != whole:
        raise NoShareMatch("its batch sampler draws other samples than the ranks' sampler")
    if samples >= whole and not (batches.drop_last and whole % size):
        return len(loader)
    if samples >= whole or samples % size:
        raise NoShareMatch(f"the ranks' {min(samples, whole)} samples are no whole batches "
                           f"of {size}")
    return samples // size


class ShareLimit(pl.Callback):
    """Sets a one-device validation's ``limit_val_batches`` to the integer
    ``one_device_limit`` of its loaders, as it sets up (its datamodule set up, before its
    loop counts batches); where none fits, it leaves what it was (a fraction: that fraction
    of each whole loader; an integer: the DDP fit's times its ranks), or stops the
    validation (``NoShareMatch``) where that would not be the ranks' samples of a plain
    ``BatchSampler``'s loader.

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
        """Set ``trainer.limit_val_batches`` to the loaders' one-device count; raise
        ``NoShareMatch`` (the validation stops, before any batch) where none covers the
        ranks' samples of a plain ``BatchSampler``'s loader."""
        module = trainer.datamodule
        source = (module if module is not None and type(module).val_dataloader
                  is not pl.LightningDataModule.val_dataloader else pl_module)
        try:
            count = one_device_limit(self.limit, source.val_dataloader(), self.replicas)
        except NoShareMatch:
            raise
        except Exception:  # noqa: BLE001 - the validation itself says what is wrong
            return
        if count is not None:
            trainer.limit_val_batches = count
