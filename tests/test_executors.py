"""Trials run by an executor: parallel searches on worker processes, any
``concurrent.futures`` executor, the executors by name and the threads each trial trains
with. Real processes, real Trainers. The worker processes themselves are in
``test_workers_{deaths,start,devices}``, what cannot be sent to them in
``test_executors_refusals``."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import re
import signal
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.search import trial_hold
from lightning_nas.search.executors import FuturesExecutor, InlineExecutor, make_executor
from lightning_nas.search.from_config import search_from_config
from lightning_nas.search.workers import ProcessExecutor
from lightning_nas.store import RunStore
from lightning_nas.user_warnings import console_warnings
from tests.helpers_callbacks import HOLD_AT, EpochLog
from tests.helpers_config import USERS_OWN, HeardStream, SaysInFit, WarnsInWorker
from tests.helpers_data import BlobData
from tests.helpers_executors import SPACE, NeighbourNet, nap, result_sent
from tests.helpers_models import TinyNet
from tests.helpers_runs import needs_tensorboard


@pytest.fixture(scope="module")
def user_pool():
    """A pool of the user's: it outlives each search given it, so the tests given it share
    its workers (a worker's fork and imports each spared)."""
    with ProcessExecutor(2, accelerator="cpu", threads_per_trial=1) as pool:
        yield pool


def _overlap(trials) -> bool:
    spans = sorted((t.started, t.finished) for t in trials)
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))


@pytest.mark.slow
def test_two_workers_run_trials_at_once(two_worker_search):
    # conftest: TinyNet of 0.25 s steps, budget 4, num_workers 2, NGOpt
    with RunStore(two_worker_search / "search.db") as store:
        trials = store.trials()
    done = [t for t in trials if t.status is TrialStatus.COMPLETED]
    assert len(done) == 4 == len(trials)
    # two trials were training at the same time (by their own starts: 1.5 s trials, so a
    # worker that started later still overlaps the other's)
    assert _overlap(done)
    assert len({tuple(sorted(t.arch.items())) for t in done}) == 4


def test_logger_objects_give_each_trial_in_parallel_workers_a_version_of_its_own(
        tmp_path, tiny_trainer, user_pool):
    # was: each worker copied the objects and picked "the next free version" at the same
    # moment, so two trials wrote into one TensorBoard (or CSV) version
    needs_tensorboard()
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    loggers = [TensorBoardLogger(tmp_path / "tb"), CSVLogger(tmp_path / "csv")]
    trainer = {**tiny_trainer, "max_epochs": 1, "logger": loggers}  # (was 2 epochs)
    result = Search(TinyNet, SPACE, data=BlobData, trainer=trainer, budget=4, num_workers=2,
                    executor=user_pool, run_dir=tmp_path / "run", verbose=False).run()
    archs = sorted((t.arch["width"], t.arch["lr"]) for t in result.trials)
    assert len(archs) == 4
    for name in ("tb", "csv"):
        versions = sorted((tmp_path / name / "lightning_logs").iterdir())
        trials = [yaml.safe_load((v / "hparams.yaml").read_text()) for v in versions]
        assert not any("completed" in h for h in trials)  # no summary among them (was one)
        assert sorted((h["width"], h["lr"]) for h in trials) == archs, name
    events = [len(list(v.glob("events.out.tfevents.*")))
              for v in (tmp_path / "tb" / "lightning_logs").iterdir()]
    assert events == [1] * len(events)


@pytest.mark.slow
def test_any_concurrent_futures_executor(tmp_path, tiny_trainer, capfd):
    # a pool of one process queues the second of two trials (was two, an import each); run
    # as `lightning-nas search` runs it (console_warnings), a warning made in the pool's
    # process is the command's line, once (was: Python's form from that process, ".../tests/
    # helpers_config.py:227: UserWarning: built in a worker", once per trial)
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool, \
            console_warnings("search"), warnings.catch_warnings():  # 1-epoch trials
        warnings.simplefilter("default")  # as Python shows a script's warnings
        result = Search(WarnsInWorker, SPACE, data=BlobData,
                        trainer={**tiny_trainer, "max_epochs": 1}, budget=2, executor=pool,
                        num_workers=2, run_dir=tmp_path,
                        verbose=False).run()  # (was budget 3: a trial more, the same asserts)
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    err = capfd.readouterr().err
    said = [line for line in err.splitlines() if "built in a worker" in line]
    assert said == ["lightning-nas search: warning: built in a worker"], err
    # the user's own warnings.warn, in Python's form from the pool's process: once there, as
    # a plain loop of fits would (was: once per trial)
    own = [line for line in err.splitlines() if USERS_OWN in line]
    assert len(own) == 1, own
    with RunStore(tmp_path / "search.db") as store:  # none started in the search process
        assert [store.attempts(t.trial_id) for t in result.trials] == [0] * 2


