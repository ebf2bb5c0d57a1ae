"""A Hydra sweep whose jobs run on Hydra's joblib launcher (``hydra-joblib-launcher``: jobs in
loky worker processes), for real; skipped where its package is absent. The sweep runs
in-process (Hydra's own sweep runner, ``tests.helpers_hydra_sweep.multirun``); each job fits a tiny
real Trainer and writes what it saw (its process, torch threads, width, score) into its
output folder, which the tests hold against the store. (``submitit_local`` passes the same
checks, but a sweep of its fresh job processes takes about 30 s here: not in the suite.)"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.errors import SearchError  # noqa: E402
from lightning_nas.export_hydra import stored_job  # noqa: E402
from lightning_nas.integrations.hydra_threads import shared_cores  # noqa: E402
from lightning_nas.results import TrialStatus  # noqa: E402
from lightning_nas.search.workers import usable_cpus  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402

#: the widths searched; a job of ``FAILS`` raises in its ``training_step``
WIDTHS, FAILS = "choice(2, 3, 4, 5, 6, 7)", 7
#: the file each job writes its record into, in its output folder
RECORD = "job_record.json"
#: a test of the joblib launcher: skipped, saying what to install, where it is absent
needs_joblib = pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_joblib_launcher") is None,
    reason="needs Hydra's joblib launcher: pip install hydra-joblib-launcher")


def _fit_job(cfg: DictConfig) -> float:
    """The task of every job: fit ``TinyNet(width)`` on the blobs for one short epoch, write
    the job's record into its output folder, return its ``val_acc`` (the job of width
    ``die_done`` ends its process once another job of the sweep finished). (Pickled by value to
    the launcher's processes, with ``RECORD``: the workers need not import this module.)"""
    import json
    import os
    import time
    from pathlib import Path

    import lightning.pytorch as pl
    import torch
    from hydra.core.hydra_config import HydraConfig

    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    pl.seed_everything(0, verbose=False)
    folder = Path(HydraConfig.get().runtime.output_dir)
    record = {"pid": os.getpid(), "threads": torch.get_num_threads(), "width": cfg.width}
    (folder / RECORD).write_text(json.dumps(record))
    if cfg.get("die_done") == cfg.width:  # ends its process once another job finished
        for _ in range(1200):
            if any(folder.parent.glob("*/lightning_nas_job.json")):
                break
            time.sleep(0.05)
        os._exit(3)
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=2, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=str(folder),
                         accelerator="cpu", devices=1)
    trainer.fit(TinyNet(width=cfg.width, fail_width=cfg.fail_width,
                        die_width=cfg.get("die_width")), BlobData(n=64))
    record["score"] = float(trainer.callback_metrics["val_acc"])
    (folder / RECORD).write_text(json.dumps(record))
    return record["score"]


_fit_job.__module__ = "__main__"  # (cloudpickle sends a __main__ function by value)


def _records(run: Path) -> dict[int, dict[str, Any]]:
    """Each trial's job record, read from the folder the store says its job ran in."""
    with RunStore(run / "search.db") as store:
        folders = store.get_meta("job_dirs")
    return {int(t): {**json.loads((Path(f) / RECORD).read_text()), "folder": f}
            for t, f in folders.items()}


def _joblib_sweep(tmp_path: Path, num_workers: int, *launcher: str,
                  nodes: dict[str, Any] | None = None, option: str = "joblib",
                  **sweeper: Any) -> list:
    """A sweep of ``_fit_job`` on the joblib launcher (``option``: another of
    ``hydra/launcher``; ``launcher``: its settings; ``nodes``: the job config's, beside
    ``width`` and ``fail_width``). Loky's worker processes, which the launcher's joblib
    keeps for 300 s, are left to the next sweep of this process, which reuses them where
    joblib does (the same workers' environment), as a user's next launch would; the caller
    ends them (``_end_workers``)."""
    return multirun(tmp_path, _fit_job,
                    {"budget": 1, "seed": 0, "num_workers": num_workers,
                     "params": {"width": WIDTHS}, **sweeper},
                    (f"hydra/launcher={option}", *launcher), keep_jobs=True,
                    **{"width": 2, "fail_width": FAILS, **(nodes or {})})


