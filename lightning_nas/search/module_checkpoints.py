"""The ``ModelCheckpoint`` callbacks a trial's module returns from ``configure_callbacks()``,
placed as the user's of ``trainer.callbacks`` are: Lightning merges them into the Trainer's
callbacks when ``fit`` starts, after the Trainer was built, so a callback of the trial's
finds them in ``setup`` (before theirs: Lightning puts checkpoint callbacks last) and gives
one with a ``dirpath`` its folder per trial under it (``placed_checkpoints``), one of a
promoted segment the folder its earlier segment wrote (``keep_checkpoint_dirs``), and names
the folders in the trial's ``MODULE_FOLDERS`` file, which ``clear_trial`` empties on a run
from scratch.

Example:
    >>> from types import SimpleNamespace
    >>> spec = SimpleNamespace(own_logs=False, trial_dir="runs/a/trials/trial_0001",
    ...                        log_label="a-3f9a0c", ckpt_path=None)
    >>> ModuleCheckpoints(spec).spec.log_label
    'a-3f9a0c'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas.search.trial_checkpoint import TrialCheckpoint
from lightning_nas.search.trial_logs import (
    MODULE_FOLDERS,
    keep_checkpoint_dirs,
    placed_checkpoints,
)

__all__ = ["ModuleCheckpoints"]


class ModuleCheckpoints(pl.Callback):
    """Places the ``ModelCheckpoint`` callbacks of the module's ``configure_callbacks()``
    in a trial's ``fit`` (was: not placed: each trial of a search wrote into the module's
    ``dirpath`` itself, ``epoch=0-step=1.ckpt``, ``-v1``, ``-v2``, none telling its trial;
    one without a ``dirpath`` of a promoted segment wrote into its new logger version's
    folder and forgot its best). The Trainer's own (``watch``), the search's
    ``TrialCheckpoint`` among them, are left as they are.

    Args:
        spec: the trial's ``TrialSpec`` (its ``trial_dir``, ``log_label``, ``own_logs``,
            ``ckpt_path``).

    Example:
        >>> from types import SimpleNamespace
        >>> spec = SimpleNamespace(own_logs=False, trial_dir="runs/a/trials/trial_0001",
        ...                        log_label="a-3f9a0c", ckpt_path=None)
        >>> placer = ModuleCheckpoints(spec)
        >>> trainer = placer.watch(pl.Trainer(callbacks=[placer], logger=False))
        >>> len(placer.given)  # Lightning's default ModelCheckpoint
        1
    """

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.given: list[Any] = []

    def watch(self, trainer: pl.Trainer) -> pl.Trainer:
        """Note ``trainer``'s checkpoint callbacks as built (the user's, placed already, and
        the search's); return ``trainer``."""
        self.given = list(trainer.checkpoint_callbacks)
        return trainer

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Place the module's checkpoints, before their own ``setup`` reads ``dirpath``."""
        if stage != "fit":
            return
        module = [callback for callback in trainer.checkpoint_callbacks
                  if isinstance(callback, ModelCheckpoint)
                  and not isinstance(callback, TrialCheckpoint)
                  and not any(callback is given for given in self.given)]
        if not module:
            return
        folders = placed_checkpoints(self.spec, module)
        if self.spec.ckpt_path is not None:  # a promoted segment: the folders it wrote
            keep_checkpoint_dirs(trainer, self.spec.ckpt_path,
                                 Path(self.spec.trial_dir).parent.parent, module)
        if folders and trainer.is_global_zero:  # for clear_trial: the trial's own
            listed = Path(self.spec.trial_dir) / MODULE_FOLDERS
            known = listed.read_text().splitlines() if listed.is_file() else []
            listed.write_text("".join(f"{folder}\n" for folder in
                                      dict.fromkeys([*known, *folders])))