@pytest.mark.slow  # a forked pool's process and a trial: a few seconds
def test_a_warning_of_a_process_pools_trial_is_said_as_it_is_made(tmp_path, tiny_trainer):
    # was: with the trial's result, at its end: the trial waited its 20 s in vain ("False")
    stream = HeardStream(tmp_path / "trials" / "trial_0001", "said in fit")
    with ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as pool, \
            console_warnings("search"), contextlib.redirect_stderr(stream):
        result = Search(SaysInFit, SPACE, data=BlobData,
                        trainer={**tiny_trainer, "max_epochs": 1}, budget=1, executor=pool,
                        run_dir=tmp_path, verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]
    said = [line for line in stream.getvalue().splitlines() if "said in fit" in line]
    assert said == ["lightning-nas search: warning: said in fit"]  # once
    assert (tmp_path / "trials" / "trial_0001" / "heard_in_fit.txt").read_text() == "True"


def test_a_search_that_stops_mid_trial_leaves_a_users_pool_nothing_of_its_own(tmp_path,
                                                                             user_pool,
                                                                             capsys):
    # a pool of the user's outlives a search (a notebook's next cell): one that stopped while
    # a trial ran (here an on_trial_end that raised; a Ctrl-C, a SearchError alike) left
    # that worker running the old trial, so the next search with the pool found it busy
    # (RuntimeError: all workers are busy) or took the old trial's result as its own
    def stop(result) -> None:
        raise RuntimeError("stop here")

    first = Search(None, {"nap": {"choice": [0.0, 60.0]}}, objective=nap, budget=2,
                   executor=user_pool, on_trial_end=stop, run_dir=tmp_path / "first",
                   verbose=False)  # two trials at once, of distinct archs: 0 s and 60 s
    with pytest.raises(RuntimeError, match="stop here"):
        first.run()
    assert len(user_pool.pids()) == 1  # the idle worker kept warm, the 60 s trial's ended
    capsys.readouterr()
    result = Search(None, {"nap": {"choice": [0.0, 0.1]}}, objective=nap, budget=2,
                    executor=user_pool, run_dir=tmp_path / "second", progress=False).run()
    assert sorted((t.trial_id, t.status) for t in result.trials) == [
        (1, TrialStatus.COMPLETED), (2, TrialStatus.COMPLETED)]
    # its header counts the pool's workers, which the search runs at once (was: "1 worker",
    # the default num_workers, which an executor object's own count replaces)
    (header,) = [line for line in capsys.readouterr().out.splitlines()
                 if line.startswith("Searching ")]
    assert ", 2 workers, " in header, header
    with RunStore(tmp_path / "second" / "search.db") as store:  # each its own result
        assert sorted((t.arch["nap"], t.metrics["val_acc"]) for t in store.trials()) == [
            (0.0, 0.0), (0.1, 0.1)]


def test_a_searchs_end_drops_the_kept_error_of_a_worker_that_died_as_it_started(
        tmp_path, user_pool, monkeypatch):
    # a worker's death as it started, woken with another worker's result, is kept for the
    # next submit or wait (test_workers_deaths); a search that ended on that result (an on_trial_end
    # that raised, a Ctrl-C) left it in a pool of the user's, and the next search with the
    # pool stopped on it at its first trial ("... before it ran trial 3": another search's)
    dying = tmp_path / "dying"
    dying.mkdir()
    (dying / "sitecustomize.py").write_text("import os\nos._exit(1)\n")  # before any import
    spec = Search(None, {"nap": {"choice": [0.0, 0.01]}}, objective=nap,
                  run_dir=tmp_path / "old", verbose=False).template.spec
    user_pool.start(2)  # both live (warm from the tests before, else started now)
    first, second = user_pool._workers
    user_pool.submit(spec(1, {"nap": 0.0}))  # the first worker: its ready message read too
    assert user_pool.wait()[0].status is TrialStatus.COMPLETED
    second.process.kill()  # ended while idle: the next submit to it starts a new one
    second.process.join()
    user_pool.submit(spec(2, {"nap": 0.0}))  # the first worker again
    assert result_sent(first.conn)  # trial 2's result
    with monkeypatch.context() as patch:
        patch.setenv("PYTHONPATH", str(dying))  # spawned, it dies as it starts
        user_pool.submit(spec(3, {"nap": 0.0}))
        second.process.join(timeout=60)
    assert [r.trial_id for r in user_pool.wait()] == [2]  # the death kept
    user_pool.end_trials()  # as the search's end does
    result = Search(None, {"nap": {"choice": [0.0, 0.01]}}, objective=nap, budget=1,
                    executor=user_pool, run_dir=tmp_path / "new", verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]


