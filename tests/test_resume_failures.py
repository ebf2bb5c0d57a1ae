"""Failures on resume: a resume stopped by ``max_failures`` exports the best so far, an
unseeded run of an optimizer told only its proposals is refused, the trials an error every
trial hit run again once it is fixed, a failure of the architectures does not hold a resume
back, and a run that completed no trial says how to start anew."""

from __future__ import annotations

import re
from contextlib import nullcontext

import nevergrad as ng
import pytest
import yaml

from lightning_nas import Search
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers_resume import objective_search as _objective_search
from tests.helpers_resume import score as _score


class _Stop(Exception):
    pass


def test_a_resume_stopped_by_max_failures_exports_the_best_so_far(tmp_path):
    # was: the check at resume raised before the search's export: no best.yaml, although
    # a trial had completed (the README: a max_failures stop exports the best so far)
    calls = []

    def first_fails(arch: dict) -> dict:
        calls.append(arch)
        if len(calls) == 1:
            raise RuntimeError("a broken first trial")
        return _score(arch)

    def stop_after_two(result) -> None:
        if len(calls) == 2:
            raise _Stop

    with pytest.raises(_Stop):
        _objective_search(tmp_path, budget=4, objective=first_fails,
                          on_trial_end=stop_after_two).run()
    assert not (tmp_path / "best.yaml").exists()
    with pytest.raises(SearchError, match=r"1 trial of .* failed \(max_failures=0\)"):
        _objective_search(tmp_path, budget=4, objective=first_fails, max_failures=0).run()
    assert len(calls) == 2  # nothing trained
    with RunStore(tmp_path / "search.db") as store:
        best = store.best("max")
    assert best is not None and best.trial_id == 2
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["trial"] == best.trial_id


@pytest.mark.parametrize("optimizer", ["EDA", "IsoEMNA"])
def test_an_unseeded_run_of_an_optimizer_told_only_its_proposals_is_refused_on_resume(
        tmp_path, optimizer):
    # was: the replay (no seed: other proposals) told the optimizer architectures it had not
    # proposed, and it failed "at its tell 1 (TellNotAskedNotSupportedError) after 2
    # completed trial(s) (those running then were let finish) ... an error of the optimizer
    # itself, not of a trial", though nothing was running, and without the cause
    calls = []

    def stops_at_the_third_call(arch: dict) -> dict:
        calls.append(arch)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return _score(arch)

    def search(run_dir, seed):
        return _objective_search(run_dir, budget=5, seed=seed, optimizer=optimizer,
                                 objective=stops_at_the_third_call)

    # nevergrad warns that IsoEMNA's population (64) exceeds the budget (EDA: no warning)
    with (pytest.warns(ng.errors.InefficientSettingsWarning, match="Budget may be too small")
          if optimizer == "IsoEMNA" else nullcontext()):
        with pytest.raises(KeyboardInterrupt):
            search(tmp_path / "unseeded", None).run()
        with pytest.raises(ConfigError) as refused:
            search(tmp_path / "unseeded", None).run()
        assert len(calls) == 3  # nothing trained
        run_dir = tmp_path / "unseeded"
        assert re.fullmatch(
            rf"cannot resume {re.escape(str(run_dir))} with optimizer '{optimizer}': the run has "
            r"no seed \(`seed: null`\), so the replay of its optimizer proposed other "
            r"architectures than the run did \(from ask \d+ of the replay on\), and .* cannot "
            r"be told the results of architectures it did not propose; a search with a seed "
            r"\(`seed: 0`.*`seed_everything: true`.*\) replays exactly and resumes; to go on "
            r"from this run's results, search in a new run_dir with another optimizer \(e\.g\. "
            r"SurrogateEvolution, .*\) warm-started from it \(`warm_start: "
            rf"\[{re.escape(str(run_dir))}\]`\); nothing was trained", str(refused.value)), \
            refused.value
        with RunStore(run_dir / "search.db") as store:
            assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED] * 2 + [
                TrialStatus.RUNNING]
        # seeded, the same stop resumes and makes the uninterrupted search's choices
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            search(tmp_path / "seeded", 0).run()
        search(tmp_path / "seeded", 0).run()
        search(tmp_path / "full", 0).run()
        with RunStore(tmp_path / "seeded" / "search.db") as seeded, \
                RunStore(tmp_path / "full" / "search.db") as full:
            assert [(t.arch, t.status) for t in seeded.trials()] == [
                (t.arch, t.status) for t in full.trials()]
            assert seeded.count(TrialStatus.COMPLETED) == 5


