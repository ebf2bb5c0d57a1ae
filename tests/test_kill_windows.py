"""The narrow kill windows of a resumable fit (real Trainers, real nevergrad and SQLite):

- a promoted search trial whose folder holds the held weights of an undecided tie
  (``.tie.ckpt``) that a kill left.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

SPACE = {"width": {"choice": [4, 8, 16, 32, 64]}, "lr": {"float": [0.01, 0.3]}}
TRAINER = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False, "enable_model_summary": False}
ASHA = {"scheduler": "asha", "min_epochs": 1, "eta": 2, "max_epochs": 2, "keep_top_k": 10}


def _search(run: Path, budget: int) -> Search:
    return Search(TinyNet, SPACE, data=BlobData, budget=budget, run_dir=run, seed=0,
                  verbose=False, trainer=TRAINER, **ASHA)


def test_a_promoted_trial_removes_the_held_tie_weights_a_kill_left(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    first = _search(run, 5).run()
    paused = [t.trial_id for t in first.trials if t.status is TrialStatus.PAUSED]
    assert paused
    for trial_id in paused:  # as a kill within a tie of its (earlier) promotion leaves it
        (run / "trials" / f"trial_{trial_id:04d}" / ".tie.ckpt").write_bytes(b"stale")
    more = _search(run, 9).run()
    promoted = [t.trial_id for t in more.trials if t.trial_id in paused and t.epochs == 2]
    assert promoted
    for trial_id in promoted:  # was: kept beside its best.ckpt until its next tie
        assert not (run / "trials" / f"trial_{trial_id:04d}" / ".tie.ckpt").exists()
    assert torch.load(more.best.checkpoint, map_location="cpu", weights_only=False)
