"""Running ``lightning-nas oneshot`` on the digits example in tests and reading its record
files: the example's folder, the tiny run's arguments, a run in a process of its own (one a
SIGKILL can end) and the entries of SPOS's ``history.json`` / DARTS's ``alphas.json``.

Example:
    >>> RECORD["darts.yaml"], EXAMPLE.name
    ('alphas.json', 'oneshot_digits')
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.launcher import ROOT

__all__ = ["EXAMPLE", "RECORD", "TINY", "oneshot_process", "record_entries"]

EXAMPLE = ROOT / "examples" / "oneshot_digits"
#: a run of three epochs of two batches, calibrated on one batch, without a fine-tune
TINY = ["--trainer.max_epochs=3", "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=2", "--oneshot.calibration_batches=1",
        "--oneshot.finetune_epochs=0"]

#: the record a run keeps of its epochs: SPOS the subnets each search scored, DARTS/GDAS
#: the logits and probabilities of each epoch
RECORD = {"oneshot.yaml": "history.json", "darts.yaml": "alphas.json"}


def record_entries(config: str, record: Path) -> list[dict[str, object]]:
    """The entries of a run's ``record`` file (its ``history``), epoch by epoch; ``config``:
    the example's file the run was of (``RECORD``'s keys)."""
    content = json.loads(record.read_text())
    return content if config == "oneshot.yaml" else content["history"]


def oneshot_process(launcher, folder: Path, *args: str) -> tuple[int, str, str]:
    """``lightning-nas oneshot ARGS`` in a process of its own (one a SIGKILL can end), forked
    by ``launcher`` (its imports paid once); its exit code, stdout and stderr (files in
    ``folder``)."""
    out, err = folder / "out.txt", folder / "err.txt"
    for path in (out, err):
        path.unlink(missing_ok=True)
    code = launcher.run(["oneshot", *args], out, err=err, timeout=600)
    return code, out.read_text(), err.read_text()
