"""Running the Hydra example's sweep (``examples/hydra/src/train.py -m``) in tests: its
script, the reduced sweep's overrides, the time a sweep of processes of their own may
take, and a run of a script forked by the launcher (the training stack imported once).

Example:
    >>> example_args(Path("runs/sweep"), "hydra.sweeper.budget=3")[2:4]
    ['-m', 'hparams_search=nas']
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["REDUCED", "TIMEOUT", "TRAIN", "example_args", "run_forked"]

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "examples" / "hydra" / "src" / "train.py"
#: the example's sweep, reduced: few jobs, one short epoch each
REDUCED = ["hparams_search=nas", "hydra.sweeper.seed=0", "trainer.max_epochs=1",
           "+trainer.limit_train_batches=3", "+trainer.limit_val_batches=2"]
#: generous: several Python processes import torch and Lightning on 2 shared cores
TIMEOUT = 600


def example_args(run: Path, *overrides: str) -> list[str]:
    """``python train.py -m`` with the reduced sweep's overrides, then ``overrides``, its
    jobs in ``run`` (``hydra.sweep.dir``)."""
    return [sys.executable, str(TRAIN), "-m", *REDUCED, *overrides, f"hydra.sweep.dir={run}"]


def run_forked(launcher, cwd: Path, script: Path, argv: list[str],
               full_error: str | None = "1") -> subprocess.CompletedProcess:
    """``python SCRIPT ARGV`` in ``cwd``, forked by ``launcher`` (the training stack imported
    once, not by a fresh ``python``), with ``HYDRA_FULL_ERROR`` set to ``full_error``
    (``None``: unset); its exit code (``-9``: killed), stdout and stderr."""
    out, err = cwd / "out.txt", cwd / "err.txt"
    for path in (out, err):
        path.unlink(missing_ok=True)
    code = launcher.run(argv, out, script, TIMEOUT, cwd, err, {"HYDRA_FULL_ERROR": full_error})
    return subprocess.CompletedProcess(argv, code, out.read_text(), err.read_text())