def _broken(calls: list, fixed: list | None = None):
    """An objective that fails as a broken setup does, every trial the same way (until
    ``fixed`` holds something)."""
    def objective(arch: dict) -> dict:
        calls.append(arch)
        if not fixed:
            raise RuntimeError("the setup is broken")
        return {"score": float(sum(arch.values()))}
    return objective


def test_a_resumed_search_stops_at_its_first_repeat_of_the_last_error(tmp_path):
    # was: the last failure's error was only in memory: a resume after a kill trained two
    # more doomed trials before "trials 2 and 3 failed the same way"
    calls = []

    def stop_after_one(result) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        _objective_search(tmp_path, budget=4, objective=_broken(calls), max_failures=9,
                          on_trial_end=stop_after_one).run()
    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way .*the setup "
                                          r"is broken"):
        _objective_search(tmp_path, budget=4, objective=_broken(calls), max_failures=9).run()
    assert len(calls) == 2


def test_the_trials_an_error_every_trial_hits_stopped_run_again_once_it_is_fixed(tmp_path,
                                                                                    capsys):
    # was: after the fix, a resume replayed them as failures of their architectures and
    # never trained them ("All 4 architectures of the space are evaluated", best of 2)
    space = {"c": {"choice": [1, 2, 3, 4]}}
    kw = {"space": space, "budget": 4, "optimizer": "RandomSearch", "verbose": True}
    straight = _objective_search(tmp_path / "straight", objective=_broken([], [True]), **kw).run()
    calls, fixed = [], []
    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way"):
        _objective_search(tmp_path / "run", objective=_broken(calls, fixed), **kw).run()
    # the cause still there: trial 1 fails as before, which ends the re-runs (trial 2 is
    # not run again), and the next new trial failing so stops the search
    with pytest.raises(SearchError, match=r"trials 1 and 3 failed the same way"):
        _objective_search(tmp_path / "run", objective=_broken(calls, fixed), **kw).run()
    assert len(calls) == 4 and calls[2] == calls[0]
    assert "Trials 1, 2 run again: their error stopped the search" in capsys.readouterr().out
    fixed.append(True)
    resumed = _objective_search(tmp_path / "run", objective=_broken(calls, fixed), **kw).run()
    assert "Trials 1, 2, 3 run again" in capsys.readouterr().out
    assert [t.arch for t in resumed.trials[:3]] == [calls[0], calls[1], calls[3]]
    assert sorted(t.arch["c"] for t in resumed.trials) == sorted(
        t.arch["c"] for t in straight.trials)  # every architecture, none twice
    assert all(t.status is TrialStatus.COMPLETED for t in resumed.trials)
    with RunStore(tmp_path / "run" / "search.db") as store:  # each a first attempt
        assert [store.attempts(t.trial_id) for t in resumed.trials] == [1] * 4


def test_a_refused_resume_of_a_run_that_completed_no_trial_says_how_to_start_anew(tmp_path):
    # was: a run whose every trial failed (a Trainer setting that cannot work, such as
    # max_time 0) was refused on a rerun without that setting, with no way out named
    with pytest.raises(SearchError, match=r"failed the same way"):
        _objective_search(tmp_path / "run", objective=_broken([])).run()
    with pytest.raises(ConfigError, match=rf"other settings: search\.seed: 0, now 5\. Resume "
                                          rf"with the settings it ran with, or choose another "
                                          rf"run_dir \(it completed no trial: remove "
                                          rf"{re.escape(str(tmp_path / 'run'))} to start anew\)"):
        _objective_search(tmp_path / "run", seed=5).run()
    _objective_search(tmp_path / "done").run()
    with pytest.raises(ConfigError, match=r"search\.seed: 0, now 5") as refused:
        _objective_search(tmp_path / "done", seed=5).run()
    assert "completed no trial" not in str(refused.value)  # its trials are worth keeping


