"""Warm starts from sources of another kind: another length of training, a one-shot run's
folder, trials that did not complete (paused, pruned, failed, rejected, running). Real
stores, real Trainers, real nevergrad."""

from __future__ import annotations

import json
import signal
import socket
import textwrap
import warnings
from pathlib import Path

import pytest

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.warm import load_priors
from lightning_nas.space import SearchSpace
from lightning_nas.store import open_run, open_search_store
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_runs import wait_for_trials

SPACE = {"width": {"choice": [4, 8, 16]}}


def _tiny(run_dir, epochs: int, budget: int, **kw) -> Search:
    trainer = {"max_epochs": epochs, "accelerator": "cpu", "devices": 1,
               "limit_train_batches": 2}
    kw.setdefault("verbose", False)
    return Search(TinyNet, SPACE, data=BlobData, trainer=trainer, budget=budget, seed=0,
                  run_dir=run_dir, **kw)


def test_the_epochs_a_sources_results_trained_are_said(tmp_path, capsys):
    # was: "warm start from .../source (val_acc, max): 2 of 2 trials used", nothing said of
    # the source's 3 epochs of training against this search's 1: its scores read as if of
    # this search's fidelity
    _tiny(tmp_path / "source", 3, 2).run()
    result = _tiny(tmp_path / "warm", 1, 1, warm_start=[str(tmp_path / "source")],
                   verbose=True).run()
    source = (tmp_path / "source").resolve()
    assert (f"warm start from {source} (val_acc, max; its results trained 3 epochs): "
            f"2 of 2 trials used") in capsys.readouterr().out
    with open_run(tmp_path / "warm") as store:
        assert store.get_meta("warm_start")["sources"][0]["epochs"] == [3, 3]
    assert main(["show", str(tmp_path / "warm")]) == 0
    out = capsys.readouterr().out
    assert (f"warm start: 2 of 2 results of {source} (trained 3 epochs there; not counted "
            f"in the budget)") in out
    assert main(["show", str(tmp_path / "warm"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["warm_start"][0]["epochs"] == [3, 3]
    # a prior is never this run's trial: the best is one trained here, for 1 epoch
    assert [t.epochs for t in result.trials] == [1] and result.best.epochs == 1


def test_a_one_shot_run_folder_is_refused_as_such(tmp_path):
    # was: "is not a run directory (no search.db)", as of any folder
    (tmp_path / "oneshot").mkdir()
    (tmp_path / "oneshot" / "best_arch.yaml").write_text("width: 8\n")
    with pytest.raises(ConfigError, match=r"warm_start source .*oneshot is a one-shot run "
                                          r"folder \(best_arch.yaml, no search.db\): it holds "
                                          r"one architecture, not the scored trials a warm "
                                          r"start takes; give folders of earlier searches"):
        _tiny(tmp_path / "warm", 1, 1, warm_start=[str(tmp_path / "oneshot")])
    assert not (tmp_path / "warm").exists()


def test_trials_that_did_not_complete_are_skipped_and_said_by_status(tmp_path):
    # was: "skipped: 4 not completed", whatever they were; a paused trial's score (of the
    # epochs it trained up to its rung) is never told as a full one
    store = open_search_store(tmp_path / "source", {"space": {}, "monitor": "acc",
                                                    "mode": "max"})
    for width, status, score in ((4, TrialStatus.COMPLETED, 0.5),
                                 (8, TrialStatus.PAUSED, 0.99),
                                 (16, TrialStatus.PAUSED, 0.98),
                                 (32, TrialStatus.PRUNED, 0.3),
                                 (64, TrialStatus.FAILED, None),
                                 (128, TrialStatus.REJECTED, None)):
        arch = {"width": width}
        store.finish_trial(TrialResult(store.start_trial(arch), arch, status, score=score,
                                       epochs=1 if status is TrialStatus.PAUSED else 4))
    store.close()
    space = SearchSpace.from_dict({"width": {"choice": [4, 8, 16, 32, 64, 128]}})
    priors, report = load_priors([tmp_path / "source"], space)
    assert [(p.arch, p.score) for p in priors] == [({"width": 4}, 0.5)]
    rep = report.sources[0]
    assert rep.epochs == [4, 4]  # the completed one's, not the paused ones'
    assert rep.skipped(reasons=False) == [
        "5 not completed (2 paused, 1 pruned, 1 failed, 1 rejected)"]
    assert rep.describe().endswith(
        "1 of 6 trials used; skipped: 5 not completed (2 paused at a rung: scores of fewer "
        "epochs, 1 pruned, 1 failed, 1 rejected)")


WAITS = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from lightning_nas import Search

    def waits(arch):  # the second trial runs until the test lets it end (or kills it)
        while arch["width"] != 4 and not Path({go!r}).exists():
            time.sleep(0.05)
        return {{"acc": arch["width"] / 100}}

    Search(None, {{"width": {{"choice": [4, 8]}}}}, objective=waits, monitor="acc",
           mode="max", budget=2, seed=0, run_dir={run_dir!r}, verbose=False,
           optimizer="RandomSearch", retrain_top_k=0).run()
""")


def test_a_source_still_running_or_stopped_mid_trial_says_so(tmp_path, launcher):
    # was: "1 of 2 trials used; skipped: 1 not completed" both for a search still running
    # (its results so far, its later ones never seen) and one killed mid-trial
    source = tmp_path / "source"
    script = tmp_path / "run.py"
    script.write_text(WAITS.format(root=str(Path(__file__).resolve().parents[1]),
                                   go=str(tmp_path / "go"), run_dir=str(source)))
    pid = launcher.launch([], tmp_path / "run.log", script)
    wait_for_trials(source, tmp_path / "run.log", completed=1, running=1)  # the other running
    space = SearchSpace.from_dict({"width": {"choice": [4, 8]}})
    rep = load_priors([source], space)[1].sources[0]
    assert rep.describe().endswith(
        f"1 of 2 trials used; skipped: 1 not completed (1 running); read while it is still "
        f"being searched (pid {pid} on {socket.gethostname()}): its results so far, those it "
        f"completes later are not used")
    assert rep.skipped(reasons=False) == ["1 not completed (1 running)"]
    assert launcher.kill() == -signal.SIGKILL, (tmp_path / "run.log").read_text()
    rep = load_priors([source], space)[1].sources[0]
    assert rep.describe().endswith(
        "1 of 2 trials used; skipped: 1 not completed (1 running when its search stopped)")


def _acc(arch: dict) -> dict:
    return {"acc": arch["width"] / 100}


@pytest.mark.filterwarnings("ignore:'acc' is minimised, but its name says")
@pytest.mark.parametrize("mode", ["min", "max"])
def test_a_source_that_ranked_this_searchs_monitor_the_other_way_says_so(tmp_path, capsys,
                                                                         mode):
    # was: "warm start from ... (acc, max): 3 of 3 trials used" beside "acc (min)", and the
    # default strategy trained the source's highest acc first, the worst here, unsaid
    source = "max" if mode == "min" else "min"
    Search(None, SPACE, objective=_acc, monitor="acc", mode=source, budget=3, seed=0,
           run_dir=tmp_path / "source", verbose=False).run()
    Search(None, SPACE, objective=_acc, monitor="acc", mode=mode, budget=1, seed=0,
           run_dir=tmp_path / "warm", warm_start=[str(tmp_path / "source")]).run()
    said = "maximised there and is minimised" if mode == "min" else \
        "minimised there and is maximised"
    best = "highest" if mode == "min" else "lowest"
    assert (f"(acc, {source}): 3 of 3 trials used; acc was {said} here: its results rank "
            f"as they did there (its best is its {best} acc)") in capsys.readouterr().out
    with open_run(tmp_path / "warm") as store:
        assert store.get_meta("warm_start")["sources"][0]["other_mode"] == mode
    # show, its JSON and report.html say it too (was: "warm start: 3 of 3 results of ...
    # (not counted in the budget)" alone: nothing of the source's monitor or mode)
    note = f"acc was {said} here: its results rank as they did there"
    assert main(["show", str(tmp_path / "warm")]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith("warm start:"))
    assert note in line, line
    assert main(["show", str(tmp_path / "warm"), "--format", "json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["summary"]["warm_start"]
    assert (shown["monitor"], shown["mode"], shown["other_mode"]) == ("acc", source, mode)
    assert main(["report", str(tmp_path / "warm")]) == 0
    assert note in (tmp_path / "warm" / "report" / "report.html").read_text()


LIVE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from lightning_nas import Search

    def acc(arch):
        return {{"acc": arch["width"] / 100}}

    def held(result):  # after its first trial the search waits (still running, no trial
        while not Path({go!r}).exists():  # RUNNING) until the test lets it go on
            time.sleep(0.05)

    Search(None, {{"width": {{"choice": [4, 8]}}}}, objective=acc, monitor="acc",
           mode="max", budget=2, seed=0, run_dir={run_dir!r}, verbose=False,
           optimizer="RandomSearch", on_trial_end=held).run()
""")


def test_a_source_whose_search_is_still_running_is_warned_of_and_kept(tmp_path, launcher,
                                                                       capsys):
    # was: nothing said at all of a source still being searched between its trials (none
    # RUNNING): "1 of 1 trials used", as of a finished search; its later results unseen
    source = tmp_path / "source"
    script = tmp_path / "run.py"
    script.write_text(LIVE.format(root=str(Path(__file__).resolve().parents[1]),
                                  go=str(tmp_path / "go"), run_dir=str(source)))
    pid = launcher.launch([], tmp_path / "run.log", script)
    wait_for_trials(source, tmp_path / "run.log")  # its first trial completed, none running
    warm = tmp_path / "warm"

    def search(budget: int) -> Search:
        return Search(None, SPACE, objective=_acc, monitor="acc", mode="max", budget=budget,
                      seed=0, run_dir=warm, verbose=False, warm_start=[str(source)])

    held = f"pid {pid} on {socket.gethostname()}"
    with pytest.warns(UserWarning) as said:
        search(1).run()
    lines = [str(w.message) for w in said if "still being searched" in str(w.message)]
    assert lines == [
        f"warm_start source {source.resolve()} is still being searched ({held}): it is read "
        f"as it is now, 1 trial of it completed so far, 1 used as a prior; the trials it "
        f"completes later are not used, by this search or its resume (it keeps these "
        f"priors): to use them, start this search once that one has ended"]
    with open_run(warm) as store:
        assert [p["source_trial"] for p in store.priors()] == [1]
        rep = store.get_meta("warm_start")["sources"][0]
        assert (rep["trials"], rep["used"], rep["source_driver"]) == (1, 1, held)
    (tmp_path / "go").touch()
    assert launcher.wait(120) == 0, (tmp_path / "run.log").read_text()
    with open_run(source) as store:
        assert store.count(TrialStatus.COMPLETED) == 2
    with warnings.catch_warnings(record=True) as again:  # a resume: the stored priors, exact
        warnings.simplefilter("always")
        search(2).run()
    assert not [w for w in again if "still being searched" in str(w.message)]
    with open_run(warm) as store:
        assert [p["source_trial"] for p in store.priors()] == [1]
        assert store.get_meta("warm_start")["sources"][0]["trials"] == 1
        assert store.count(TrialStatus.COMPLETED) == 2
    # show (and the report, its lines) says so too, from the stored report (was: "warm
    # start: 1 of 1 result of ... (not counted in the budget)" as of a finished source)
    assert main(["show", str(warm)]) == 0
    assert (f"warm start: 1 of 1 result of {source.resolve()} (not counted in the budget); "
            f"read while it was still being searched ({held}): the results it completed "
            f"later are not used") in capsys.readouterr().out
    assert main(["show", str(warm), "--format", "json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["summary"]["warm_start"]
    assert shown["still_running"] == held
