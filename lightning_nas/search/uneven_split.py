"""Says, once per search, that a DDP trial validates a split its ranks do not divide.

Under a multi-process strategy Lightning gives each validation loader a
``DistributedSampler``, which hands every rank as many samples: with a split the ranks do
not divide it repeats up to ``world_size - 1`` of them (or, built with ``drop_last=True``,
leaves them out), so the synced score counts those twice, where a validation on one device
(a fresh Trainer on ``best.ckpt``) counts each once.
The repeats (or the samples left out) come at the end of the ranks' shares: a validation
whose ``limit_val_batches`` stops each rank before its share's end counts each sample it
takes once, and is not said.
``UnevenSplitCheck`` looks at the loaders as the first validation of a trial starts (public
APIs only: ``trainer.val_dataloaders``, ``trainer.num_val_batches``, ``DataLoader.sampler``
or, for a ``batch_sampler=`` loader, ``DataLoader.batch_sampler.sampler`` (where Lightning
puts its sampler), ``len(sampler.dataset)``) and warns on rank 0, into the trial's log, the
first time a search meets such a split. A one-shot run (``lightning-nas oneshot``) puts
one check (``search=None``, ``scored="oneshot"``) on its supernet's Trainer and its
fine-tune's: its subnets' scores and the fine-tune's metrics are synced over the same
sharded loaders, and it says so once per run; its exporters write what the checks of their
Trainer met (``met_notes``) into ``best_arch.yaml``.

Example:
    >>> from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
    >>> import torch
    >>> data = TensorDataset(torch.zeros(101, 1))
    >>> sampler = DistributedSampler(data, num_replicas=2, rank=0, shuffle=False)
    >>> uneven_splits(DataLoader(data, sampler=sampler))[0][:63]
    'the validation set holds 101 samples, which the 2 ranks do not '
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler

from lightning_nas.user_warnings import warn_rank_zero

__all__ = ["SCORED", "UnevenSplitCheck", "met_notes", "uneven_splits"]

#: the searches (keys) and splits this process has warned of
_SAID: set[tuple[str, str]] = set()
#: what each kind of run scores on the validation loaders, and what it differs from
SCORED = {
    "search": "a trial's synced score differs slightly from a validation of its checkpoint on "
              "one device (a fresh Trainer on best.ckpt)",
    "oneshot": "the subnets' synced scores (best_arch.yaml, history.json) and the fine-tune's "
               "metrics (finetune.json) differ slightly from a validation on one device",
    "sweep": "a job's score (what its task returns, synced over the ranks) differs slightly "
             "from a validation on one device",
}


def uneven_splits(loaders: Any, scored: str = "search",
                  batches: Sequence[float] | None = None) -> list[str]:
    """What to say of each validation loader in ``loaders`` (a ``DataLoader``, or a list or
    dict of them, as ``trainer.val_dataloaders`` holds) whose ``DistributedSampler``'s
    dataset its ranks do not divide, where the batches validated reach the samples it
    repeats (or leaves out): how many samples, ranks, samples repeated (or left out), and
    how to get exact scores.

    The sampler pads its index list at the end (repeating its first indices) and deals it
    out in turn, so each repeat is the last sample of a rank's share; built with
    ``drop_last=True`` it cuts the list's end instead. A validation whose
    ``limit_val_batches`` stops each rank before its share's last sample scores every
    sample it takes once: nothing to say of it.

    Args:
        loaders: the validation loaders, after Lightning set their samplers.
        scored: what the run scores on them (a key of ``SCORED``): a search's trials, a
            one-shot run's subnets and fine-tune, or a Hydra sweep's jobs.
        batches: how many batches of each loader each rank validates
            (``trainer.num_val_batches``); None: all of them.

    Returns:
        One text per such loader (none: every split divides, or no ``DistributedSampler``,
        or no rank validates to its share's end).

    Example:
        >>> from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
        >>> import torch
        >>> data = TensorDataset(torch.zeros(101, 1))
        >>> sampler = DistributedSampler(data, num_replicas=2, rank=0, shuffle=False)
        >>> uneven_splits(DataLoader(data, batch_size=10, sampler=sampler), batches=[5])
        []
    """
    items, differs = _named(loaders), SCORED[scored]
    said = []
    for i, (name, loader) in enumerate(items):
        sampler = _distributed(loader)
        if sampler is None:
            continue
        try:
            samples = len(sampler.dataset)  # type: ignore[arg-type]
        except TypeError:  # an iterable dataset: no length to divide
            continue
        ranks = sampler.num_replicas
        if samples % ranks == 0 or not _reaches_end(loader, sampler, batches, i):
            continue
        scored = sampler.total_size  # num_samples per rank, times the ranks
        what = (f"leaves out {samples - scored} of them ({scored} scored)" if sampler.drop_last
                else f"repeats {scored - samples} of them ({scored} scored, the repeats "
                     f"counted again)")
        where = f"validation loader {name!r}" if len(items) > 1 else "the validation set"
        said.append(
            f"{where} holds {samples} samples, which the {ranks} ranks do not divide: "
            f"Lightning's DistributedSampler {what}, so {differs}; for exact "
            f"scores, use a validation set divisible by {ranks}, "
            f"or trainer.use_distributed_sampler=False with a sampler of your own, or "
            f"validate on one device")
    return said


def _distributed(loader: Any) -> DistributedSampler | None:
    """The ``DistributedSampler`` that deals ``loader``'s samples out: its sampler's, or
    its batch sampler's (a ``batch_sampler=`` loader: Lightning rebuilds the batch sampler
    around its own); None: neither is one."""
    for sampler in (getattr(loader, "sampler", None),
                    getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        if isinstance(sampler, DistributedSampler):
            return sampler
    return None


def _batch_size(loader: Any) -> int | None:
    """How many samples each of ``loader``'s batches holds but its last: its
    ``batch_size`` (None: single samples, 1), or a ``BatchSampler``'s of its own that
    batches as PyTorch's does; None where a batch sampler sizes them otherwise."""
    batches = getattr(loader, "batch_sampler", None)
    size = getattr(loader, "batch_size", None)
    if size is not None or batches is None:
        return size or 1
    if isinstance(batches, BatchSampler) and type(batches).__iter__ is BatchSampler.__iter__:
        return batches.batch_size
    return None