#: the archs the trials of ``_held_after_first`` ran with, in order; what holds them
_RAN: list[float] = []
_GATE = threading.Event()


def _held_after_first(arch: dict) -> dict[str, float]:
    """An ``objective=`` trial: the first returns at once, the later ones wait for
    ``_GATE`` (at most a minute), each noted in ``_RAN`` as it starts."""
    _RAN.append(arch["nap"])
    if len(_RAN) > 1:
        _GATE.wait(60)
    return {"val_acc": float(arch["nap"])}


@pytest.mark.parametrize("wrapped", [False, True], ids=["pool", "FuturesExecutor"])
def test_a_stopped_search_cancels_its_trials_a_users_pool_has_not_started(tmp_path, wrapped):
    # a pool of two threads, one busy with the user's own job: trial 1 runs and ends, 2
    # runs on, 3 waits in the pool's queue when on_trial_end stops the search; a running
    # future cannot be cancelled, a queued one can (was: trial 3 ran once a thread was
    # free, after the search had ended, into its trial folder); the pool given as it is,
    # or in a FuturesExecutor of the user's (was: not cancelled either way)
    def stop(result) -> None:
        raise RuntimeError("stop here")

    _RAN.clear()
    _GATE.clear()
    with ThreadPoolExecutor(2) as pool:
        users = pool.submit(_GATE.wait, 60)
        search = Search(None, {"nap": {"choice": [0.0, 0.1, 0.2]}}, objective=_held_after_first,
                        budget=3, num_workers=3, on_trial_end=stop,
                        executor=FuturesExecutor(pool, num_workers=3) if wrapped else pool,
                        run_dir=tmp_path, verbose=False)
        try:
            with pytest.raises(RuntimeError, match="stop here"):
                search.run()
        finally:
            _GATE.set()
    assert users.result() is True  # the user's own job: not cancelled
    with RunStore(tmp_path / "search.db") as store:
        archs = {t.trial_id: t.arch["nap"] for t in store.trials()}
    assert sorted(archs) == [1, 2, 3]
    assert _RAN in ([archs[1]], [archs[1], archs[2]])  # trial 3 never ran


def _ctrl_c_once(started: Path) -> threading.Thread:
    """A thread that sends this process SIGINT (a Ctrl-C of the search) once ``started``
    (a trial's ``epochs.jsonl``: ``EpochLog`` holds it at its first epoch) is there."""
    def watch() -> None:
        until = time.monotonic() + 120
        while not started.exists() and time.monotonic() < until:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_resume_refuses_a_trial_still_running_in_a_users_pool(tmp_path, tiny_trainer,
                                                                monkeypatch):
    # a Ctrl-C of a search whose trial runs in the user's ProcessPoolExecutor: the trial
    # cannot be stopped from outside, it goes on writing its folder and the store keeps it
    # RUNNING; a resume started meanwhile ran it again in that same folder (was: cleared
    # and retrained there under the live one, two writers in one folder), now refused
    # before any training, naming the trial, its folder and the process that runs it
    run = tmp_path / "run"
    trainer = {**tiny_trainer, "max_epochs": 1, "callbacks": [EpochLog()]}
    kw = dict(data=BlobData, trainer=trainer, budget=1, run_dir=run, verbose=False)
    epochs = run / "trials" / "trial_0001" / "epochs.jsonl"
    monkeypatch.setenv(HOLD_AT, "epoch 0")  # the pool's trial holds (forked: it inherits)
    # (refused after a moment's wait, not the HELD_WAIT for a killed search's workers)
    monkeypatch.setattr(trial_hold, "HELD_WAIT", 0.2)
    with ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as pool:
        worker = pool.submit(os.getpid).result()
        watch = _ctrl_c_once(epochs)
        try:
            with pytest.raises(KeyboardInterrupt):
                Search(TinyNet, SPACE, executor=pool, **kw).run()
            watch.join()
            monkeypatch.delenv(HOLD_AT)
            try:
                with pytest.raises(SearchError) as refused:
                    Search(TinyNet, SPACE, **kw).run()  # inline: in this process
                said = str(refused.value)
                for part in ("trial 1", str(run / "trials" / "trial_0001"),
                             f"pid {worker} on", "still running", "wait for it to end"):
                    assert part in said, part
                # the live trial's folder as it left it: nothing trained here
                assert [json.loads(line)["pid"] for line in epochs.read_text().splitlines()
                        ] == [worker]
            finally:
                os.kill(worker, signal.SIGKILL)  # ends it (the pool is broken: shut down)
        finally:
            watch.join()
    # its process gone, the OS let its lock go: the resume runs it, here alone
    result = Search(TinyNet, SPACE, **kw).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]
    assert [json.loads(line)["pid"] for line in epochs.read_text().splitlines()] == [
        os.getpid()]


