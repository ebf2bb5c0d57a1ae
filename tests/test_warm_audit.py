"""Warm starts whose results would otherwise be quietly wrong: a source written by a newer
version (a trial status this one does not know), a resume whose first start stopped before
it stored its priors, a source given twice as a folder and its copy, a source that gives
no prior (warned of, verbose or not). Real stores, real nevergrad; an objective (nothing
trains)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.integrations.hydra_wording import sweep_phrases
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


def _stopped_before_its_priors(run_dir: Path) -> None:
    """What a first start stopped (Ctrl-C, a crash) while it read its sources leaves: the
    store with its settings and warm_start folders, no priors, no trial."""
    with sqlite3.connect(run_dir / "search.db") as db:
        db.execute("DELETE FROM priors")
        db.execute("DELETE FROM meta WHERE key = 'warm_start'")
        db.execute("DELETE FROM events")
        db.execute("DELETE FROM trials")
    db.close()


def test_a_resume_without_warm_start_of_a_run_that_stored_no_priors_is_refused(tmp_path):
    # was: it ran with no priors, without a word, its store naming its warm_start folders
    _search(tmp_path / "a", 3).run()
    _search(tmp_path / "b", 1, warm_start=[str(tmp_path / "a")]).run()
    _stopped_before_its_priors(tmp_path / "b")
    with pytest.raises(ConfigError) as err:
        _search(tmp_path / "b", 2).run()
    assert str(err.value) == (
        f"{tmp_path / 'b'} holds a search started with `warm_start: "
        f"[{(tmp_path / 'a').resolve()}]` that stopped before it read their results (it "
        f"stored no priors); resume with that warm_start to read them now, or choose "
        f"another run_dir (it completed no trial: remove {tmp_path / 'b'} to start anew)")
    result = _search(tmp_path / "b", 2, warm_start=[str(tmp_path / "a")]).run()
    assert len(result.trials) == 2
    with open_run(tmp_path / "b") as store:
        assert len(store.priors()) == 3


def test_a_folder_and_its_copy_are_refused_as_one_search_given_twice(tmp_path):
    # was: both read, each result told twice (as two tasks: "4 of 4 trials used" each), as
    # the folder named twice is refused for
    _search(tmp_path / "a", 4).run()
    shutil.copytree(tmp_path / "a", tmp_path / "a_copy")
    with pytest.raises(ConfigError) as err:
        _search(tmp_path / "b", 2, warm_start=[str(tmp_path / "a"),
                                              str(tmp_path / "a_copy")]).run()
    assert str(err.value).startswith(
        f"warm_start source {tmp_path / 'a_copy'} is a copy of {tmp_path / 'a'} (the same "
        f"search, 4 trials in each): its results would count twice; give one of them")
    assert not (tmp_path / "b").exists()
    _search(tmp_path / "a_copy", 6).run()  # the copy goes on: it holds the other's trials
    with pytest.raises(ConfigError) as err:
        _search(tmp_path / "b", 2, warm_start=[str(tmp_path / "a"),
                                              str(tmp_path / "a_copy")]).run()
    assert f"(the same search: 4 trials in {tmp_path / 'a'}, 6 in {tmp_path / 'a_copy'}): " \
           f"its results would count twice" in str(err.value)


def _loss(arch: dict) -> dict:
    return {"val_loss": 1 - arch["w"] * 0.1, "val_acc": arch["w"] * 0.1}


@pytest.mark.parametrize("monitor,mode", [("val_loss", "min"), ("val_acc", "min")])
def test_an_optimizer_told_results_as_its_own_refuses_a_source_of_another_scale(
        tmp_path, monitor, mode):
    # was: RandomSearch (any nevergrad optimizer, Reinforce) told the source's -val_acc as
    # this search's val_loss (or, minimising val_acc, its best as the best here), unsaid
    _search(tmp_path / "a", 3).run()
    with pytest.raises(ConfigError) as err:
        Search(None, SPACE, objective=_loss, monitor=monitor, mode=mode, budget=2, seed=0,
               run_dir=tmp_path / "b", optimizer="RandomSearch", verbose=False,
               warm_start=[str(tmp_path / "a")]).run()
    assert str(err.value) == (
        f"optimizer 'RandomSearch' is told the warm_start runs' results as results of this "
        f"search, and warm_start source {tmp_path / 'a'} scored val_acc (max), not this "
        f"search's {monitor} ({mode}): its scores are not on this search's scale; pick a "
        f"strategy that keeps each run's results on its own task (SurrogateEvolution, "
        f"RegularizedEvolution, LocalSearch), or warm-start from runs that scored "
        f"{monitor} ({mode})")
    assert not (tmp_path / "b").exists()
    result = Search(None, SPACE, objective=_loss, monitor=monitor, mode=mode, budget=2,
                    seed=0, run_dir=tmp_path / "b", verbose=False,
                    warm_start=[str(tmp_path / "a")]).run()  # the default: its own task
    assert len(result.trials) == 2


def test_an_optimizer_told_results_as_its_own_takes_a_source_of_its_scale(tmp_path):
    _search(tmp_path / "a", 3).run()
    result = _search(tmp_path / "b", 2, optimizer="RandomSearch",
                     warm_start=[str(tmp_path / "a")]).run()
    assert len(result.trials) == 2
    with open_run(tmp_path / "b") as store:
        assert len(store.priors()) == 3


def _latency(arch: dict) -> dict:
    return {"latency": arch["d"] * 2.0, "val_acc": arch["w"] * 0.1}


def test_a_source_whose_monitor_would_stand_in_for_the_first_objective_is_refused(tmp_path):
    # was: RandomSearch told [-val_acc, -val_acc] of a source that never logged latency, its
    # -val_acc as this search's latency, unsaid but for the report's "stands in"
    _search(tmp_path / "a", 3).run()
    kw = {"objective": _latency, "budget": 2, "seed": 0, "verbose": False,
          "objectives": {"latency": "min", "val_acc": "max"},
          "warm_start": [str(tmp_path / "a")]}
    with pytest.raises(ConfigError) as err:
        Search(None, SPACE, run_dir=tmp_path / "b", optimizer="RandomSearch", **kw).run()
    assert str(err.value) == (
        f"optimizer 'RandomSearch' is told the warm_start runs' results as results of this "
        f"search, and warm_start source {tmp_path / 'a'} never logged this search's first "
        f"objective latency: its monitor val_acc (max) would stand in for it, not on this "
        f"search's scale; pick a strategy that keeps each run's results on its own task "
        f"(SurrogateEvolution, RegularizedEvolution, LocalSearch), or warm-start from runs "
        f"that logged latency")
    assert not (tmp_path / "b").exists()
    Search(None, SPACE, run_dir=tmp_path / "l", objective=_latency, monitor="latency",
           mode="min", budget=3, seed=0, verbose=False).run()  # one that logged it: taken
    result = Search(None, SPACE, run_dir=tmp_path / "b", optimizer="RandomSearch",
                    **{**kw, "warm_start": [str(tmp_path / "l")]}).run()
    assert len(result.trials) == 2


def _both(arch: dict) -> dict:
    return {"val_loss": 1.0 - arch["w"] * 0.1, "val_acc": arch["w"] * 0.1 + arch["d"] * 0.01}


def test_a_source_of_another_monitor_that_logged_this_one_says_why_it_is_not_used(tmp_path):
    # was: "scored val_loss (min), not this search's val_acc (max): its scores are not on
    # this search's scale" alone, though each of its trials logged val_acc too
    Search(None, SPACE, objective=_both, monitor="val_loss", mode="min", budget=3, seed=0,
           run_dir=tmp_path / "a", verbose=False).run()
    with pytest.raises(ConfigError) as err:
        Search(None, SPACE, objective=_both, monitor="val_acc", mode="max", budget=1, seed=0,
               run_dir=tmp_path / "b", optimizer="RandomSearch", verbose=False,
               warm_start=[str(tmp_path / "a")]).run()
    assert ("scored val_loss (min), not this search's val_acc (max): its scores are not on "
            "this search's scale; its trials logged val_acc too, but with one objective a "
            "warm start tells each earlier trial's score, of the monitor it scored (its "
            "val_acc is of the epoch its val_loss chose), not another metric it logged; pick "
            ) in str(err.value)
    assert not (tmp_path / "b").exists()


def _params(arch: dict) -> dict:
    return {"params": arch["d"] * 2.0, "val_acc": arch["w"] * 0.1}


def test_an_objectives_first_objective_params_is_a_returned_value_in_a_warm_start(tmp_path):
    # an objective= search's `params` is a value its function returns, not a count: a
    # source that never logged it is as one that never logged `latency` (was: every trial
    # skipped as "lacking params" by the default strategy, and RandomSearch not refused)
    _search(tmp_path / "a", 3).run()
    kw = {"objective": _params, "budget": 1, "seed": 0, "verbose": False,
          "objectives": {"params": "min", "val_acc": "max"},
          "warm_start": [str(tmp_path / "a")]}
    with pytest.raises(ConfigError, match="never logged this search's first objective params"):
        Search(None, SPACE, run_dir=tmp_path / "r", optimizer="RandomSearch", **kw).run()
    Search(None, SPACE, run_dir=tmp_path / "b", **kw).run()
    with open_run(tmp_path / "b") as store:
        (source,) = store.get_meta("warm_start")["sources"]
        priors = store.priors()
    assert source["first_from_monitor"] == "params" and source["used"] == 3
    assert sorted(p["losses"][0] for p in priors) == sorted(-p["score"] for p in priors)


def test_show_says_a_sources_monitor_stood_in_for_the_first_objective(tmp_path, capsys):
    # was: "warm start: 3 of 3 results of ... (not counted in the budget)" alone, though
    # each result's first loss was its -val_acc, not a latency (said at the search's start)
    from lightning_nas.cli import main
    _search(tmp_path / "a", 3).run()
    Search(None, SPACE, objective=_latency, budget=1, seed=0, verbose=False,
           objectives={"latency": "min", "val_acc": "max"}, run_dir=tmp_path / "b",
           warm_start=[str(tmp_path / "a")]).run()
    note = ("first objective 'latency' not logged there: its monitor val_acc (max) stands "
            "in, on its own task")
    assert main(["show", str(tmp_path / "b")]) == 0
    assert note in capsys.readouterr().out
    assert main(["show", str(tmp_path / "b"), "--format", "json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["summary"]["warm_start"]
    assert shown["first_from_monitor"] == "latency"


def test_a_source_that_gives_no_prior_is_warned_of_verbose_or_not(tmp_path):
    # was: nothing said unless verbose ("0 of 4 trials used" among the search's lines): a
    # warm start that told the optimizer nothing ran as a cold search, without a word
    _search(tmp_path / "a", 4).run()
    cold = Search(None, {"w": {"choice": [5, 6]}, "d": {"choice": [1, 2]}}, objective=_acc,
                monitor="val_acc", mode="max", budget=1, seed=0, run_dir=tmp_path / "b",
                verbose=False, warm_start=[str(tmp_path / "a")])
    with pytest.warns(UserWarning, match="gives this search no prior") as said:
        cold.run()
    source = (tmp_path / "a").resolve()
    lines = [str(w.message) for w in said if "no prior" in str(w.message)]
    assert len(lines) == 1 and lines[0].startswith(
        f"warm_start source {source} gives this search no prior (4 of its 4 trials skipped: "
        f"4 outside this space (#1: architecture value w=")
    assert lines[0].endswith("): it starts as if that source were not given; check the "
                             "folder and this search's space, or leave it out of warm_start")
    with open_run(tmp_path / "b") as store:
        assert store.priors() == []
    swept = sweep_phrases(lines[0])  # a Hydra sweep's in its words
    assert swept.startswith("hydra.sweeper.warm_start source ") and swept.endswith(
        "check the folder and this sweep's hydra.sweeper.params, or leave it out of "
        "hydra.sweeper.warm_start")
