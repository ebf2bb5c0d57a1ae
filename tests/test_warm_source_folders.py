"""What a warm start says of a folder that is not an earlier search's run folder, the ones a
user gives by mistake: a file of the run (``search.db``, ``best.yaml``), the folder that holds
the runs, a path relative to another folder than the current one, the search's own run
folder, a Hydra sweep's job folders. Each is refused before anything is written, saying what
to give instead. Real stores, real nevergrad (an objective: nothing trains), a real Hydra
sweep for its folders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError

SPACE = {"a": {"choice": [0, 1, 2]}}


def _search(run_dir: Path, budget: int = 2, **kw) -> Search:
    return Search(None, SPACE, objective=lambda arch: {"acc": float(arch["a"])},
                  monitor="acc", mode="max", budget=budget, seed=0, run_dir=run_dir,
                  verbose=False, **kw)


def _refused(run_dir: Path, source: str | Path) -> str:
    """The refusal of a search in ``run_dir`` warm-started from ``source``; nothing of the
    search is written."""
    with pytest.raises(ConfigError) as err:
        _search(run_dir, warm_start=[str(source)])
    assert not run_dir.exists()
    return str(err.value)


def test_a_file_of_a_run_names_the_folder_that_holds_it(tmp_path):
    # was: "warm_start source .../a/search.db is not a run directory (no search.db); give
    # folders of earlier searches", as if it were a folder lacking one
    _search(tmp_path / "a").run()
    for name in ("search.db", "best.yaml"):
        assert _refused(tmp_path / "warm", tmp_path / "a" / name) == (
            f"warm_start source {tmp_path / 'a' / name} is a file, not a run folder: give the "
            f"folder that holds it, {tmp_path / 'a'}")
    (tmp_path / "notes.txt").write_text("x")
    assert _refused(tmp_path / "warm", tmp_path / "notes.txt") == (
        f"warm_start source {tmp_path / 'notes.txt'} is a file, not a run folder; give "
        f"folders of earlier searches")


def test_the_folder_that_holds_the_runs_names_them(tmp_path):
    # was: "warm_start source .../runs is not a run directory (no search.db); give folders
    # of earlier searches", naming none of the runs it holds
    for name in ("a", "b"):
        _search(tmp_path / "runs" / name).run()
    assert _refused(tmp_path / "warm", tmp_path / "runs") == (
        f"warm_start source {tmp_path / 'runs'} is not a run directory (no search.db); it "
        f"holds run folders: {tmp_path / 'runs' / 'a'}, {tmp_path / 'runs' / 'b'} (give one "
        f"of them)")


def test_a_relative_source_missing_from_the_current_folder_names_it(tmp_path, monkeypatch):
    # was: "warm_start source runs/a does not exist; give folders of earlier searches", the
    # folder it was looked for in unsaid (the search was started from another folder)
    _search(tmp_path / "project" / "runs" / "a").run()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert _refused(tmp_path / "warm", "runs/a") == (
        f"warm_start source runs/a does not exist (relative to the current folder "
        f"{tmp_path / 'elsewhere'}); give folders of earlier searches")
    assert _refused(tmp_path / "warm", tmp_path / "runs" / "a") == (  # absolute: no folder
        f"warm_start source {tmp_path / 'runs' / 'a'} does not exist; give folders of earlier "
        f"searches")


def test_the_searchs_own_run_dir_says_what_to_do(tmp_path, capsys):
    # was: "...; run the same command again to resume it instead", which gives the same
    # refusal again (and of a new search there is nothing to resume)
    new = tmp_path / "new"
    assert _refused(new, new) == (
        f"warm_start names this search's own run_dir {new}: a search cannot start from its "
        f"own results; give folders of earlier searches")
    _search(tmp_path / "a").run()
    _search(tmp_path / "b", warm_start=[str(tmp_path / "a")]).run()
    with pytest.raises(ConfigError) as err:
        _search(tmp_path / "b", 3, warm_start=[str(tmp_path / "b")])
    assert str(err.value) == (
        f"warm_start names this search's own run_dir {tmp_path / 'b'}: a search cannot start "
        f"from its own results; to resume it, leave {tmp_path / 'b'} out of warm_start (the "
        f"same warm_start it ran with, or none: a resume reads the results it stored)")
    _search(tmp_path / "b", 3).run()  # what it says to do resumes
    # the command line says it in one line, exit 2
    config = tmp_path / "search.yaml"
    config.write_text(f"model: {{class_path: tests.helpers.TinyNet}}\n"
                      f"data: {{class_path: tests.helpers.BlobData}}\n"
                      f"search:\n  space: {{width: {{choice: [4, 8]}}}}\n  monitor: val_acc\n"
                      f"  mode: max\n  run_dir: {new}\n  warm_start: [{new}]\n")
    assert main(["search", str(config)]) == 2
    assert re.search(r"own run_dir .*new: a search cannot start from its own results",
                     capsys.readouterr().err)


APP = """\
import hydra


