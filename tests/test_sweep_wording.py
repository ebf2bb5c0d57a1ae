"""A sweep's warm-start and resume messages in the sweep's words (``hydra.sweeper.<key>``,
``hydra.sweeper.direction``'s maximize/minimize), as its other messages say them: real
sweeps run in-process through Hydra's own sweep runner (``helpers_hydra_sweep.multirun``)."""

from __future__ import annotations

import importlib.util
import os
import socket
import sqlite3
import warnings
from pathlib import Path

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.cli import main  # noqa: E402
from lightning_nas.errors import ConfigError  # noqa: E402
from lightning_nas.run_folder import hold_folder  # noqa: E402
from lightning_nas.search.warm_report import WarmStartReport  # noqa: E402
from lightning_nas.store import open_run  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402

PARAMS = {"x": "range(0, 12)"}


def _task(cfg: DictConfig) -> float:
    return -abs(cfg.x - 7)


def test_a_warm_start_source_still_being_swept_is_warned_of_in_the_sweeps_words(tmp_path):
    # was: "warm_start source ... not used, by this search or its resume (...): to use
    # them, start this search once that one has ended": a search's words in a sweep
    multirun(tmp_path / "first", _task, {"budget": 2, "params": PARAMS})
    source = (tmp_path / "first" / "run").resolve()
    held = hold_folder(source, "wait")  # its sweep still runs (this process holds it)
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            trials = multirun(tmp_path / "second", _task, {
                "budget": 1, "warm_start": [str(source)], "params": PARAMS})
    finally:
        held.close()
    assert len(trials) == 1
    lines = [str(w.message) for w in said if "still being" in str(w.message)]
    assert lines == [  # a sweep's source is swept (was: "is still being searched")
        f"hydra.sweeper.warm_start source {source} is still being swept (pid "
        f"{os.getpid()} on {socket.gethostname()}): it is read as it is now, 2 trials of it "
        f"completed so far, 2 used as priors; the trials it completes later are not used, "
        f"by this sweep or its resume (it keeps these priors): to use them, start this "
        f"sweep once that one has ended"]


def test_a_source_still_running_is_said_swept_or_searched_as_its_own_kind(tmp_path, capsys):
    # a plain search from a sweep's run folder: "swept" (was: "is still being searched");
    # a sweep from a plain search's run folder: "searched"
    from lightning_nas import Search

    multirun(tmp_path / "first", _task, {"budget": 2, "params": PARAMS})
    swept = (tmp_path / "first" / "run").resolve()
    searched = (tmp_path / "searched").resolve()
    Search(None, {"x": {"choice": [3, 7]}}, objective=lambda a: {"score": -abs(a["x"] - 7)},
           monitor="score", mode="max", budget=2, seed=0, run_dir=searched, verbose=False,
           optimizer="RandomSearch").run()
    holder = f"pid {os.getpid()} on {socket.gethostname()}"
    held = [hold_folder(swept, "wait"), hold_folder(searched, "wait")]
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            Search(None, {"x": {"choice": [3, 7]}}, objective=lambda a: {"score": a["x"]},
                   monitor="score", mode="max", budget=1, seed=0, verbose=False,
                   run_dir=tmp_path / "plain", warm_start=[str(swept)]).run()
            multirun(tmp_path / "second", _task, {
                "budget": 1, "warm_start": [str(searched)], "params": PARAMS})
    finally:
        for hold in held:
            hold.close()
    lines = [str(w.message).split(":")[0] for w in said if "still being" in str(w.message)]
    assert lines == [f"warm_start source {swept} is still being swept ({holder})",
                     f"hydra.sweeper.warm_start source {searched} is still being searched "
                     f"({holder})"], lines
    # the report line, `show` and report.html say it as the warning does (was: "read
    # while its search is/was still running" of a sweep's run folder too)
    for run, kind in ((tmp_path / "plain", "swept"), (tmp_path / "second" / "run", "searched")):
        with open_run(run) as store:
            rep = WarmStartReport.from_dict(store.get_meta("warm_start")).sources[0]
        assert f"; read while it is still being {kind} ({holder}): its results so far, " \
               f"those it completes later are not used" in rep.describe(), rep.describe()
        shown = (f"; read while it was still being {kind} ({holder}): the results it "
                 f"completed later are not used")
        assert main(["show", str(run)]) == 0
        assert shown in capsys.readouterr().out
        if importlib.util.find_spec("matplotlib") is not None:
            assert main(["report", str(run)]) == 0
            assert shown in (run / "report" / "report.html").read_text()


