"""What a search gives a trial's logger config node (a W&B or MLflow one: neither package
need be installed, nothing here builds the logger), read as a trial reads it.

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

from lightning_nas.config.nodes import node_args
from lightning_nas.search.trial_logs import placed_logger
from lightning_nas.search.trial_spec import TrialSpec
from lightning_nas.store import open_search_store

__all__ = ["MLFLOW", "WANDB", "given_args", "log_label"]

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
