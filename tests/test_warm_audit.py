"""Warm starts whose results would otherwise be quietly wrong: a source written by a newer
version (a trial status this one does not know), a resume whose first start stopped before
it stored its priors, a source given twice as a folder and its copy. Real stores, real
nevergrad; an objective (nothing trains)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lightning_nas import Search
from lightning_nas.store import open_run

SPACE = {"w": {"choice": [1, 2, 3, 4]}, "d": {"choice": [1, 2]}}


def _acc(arch: dict) -> dict:
    return {"val_acc": arch["w"] * 0.1 + arch["d"] * 0.01}


def _search(run_dir: Path, budget: int, **kw) -> Search:
    return Search(None, SPACE, objective=_acc, monitor="val_acc", mode="max", budget=budget,
                  seed=0, run_dir=run_dir, verbose=False, **kw)


def _set_status(run_dir: Path, trial_id: int, status: str) -> None:
    """What a newer version may write: a status this one does not know."""
    with sqlite3.connect(run_dir / "search.db") as db:
        db.execute("UPDATE trials SET status = ? WHERE id = ?", (status, trial_id))
    db.close()


def test_a_trial_status_this_version_does_not_know_is_skipped_and_said(tmp_path, capsys):
    # was: ValueError: 'STOPPED' is not a valid TrialStatus, raised after this search's
    # search.db was made (its retry raised it again; one without warm_start ran cold)
    _search(tmp_path / "a", 4).run()
    _set_status(tmp_path / "a", 1, "STOPPED")
    result = Search(None, SPACE, objective=_acc, monitor="val_acc", mode="max", budget=2,
                    seed=0, run_dir=tmp_path / "b", warm_start=[str(tmp_path / "a")]).run()
    assert len(result.trials) == 2
    said = capsys.readouterr().out
    assert "3 of 4 trials used; skipped: 1 not completed (1 stopped: a status this " \
           "version of lightning-nas does not know" in said
    with open_run(tmp_path / "b") as store:
        used = sorted(p["source_trial"] for p in store.priors())
        source = store.get_meta("warm_start")["sources"][0]
    assert used == [2, 3, 4]
    assert source["not_completed_by"] == {"stopped": 1}