# ----------------------------------------------------------------- resume refusals
def _refused(folder: Path, task, sweeper: dict, **kw) -> str:
    """The refusal of a resume of the sweep in ``folder`` (its store unchanged)."""
    with pytest.raises(ConfigError) as err:
        multirun(folder, task, sweeper, **kw)
    return str(err.value)


def test_a_resume_with_another_warm_start_fill_names_the_sweeps_key(tmp_path):
    # was: "holds a sweep with a different warm_start_fill (...); resume with the same
    # warm_start_fill", a key a sweep's user does not write
    multirun(tmp_path / "first", _task, {"budget": 2, "params": PARAMS})
    source = str(tmp_path / "first" / "run")
    params = {**PARAMS, "y": "choice(1, 2)"}
    multirun(tmp_path / "warm", _task, {"budget": 1, "warm_start": [source],
                                        "warm_start_fill": {"y": 1}, "params": params}, y=1)
    run = tmp_path / "warm" / "run"
    assert _refused(tmp_path / "warm", _task, {
        "budget": 2, "warm_start": [source], "warm_start_fill": {"y": 2}, "params": params},
        y=1) == (
        f"{run} holds a sweep with a different hydra.sweeper.warm_start_fill (y: 1, now 2); "
        f"resume with the same hydra.sweeper.warm_start_fill, or choose another "
        f"hydra.sweeper.run_dir")


def test_a_resume_with_another_warm_start_names_the_sweeps_key(tmp_path):
    # was: "holds a sweep started without warm_start; resume with the same warm_start" and
    # "holds a sweep with a different warm_start (...)"
    for name in ("a", "b"):
        multirun(tmp_path / name, _task, {"budget": 2, "params": PARAMS})
    a, b = (str((tmp_path / name / "run").resolve()) for name in ("a", "b"))
    multirun(tmp_path / "plain", _task, {"budget": 1, "params": PARAMS})
    run = tmp_path / "plain" / "run"
    assert _refused(tmp_path / "plain", _task, {
        "budget": 2, "warm_start": [a], "params": PARAMS}) == (
        f"{run} holds a sweep started without hydra.sweeper.warm_start; resume with the "
        f"same hydra.sweeper.warm_start, or choose another hydra.sweeper.run_dir")
    multirun(tmp_path / "warm", _task, {"budget": 1, "warm_start": [a], "params": PARAMS})
    run = tmp_path / "warm" / "run"
    assert _refused(tmp_path / "warm", _task, {
        "budget": 2, "warm_start": [b], "params": PARAMS}) == (
        f"{run} holds a sweep with a different hydra.sweeper.warm_start (stored ['{a}'], now "
        f"['{b}']); resume with the same hydra.sweeper.warm_start, or choose another "
        f"hydra.sweeper.run_dir")


def test_a_resume_without_warm_start_of_a_sweep_that_stored_no_priors_names_the_key(
        tmp_path):
    # was: "... resume with that warm_start to read them now, ..."
    multirun(tmp_path / "first", _task, {"budget": 2, "params": PARAMS})
    source = str((tmp_path / "first" / "run").resolve())
    multirun(tmp_path / "warm", _task, {"budget": 1, "warm_start": [source], "params": PARAMS})
    run = tmp_path / "warm" / "run"
    with sqlite3.connect(run / "search.db") as db:  # stopped while it read its sources
        for table in ("priors", "events", "trials"):
            db.execute(f"DELETE FROM {table}")
        db.execute("DELETE FROM meta WHERE key = 'warm_start'")
    db.close()
    assert _refused(tmp_path / "warm", _task, {"budget": 2, "params": PARAMS}) == (
        f"{run} holds a sweep started with `hydra.sweeper.warm_start=[{source}]` that "
        f"stopped before it read their results (it stored no priors); resume with that "
        f"hydra.sweeper.warm_start to read them now, or choose another "
        f"hydra.sweeper.run_dir (it completed no trial: remove {run} to start anew)")


