"""Whether the ranks of a DDP trial hold the same value of each metric a validation logged.

A metric logged without ``sync_dist=True`` (or a torchmetrics object) holds each rank's
own share of the validation set (under ``use_distributed_sampler=False``, whatever differs
between the ranks' validations of their own loaders): rank 0's history entry would store its
half as the trial's value. ``RankSync.check`` compares them all with one ``all_gather``
(after rank 0's keys are broadcast, so that every rank gathers the same columns): a monitor
or objective that differs raises ``MonitorError``; any other metric that differs is left
out of the entry, and named once per trial (a warning on rank 0, in the trial's log, with
the ranks' values; and in ``notes``, without them, for the search to say once on its
console). A metric that rank 0 alone logged (``self.log(..., rank_zero_only=True)`` under ``if
trainer.is_global_zero``, Lightning's way to log a value reduced by hand) is kept.

Example:
    >>> RankSync().named
    set()
"""

from __future__ import annotations

import math

import lightning.pytorch as pl
import torch

from lightning_nas.errors import MonitorError
from lightning_nas.user_warnings import warn_rank_zero

__all__ = ["RankSync", "unsynced_note"]

#: what makes a metric's value the whole validation set's on every rank
_FIX = "log it with sync_dist=True (or log a torchmetrics metric)"


def _why(dealt: bool) -> str:
    """Why a metric's value differs across the ranks: Lightning dealt each rank a share of
    the validation set (``dealt``), or, under ``use_distributed_sampler=False``, dealt none
    (was: "each rank holds its own share" there too)."""
    if dealt:
        return "each rank holds its own share of the validation set"
    return ("under use_distributed_sampler=False no rank holds a share of the validation set, "
            "each validates what its own loaders give (a value of its rank, a sampler of the "
            "loader's own or randomness differs)")


class RankSync:
    """The cross-rank check of one trial's validations; ``named``: the metrics it has left
    out of an entry and warned about (once each).

    Args:
        notes: where to add, once per metric, what the search says of it on its console
            (``TrialResult.notes``: the search says each text once); None: nowhere.
        dealt: whether Lightning deals the validation set out to the ranks (the Trainer's
            ``use_distributed_sampler``, true unless set false), as the warnings say.
    """

    def __init__(self, notes: list[str] | None = None, dealt: bool = True) -> None:
        self.named: set[str] = set()
        self.notes, self.dealt = notes, dealt

    def check(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
              scored: dict[str, float], others: dict[str, float]) -> set[str]:
        """Compare this validation's metrics across the ranks (call it on every rank).

        Args:
            trainer: the trial's Trainer (``world_size > 1``).
            pl_module: the module (its device holds the gathered tensor).
            scored: the monitor, then the objectives: this rank's values (NaN: not logged by
                this validation).
            others: every other scalar metric this validation logged on this rank.

        Returns:
            The keys of rank 0's ``others`` whose values differ across the ranks (the same
            set on every rank): not the whole validation set's value, to leave out.

        Raises:
            MonitorError: when the monitor or an objective differs across the ranks.
        """
        keys = trainer.strategy.broadcast(sorted(others) if trainer.is_global_zero else None,
                                          src=0)
        values = [*scored.values(), *(others.get(k, math.nan) for k in keys)]
        present = [1.0] * len(scored) + [float(k in others) for k in keys]
        local = torch.tensor([values, present], dtype=torch.float64, device=pl_module.device)
        gathered = trainer.strategy.all_gather(local).reshape(-1, 2, len(values))
        columns = [[float(v) for v in gathered[:, 0, i]] for i in range(len(values))]
        for index, name in enumerate(scored):
            if _differ(columns[index]):
                _refuse("objective" if index else "monitor", name, columns[index],
                        trainer.world_size)
        unsynced: set[str] = set()
        for index, name in enumerate(keys, start=len(scored)):
            by_rank_0_alone = not bool(gathered[1:, 1, index].any())  # rank_zero_only
            if not by_rank_0_alone and _differ(columns[index]):
                unsynced.add(name)
                if name not in self.named:
                    self.named.add(name)
                    warn_rank_zero(f"metric {name!r} differs across the {trainer.world_size} "
                                   f"ranks ({_spread(columns[index])}): {_why(self.dealt)}, "
                                   f"so the search leaves it out of the trial's stored "
                                   f"metrics; {_FIX} to store it")
                    if self.notes is not None:  # the same words for every trial: said once
                        self.notes.append(unsynced_note(name, trainer.world_size,
                                                        self.dealt))
        return unsynced


def unsynced_note(name: str, world_size: int, dealt: bool = True) -> str:
    """What a search says on its console, once, of metric ``name`` that differs across the
    ranks (the trial's log gives the ranks' values); ``dealt``: as ``RankSync``'s.

    Example:
        >>> unsynced_note("val_loss_shard", 2)[:60]
        "metric 'val_loss_shard' differs across the 2 ranks: each ran"
    """
    return (f"metric {name!r} differs across the {world_size} ranks: {_why(dealt)}, so the "
            f"search leaves it out of the stored metrics of each trial where it differs (show, "
            f"best.yaml, the report; each trial's trial.log gives the ranks' values); {_FIX} "
            f"to store it")


def _differ(column: list[float]) -> bool:
    """Whether the ranks' values differ (NaN: not logged; NaN on every rank is the same)."""
    if all(math.isnan(v) for v in column):
        return False
    return any(math.isnan(v) for v in column) or not math.isclose(
        min(column), max(column), rel_tol=1e-6, abs_tol=1e-9)


def _spread(column: list[float]) -> str:
    """The ranks' values as ``low to high``, and the ranks that did not log it."""
    logged = [v for v in column if not math.isnan(v)]
    missing = [str(rank) for rank, v in enumerate(column) if math.isnan(v)]
    spread = f"{min(logged):.6g} to {max(logged):.6g}" if logged else "nan"
    return f"{spread}; not logged on rank {', '.join(missing)}" if missing else spread


def _refuse(kind: str, name: str, column: list[float], world_size: int) -> None:
    if not math.isnan(column[0]) and all(math.isnan(v) for v in column[1:]):
        others = ", ".join(str(rank) for rank in range(1, len(column)))
        raise MonitorError(  # (was: "differs across the 2 ranks (1 to 1; not logged on ...")
            f"{kind} {name!r} is logged on rank 0 alone ({column[0]:.6g}; not on rank "
            f"{others}: self.log(..., rank_zero_only=True), or a log under `if "
            f"self.trainer.is_global_zero`), which Lightning's ModelCheckpoint and "
            f"EarlyStopping cannot use: log it on every rank, with sync_dist=True (or log a "
            f"torchmetrics metric), so that the score, the best epoch, its checkpoint and the "
            f"objectives are the same on every rank")
    raise MonitorError(
        f"{kind} {name!r} differs across the {world_size} ranks ({_spread(column)}): "
        f"{_FIX}, so that the score, the best epoch, its checkpoint and the objectives are "
        f"the same on every rank")
