"""Tiny models and data for fast, real trials (importable as ``tests.helpers``)."""

from __future__ import annotations

import enum
import importlib.util
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Subset, TensorDataset

from examples.digits.data import DigitsDataModule

__all__ = [
    "Act",
    "BlobData",
    "CallableOptNet",
    "CrashAt",
    "DictArgNet",
    "EpochLog",
    "FitSpans",
    "KwargsCallableOptNet",
    "LazyNoisyNet",
    "ManualTinyNet",
    "NotesGroupAtExit",
    "RankRecorder",
    "SaveInitialWeights",
    "SeqNet",
    "ShareNet",
    "SigintAtFirstBatch",
    "StopAt",
    "SyncedTinyNet",
    "TinyNet",
    "TinySupernet",
    "TwoValBlobData",
    "TwoValSupernet",
    "TypedNet",
    "WaitAtStart",
    "annotated",
    "build_lazy_mlp",
    "build_mlp",
    "keep_root_logging",
    "lightning_cli_fit",
    "make_blobs",
    "needs_tensorboard",
    "smooth_ce",
    "tiny_model",
]


def make_blobs(n: int = 256, dim: int = 8, classes: int = 3, seed: int = 0):
    """Gaussian blobs, generated in code (no download)."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=g) * 2.0
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, dim, generator=g)
    return x, y


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


class TwoValBlobData(BlobData):
    """``BlobData`` with two validation loaders: the validation split and the first 32
    training samples."""

    def val_dataloader(self) -> list[DataLoader]:
        return [super().val_dataloader(),
                DataLoader(Subset(self.train_set, range(32)), batch_size=self.batch_size)]


class TinyNet(pl.LightningModule):
    """An MLP whose ``__init__`` takes the architecture knobs, like an existing project's.

    ``fail_width`` makes trials of that width raise (a deterministic broken architecture);
    ``die_width`` ends the process hard (``os._exit``); ``nan_width`` logs NaN.
    """

    def __init__(self, width: int = 16, activation: str = "relu", lr: float = 0.05,
                 depth: int = 1, fail_width: int | None = None, nan_width: int | None = None,
                 die_width: int | None = None, sleep: float = 0.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[activation]
        layers, d = [], 8
        for _ in range(depth):
            layers += [nn.Linear(d, width), act()]
            d = width
        self.net = nn.Sequential(*layers, nn.Linear(d, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        if self.hparams.width == self.hparams.fail_width:
            raise RuntimeError(f"width {self.hparams.width} is broken on purpose")
        if self.hparams.width == self.hparams.die_width:
            os._exit(3)
        if self.hparams.sleep:
            import time

            time.sleep(self.hparams.sleep)
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        acc = (logits.argmax(-1) == y).float().mean()
        if self.hparams.width == self.hparams.nan_width:
            acc = acc * float("nan")
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", acc)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class Act(enum.Enum):
    """An activation, given by name in a config (``act: tanh``)."""

    relu = "relu"
    tanh = "tanh"


class TypedNet(pl.LightningModule):
    """A model whose arguments are an ``Enum``, a ``Path`` and tuples, which refuses them
    as YAML writes them (a ``str``, a ``list``): LightningCLI converts them."""

    def __init__(self, act: Act = Act.relu, out_dir: Path | None = None,
                 sizes: tuple[int, ...] = (8,), pair: tuple[int, int] | None = None,
                 lr: float = 0.05) -> None:
        super().__init__()
        for name, value, kind in (("act", act, Act), ("out_dir", out_dir, (Path, type(None))),
                                  ("sizes", sizes, tuple), ("pair", pair, (tuple, type(None)))):
            if not isinstance(value, kind):
                raise TypeError(f"{name}={value!r} is a {type(value).__name__}")
        self.save_hyperparameters()
        self.lr, layers, d = lr, [], 8
        for width in sizes:
            layers += [nn.Linear(d, width), nn.Tanh() if act is Act.tanh else nn.ReLU()]
            d = width
        self.net = nn.Sequential(*layers, nn.Linear(d, 3))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def annotated(act: Act = Act.relu, path: Path | None = None, sizes: tuple[int, ...] = (),
              pair: tuple[int, int] | None = None, tags: set[str] | None = None,
              either: str | Path = "", named: dict[str, Act] | None = None,
              untyped=None) -> dict:
    """Its arguments as it got them (what a config's values are converted to)."""
    return dict(locals())


class DictArgNet(TinyNet):
    """A plain ``dict`` argument (the optimizer's settings), as many projects have one."""

    def __init__(self, width: int = 16, lr: float = 0.05,
                 opt_cfg: dict | None = None) -> None:
        super().__init__(width=width, lr=lr)
        self.opt_cfg = dict(opt_cfg or {})

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, **self.opt_cfg)


