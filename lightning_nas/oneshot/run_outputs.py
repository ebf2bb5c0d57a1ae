"""The outputs ``lightning-nas oneshot`` writes into its run folder (``RUN_OUTPUTS``), their
removal when a new run in the folder trains (``clear_outputs``, by the ``ClearOutputs``
callback of the run's Trainer) and the line that names those a run wrote (``wrote_line``).

A resume leaves the search's record (SPOS's ``history.json``, DARTS/GDAS's ``alphas.json``,
``oneshot/records.py``) in place when the state it restored holds entries: the search
replaces the file from that state at once, whole (was: removed with the other outputs and
written again right after, so a kill between left none on disk).

Example:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / "best_arch.yaml").write_text("arch: {}\\n")
    >>> wrote_line(run, "best_arch.yaml", "subnet.pt") == f"\\nWrote {run / 'best_arch.yaml'}"
    True
    >>> clear_outputs(run); sorted(run.iterdir())
    []
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl

from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from lightning_nas.oneshot.fit_end import training_over
from lightning_nas.wording import joined

__all__ = ["RUN_OUTPUTS", "ClearOutputs", "clear_outputs", "held_record", "wrote_line"]

#: the files a run writes into its ``run_dir`` (``report/``: those of ``lightning-nas report``)
RUN_OUTPUTS = ("best_arch.yaml", "history.json", "subnet.pt", "alphas.json", "alphas.png",
               "finetune.json", "subnet_finetuned.pt", "report/report.html",
               "report/subnets.png", "report/alphas.png")


def clear_outputs(run_dir: Path, keep: str | None = None) -> None:
    """Remove an earlier run's outputs (``RUN_OUTPUTS``) from ``run_dir``, so none of them
    stands beside the new run's (an old ``subnet_finetuned.pt`` next to a new
    ``subnet.pt``, an old ``history.json`` next to a new DARTS run's ``alphas.json``).
    ``checkpoints/`` stays: ``--ckpt_path`` resumes from it. A folder of outputs
    (``report/``) that this leaves empty goes too; one holding a user's own files stays
    (was: an empty ``report/`` stood in the folder).

    Args:
        run_dir: the run folder.
        keep: an output left in place (a resume's record, which its search replaces), or
            None; a ``.NAME.partial`` of it that a killed write left goes all the same (a
            nested output's in its folder, as ``write_outputs`` names it:
            ``report/.report.html.partial``; was: ``.report/report.html.partial``, never
            written).

    Example:
        >>> clear_outputs(Path("runs/no_such_folder"))  # nothing to remove
    """
    for name in RUN_OUTPUTS:  # and what a run killed while writing it left (write_outputs
        output = run_dir / name  # names it in the file's folder: report/.report.html.partial)
        for path in (output, output.with_name(f".{output.name}.partial")):
            if path.name != keep:
                path.unlink(missing_ok=True)
    for folder in sorted({(run_dir / name).parent for name in RUN_OUTPUTS if "/" in name}):
        if folder.is_dir() and not any(folder.iterdir()):  # what a user put there stays
            folder.rmdir()


def held_record(trainer: pl.Trainer, pl_module: pl.LightningModule) -> str | None:
    """The record file the search of ``trainer``'s fit (``OneShotNAS`` among its callbacks:
    ``history.json``; ``DifferentiableNAS``, the module: ``alphas.json``) writes again from
    its state when its training starts, or None while that state holds no entry (the search
    then writes none, so the file on disk is an earlier run's).

    Example:
        >>> held_record(pl.Trainer(logger=False), pl.LightningModule()) is None  # no search
        True
    """
    for search in (pl_module, *trainer.callbacks):
        if isinstance(search, (OneShotNAS, DifferentiableNAS)) and search.history:
            return "history.json" if isinstance(search, OneShotNAS) else "alphas.json"
    return None


class ClearOutputs(pl.Callback):
    """Rank 0 removes the earlier run's outputs when the first training epoch starts: after
    every check (the sanity check's, and DARTS/GDAS's ``on_train_start``, which Lightning
    calls after the callbacks') and a resume's restore, so a run refused for bad input
    removes nothing; a run resumed from a checkpoint of its training's end removes them when
    its fit ends, before the search's ``on_fit_end`` runs the final search and export
    (``oneshot/fit_end.py``; so it comes before the search's callback). A resume
    (``trainer.ckpt_path``) leaves the record its search writes again from the restored
    state in place (``held_record``; the search replaces it right after, as the hook's
    next callback or the module's hook). A fit resumed mid-epoch, whose epoch Lightning
    goes on with without its ``on_train_epoch_start``, removes them as its first batch
    starts (as its training ends where it trains none). ``cleared``: whether it removed
    them (a run that ends before leaves its folder as it was); ``trained``: whether
    training started.

    Args:
        run_dir: the run folder.

    Example:
        >>> ClearOutputs(Path("runs/a")).cleared
        False
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir, self.cleared, self.trained = run_dir, False, False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.trained = True

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero and not self.cleared:
            resumed = trainer.ckpt_path is not None  # (the command checked its algorithm)
            clear_outputs(self.run_dir, held_record(trainer, pl_module) if resumed else None)
        self.cleared = True

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: object, batch_idx: int) -> None:
        # a fit resumed mid-epoch starts no epoch before that epoch's end (Lightning skips
        # its on_train_epoch_start): cleared before its first batch, after every check (was:
        # a finished run's best_arch.yaml and subnet.pt stood beside the resumed training,
        # and for good where that epoch was the last, as its report/ did)
        self.on_train_epoch_start(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.ckpt_path is not None:  # resumed from a checkpoint of an epoch's last
            # batch (saved before that epoch's end): Lightning may train no batch, and the
            # search's final search and export come next (its on_train_end), not a refusal
            self.on_train_epoch_start(trainer, pl_module)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not (self.trained or self.cleared) and trainer.ckpt_path is not None \
                and training_over(trainer):  # the resumed end of a fit: its final search next
            self.on_train_epoch_start(trainer, pl_module)


def wrote_line(run_dir: Path, *names: str) -> str:
    """A new line saying which of the files ``names`` ``run_dir`` holds (rank 0 wrote them;
    ``alphas.png`` only with matplotlib), ``""`` for none (was: a fixed list, which left out
    SPOS's ``history.json`` and DARTS's ``alphas.png``)."""
    paths = [run_dir / name for name in names if (run_dir / name).is_file()]
    return f"\nWrote {joined(paths)}" if paths else ""
