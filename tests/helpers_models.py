"""LightningModules whose ``__init__`` takes the architecture knobs, as an existing
project's does: ``TinyNet`` (an MLP on the blobs) and variants with the argument kinds,
optimizers and hooks that real projects have.

Example:
    >>> TinyNet(width=4).hparams.width
    4
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F

from tests.helpers_callbacks import hold_at
from tests.helpers_paths import at_helpers

__all__ = [
    "AccAfterWarmup",
    "AccFromEpoch2",
    "Act",
    "ActNet",
    "CallableOptNet",
    "ClassifierSteps",
    "ClassesNet",
    "ConfigureModelNet",
    "DictArgNet",
    "EnvNotes",
    "KwargsCallableOptNet",
    "LazyNoisyNet",
    "ManualTinyNet",
    "NamedWidthNet",
    "NoValStepNet",
    "ScriptedSlotNet",
    "SeqNet",
    "TinyNet",
    "TwoLoaderNet",
    "TypedNet",
    "WidthActNet",
    "annotated",
    "tiny_model",
]


@at_helpers
class TinyNet(pl.LightningModule):
    """An MLP whose ``__init__`` takes the architecture knobs, like an existing project's.

    ``fail_width`` makes trials of that width raise (a deterministic broken architecture);
    ``die_width`` ends the process hard (``os._exit``); ``nan_width`` logs NaN; each
    training step may hold its process for a test (``hold_at("step <global step>")``).
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
        hold_at(f"step {self.global_step}")
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


class NoValStepNet(TinyNet):
    """``TinyNet`` without a ``validation_step``: it logs ``val_acc`` nowhere."""

    validation_step = pl.LightningModule.validation_step


class InitValStepNet(NoValStepNet):
    """``NoValStepNet`` given ``TinyNet``'s ``validation_step`` in ``__init__``, an instance
    attribute, which Lightning validates with (its class has none)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__(width=width)
        self.validation_step = TinyNet.validation_step.__get__(self)


class Act(enum.Enum):
    """An activation, given by name in a config (``act: tanh``)."""

    relu = "relu"
    tanh = "tanh"


@at_helpers
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


@at_helpers
def annotated(act: Act = Act.relu, path: Path | None = None, sizes: tuple[int, ...] = (),
              pair: tuple[int, int] | None = None, tags: set[str] | None = None,
              either: str | Path = "", named: dict[str, Act] | None = None,
              untyped=None) -> dict:
    """Its arguments as it got them (what a config's values are converted to)."""
    return dict(locals())


@at_helpers
class DictArgNet(TinyNet):
    """A plain ``dict`` argument (the optimizer's settings), as many projects have one."""

    def __init__(self, width: int = 16, lr: float = 0.05,
                 opt_cfg: dict | None = None) -> None:
        super().__init__(width=width, lr=lr)
        self.opt_cfg = dict(opt_cfg or {})

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, **self.opt_cfg)


@at_helpers
class ClassesNet(TinyNet):
    """A required argument a LightningCLI project fills by ``link_arguments`` (from the data)."""

    def __init__(self, num_classes: int, width: int = 16, lr: float = 0.05) -> None:
        super().__init__(width=width, lr=lr)
        self.num_classes = num_classes


@at_helpers
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


@at_helpers
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


class ClassifierSteps:
    """The steps of a classifier on the blobs, mixed in before ``pl.LightningModule``:
    cross-entropy of its forward for training, its accuracy logged as ``val_acc``.

    Example:
        >>> class Net(ClassifierSteps, pl.LightningModule):
        ...     def forward(self, x): ...
    """

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean())


@at_helpers
class CallableOptNet(ClassifierSteps, pl.LightningModule):
    """A model given its network and, as LightningCLI's ``OptimizerCallable``, its optimizer
    (``params -> Optimizer``)."""

    def __init__(self, net: nn.Module, optimizer: OptimizerCallable = torch.optim.Adam) -> None:
        super().__init__()
        self.net, self.optimizer = net, optimizer
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x))

    def configure_optimizers(self):
        return self.optimizer(self.parameters())


