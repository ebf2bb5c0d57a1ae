"""Models, data and callbacks for DDP trials: metrics synced over ranks, a rank that
faults, what each rank trained and how its process exits.

Example:
    >>> RankFaults(width=8).hparams.fault
    ''
"""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy

from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_paths import at_helpers

__all__ = [
    "FailsOnRank1AtTheEnd",
    "LeavesExitWork",
    "MetricNet",
    "NoTrainDataOnRank1",
    "NotesAtExit",
    "NotesGroupAtExit",
    "RankFaults",
    "RankRecorder",
    "SeedEnv",
    "ShareNet",
    "SigtermInTrainData",
    "SyncedTinyNet",
]


@at_helpers
class MetricNet(TinyNet):
    """``val_acc``: a torchmetrics accuracy (synced over the ranks, plain accuracy)."""

    def __init__(self, width: int = 16, lr: float = 0.05) -> None:
        super().__init__(width=width, lr=lr)
        self.val_metric = MulticlassAccuracy(num_classes=3, average="micro")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
                        ) -> None:
        x, y = batch
        logits = self(x)
        self.val_metric(logits, y)
        self.log("val_acc", self.val_metric, on_epoch=True)
        self.log("val_loss", F.cross_entropy(logits, y), sync_dist=True)


@at_helpers
class SyncedTinyNet(TinyNet):
    """Logs ``val_acc`` synced over ranks (NaN for ``nan_width``), ``val_acc_local`` (this
    rank's own value) and ``val_rank`` (the rank)."""

    def validation_step(self, batch, batch_idx):
        x, y = batch
        acc = (self(x).argmax(-1) == y).float().mean()
        if self.hparams.width == self.hparams.nan_width:
            acc = acc * float("nan")
        self.log("val_acc", acc, sync_dist=True)
        self.log("val_acc_local", acc)
        self.log("val_rank", float(self.global_rank))


@at_helpers
class ShareNet(SyncedTinyNet):
    """``SyncedTinyNet`` that also logs ``val_loss`` synced over the ranks, ``val_loss_shard``
    (this rank's share of the validation set) unsynced, and ``val_ranks`` (the ranks' sum,
    reduced by hand) on rank 0 alone with ``rank_zero_only=True``."""

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("val_loss", loss, sync_dist=True)
        self.log("val_loss_shard", loss)

    def on_validation_epoch_end(self):
        ranks = self.all_gather(torch.tensor(float(self.global_rank))).sum()
        if self.trainer.is_global_zero:
            self.log("val_ranks", ranks, rank_zero_only=True)


@at_helpers
class RankFaults(SyncedTinyNet):
    """Prints ``rank R pid P fits <trial dir>`` when it starts; ``fault="raise"`` makes rank 1
    alone raise in its first step (rank 0 then waits in a collective), ``fault="exit"``
    ends rank 1 hard (``os._exit(3)``), ``fault="sigterm"`` sends rank 1 alone a real
    SIGTERM in its first step; ``sleep`` seconds per training step; ``at_epoch``: the
    fault comes in the first step of that epoch (counted from 0), the epochs before it
    trained and validated."""

    def __init__(self, width: int = 16, fault: str = "", sleep: float = 0.0,
                 at_epoch: int = 0) -> None:
        super().__init__(width=width, sleep=sleep)
        self.save_hyperparameters()

    def on_fit_start(self) -> None:
        print(f"rank {self.global_rank} pid {os.getpid()} fits {self.trainer.default_root_dir}")

    def training_step(self, batch, batch_idx):
        if self.current_epoch < self.hparams.at_epoch:
            return super().training_step(batch, batch_idx)
        if self.global_rank == 1 and self.hparams.fault == "raise":
            raise RuntimeError("rank 1 breaks on purpose")
        if self.global_rank == 1 and self.hparams.fault == "exit":
            os._exit(3)
        if self.global_rank == 1 and self.hparams.fault == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        return super().training_step(batch, batch_idx)


class NotesGroupAtExit(SyncedTinyNet):
    """``SyncedTinyNet`` whose process, when it exits normally, notes in the trial folder
    whether torch's default process group was still there then
    (``group_at_exit.rank<R>``: ``True`` or ``False``), from an ``atexit`` hook registered
    as its fit starts: it runs after any hook registered later (``atexit`` runs the last
    registered first), such as one a rank registers after its trial."""

    def on_fit_start(self) -> None:
        import atexit

        import torch.distributed as dist

        path = os.path.join(self.trainer.default_root_dir, f"group_at_exit.rank{self.global_rank}")
        atexit.register(lambda: Path(path).write_text(str(dist.is_initialized())))


