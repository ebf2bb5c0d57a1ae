"""How the worker processes of executor 'process' (``ProcessExecutor``) start and end: forked
warm from the fork server (else spawned), recycled, only as many as there are trials,
Ctrl-C while they start, a pool shut down as it starts. Real processes, real Trainers."""

from __future__ import annotations

import dataclasses
import json
import os
import signal

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from lightning_nas.search.workers import ProcessExecutor
from lightning_nas.store import RunStore
from tests.helpers_ctrl_c import ctrl_c_launched_when_held, hold_at_torch
from tests.helpers_data import BlobData
from tests.helpers_executors import SPACE
from tests.helpers_executors import tiny_spec as _spec
from tests.helpers_models import TinyNet
from tests.helpers_ranks import NotesAtExit
from tests.launcher import ROOT, pythonpath

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
def test_workers_fork_warm_with_their_environment_threads_and_stdio_else_spawn(tmp_path,
                                                                              launcher):
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
    # resource tracker's first start unblocked SIGINT). A process of its own, not this one:
    # a fork server of this process may have been started by an earlier test under another
    # environment, with a worker alive; forked by the launcher, which started none (its
    # imports paid once; was: a fresh ``python``, seconds of imports); the trials fail as
    # their model is built
    script, out, err = tmp_path / "warm.py", tmp_path / "warm.out", tmp_path / "warm.err"
    script.write_text(_WARM)
    assert launcher.run([tmp_path], out, script, timeout=600, err=err) == 0, err.read_text()
    stdout, stderr = out.read_text(), err.read_text()
    assert json.loads(stdout.splitlines()[-1]) == [True, True, [True] * 4, {
        "own": True, "other": True, "MKL_NUM_THREADS": True, "PYTHONPATH": True,
        "LIGHTNING_NAS_NO_ZYGOTE": True, "live": True}, [
        {"omp": "5", "threads": 5, "child_omp": "5", "forked_warm": True, "frozen": True}] * 4,
        True, True, False, True, [True, True, False, True]]
    for i in (1, 2, 3, 4):
        assert f"trial {i} says on stdout" in stdout
        assert f"trial {i} says on stderr" in stderr


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