@hydra.main(version_base="1.3", config_path=".", config_name="config")
def main(cfg) -> float:
    return float(cfg.x)


if __name__ == "__main__":
    main()
"""

CONFIG = """\
defaults:
  - override hydra/sweeper: lightning_nas
  - _self_
x: 0
hydra:
  sweeper: {budget: 2, direction: maximize, params: {x: 'choice(0, 1, 2)'}}
"""


def test_a_hydra_sweeps_job_folders_name_its_run_folder(tmp_path, launcher):
    # was: "warm_start source .../jobs is not a run directory (no search.db)": a sweep whose
    # hydra.sweeper.run_dir is not its hydra.sweep.dir keeps its results in the run_dir.
    # The sweep is `python app.py -m ...` forked by ``launcher`` (its imports paid; was a
    # fresh python, seconds of imports)
    pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "config.yaml").write_text(CONFIG)
    log = tmp_path / "sweep.log"
    code = launcher.run(["-m", "hydra.sweep.dir=jobs", "hydra.sweeper.run_dir=run"], log,
                        Path("app.py"), cwd=tmp_path)
    assert code == 0, log.read_text()[-3000:]
    run = tmp_path / "run"
    assert (run / "search.db").is_file() and not (tmp_path / "jobs" / "search.db").exists()
    for folder, what in ((tmp_path / "jobs", "the jobs of a Hydra sweep"),
                         (tmp_path / "jobs" / "0", "a job of a Hydra sweep")):
        assert _refused(tmp_path / "warm", folder) == (
            f"warm_start source {folder} holds {what}, not its results: give the sweep's run "
            f"folder (hydra.sweeper.run_dir), {run}")


def test_a_resume_from_another_folder_says_its_relative_sources_are_of_the_current_one(
        tmp_path, monkeypatch):
    # was: "... holds a search with a different warm_start (stored [.../project/runs/a],
    # now [.../elsewhere/runs/a]); resume with the same warm_start, ...": the user gave the
    # same warm_start, from another folder, and was told to give the same
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    _search(Path("runs/a")).run()
    _search(tmp_path / "project" / "runs" / "b", warm_start=["runs/a"]).run()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(ConfigError) as err:
        _search(tmp_path / "project" / "runs" / "b", 3, warm_start=["runs/a"]).run()
    assert str(err.value).endswith(
        f"now ['{tmp_path / 'elsewhere' / 'runs' / 'a'}']: "
        f"{tmp_path / 'elsewhere' / 'runs' / 'a'} does not exist, a relative warm_start "
        f"folder being of the current folder, {tmp_path / 'elsewhere'}: run the command from "
        f"the folder the search was started in, or leave warm_start out, as a resume reads "
        f"the results it stored); resume with the same warm_start, or choose another run_dir")
    _search(tmp_path / "project" / "runs" / "b", 3).run()  # left out: it resumes


def test_several_folders_in_one_string_are_told_to_be_a_list(tmp_path, monkeypatch):
    # was: "warm_start source runs/a,runs/b does not exist (...); give folders of earlier
    # searches", though both exist (--search.warm_start=runs/a,runs/b is one string)
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        _search(Path("runs") / name).run()
    for given in ("runs/a,runs/b", "runs/a, runs/b", "runs/a runs/b"):
        assert _refused(tmp_path / "warm", given) == (
            f"warm_start source {given} does not exist; it names 2 folders that do: give "
            f"them as a list, [runs/a, runs/b]")
