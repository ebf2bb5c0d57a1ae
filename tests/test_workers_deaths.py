"""The worker processes of executor 'process' (``ProcessExecutor``) that die: a trial's
process that dies, a script without the main guard, a worker that dies before it reads its
trial or as it starts (its environment's, not the script's). Real processes, real
Trainers."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import tempfile
import types

import pytest

from lightning_nas import Search
from lightning_nas.errors import SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.search.rank_zygote import NO_ZYGOTE
from lightning_nas.search.trial import TrialSpec
from lightning_nas.search.worker_entry import reimported_marker
from lightning_nas.search.workers import ProcessExecutor
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_executors import (
    DiesOnArrival,
    LateDeathNet,
    NeighbourNet,
    SigtermNet,
    exits,
    nap,
    result_sent,
)
from tests.helpers_executors import tiny_spec as _spec
from tests.helpers_models import TinyNet


@pytest.mark.slow
def test_a_dying_trial_process_is_failed_and_the_search_completes(tmp_path, tiny_trainer):
    # seed 11 draws widths 4, 8, 8, 8: trial 1 kills its worker at once, its replacement
    # (a fresh spawn, a fresh `import lightning`) trains trials 2 to 4 (was seed 2: widths 8,
    # 8, 4, 4, 4, 4, 8, four deaths and four spawned replacements for the same asserts; then
    # two workers, a third import for the same asserts)
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.05, 0.3]}}
    result = Search(TinyNet, space, data=BlobData, trainer={**tiny_trainer, "max_epochs": 1},
                    budget=3, num_workers=1, executor="process", threads_per_trial=1,
                    model_init_args={"die_width": 4},  # 1 epoch (was 2)
                    optimizer="RandomSearch", seed=11, max_failures=10, run_dir=tmp_path,
                    verbose=False).run()
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    done = [t for t in result.trials if t.status is TrialStatus.COMPLETED]
    assert len(done) == 3 and all(t.arch["width"] == 8 for t in done)
    assert failed and all("trial process died (exit code 3)" in t.error for t in failed)
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.RUNNING) == 0


@pytest.mark.slow
def test_a_trial_whose_worker_died_keeps_the_epochs_and_curve_it_trained(tmp_path, tiny_trainer):
    # the worker dies (os._exit, as a segfault or the out-of-memory killer) as epoch 3
    # starts, after epochs 1 and 2 trained and validated: the FAILED record keeps them, as a
    # trial that raises there does, and as a DDP trial whose rank died does (was: epochs None,
    # no curve, and the search's "N epochs trained" left them out)
    result = Search(LateDeathNet, {"width": {"choice": [8, 16]}}, data=BlobData,
                    trainer={**tiny_trainer, "max_epochs": 4}, budget=1, num_workers=1,
                    executor="process", threads_per_trial=1, model_init_args={"death_epoch": 2},
                    max_failures=10, run_dir=tmp_path, verbose=False).run
    with pytest.raises(SearchError):  # no trial completed
        result()
    with RunStore(tmp_path / "search.db") as store:
        trial = store.trials()[0]  # (a failed trial is not counted: a second one runs)
    assert trial.error.splitlines()[0] == "trial process died (exit code 3)"
    assert (trial.epochs, trial.curve_epochs, len(trial.curve)) == (2, [1, 2], 2)
    assert not (tmp_path / "trials" / "trial_0001" / "progress.json").exists()


@pytest.mark.slow
def test_a_worker_that_dies_fails_its_own_trial_alone_and_its_neighbour_trains_on(tmp_path):
    # executor 'process' is no concurrent.futures pool, which one dead process breaks for
    # good, failing the trial of each of its other processes with BrokenProcessPool: each
    # worker has a pipe of its own, and trial 2's death (os._exit, while trial 1 certainly
    # trains in the other worker: it waits for the death, then trains on) fails trial 2 alone
    mark = tmp_path / "died"

    def spec(trial_id: int, width: int) -> TrialSpec:
        return dataclasses.replace(_spec(tmp_path, trial_id), model=NeighbourNet,
                                   arch={"width": width}, model_init_args={"mark": str(mark)})

    with ProcessExecutor(2, accelerator="cpu", threads_per_trial=1) as pool:
        pool.submit(spec(1, 8))
        pool.submit(spec(2, 4))
        results = pool.wait()
        if len(results) < 2:
            results += pool.wait()
    done = {r.trial_id: r for r in results}
    assert mark.exists()  # trial 2 died, as trial 1 waited for it
    assert done[2].status is TrialStatus.FAILED
    assert done[2].error.splitlines()[0] == "trial process died (exit code 3)"
    assert done[1].status is TrialStatus.COMPLETED, done[1].error
    assert done[1].epochs == 1 and done[1].finished > done[2].finished


@pytest.mark.slow
def test_a_trial_process_sent_sigterm_is_said_killed_by_it_not_a_clean_exit(
        tmp_path, tiny_trainer):
    # Lightning's SIGTERM handler ends the fit with SIGTERMException, a SystemExit without a
    # code: the worker exited 0 mid-trial (was: "trial process died (exit code 0)", as if it
    # had ended cleanly). Seed 11 draws width 4 first: trial 1 is sent SIGTERM, trial 2 runs
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.05, 0.3]}}
    result = Search(SigtermNet, space, data=BlobData, trainer={**tiny_trainer, "max_epochs": 1},
                    budget=1, num_workers=1, executor="process", threads_per_trial=1,
                    model_init_args={"term_width": 4}, optimizer="RandomSearch", seed=11,
                    max_failures=10, run_dir=tmp_path, verbose=False).run()
    first = result.trials[0]
    assert first.status is TrialStatus.FAILED and first.arch["width"] == 4
    assert first.error.splitlines()[0] == "trial process died (killed by SIGTERM)"
    assert [t.status for t in result.trials[1:]] == [TrialStatus.COMPLETED]


@pytest.mark.slow
def test_two_trials_whose_process_died_stop_the_search_saying_only_what_is_known(
        tmp_path, tiny_trainer):
    # was: "trials 1 and 2 failed the same way in training (every trial would; unless a
    # value they share is the cause: width=4): trial process died (exit code 3)": neither
    # where (no Python error came back: a build, a data setup or a step) nor that every
    # trial would was known, only that both processes ended alike
    space = {"width": {"choice": [4]}, "lr": {"float": [0.05, 0.3]}}
    with pytest.raises(SearchError) as err:
        Search(TinyNet, space, data=BlobData, trainer=tiny_trainer, budget=3, num_workers=1,
               executor="process", model_init_args={"die_width": 4}, threads_per_trial=1,
               optimizer="RandomSearch", seed=1, max_failures=10, run_dir=tmp_path,
               verbose=False).run()
    said = str(err.value)
    assert said.startswith("the processes of trials 1 and 2 died the same way (exit code 3) "
                           "before any trial completed; no Python error came back"), said
    assert "a value they share may be the cause instead: width=4: trial process died " \
           "(exit code 3)" in said
    assert "in training" not in said and "every trial would;" not in said
    with RunStore(tmp_path / "search.db") as store:  # named for a resume to run again
        assert store.get_meta("stopped_by") == [1, 2]


_SCRIPT = """
from lightning_nas import Search
from tests.helpers import BlobData, TinyNet, make_blobs
class ScriptNet(TinyNet):  # the script's own class: workers import the script again
    pass
{guard}Search(ScriptNet, {{"width": {{"choice": [4, 8]}}}}, data=BlobData, budget=2, num_workers=1,
{indent}executor="process", trainer={{"max_epochs": 1}}, run_dir={run_dir!r}, verbose=False).run()
"""


@pytest.mark.slow
def test_a_script_without_the_main_guard_stops_with_a_clear_error_and_loses_nothing(
        tmp_path, launcher):
    # was: each worker died re-running the script, every trial was FAILED "trial process
    # died (exit code 1)" and the search ended "with no completed trial". One worker
    # process (executor "process"): each launch spawns one worker, not two
    run_dir = str(tmp_path / "run")
    for guard in ("", 'if __name__ == "__main__":\n    '):
        script, log = tmp_path / f"search{len(guard)}.py", tmp_path / f"log{len(guard)}.txt"
        script.write_text(_SCRIPT.format(guard=guard, indent=" " * len(guard.split("\n")[-1]),
                                         run_dir=run_dir))
        code = launcher.run([], log, script)  # ``python search.py``, imports paid once
        if not guard:
            assert code == 1, log.read_text()
            # the search process's error says why: the worker's exit code (was: exit code 1,
            # the worker's death of the run folder its search process holds, alike for any
            # death as it starts, so the advice was given to all of them)
            error = [line for line in log.read_text().splitlines()
                     if line.startswith("lightning_nas.errors.SearchError: ")]
            assert error and error[-1].startswith(
                "lightning_nas.errors.SearchError: a worker process died while starting (it "
                "imported the script again, which started a search at import), before it ran "
                "trial "), \
                log.read_text()
            assert 'needs `if __name__ == "__main__":` around it' in error[-1]
            with RunStore(tmp_path / "run" / "search.db") as store:  # nothing counted
                assert store.count(TrialStatus.FAILED) == 0
                assert store.count(TrialStatus.COMPLETED) == 0
    assert code == 0, log.read_text()  # guarded, the same folder resumes and completes
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.count(TrialStatus.COMPLETED) == 2 and store.count(TrialStatus.FAILED) == 0


def _objective_spec(tmp_path, trial_id: int, arch: dict, objective=nap) -> TrialSpec:
    """Trial ``trial_id`` of an ``objective=`` search (no Trainer): ``nap`` by default."""
    search = Search(None, {"nap": {"choice": [0.0, 0.01]}}, objective=objective,
                    run_dir=tmp_path / "run", verbose=False)
    return search.template.spec(trial_id, arch)


@pytest.mark.slow
def test_a_trial_whose_worker_died_before_reading_it_runs_on_a_fresh_worker_once(tmp_path):
    # was: trial 2 FAILED "trial process died (killed by SIGKILL ...)" though it never ran:
    # its worker, ready and alive to submit's check, died before it read the spec. Stopped
    # (SIGSTOP), the worker cannot read it; killed after, it never did. Sent to a fresh
    # worker, the spec ends that one too as it arrives (exit code 86, REIMPORTED's: FAILED
    # with that exit code, not the advice for a script without the main guard), and is not
    # sent a third time (one arrival noted). Trial 3 starts, then ends its worker: FAILED,
    # not run again (one run noted)
    arrivals, ran = tmp_path / "arrivals.txt", tmp_path / "ran.txt"
    dying = dataclasses.replace(_objective_spec(tmp_path, 2, {"nap": 0.0}),
                                model_init_args={"die": DiesOnArrival(str(arrivals), 86)})
    with ProcessExecutor(1, accelerator="cpu", threads_per_trial=1) as pool:
        pool.start(1)
        first = pool._workers[0].process
        assert pool._workers[0].conn.poll(300)  # its ready message sent
        os.kill(first.pid, signal.SIGSTOP)
        pool.submit(dying)  # in its pipe, unread
        os.kill(first.pid, signal.SIGKILL)
        results = pool.wait()
        pool.submit(_objective_spec(tmp_path, 3, {"exit": 86, "notes": str(ran)},
                                    objective=exits))
        results += pool.wait()
    assert [(r.trial_id, r.status, r.error) for r in results] == [
        (2, TrialStatus.FAILED, "trial process died (exit code 86)"),
        (3, TrialStatus.FAILED, "trial process died (exit code 86)")]
    assert len(arrivals.read_text().split()) == 1 and len(ran.read_text().split()) == 1
    assert str(first.pid) not in arrivals.read_text()  # the fresh worker's


@pytest.mark.slow
def test_a_result_woken_with_a_worker_dying_as_it_starts_is_returned_first(
        tmp_path, monkeypatch):
    # was: wait() raised the dying worker's SearchError from inside the loop over the woken
    # workers, and the other worker's result, read in the same wait, was lost (the search
    # stopped without storing it; a resume trained that trial again)
    dying = tmp_path / "dying"
    dying.mkdir()
    (dying / "sitecustomize.py").write_text("import os\nos._exit(1)\n")  # before any import
    with ProcessExecutor(2, accelerator="cpu", threads_per_trial=1) as pool:
        pool.submit(_spec(tmp_path, 1))  # worker 0 (worker 1 is started by the third submit)
        assert pool.wait()[0].status is TrialStatus.COMPLETED  # worker 0 said it is ready
        pool.submit(_spec(tmp_path, 2))  # worker 0 again
        assert result_sent(pool._workers[0].conn)  # trial 2's result
        monkeypatch.setenv("PYTHONPATH", str(dying))
        pool.submit(_spec(tmp_path, 3))  # worker 1, spawned now, dies as it starts
        pool._workers[1].process.join(timeout=60)
        assert pool._workers[1].process.exitcode == 1
        results = pool.wait()  # both woken at once
        assert [(r.trial_id, r.status) for r in results] == [(2, TrialStatus.COMPLETED)]
        died = r"a worker process died while starting \(exit code 1\), before it ran trial 3"
        with pytest.raises(SearchError, match=died):  # no new trial is started
            pool.submit(_spec(tmp_path, 4))
        with pytest.raises(SearchError, match=died):
            pool.wait()
        with pytest.raises(RuntimeError, match="no trial is running"):  # raised once
            pool.wait()


def test_a_worker_killed_or_failed_by_its_environment_as_it_starts_is_not_blamed_on_the_script(
        tmp_path, monkeypatch):
    # was: "its error is printed above" (there was none) and the advice to put the search
    # under `if __name__ == "__main__":`, for a worker the OOM killer or a kill ended. Also
    # where it dies before it reads its trial (a spec larger than the pipe holds: its send
    # waits for the worker; a small one's send may come after the death on a loaded
    # machine): was BrokenPipeError out of submit, a traceback and not this error. And a
    # worker that exits 1 as its interpreter starts (its environment's: a sitecustomize on
    # PYTHONPATH, an LD_PRELOAD) was given the same advice, though it never imported the
    # script: that advice is for a worker that started a search as it imported the script
    # (test_a_script_without_the_main_guard_stops_with_a_clear_error_and_loses_nothing)
    dying = tmp_path / "dying"
    dying.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(dying))
    # spawned: with no worker alive, this PYTHONPATH would replace the session's fork server
    # by one that dies as it starts, and the next test's worker would wait for a new server
    monkeypatch.setenv(NO_ZYGOTE, "1")
    for death, first in (("os.kill(os.getpid(), signal.SIGKILL)",  # before any import of
                          "a worker process was killed while starting (killed by SIGKILL"),
                         ("os._exit(1)",  # the worker's
                          "a worker process died while starting (exit code 1), before it "
                          "ran trial 1"),
                         # REIMPORTED's exit code, not a search started at import: was
                         # "(it imported the script again, ...) ... needs `if __name__`"
                         ("os._exit(86)",
                          "a worker process died while starting (exit code 86), before it "
                          "ran trial 1")):
        (dying / "sitecustomize.py").write_text(f"import os, signal\n{death}\n")
        for pad in ("", "x" * 2**22):
            with ProcessExecutor(1, accelerator="cpu", threads_per_trial=1) as pool:
                pool.submit(dataclasses.replace(_spec(tmp_path, 1),
                                                model_init_args={"pad": pad}))
                with pytest.raises(SearchError) as err:
                    pool.wait()
            said = str(err.value)
            assert said.startswith(first), said
            assert "before it ran trial 1" in said and "resume runs it" in said
            assert "__main__" not in said and "import needs" not in said, said
        assert "printed above" not in said or death.startswith("os._exit(")


def test_a_worker_that_started_a_search_at_import_is_told_where_tmpdir_changed(
        tmp_path, monkeypatch):
    # the script (this process's __main__, which a worker imports again) starts a search at
    # import, unguarded: the worker leaves its marker and exits. It left it in its own
    # temporary folder (its TMPDIR; a forked one's the fork server's), which the search
    # process, whose own was read before TMPDIR changed, did not look into: the general
    # message, not the main guard's advice, and the marker left behind
    script = tmp_path / "unguarded.py"  # what Search.run does first
    script.write_text("from lightning_nas.search.worker_entry import exit_if_importing_main\n"
                      "exit_if_importing_main()\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setenv(NO_ZYGOTE, "1")  # spawned: the worker's environment is this one's
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(before))  # this process's, read before
    monkeypatch.setenv("TMPDIR", str(after))  # changed since
    with ProcessExecutor(1, accelerator="cpu", threads_per_trial=1) as pool:
        pool.submit(_spec(tmp_path, 1))
        with pytest.raises(SearchError) as err:
            pool.wait()
    assert "it imported the script again, which started a search at import" in str(err.value)
    assert list(before.iterdir()) == list(after.iterdir()) == []


def test_a_marker_a_killed_search_left_is_removed_as_the_next_pool_starts(
        tmp_path, monkeypatch):
    # a search killed after its worker left its marker (or before it read it) left the file
    # in the temporary folder for good; a live search's is kept
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    stale, live = reimported_marker(dead), reimported_marker(os.getpid())
    stale.touch()
    live.touch()
    ProcessExecutor(1, accelerator="cpu", threads_per_trial=1).shutdown()
    assert (stale.exists(), live.exists()) == (False, True)


def test_a_ctrl_c_as_the_pool_shuts_down_leaves_no_worker_for_python_to_wait_for(
        monkeypatch):
    # a Ctrl-C as a search ends (its pool shut down one worker after another, each told to
    # end and waited for) left the later workers running, idle, and Python's exit waited
    # for them for ever (multiprocessing joins its children): `lightning-nas search` said
    # "interrupted" and never returned. The Ctrl-C lands as the first worker has ended
    pool = ProcessExecutor(2, accelerator="cpu", threads_per_trial=1)
    pool.start(2)
    pids = pool.pids()
    retire = pool._retire

    def interrupted(worker):
        retire(worker)
        raise KeyboardInterrupt

    monkeypatch.setattr(pool, "_retire", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pool.shutdown()
    assert len(pids) == 2 and pool.pids() == []