def _reaches_end(loader: Any, sampler: DistributedSampler,
                 batches: Sequence[float] | None, index: int) -> bool:
    """Whether each rank validates its whole share of ``loader`` (``index``: its place in
    ``batches``), the last sample of which is a repeat (or, with ``drop_last``, the one
    before the samples left out): its batches, times its batch size, reach the share's
    length. One whose batches a batch sampler of its own sizes: reached."""
    if batches is None or index >= len(batches):
        return True
    size = _batch_size(loader)
    return size is None or batches[index] * size >= sampler.num_samples


def _named(loaders: Any) -> list[tuple[str, Any]]:
    """``loaders`` as (name, loader) pairs: a list's index or a dict's key."""
    if loaders is None:
        return []
    if isinstance(loaders, DataLoader):
        return [("0", loaders)]
    if isinstance(loaders, Mapping):
        return [(str(k), v) for k, v in loaders.items()]
    if isinstance(loaders, Sequence) and not isinstance(loaders, (str, bytes)):
        return [(str(i), v) for i, v in enumerate(loaders)]
    return [("0", loaders)]


class UnevenSplitCheck(pl.Callback):
    """Warns (rank 0, once per process and ``search`` key for each split) at a fit's first
    validation under a multi-process strategy when a validation loader's
    ``DistributedSampler`` repeats samples within the batches each rank validates
    (``uneven_splits``).

    Args:
        search: what tells the search apart (its trials' folder): a ``lightning-nas``
            process or a group of DDP ranks may run trials of several searches. None: this
            check's own runs alone (a one-shot run's Trainers share one), once per split.
        scored: what the run scores (a key of ``SCORED``).

    Example:
        >>> UnevenSplitCheck("run/trials").search
        'run/trials'
    """

    def __init__(self, search: str | None, scored: str = "search") -> None:
        self.search, self.scored = search, scored
        self._looked = False  # the fit's first validation has been looked at
        #: what it warned of (``TrialResult.notes``: the search says it on its console too)
        self.said: list[str] = []
        #: every uneven split this check met (said or, said before, not)
        self.met: list[str] = []

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._looked = False  # a Trainer of its own (a one-shot run's fine-tune)

    def on_validation_epoch_start(self, trainer: pl.Trainer,
                                  pl_module: pl.LightningModule) -> None:
        if self._looked or trainer.world_size < 2:
            return
        self._looked = True
        for text in uneven_splits(trainer.val_dataloaders, self.scored,
                                  trainer.num_val_batches):
            if text not in self.met:
                self.met.append(text)
            said = text in self.said if self.search is None else (self.search, text) in _SAID
            if not said:
                if self.search is not None:
                    _SAID.add((self.search, text))
                self.said.append(text)
                warn_rank_zero(text)


def met_notes(trainer: pl.Trainer) -> list[str]:
    """The uneven splits every ``UnevenSplitCheck`` among ``trainer.callbacks`` met, once
    each, in order: the ``notes`` a one-shot exporter writes with ``best_arch.yaml``, in the
    same write (was: added by a second write, which a kill could keep from happening).

    Example:
        >>> check = UnevenSplitCheck(None, scored="oneshot")
        >>> check.met.append("101 samples on 2 ranks")
        >>> met_notes(pl.Trainer(callbacks=[check], logger=False))
        ['101 samples on 2 ranks']
    """
    return list(dict.fromkeys(text for callback in trainer.callbacks
                              if isinstance(callback, UnevenSplitCheck)
                              for text in callback.met))
