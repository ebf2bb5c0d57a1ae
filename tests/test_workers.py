"""The worker processes of executor 'process' (``ProcessExecutor``): dead workers, a script
without the main guard, recycling, starting only the workers needed, Ctrl-C while they
start, and the devices and CPU threads each gets. Real processes, real Trainers."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.search.rank_zygote import NO_ZYGOTE
from lightning_nas.search.trial import TrialSpec
from lightning_nas.search.workers import ProcessExecutor, assign_devices
from lightning_nas.store import RunStore
from tests.helpers_ctrl_c import ctrl_c_launched_when_held, hold_at_torch
from tests.helpers_data import BlobData
from tests.helpers_executors import SPACE, DiesOnArrival, exits, nap, result_sent
from tests.helpers_models import TinyNet
from tests.helpers_ranks import NotesAtExit
from tests.launcher import ROOT, pythonpath


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


def _spec(tmp_path, trial_id: int) -> TrialSpec:
    return TrialSpec(trial_id=trial_id, arch={"width": 8}, trial_dir=str(tmp_path / f"t{trial_id}"),
                     model=TinyNet, data=BlobData, trainer={"max_epochs": 1})


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


_WARM = """
import json, os, signal, sys
from pathlib import Path

if __name__ == "__mp_main__" and os.environ.get("LNAS_TEST_MASK"):  # a worker, as it starts
    Path(sys.argv[1], "mask").write_text(json.dumps(  # (importing the script again)
        signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])))
    os._exit(0)
from multiprocessing import forkserver
from lightning_nas.search.exit_gc import freeze_for_exit
from lightning_nas.search.trial import TrialSpec
from lightning_nas.search.worker_start import worker_context
from lightning_nas.search.workers import ProcessExecutor
from tests.helpers_data import BlobData
from tests.helpers_models import EnvNotes

def spec(out, i):
    return TrialSpec(trial_id=i, arch={"width": 8}, trial_dir=str(out / f"t{i}"), model=EnvNotes,
                     data=BlobData, trainer={"max_epochs": 1}, model_init_args={
                         "notes": str(out / f"notes{i}.json"), "say": f"trial {i} says"})