def _end_workers() -> None:
    """End loky's worker processes (idle, kept 300 s by joblib): a later test of this
    process that counts its own processes would find them (``test_user_data``)."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True, kill_workers=True)


def _raise_shape(cfg: DictConfig) -> float:
    """A task that raises ``ShapeError`` for every width (pickled by value)."""
    from tests.helpers_hydra_sweep import ShapeError

    raise ShapeError(cfg.width, 2)


_raise_shape.__module__ = "__main__"


def _make_joblib_runs(folder: Path) -> dict[str, Any]:
    """``joblib_run``'s four sweeps, one after the other in this process, each but the
    first started on the warm workers the one before left where joblib reuses them (was: a
    sweep of each test's own, on cold workers, seconds of imports each): in ``folder``,
    budget 2 with 2 jobs at once (``n_jobs=2``): the first batch's width 6 completes and
    width 7 fails, a batch of one completes the budget; in ``folder/alone``, one job at a
    time (joblib's default ``n_jobs=-1``); in ``folder/dies``, budget 2 with 2 jobs at once
    whose width 7 ends its process once width 6 finished, ``max_failures=0``; last, in
    ``folder/shape``, one job at a time that raises ``ShapeError`` (``_raise_shape``: an
    error joblib cannot send back), ``max_failures=0``, on the workers the sweeps before
    left (was: a sweep of its test's own, on cold workers). The ids of the trials the first
    returned, and what ``dies`` and ``shape`` raised (its type's name, message)."""
    raised = None
    try:
        trial_ids = [t.trial_id for t in _joblib_sweep(folder, 2, "hydra.launcher.n_jobs=2",
                                                       budget=2)]
        _joblib_sweep(folder / "alone", 1)
        try:
            _joblib_sweep(folder / "dies", 2, "hydra.launcher.n_jobs=2", budget=2,
                          max_failures=0, nodes={"fail_width": 0, "die_done": FAILS})
        except Exception as err:  # noqa: BLE001 - the test says which it must be
            raised = {"type": type(err).__name__, "message": str(err)}
        shape = None
        try:
            multirun(folder / "shape", _raise_shape,
                     {"budget": 1, "max_failures": 0, "params": {"width": "choice(3, 4)"}},
                     ("hydra/launcher=joblib",), width=2)
        except Exception as err:  # noqa: BLE001 - the test says which it must be
            shape = {"type": type(err).__name__, "message": str(err)}
    finally:
        _end_workers()
    return {"trial_ids": trial_ids, "raised": raised, "shape_raised": shape}


@pytest.fixture(scope="module")
def joblib_run(shared_run) -> tuple[Path, dict[str, Any]]:
    """The joblib launcher's sweeps (``_make_joblib_runs``): their folder and what the maker
    returned, made once per session (conftest's ``shared_run``: under pytest-xdist this
    module's tests run in both workers, and a sweep starts loky's worker processes, seconds
    of imports each); the tests only read them."""
    return shared_run("joblib_run", _make_joblib_runs)


@needs_joblib
@pytest.mark.slow
def test_joblib_jobs_store_their_scores_under_their_own_trials(joblib_run):
    tmp, made = joblib_run
    trial_ids = made["trial_ids"]
    records = _records(tmp / "run")
    with RunStore(tmp / "run" / "search.db") as store:
        stored = store.trials()
    done = [t for t in stored if t.status is TrialStatus.COMPLETED]
    assert len(done) == 2 and done[0].arch["width"] == 6  # (seed 0: 6 and 7 first)
    assert trial_ids == [t.trial_id for t in stored]
    for trial in done:  # its job trained its width and returned the stored score
        record = records[trial.trial_id]
        assert record["width"] == trial.arch["width"] and record["score"] == trial.score
        assert record["pid"] != os.getpid()  # in a joblib worker, not the sweep's process
        job = yaml.safe_load((Path(record["folder"]) / ".hydra" / "config.yaml").read_text())
        assert job["width"] == trial.arch["width"]
        assert Path(record["folder"]).parent == tmp / "jobs"  # its own job folder
        assert (Path(record["folder"]) / "lightning_nas_job.json").is_file()
        assert trial.started <= trial.finished  # the job's own times, from its folder
    assert len({r["folder"] for r in records.values()}) == len(records)
    results = yaml.safe_load((tmp / "run" / "optimization_results.yaml").read_text())
    best = max(done, key=lambda t: t.score)
    assert (results["best_trial"], results["best_value"]) == (best.trial_id, best.score)
    assert results["best_job_dir"] == records[best.trial_id]["folder"]
    # the lines that train the best job again: no launcher (a run has one job)
    assert "launcher" not in results["rerun"] and "launcher" not in results["rerun_alone"]
    assert f"--config-path {results['best_job_dir']}/.hydra" in results["rerun_alone"]


@needs_joblib
@pytest.mark.slow
def test_a_failed_joblib_job_is_stored_failed_with_where_it_failed(joblib_run):
    # was: the job's exception came back pickled from the worker without its traceback, so
    # the stored error's ended in the sweeper's own frames, naming no line of the job's
    tmp, _ = joblib_run
    with RunStore(tmp / "run" / "search.db") as store:
        failed = store.trials(TrialStatus.FAILED)
    assert [t.arch["width"] for t in failed] == [FAILS]
    error = failed[0].error
    assert error.startswith(f"RuntimeError: width {FAILS} is broken on purpose\n")
    assert "helpers_models.py" in error and "in training_step" in error


@needs_joblib
@pytest.mark.slow
def test_joblib_jobs_share_the_cores_out_among_the_jobs_of_a_batch(joblib_run):
    # 2 jobs at once get the cores / 2 threads each; one job at a time all of them (was:
    # loky's cores / n_jobs, 1 thread each with its default n_jobs=-1, a core left idle)
    tmp, _ = joblib_run
    share = max(1, usable_cpus() // 2)
    assert {r["threads"] for r in _records(tmp / "run").values()} == {share}
    # (its sweep of one job at a time ran on the workers the sweep of 2 at once left)
    assert [r["threads"] for r in _records(tmp / "alone" / "run").values()] == [usable_cpus()]
    # each job's threads stored (was: null for every job), and the lines that train the
    # best job again alone run with them (was: the rerun's process's own, all cores)
    with RunStore(tmp / "run" / "search.db") as store:
        assert {t.trial_id: store.fits(t.trial_id) for t in store.trials()} == {
            1: [share], 2: [share], 3: [share]}
        best = store.best("max")
        exported = stored_job(store, best.trial_id, best.arch)
    results = yaml.safe_load((tmp / "run" / "optimization_results.yaml").read_text())
    for line in (results["rerun"], results["rerun_alone"], exported["rerun"],
                 exported["rerun_alone"]):
        assert line.startswith(f"OMP_NUM_THREADS={share} python ")


def test_the_sweeps_omp_num_threads_is_the_count_of_each_job_on_its_cores(monkeypatch):
    # the user's count, which joblib passes on (was: loky's MKL_NUM_THREADS=1 won in torch:
    # a joblib sweep under OMP_NUM_THREADS=2 trained its jobs with 1 thread; that sweep
    # costs a second start of loky's workers, so its count is checked here)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert shared_cores(2).threads == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "0")  # not a count: the cores shared out
    assert shared_cores(2).threads == max(1, usable_cpus() // 2)
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert shared_cores(1).threads == usable_cpus()


@needs_joblib
@pytest.mark.slow
def test_a_joblib_job_whose_process_dies_is_stored_failed_not_the_sweep_dead(joblib_run):
    # was: joblib's TerminatedWorkerError ended the sweep (a traceback, both trials left
    # RUNNING), and a resume ran the dying job again: the sweep could never end
    tmp, made = joblib_run
    dies = tmp / "dies"  # (no second batch: max_failures=0)
    assert made["raised"] is not None and made["raised"]["type"] == SearchError.__name__
    assert re.search(r"1 trial failed \(max_failures=0\)", made["raised"]["message"])
    with RunStore(dies / "run" / "search.db") as store:
        trials = store.trials()
    assert [(t.arch["width"], t.status) for t in trials] == [
        (6, TrialStatus.COMPLETED), (FAILS, TrialStatus.FAILED)]
    assert trials[1].error.startswith("the job's process died, or its launcher "
                                      "(JoblibLauncher) failed: TerminatedWorkerError: ")
    # the job of the batch that had finished (its width 7 died once it had) is stored from
    # its folder, not trained again; only the dying one is launched again alone (was:
    # both, width 6 trained twice)
    records = _records(dies / "run")
    assert records[1]["score"] == trials[0].score
    assert Path(records[1]["folder"]) == dies / "jobs" / "0"
    trained = [json.loads(p.read_text())["width"] for p in (dies / "jobs").glob(f"*/{RECORD}")]
    assert sorted(trained) == [6, FAILS, FAILS]



@needs_joblib
@pytest.mark.slow
def test_a_joblib_jobs_error_that_does_not_unpickle_is_stored_as_the_job_raised_it(joblib_run):
    # was: "the job's process died, or its launcher (JoblibLauncher) failed:
    # BrokenProcessPool: A result has failed to un-serialize", though the job had raised
    # ShapeError and written its traceback into its folder
    tmp, made = joblib_run
    raised = made["shape_raised"]  # (the sweep raised an Exception, this message)
    assert raised is not None, "the sweep of a ShapeError job raised nothing"
    assert re.search(r"max_failures=0\); last error: ShapeError: got ", raised["message"]), raised
    with RunStore(tmp / "shape" / "run" / "search.db") as store:
        failed = store.trials()
    assert [t.status for t in failed] == [TrialStatus.FAILED]
    width = failed[0].arch["width"]
    assert failed[0].error.startswith(f"ShapeError: got {width}, want 2\nTraceback"), failed

    assert "in _raise_shape" in failed[0].error


@pytest.mark.parametrize("nodes", [{}, {"trainer": {"accelerator": "cpu", "devices": 2,
                                                     "strategy": "ddp"}}])
def test_submitit_local_with_several_tasks_per_node_is_refused_before_any_job(tmp_path,
                                                                                nodes):
    # was: each task ran the whole job again, into the same folder (several writers of
    # one job's results); a job whose Trainer is DDP is told how ranks are meant instead
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher",
                        reason="pip install hydra-submitit-launcher")
    with pytest.raises(Exception, match=r"hydra\.launcher\.tasks_per_node=2") as err:
        _joblib_sweep(tmp_path, 1, "hydra.launcher.tasks_per_node=2", nodes=nodes,
                      option="submitit_local")
    message = str(err.value)
    assert "submitit_local" in message and "tasks_per_node=1" in message
    if nodes:  # the DDP job: how its ranks run
        assert "trainer.strategy=ddp_spawn" in message and "submitit_slurm" in message
    assert not (tmp_path / "jobs").exists() or not any((tmp_path / "jobs").iterdir())