def _two(cfg: DictConfig) -> dict[str, float]:
    return {"loss": float(cfg.x), "acc": 1.0 / (1 + cfg.x)}


def test_a_resume_with_other_objectives_names_the_sweeps_key(tmp_path):
    # was: "holds a sweep with a different objectives (...); resume with the same
    # objectives"
    multirun(tmp_path, _two, {"budget": 1, "objectives": {"loss": "minimize", "acc": "maximize"},
                              "params": PARAMS}, sort_keys=False)
    message = _refused(tmp_path, _two, {
        "budget": 2, "objectives": {"loss": "minimize", "acc": "minimize"}, "params": PARAMS},
        sort_keys=False)
    assert message == (  # the directions as written (was: 'max', 'min')
        f"{tmp_path / 'run'} holds a sweep with a different hydra.sweeper.objectives (acc: "
        f"'maximize', now 'minimize'); resume with the same hydra.sweeper.objectives, or "
        f"choose another hydra.sweeper.run_dir")


def test_a_resume_with_another_score_names_the_sweeps_keys(tmp_path):
    # was: "holds a sweep with a different monitor (...); resume with the same monitor"
    multirun(tmp_path, _two, {"budget": 1, "monitor": "loss", "params": PARAMS},
             direction="minimize")
    assert _refused(tmp_path, _two, {"budget": 2, "monitor": "acc", "params": PARAMS}) == (
        f"{tmp_path / 'run'} holds a sweep with a different score (hydra.sweeper.monitor, "
        f"else optimized_metric) (stored 'loss', now 'acc'); resume with the same score, or "
        f"choose another hydra.sweeper.run_dir")


def test_a_resume_from_another_folder_with_a_relative_warm_start_names_the_key(
        tmp_path, monkeypatch):
    # was: "... a relative warm_start folder being of the current folder, ...: run the
    # command from the folder the search was started in, or leave warm_start out, ..."
    monkeypatch.chdir(tmp_path)
    multirun(tmp_path / "first", _task, {"budget": 2, "params": PARAMS})
    multirun(tmp_path / "warm", _task, {"budget": 1, "warm_start": ["first/run"],
                                        "params": PARAMS})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    message = _refused(tmp_path / "warm", _task, {"budget": 2, "warm_start": ["first/run"],
                                                  "params": PARAMS})
    assert message.startswith(f"{tmp_path / 'warm' / 'run'} holds a sweep with a different "
                              f"hydra.sweeper.warm_start (")
    assert (f"{elsewhere / 'first' / 'run'} does not exist, a relative "
            f"hydra.sweeper.warm_start folder being of the current folder, {elsewhere}: run "
            f"the command from the folder the sweep was started in, or leave "
            f"hydra.sweeper.warm_start out, as a resume reads the results it stored); resume "
            f"with the same hydra.sweeper.warm_start, or choose another "
            f"hydra.sweeper.run_dir") in message


def test_a_warm_start_fill_the_sources_trials_did_not_need_is_said_with_the_sweeps_key(
        tmp_path, capsys):
    # was: "[...]; warm_start_fill not used for y (its trials had them)", a key a sweep's
    # user does not write
    params = {**PARAMS, "y": "choice(1, 2)"}
    multirun(tmp_path / "first", _task, {"budget": 2, "params": params}, y=1)
    trials = multirun(tmp_path / "second", _task, {
        "budget": 1, "warm_start": [str(tmp_path / "first" / "run")],
        "warm_start_fill": {"y": 2}, "params": params}, y=1)
    assert len(trials) == 1
    out = capsys.readouterr().out
    assert "; hydra.sweeper.warm_start_fill not used for y (its trials had them)" in out
    assert "; warm_start_fill not used" not in out
