"""Trials in worker processes: parallel searches, dead workers, recycling, devices, and any
``concurrent.futures`` executor. Real processes, real Trainers."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import re
import signal
import sys
import types
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import connection

import lightning.pytorch as pl
import pytest
import yaml
from torch.utils.data import TensorDataset

from lightning_nas import Search
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.search.executors import FuturesExecutor, InlineExecutor, make_executor
from lightning_nas.search.from_config import search_from_config
from lightning_nas.search.trial import TrialSpec
from lightning_nas.search.workers import ProcessExecutor, assign_devices
from lightning_nas.store import RunStore
from tests.helpers_ctrl_c import ctrl_c_launched_when_held, hold_at_torch
from tests.helpers_data import BlobData, make_blobs
from tests.helpers_models import TinyNet
from tests.helpers_ranks import NotesAtExit
from tests.helpers_runs import needs_tensorboard
from tests.launcher import ROOT, pythonpath

SPACE = {"width": {"choice": [8, 16, 32]}, "lr": {"float": [0.05, 0.3]}}


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
        tmp_path, tiny_trainer):
    # was: each worker copied the objects and picked "the next free version" at the same
    # moment, so two trials wrote into one TensorBoard (or CSV) version
    needs_tensorboard()
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    loggers = [TensorBoardLogger(tmp_path / "tb"), CSVLogger(tmp_path / "csv")]
    trainer = {**tiny_trainer, "max_epochs": 1, "logger": loggers}  # (was 2 epochs)
    result = Search(TinyNet, SPACE, data=BlobData, trainer=trainer, budget=4, num_workers=2,
                    run_dir=tmp_path / "run", verbose=False).run()
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
def test_a_dying_trial_process_is_failed_and_the_search_completes(tmp_path, tiny_trainer):
    # seed 11 draws widths 4, 8, 8, 8: trial 1 kills its worker at once, its replacement
    # (a fresh spawn, a fresh `import lightning`) trains trial 3 (was seed 2: widths 8, 8,
    # 4, 4, 4, 4, 8, four deaths and four spawned replacements for the same asserts)
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.05, 0.3]}}
    result = Search(TinyNet, space, data=BlobData, trainer={**tiny_trainer, "max_epochs": 1},
                    budget=3, num_workers=2, model_init_args={"die_width": 4},  # 1 epoch (was 2)
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
{guard}Search(TinyNet, {{"width": {{"choice": [4, 8]}}}}, data=BlobData, budget=2, num_workers=1,
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
            assert ("SearchError: a worker process died while starting (exit code 1), before "
                    "it ran trial ") in log.read_text()
            assert 'needs `if __name__ == "__main__":` around it' in log.read_text()
            with RunStore(tmp_path / "run" / "search.db") as store:  # nothing counted
                assert store.count(TrialStatus.FAILED) == 0
                assert store.count(TrialStatus.COMPLETED) == 0
    assert code == 0, log.read_text()  # guarded, the same folder resumes and completes
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.count(TrialStatus.COMPLETED) == 2 and store.count(TrialStatus.FAILED) == 0


def _spec(tmp_path, trial_id: int) -> TrialSpec:
    return TrialSpec(trial_id=trial_id, arch={"width": 8}, trial_dir=str(tmp_path / f"t{trial_id}"),
                     model=TinyNet, data=BlobData, trainer={"max_epochs": 1})


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
        assert connection.wait([pool._workers[0].conn], timeout=300)  # trial 2's result
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
    # executor outlives the search: its live workers are those the search started
    trainer = {**tiny_trainer, "max_epochs": 1}
    started = []
    for budget in (2, 3, 3):  # a new run, a resume with one trial left, nothing left
        with ProcessExecutor(3, accelerator="cpu", threads_per_trial=1) as pool:
            Search(TinyNet, SPACE, data=BlobData, trainer=trainer, budget=budget,
                   executor=pool, num_workers=3, optimizer="RandomSearch", seed=3,
                   run_dir=tmp_path, verbose=False).run()
            started.append(len(pool.pids()))
    assert started == [2, 1, 0]
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.COMPLETED) == 3 == len(store)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_ctrl_c_while_the_workers_start_ends_the_search_as_in_one_process(tmp_path, launcher):
    # was: a terminal's Ctrl-C (SIGINT to the whole process group) while the worker processes
    # still imported torch printed a KeyboardInterrupt traceback of their imports per
    # worker; now it ends as in one process: exit 130, its two lines, and a resume runs
    # the interrupted trials
    hold, run_dir, cfg = tmp_path / "hold", tmp_path / "run", tmp_path / "search.yaml"
    hold_at_torch(hold, '"--multiprocessing-fork" in sys.argv')  # the spawned workers
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
        **env, "PYTHONPATH": pythonpath(hold, ROOT)}, hold, 2)
    assert code == 130, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    assert out.splitlines()[-2:] == [
        "Interrupted: 0 completed, 2 running (re-run on resume); run the same command again "
        "to resume.", "lightning-nas search: interrupted"], out
    with RunStore(run_dir / "search.db") as store:
        assert store.count(TrialStatus.RUNNING) == 2 == len(store)
    # the same command again, forked by the launcher (its imports paid once)
    log = tmp_path / "resume.log"
    assert launcher.run(argv, log, cwd=tmp_path) == 0, log.read_text()
    with RunStore(run_dir / "search.db") as store:  # the same two trials, run again
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


@pytest.mark.slow
def test_any_concurrent_futures_executor(tmp_path, tiny_trainer):
    # a pool of one process queues the second of two trials (was two, an import each)
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:  # 1-epoch trials
        result = Search(TinyNet, SPACE, data=BlobData, trainer={**tiny_trainer, "max_epochs": 1},
                        budget=3, executor=pool, num_workers=2, run_dir=tmp_path,
                        verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 3
    with RunStore(tmp_path / "search.db") as store:  # none started in the search process
        assert [store.attempts(t.trial_id) for t in result.trials] == [0] * 3


def test_a_process_pool_isolates_its_trials_and_a_thread_pool_does_not():
    # was: no executor object isolated them, so two kills of a search whose process pool
    # ran a trial failed it at the resume ("the search process died 2 times while running
    # this trial"), though it never ran in the search process
    from concurrent.futures import ThreadPoolExecutor

    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        assert make_executor(pool, num_workers=1).isolates_trials
    with ThreadPoolExecutor(1) as threads:
        assert not make_executor(threads, num_workers=1).isolates_trials


def test_unpicklable_model_is_refused_before_training(tmp_path, tiny_trainer):
    def local_builder(arch):  # a local function cannot reach a worker process
        return TinyNet(**arch)

    with pytest.raises(ConfigError, match="cannot be sent to worker processes .*; test_unpick"
                                          "lable_model_is_refused_before_training.<locals>."
                                          "local_builder is made inside a function, which "
                                          "pickle cannot send: define it at module level"):
        Search(local_builder, SPACE, data=BlobData, trainer=tiny_trainer, num_workers=2,
               run_dir=tmp_path)
    with pytest.raises(ConfigError, match="<lambda> is a lambda, which pickle cannot send"):
        Search(TinyNet, SPACE, data=lambda arch: BlobData(), trainer=tiny_trainer,
               num_workers=2, run_dir=tmp_path)
    assert not tmp_path.joinpath("search.db").exists()


_MAIN_CLASS = """
from lightning_nas import Search
from lightning_nas.errors import ConfigError, SearchError
from tests.helpers import BlobData, TinyNet
class MyNet(TinyNet):
    pass