@at_helpers
class KwargsCallableOptNet(CallableOptNet):
    """Takes ``net`` and ``optimizer`` only through ``**kwargs``, passed on to its base (as
    jsonargparse follows ``super().__init__(**kwargs)``)."""

    def __init__(self, extra: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.extra = extra


@at_helpers
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


class SeqNet(ClassifierSteps, pl.LightningModule):
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

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


@at_helpers
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


class WidthActNet(TinyNet):
    """``TinyNet`` that refuses width 8 with tanh in its constructor: an architecture the
    model rejects (a failed trial), each value building beside another."""

    def __init__(self, width: int = 16, activation: str = "relu", lr: float = 0.05) -> None:
        if width == 8 and activation == "tanh":
            raise ValueError("width 8 takes no tanh")
        super().__init__(width=width, activation=activation, lr=lr)


@at_helpers
class ScriptedSlotNet(TinyNet):
    """Logs ``script[str(slot)][current_epoch]`` as ``val_acc``: a trial's curve is known in
    advance (``slot`` searched, ``script`` given as ``model_init_args``), so a scheduler's
    decisions are too."""

    def __init__(self, slot: int = 0, script: dict | None = None, **kwargs) -> None:
        super().__init__(**kwargs)

    def validation_step(self, batch, batch_idx):
        self.log("val_acc", self.hparams.script[str(self.hparams.slot)][self.current_epoch])


def tiny_model(arch: dict) -> pl.LightningModule:
    """A callable ``arch -> LightningModule`` (the second way to give a model)."""
    return TinyNet(width=arch["width"], lr=arch.get("lr", 0.05))


@at_helpers
class TwoLoaderNet(TinyNet):
    """``TinyNet`` validating on each of two loaders (``val_acc``, ``val_loss`` per loader);
    counts its training steps in ``steps`` (the class's: the trial builds its own)."""

    steps: list[int] = []

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
                      ) -> torch.Tensor:
        TwoLoaderNet.steps.append(batch_idx)
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int,
                        dataloader_idx: int = 0) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_acc", (logits.argmax(-1) == y).float().mean())
        self.log("val_loss", F.cross_entropy(logits, y))


@at_helpers
class ActNet(TinyNet):
    """``TinyNet`` whose activation is a class (``type[nn.Module]``), built by the model."""

    def __init__(self, act: type[torch.nn.Module] = torch.nn.ReLU, **kwargs) -> None:
        super().__init__(**kwargs)
        assert isinstance(act, type), act  # the class itself, as jsonargparse gives it
        self.net[1] = act()


@at_helpers
class EnvNotes(TinyNet):
    """Notes into the JSON file ``notes``, as it is built, what its process sees: its
    ``OMP_NUM_THREADS``, torch's thread count, the ``OMP_NUM_THREADS`` a child process it
    starts sees, and whether its parent is a fork server that imported torch (a parent
    other than the process that started it, ``multiprocessing.parent_process``, with
    ``libtorch`` mapped) and that parent's pid, and whether its heap is frozen
    (``gc.get_freeze_count() > 0``: a worker inherits the fork server's, ``server_frozen``);
    ``say``, where given, on its stdout and its stderr; then it fails the trial, before any
    training.

    Example:
        >>> import json, tempfile
        >>> from pathlib import Path
        >>> notes = Path(tempfile.mkdtemp()) / "notes.json"
        >>> EnvNotes(notes=str(notes))
        Traceback (most recent call last):
        RuntimeError: noted
        >>> json.loads(notes.read_text())["forked_warm"]
        False
    """

    def __init__(self, notes: str = "", say: str = "", **kwargs) -> None:
        import gc
        import json
        import multiprocessing as mp
        import subprocess
        import sys

        super().__init__(**kwargs)
        child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get("
                                "'OMP_NUM_THREADS'))"], capture_output=True, text=True,
                               check=True).stdout.strip()
        parent, server = mp.parent_process(), os.getppid()
        forked = parent is not None and parent.pid != server
        Path(notes).write_text(json.dumps({
            "omp": os.environ.get("OMP_NUM_THREADS"), "threads": torch.get_num_threads(),
            "child_omp": child, "forked_warm": forked and "libtorch" in Path(
                f"/proc/{server}/maps").read_text(), "parent": server,
            "frozen": gc.get_freeze_count() > 0}))
        if say:
            print(f"{say} on stdout", flush=True)
            print(f"{say} on stderr", file=sys.stderr, flush=True)
        raise RuntimeError("noted")
