"""A multi-objective search tells nevergrad how many objectives there are before its first
ask (``optimizer.num_objectives``), where its run store says the run began so (meta
``objectives_up_front``, written into every new store); a run an older version began lacks
it, and resumes as it ran: its optimizer learns the number at its first tell.

What telling it first changes, each shown below: ``NGOpt`` proposed until its first tell
with the optimizer it chose for one objective (``Cobyla`` or ``MetaModel`` over floats,
a portfolio chain over choices), then switched to ``DE``; ``PymooNSGA2`` spent its first
ask on learning the number (a random point, its result never told to pymoo). Real searches
over ``objective=`` functions, on real SQLite stores.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest

from lightning_nas import Search
from lightning_nas.errors import NoCompletedTrialError
from lightning_nas.space import SearchSpace
from lightning_nas.store import OBJECTIVES_UP_FRONT, RunStore
from lightning_nas.strategies import make_optimizer

#: a space where NGOpt's first proposal with two objectives differs whether it knew the
#: number at that ask (``DE``'s) or not (its single-objective choice's)
SPACE = {"a": {"choice": [1, 2, 3, 4]}, "b": {"choice": [8, 16, 32]},
         "c": {"choice": ["relu", "gelu"]}}
OBJECTIVES = {"val_acc": "max", "cost": "min"}
#: nevergrad's warning for an optimizer that spends its first ask on learning the number
LEARNS_AT_FIRST_TELL = "more efficient to set num_objectives before the optimization begins"


def _two(arch: dict[str, Any]) -> dict[str, float]:
    return {"val_acc": arch["a"] / 4 - arch["b"] / 100, "cost": float(arch["a"] * arch["b"])}


def _search(run_dir: Path, optimizer: str = "NGOpt", **kw: Any) -> Search:
    kw = {"budget": 6, **kw}
    return Search(None, SPACE, objective=_two, objectives=OBJECTIVES, optimizer=optimizer,
                  seed=0, run_dir=run_dir, verbose=False, **kw)


def _first_proposal(up_front: bool, optimizer: str = "NGOpt") -> dict[str, Any]:
    """The first architecture ``optimizer`` proposes, as ``_search`` makes it, told the
    number of objectives before (``up_front``) or not."""
    opt = make_optimizer(optimizer, SearchSpace.from_dict(SPACE), budget=6, seed=0)
    if up_front:
        opt.num_objectives = 2
    return SearchSpace.from_dict(SPACE).validate(opt.ask().value)


def _as_an_older_version_began_it(run_dir: Path, optimizer: str = "NGOpt") -> None:
    """A real run folder with no trial yet (a time limit reached at once), its flag row
    removed: the store an older version began."""
    with pytest.raises(NoCompletedTrialError, match="the time limit of 1e-09s was reached"):
        _search(run_dir, optimizer, time_limit=1e-9).run()
    with sqlite3.connect(run_dir / "search.db") as db:
        assert db.execute("DELETE FROM meta WHERE key = ?", (OBJECTIVES_UP_FRONT,)).rowcount == 1
    db.close()


def _trials_and_events(run_dir: Path) -> tuple[list, list]:
    with RunStore(run_dir / "search.db") as store:
        return ([(t.trial_id, t.arch, t.status, t.metrics) for t in store.trials()],
                store.events())


def _flag(run_dir: Path) -> Any:
    with RunStore(run_dir / "search.db", read_only=True) as store:
        return store.get_meta(OBJECTIVES_UP_FRONT)


def test_a_new_multi_objective_search_tells_ngopt_the_number_before_its_first_ask(tmp_path):
    # was: NGOpt proposed trial 1 with the optimizer it chose for a single objective, and
    # switched to DE at its first tell (the number learnt there)
    lazy, up_front = _first_proposal(False), _first_proposal(True)
    assert lazy != up_front  # (this space tells them apart)
    trials = _search(tmp_path).run().trials
    assert trials[0].arch == up_front
    assert _flag(tmp_path) is True


def test_a_run_an_older_version_began_resumes_as_it_ran(tmp_path):
    # no flag: the optimizer learns the number at its first tell, as the older version's
    # did, so its resume replays exactly and goes on as the uninterrupted run
    for run in ("full", "stopped"):
        _as_an_older_version_began_it(tmp_path / run)
    full = _search(tmp_path / "full").run()
    assert full.trials[0].arch == _first_proposal(False)
    _search(tmp_path / "stopped", budget=3).run()
    _search(tmp_path / "stopped").run()
    assert _trials_and_events(tmp_path / "stopped") == _trials_and_events(tmp_path / "full")
    assert all(e["kind"] in ("ask", "tell") for e in _trials_and_events(tmp_path / "full")[1])
    assert _flag(tmp_path / "stopped") is None  # a resume does not add it


def test_a_new_multi_objective_search_resumes_exactly_after_a_stop(tmp_path):
    _search(tmp_path / "full").run()
    _search(tmp_path / "stopped", budget=3).run()
    _search(tmp_path / "stopped").run()
    assert _trials_and_events(tmp_path / "stopped") == _trials_and_events(tmp_path / "full")
    assert all(e["kind"] in ("ask", "tell") for e in _trials_and_events(tmp_path / "full")[1])


KILLED = """
import os, sys

