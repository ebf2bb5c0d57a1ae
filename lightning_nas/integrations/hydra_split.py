"""A Hydra sweep job's DDP validation split its ranks do not divide, seen from inside the job.

The sweep never sees a job's Trainer: the task function builds it. Where the job's config
has a ``trainer`` node of Lightning's ``Trainer`` (``_target_: lightning.pytorch.Trainer``,
as the lightning-hydra-template builds it with ``hydra.utils.instantiate(cfg.trainer,
callbacks=..., logger=...)``) whose settings start several processes (``devices: 2`` with
``strategy: ddp_spawn``), ``add_split_check`` (run by ``TimedTask`` in the job, after Hydra
saved the job's ``.hydra/config.yaml``) points its ``_target_`` at ``checked_trainer``: the
same ``Trainer``, built from the same arguments, with a ``JobSplitRecorder`` added to the
callbacks the task passes (or the node lists). At the fit's first validation that
callback's rank 0 (under ``ddp_spawn`` a child process of the job: the record goes through
a file) writes what ``uneven_splits`` says into ``SPLITS_FILE`` in the job's output folder;
the sweep reads it when the job returns (``job_splits``) and records it as
``lightning-nas search`` records a trial's (meta ``uneven_splits``, one warning per sweep,
``best.yaml``'s ``notes``).

A task that builds its Trainer otherwise (not from ``cfg.trainer``, or a ``Trainer``
subclass) is not checked: nothing of its config is changed.

Example:
    >>> from omegaconf import OmegaConf
    >>> job = OmegaConf.create({"trainer": {"_target_": "lightning.pytorch.Trainer",
    ...                                     "accelerator": "cpu", "devices": 2,
    ...                                     "strategy": "ddp_spawn"}})
    >>> add_split_check(job), job.trainer._target_.rsplit(".", 1)[-1]
    (True, 'checked_trainer')
    >>> add_split_check(OmegaConf.create({"trainer": {"_target_": "lightning.pytorch.Trainer",
    ...                                                "devices": 1}}))
    False
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from lightning_nas.search.runner import needs_own_process
from lightning_nas.search.uneven_split import uneven_splits

__all__ = ["SPLITS_FILE", "JobSplitRecorder", "add_split_check", "checked_trainer",
           "clear_splits", "job_splits"]

#: written by a job's rank 0 into its output folder: ``{"uneven_splits": [text, ...]}``
SPLITS_FILE = "lightning_nas_splits.json"


class JobSplitRecorder(pl.Callback):
    """At a fit's first validation under several processes, rank 0 adds what
    ``uneven_splits`` says of the validation loaders (``scored="sweep"``) to ``SPLITS_FILE``
    in ``folder`` (nothing where every split divides). It warns of nothing: the sweep says
    it, once per sweep.

    Args:
        folder: the job's output folder (``hydra.runtime.output_dir``).

    Example:
        >>> JobSplitRecorder("multirun/0").folder
        'multirun/0'
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._looked = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._looked = False  # each fit of the job's Trainer

    def on_validation_epoch_start(self, trainer: pl.Trainer,
                                  pl_module: pl.LightningModule) -> None:
        if self._looked or trainer.world_size < 2:
            return
        self._looked = True
        texts = uneven_splits(trainer.val_dataloaders, "sweep", trainer.num_val_batches)
        if texts and trainer.is_global_zero:  # only rank 0 writes
            path = Path(self.folder) / SPLITS_FILE
            held = job_splits(self.folder)
            path.write_text(json.dumps(
                {"uneven_splits": [*held, *(t for t in texts if t not in held)]}))


def checked_trainer(*args: Any, **kwargs: Any) -> pl.Trainer:
    """``lightning.pytorch.Trainer(*args, **kwargs)`` with a ``JobSplitRecorder`` of the
    job's output folder after the callbacks given (none, one or a list): the ``_target_``
    ``add_split_check`` gives a job's ``trainer`` node. Outside a Hydra job: the Trainer
    as given.

    Example:
        >>> trainer = checked_trainer(logger=False, enable_progress_bar=False)
        >>> type(trainer).__name__
        'Trainer'
    """
    given = kwargs.get("callbacks")
    callbacks = ([] if given is None else [given] if isinstance(given, pl.Callback)
                 else list(given))
    try:
        folder = str(HydraConfig.get().runtime.output_dir)
    except Exception:  # noqa: BLE001 - not in a Hydra job: nothing to record into
        folder = None
    if folder is not None:
        callbacks.append(JobSplitRecorder(folder))
        kwargs["callbacks"] = callbacks
    return pl.Trainer(*args, **kwargs)


def add_split_check(cfg: Any) -> bool:
    """Point the job config's ``trainer._target_`` at ``checked_trainer`` where it is
    Lightning's ``Trainer`` itself and its ``accelerator``, ``devices``, ``num_nodes`` and
    ``strategy`` start several processes; whether it did (a task that builds its Trainer
    otherwise is not checked, and nothing is changed).

    Args:
        cfg: the job's config, as the task function receives it.

    Example:
        >>> from omegaconf import OmegaConf
        >>> add_split_check(OmegaConf.create({"trainer": {"_target_": "my.Trainer"}}))
        False
    """
    node = cfg.get("trainer") if isinstance(cfg, DictConfig) else None
    if not isinstance(node, DictConfig):
        return False
    settings: dict[str, Any] = {}
    try:  # these keys alone: others may hold what the task fills
        target = node.get("_target_")
        if not isinstance(target, str) or get_class(target) is not pl.Trainer:
            return False
        for key in ("accelerator", "devices", "num_nodes", "strategy"):
            value = node.get(key)
            if value is not None:
                settings[key] = (OmegaConf.to_container(value, resolve=True)
                                 if OmegaConf.is_config(value) else value)
        if not needs_own_process(settings):
            return False
    except Exception:  # noqa: BLE001 - not a node this check can read: left as it is
        return False
    with read_write(node), open_dict(node):
        node["_target_"] = f"{__name__}.checked_trainer"
    return True


def clear_splits(folder: str | Path) -> None:
    """Remove an earlier ``SPLITS_FILE`` from ``folder`` (a job folder written before).

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> _ = (Path(folder) / SPLITS_FILE).write_text('{"uneven_splits": ["x"]}')
        >>> job_splits(folder), clear_splits(folder), job_splits(folder)
        (['x'], None, [])
    """
    (Path(folder) / SPLITS_FILE).unlink(missing_ok=True)


def job_splits(folder: str | Path | None) -> list[str]:
    """The uneven splits a job's rank 0 wrote into ``folder`` (none: no file, or not
    readable).

    Example:
        >>> job_splits("/nonexistent")
        []
    """
    if folder is None:
        return []
    try:
        texts = json.loads((Path(folder) / SPLITS_FILE).read_text())["uneven_splits"]
    except Exception:  # noqa: BLE001 - not written: the job met none (or was not checked)
        return []
    return [str(t) for t in texts] if isinstance(texts, list) else []
