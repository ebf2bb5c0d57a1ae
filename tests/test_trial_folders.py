"""What a finished search leaves in ``trials/``: no empty folder of a trial whose checkpoint
it removed (real Trainers, real nevergrad, real SQLite)."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.results import TrialStatus
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

SPACE = {"width": {"choice": [4, 8, 16, 32, 64]}, "lr": {"float": [0.01, 0.3]}}
#: no logger: a trial's folder holds its checkpoints alone
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False, "enable_model_summary": False}


def _search(run: Path, budget: int, **kw) -> Search:
    kw.setdefault("trainer", TRAINER)
    return Search(TinyNet, SPACE, data=BlobData, budget=budget, run_dir=run, seed=0,
                  verbose=False, **kw)


def _folders(run: Path) -> dict[str, list[str]]:
    """Each trial folder and the names of what it holds, sorted."""
    return {d.name: sorted(p.relative_to(d).as_posix() for p in d.rglob("*"))
            for d in sorted((run / "trials").iterdir())}


def test_a_trial_whose_checkpoint_the_search_removed_leaves_no_empty_folder(tmp_path, capsys):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    result = _search(run, 5, keep_top_k=2).run()
    kept = sorted(t.trial_id for t in result.trials if t.checkpoint)
    assert len(kept) == 2 and all(t.status is TrialStatus.COMPLETED for t in result.trials)
    # was: {'trial_0001': ['best.ckpt'], 'trial_0002': [], ...}, an empty folder per trial
    # outside the best keep_top_k
    assert _folders(run) == {f"trial_{i:04d}": ["best.ckpt"] for i in kept}
    # show, export --trial of a trial without its folder (as before: checkpoint null, no
    # best.ckpt), the best again, report
    other = min(t.trial_id for t in result.trials if not t.checkpoint)
    capsys.readouterr()
    assert main(["show", str(run)]) == 0
    assert "5 completed, 0 failed" in capsys.readouterr().out
    assert main(["export", str(run), "--trial", str(other)]) == 0
    said = yaml.safe_load(capsys.readouterr().out)
    assert (said["trial"], said["checkpoint"]) == (other, None)
    assert not (run / "best.ckpt").exists()
    assert main(["export", str(run)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["checkpoint"] == "best.ckpt"
    assert main(["report", str(run)]) == 0
    assert (run / "report" / "report.html").is_file()
    # a resume trains on, a warm start from the run reads it
    more = _search(run, 7, keep_top_k=2).run()
    assert [t.status for t in more.trials] == [TrialStatus.COMPLETED] * 7
    kept = sorted(t.trial_id for t in more.trials if t.checkpoint)
    assert _folders(run) == {f"trial_{i:04d}": ["best.ckpt"] for i in kept}
    warm = _search(tmp_path / "warm", 2, warm_start=[str(run)]).run()
    assert [t.status for t in warm.trials] == [TrialStatus.COMPLETED] * 2


def test_a_folder_holding_anything_else_stays(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    first = _search(run, 3, keep_top_k=3).run()
    worst = min(first.trials, key=lambda t: (t.score, -t.trial_id)).trial_id
    others = [t.trial_id for t in first.trials if t.trial_id != worst]
    mine = run / "trials" / f"trial_{worst:04d}" / "notes.txt"  # a user's file
    mine.write_text("mine")
    (run / "trials" / f"trial_{others[0]:04d}" / "mine").mkdir()  # a user's empty folder
    # a resume keeping fewer checkpoints removes those outside the best (at its start)
    result = _search(run, 3, keep_top_k=1).run()
    best = result.best.trial_id
    expected = {f"trial_{best:04d}": ["best.ckpt"], f"trial_{worst:04d}": ["notes.txt"]}
    if others[0] != best:
        expected[f"trial_{others[0]:04d}"] = ["mine"]
    else:
        expected[f"trial_{best:04d}"] = ["best.ckpt", "mine"]
    assert _folders(run) == dict(sorted(expected.items()))
    assert mine.read_text() == "mine"


def test_a_loggers_version_in_the_trial_folder_keeps_it(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    trainer = {key: value for key, value in TRAINER.items() if key != "logger"}
    result = _search(run, 3, keep_top_k=1, trainer=trainer).run()
    folders = _folders(run)
    assert len(folders) == 3 and all("logs/metrics.csv" in held for held in folders.values())
    assert [name for name, held in folders.items() if "best.ckpt" in held] == \
        [f"trial_{result.best.trial_id:04d}"]


def test_paused_trials_keep_their_folders_and_a_resume_promotes_them(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    asha = {"scheduler": "asha", "min_epochs": 1, "eta": 2, "max_epochs": 2, "keep_top_k": 1,
            "trainer": {**TRAINER, "max_epochs": 2}}
    first = _search(run, 5, **asha).run()
    paused = [t.trial_id for t in first.trials if t.status is TrialStatus.PAUSED]
    assert paused  # the rung's lower half, waiting for a promotion
    folders = _folders(run)
    for trial_id in paused:
        assert folders[f"trial_{trial_id:04d}"] == ["best.ckpt", "last.ckpt"]
    completed = [t for t in first.trials if t.status is TrialStatus.COMPLETED]
    assert not [name for name, held in folders.items() if not held]  # was: one per extra
    assert sum(f"trial_{t.trial_id:04d}" in folders for t in completed) == 1
    more = _search(run, 9, **asha).run()  # promotes paused trials, trains new ones
    assert not [t for t in more.trials if t.status in (TrialStatus.FAILED, TrialStatus.RUNNING)]
    promoted = [t for t in more.trials if t.trial_id in paused and t.epochs == 2]
    assert promoted and all(t.status is TrialStatus.COMPLETED for t in promoted)
    assert more.best.checkpoint is not None
    assert not [name for name, held in _folders(run).items() if not held]
    still = {t.trial_id for t in more.trials if t.status is TrialStatus.PAUSED}
    for trial_id in still:
        assert "last.ckpt" in _folders(run)[f"trial_{trial_id:04d}"]


def test_a_pruned_trial_leaves_no_folder_a_failed_one_keeps_its(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    # width 4 fails: its folder stays (a resume that its failure stopped runs it again, and
    # clears what it left elsewhere only where its folder says it ran here)
    result = _search(run, 8, trainer={**TRAINER, "max_epochs": 3}, scheduler="median",
                     min_epochs=1, max_failures=20, optimizer="RandomSearch",
                     model_init_args={"fail_width": 4}).run()
    by_status = {s: [t.trial_id for t in result.trials if t.status is s] for s in TrialStatus}
    assert by_status[TrialStatus.FAILED] and by_status[TrialStatus.PRUNED], by_status
    folders = _folders(run)
    for trial_id in by_status[TrialStatus.FAILED]:
        assert folders[f"trial_{trial_id:04d}"] == []
    assert not [i for i in by_status[TrialStatus.PRUNED] if f"trial_{i:04d}" in folders]
