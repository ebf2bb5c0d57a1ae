"""What a search gives a trial's logger config node (a W&B or MLflow one: neither package
need be installed, nothing here builds the logger), read as a trial reads it; and a fit
logging to a logger node, interrupted and resumed (``resumed_fit``).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> run = Path(tempfile.mkdtemp()) / "run"
    >>> given_args(run, log_label(run), WANDB)["version"] == f"{log_label(run)}_trial_0001"
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from lightning_nas.cli import main
from lightning_nas.config.nodes import node_args
from lightning_nas.search.trial_logs import placed_logger
from lightning_nas.search.trial_spec import TrialSpec
from lightning_nas.store import open_search_store

__all__ = ["CTRL_C", "MLFLOW", "WANDB", "fit_argv", "given_args", "log_label", "resumed_fit"]

#: a callback that stops a fit with Ctrl-C as epoch 1 starts
CTRL_C = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtEpoch, init_args: {epoch: 1}}]"

WANDB = {"class_path": "lightning.pytorch.loggers.WandbLogger", "init_args": {"project": "nas"}}
MLFLOW = {"class_path": "lightning.pytorch.loggers.MLFlowLogger",
          "init_args": {"experiment_name": "nas"}}


def log_label(run: Path) -> str:
    """The ``log_label`` of the search in ``run`` (drawn as a search's store is made, read
    back as a resume reads it)."""
    fixed = {"space": {"width": {"choice": [4, 8]}}, "monitor": "val_loss", "mode": "min"}
    with open_search_store(run, fixed) as store:
        return store.get_meta("log_label")


def given_args(folder: Path, label: str, node: Any, own_logs: bool = False,
               ckpt_path: str | None = None) -> dict[str, Any]:
    """The logger arguments trial 1 of the search in ``folder`` is given (``own_logs``: the
    fit or fine-tune in ``folder``; ``ckpt_path``: a segment that resumes from it)."""
    trial_dir = folder if own_logs else folder / "trials" / "trial_0001"
    spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(trial_dir), model="tests.helpers.TinyNet",
                     trainer={"logger": node}, log_label=label, own_logs=own_logs,
                     ckpt_path=ckpt_path)
    return node_args(placed_logger(spec))


def fit_argv(tmp_path: Path, logger: Any, max_epochs: int = 3) -> list[str]:
    """``lightning-nas fit`` of a config in ``tmp_path`` logging to ``logger`` into
    ``tmp_path/fit`` (its arguments)."""
    torch.set_num_threads(1)
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": max_epochs, "accelerator": "cpu", "devices": 1,
                    "logger": logger, "enable_progress_bar": False,
                    "enable_model_summary": False}}))
    return ["fit", str(config), "--out", str(tmp_path / "fit")]


def resumed_fit(tmp_path: Path, logger: Any) -> Path:
    """The folder of a fit of 3 epochs logging to ``logger``, interrupted as epoch 1 starts
    and resumed with ``--ckpt_path last``."""
    argv = fit_argv(tmp_path, logger)
    out = Path(argv[-1])
    assert main([*argv, CTRL_C]) == 130
    assert main([*argv, "--ckpt_path", "last"]) == 0
    return out