if __name__ == "__main__":
    out = Path(sys.argv[1])
    # this process's first worker, spawned: it starts with Ctrl-C held back, the resource
    # tracker started before (its first start let SIGINT through again)
    os.environ.update(LIGHTNING_NAS_NO_ZYGOTE="1", LNAS_TEST_MASK="1")
    with ProcessExecutor(1, accelerator="cpu", threads_per_trial=5) as pool:
        pool.start(1)
        pool._workers[0].process.join(60)
    del os.environ["LIGHTNING_NAS_NO_ZYGOTE"], os.environ["LNAS_TEST_MASK"]
    mask = json.loads((out / "mask").read_text())
    null, saved = os.open(os.devnull, os.O_WRONLY), (os.dup(1), os.dup(2))
    os.dup2(null, 1), os.dup2(null, 2)  # the server starts with /dev/null as its stdio
    started = worker_context({"OMP_NUM_THREADS": "5", "LNAS_NUM_THREADS": "5"}) is not None
    os.dup2(saved[0], 1), os.dup2(saved[1], 2)
    with ProcessExecutor(2, accelerator="cpu", threads_per_trial=5) as pool:
        for i in (1, 2):
            pool.submit(spec(out, i))
        results = pool.wait()
        results += pool.wait() if len(results) < 2 else []
    # a variable the server's imports read as it started changed, no worker alive: the
    # next worker is forked from a new server, started with it, which imports a user's own
    # preload (set since) and ours
    os.environ["MKL_NUM_THREADS"] = "3"
    forkserver.set_forkserver_preload(["curses"])
    own, rules = {"OMP_NUM_THREADS": "5", "LNAS_NUM_THREADS": "5"}, {}
    with ProcessExecutor(1, accelerator="cpu", threads_per_trial=5) as pool:
        pool.submit(spec(out, 3))
        results += pool.wait()
        live = pool._workers[0].process  # a worker of the new server, alive
        # while it lives, a worker the server cannot give its environment is spawned: a
        # variable its imports read as it started (MKL_NUM_THREADS, PYTHONPATH's
        # sitecustomize), and LIGHTNING_NAS_NO_ZYGOTE=1; the worker's own variables, and
        # those read later (PL_GLOBAL_SEED, set by seed_everything), keep it warm
        os.environ.update(OMP_NUM_THREADS="7", CUDA_VISIBLE_DEVICES="", PL_GLOBAL_SEED="123")
        rules["own"], rules["other"] = worker_context(own) is not None, worker_context({}) is None
        for name, value in (("MKL_NUM_THREADS", "4"), ("PYTHONPATH", "elsewhere"),
                            ("LIGHTNING_NAS_NO_ZYGOTE", "1")):
            before = os.environ.get(name)
            os.environ[name] = value
            rules[name] = worker_context(own) is None
            os.environ.pop(name) if before is None else os.environ.update({name: before})
        rules["live"] = live.is_alive() and pool.pids() == [live.pid]
        pool.submit(spec(out, 4))  # the live worker, kept, runs the next trial
        results += pool.wait()
    notes = [json.loads((out / f"notes{i}.json").read_text()) for i in (1, 2, 3, 4)]
    servers = [n.pop("parent") for n in notes]
    new_env = Path(f"/proc/{servers[2]}/environ").read_bytes().split(b"\\0")
    preloaded = "_curses" in Path(f"/proc/{servers[2]}/maps").read_text()
    # the environment back to the first server's, no worker alive: the server of
    # MKL_NUM_THREADS=3 is replaced once more (a third server; the first is gone: kept, it
    # would hold its memory). A change undone before the next worker starts costs nothing
    del os.environ["MKL_NUM_THREADS"]
    back = worker_context(own) is not None and forkserver._forkserver._forkserver_pid
    back_env = Path(f"/proc/{back}/environ").read_bytes()
    os.environ["MKL_NUM_THREADS"] = "5"
    del os.environ["MKL_NUM_THREADS"]
    kept = worker_context(own) is not None and forkserver._forkserver._forkserver_pid == back
    os.kill(back, signal.SIGKILL)  # (its import spared)
    again = [back not in servers, b"MKL_NUM_THREADS" not in back_env,
             Path(f"/proc/{servers[2]}").exists(), kept]
    print(json.dumps([mask, started, sorted(("RuntimeError: noted" in r.error) for r in results),
                      rules, notes, servers[0] == servers[1] != servers[2] == servers[3],
                      b"MKL_NUM_THREADS=3" in new_env, Path(f"/proc/{servers[0]}").exists(),
                      preloaded, again]), flush=True)
    # what the test reads is printed (the last server, idle, is gone already: killed
    # above); this process exits without the collector's walk of torch's heap
    freeze_for_exit()