def test_a_broken_process_pool_stops_the_search_saying_so(tmp_path, tiny_trainer):
    # a trial's process that dies (os._exit, a crash, the out-of-memory killer) breaks a
    # concurrent.futures process pool for good: the next trial's submit raised Python's
    # raw "BrokenProcessPool: A child process terminated abruptly, the process pool is not
    # usable anymore" out of Search.run. Seed 11 draws width 4 first: trial 1 dies
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.05, 0.3]}}
    with ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as pool:
        search = Search(TinyNet, space, data=BlobData, trainer={**tiny_trainer, "max_epochs": 1},
                        budget=2, executor=pool, model_init_args={"die_width": 4},
                        optimizer="RandomSearch", seed=11, max_failures=10, run_dir=tmp_path,
                        verbose=False)
        with pytest.raises(SearchError, match=r"^executor ProcessPoolExecutor is broken "
                                              r"\(BrokenProcessPool: .*\): one of its processes "
                                              r"ended abruptly .*; trial 2 was not run: a "
                                              r"resume runs it"):
            search.run()
    with RunStore(tmp_path / "search.db") as store:
        assert [(t.trial_id, t.status) for t in store.trials()] == [
            (1, TrialStatus.FAILED), (2, TrialStatus.RUNNING)]


def test_a_pool_broken_under_two_trials_blames_the_pool_not_their_architectures(tmp_path):
    # was: "trials 1 and 2 failed the same way in training (every trial would; ...):
    # BrokenProcessPool", though trial 2's process lived and its architecture trained.
    # Seed 11 draws width 4 (dies at its first step) then width 8 (waits for the death)
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.05, 0.3]}}
    init = {"die_width": 4, "mark": str(tmp_path / "died")}
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
        search = Search(NeighbourNet, space, data=BlobData, budget=4, executor=pool,
                        num_workers=2, trainer={"max_epochs": 1, "accelerator": "cpu"},
                        model_init_args=init, optimizer="RandomSearch", seed=11,
                        max_failures=10, run_dir=tmp_path / "run", verbose=False)
        with pytest.raises(SearchError) as stop:
            search.run()
    said = str(stop.value)
    assert said.startswith("executor ProcessPoolExecutor is broken (BrokenProcessPool: "), said
    for part in ("while it ran trials 1 and 2, and it FAILED them all with BrokenProcessPool",
                 "not by their architecture", "trial 3 was not run: a resume runs it",
                 "executor='process'"):
        assert part in said, part
    assert "the same way" not in said
    with RunStore(tmp_path / "run" / "search.db") as store:
        trials = store.trials()
    assert [(t.trial_id, t.arch["width"], t.status) for t in trials] == [
        (1, 4, TrialStatus.FAILED), (2, 8, TrialStatus.FAILED), (3, trials[2].arch["width"],
                                                                TrialStatus.RUNNING)]
    assert trials[1].error.startswith("BrokenProcessPool: "), trials[1].error
    assert "trials 1 and 2 were in it: a process of it ended abruptly" in trials[1].error


def _no_thread(*_: object) -> None:
    raise RuntimeError("this pool's threads cannot start")


