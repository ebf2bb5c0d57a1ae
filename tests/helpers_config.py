"""What the tests of ``lightning_nas.config`` (``tests/test_config_*.py``) share: the base
configs they change and the model, optimizer and scheduler classes their configs name by
import path (``tests.helpers_config.<Class>``).

Example:
    >>> config(Path("run"))["search"]["budget"]
    2
"""

from __future__ import annotations

import copy
import io
import os
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch.cli import LRSchedulerCallable, instantiate_class

from lightning_nas.errors import NASError
from lightning_nas.search.from_config import search_from_config
from lightning_nas.user_warnings import warn_user
from tests.helpers_models import CallableOptNet, TinyNet
from tests.helpers_nets import Body

__all__ = ["ArgsSGD", "ArgsStepLR", "BASE", "COSINE", "FourBody", "FourWide", "HeardStream",
           "KW_BODY", "KwWideBody", "NamedBody", "OptimInitNet", "STEP", "SaysInFit",
           "SchedNet", "SchedTiny", "USERS_OWN", "WarnsInWorker", "WideBody", "WideHolder",
           "broken", "cli_built", "config", "lightningcli"]


#: the text of ``WarnsInWorker``'s own warning in each training step (then its process's id)
USERS_OWN = "the user's own warning, in process"

#: a partial config that the ``apply_overrides`` tests change
BASE = {
    "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"lr": 0.1}},
    "search": {"budget": 3},
}


def config(run_dir: Path) -> dict:
    """A whole config search of ``TinyNet`` on ``BlobData``: two trials of one batch."""
    return {
        "seed_everything": 7,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"lr": 0.1}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}},
        "trainer": {"max_epochs": 1, "limit_train_batches": 1},
        "search": {"space": {"width": {"choice": [4, 8]}, "activation": {"choice": ["relu",
                                                                                 "tanh"]}},
                   "budget": 2, "run_dir": str(run_dir), "verbose": False},
    }


def broken(tmp_path: Path, change) -> tuple[str, Path]:
    """What ``search_from_config`` raises for ``config`` changed by ``change(cfg)``, and
    the run folder it must not have made."""
    cfg = copy.deepcopy(config(tmp_path / "run"))
    change(cfg)
    with pytest.raises(NASError) as info:
        search_from_config(cfg)
    return str(info.value), tmp_path / "run"


def cli_built(path: Path, *args: str) -> dict[str, Any]:
    """The config LightningCLI itself (``run=False``, nothing trained) builds from the config
    file ``path`` (``model``, ``data``, ``trainer``) and the command line's ``args`` after it
    (``--trainer={devices: 1}``), as plain data (a file's ``__path__`` left out), to compare
    with what lightning-nas builds from the same.

    Example:
        ``cli_built(path, "--trainer.max_epochs=2")["trainer"]["max_epochs"]`` is 2.
    """
    from lightning.pytorch.cli import LightningCLI

    cli = LightningCLI(run=False, save_config_callback=None, args=["--config", str(path), *args])
    return _plain_built(cli.config.as_dict())


def _plain_built(value: Any) -> Any:
    """``value`` without jsonargparse's ``__path__`` and ``config`` keys."""
    if isinstance(value, Mapping):
        return {key: _plain_built(item) for key, item in value.items()
                if key not in ("__path__", "config")}
    if isinstance(value, list):
        return [_plain_built(item) for item in value]
    return value


def lightningcli(tmp_path: Path, net: dict, optimizer: dict) -> dict:
    """A config search of ``examples/lightningcli``'s model (nested ``net`` and
    ``optimizer`` nodes given these ``init_args``) on the digits data."""
    return {"model": {"class_path": "examples.lightningcli.model.LitClassifier",
                      "init_args": {"net": {"class_path": "examples.lightningcli.model.MLP",
                                            "init_args": net},
                                    "optimizer": {"class_path": "torch.optim.Adam",
                                                  "init_args": optimizer}}},
            "data": {"class_path": "examples.digits.data.DigitsDataModule"},
            "trainer": {"max_epochs": 1},
            "search": {"space": {"model.net.lin1_size": {"choice": [32, 64]}},
                       "run_dir": str(tmp_path / "run")}}


#: a body that takes its ``width`` through ``**kwargs``
KW_BODY = "tests.helpers.KwBody"


class WideBody(Body):
    """Requires its ``width``."""

    def __init__(self, width: int) -> None:
        super().__init__(width=width)


class KwWideBody(WideBody):
    """Takes ``width`` only through ``**kwargs``, passed on to ``WideBody``, which requires it."""

    def __init__(self, extra: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)