class ClassesNet(TinyNet):
    """A required argument a LightningCLI project fills by ``link_arguments`` (from the data)."""

    def __init__(self, num_classes: int, width: int = 16, lr: float = 0.05) -> None:
        super().__init__(width=width, lr=lr)
        self.num_classes = num_classes


class AccAfterWarmup(TinyNet):
    """Its validation logs ``val_acc`` from epoch ``first`` on (before: a warm-up, which
    logs ``val_warmup`` only)."""

    first = 1

    def validation_step(self, batch, batch_idx):
        if self.current_epoch >= self.first:
            return super().validation_step(batch, batch_idx)
        self.log("val_warmup", 1.0)
        return None


class AccFromEpoch2(AccAfterWarmup):
    """Its validation logs ``val_acc`` from epoch 2 on."""

    first = 2


class NamedWidthNet(TinyNet):
    """``width`` by name: an argument of ``TinyNet``'s name but not of its type."""

    def __init__(self, width: str = "small", lr: float = 0.05) -> None:
        super().__init__(width={"small": 4, "large": 16}[width], lr=lr)


class ManualTinyNet(TinyNet):
    """``TinyNet`` trained by manual optimization (``automatic_optimization = False``), as
    GAN-style modules with several optimizers are."""

    def __init__(self, width: int = 16, lr: float = 0.05) -> None:
        super().__init__(width=width, lr=lr)
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        x, y = batch
        optimizer = self.optimizers()
        loss = F.cross_entropy(self(x), y)
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()
        self.log("train_loss", loss, on_step=False, on_epoch=True)


class CallableOptNet(pl.LightningModule):
    """A model given its network and, as LightningCLI's ``OptimizerCallable``, its optimizer
    (``params -> Optimizer``)."""

    def __init__(self, net: nn.Module, optimizer: OptimizerCallable = torch.optim.Adam) -> None:
        super().__init__()
        self.net, self.optimizer = net, optimizer
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        return self.optimizer(self.parameters())


