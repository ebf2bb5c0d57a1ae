"""A run folder a newer version wrote, whose ``search.db`` holds a trial of a status this
version does not know (``STOPPED``): its resume is refused before anything runs, in words
that say to resume it with that version; ``export`` and ``finetune`` of its known trials
work, and an export of the unknown one is refused in words that name it. Real searches
(TinyNet, real Trainer), real stores made newer with sqlite3, the real command line."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import StoreError
from lightning_nas.export import finetune
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers import BlobData, TinyNet

TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "limit_train_batches": 2,
           "enable_progress_bar": False, "enable_model_summary": False}
NEWER = (r"holds 1 trial of a status this version of lightning-nas \([^)]+\) does not know "
         r"\(a newer one's\): 1 stopped; resume it with the version that wrote it")


def _search(run: Path, budget: int) -> Search:
    return Search(TinyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData(n=96),
                  trainer=TRAINER, budget=budget, run_dir=run, seed=0, verbose=False)


def _digest(run: Path) -> tuple[str, list[str]]:
    """``search.db``'s bytes and every file under the run folder: what a resume would change."""
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*"))
    return hashlib.sha256((run / "search.db").read_bytes()).hexdigest(), files


@pytest.fixture(scope="module")
def newer_run(tmp_path_factory) -> tuple[Path, int, int]:
    """A finished 2-trial run whose worse trial a newer version marked ``STOPPED``: the run,
    the stopped trial and the best one."""
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("newer") / "run"
    _search(run, 2).run()
    with RunStore(run / "search.db", read_only=True) as store:
        best = store.best("max").trial_id
    stopped = 3 - best
    with sqlite3.connect(run / "search.db") as db:
        db.execute("UPDATE trials SET status = 'STOPPED' WHERE id = ?", (stopped,))
    db.close()
    return run, stopped, best


def test_a_resume_of_a_newer_versions_run_is_refused_before_anything_runs(newer_run):
    # was: ValueError: 'STOPPED' is not a valid TrialStatus (from SearchLoop, after the
    # store was opened for writing)
    run, _, _ = newer_run
    before = _digest(run)
    with pytest.raises(StoreError, match=NEWER + r".*; `lightning-nas show`, `export` and "
                                                 r"`finetune` read its other trials$"):
        _search(run, 3).run()
    assert _digest(run) == before


def test_the_command_lines_resume_is_refused_in_one_line(newer_run, tmp_path, capsys):
    run, _, _ = newer_run
    cfg = {"model": {"class_path": "tests.helpers.TinyNet"},
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 96}},
           "trainer": TRAINER, "seed_everything": 0,
           "search": {"space": {"width": {"choice": [4, 8, 16]}}, "budget": 3,
                      "run_dir": str(run)}}
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(cfg))
    before = _digest(run)
    assert main(["search", str(tmp_path / "search.yaml")]) != 0
    err = capsys.readouterr().err
    assert "holds 1 trial of a status this version of lightning-nas" in err, err
    assert "Traceback" not in err and "ValueError" not in err, err
    assert _digest(run) == before


def test_export_and_finetune_of_a_known_completed_trial_work(newer_run, tmp_path, capsys):
    # was: ValueError: 'STOPPED' is not a valid TrialStatus, where it read every trial
    run, _, best = newer_run
    assert main(["export", str(run)]) == 0, capsys.readouterr().err
    assert yaml.safe_load((run / "best.yaml").read_text())["trial"] == best
    assert main(["export", str(run), "--trial", str(best)]) == 0, capsys.readouterr().err
    result = finetune(run, max_epochs=1, data=BlobData(n=96), out_dir=tmp_path / "ft")
    assert result.status is TrialStatus.COMPLETED, result.error


def test_an_export_of_the_unknown_trial_is_refused_naming_it(newer_run, tmp_path, capsys):
    # was: ValueError: 'STOPPED' is not a valid TrialStatus (a traceback)
    run, stopped, _ = newer_run
    assert main(["export", str(run), "--trial", str(stopped)]) != 0
    err = capsys.readouterr().err
    assert (f"trial {stopped} of {run / 'search.db'} has status 'STOPPED', a status this "
            f"version of lightning-nas does not know (a newer one's): read it with the "
            f"version that wrote it") in err, err
    assert "Traceback" not in err, err


def test_a_sweeps_resume_of_a_newer_versions_run_is_refused_naming_its_folder_key(tmp_path,
                                                                                  capsys):
    # and naming only the commands that read a sweep's run folder: `show` and `export`, not
    # `finetune`, which refuses any sweep's (was: "`lightning-nas show`, `export` and
    # `finetune` read its other trials")
    pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core")
    from tests.helpers_hydra_sweep import multirun

    def task(cfg) -> float:
        return -abs(cfg.x - 7)

    sweeper = {"budget": 2, "params": {"x": "range(0, 12)"}}
    multirun(tmp_path, task, sweeper)
    with sqlite3.connect(tmp_path / "run" / "search.db") as db:
        db.execute("UPDATE trials SET status = 'STOPPED' WHERE id = 1")
    db.close()
    before = _digest(tmp_path / "run")
    with pytest.raises(StoreError, match=NEWER + r" \(its last: [^)]+\), or choose another "
                                                  r"hydra.sweeper.run_dir; `lightning-nas "
                                                  r"show` and `export` read its other "
                                                  r"trials$"):
        multirun(tmp_path, task, {**sweeper, "budget": 3})
    assert _digest(tmp_path / "run") == before
    run = str(tmp_path / "run")  # what the refusal says, tried: show and export read it
    capsys.readouterr()
    assert main(["show", run]) == 0 and "COMPLETED" in capsys.readouterr().out
    assert main(["export", run]) == 0, capsys.readouterr().err
    assert yaml.safe_load((tmp_path / "run" / "best.yaml").read_text())["trial"] == 2
    assert main(["finetune", run]) == 2  # (a sweep's task builds its model, not lightning-nas)
    assert "is a Hydra sweep" in capsys.readouterr().err