"""


@pytest.mark.slow
def test_workers_fork_warm_with_their_environment_threads_and_stdio_else_spawn(tmp_path):
    # was: every worker spawned, a fresh python that imported torch and Lightning (about
    # 4.5 CPU-seconds each here; again for each replaced one): AssertionError on
    # "forked_warm": False. Now forked from the fork server, which imported them once; each
    # still gets its own variables (5 threads each, which the server, started with this
    # process's environment, has not), torch's thread count, and its child processes see
    # them; and it writes to the search process's stdout and stderr of now, not to the
    # server's (/dev/null here; was: lost); and the rules of when it is spawned instead (in
    # the script). A variable read as the server started changed while no worker lives:
    # the server is replaced by one with it, and workers are forked warm again (was: every
    # later worker of the process spawned; a live worker keeps the server, and is kept),
    # which imports a user's own forkserver preload with ours; changed back, it is replaced
    # once more (three servers for environments A, B, A: the fewest with one server; a
    # change undone before a worker starts, none). Each server froze its imported heap
    # (server_frozen), which its workers inherit: "frozen" (was: False, walked by the
    # collector at the server's exit and in each worker). A
    # process's first worker, spawned, starts with Ctrl-C held back (was: mask False, the
    # resource tracker's first start unblocked SIGINT). A fresh interpreter: a fork server
    # of this process may have been started by an earlier test under another environment,
    # with a worker alive; the trials fail as their model is built
    script = tmp_path / "warm.py"
    script.write_text(_WARM)
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                          text=True, timeout=600, env={**os.environ,
                                                       "PYTHONPATH": pythonpath(ROOT)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [True, True, [True] * 4, {
        "own": True, "other": True, "MKL_NUM_THREADS": True, "PYTHONPATH": True,
        "LIGHTNING_NAS_NO_ZYGOTE": True, "live": True}, [
        {"omp": "5", "threads": 5, "child_omp": "5", "forked_warm": True, "frozen": True}] * 4,
        True, True, False, True, [True, True, False, True]]
    for i in (1, 2, 3, 4):
        assert f"trial {i} says on stdout" in done.stdout
        assert f"trial {i} says on stderr" in done.stderr


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


@pytest.mark.slow
def test_process_executor_recycles_workers(tmp_path):
    # a worker asked to end exits with its heap frozen (exit_gc: no walk of torch's and
    # Lightning's objects, a second or more that the search waited for each worker); was:
    # AssertionError: assert 'False' == 'True'
    with ProcessExecutor(1, accelerator="cpu", threads_per_trial=1,
                         max_trials_per_worker=1) as pool:
        pool.start(1)
        first, ran_one = pool.pids(), pool._workers[0].process
        pool.submit(dataclasses.replace(_spec(tmp_path, 1), model=NotesAtExit))
        assert pool.wait()[0].status is TrialStatus.COMPLETED
        pool.submit(_spec(tmp_path, 2))
        assert pool.wait()[0].status is TrialStatus.COMPLETED
        assert pool.pids() != first  # recycled after one trial
    assert ran_one.exitcode == 0  # a worker that ran a trial is asked to end, and ends itself
    assert (tmp_path / "t1" / "frozen_at_exit.rank0").read_text() == "True"
    assert pool.pids() == []  # (a dead worker's replacement: the dying-trial search above)


@pytest.mark.slow
def test_only_as_many_workers_start_as_there_are_trials_to_run(tmp_path, tiny_trainer):
    # was: every search started all num_workers workers before its first trial (each an
    # `import lightning`, seconds, and its memory): budget 2 on three workers started three,
    # a resume with one trial left three, a finished run resumed three. A pool given as
    # executor outlives the search: its live workers are those the search started (budget
    # 1 and 2 on two workers: was 2 and 3 on three, an import more; two trials at once on
    # two workers started for them: test_executors' test_two_workers_run_trials_at_once)
    trainer = {**tiny_trainer, "max_epochs": 1}
    started = []
    for budget in (1, 2, 2):  # a new run, a resume with one trial left, nothing left
        with ProcessExecutor(2, accelerator="cpu", threads_per_trial=1) as pool:
            Search(TinyNet, SPACE, data=BlobData, trainer=trainer, budget=budget,
                   executor=pool, num_workers=2, optimizer="RandomSearch", seed=3,
                   run_dir=tmp_path, verbose=False).run()
            started.append(len(pool.pids()))
    assert started == [1, 1, 0]
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.COMPLETED) == 2 == len(store)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_ctrl_c_while_the_workers_start_ends_the_search_as_in_one_process(tmp_path, launcher):
    # was: a terminal's Ctrl-C (SIGINT to the whole process group) while the worker processes
    # still imported torch printed a KeyboardInterrupt traceback of their imports per
    # worker; now it ends as in one process: exit 130, its two lines, and a resume runs
    # the interrupted trials. The workers' imports are the fork server's (``python -c``,
    # as multiprocessing starts it; its first worker waits for them): held there, the
    # first trial is running and its worker starting (was: two spawned workers held)
    hold, run_dir, cfg = tmp_path / "hold", tmp_path / "run", tmp_path / "search.yaml"
    hold_at_torch(hold, 'sys.argv == ["-c"]')  # the fork server
    cfg.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 64}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "logger": False,
                    "enable_progress_bar": False, "enable_model_summary": False},
        "search": {"space": {"width": {"choice": [4, 8, 16]}}, "optimizer": "RandomSearch",
                   "budget": 2, "num_workers": 2, "threads_per_trial": 1, "progress": False,
                   "run_dir": str(run_dir)}}))
    argv = ["search", str(cfg)]  # ``python -m lightning_nas search CFG``, forked by the
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # launcher: its imports paid (was: cold)
    code, out = ctrl_c_launched_when_held(launcher, argv, tmp_path, {
        **env, "PYTHONPATH": pythonpath(hold, ROOT)}, hold, 1)
    for held in hold.glob("importing.*"):  # the server, held: it ends with its hold
        os.kill(int(held.suffix[1:]), signal.SIGKILL)
    assert code == 130, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    assert out.splitlines()[-2:] == [
        "Interrupted: 0 completed, 1 running (re-run on resume); run the same command again "
        "to resume.", "lightning-nas search: interrupted"], out
    with RunStore(run_dir / "search.db") as store:
        assert store.count(TrialStatus.RUNNING) == 1 == len(store)
    # resumed, forked by the launcher (its imports paid once), in the search process
    # (num_workers 1: was 2, the same command, two worker imports more; a resume of trials
    # interrupted in worker processes with the same two workers: test_kill's "process")
    config = yaml.safe_load(cfg.read_text())
    config["search"]["num_workers"] = 1
    cfg.write_text(yaml.safe_dump(config))
    log = tmp_path / "resume.log"
    assert launcher.run(argv, log, cwd=tmp_path) == 0, log.read_text()
    with RunStore(run_dir / "search.db") as store:  # the interrupted trial run again
        assert [(t.trial_id, t.status) for t in store.trials()] == [
            (1, TrialStatus.COMPLETED), (2, TrialStatus.COMPLETED)]


@pytest.mark.slow
def test_a_pool_shut_down_as_it_starts_ends_its_workers_quietly(capfd):
    # was: a search with nothing left to train (a finished run resumed with num_workers 2)
    # printed "Process lightning-nas-worker: ... BrokenPipeError" per worker: the pool was
    # closed before the workers said they were ready
    # (and waited for each worker to import torch and Lightning before it read the end: on a
    # loaded machine past the 10 s grace, when it was killed anyway). A worker that ran no
    # trial holds nothing, and is ended at once
    with ProcessExecutor(2, accelerator="cpu", threads_per_trial=1) as pool:
        pool.start(2)
        workers = [w.process for w in pool._workers]
    assert [p.exitcode for p in workers] == [-signal.SIGKILL] * 2
    assert "Traceback" not in capfd.readouterr().err


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


def test_device_assignment():
    import torch

    assert assign_devices(2, accelerator="cpu", threads_per_trial=1) == [
        {"OMP_NUM_THREADS": "1", "LNAS_NUM_THREADS": "1"}] * 2
    count = torch.cuda.device_count()
    if not count:
        with pytest.raises(ConfigError, match="no GPU is visible"):
            assign_devices(2, accelerator="gpu")
        return
    # a machine with GPUs (was: this test asserted there is none, and failed on one): each
    # worker its own slice, and more workers than GPUs refused naming the count
    ids = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(count))))
    assert [env["CUDA_VISIBLE_DEVICES"] for env in assign_devices(count, accelerator="gpu")] \
        == [i.strip() for i in ids.split(",") if i.strip()][:count]
    with pytest.raises(ConfigError, match=f"needs {count + 1} GPUs; {count} visible"):
        assign_devices(count + 1, accelerator="gpu")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and two CPUs to run on")
def test_cpu_workers_share_the_cpus_the_search_may_run_on():
    # was: os.cpu_count(), every core of the machine, so a search confined to fewer
    # (taskset, a Slurm or container cpuset) gave each worker more threads than its cores
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert assign_devices(1, accelerator="cpu") == [
            {"OMP_NUM_THREADS": "1", "LNAS_NUM_THREADS": "1"}]
        assert ProcessExecutor(1, accelerator="cpu").cpu_threads == 1
    finally:
        os.sched_setaffinity(0, before)
    assert ProcessExecutor(1, accelerator="cpu").cpu_threads == len(before)


def test_cuda_visible_devices_without_a_gpu_gives_cpu_workers(monkeypatch):
    # was: the ids in CUDA_VISIBLE_DEVICES were taken for GPUs as they were, so on a machine
    # without one (the variable exported by a shell or a job script) a search with two
    # workers and accelerator auto was refused, "needs 2 GPUs; 1 visible (0)", and one
    # worker got the "GPU" and no CPU threads of its own
    import torch

    if torch.cuda.device_count():
        pytest.skip("needs a machine without a GPU")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert assign_devices(2, accelerator="auto", threads_per_trial=1) == [
        {"OMP_NUM_THREADS": "1", "LNAS_NUM_THREADS": "1"}] * 2
    assert ProcessExecutor(1, accelerator="auto").cpu_threads is not None
    with pytest.raises(ConfigError, match="no GPU is visible"):
        assign_devices(1, accelerator="gpu")