try:
    Search(MyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2, num_workers=2,
           trainer={"max_epochs": 1}, run_dir=RUN_DIR, verbose=False)
    print("built")
except ConfigError as err:
    print(err)
"""


@pytest.mark.slow
def test_a_model_of_a_main_without_a_file_is_refused_for_workers(tmp_path, launcher,
                                                                  monkeypatch, capsys):
    # was: with `python -c` (or a notebook) every spawned worker died "Can't get attribute
    # 'MyNet' on <module '__main__' (built-in)>", each trial FAILED, a run folder was made
    code = _MAIN_CLASS.replace("RUN_DIR", repr(str(tmp_path / "run")))
    script = tmp_path / "search.py"
    script.write_text(code)
    # what `python -c CODE` runs CODE in: a __main__ without __file__ (was: a cold `python
    # -c`, seconds of imports for a check made before anything starts)
    main = types.ModuleType("__main__")
    assert not hasattr(main, "__file__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    exec(compile(code, "<string>", "exec"), main.__dict__)  # noqa: S102 - the -c code
    out = capsys.readouterr()
    assert ("worker processes import what a trial uses by its module; MyNet is defined in "
            "__main__, which has no file to import (python -c, a notebook): move it into a "
            "module") in out.out, out.out + out.err
    assert not (tmp_path / "run").exists()
    # a file: workers re-import it (``python search.py``, forked from the launcher: the
    # imports paid once; runpy gives its __main__ the __file__ python gives a script)
    log = tmp_path / "search.log"
    assert launcher.run([], log, script) == 0, log.read_text()
    assert log.read_text().strip() == "built", log.read_text()


def test_from_datasets_data_is_refused_for_other_processes_saying_why(tmp_path, tiny_trainer):
    # was: "... (Can't pickle local object 'LightningDataModule.from_datasets.<locals>.
    # train_dataloader'); define them at module level", which the user's objects already were
    x, y = make_blobs(64)
    data = pl.LightningDataModule.from_datasets(TensorDataset(x[:48], y[:48]),
                                                TensorDataset(x[48:], y[48:]), batch_size=16)
    why = (r"the data is LightningDataModule.from_datasets\(...\)'s, whose loaders are "
           r"functions made inside it \(LightningDataModule.from_datasets.<locals>.train_"
           r"dataloader\), which pickle cannot send: such data works for trials in the "
           r"search's own process only \(num_workers 1, no DDP trials\); for these, give "
           r"data= a LightningDataModule class defined at module level")
    ddp = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1}
    for trainer, workers, where in ((tiny_trainer, 2, "worker processes"),
                                    (ddp, 1, "the rank processes of DDP trials")):
        with pytest.raises(ConfigError, match=f"cannot be sent to {where} .*; {why}"):
            Search(TinyNet, SPACE, data=data, trainer=trainer, num_workers=workers,
                   run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # in the search's own process it trains, as the README says
    result = Search(TinyNet, SPACE, data=data, trainer=tiny_trainer, budget=2,
                    run_dir=tmp_path / "inline", verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2


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


@pytest.mark.parametrize("name", ["ddp_spawn", "DDP_Spawn"])
def test_spawning_strategies_are_refused(tmp_path, tiny_trainer, name):
    # the message names the setting once and says why (was: "trainer.strategy='ddp_spawn':
    # strategy 'ddp_spawn' is not supported ..., so the launcher re-runs the trial", which
    # it does not; and "DDP_Spawn", which Lightning reads as ddp_spawn, was not refused:
    # every trial failed after 16-47 s with EADDRINUSE)
    with pytest.raises(ConfigError, match=rf"^trainer.strategy='{name}' is not supported for "
                                          rf"trials; use strategy='ddp': it starts the ranks "
                                          rf"from inside fit"):
        Search(TinyNet, SPACE, data=BlobData, trainer={**tiny_trainer, "devices": 2,
                                                       "strategy": name},
               run_dir=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("strategy", [
    "ddp_spawn_find_unused_parameters_true", "ddp_fork_find_unused_parameters_false",
    {"class_path": "lightning.pytorch.strategies.DDPStrategy",
     "init_args": {"start_method": "spawn"}}])
def test_spawning_variants_and_nodes_are_refused_too(tmp_path, tiny_trainer, strategy):
    # was: only the exact names were refused; these failed every trial after ~30 s with an
    # opaque ProcessRaisedException
    with pytest.raises(ConfigError, match="is not supported for trials; use strategy='ddp'"):
        Search(TinyNet, SPACE, data=BlobData, trainer={**tiny_trainer, "devices": 2,
                                                       "strategy": strategy},
               run_dir=tmp_path)
    assert not (tmp_path / "search.db").exists()


@pytest.mark.parametrize(("trainer", "space"), [
    ({"devices": 2, "strategy": "ddp"}, {"trainer.strategy": {"choice": ["ddp_spawn", "ddp"]}}),
    ({"devices": 1}, {"trainer.strategy": {"choice": [
        "ddp", {"class_path": "lightning.pytorch.strategies.DDPStrategy",
                "init_args": {"start_method": "fork"}}]}, "trainer.devices": {"choice": [2]}})])
def test_spawning_strategies_a_search_may_choose_are_refused(tmp_path, tiny_trainer, trainer,
                                                               space):
    # was: only the config's strategy was checked; a searched one failed the trial after
    # ~40 s with an opaque error
    with pytest.raises(ConfigError, match=r"^space key 'trainer\.strategy' may take .*, "
                                          r"which is not supported for trials; use "
                                          r"strategy='ddp'"):
        Search(TinyNet, {**SPACE, **space}, data=BlobData, trainer={**tiny_trainer, **trainer},
               run_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_misspelt_ray_init_key_is_named_before_the_run_folder(tmp_path):
    # was: ray.init's raw "RuntimeError: Unknown keyword argument(s): num_cpu", a traceback
    pytest.importorskip("ray")
    with pytest.raises(ConfigError, match=r"unknown search.ray key 'num_cpu'; did you mean "
                                          r"'num_cpus'\? valid keys: per trial num_cpus, "
                                          r"num_gpus, runtime_env; for ray.init address, "
                                          r"resources"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, executor="ray",
               num_workers=2, ray={"num_cpu": 1}, run_dir=tmp_path / "run").run()
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("ray_options", "message"), [
    ({"num_cpus": "two"}, r"search\.ray\.num_cpus must be a number >= 0 \(the CPUs each "
                          r"trial reserves, e\.g\. 1 or 0\.5\), got 'two'"),
    ({"num_cpus": -1}, r"search\.ray\.num_cpus must be a number >= 0 .*got -1"),
    ({"num_gpus": True}, r"search\.ray\.num_gpus must be a number >= 0 .*got True"),
    ({"address": "127.0.0.1:6391", "object_store_memory": 10**8},
     r"search\.ray\.object_store_memory sets up a local cluster .* search\.ray\.address="
     r"'127\.0\.0\.1:6391' connects to an existing one"),
    ({"address": "auto", "resources": {"foo": 1}}, r"search\.ray\.resources sets up a local"),
    ({"address": 6391}, r"search\.ray\.address must be a string .*got 6391"),
    ({"runtime_env": ["pip"]}, r"search\.ray\.runtime_env must be a mapping .*got \['pip'\]"),
])
def test_bad_ray_values_are_named_before_a_cluster_starts(tmp_path, ray_options, message):
    # was: a raw TypeError (num_cpus: two), or Ray's ValueError once a local cluster had
    # started (num_cpus: -1) or the cluster was connected to (object_store_memory, resources
    # beside an address)
    ray = pytest.importorskip("ray")
    with pytest.raises(ConfigError, match=message):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, executor="ray",
               num_workers=2, ray=ray_options, run_dir=tmp_path / "run").run()
    assert not ray.is_initialized()
    assert not (tmp_path / "run").exists()


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


def test_a_worker_killed_as_it_starts_is_said_so_not_blamed_on_the_script(tmp_path,
                                                                           monkeypatch):
    # was: "its error is printed above" (there was none) and the advice to put the search
    # under `if __name__ == "__main__":`, for a worker the OOM killer or a kill ended
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "sitecustomize.py").write_text(  # before any import of the worker's
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    monkeypatch.setenv("PYTHONPATH", str(killed))
    with ProcessExecutor(1, accelerator="cpu", threads_per_trial=1) as pool:
        pool.submit(_spec(tmp_path, 1))
        with pytest.raises(SearchError) as err:
            pool.wait()
    said = str(err.value)
    assert said.startswith("a worker process was killed while starting (killed by SIGKILL")
    assert "before it ran trial 1" in said and "resume runs it" in said
    assert "__main__" not in said and "printed above" not in said


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
