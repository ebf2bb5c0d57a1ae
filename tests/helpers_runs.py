"""Running and reading runs in tests: LightningCLI in this process, a trained checkpoint's
score, an exported one checked against ``best.yaml``, a trial paused and promoted, the
checkpoint files under a folder, waiting for another process's search, its store's rows
read while it runs, the optional TensorBoard and Hydra's logging.

Example:
    >>> import pytest
    >>> fixture = pytest.fixture(autouse=True)(keep_root_logging)  # in a Hydra test module
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sqlite3
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import pytest
import torch

from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

if TYPE_CHECKING:
    from lightning_nas.search.trial import TrialSpec

__all__ = [
    "assert_scores_as_exported",
    "checkpoint_files",
    "keep_root_logging",
    "lightning_cli_fit",
    "needs_tensorboard",
    "one_thread",
    "paused_then_promoted",
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


def assert_scores_as_exported(run: Path, model: type[pl.LightningModule] = TinyNet,
                              batch_size: int = 32, **validation: Any) -> dict[str, Any]:
    """``run``'s ``best.ckpt`` validated afresh (one device, the search's ``validation``
    settings) gives ``best.yaml``'s score and metrics, and is of its epoch and architecture;
    ``best.yaml`` as ``load_best`` reads it."""
    from lightning_nas import load_best

    best = load_best(run)
    assert best["checkpoint"] == "best.ckpt"
    ckpt = torch.load(run / "best.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["epoch"] == best["epoch"]
    assert {k: ckpt["hyper_parameters"][k] for k in best["arch"]} == best["arch"]
    if path := ckpt["hyper_parameters"].get("_class_path"):  # Lightning loads a class path
        importlib.import_module(path.rpartition(".")[0])  # only from a module imported
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, **validation)
    got = trainer.validate(model.load_from_checkpoint(run / "best.ckpt"),
                           datamodule=BlobData(batch_size=batch_size), verbose=False)[0]
    assert got[best["monitor"]] == pytest.approx(best["score"], abs=1e-6)
    for key in got.keys() & best["metrics"].keys():
        assert got[key] == pytest.approx(best["metrics"][key], abs=1e-6), key
    return best


def checkpoint_files(folder: Path) -> list[str]:
    """The ``*.ckpt`` files at any depth under ``folder``, as sorted relative POSIX paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.ckpt"))


def paused_then_promoted(spec: TrialSpec, rule: Any) -> list[str]:
    """Fit trial 1 of ``spec`` until ``rule`` (an ``ASHARule`` of rungs 2 and 4 with two
    better trials at rung 2) pauses it, then record four worse trials so it is promoted and
    fit it on from its ``last.ckpt``; the warnings of the promoted segment's fit."""
    from lightning_nas.results import TrialStatus
    from lightning_nas.search.trial import fit_trial

    first = fit_trial(spec)
    assert first.status is TrialStatus.PAUSED and first.epochs == 2, first.error
    rule.record(1, first.curve)
    for key in (102, 103, 104, 105):  # worse trials arrive: trial 1 is promoted
        rule.record(key, [0.0, 0.0])
    trial_dir = Path(spec.trial_dir)
    spec.rule, spec.ckpt_path, spec.clear_dir = rule.snapshot(), str(trial_dir / "last.ckpt"), False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = fit_trial(spec)
    assert second.status is TrialStatus.COMPLETED and second.epochs == 4, second.error
    return [str(w.message) for w in caught]


def one_thread() -> Iterator[None]:
    """Train with one torch thread, the count as it was put back after: a generator for
    ``pytest.fixture(autouse=True)`` in a test module whose runs share 2 cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def keep_root_logging() -> Iterator[None]:
    """Leave the root logger as it was (Hydra's launcher configures logging for its jobs),
    the handlers added meanwhile closed (a job's ``app.log``): the generator of conftest's
    autouse fixture, so every test leaves it as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
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
