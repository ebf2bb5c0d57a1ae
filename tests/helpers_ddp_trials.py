"""DDP trials run by this process in tests (``run_trial`` on 2 gloo ranks on CPU, one
epoch on blobs), and the processes a process started (Linux ``/proc``), to tell which of
their ranks outlive them.

Example:
    >>> import os
    >>> os.getpid() in descendants(os.getppid())
    True
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lightning_nas.results import TrialResult
from lightning_nas.search.runner import run_trial
from lightning_nas.search.trial import TrialSpec
from tests.helpers_data import BlobData
from tests.helpers_fresh_ranks import PIDS

__all__ = ["DDP", "ddp_trial", "descendants"]

#: a trial's Trainer settings: 2 DDP ranks on CPU, one epoch
DDP = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1}


def ddp_trial(tmp_path: Path, trial_id: int, model: str = "tests.helpers.RankFaults",
              data: Any = BlobData, trainer: dict[str, Any] | None = None,
              **arch: Any) -> tuple[TrialResult, str, dict[int, int]]:
    """Run trial ``trial_id`` of ``model`` with ``arch`` on ``DDP`` (with ``trainer``'s
    settings over it) in ``tmp_path/t<id>``: its result, its ``trial.log`` and its ranks'
    pids by rank (as ``RankFaults`` prints them)."""
    spec = TrialSpec(trial_id=trial_id, arch=arch, trial_dir=str(tmp_path / f"t{trial_id}"),
                     model=model, data=data, trainer={**DDP, **(trainer or {})})
    result = run_trial(spec)
    log = (tmp_path / f"t{trial_id}" / "trial.log").read_text()
    pids = {int(r): int(p) for r, p in re.findall(PIDS, log)}
    return result, log, pids


def descendants(pid: int) -> set[int]:
    """The processes ``pid`` started, and theirs (Linux ``/proc``)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found |= {child} | descendants(child)
    return found
