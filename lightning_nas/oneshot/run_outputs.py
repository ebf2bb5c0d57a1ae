"""The outputs ``lightning-nas oneshot`` writes into its run folder (``RUN_OUTPUTS``), their
removal when a new run in the folder trains (``clear_outputs``, by the ``ClearOutputs``
callback of the run's Trainer) and the line that names those a run wrote (``wrote_line``).

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

from lightning_nas.oneshot.fit_end import training_over
from lightning_nas.wording import joined

__all__ = ["RUN_OUTPUTS", "ClearOutputs", "clear_outputs", "wrote_line"]

#: the files a run writes into its ``run_dir`` (``report/``: those of ``lightning-nas report``)
RUN_OUTPUTS = ("best_arch.yaml", "history.json", "subnet.pt", "alphas.json", "alphas.png",
               "finetune.json", "subnet_finetuned.pt", "report/report.html",
               "report/subnets.png", "report/alphas.png")


def clear_outputs(run_dir: Path) -> None:
    """Remove an earlier run's outputs (``RUN_OUTPUTS``) from ``run_dir``, so none of them
    stands beside the new run's (an old ``subnet_finetuned.pt`` next to a new
    ``subnet.pt``, an old ``history.json`` next to a new DARTS run's ``alphas.json``).
    ``checkpoints/`` stays: ``--ckpt_path`` resumes from it.

    Example:
        >>> clear_outputs(Path("runs/no_such_folder"))  # nothing to remove
    """
    for name in RUN_OUTPUTS:  # and what a run killed while writing it left (write_outputs)
        for path in (run_dir / name, run_dir / f".{name}.partial"):
            path.unlink(missing_ok=True)


class ClearOutputs(pl.Callback):
    """Rank 0 removes the earlier run's outputs when the first training epoch starts: after
    every check (the sanity check's, and DARTS/GDAS's ``on_train_start``, which Lightning
    calls after the callbacks') and a resume's restore, so a run refused for bad input
    removes nothing; a run resumed from a checkpoint of its training's end removes them when
    its fit ends, before the search's ``on_fit_end`` runs the final search and export
    (``oneshot/fit_end.py``; so it comes before the search's callback). ``cleared``: whether
    it removed them (a run that ends before leaves its folder as it was); ``trained``:
    whether training started (a fit resumed mid-epoch starts no epoch: its outputs, written
    by ``on_train_end``, stay).

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
            clear_outputs(self.run_dir)
        self.cleared = True

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
