"""``retrain_top_k`` on a resume: what the first start said of the earlier architectures it
could not train again (none left, one over a constraint) is said once per run, not again
by each resume. Real stores, real nevergrad, real resumes (a second ``Search(...).run()``
on the same run folder with a larger budget); an objective (nothing trains)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_nas import Search
from lightning_nas.store import open_run

SPACE = {"w": {"choice": [1, 2, 3, 4]}, "d": {"choice": [1, 2]}}
NO_MORE = ("[warm start] retrain_top_k=3, and the earlier runs gave 2 distinct architectures "
           "within the limits: no more to train again")


def _acc(arch: dict) -> dict:
    return {"val_acc": arch["w"] * 0.1 + arch["d"] * 0.01}


def _search(run_dir: Path, budget: int, **kw) -> Search:
    kw.setdefault("verbose", False)
    kw.setdefault("objective", _acc)
    return Search(None, SPACE, monitor="val_acc", mode="max", budget=budget,
                  seed=0, run_dir=run_dir, optimizer="RandomSearch", **kw)


def test_no_more_to_train_again_is_said_on_the_first_start_only(tmp_path, capsys):
    # was: said again by each resume, though nothing had changed
    _search(tmp_path / "source", 2).run()
    warm = {"warm_start": [str(tmp_path / "source")], "retrain_top_k": 3, "verbose": True}
    _search(tmp_path / "run", 3, **warm).run()
    assert capsys.readouterr().out.count(NO_MORE) == 1
    result = _search(tmp_path / "run", 5, **warm).run()
    assert len(result.trials) == 5
    assert NO_MORE not in capsys.readouterr().out


def test_no_more_to_train_again_is_said_by_the_resume_that_reaches_it(tmp_path, capsys):
    # a first start stopped (Ctrl-C) while it trained the earlier architectures again never
    # said it: its resume does, once
    _search(tmp_path / "source", 2).run()
    calls = []

    def stopped(arch: dict) -> dict:
        calls.append(arch)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return _acc(arch)

    warm = {"warm_start": [str(tmp_path / "source")], "retrain_top_k": 3, "verbose": True}
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path / "run", 3, objective=stopped, **warm).run()
    assert NO_MORE not in capsys.readouterr().out
    _search(tmp_path / "run", 3, **warm).run()
    assert capsys.readouterr().out.count(NO_MORE) == 1
    _search(tmp_path / "run", 4, **warm).run()
    assert NO_MORE not in capsys.readouterr().out


def test_one_over_a_constraint_is_said_on_the_first_start_only(tmp_path, capsys):
    # was: '[warm start] not trained again: ...' and the count said again by each resume
    _search(tmp_path / "source", 4).run()
    with open_run(tmp_path / "source") as store:
        best = store.leaderboard("max", k=1)[0].arch
    warm = {"warm_start": [str(tmp_path / "source")], "retrain_top_k": 2, "verbose": True,
            "constraints": [lambda arch: arch != best]}
    _search(tmp_path / "run", 3, **warm).run()
    out = capsys.readouterr().out
    assert out.count("[warm start] not trained again: ") == 1
    _search(tmp_path / "run", 5, **warm).run()
    out = capsys.readouterr().out
    assert "[warm start] not trained again: " not in out
    assert "no more to train again" not in out