def test_a_thread_pool_whose_initializer_failed_is_said_broken_without_a_process(tmp_path):
    # was: "executor ThreadPoolExecutor is broken (BrokenThreadPool: A thread initializer
    # failed, ...): one of its processes ended abruptly (a crash, os._exit, ...)"
    with ThreadPoolExecutor(1, initializer=_no_thread) as pool:
        search = Search(None, {"nap": {"choice": [0.0, 0.01]}}, objective=nap, budget=2,
                        executor=pool, seed=None, run_dir=tmp_path, verbose=False)
        with pytest.raises(SearchError, match=r"^executor ThreadPoolExecutor is broken "
                                              r"\(BrokenThreadPool: A thread initializer "
                                              r"failed.*\).*; it runs no more trials; trial "
                                              r"\d was not run: a resume runs it") as stop:
            search.run()
    assert "process" not in str(stop.value)
    with RunStore(tmp_path / "search.db") as store:
        errors = [t.error for t in store.trials(TrialStatus.FAILED)]
    assert all("process" not in error and "the pool broke while trial" in error
               for error in errors), errors


def test_a_process_pool_isolates_its_trials_and_a_thread_pool_does_not():
    # was: no executor object isolated them, so two kills of a search whose process pool
    # ran a trial failed it at the resume ("the search process died 2 times while running
    # this trial"), though it never ran in the search process
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        assert make_executor(pool, num_workers=1).isolates_trials
    with ThreadPoolExecutor(1) as threads:
        assert not make_executor(threads, num_workers=1).isolates_trials


def test_threads_per_trial_hold_in_the_searchs_own_process_too(tmp_path):
    import torch

    before, seen = torch.get_num_threads(), []

    def objective(arch: dict) -> dict:
        seen.append(torch.get_num_threads())
        return {"val_acc": float(arch["a"])}

    torch.set_num_threads(2)
    try:
        Search(None, {"a": {"choice": [1, 2]}}, objective=objective, budget=2,
               threads_per_trial=1, run_dir=tmp_path, verbose=False).run()  # was ignored
        assert seen == [1, 1] and torch.get_num_threads() == 2  # set for trials only
    finally:
        torch.set_num_threads(before)


def test_an_inline_search_records_the_threads_its_trials_trained_with(tmp_path, monkeypatch):
    # was: null (the process's own, no count), so best_config.yaml's command had no
    # OMP_NUM_THREADS and `finetune --from_scratch` took the caller's count: a search run
    # with OMP_NUM_THREADS=1 scored 0.835156, its header's command 0.850019
    import torch

    from lightning_nas.export import finetune

    run, record = tmp_path / "run", {"class_path": "tests.helpers.RankRecorder"}
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "callbacks": [record]}
    assert torch.get_num_threads() == 1  # the tests' (conftest), no threads_per_trial
    result = search_from_config({
        "model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData", "trainer": trainer,
        "search": {"space": SPACE, "budget": 1, "run_dir": str(run), "verbose": False}}).run()
    trained = json.loads((run / "trials" / "trial_0001" / "rank0.json").read_text())
    with RunStore(run / "search.db") as store:
        assert store.fits(1) == [trained["threads"]] == [1]
    header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
    assert "# It ran with 1 torch thread: on CPU the same count gives the same score." in header
    assert f"# Train it again: OMP_NUM_THREADS=1 lightning-nas fit {run}" in header
    torch.set_num_threads(2)  # a caller of another count trains it as the trial did
    try:
        tuned = finetune(run, from_checkpoint=False, out_dir=tmp_path / "ft")
    finally:
        torch.set_num_threads(1)
    assert json.loads((tmp_path / "ft" / "rank0.json").read_text())["threads"] == 1
    assert tuned.curve == result.trials[0].curve
    # trials on rank processes start with OMP_NUM_THREADS; without it Lightning shares the
    # cores out among them, as among a fit's ranks: no count of the search's
    ddp = {"accelerator": "cpu", "devices": 2, "strategy": "ddp"}
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert make_executor("inline", trainer=ddp).cpu_threads == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert make_executor("inline", trainer=ddp).cpu_threads is None
    assert make_executor("inline", trainer=ddp, threads_per_trial=2).cpu_threads == 2


