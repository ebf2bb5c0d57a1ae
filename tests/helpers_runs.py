"""Running and reading runs in tests: LightningCLI in this process, a trained checkpoint's
score, waiting for another process's search, its store's rows read while it runs, the
optional TensorBoard and Hydra's logging.

Example:
    >>> import pytest
    >>> fixture = pytest.fixture(autouse=True)(keep_root_logging)  # in a Hydra test module
"""

from __future__ import annotations

import importlib.util
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

__all__ = [
    "keep_root_logging",
    "lightning_cli_fit",
    "needs_tensorboard",
    "trial_rows",
    "validated",
    "wait_for_trials",
]


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


def trial_rows(db: Path, columns: str) -> dict[int, dict[str, Any]]:
    """The ``columns`` (``"id, arch, ..."``, ``id`` first) of a store's trials by id, read
    only (another process may be writing it); empty before its tables exist."""
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        cur = con.execute(f"SELECT {columns} FROM trials ORDER BY id")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()