from lightning_nas import Search
from lightning_nas.search import asktell


def two(arch):
    return {"val_acc": arch["a"] / 4 - arch["b"] / 100, "cost": float(arch["a"] * arch["b"])}


def dying(write, die_at):
    def wrapped(self, candidate, trial_id, *args, **kwargs):
        if trial_id == die_at:  # killed right after the trial's row was written
            os._exit(9)
        return write(self, candidate, trial_id, *args, **kwargs)
    return wrapped


if __name__ == "__main__":
    run_dir, die_at = sys.argv[1], int(sys.argv[2])
    asktell.AskTell.started = dying(asktell.AskTell.started, die_at)
    Search(None, {"a": {"choice": [1, 2, 3, 4]}, "b": {"choice": [8, 16, 32]},
                  "c": {"choice": ["relu", "gelu"]}}, objective=two,
           objectives={"val_acc": "max", "cost": "min"}, optimizer="NGOpt", budget=6, seed=0,
           run_dir=run_dir, verbose=False).run()
"""


def test_a_killed_multi_objective_search_resumes_making_the_choices_it_would_have(
        tmp_path, launcher):
    # its resume tells the fresh optimizer the number first too (the store's flag), so the
    # replay proposes what the run did: no architecture told as not asked ("given")
    script = tmp_path / "kill.py"
    script.write_text(KILLED)

    def run(run_dir: Path, die_at: int) -> int:
        return launcher.run([run_dir, die_at], tmp_path / "log.txt", script, timeout=120)

    assert run(tmp_path / "full", 0) == 0
    assert run(tmp_path / "killed", 4) == 9
    assert run(tmp_path / "killed", 0) == 0, (tmp_path / "log.txt").read_text()[-3000:]
    trials, events = _trials_and_events(tmp_path / "killed")
    assert (trials, events) == _trials_and_events(tmp_path / "full")
    assert len(trials) == 6 and {e["kind"] for e in events} == {"ask", "tell"}
    assert trials[0][1] == _first_proposal(True)


def test_pymoo_learns_from_the_first_trial_of_a_new_run(tmp_path):
    # was: PymooNSGA2's first ask was a random point while it learnt the number of
    # objectives, and trial 1's result was never told to pymoo (nevergrad's warning says so)
    pytest.importorskip("pymoo.factory", reason="nevergrad's Pymoo* need pymoo < 0.6 here")

    def said(run_dir: Path) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _search(run_dir, optimizer="PymooNSGA2", budget=3).run()
        return [str(w.message) for w in caught if LEARNS_AT_FIRST_TELL in str(w.message)]

    assert said(tmp_path / "new") == []
    _as_an_older_version_began_it(tmp_path / "older", "PymooNSGA2")
    assert said(tmp_path / "older")  # as it ran: the number learnt at trial 1's tell