def test_devices_per_trial_that_cpu_trials_would_ignore_is_refused_first(tmp_path,
                                                                         tiny_trainer):
    # was: accepted, and the worker processes of CPU trials ignored it
    needle = ("devices_per_trial=2 gives each worker its GPUs, and trainer.accelerator='cpu' "
              "trains on none (with executor 'process'")
    with pytest.raises(ConfigError, match=re.escape(needle)):
        Search(TinyNet, SPACE, data=BlobData, trainer=tiny_trainer, budget=2, num_workers=2,
               devices_per_trial=2, run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match=re.escape(needle)):
        make_executor("auto", 2, tiny_trainer, devices_per_trial=2)
    with pytest.raises(ConfigError, match=r"trainer.accelerator='auto' .* executor 'ray', "
                                          r"GPUs are taken with accelerator gpu or cuda"):
        make_executor("ray", 2, {"accelerator": "auto"}, devices_per_trial=1)
    with pytest.raises(ConfigError, match=r"ray.num_gpus=1 sets a Ray trial's GPUs instead"):
        make_executor("ray", 2, {"accelerator": "gpu"}, devices_per_trial=1,
                      ray={"num_gpus": 1})
    # the Trainer's devices are the default: nothing was given to ignore
    assert isinstance(make_executor("process", 2, tiny_trainer), ProcessExecutor)


def test_executor_names_and_objects():
    assert isinstance(make_executor("auto", 1), InlineExecutor)
    assert isinstance(make_executor("auto", 2, {"accelerator": "cpu"}), ProcessExecutor)
    with ProcessPoolExecutor(1) as pool:
        assert isinstance(make_executor(pool, 1), FuturesExecutor)
    with pytest.raises(ConfigError, match="unknown executor 'threads'; valid: auto, inline"):
        make_executor("threads")
    with pytest.raises(ConfigError, match="has no submit"):
        make_executor(object())
    with pytest.raises(ConfigError, match="'inline' runs one trial at a time"):
        make_executor("inline", 2)


def test_gpu_trials_asking_more_gpus_than_a_worker_sees_are_refused_first(tmp_path,
                                                                          tiny_trainer):
    # was: accepted; each worker process saw its devices_per_trial GPUs alone (its
    # CUDA_VISIBLE_DEVICES slice), so every trial's Trainer refused trainer.devices there,
    # each FAILED after the run folder was written (on a machine without a GPU: "no GPU is
    # visible", which hid it)
    gpu = {**tiny_trainer, "accelerator": "gpu", "devices": 2, "strategy": "ddp"}
    with pytest.raises(ConfigError, match=r"trainer\.devices=2 trains each trial on 2 GPUs, "
                                          r"but devices_per_trial=1 gives each worker "
                                          r"process 1 .*devices_per_trial=2"):
        Search(TinyNet, SPACE, data=BlobData, trainer=gpu, budget=2, num_workers=2,
               devices_per_trial=1, run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()
    # a list (or "0,1") of GPU indices: each worker's slice is indexed from 0
    with pytest.raises(ConfigError, match=r"trainer\.devices=\[1\] trains each trial on GPU "
                                          r"index 1, but devices_per_trial=1 gives"):
        make_executor("process", 2, {"accelerator": "cuda", "devices": [1]})
    with pytest.raises(ConfigError, match=r"trainer\.devices='0,1' trains each trial on 2 "
                                          r"GPUs, but search\.ray\.num_gpus=1 gives"):
        make_executor("ray", 2, {"accelerator": "gpu", "devices": "0,1"}, ray={"num_gpus": 1})


def test_gpu_trials_given_as_a_list_reserve_its_gpus_by_default():
    # was: devices_per_trial (and search.ray.num_gpus) defaulted to the Trainer's devices
    # only where an int, else 1: a trial on devices [0, 1] reserved 1 GPU of Ray, whose
    # actor saw that one alone, and every trial FAILED
    pytest.importorskip("ray")
    for devices in ([0, 1], "0,1", "2"):
        pool = make_executor("ray", 2, {"accelerator": "gpu", "devices": devices})
        assert pool.num_gpus == 2, devices


def test_a_searched_trainer_devices_beyond_a_workers_gpus_is_refused_first(tmp_path,
                                                                          tiny_trainer):
    # was: each worker's GPUs were sliced by the config's trainer.devices (1 by default), so
    # the trials whose searched trainer.devices was 2 each FAILED in their worker
    gpu = {**tiny_trainer, "accelerator": "gpu", "strategy": "ddp"}
    space = {**SPACE, "trainer.devices": {"choice": [1, 2]}}
    with pytest.raises(ConfigError, match=r"space key 'trainer\.devices' may take 2, which "
                                          r"trains a trial on 2 GPUs, but devices_per_trial=1 "
                                          r"gives each worker process 1 "):
        Search(TinyNet, space, data=BlobData, trainer=gpu, budget=2, num_workers=2,
               run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()