class WideHolder(torch.nn.Module):
    """Builds a ``WideBody`` with its ``**kwargs`` (so ``width`` is required)."""

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.body = WideBody(**kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class FourWide(WideBody):
    """Gives ``WideBody`` its ``width`` itself, the rest through ``**kwargs``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(width=4, **kwargs)


class FourBody(Body):
    """Gives ``Body`` its ``width`` itself, the rest (``depth``) through ``**kwargs``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(width=4, **kwargs)


class SchedNet(CallableOptNet):
    """``CallableOptNet`` with a learning-rate scheduler, LightningCLI's
    ``LRSchedulerCallable`` (``optimizer -> scheduler``)."""

    def __init__(self, scheduler: LRSchedulerCallable | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scheduler = scheduler

    def configure_optimizers(self):
        optimizer = self.optimizer(self.parameters())
        return [optimizer], [self.scheduler(optimizer)] if self.scheduler else []


#: two schedulers' import paths (``CosineAnnealingLR`` requires ``T_max``)
STEP, COSINE = "torch.optim.lr_scheduler.StepLR", "torch.optim.lr_scheduler.CosineAnnealingLR"


class ArgsSGD(torch.optim.SGD):
    """Passes ``*args`` and ``**kwargs`` on to ``SGD`` (its ``params`` come positionally)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)


class ArgsStepLR(torch.optim.lr_scheduler.StepLR):
    """Passes ``*args`` and ``**kwargs`` on to ``StepLR`` (its optimizer comes first)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)


class SchedTiny(TinyNet):
    """``TinyNet`` with a learning-rate scheduler, LightningCLI's ``LRSchedulerCallable``;
    its config section holds no node."""

    def __init__(self, scheduler: LRSchedulerCallable | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scheduler = scheduler

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        return [optimizer], [self.scheduler(optimizer)] if self.scheduler else []


class OptimInitNet(TinyNet):
    """Lightning's documented pattern for several optimizers: a plain ``dict`` argument holds
    a ``{class_path, init_args}`` mapping, built in ``configure_optimizers``; ``Mapping`` and
    ``dict[str, Any]`` arguments hold the same, LightningCLI passing each as data. What it
    was given is kept in ``got``."""

    def __init__(self, optimizer_init: dict | None = None, spare: Mapping | None = None,
                 extra: dict[str, Any] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters()
        self.got = {"optimizer_init": optimizer_init, "spare": spare, "extra": extra}

    def configure_optimizers(self):
        init = self.got["optimizer_init"] or {"class_path": "torch.optim.SGD",
                                              "init_args": {"lr": self.hparams.lr}}
        return instantiate_class(self.parameters(), init)


class NamedBody(torch.nn.Module):
    """Takes a ``width`` that is a name, not a number."""

    def __init__(self, width: str = "wide") -> None:
        super().__init__()


class WarnsInWorker(TinyNet):
    """``TinyNet`` that, built in a process multiprocessing started (a worker's trial), says
    ``built in a worker`` by the package's ``warn_user``; each training step warns the
    user's own warning (``warnings.warn``, one line of this file), ``USERS_OWN`` and its
    process's id: Python shows it once per process, as a plain loop of fits would.

    Example:
        >>> WarnsInWorker(width=4).hparams.width  # here, in no worker: nothing said
        4
    """

    def __init__(self, width: int = 16, **kwargs: Any) -> None:
        import multiprocessing

        if multiprocessing.parent_process() is not None:
            warn_user("built in a worker")
        super().__init__(width=width, **kwargs)

    def training_step(self, batch, batch_idx):
        warnings.warn(f"{USERS_OWN} {os.getpid()}", stacklevel=1)
        return super().training_step(batch, batch_idx)


class SaysInFit(TinyNet):
    """``TinyNet`` that says ``said in fit`` (``warn_user``) as its fit starts, then waits, up
    to 20 s, for a ``heard`` file in its trial's folder (``HeardStream`` writes it as the
    search process says the warning), and writes whether it came to ``heard_in_fit.txt``:
    whether the warning reached the search's console while the trial still ran."""

    def on_fit_start(self) -> None:
        warn_user("said in fit")
        folder = Path(self.trainer.default_root_dir)
        deadline = time.monotonic() + 20
        while not (folder / "heard").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (folder / "heard_in_fit.txt").write_text(str((folder / "heard").exists()))


class HeardStream(io.StringIO):
    """A search process's stderr that writes ``heard`` in ``trial_dir`` once a line holds
    ``text`` (a trial's warning: ``SaysInFit``'s, the Ray tests' project module's).

    Example:
        >>> HeardStream(Path("no/such/trial"), "look").write("nothing") == len("nothing")
        True
    """

    def __init__(self, trial_dir: Path, text: str) -> None:
        super().__init__()
        self.trial_dir, self.text = trial_dir, text

    def write(self, text: str) -> int:
        if self.text in text:
            (self.trial_dir / "heard").touch()
        return super().write(text)
