"""The exact resume of a warm-started search: stopped and resumed it makes the choices an
uninterrupted run makes (for the NAS strategies and ``NGOpt``), also after its source
moved, in a copy of its project, and after a real ``kill -9``. Real stores, real
nevergrad; an objective (nothing trains)."""

from __future__ import annotations

import signal
import textwrap
import time
from pathlib import Path

import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.store import open_run
from tests.helpers_warm import SPACE
from tests.helpers_warm import Stop as _Stop
from tests.helpers_warm import search as _search
from tests.helpers_warm import stop_after as _stop_after


@pytest.mark.parametrize("optimizer", ["SurrogateEvolution", "RegularizedEvolution",
                                       "LocalSearch", "Reinforce", "NGOpt"])
def test_warm_started_search_stopped_and_resumed_makes_the_same_choices(tmp_path, optimizer):
    _search(tmp_path / "source", 14, seed=9).run()
    warm = {"warm_start": [str(tmp_path / "source")], "optimizer": optimizer}
    straight = _search(tmp_path / "straight", 12, **warm).run()
    with pytest.raises(_Stop):
        _search(tmp_path / "stopped", 12, on_trial_end=_stop_after(5), **warm).run()
    resumed = _search(tmp_path / "stopped", 12, **warm).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]


def test_a_warm_started_search_resumes_after_its_source_moved(tmp_path):
    # was: refused, "warm_start source ... is not a run directory", though a resume reads
    # the priors from its own store (the README's promise)
    _search(tmp_path / "source", 8, seed=9).run()
    warm = {"warm_start": [str(tmp_path / "source")]}
    straight = _search(tmp_path / "straight", 10, **warm).run()
    with pytest.raises(_Stop):
        _search(tmp_path / "stopped", 10, on_trial_end=_stop_after(4), **warm).run()
    (tmp_path / "source").rename(tmp_path / "moved")
    resumed = _search(tmp_path / "stopped", 10, **warm).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]
    with pytest.raises(ConfigError, match="source does not exist"):  # a new search reads it
        _search(tmp_path / "new", 10, **warm)


def test_a_warm_started_search_resumes_in_a_copy_of_its_project(tmp_path, monkeypatch):
    # was: refused, "different warm_start_sources (stored ['/.../proj/runs/src'], now
    # ['/.../copy/runs/src'])", though run folders may be moved or copied
    import shutil

    (tmp_path / "proj").mkdir()
    monkeypatch.chdir(tmp_path / "proj")
    _search(Path("runs/src"), 8, seed=9).run()
    warm = {"warm_start": ["runs/src"]}
    straight = _search(Path("runs/straight"), 10, **warm).run()
    with pytest.raises(_Stop):
        _search(Path("runs/warm"), 10, on_trial_end=_stop_after(4), **warm).run()
    shutil.copytree(tmp_path / "proj", tmp_path / "copy")
    monkeypatch.chdir(tmp_path / "copy")  # the same command, in the copy
    resumed = _search(Path("runs/warm"), 10, **warm).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]
    # a run moved elsewhere while its source stayed resumes too (by the source's own path)
    with pytest.raises(_Stop):
        _search(Path("runs/again"), 10, on_trial_end=_stop_after(4), **warm).run()
    (tmp_path / "copy" / "runs" / "again").rename(tmp_path / "again")
    resumed = _search(tmp_path / "again", 10,
                      warm_start=[str(tmp_path / "copy" / "runs" / "src")]).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]
    with pytest.raises(ConfigError, match="a different warm_start"):  # another source
        _search(Path("runs/warm"), 10, warm_start=["runs/straight"]).run()


KILLED = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from tests.helpers_warm import score

    def slow(arch):
        time.sleep(0.4)
        return score(arch)

    from lightning_nas import Search
    Search(None, {space!r}, objective=slow, monitor="acc", mode="max", budget=10, seed=3,
           run_dir={run_dir!r}, verbose=False, warm_start=[{source!r}]).run()
""")


def test_kill_9_of_a_warm_started_search_resumes_exactly(tmp_path, launcher):
    source = tmp_path / "source"
    _search(source, 14, seed=9).run()
    straight = _search(tmp_path / "straight", 10, warm_start=[str(source)]).run()
    script = tmp_path / "run.py"
    root = str(Path(__file__).resolve().parents[1])
    script.write_text(KILLED.format(root=root, space=SPACE, run_dir=str(tmp_path / "killed"),
                                    source=str(source)))
    launcher.launch([], tmp_path / "run.log", script)  # ``python run.py``, imports paid once
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once 4 trials finished, the 5th running
        try:
            with open_run(tmp_path / "killed") as store:
                if store.count(TrialStatus.COMPLETED) >= 4 and \
                        store.count(TrialStatus.RUNNING) == 1:
                    break
        except FileNotFoundError:  # no search.db, or one still without its search
            pass
        time.sleep(0.05)
    assert launcher.kill() == -signal.SIGKILL, (tmp_path / "run.log").read_text()
    with open_run(tmp_path / "killed") as store:
        assert store.count(TrialStatus.COMPLETED) < 10
    resumed = _search(tmp_path / "killed", 10, warm_start=[str(source)]).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]
    assert [t.status for t in resumed.trials] == [TrialStatus.COMPLETED] * 10


def test_a_resume_with_its_warm_start_folders_in_another_order_resumes_exactly(tmp_path):
    # was: refused, "a different warm_start", though a resume tells and re-trains the
    # priors in the order its first start stored them, whatever order it is given
    for name, seed in (("a", 9), ("b", 5)):
        _search(tmp_path / name, 5, seed=seed).run()
    folders = [str(tmp_path / "a"), str(tmp_path / "b")]
    warm = {"warm_start": folders, "retrain_top_k": 2}
    straight = _search(tmp_path / "straight", 6, **warm).run()
    with pytest.raises(_Stop):
        _search(tmp_path / "stopped", 6, on_trial_end=_stop_after(1), **warm).run()
    resumed = _search(tmp_path / "stopped", 6, warm_start=folders[::-1],
                      retrain_top_k=2).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]
    with pytest.raises(ConfigError, match="a different warm_start"):  # one of them alone
        _search(tmp_path / "stopped", 6, warm_start=folders[:1]).run()