def _stored_failed(run_dir, trial_id: int, timeout: float = 60.0) -> None:
    """Wait until the search in ``run_dir`` has stored ``trial_id`` as FAILED."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if (run_dir / "search.db").is_file():
            with RunStore(run_dir / "search.db", read_only=True) as store:
                if any(t.trial_id == trial_id and t.status is TrialStatus.FAILED
                       for t in store.trials()):
                    return
        time.sleep(0.02)
    raise AssertionError(f"trial {trial_id} was not stored FAILED within {timeout} s")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failure_of_the_architectures_does_not_hold_a_resume_back(tmp_path, workers):
    # was: two architectures that fail (not the setup) stopped the search as "the same
    # way"; every resume ran them again and stopped again, for good (with 2 workers, both
    # re-run at once, even after the first fix)
    from concurrent.futures import ThreadPoolExecutor

    space = {"c": {"choice": [1, 2, 3, 4]}}
    kw = {"space": space, "budget": 4, "optimizer": "RandomSearch", "num_workers": workers}
    if workers > 1:
        kw["executor"] = ThreadPoolExecutor(workers)
    order = [t.arch["c"] for t in _objective_search(tmp_path / "straight", objective=_broken(
        [], [True]), **kw).run().trials]

    def objective(arch: dict) -> dict:
        if arch["c"] in order[:2]:
            raise ValueError("this value of c is not supported")
        if workers > 1:  # trial 3 starts once trial 1 failed: its result stored before
            _stored_failed(tmp_path / "run", 2)  # trial 2's (a loaded machine) left no stop
        return {"score": float(arch["c"])}

    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way"):
        _objective_search(tmp_path / "run", objective=objective, **kw).run()
    result = _objective_search(tmp_path / "run", objective=objective, **kw).run()
    assert [t.status for t in result.trials] == [TrialStatus.FAILED] * 2 + \
        [TrialStatus.COMPLETED] * 2
    assert result.best.arch["c"] in order[2:]
    again = _objective_search(tmp_path / "run", objective=objective, **kw).run()
    assert [t.status for t in again.trials] == [t.status for t in result.trials]


def _fails_at_one(arch: dict) -> dict:
    """Fails for ``a == 1``; else ``val_loss`` ``a**2``."""
    if arch["a"] == 1:
        raise RuntimeError("a == 1 is not supported")
    return {"val_loss": float(arch["a"] ** 2)}


def _one_plus_one(run_dir, **kw):
    return Search(None, {"a": {"int": [1, 9]}}, objective=_fails_at_one, monitor="val_loss",
                  mode="min", optimizer="OnePlusOne", seed=5, budget=8, max_failures=10,
                  run_dir=run_dir, verbose=False, **kw)


def _tells(run_dir) -> list[tuple[str, float]]:
    """Each tell of the run's optimizer: (arch key, loss), in order."""
    with RunStore(run_dir / "search.db") as store:
        keys, tells = {}, []
        for event in store.events():
            if event["kind"] == "tell":
                tells.append((keys[event["ask"]], event["loss"]))
            else:
                keys[event["ask"]] = event["arch_key"]
    return tells


def test_a_failed_architecture_proposed_again_is_told_worse_than_every_result_so_far(
        tmp_path):
    # was: told the loss of its first telling again, 37.0 each time where 81.0 had been
    # told since: the failure ranked above a real result
    _one_plus_one(tmp_path).run()
    worst, failures = None, 0
    for key, loss in _tells(tmp_path):
        if key == '{"a":1}':
            failures += 1
            assert worst is None or loss > worst, (loss, worst)
        else:
            worst = loss if worst is None else max(worst, loss)
    assert failures > 2 and worst == 81.0


def test_a_resume_tells_a_failed_architecture_proposed_again_as_an_unbroken_run_does(
        tmp_path):
    # the failed architectures are rebuilt from the store: without that, a resume told a
    # repeat the failure's old loss where the unbroken run tells it a new one
    _one_plus_one(tmp_path / "straight").run()
    ends = []

    def stop_after_six(result) -> None:
        ends.append(result)
        if len(ends) == 6:
            raise _Stop

    with pytest.raises(_Stop):
        _one_plus_one(tmp_path / "run", on_trial_end=stop_after_six).run()
    assert any(t.status is TrialStatus.FAILED for t in ends)
    _one_plus_one(tmp_path / "run").run()
    assert _tells(tmp_path / "run") == _tells(tmp_path / "straight")