@at_helpers
class NotesAtExit(RankFaults):
    """``RankFaults`` (it prints ``rank R pid P fits <trial dir>``; ``fault``, ``sleep``) whose
    process, when it exits normally, notes in the trial folder what ``NotesGroupAtExit``
    notes (``group_at_exit.rank<R>``: whether torch's default process group was still there)
    and whether its heap was frozen for the exit (``frozen_at_exit.rank<R>``: ``True`` when
    ``gc.freeze`` moved objects out of the collector's reach, ``lightning_nas.search.exit_gc``),
    from ``atexit`` hooks registered as its fit starts (they run after any registered later).

    Example:
        >>> NotesAtExit(width=8).hparams.fault
        ''
    """

    def on_fit_start(self) -> None:
        import atexit
        import gc

        import torch.distributed as dist

        super().on_fit_start()
        root, rank = self.trainer.default_root_dir, self.global_rank

        def note() -> None:
            Path(root, f"group_at_exit.rank{rank}").write_text(str(dist.is_initialized()))
            Path(root, f"frozen_at_exit.rank{rank}").write_text(str(gc.get_freeze_count() > 0))

        atexit.register(note)


@at_helpers
class LeavesExitWork(NotesAtExit):
    """``NotesAtExit`` whose process also leaves its exit work besides Python's ``atexit``
    hooks, as its fit starts: a thread pool left open (its worker thread is no daemon: an
    exit joins it as Python's does, once the pool is told to end) and a C-level exit handler
    (libc's, as a native library registers one) that aborts the process (SIGABRT) if it runs:
    it runs only where the process ends through C's ``exit``, the interpreter torn down.

    Example:
        >>> LeavesExitWork(width=8).hparams.width
        8
    """

    def on_fit_start(self) -> None:
        import ctypes

        super().on_fit_start()
        _LEFT_OPEN.append(ThreadPoolExecutor(1))
        _LEFT_OPEN[-1].submit(int).result()  # its worker thread started, and waits
        libc = ctypes.CDLL(None)  # (``__cxa_atexit``: a name a class body would mangle)
        at_exit = getattr(libc, "__cxa_atexit")  # noqa: B009
        at_exit(ctypes.cast(libc.abort, ctypes.c_void_p), None, None)


#: the thread pools ``LeavesExitWork`` leaves open in its process
_LEFT_OPEN: list[ThreadPoolExecutor] = []


@at_helpers
class NoTrainDataOnRank1(BlobData):
    """``BlobData`` whose ``train_dataloader`` raises on rank 1 alone (after the sanity
    check: rank 0 goes on to its first training step and waits there in a collective)."""

    def train_dataloader(self) -> DataLoader:
        if self.trainer.global_rank == 1:
            raise FileNotFoundError("rank 1 has no data/train.csv")
        return super().train_dataloader()


@at_helpers
class SigtermInTrainData(BlobData):
    """``BlobData`` whose ``train_dataloader`` sends its rank a real SIGTERM, on every rank
    (a preemption that reaches each process of a job): without a sanity check
    (``num_sanity_val_steps=0``) it meets Lightning's own SIGTERM handler, registered as the
    stage starts, before any callback's ``on_train_start``; the ranks' handlers broadcast to
    each other, and each ends its fit with Lightning's ``SIGTERMException`` at its first step."""

    def train_dataloader(self) -> DataLoader:
        os.kill(os.getpid(), signal.SIGTERM)
        return super().train_dataloader()


@at_helpers
class FailsOnRank1AtTheEnd(pl.Callback):
    """Raises on rank 1 alone once training has ended (rank 0 has its result by then)."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank == 1:
            raise RuntimeError("rank 1 fails after training on purpose")


@at_helpers
class RankRecorder(pl.Callback):
    """Each rank writes what it trained and logged to ``<trial dir>/rank<global rank>.json``."""

    def __init__(self) -> None:
        self.epochs: list[dict] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.epochs.append({k: float(v) for k, v in trainer.callback_metrics.items()})
        record = {"rank": trainer.global_rank, "world_size": trainer.world_size,
                  "pid": os.getpid(), "hparams": dict(pl_module.hparams),
                  "threads": torch.get_num_threads(),
                  "epochs": self.epochs}
        path = os.path.join(trainer.default_root_dir, f"rank{trainer.global_rank}.json")
        with open(path, "w") as f:
            json.dump(record, f)


@at_helpers
class SeedEnv(pl.Callback):
    """Notes the seed variables (``PL_GLOBAL_SEED``, ``PL_SEED_WORKERS``) each fit of the
    process trains under, into the class (a run restores them after it)."""

    seen: list[tuple[str | None, str | None]] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        SeedEnv.seen.append((os.environ.get("PL_GLOBAL_SEED"),
                             os.environ.get("PL_SEED_WORKERS")))
