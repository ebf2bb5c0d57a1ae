"""The Hydra sweeper ``hydra/sweeper: lightning_nas`` with the real Hydra: the example
project swept as its README says (a subprocess, reduced), a kill -9 and a resume, its
export; small task functions run in-process through Hydra's own sweep runner
(``tests.helpers_hydra_sweep.multirun``): the files a sweep writes, its export and
fine-tune, the Optuna sweeper's file switched. The sweeper's settings, its params and their
grammar, failures and jobs, objectives and constraints, resumes and config options:
``test_hydra_sweeper_<topic>.py``."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.arch import arch_key  # noqa: E402
from lightning_nas.cli import main as cli  # noqa: E402
from lightning_nas.errors import SearchError  # noqa: E402
from lightning_nas.results import TrialStatus  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_hydra_sweep import (  # noqa: E402
    TIMEOUT,
    TRAIN,
    example_args,
    multirun,
    run_forked,
)


def _count(db: Path, status: TrialStatus) -> int:
    """Trials of ``status`` in a store another process is writing (read-only)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials WHERE status = ?",
                                (status.value,)).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


@dataclass
class KilledSweep:
    """The example's sweep, killed (-9) after its first stored job and run again."""

    run: Path
    budget: int
    done_before_kill: int
    resumed: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def killed_sweep(shared_run, request: pytest.FixtureRequest) -> KilledSweep:
    """``python examples/hydra/src/train.py -m ...``, forked from the launcher's process
    (``tests.launcher``: the training stack imported once), killed and run again: once per
    session (conftest's ``shared_run``: under pytest-xdist its tests may run in either
    worker)."""
    budget = 3
    # data.batch_size on the command line wins over the params' choice(32, 64, 128, 256)
    args = [f"hydra.sweeper.budget={budget}", "data.batch_size=32"]

    def make(folder: Path) -> dict:
        zygote = request.getfixturevalue("_zygote")
        run = folder / "sweep"
        argv = example_args(run, *args)[2:]
        try:
            zygote.launch(argv, folder / "first.log", TRAIN, cwd=folder)
            deadline = time.monotonic() + TIMEOUT
            while _count(run / "search.db", TrialStatus.COMPLETED) < 1:
                assert zygote.exited() is None, (folder / "first.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "no job finished in time"
                time.sleep(0.1)
            zygote.kill()  # kill -9, mid-sweep
            done = _count(run / "search.db", TrialStatus.COMPLETED)
            zygote.launch(argv, folder / "resumed.log", TRAIN, cwd=folder)
            code = zygote.wait(TIMEOUT)
        finally:
            zygote.reset()
        return {"done": done, "code": code}

    folder, made = shared_run("killed_sweep", make)
    run = folder / "sweep"
    resumed = subprocess.CompletedProcess(example_args(run, *args)[2:], made["code"],
                                          (folder / "resumed.log").read_text(), "")
    return KilledSweep(run, budget, made["done"], resumed)


@pytest.mark.slow
def test_killed_sweep_resumes_to_exactly_budget_completed_jobs(killed_sweep):
    run, budget, again = killed_sweep.run, killed_sweep.budget, killed_sweep.resumed
    assert 1 <= killed_sweep.done_before_kill < budget
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"Resuming {run}: {killed_sweep.done_before_kill} completed" in again.stdout
    assert "Sweep finished in" in again.stdout and f"{budget} completed, 0 failed" in again.stdout
    # the time of this invocation, the counts of the sweep, said as a resumed search says it
    assert re.search(r"Sweep finished in [\d.]+s \(this invocation; the counts are the "
                     r"sweep's\): ", again.stdout), again.stdout[-2000:]
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert again.stdout.rstrip().splitlines()[-2:] == [  # the rerun of the project's task
        f"Wrote optimization_results.yaml and search.db in {run}",
        f"Next: {results['rerun']} (from the folder the sweep was started in) trains the best "
        f"job (trial {results['best_trial']}) again; the sweep's run of it is in "
        f"{results['best_job_dir']}; without lightning_nas: rerun_alone in "
        f"optimization_results.yaml"]
    assert results["rerun"].startswith("python ") and results["rerun"].endswith(" hydra.mode=RUN")
    assert "examples/hydra/src/train.py --config-name train " in results["rerun"]
    with RunStore(run / "search.db") as store:
        trials = store.trials()
        assert store.count(TrialStatus.COMPLETED) == budget
        assert store.count(TrialStatus.RUNNING) == 0
    assert len({arch_key(t.arch) for t in trials}) == len(trials)  # nothing ran twice
    assert len(trials) <= budget + 1  # at most the interrupted job was started again


@pytest.mark.slow
def test_example_sweep_stores_the_jobs_it_ran_and_show_lists_them(killed_sweep, capsys):
    run = killed_sweep.run
    with RunStore(run / "search.db") as store:
        trials = store.trials(TrialStatus.COMPLETED)
        assert store.get_meta("monitor") == "val/acc_best" and store.get_meta("mode") == "max"
        space = store.get_meta("space")
    assert len(trials) == killed_sweep.budget
    assert space["data.batch_size"] == {"fixed": 32}  # the command line won over params
    assert space["model.net.lin2_size"] == {"int": [16, 512], "log": True}
    assert all(0.0 < t.score <= 1.0 and t.metrics == {"val/acc_best": t.score} for t in trials)

    # each trial is a job that ran exactly its architecture (Hydra's record of the job)
    jobs = [yaml.safe_load(path.read_text()) for path in run.glob("*/.hydra/config.yaml")]
    ran = {(j["model"]["optimizer"]["lr"], j["model"]["net"]["lin2_size"]) for j in jobs}
    assert all(j["data"]["batch_size"] == 32 and j["trainer"]["max_epochs"] == 1 for j in jobs)
    for trial in trials:
        assert (trial.arch["model.optimizer.lr"], trial.arch["model.net.lin2_size"]) in ran

    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert results["best_value"] == max(t.score for t in trials)
    assert "model.optimizer.lr=" in " ".join(results["overrides"])
    assert results["rerun"].startswith(f"python {TRAIN} ")  # the task's script, as started
    # the best job's folder (after the resume, trial N is no longer job N - 1; was: no
    # record of which folder holds a trial's job)
    job = Path(results["best_job_dir"])
    ran_with = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
    assert job.parent == run.resolve() and set(results["overrides"]) <= set(ran_with)

    assert cli(["show", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"{len(trials)} completed, 0 failed" in out and "monitor val/acc_best (max)" in out
    for trial in trials:
        assert f"model.net.lin2_size={trial.arch['model.net.lin2_size']}" in out


@pytest.mark.slow
def test_a_refused_setting_prints_as_hydras_own_errors_one_message_no_traceback(tmp_path,
                                                                               launcher):
    # was: the ConfigError with Hydra's and lightning_nas's 30 lines of frames above it,
    # read as a crash (Hydra strips frames only down to a job, and the check comes first)
    run = tmp_path / "sweep"
    done = run_forked(launcher, tmp_path, TRAIN,
                      example_args(run, "hydra.sweeper.budget=-1")[2:], full_error=None)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.startswith("`hydra.sweeper.budget` must be a positive integer or "
                                  "null, got -1\n"), done.stderr
    assert "Traceback" not in done.stderr and not run.exists()


def test_export_of_a_sweep_points_at_the_jobs_overrides(killed_sweep, tmp_path):
    from lightning_nas.errors import ConfigError
    from lightning_nas.export import export_best, finetune
    from lightning_nas.integrations.hydra_grammar import format_value

    # a copy: export writes best.yaml, and the session's sweep is read by other workers' tests
    run = shutil.copytree(killed_sweep.run, tmp_path / "run")
    best = export_best(run)
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert best["model"] is None and best["trial"] == results["best_trial"]
    assert best["hydra"]["overrides"] == results["overrides"]
    assert best["hydra"]["rerun"] == results["rerun"]
    # another trial exported: its own job (was: the sweep's overrides alone, and a pointer to
    # optimization_results.yaml, which holds the best trial's)
    with RunStore(run / "search.db") as store:
        other = next(t for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != best["trial"])
    mine = export_best(run, trial_id=other.trial_id)["hydra"]
    assert mine["overrides"] == [*results["overrides"][:-len(other.arch)],
                                 *(f"{k}={format_value(v)}" for k, v in other.arch.items())]
    assert mine["rerun"].startswith(f"python {TRAIN} ") and " ".join(
        mine["overrides"][-len(other.arch):]) in mine["rerun"]
    export_best(run)  # the best again: a fine-tune of it names optimization_results.yaml
    with pytest.raises(ConfigError, match="is a Hydra sweep.*optimization_results.yaml"):
        finetune(run)


def test_finetune_of_a_sweep_names_the_jobs_rerun_and_rerun_alone_lines(tmp_path, capsys):
    # was: "... train the best job again with the overrides in optimization_results.yaml
    # (python <task>.py <overrides>)": neither line itself, nor rerun_alone (the line
    # without lightning_nas), nor best.yaml's hydra block
    trainer = {"+trainer.limit_val_batches": "choice(0.5, 2)",
               "++trainer.accumulate_grad_batches": "choice(1, 3)"}
    multirun(tmp_path, lambda cfg: float(cfg.x),
             {"params": {"x": "choice(1, 2)", **trainer}, "budget": 2})
    run = tmp_path / "run"
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    capsys.readouterr()

    def refusal() -> str:
        assert cli(["finetune", str(run)]) == 2
        (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
        assert not (run / "finetune").exists()
        return line

    line = refusal()
    assert f"train its best job (trial {results['best_trial']}) again, from the folder the " \
           f"sweep was started in: {results['rerun']}; without lightning_nas: " \
           f"{results['rerun_alone']} (" in line, line
    assert line.endswith("(optimization_results.yaml's rerun and rerun_alone; best.yaml's "
                         "hydra.rerun and hydra.rerun_alone after `lightning-nas export`)"), line
    # the job's searched Trainer values (a sweep's +trainer.* / ++trainer.*) are in the
    # line that trains it again: none is left out of what stands in for a fine-tune
    for key in trainer:
        assert f" {key}={results['best_params'][key]} " in line, (key, line)
    # another trial exported: best.yaml's lines, that job's, are what a fine-tune would train
    assert cli(["export", str(run), "--trial", "1"]) == 0
    chosen = yaml.safe_load((run / "best.yaml").read_text())["hydra"]
    capsys.readouterr()
    line = refusal()
    assert f"train trial 1 (chosen by `lightning-nas export --trial`) again, from the folder " \
           f"the sweep was started in: {chosen['rerun']}; without lightning_nas: " \
           f"{chosen['rerun_alone']} (best.yaml's hydra.rerun and hydra.rerun_alone)" in line, line
    # a sweep stored before job settings were kept: the line it has
    (run / "best.yaml").unlink()
    with sqlite3.connect(run / "search.db") as db:
        db.execute("DELETE FROM meta WHERE key = 'job_settings'")
    db.close()
    line = refusal()
    assert line.endswith(f"started in: {results['rerun']} (optimization_results.yaml's rerun; "
                         f"best.yaml's hydra.rerun after `lightning-nas export`)"), line


def test_a_sweep_ends_naming_its_files_and_the_rerun_of_the_best_job(tmp_path, capsys):
    # was: "Wrote RUN/optimization_results.yaml and RUN/search.db" and no word of what next,
    # while `lightning-nas search` names its files in RUN and a "Next:" line
    multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": 2, "params": {"x": "choice(1, 2)"}})
    run = tmp_path / "run"
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert sorted(p.name for p in run.iterdir() if p.suffix != ".lock") == [
        "optimization_results.yaml", "search.db"]  # what the line says the folder holds
    assert capsys.readouterr().out.splitlines()[-2:] == [
        f"Wrote optimization_results.yaml and search.db in {run}",
        f"Next: {results['rerun']} (from the folder the sweep was started in) trains the best "
        f"job (trial 2) again; the sweep's run of it is in {tmp_path / 'jobs' / '1'}; "
        f"without lightning_nas: rerun_alone in optimization_results.yaml"]
    assert results["rerun"].endswith(" x=2 hydra.mode=RUN")
    # no job completed: the files (best_params null), nothing to run again, and an error
    # exit, as `lightning-nas search`'s (was: exit status 0, as if the sweep had worked)
    def fails(cfg: DictConfig) -> float:
        raise ValueError(f"x={cfg.x} diverged")  # another error each job: the sweep goes on

    with pytest.raises(SearchError) as info:
        multirun(tmp_path / "none", fails, {"budget": 2, "params": {"x": "choice(1, 2)"}})
    assert str(info.value) == (
        f"no job of the sweep completed (2 failed): it has no best job; `lightning-nas show "
        f"{tmp_path / 'none' / 'run'} --status failed` lists their errors")
    out = capsys.readouterr().out
    last = out.splitlines()[-2:]
    assert last[0].startswith("Sweep finished in ") and last[0].endswith(": 0 completed, 2 "
                                                                         "failed.")
    assert last[1] == f"Wrote optimization_results.yaml and search.db in {tmp_path / 'none'}/run"
    assert "Next:" not in out


def test_the_export_of_a_sweep_names_the_exported_jobs_folder(tmp_path, capsys):
    # was: best.yaml's hydra block held the job's overrides and rerun line but not the
    # folder the sweep ran it in (its logs and checkpoints), though the store knows it
    multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": 2, "params": {"x": "choice(1, 2)"}})
    run, jobs = tmp_path / "run", tmp_path / "jobs"
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert cli(["export", str(run)]) == 0
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["trial"] == results["best_trial"] == 2 and best["checkpoint"] is None
    assert best["hydra"]["job_dir"] == results["best_job_dir"] == str(jobs / "1")
    assert cli(["export", str(run), "--trial", "1"]) == 0  # another trial: its own job's
    assert yaml.safe_load((run / "best.yaml").read_text())["hydra"]["job_dir"] == str(
        jobs / "0")


def test_the_optuna_sweepers_file_switched_as_the_readme_says(tmp_path):
    # the lightning-hydra-template's hparams_search/mnist_optuna.yaml sweeper block
    optuna = {"storage": None, "study_name": None, "n_jobs": 1, "direction": "maximize",
              "n_trials": 3, "sampler": {"_target_": "optuna.samplers.TPESampler",
                                         "seed": 1234, "n_startup_trials": 10},
              "params": {"x": "choice(1, 2, 3)"}}
    # was: Hydra's "Error locating target 'optuna.samplers.TPESampler'" (full_key
    # hydra.sweeper.sampler), before the sweeper could name it; each key left is named
    with pytest.raises(Exception, match=r"setting 'sampler'; did you mean 'optimizer', 'seed' "
                                        r"\(the Optuna sweeper's sampler\)\?") as info:
        multirun(tmp_path / "left", lambda cfg: float(cfg.x), optuna, direction=None)
    assert all(f"setting {key!r}; did you mean" in str(info.value)
               for key in ("storage", "study_name", "n_jobs", "n_trials"))
    ours = {"optimizer": "RandomSearch", "seed": 1234, "num_workers": 1, "budget": 3,
            **{k: optuna[k] for k in ("direction", "params")}}
    trials = multirun(tmp_path / "switched", lambda cfg: float(cfg.x), ours, direction=None)
    assert sorted(t.arch["x"] for t in trials) == [1, 2, 3]