class KwargsCallableOptNet(CallableOptNet):
    """Takes ``net`` and ``optimizer`` only through ``**kwargs``, passed on to its base (as
    jsonargparse follows ``super().__init__(**kwargs)``)."""

    def __init__(self, extra: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.extra = extra


class LazyNoisyNet(pl.LightningModule):
    """An MLP with a ``LazyLinear`` first layer (made at its first forward), a forward that
    draws noise, and an ``example_input_array``: Lightning's model summary runs it through
    ``forward`` before training unless ``enable_model_summary`` is off."""

    def __init__(self, width: int = 16, lr: float = 0.05, depth: int = 1) -> None:
        super().__init__()
        self.save_hyperparameters()
        layers = [nn.LazyLinear(width), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(width, 3))
        self.example_input_array = torch.zeros(2, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x + 0.1 * torch.randn_like(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class SeqNet(pl.LightningModule):
    """A Transformer encoder over the 8 features as a sequence of 8 steps (``layers`` of
    width ``d_model``), with an ``example_input_array``: costs counted before training."""

    def __init__(self, d_model: int = 16, layers: int = 1, lr: float = 0.01) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.inp = nn.Linear(1, d_model)
        self.enc = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model, 4, 2 * d_model, batch_first=True), layers,
            enable_nested_tensor=False)
        self.out = nn.Linear(d_model, 3)
        self.example_input_array = torch.zeros(4, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.enc(self.inp(x.unsqueeze(-1))).mean(1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def build_mlp(arch: dict) -> nn.Module:
    """A network builder for ``NASModule``."""
    return nn.Sequential(nn.Linear(8, arch["width"]), nn.ReLU(), nn.Linear(arch["width"], 3))


def build_norm_mlp(arch: dict) -> nn.Module:
    """``build_mlp`` with a ``BatchNorm1d`` (buffers: its running statistics)."""
    return nn.Sequential(nn.Linear(8, arch["width"]), nn.BatchNorm1d(arch["width"]), nn.ReLU(),
                         nn.Linear(arch["width"], 3))


class _DataDependent(nn.Module):
    """An MLP whose forward branches on its input's values (no meta-device forward)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = build_mlp({"width": width})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) if bool(x.abs().sum() >= 0) else self.net(-x)


def build_data_dependent_mlp(arch: dict) -> nn.Module:
    """A network whose forward reads its input's values (``_DataDependent``)."""
    return _DataDependent(arch["width"])


def build_lazy_mlp(arch: dict) -> nn.Module:
    """A ``NASModule`` builder whose first layer is lazy, its network with an
    ``example_input_array`` of its own (what its forward takes)."""
    net = nn.Sequential(nn.LazyLinear(arch["width"]), nn.ReLU(), nn.Linear(arch["width"], 3))
    net.example_input_array = torch.zeros(2, 8)
    return net


def smooth_ce(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A loss for ``NASModule(loss=...)`` with an import path (not ``cross_entropy``)."""
    return F.cross_entropy(output, target, label_smoothing=0.3)


class ConfigureModelNet(TinyNet):
    """Makes its layers in Lightning's ``configure_model`` hook (as for FSDP), not in
    ``__init__``."""

    def __init__(self, width: int = 16, **kw) -> None:
        super().__init__(width=width, **kw)
        self.net = None

    def configure_model(self) -> None:
        if self.net is None:
            self.net = nn.Sequential(nn.Linear(8, self.hparams.width),
                                     nn.Linear(self.hparams.width, 3))


class SaveInitialWeights(pl.Callback):
    """Saves the model's weights when ``fit`` starts (to check what a fine-tune started from)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        torch.save({k: v.clone() for k, v in pl_module.state_dict().items()}, self.path)


class CountEpochs(pl.Callback):
    """A user's callback with a state of its own: the training epochs it has seen (kept in
    the checkpoint under its ``state_key``)."""

    def __init__(self) -> None:
        self.epochs = 0

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epochs += 1

    def state_dict(self) -> dict[str, int]:
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.epochs = state_dict["epochs"]


class WidthActNet(TinyNet):
    """``TinyNet`` that refuses width 8 with tanh in its constructor: an architecture the
    model rejects (a failed trial), each value building beside another."""

    def __init__(self, width: int = 16, activation: str = "relu", lr: float = 0.05) -> None:
        if width == 8 and activation == "tanh":
            raise ValueError("width 8 takes no tanh")
        super().__init__(width=width, activation=activation, lr=lr)


def tiny_model(arch: dict) -> pl.LightningModule:
    """A callable ``arch -> LightningModule`` (the second way to give a model)."""
    return TinyNet(width=arch["width"], lr=arch.get("lr", 0.05))


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


class RankFaults(SyncedTinyNet):
    """Prints ``rank R pid P fits <trial dir>`` when it starts; ``fault="raise"`` makes rank 1
    alone raise in its first step (rank 0 then waits in a collective), ``fault="exit"``
    ends rank 1 hard (``os._exit(3)``); ``sleep`` seconds per training step."""

    def __init__(self, width: int = 16, fault: str = "", sleep: float = 0.0) -> None:
        super().__init__(width=width, sleep=sleep)
        self.save_hyperparameters()

    def on_fit_start(self) -> None:
        print(f"rank {self.global_rank} pid {os.getpid()} fits {self.trainer.default_root_dir}")

    def training_step(self, batch, batch_idx):
        if self.global_rank == 1 and self.hparams.fault == "raise":
            raise RuntimeError("rank 1 breaks on purpose")
        if self.global_rank == 1 and self.hparams.fault == "exit":
            os._exit(3)
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


class NoTrainDataOnRank1(BlobData):
    """``BlobData`` whose ``train_dataloader`` raises on rank 1 alone (after the sanity
    check: rank 0 goes on to its first training step and waits there in a collective)."""

    def train_dataloader(self) -> DataLoader:
        if self.trainer.global_rank == 1:
            raise FileNotFoundError("rank 1 has no data/train.csv")
        return super().train_dataloader()


class SeedEnv(pl.Callback):
    """Notes the seed variables (``PL_GLOBAL_SEED``, ``PL_SEED_WORKERS``) each fit of the
    process trains under, into the class (a run restores them after it)."""

    seen: list[tuple[str | None, str | None]] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        SeedEnv.seen.append((os.environ.get("PL_GLOBAL_SEED"),
                             os.environ.get("PL_SEED_WORKERS")))


class FailsOnRank1AtTheEnd(pl.Callback):
    """Raises on rank 1 alone once training has ended (rank 0 has its result by then)."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank == 1:
            raise RuntimeError("rank 1 fails after training on purpose")


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


class EpochLog(pl.Callback):
    """Appends each training epoch's number (with this process id and a token of this
    ``fit`` call) to ``<trial dir>/epochs.jsonl`` and saves the weights it starts from as
    ``w<epoch>.pt``, so a test sees which epochs each segment trained and from what."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        import uuid

        self.fit = uuid.uuid4().hex

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank != 0:
            return
        folder, epoch = trainer.default_root_dir, trainer.current_epoch
        with open(os.path.join(folder, "epochs.jsonl"), "a") as f:
            f.write(json.dumps({"epoch": epoch, "pid": os.getpid(), "fit": self.fit}) + "\n")
        weights = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        torch.save(weights, os.path.join(folder, f"w{epoch}.pt"))


class FitSpans(pl.Callback):
    """Appends the wall time of each fit's ``setup`` and ``teardown`` (with this process
    id) to ``<trial dir>/fits.jsonl``, so a test bounds the time each fit of a trial ran."""

    def _note(self, trainer: pl.Trainer, event: str) -> None:
        if trainer.global_rank == 0:
            with open(os.path.join(trainer.default_root_dir, "fits.jsonl"), "a") as f:
                f.write(json.dumps({"event": event, "time": time.time(),
                                    "pid": os.getpid()}) + "\n")

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._note(trainer, "setup")

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._note(trainer, "teardown")


class CrashAt(pl.Callback):
    """Raises ``RuntimeError`` when training epoch ``epoch`` (counted from 0) starts, or with
    ``batch`` when that batch of it starts: a run that dies part-way, after the checkpoints
    of the epochs (and batches) before it."""

    def __init__(self, epoch: int, batch: int | None = None) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch and self.batch is None:
            raise RuntimeError(f"crash at epoch {self.epoch}")

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: object, batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise RuntimeError(f"crash at epoch {self.epoch}, batch {self.batch}")


class NASErrorAt(CrashAt):
    """Raises lightning_nas's ``SearchError`` (a ``NASError``, which the command says in one
    line) when training epoch ``epoch`` starts: a run refused part-way, after the checkpoints
    of the epochs before it."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from lightning_nas.errors import SearchError

        if trainer.current_epoch == self.epoch:
            raise SearchError(f"refused at epoch {self.epoch}")


class CrashAtTrainEnd(pl.Callback):
    """Raises ``RuntimeError`` when training ends (on every rank): a run that dies after its
    last epoch's checkpoint, before the search's final search (the user's callbacks come
    first)."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        raise RuntimeError("crash at train end")


class SigintAtFirstBatch(pl.Callback):
    """Sends this process SIGINT (the user's Ctrl-C) at the first training batch."""

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: object, batch_idx: int) -> None:
        if batch_idx == 0:
            os.kill(os.getpid(), signal.SIGINT)


def _kill_once(marker: str) -> None:
    """SIGKILL this process (no handler runs, no file is closed) unless ``marker`` exists,
    which it writes first: the run is killed once, its resume with the same command goes on."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        os.kill(os.getpid(), signal.SIGKILL)


class KillAtTrainEnd(pl.Callback):
    """Kills this process (SIGKILL, once: ``_kill_once``) when training ends, after the last
    epoch's checkpoint and before the search's final search (the user's callbacks come
    first)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _kill_once(self.marker)


class KillInFinetuneDigits(DigitsDataModule):
    """The digits data, killing this process (SIGKILL, once: ``_kill_once``) at the first
    batch of a fine-tune (a ``NASModule``'s fit): after the export, before
    ``finetune.json``."""

    def __init__(self, marker: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.marker = marker

    def on_after_batch_transfer(self, batch: object, dataloader_idx: int) -> object:
        from lightning_nas.module import NASModule

        if isinstance(self.trainer.lightning_module, NASModule):
            _kill_once(self.marker)
        return batch


class WaitAtStart(pl.Callback):
    """Writes the file ``ready`` when training starts, then waits (a minute at most) until
    the file ``go`` exists: a run that holds its folder while a test starts another."""

    def __init__(self, ready: str, go: str) -> None:
        self.ready, self.go = ready, go

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        with open(self.ready, "w"):
            pass
        for _ in range(1200):
            if os.path.exists(self.go):
                return
            time.sleep(0.05)


class StopAt:
    """A scheduler rule (duck-typed) that stops every run after ``epoch`` epochs and notes
    which ranks consulted it (``<folder>/rule_calls_rank<LOCAL_RANK>``)."""

    def __init__(self, epoch: int, folder: str) -> None:
        self.epoch, self.folder = epoch, folder

    def decide(self, key, epoch, value):
        from lightning_nas.search.schedulers import Decision

        rank = os.environ.get("LOCAL_RANK", "0")
        with open(os.path.join(self.folder, f"rule_calls_rank{rank}"), "a") as f:
            f.write(f"{epoch}\n")
        return Decision.STOP if epoch >= self.epoch else Decision.CONTINUE


class TinySupernet(pl.LightningModule):
    """A weight-sharing MLP supernet on the blobs: hidden width and activation are choices."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        from lightning_nas.oneshot.choices import ChoiceLinear, LayerChoice

        self.save_hyperparameters()
        self.net = nn.Sequential(
            ChoiceLinear(8, [4, 8, 16], label="hidden"),
            LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
            ChoiceLinear(16, 3, label="out"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean(), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class TwoValSupernet(TinySupernet):
    """``TinySupernet`` validating on several loaders (its step takes ``dataloader_idx``)."""

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        super().validation_step(batch, batch_idx)


def choice_net() -> nn.Sequential:
    """A small supernet with every kind of choice module and BatchNorm: widths and kernels
    (``c1``), a layer choice (``act``), a repeated block (``depth``), linear widths (``fc``)."""
    from lightning_nas.oneshot.choices import (
        ChoiceBatchNorm2d,
        ChoiceConv2d,
        ChoiceLinear,
        LayerChoice,
        Repeat,
    )

    return nn.Sequential(
        ChoiceConv2d(1, [4, 8], kernel_size=[3, 5], label="c1"), ChoiceBatchNorm2d(8),
        LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
        Repeat(lambda i: nn.Sequential(ChoiceConv2d(8, None, 3, label="blk"),
                                       ChoiceBatchNorm2d(8), nn.ReLU()), [0, 1, 2],
               label="depth"),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), ChoiceLinear(8, [6, 12], label="fc"),
        nn.ReLU(), ChoiceLinear(12, 3, label="out"))


def lightning_cli_fit(*args: str) -> None:
    """What ``python -m examples.lightningcli.main fit ARGS`` (plain LightningCLI) trains,
    in this process (a subprocess would import the training stack again: seconds)."""
    from lightning.pytorch.cli import LightningCLI

    LightningCLI(save_config_callback=None, args=["fit", *args])


def needs_tensorboard() -> None:
    """Skip the calling test unless Lightning's ``TensorBoardLogger`` can write: it takes
    ``tensorboard`` or, without it, ``tensorboardX`` (the lighter one, in the ``dev``
    extra, so CI runs these tests)."""
    import pytest

    if not any(importlib.util.find_spec(name) for name in ("tensorboard", "tensorboardX")):
        pytest.skip("TensorBoardLogger needs tensorboard or tensorboardX")


def keep_root_logging() -> Iterator[None]:
    """Leave the root logger as it was (Hydra's launcher configures logging for its jobs):
    a generator for ``pytest.fixture(autouse=True)`` in a Hydra test module."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def ctrl_c_when_held(command: list[str], cwd: Path, env: dict[str, str], hold: Path,
                     held: int) -> tuple[int, str]:
    """Run ``command`` in a session of its own until ``held`` of its processes wrote an
    ``importing.<pid>`` file into ``hold`` (a sitecustomize there holds them at their first
    ``import torch``), then send SIGINT to its whole process group, as a terminal's Ctrl-C
    does; its exit code and output (stdout and stderr). It is killed if still running."""
    import subprocess

    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        while len(list(hold.glob("importing.*"))) < held:
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        out = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out


#: a sitecustomize that holds a process ``{held}`` selects at its first ``import torch``
#: (an ``importing.<pid>`` file in ``{folder}`` says it got there) until it is ended; with
#: ``{note}`` a SIGINT that reaches it meanwhile leaves a ``sigint.<pid>`` file instead of
#: what the process does with one
_HOLD_AT_TORCH = """
import os, signal, sys, time
if {held}:
    def _note(signum, frame):
        open(os.path.join({folder!r}, f"sigint.{{os.getpid()}}"), "w").close()

    class _Hold:
        def find_spec(self, name, path=None, target=None):
            if name == "torch":
                sys.meta_path.remove(self)
                if {note}:
                    signal.signal(signal.SIGINT, _note)
                open(os.path.join({folder!r}, f"importing.{{os.getpid()}}"), "w").close()
                end = time.monotonic() + 120
                while time.monotonic() < end:
                    time.sleep(0.05)
    sys.meta_path.insert(0, _Hold())
"""


def hold_at_torch(folder: Path, held: str, note_sigint: bool = False) -> None:
    """Write into ``folder`` (put first on a child's ``PYTHONPATH``) a sitecustomize that
    holds each process the Python expression ``held`` selects at its first ``import torch``
    (see ``_HOLD_AT_TORCH``; ``ctrl_c_when_held`` waits for them)."""
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(_HOLD_AT_TORCH.format(
        held=held, folder=str(folder), note=note_sigint))


def validated(config: Path, ckpt: Path, metric: str) -> float:
    """``metric`` of the checkpoint ``ckpt`` validated by a fresh Trainer, with the model and
    data a ``best_config.yaml`` names (``class_path``/``init_args`` or Hydra ``_target_``
    nodes): the score a fit's or an export's ``best.ckpt`` holds, read as a user reads it."""
    import yaml
    from hydra.utils import instantiate
    from lightning.pytorch.cli import instantiate_class

    cfg = yaml.safe_load(Path(config).read_text())
    model, data = (instantiate(cfg[key]) if "_target_" in cfg[key]
                   else instantiate_class((), cfg[key]) for key in ("model", "data"))
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1)
    return float(trainer.validate(model, datamodule=data, ckpt_path=ckpt, verbose=False,
                                  weights_only=False)[0][metric])  # our own file


def wait_for_trials(run_dir: Path, log: Path, completed: int = 1, running: int | None = None,
                    timeout: float = 120) -> None:
    """Wait until the search in ``run_dir`` (run by another process, printing into ``log``)
    stores ``completed`` COMPLETED trials (and ``running`` RUNNING ones, where given); an
    AssertionError showing ``log`` after ``timeout`` seconds."""
    from lightning_nas.results import TrialStatus
    from lightning_nas.store import open_run

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open_run(run_dir) as store:
                if store.count(TrialStatus.COMPLETED) == completed and (
                        running is None or store.count(TrialStatus.RUNNING) == running):
                    return
        except FileNotFoundError:  # no search.db yet, or one without its search
            pass
        time.sleep(0.05)
    raise AssertionError(Path(log).read_text())


# --- DH: one DDP trial serves the tests of what its ranks do, what they print and how
# --- they exit (tests/test_ranks.py)


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


# --- DU: runs killed between epochs (tests/test_oneshot_resume.py)


class KillAtEpochStart(pl.Callback):
    """Kills this process (SIGKILL, once: ``_kill_once``) when training epoch ``epoch``
    (counted from 0) starts: after the checkpoints of the epochs before it."""

    def __init__(self, marker: str, epoch: int) -> None:
        self.marker, self.epoch = marker, epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            _kill_once(self.marker)


class KillBeforeEpochCheckpoint(pl.callbacks.Checkpoint):
    """Kills this process (SIGKILL, once: ``_kill_once``) at the end of training epoch
    ``epoch`` (counted from 0), after the search's epoch-end hooks and before the run's
    checkpoint of that epoch: Lightning calls checkpoint callbacks last, in their order, and
    the run's own comes after ``trainer.callbacks``. A resume trains that epoch again."""

    def __init__(self, marker: str, epoch: int) -> None:
        self.marker, self.epoch = marker, epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            _kill_once(self.marker)
