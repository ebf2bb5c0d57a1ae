"""The Hydra sweeper ``hydra/sweeper: lightning_nas`` with the real Hydra: the example
project swept as its README says (a subprocess, reduced), a kill -9 and a resume, and
small task functions run in-process through Hydra's own sweep runner (failures, dedup,
constraints, several objectives, a changed space)."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.test_utils.test_utils import SweepTaskFunction  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from lightning_nas.arch import arch_key  # noqa: E402
from lightning_nas.cli import main as cli  # noqa: E402
from lightning_nas.errors import ConfigError, SearchError, SpaceError  # noqa: E402
from lightning_nas.integrations.hydra_executor import job_result  # noqa: E402
from lightning_nas.integrations.hydra_grammar import format_value, parse_params  # noqa: E402
from lightning_nas.results import TrialResult, TrialStatus  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_runs import keep_root_logging  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "examples" / "hydra" / "src" / "train.py"
#: the example's sweep, reduced: few jobs, one short epoch each
REDUCED = ["hparams_search=nas", "hydra.sweeper.seed=0", "trainer.max_epochs=1",
           "+trainer.limit_train_batches=3", "+trainer.limit_val_batches=2"]
#: generous: several Python processes import torch and Lightning on 2 shared cores
TIMEOUT = 600


def _example(run: Path, *overrides: str) -> list[str]:
    return [sys.executable, str(TRAIN), "-m", *REDUCED, *overrides, f"hydra.sweep.dir={run}"]


def _count(db: Path, status: TrialStatus) -> int:
    """Trials of ``status`` in a store another process is writing (read-only)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials WHERE status = ?",
                                (status.value,)).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


# ----------------------------------------------------------------- the example, as a user runs it
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
        argv = _example(run, *args)[2:]
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
    resumed = subprocess.CompletedProcess(_example(run, *args)[2:], made["code"],
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
        f"{results['best_job_dir']}"]
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


def _forked(launcher, cwd: Path, script: Path, argv: list[str],
            full_error: str | None = "1") -> subprocess.CompletedProcess:
    """``python SCRIPT ARGV`` in ``cwd``, forked by ``launcher`` (the training stack imported
    once, not by a fresh ``python``), with ``HYDRA_FULL_ERROR`` set to ``full_error``
    (``None``: unset); its exit code (``-9``: killed), stdout and stderr."""
    out, err = cwd / "out.txt", cwd / "err.txt"
    for path in (out, err):
        path.unlink(missing_ok=True)
    code = launcher.run(argv, out, script, TIMEOUT, cwd, err, {"HYDRA_FULL_ERROR": full_error})
    return subprocess.CompletedProcess(argv, code, out.read_text(), err.read_text())


@pytest.mark.slow
def test_a_refused_setting_prints_as_hydras_own_errors_one_message_no_traceback(tmp_path,
                                                                               launcher):
    # was: the ConfigError with Hydra's and lightning_nas's 30 lines of frames above it,
    # read as a crash (Hydra strips frames only down to a job, and the check comes first)
    run = tmp_path / "sweep"
    done = _forked(launcher, tmp_path, TRAIN, _example(run, "hydra.sweeper.budget=-1")[2:],
                   full_error=None)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.startswith("`hydra.sweeper.budget` must be a positive integer or "
                                  "null, got -1\n"), done.stderr
    assert "Traceback" not in done.stderr and not run.exists()


# ----------------------------------------------------------------- small tasks, in-process
def test_export_of_a_sweep_points_at_the_jobs_overrides(killed_sweep):
    from lightning_nas.errors import ConfigError
    from lightning_nas.export import export_best, finetune
    from lightning_nas.integrations.hydra_grammar import format_value

    best = export_best(killed_sweep.run)
    results = yaml.safe_load((killed_sweep.run / "optimization_results.yaml").read_text())
    assert best["model"] is None and best["trial"] == results["best_trial"]
    assert best["hydra"]["overrides"] == results["overrides"]
    assert best["hydra"]["rerun"] == results["rerun"]
    # another trial exported: its own job (was: the sweep's overrides alone, and a pointer to
    # optimization_results.yaml, which holds the best trial's)
    with RunStore(killed_sweep.run / "search.db") as store:
        other = next(t for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != best["trial"])
    mine = export_best(killed_sweep.run, trial_id=other.trial_id)["hydra"]
    assert mine["overrides"] == [*results["overrides"][:-len(other.arch)],
                                 *(f"{k}={format_value(v)}" for k, v in other.arch.items())]
    assert mine["rerun"].startswith(f"python {TRAIN} ") and " ".join(
        mine["overrides"][-len(other.arch):]) in mine["rerun"]
    export_best(killed_sweep.run)  # the best again, for the tests after this one
    with pytest.raises(ConfigError, match="is a Hydra sweep.*optimization_results.yaml"):
        finetune(killed_sweep.run)


_keep_logging = pytest.fixture(autouse=True)(keep_root_logging)


def _sweep(tmp_path: Path, task: Callable[[DictConfig], Any], sweeper: dict[str, Any],
           overrides: tuple[str, ...] = (), direction: str | None = "maximize",
           sort_keys: bool = True, sweep_dir: str | None = None,
           **extra: Any) -> list[TrialResult]:
    """Run a multirun of ``task`` with Hydra's own sweep runner; the config holds ``x``, a
    config group ``model`` (options ``a`` and ``b``) and the nodes in ``extra``; the
    sweeper maximises unless ``sweeper`` or ``direction`` says otherwise; the config file's
    keys are sorted unless ``sort_keys`` is false (then ``params`` keep their order); the
    jobs go to ``sweep_dir`` (``hydra.sweep.dir``, default ``tmp_path/jobs``)."""
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True, exist_ok=True)
    for option in ("a", "b"):
        (conf / "model" / f"{option}.yaml").write_text(f"name: {option}\ndepth: 1\n")
    config = {"defaults": [{"model": "a"}, {"override hydra/sweeper": "lightning_nas"},
                           "_self_"], "x": 0, **extra,
              "hydra": {"job": {"chdir": False},
                        "sweeper": {"run_dir": str(tmp_path / "run"),
                                    **({} if "objectives" in sweeper or direction is None
                                       else {"direction": direction}), **sweeper}}}
    (conf / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=sort_keys))
    runner = SweepTaskFunction()
    runner.calling_file, runner.calling_module = str(tmp_path / "app.py"), None
    runner.config_path, runner.config_name = str(conf), "config"
    runner.task_function, runner.overrides = task, list(overrides)
    runner.temp_dir = sweep_dir or str(tmp_path / "jobs")
    with runner:
        return runner.returns


@pytest.mark.slow
def test_an_unknown_sweeper_key_is_named_with_the_close_and_the_valid_ones(tmp_path):
    # was: Hydra's "Key 'n_trials' not in 'LightningNASSweeperConf'", naming no valid key
    # (the stored settings were closed, so the sweeper's own check never ran)
    ran = []
    for folder, sweeper, overrides, key, close in (
            ("file", {"n_trials": 3}, (), "n_trials", r"'budget' \(the Optuna sweeper's "
                                                      r"n_trials\)"),
            ("line", {}, ("hydra.sweeper.budgt=3",), "budgt", "'budget'"),
            ("nevergrad", {"optim": {"budget": 5}}, (), "optim",
             r"'optimizer', 'budget', 'num_workers', 'seed', 'direction' \(the Nevergrad "
             r"sweeper's optim\)")):
        with pytest.raises(Exception, match=rf"unknown hydra.sweeper setting '{key}'; did you "
                                            rf"mean {close}\? valid keys: optimizer, budget, "):
            _sweep(tmp_path / folder, lambda cfg: ran.append(1) or 1.0,
                   {"params": {"x": "choice(1, 2)"}, **sweeper}, overrides)
    # the known ones keep their types and defaults
    with pytest.raises(Exception, match="hydra.sweeper.budget=abc") as info:
        _sweep(tmp_path / "typed", lambda cfg: ran.append(1) or 1.0,
               {"params": {"x": "choice(1, 2)"}}, ("hydra.sweeper.budget=abc",))
    assert "'abc' of type 'str' could not be converted to Integer" in str(info.value.__cause__)
    assert not ran
    assert len(_sweep(tmp_path / "ok", lambda cfg: 1.0, {"params": {"x": "range(0, 30)"}})) == 20


def test_a_setting_of_lightning_nas_search_says_what_a_sweep_does_instead(tmp_path):
    # was: "unknown hydra.sweeper setting 'scheduler'; valid keys: ...", no word of why
    ran = []
    with pytest.raises(Exception) as info:  # noqa: PT011 - Hydra wraps the sweeper's
        _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0,
               {"params": {"x": "choice(1, 2)"}, "scheduler": "asha", "eta": 2},
               ("hydra.sweeper.executor=ray",))
    text = str(info.value)
    assert ("unknown hydra.sweeper settings 'eta', 'scheduler': of lightning-nas search, not "
            "of a sweep; a sweep stops no job early (the launcher owns the job processes): "
            "that needs lightning-nas search (README, 'Limits of a sweeper').") in text
    assert ("unknown hydra.sweeper setting 'executor': of lightning-nas search, not of a "
            "sweep; a sweep's jobs run on the project's Hydra launcher") in text
    assert "valid keys: optimizer, budget, " in text
    assert not ran and not (tmp_path / "run").exists()


def test_a_job_that_raises_is_failed_and_the_sweep_goes_on(tmp_path):
    calls = []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.x)
        if len(calls) == 1:
            raise RuntimeError("the first job fails")
        return float(cfg.x)

    trials = _sweep(tmp_path, task, {"budget": 3, "params": {"x": "range(0, 20)"}})
    assert [t.status for t in trials] == [TrialStatus.FAILED] + [TrialStatus.COMPLETED] * 3
    assert "RuntimeError: the first job fails" in trials[0].error
    assert [t.arch["x"] for t in trials] == calls  # each trial is the job that ran
    assert [t.score for t in trials[1:]] == [float(x) for x in calls[1:]]


def test_a_sweep_ends_naming_its_files_and_the_rerun_of_the_best_job(tmp_path, capsys):
    # was: "Wrote RUN/optimization_results.yaml and RUN/search.db" and no word of what next,
    # while `lightning-nas search` names its files in RUN and a "Next:" line
    _sweep(tmp_path, lambda cfg: float(cfg.x), {"budget": 2, "params": {"x": "choice(1, 2)"}})
    run = tmp_path / "run"
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert sorted(p.name for p in run.iterdir() if p.suffix != ".lock") == [
        "optimization_results.yaml", "search.db"]  # what the line says the folder holds
    assert capsys.readouterr().out.splitlines()[-2:] == [
        f"Wrote optimization_results.yaml and search.db in {run}",
        f"Next: {results['rerun']} (from the folder the sweep was started in) trains the best "
        f"job (trial 2) again; the sweep's run of it is in {tmp_path / 'jobs' / '1'}"]
    assert results["rerun"].endswith(" x=2 hydra.mode=RUN")
    # no job completed: the files (best_params null), nothing to run again
    def fails(cfg: DictConfig) -> float:
        raise ValueError(f"x={cfg.x} diverged")  # another error each job: the sweep goes on

    _sweep(tmp_path / "none", fails, {"budget": 2, "params": {"x": "choice(1, 2)"}})
    out = capsys.readouterr().out
    last = out.splitlines()[-2:]
    assert last[0].startswith("Sweep finished in ") and last[0].endswith(": 0 completed, 2 "
                                                                         "failed.")
    assert last[1] == f"Wrote optimization_results.yaml and search.db in {tmp_path / 'none'}/run"
    assert "Next:" not in out


def test_the_export_of_a_sweep_names_the_exported_jobs_folder(tmp_path, capsys):
    # was: best.yaml's hydra block held the job's overrides and rerun line but not the
    # folder the sweep ran it in (its logs and checkpoints), though the store knows it
    _sweep(tmp_path, lambda cfg: float(cfg.x), {"budget": 2, "params": {"x": "choice(1, 2)"}})
    run, jobs = tmp_path / "run", tmp_path / "jobs"
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert cli(["export", str(run)]) == 0
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["trial"] == results["best_trial"] == 2 and best["checkpoint"] is None
    assert best["hydra"]["job_dir"] == results["best_job_dir"] == str(jobs / "1")
    assert cli(["export", str(run), "--trial", "1"]) == 0  # another trial: its own job's
    assert yaml.safe_load((run / "best.yaml").read_text())["hydra"]["job_dir"] == str(
        jobs / "0")


def test_a_searched_option_that_does_not_compose_is_refused_before_any_job(tmp_path):
    # was: left out when the options were composed before the first job, then every job
    # that picked it FAILED mid-sweep ("In 'model/broken': Could not find 'nosuch/x'")
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "broken.yaml").write_text("defaults:\n  - /nosuch: x\n")
    (tmp_path / "conf" / "model" / "c.yaml").write_text("name: c\n")  # no depth
    ran = []
    for params, overrides, option, error in (
            ({"model": "choice(a, b, broken)"}, (), "broken",
             r"In 'model/broken': Could not find 'nosuch/x'"),
            ({"model": "choice(c, a)", "x": "range(0, 9)"}, ("model.depth=2",), "c",
             r"Could not override 'model.depth'")):
        assert parse_params(params, overrides).space.sample(seed=0)["model"] != option
        with pytest.raises(ConfigError, match=rf"sweep parameter 'model': model={option} does "
                                              rf"not compose with the config, so every job "
                                              rf"that picked it would fail: {error}.* \(the "
                                              rf"job's overrides: .*\"model='{option}'\".*\]\); "
                                              rf"fix it, or leave it out of the search") as info:
            _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0, {"budget": 3, "params": params},
                   overrides)
        assert "\n" not in str(info.value) and "Config search path" not in str(info.value)
    assert not ran and not (tmp_path / "run" / "search.db").exists()
    # the options that compose are searched
    trials = _sweep(tmp_path, lambda cfg: ran.append(cfg.model.name) or 1.0,
                    {"budget": 2, "params": {"model": "choice(a, b)"}})
    assert sorted(t.arch["model"] for t in trials) == sorted(ran) == ["a", "b"]


def test_every_searched_option_of_a_config_group_must_exist_before_any_job(tmp_path):
    # was: checked for the first sample only; a misspelt option ran as a FAILED job
    ran = []
    params = {"model": "choice(a, b, bb)"}
    assert parse_params(params).space.sample(seed=0)["model"] != "bb"
    with pytest.raises(ConfigError, match=r"sweep parameter 'model': 'bb' is not an option of "
                                          r"config group model; did you mean 'b'\? its "
                                          r"options: a, b"):
        _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0, {"budget": 3, "params": params})
    assert not ran and not (tmp_path / "run" / "search.db").exists()


def test_a_group_searched_with_a_package_or_a_plus_is_checked_as_a_plain_one(tmp_path):
    # was: `optim@model.optimizer=choice(...)` and `+extra=choice(...)` skipped every check
    # of an option: a misspelt one FAILED each job that drew it, an edited option file was
    # resumed without a word, a `+trainer.*` value starting several processes ran
    ran = []
    for folder in ("extra", "model"):
        (tmp_path / "conf" / folder).mkdir(parents=True)
    (tmp_path / "conf" / "extra" / "one.yaml").write_text("e: 1\n")
    (tmp_path / "conf" / "model" / "c.yaml").write_text("name: c\ndepth: 1\n")
    defaults = [{"model": "a"}, {"model@sub": "a"}, {"override hydra/sweeper": "lightning_nas"},
                "_self_"]
    for key, bad, good, group in (("model@sub", "bb", "a", "model"),
                                  ("+extra", "onee", "one", "extra")):
        params = {"x": "range(0, 9)", key: f"choice({bad}, {good})"}
        assert parse_params(params).space.sample(seed=0)[key] == good  # the first job's
        with pytest.raises(ConfigError, match=rf"sweep parameter '{re.escape(key)}': '{bad}' "
                                              rf"is not an option of config group {group}; "
                                              rf"did you mean"):
            _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0,
                   {"budget": 3, "params": params}, defaults=defaults)
    params = {"x": "choice(1, 2)", "+trainer.devices": "choice(2, auto)"}
    assert parse_params(params).space.sample(seed=0)["+trainer.devices"] == "auto"
    with pytest.raises(ConfigError, match=r"trainer.devices=2.*starts several processes"):
        _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0, {"budget": 1, "params": params},
               trainer={"accelerator": "cpu"})
    assert not ran and not (tmp_path / "run" / "search.db").exists()

    params = {"x": "range(0, 9)", "model@sub": "choice(a, c)"}
    _sweep(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": params},
           defaults=defaults)
    (tmp_path / "conf" / "model" / "c.yaml").write_text("name: c\ndepth: 2\n")
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: model@sub=c: "
                                          r"sub.depth: 1, now 2\. Resume with"):
        _sweep(tmp_path, lambda cfg: float(cfg.x), {"budget": 2, "params": params},
               defaults=defaults)


def test_too_many_failures_stop_the_sweep(tmp_path):
    def task(cfg: DictConfig) -> float:
        raise ValueError(f"x={cfg.x} diverged")

    with pytest.raises(SearchError, match=r"3 trials failed \(max_failures=2\); last error"):
        _sweep(tmp_path, task, {"budget": 5, "max_failures": 2, "params": {"x": "range(0, 9)"}})
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.count(TrialStatus.FAILED) == 3
        assert "ValueError: x=" in store.trials()[0].error


def test_a_sweep_stopped_by_max_failures_writes_the_results_so_far(tmp_path, capsys):
    # was: no optimization_results.yaml although jobs had completed
    def task(cfg: DictConfig) -> float:
        if cfg.x % 2:
            raise ValueError(f"x={cfg.x} diverged")
        return float(cfg.x)

    with pytest.raises(SearchError, match=r"2 trials failed \(max_failures=1\)"):
        _sweep(tmp_path, task, {"budget": 9, "max_failures": 1, "seed": 0,
                                "optimizer": "RandomSearch", "params": {"x": "range(0, 9)"}})
    with RunStore(tmp_path / "run" / "search.db") as store:
        best = store.best("max")
    assert best is not None  # the seed completes a job before the second failure
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    assert results["best_trial"] == best.trial_id and results["best_value"] == best.score
    assert "Sweep stopped in " in capsys.readouterr().out


def test_a_resume_stopped_by_max_failures_names_the_sweepers_setting(tmp_path):
    # was: "To go on, raise search.max_failures ..., or start another run_dir": keys a sweep
    # has not (search.max_failures=9 on the command line is a job override, refused)
    def task(cfg: DictConfig) -> float:
        raise ValueError(f"x={cfg.x} diverged")

    sweep = {"budget": 3, "max_failures": 0, "params": {"x": "range(0, 9)"}}
    with pytest.raises(SearchError, match=r"1 trial failed \(max_failures=0\)"):
        _sweep(tmp_path, task, sweep)
    with pytest.raises(SearchError, match=r"To go on, raise hydra.sweeper.max_failures \(the "
                                          r"failed architectures stay failed\), or choose "
                                          r"another hydra.sweeper.run_dir"):  # (it is set)
        _sweep(tmp_path, task, sweep)
    results = _sweep(tmp_path, lambda cfg: float(cfg.x), {**sweep, "max_failures": 1})
    assert [t.status for t in results].count(TrialStatus.COMPLETED) == 3  # as it said


def test_sigterm_in_a_job_that_runs_in_the_sweeps_process_stops_it_with_143(tmp_path):
    # was: the sweep left SIGTERM to Lightning's handler where jobs run in its process (the
    # basic launcher), so one outside a fit killed the sweep at once, the job counted as a
    # crash (here the test's own handler, which raises, made it an ordinary FAILED job)
    import signal

    def not_the_sweeps(signum, frame):
        raise RuntimeError("the sweep did not handle SIGTERM")

    def task(cfg: DictConfig) -> float:
        os.kill(os.getpid(), signal.SIGTERM)
        return 1.0

    previous = signal.signal(signal.SIGTERM, not_the_sweeps)
    try:
        with pytest.raises(SystemExit) as info:
            _sweep(tmp_path, task, {"budget": 2, "params": {"x": "range(0, 20)"}})
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert info.value.code == 143
    with RunStore(tmp_path / "run" / "search.db") as store:  # re-run on resume
        assert [t.status for t in store.trials()] == [TrialStatus.RUNNING]
        assert store.attempts(1) == 0


def test_ctrl_c_in_a_fit_or_between_jobs_ends_the_sweep_with_130_and_no_traceback(
        tmp_path, capsys):
    # was: Ctrl-C outside a fit left the sweep as KeyboardInterrupt, whose 100-line traceback
    # Python printed under "Interrupted: ..."; in a fit Lightning's handler ends it with
    # exit(1), which read as an error (lightning-nas search ends both with 130)
    import signal

    import lightning.pytorch as pl
    from lightning.pytorch.demos.boring_classes import BoringModel

    class CtrlC(pl.Callback):
        def on_train_batch_start(self, *args: Any) -> None:
            raise KeyboardInterrupt

    def in_a_fit(cfg: DictConfig) -> float:
        pl.Trainer(max_epochs=1, callbacks=[CtrlC()], logger=False, accelerator="cpu",
                   devices=1, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False).fit(BoringModel())
        return 1.0

    def in_the_task(cfg: DictConfig) -> float:
        raise KeyboardInterrupt

    previous = signal.getsignal(signal.SIGINT)  # (Lightning's handler ignores it after)
    try:
        for name, task in (("fit", in_a_fit), ("task", in_the_task)):
            with pytest.raises((SystemExit, KeyboardInterrupt)) as info:
                _sweep(tmp_path / name, task, {"budget": 2, "params": {"x": "range(0, 20)"}})
            assert info.type is SystemExit and info.value.code == 130, name
            assert info.value.__suppress_context__  # no traceback of the interrupt
            assert ("Interrupted: 0 completed, 1 running (re-run on resume); run the same "
                    "command again to resume.") in capsys.readouterr().out
            with RunStore(tmp_path / name / "run" / "search.db") as store:  # re-run on resume
                assert [t.status for t in store.trials()] == [TrialStatus.RUNNING]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_optimizer_is_checked_with_the_sweeps_workers(tmp_path):
    # NGOpt over floats with 2 workers runs nevergrad's MetaModel; was: checked with 1
    # worker, and (under numpy >= 2.4) failed inside nevergrad after 12 jobs
    ran = []
    params = {"x": "interval(0, 1)", "y": "interval(0, 1)"}
    try:
        _sweep(tmp_path, lambda cfg: ran.append(1) or float(cfg.x),
               {"budget": 20, "num_workers": 2, "optimizer": "NGOpt", "params": params})
    except ConfigError as err:  # this numpy: refused before any job
        assert "with budget 20 and 2 workers before any trial" in str(err) and not ran
    else:  # a numpy under which MetaModel runs: the sweep finished
        assert len(ran) == 20


def test_a_run_dir_with_a_tilde_is_in_the_home_folder(tmp_path, monkeypatch):
    # was: Path("~/sweep").absolute(): the store went into ./~/sweep
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    _sweep(tmp_path, lambda cfg: float(cfg.x), {"budget": 2, "run_dir": "~/sweep",
                                                "params": {"x": "range(0, 9)"}})
    with RunStore(tmp_path / "home" / "sweep" / "search.db") as store:
        assert len(store.trials()) == 2
    assert not (tmp_path / "~").exists()


def test_a_task_that_returns_no_score_stops_at_once(tmp_path):
    with pytest.raises(SearchError, match=r"returned None; return the score \(score\)"):
        _sweep(tmp_path, lambda cfg: None, {"budget": 5, "params": {"x": "range(0, 9)"}})


def test_a_float_returned_for_another_metric_than_the_monitor_stops_the_sweep(tmp_path):
    # was: the float (the task's optimized_metric, val/acc) was stored as hydra.sweeper.monitor
    # (val/loss) and minimised: the least accurate job was the best
    calls = []

    def task(cfg: DictConfig) -> Any:
        calls.append(cfg.x)
        metrics = {"val/acc": cfg.x / 10, "val/loss": 1 - cfg.x / 10}
        return metrics if cfg.returns == "dict" else metrics[cfg.optimized_metric]

    for folder, sweeper in (("monitor", {"monitor": "val/loss"}),
                            ("objectives", {"objectives": {"val/loss": "minimize"}})):
        with pytest.raises(SearchError, match=r"returned a float, which is the config's "
                                              r"optimized_metric \(val/acc\), but the sweep's "
                                              r"score is val/loss.*return a dict holding "
                                              r"\['val/loss'\]"):
            _sweep(tmp_path / folder, task, {"budget": 3, "params": {"x": "range(1, 9)"},
                                             **sweeper}, direction=None,
                   optimized_metric="val/acc", returns="float")
        assert len(calls) == 1  # the first job stops it: none is told, none completed
        with RunStore(tmp_path / folder / "run" / "search.db") as store:
            assert store.count(TrialStatus.COMPLETED) == 0
        calls.clear()
    trials = _sweep(tmp_path / "dict", task, {"budget": 2, "monitor": "val/loss",
                                              "params": {"x": "range(1, 9)"}},
                    direction=None, optimized_metric="val/acc", returns="dict")
    assert all(t.score == t.metrics["val/loss"] == 1 - t.arch["x"] / 10 for t in trials)


def test_a_sweep_of_one_job_says_one_job(tmp_path, capsys):
    # was: "budget 1 jobs, 1 job(s) per batch"
    _sweep(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": {"x": "choice(1, 2)"}})
    header = capsys.readouterr().out.splitlines()[0]
    assert ", budget 1 job, 1 job per batch on " in header, header


def test_each_architecture_runs_once_and_a_small_space_ends_the_sweep(tmp_path, capsys):
    calls = []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.x)
        return 1.0 / (1 + abs(cfg.x - 2))

    trials = _sweep(tmp_path, task, {"budget": 6, "num_workers": 2, "direction": "minimize",
                                     "params": {"x": "choice(1, 2, 3)"}})
    assert sorted(calls) == [1, 2, 3]
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
    assert "All 3 architectures of the space are evaluated" in capsys.readouterr().out
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    assert results["best_params"] == {"x": 1} or results["best_params"] == {"x": 3}


def test_a_sweep_in_a_folder_named_by_the_time_says_how_to_resume_it(tmp_path, capsys):
    # was: no word of it, and the same command again (the template's sweep dir holds
    # ${now:...}) started a new sweep in a new folder, the killed one never resumed
    named = str(tmp_path / "multiruns" / "${now:%Y-%m-%d_%H-%M-%S-%f}")
    sweeper = {"run_dir": None, "params": {"x": "range(0, 9)"}}
    _sweep(tmp_path, lambda cfg: float(cfg.x), {**sweeper, "budget": 1}, sweep_dir=named)
    (folder,) = (tmp_path / "multiruns").glob("2*")  # (Hydra's test runner made "${now:...")
    out = capsys.readouterr().out
    assert (f"Its folder is named by the time (hydra.sweep.dir: {named}): to resume this "
            f"sweep after a kill, run the same command with hydra.sweep.dir={folder}") in out
    # as it says: the same command with that folder resumes it
    trials = _sweep(tmp_path, lambda cfg: float(cfg.x), {**sweeper, "budget": 2},
                    sweep_dir=str(folder))
    assert len(trials) == 2 and f"Resuming {folder}: 1 completed" in capsys.readouterr().out
    # a fixed folder (or hydra.sweeper.run_dir) says nothing of it
    _sweep(tmp_path / "fixed", lambda cfg: float(cfg.x), {**sweeper, "budget": 1},
           sweep_dir=str(tmp_path / "fixed" / "jobs"))
    assert "named by the time" not in capsys.readouterr().out


def test_a_params_key_given_nested_on_the_command_line_is_refused_before_any_job(tmp_path):
    # was: hydra.sweeper.params.m.k=5 made a key 'm' ({k: 5}) beside the file's 'm.k': every
    # job ran k=5 while the stored and told architecture claimed the searched value too
    calls = []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.m.k)
        return float(cfg.m.k)

    with pytest.raises(SpaceError, match=r"hydra.sweeper.params: space keys 'm' \({'k': 5}\) "
                                         r"and 'm.k' both set 'm.k'.*write it as a plain "
                                         r"override, <key>.<sub>=VALUE"):
        _sweep(tmp_path, task, {"budget": 2, "params": {"m.k": "choice(1, 2)"}},
               overrides=("hydra.sweeper.params.m.k=5",), m={"k": 0})
    assert not calls and not (tmp_path / "run" / "search.db").exists()


def test_an_empty_run_dir_is_refused_as_lightning_nas_search_refuses_it(tmp_path):
    # was: '' silently meant the sweep dir, where `lightning-nas search` refuses it
    calls = []
    with pytest.raises(ConfigError, match=r"`hydra.sweeper.run_dir` must be a folder path, "
                                          r"got '' \(empty"):
        _sweep(tmp_path, lambda cfg: calls.append(cfg.x) or 1.0,
               {"budget": 2, "run_dir": "", "params": {"x": "choice(1, 2)"}})
    assert not calls


def test_an_empty_monitor_is_refused_as_lightning_nas_search_refuses_it(tmp_path):
    # was: '' silently meant the config's optimized_metric, where `lightning-nas search`
    # refuses an empty monitor
    calls = []
    for direction in ("maximize", None):
        with pytest.raises(ConfigError, match=r"`hydra.sweeper.monitor` must name the score "
                                              r"the task returns, got ''"):
            _sweep(tmp_path, lambda cfg: calls.append(cfg.x) or 1.0,
                   {"budget": 2, "monitor": "", "params": {"x": "choice(1, 2)"}},
                   direction=direction, optimized_metric="val/acc")
    assert not calls and not (tmp_path / "run").exists()


def test_a_direction_contrary_to_the_scores_name_is_warned_of_before_any_job(tmp_path):
    warned = []  # at each job: was the sweep's warning said already?

    def task(cfg: DictConfig) -> float:
        warned.append(any("'val/loss' is maximised" in str(w.message) for w in said))
        return float(cfg.x)

    with pytest.warns(UserWarning, match=r"'val/loss' is maximised, but its name says lower "
                                         r"is better \(mode: min\)") as said:
        trials = _sweep(tmp_path, task, {"budget": 2, "params": {"x": "choice(1, 2)"}},
                        direction="maximize", optimized_metric="val/loss")
    assert warned == [True, True]  # before the first job
    assert max(trials, key=lambda t: t.score).arch == {"x": 2}  # taken as given


def test_a_hydra_sweeps_warning_points_at_the_line_that_started_hydra(tmp_path):
    # was: ".../hydra_plugins/lightning_nas_sweeper/lightning_nas_sweeper.py:37: UserWarning:
    # 'val/loss' is maximised ..." (the shim's line; Hydra's frames above it)
    with pytest.warns(UserWarning, match=r"'val/loss' is maximised") as said:
        _sweep(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": {"x": "choice(1, 2)"}},
               direction="maximize", optimized_metric="val/loss")
    (warning,) = [w for w in said if "'val/loss' is maximised" in str(w.message)]
    assert warning.filename == __file__, f"{warning.filename}:{warning.lineno}"  # _sweep's


def test_without_direction_the_scores_name_says_it_or_the_sweep_is_refused(tmp_path):
    # was: maximize by default, where Optuna's and Nevergrad's sweepers minimize: a project
    # that switched sweepers and returned a loss had its highest loss chased without a word
    calls = []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.x)
        return float(cfg.x)

    sweep = {"budget": 1, "params": {"x": "choice(1, 2)"}}
    with pytest.raises(ConfigError, match=r"hydra.sweeper.direction is not set and the "
                                          r"score's name 'score' does not say which way is "
                                          r"better; set hydra.sweeper.direction: maximize or "
                                          r"minimize"):
        _sweep(tmp_path / "a", task, sweep, direction=None)
    assert not calls and not (tmp_path / "a" / "run" / "search.db").exists()
    for metric, best in (("val/loss", 1), ("val/acc_best", 2)):
        folder = tmp_path / metric.replace("/", "_")
        trials = _sweep(folder, task, {**sweep, "budget": 2}, direction=None,
                        optimized_metric=metric)
        assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2
        results = yaml.safe_load((folder / "run" / "optimization_results.yaml").read_text())
        assert results["best_params"] == {"x": best}, metric


def multiple_of_four(arch: dict[str, Any]) -> bool:
    """A constraint the sweeper loads by its import path."""
    return arch["x"] % 4 == 0


def test_an_objective_a_job_does_not_return_fails_it_alone_once_a_job_completed(tmp_path):
    # as a search's trial (was: the sweep stopped at the first such job, whatever had
    # completed); before any job completed it stops the sweep: a misspelt name
    calls = []

    def task(cfg: DictConfig) -> dict[str, float]:
        calls.append(cfg.x)
        return {"acc": float(cfg.x), **({"cost": 1.0} if len(calls) == 1 else {})}

    sweeper = {"budget": 5, "max_failures": 2, "optimizer": "RandomSearch",
               "params": {"x": "range(0, 99)"}}
    objectives = ("+hydra.sweeper.objectives.acc=maximize",
                  "+hydra.sweeper.objectives.cost=minimize")
    with pytest.raises(SearchError, match=r"3 trials failed \(max_failures=2\); last error: "
                                          r"the task function returned no \['cost'\]"):
        _sweep(tmp_path / "later", task, sweeper, overrides=objectives)
    with RunStore(tmp_path / "later" / "run" / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED,
                                                      *[TrialStatus.FAILED] * 3]
    calls[:] = [0, 0]  # no job returns it: the first one stops the sweep
    with pytest.raises(SearchError, match=r"the task function returned no \['cost'\]"):
        _sweep(tmp_path / "first", task, sweeper, overrides=objectives)
    assert len(calls) == 3


def test_a_dict_without_the_score_is_fatal_only_until_a_job_completed():
    # as a search's trial whose monitor was never logged (was: fatal whatever had
    # completed); the loop makes it fail alone once a job completed (the test above)
    missing = job_result(2, {"x": 1}, {"loss": 0.3}, "acc", ["acc", "loss"])
    assert (missing.fatal, missing.objective_missing) == (True, True)
    assert "returned no ['acc']" in missing.error
    nothing = job_result(3, {"x": 1}, None, "acc")  # no dict, no number: every job's error
    assert (nothing.fatal, nothing.objective_missing) == (True, False)


def test_constraints_and_several_objectives(tmp_path, capsys):
    calls = []

    def task(cfg: DictConfig) -> dict[str, float]:
        calls.append(cfg.x)
        return {"acc": 1.0 - 1.0 / (1 + cfg.x), "cost": float(cfg.x), "note": "text"}

    trials = _sweep(tmp_path, task, {  # objectives from the command line (was: an error)
        "budget": 3, "constraints": [f"{__name__}.multiple_of_four"],
        "params": {"x": "range(0, 12)"}},
        overrides=("+hydra.sweeper.objectives.acc=maximize",
                   "+hydra.sweeper.objectives.cost=minimize"))
    done = [t for t in trials if t.status is TrialStatus.COMPLETED]
    rejected = [t for t in trials if t.status is TrialStatus.REJECTED]
    assert sorted(t.arch["x"] for t in done) == sorted(calls) == [0, 4, 8]
    assert rejected and all(t.arch["x"] % 4 for t in rejected)  # never launched
    out = capsys.readouterr().out  # the summary counts them (was: "3 completed, 0 failed.")
    assert f"3 completed, {len(rejected)} rejected, 0 failed." in out
    # the first line names both objectives, as a search's does (was: "acc (max)" alone), in
    # the sweep's words (was: "acc (max), cost (min)")
    assert "architectures, objectives acc (maximize), cost (minimize)\n" in out, out
    assert all(set(t.metrics) == {"acc", "cost"} and t.score == t.metrics["acc"] for t in done)
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    assert sorted(s["params"]["x"] for s in results["solutions"]) == [0, 4, 8]  # all optimal
    capsys.readouterr()
    assert cli(["show", str(tmp_path / "run"), "--format", "json"]) == 0
    assert '"acc"' in capsys.readouterr().out


def test_a_sweep_of_several_objectives_tells_the_optimizer_their_number_first(tmp_path):
    # was: NGOpt learnt it at its first tell: job 1 came from the optimizer it chose for a
    # single objective (Cobyla here), not from DE, its choice for several
    from lightning_nas.space import SearchSpace
    from lightning_nas.store import OBJECTIVES_UP_FRONT
    from lightning_nas.strategies import make_optimizer

    def task(cfg: DictConfig) -> dict[str, float]:
        return {"acc": cfg.x - cfg.y, "cost": cfg.x + cfg.y}

    trials = _sweep(tmp_path, task, {
        "budget": 3, "seed": 0, "optimizer": "NGOpt",
        "params": {"x": "interval(0, 1)", "y": "interval(0, 1)"}},
        overrides=("+hydra.sweeper.objectives.acc=maximize",
                   "+hydra.sweeper.objectives.cost=minimize"), y=0)
    with RunStore(tmp_path / "run" / "search.db") as store:
        space = SearchSpace.from_dict(store.get_meta("space"))
        assert store.get_meta(OBJECTIVES_UP_FRONT) is True

    def first(up_front: bool) -> dict[str, Any]:
        optimizer = make_optimizer("NGOpt", space, budget=3, seed=0)
        if up_front:
            optimizer.num_objectives = 2
        return space.validate(optimizer.ask().value)

    assert first(False) != first(True)  # (this space tells them apart)
    assert trials[0].arch == first(True)


class AtMost:
    """A constraint object with an argument, built from a ``_target_`` node."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, arch: dict[str, Any]) -> bool:
        return arch["x"] <= self.limit


def test_constraint_nodes_of_a_function_or_a_class_and_params_nodes_reach_the_sweeper(tmp_path):
    # was: Hydra built the sweeper's nodes first: a function node was called with no
    # argument (TypeError "multiple_of_four() missing 1 required positional argument")
    seen: list[Any] = []
    for folder, node, allowed in (
            ("function", {"_target_": f"{__name__}.multiple_of_four"}, {0, 4, 8}),
            ("class", {"_target_": f"{__name__}.AtMost", "limit": 2}, {0, 1, 2})):
        seen.clear()
        trials = _sweep(tmp_path / folder, lambda cfg: seen.append(cfg.node) or float(cfg.x), {
            "budget": 2, "constraints": [node], "params": {
                "x": "range(0, 12)", "node": {"_target_": f"{__name__}.AtMost", "limit": 1}}},
            node=None)
        done = [t.arch["x"] for t in trials if t.status is TrialStatus.COMPLETED]
        assert len(done) == 2 and set(done) <= allowed, folder
        # a rejected one names it with its arguments (was: '<...AtMost object at 0x...>')
        assert {t.error for t in trials if t.status is TrialStatus.REJECTED} <= {
            "multiple_of_four rejected it" if folder == "function" else
            f"{__name__}.AtMost(limit=2) rejected it"}, folder
        # a params node is a value the jobs get as written (was: built by Hydra, a dict)
        assert dict(seen[0]) == {"_target_": f"{__name__}.AtMost", "limit": 1}


def test_a_constraint_nodes_wrong_or_missing_argument_is_named_before_any_job(tmp_path):
    # was: Hydra's "Error in call to target '...AtMost': TypeError(...unexpected keyword
    # argument 'limt')", where lightning-nas search names the key and the valid ones
    ran = []
    good = {"_target_": f"{__name__}.AtMost", "limit": 8}
    for folder, node, message in (
            ("typo", {"_target_": f"{__name__}.AtMost", "limt": 16},
             "hydra.sweeper.constraints[1].limt: not an argument of AtMost; did you mean "
             "'limit'? it takes ['limit']"),
            ("missing", {"_target_": f"{__name__}.AtMost"},
             "hydra.sweeper.constraints[1]: AtMost: the config does not give required "
             "argument 'limit'; set hydra.sweeper.constraints[1].limit")):
        with pytest.raises(ConfigError) as info:
            _sweep(tmp_path / folder, lambda cfg: ran.append(1) or 1.0, {
                "budget": 1, "params": {"x": "range(0, 9)"}, "constraints": [good, node]})
        assert str(info.value).startswith(message), str(info.value)
        assert not (tmp_path / folder / "run").exists()
    assert not ran
    partial = {"_target_": f"{__name__}.below", "_partial_": True, "limit": 2}
    trials = _sweep(tmp_path / "partial", lambda cfg: float(cfg.x), {
        "budget": 2, "params": {"x": "range(0, 9)"}, "constraints": [good, partial]})
    assert all(t.arch["x"] < 2 for t in trials if t.status is TrialStatus.COMPLETED)


def test_a_constraint_that_is_no_callable_is_named_before_any_job(tmp_path):
    # was: "constraints must be callables arch -> bool/float, got 3.141592653589793",
    # naming no key, where lightning-nas search names search.constraints[i]
    ran = []
    with pytest.raises(ConfigError, match=r"^hydra.sweeper.constraints\[1\]='math.pi' is no "
                                          r"callable arch -> bool"):
        _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0,
               {"budget": 1, "params": {"x": "range(0, 9)"},
                "constraints": [f"{__name__}.multiple_of_four", "math.pi"]})
    assert not ran and not (tmp_path / "run").exists()


def test_one_constraint_alone_not_in_a_list_is_read_as_lightning_nas_search_reads_it(
        tmp_path):
    # was: Hydra's "AnyNode is not a ListConfig, list or tuple" composing the config, where
    # lightning-nas search reads one import path (or node) alone as a list of it
    for folder, alone in (("path", f"{__name__}.multiple_of_four"),
                          ("node", {"_target_": f"{__name__}.AtMost", "limit": 2})):
        trials = _sweep(tmp_path / folder, lambda cfg: float(cfg.x), {
            "budget": 2, "params": {"x": "range(0, 12)"}, "constraints": alone})
        done = {t.arch["x"] for t in trials if t.status is TrialStatus.COMPLETED}
        assert len(done) == 2 and done <= ({0, 4, 8} if folder == "path" else {0, 1, 2})
    with pytest.raises(ConfigError, match=r"^hydra.sweeper.constraints must be a list of "
                                          r"import paths or _target_ nodes .*, got 3"):
        _sweep(tmp_path / "number", lambda cfg: 1.0,
               {"budget": 1, "params": {"x": "range(0, 9)"}, "constraints": 3})


def below(arch: dict[str, Any], limit: int) -> bool:
    """A constraint with an argument bound by a ``_partial_`` node."""
    return arch["x"] < limit


def test_resuming_with_a_constraint_object_of_other_arguments_is_refused(tmp_path):
    # was: stored as '<tests.test_hydra_sweeper.AtMost object>': a resume with limit 4 was
    # taken, and trials of both limits shared the leaderboard
    def sweep(limit: int, budget: int) -> list[TrialResult]:
        return _sweep(tmp_path, lambda cfg: float(cfg.x), {
            "budget": budget, "params": {"x": "range(0, 9)"},
            "constraints": [{"_target_": f"{__name__}.AtMost", "limit": limit}]})

    sweep(8, 1)
    with pytest.raises(ConfigError, match=rf"hydra\.sweeper\.constraints: \['{__name__}\."
                                          rf"AtMost\(limit=8\)'\], now \['{__name__}\.AtMost"
                                          rf"\(limit=4\)'\]"):
        sweep(4, 2)
    assert len(sweep(8, 2)) >= 2  # the same one resumes


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
        _sweep(tmp_path / "left", lambda cfg: float(cfg.x), optuna, direction=None)
    assert all(f"setting {key!r}; did you mean" in str(info.value)
               for key in ("storage", "study_name", "n_jobs", "n_trials"))
    ours = {"optimizer": "RandomSearch", "seed": 1234, "num_workers": 1, "budget": 3,
            **{k: optuna[k] for k in ("direction", "params")}}
    trials = _sweep(tmp_path / "switched", lambda cfg: float(cfg.x), ours, direction=None)
    assert sorted(t.arch["x"] for t in trials) == [1, 2, 3]


def test_resuming_with_another_space_is_refused(tmp_path):
    _sweep(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": {"x": "choice(1, 2)"}})
    with pytest.raises(ConfigError,
                       match="holds a sweep with a different space.*hydra.sweeper.run_dir"):
        _sweep(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": {"x": "choice(1, 3)"}})


def test_resuming_with_other_settings_or_job_overrides_is_refused(tmp_path):
    def sweep(seed: int, epochs: int, budget: int = 1) -> list[TrialResult]:
        return _sweep(tmp_path, lambda cfg: float(cfg.x), {
            "budget": budget, "seed": seed, "params": {"x": "range(0, 9)"}},
            (f"epochs={epochs}",), epochs=1)

    sweep(seed=0, epochs=1)
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: hydra.sweeper.seed: "
                                          r"0, now 5; the job overrides: \['epochs=1'\], now "
                                          r"\['epochs=2'\]"):
        sweep(seed=5, epochs=2, budget=2)
    assert len(sweep(seed=0, epochs=1, budget=2)) == 2  # the same setup resumes
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    assert results["rerun"].endswith(" hydra.mode=RUN") and "epochs=1" in results["rerun"]


def test_a_resume_that_overrides_a_key_the_first_sweep_did_not_names_the_overrides(tmp_path):
    # was: "...: epochs: 1, now 'unset'; the job overrides: [], now ['epochs=2']": the job's
    # record leaves an overridden value out, so the key read as removed, not as now 2
    def sweep(*overrides: str, budget: int = 1) -> list[TrialResult]:
        return _sweep(tmp_path, lambda cfg: float(cfg.x), {
            "budget": budget, "seed": 0, "params": {"x": "range(0, 9)"}}, overrides, epochs=1)

    sweep()
    with pytest.raises(ConfigError) as info:
        sweep("epochs=2", budget=2)
    assert "the job overrides: [], now ['epochs=2']" in str(info.value)
    assert "unset" not in str(info.value)
    with pytest.raises(ConfigError) as info:  # the other way round
        sweep("epochs=1", budget=2)
    assert "unset" not in str(info.value) and "now ['epochs=1']" in str(info.value)
    assert len(sweep(budget=2)) == 2  # the same setup resumes


def test_a_resume_refused_for_its_settings_leaves_an_older_versions_store_as_it_was(tmp_path):
    # a refused resume writes nothing (was: the store of an older version was migrated,
    # its column added, before the changed seed was refused)
    def sweep(seed: int, budget: int = 1) -> list[TrialResult]:
        return _sweep(tmp_path, lambda cfg: float(cfg.x), {
            "budget": budget, "seed": seed, "params": {"x": "range(0, 9)"}})

    sweep(seed=0)
    db = tmp_path / "run" / "search.db"
    with sqlite3.connect(db) as old:  # as a version before the `epochs` column left it
        old.execute("ALTER TABLE trials DROP COLUMN epochs")
    old.close()
    before, mtime = db.read_bytes(), db.stat().st_mtime_ns
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: hydra.sweeper.seed"):
        sweep(seed=5, budget=2)
    assert (db.read_bytes(), db.stat().st_mtime_ns) == (before, mtime)
    assert len(sweep(seed=0, budget=2)) == 2  # the same setup resumes


def test_a_config_file_edited_before_the_resume_is_refused(tmp_path):
    # was: accepted; the jobs after the resume ran another setup into the same leaderboard
    def sweep(budget: int, **config: Any) -> list[TrialResult]:
        return _sweep(tmp_path, lambda cfg: float(cfg.x),
                      {"budget": budget, "params": {"x": "range(0, 9)"}}, **config)

    sweep(1, lr=0.1, out="${hydra:runtime.output_dir}")
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: lr: 0.1, now 0.2\. "
                                          r"Resume with the settings it ran with"):
        sweep(2, lr=0.2, out="${hydra:runtime.output_dir}")
    # the searched key's default in the file is no setup: it resumes
    assert len(sweep(2, lr=0.1, out="${hydra:runtime.output_dir}", x=5)) == 2


def test_an_edited_config_group_file_is_refused_when_its_group_is_chosen_or_searched(tmp_path):
    # was: accepted; the key of a group chosen on the command line (model=c) or searched was
    # left out whole, so its file's values were never compared and jobs of 1 and 2 epochs
    # shared a leaderboard
    def sweep(folder: str, budget: int, params: dict[str, Any], *overrides: str) -> None:
        option = tmp_path / folder / "conf" / "model" / "c.yaml"
        if not option.exists():
            option.parent.mkdir(parents=True)
            option.write_text("name: c\ndepth: 1\n")
        _sweep(tmp_path / folder, lambda cfg: float(cfg.x) + cfg.model.depth,
               {"budget": budget, "params": {"x": "range(0, 9)", **params}}, overrides)

    def edit(folder: str, depth: int) -> None:
        (tmp_path / folder / "conf" / "model" / "c.yaml").write_text(f"name: c\ndepth: {depth}\n")

    for folder, params, overrides, shown in (
            ("chosen", {}, ("model=c",), "model.depth"),
            ("searched", {"model": "choice(a, c)"}, (), "model=c: model.depth")):
        sweep(folder, 1, params, *overrides)
        edit(folder, 2)
        with pytest.raises(ConfigError, match=rf"jobs ran with other settings: {shown}: 1, "
                                              rf"now 2\. Resume with"):
            sweep(folder, 2, params, *overrides)
        with RunStore(tmp_path / folder / "run" / "search.db") as store:
            assert len(store) == 1
        edit(folder, 1)  # as it was: resumes
        sweep(folder, 2, params, *overrides)
        with RunStore(tmp_path / folder / "run" / "search.db") as store:
            assert store.count(TrialStatus.COMPLETED) == 2


def test_an_edited_nested_option_file_is_refused_on_resume(tmp_path):
    # was: accepted; model/backbone's options were recorded without the model subtree (the
    # path of the searched model), so nothing of their files was compared on a resume
    backbone = tmp_path / "conf" / "model" / "backbone"
    backbone.mkdir(parents=True)
    for option, chosen in (("c", "r1"), ("e", "r2")):
        (backbone.parent / f"{option}.yaml").write_text(
            f"defaults:\n  - backbone: {chosen}\nname: {option}\n")

    def sweep(budget: int, width: int) -> None:
        (backbone / "r1.yaml").write_text("width: 1\n")
        (backbone / "r2.yaml").write_text(f"width: {width}\n")
        _sweep(tmp_path, lambda cfg: float(cfg.x) + cfg.model.backbone.width, {
            "budget": budget, "params": {"x": "range(0, 9)", "model": "choice(c, e)",
                                         "model/backbone": "choice(r1, r2)"}},
            defaults=[{"model": "c"}, {"override hydra/sweeper": "lightning_nas"}, "_self_"])

    sweep(1, width=3)
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: model/backbone=r2: "
                                          r"model.backbone.width: 3, now 4\. Resume with"):
        sweep(2, width=4)
    sweep(2, width=3)  # as it was: resumes
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.count(TrialStatus.COMPLETED) == 2


def test_a_resumed_sweep_never_reuses_a_job_folder(tmp_path):
    # was: the first job of a resume was numbered by the trial count; a trial re-run after a
    # kill took a new number, so the next resume launched a new trial into an old job folder
    jobs: dict[int, int] = {}  # hydra.job.num (the job's folder) -> x

    def task(cfg: DictConfig) -> float:
        assert HydraConfig.get().job.num not in jobs, "a job folder used twice"
        jobs[HydraConfig.get().job.num] = cfg.x
        return float(cfg.x)

    def sweep(budget: int) -> dict[int, int]:
        trials = _sweep(tmp_path, task, {"budget": budget, "params": {"x": "range(0, 9)"}})
        return {t.trial_id: t.arch["x"] for t in trials}

    sweep(2)
    with RunStore(tmp_path / "run" / "search.db") as store:
        store.set_status(2, TrialStatus.RUNNING)  # killed while job 1 trained trial 2
    sweep(2)  # trial 2 runs again, as job 2
    trials = sweep(3)  # trial 3: job 3 (was: job 2 again)
    assert jobs == {0: trials[1], 1: trials[2], 2: trials[2], 3: trials[3]}


def test_each_job_keeps_its_own_time_in_a_batch(tmp_path):
    # was: every trial of a batch got the batch's start and end (two 0.3 s jobs run one
    # after the other by the basic launcher were stored as 0.6 s each, at the same times)
    ran: dict[int, tuple[float, float]] = {}  # x -> when its job's task began and ended

    def task(cfg: DictConfig) -> float:
        began = time.time()
        time.sleep(0.3)
        ran[cfg.x] = (began, time.time())
        return float(cfg.x)

    trials = _sweep(tmp_path, task, {"budget": 2, "num_workers": 2,
                                     "params": {"x": "choice(1, 2)"}})
    first, second = sorted(trials, key=lambda t: t.started)
    # each trial's times hold its own job's run and not the other's (no bound on how long
    # a job took: was `< 0.5` s, which a loaded machine's pause could break)
    for trial, other in ((first, second), (second, first)):
        began, ended = ran[trial.arch["x"]]
        assert trial.started <= began and ended <= trial.finished
        assert not trial.started <= ran[other.arch["x"]][0] < trial.finished
    assert first.finished <= second.started  # one after the other, as they ran


def test_the_rerun_line_quotes_overrides_for_the_shell(tmp_path):
    _sweep(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": {"x": "choice(1, 2)"}},
           ("+note='a, b'",))
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    # was: joined with spaces, so a shell split "+note='a, b'" and dropped its quotes
    assert "+note='a, b'" in shlex.split(results["rerun"])


def test_the_rerun_line_writes_a_config_groups_choice_as_typed(tmp_path, capsys):
    # was: Hydra's quotes quoted again for the shell, 'model='"'"'b'"'"'', in the rerun
    # line and the "Next:" line; the job's own overrides keep Hydra's quotes
    _sweep(tmp_path, lambda cfg: float(cfg.model.name == "b"),
           {"budget": 2, "params": {"model": "choice(a, b)"}})
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    best = results["best_params"]["model"]
    assert results["overrides"] == [f"model='{best}'"]
    assert results["rerun"].endswith(f" model={best} hydra.mode=RUN"), results["rerun"]
    assert f"Next: {results['rerun']} (from the folder" in capsys.readouterr().out


def test_the_rerun_line_trains_the_config_the_sweep_ran(tmp_path, launcher):
    # was: the rerun line dropped --config-name and --config-dir, so it trained the
    # script's default config (another data set) and not the best job
    app = """import json, pathlib, hydra
from hydra.core.hydra_config import HydraConfig
@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg):
    out = pathlib.Path(HydraConfig.get().runtime.output_dir, "ran.json")
    out.write_text(json.dumps({"name": cfg.name, "n": cfg.data.n, "x": cfg.x}))
    return float(cfg.x)
main()
"""
    (tmp_path / "app.py").write_text(app)
    for folder, text in (("conf/data/a.yaml", "n: 1\n"), ("extra/data/b.yaml", "n: 7\n")):
        (tmp_path / folder).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / folder).write_text(text)
    for name in ("config", "other"):
        (tmp_path / "conf" / f"{name}.yaml").write_text(yaml.safe_dump({
            "defaults": ["_self_", {"data": "a"}, {"override hydra/sweeper": "lightning_nas"}],
            "name": name, "x": 0, "hydra": {
                "job": {"chdir": False}, "run": {"dir": "rerun"},
                "sweep": {"dir": "sweep", "subdir": "${hydra.job.num}"},
                "sweeper": {"budget": 2, "direction": "maximize",
                            "params": {"x": "range(0, 9)"}}}}))
    # ``python app.py ...`` twice, forked from the launcher (imports paid once, not by two
    # fresh interpreters); sys.argv is ["app.py", ...] as python gives it
    launcher.launch(["--config-name", "other", "--config-dir", "extra", "-m", "data=b"],
                    tmp_path / "sweep.log", Path("app.py"), cwd=tmp_path)
    assert launcher.wait(TIMEOUT) == 0, (tmp_path / "sweep.log").read_text()[-3000:]
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert shlex.split(results["rerun"])[2:6] == ["--config-name", "other", "--config-dir",
                                                  str(tmp_path / "extra")]
    python, script, *argv = shlex.split(results["rerun"])  # as a shell splits it
    assert python == "python"
    launcher.launch(argv, tmp_path / "rerun.log", Path(script), cwd=tmp_path)
    assert launcher.wait(TIMEOUT) == 0, (tmp_path / "rerun.log").read_text()[-3000:]
    ran = json.loads((tmp_path / "rerun" / "ran.json").read_text())
    assert ran == {"name": "other", "n": 7, "x": results["best_params"]["x"]}
    from lightning_nas.export import export_best

    assert export_best(tmp_path / "sweep")["hydra"]["rerun"] == results["rerun"]  # the same


def test_a_config_node_that_fails_to_build_in_two_jobs_stops_the_sweep(tmp_path):
    from hydra.utils import instantiate

    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way.*"
                                          r"InstantiationException: Error in call to target"):
        _sweep(tmp_path, lambda cfg: instantiate({"_target_": "math.sqrt", "nosuch": cfg.x}),
               {"budget": 5, "max_failures": 9, "params": {"x": "range(0, 9)"}})


def test_two_jobs_whose_task_function_fails_the_same_way_say_where(tmp_path):
    # was: "trials 1 and 2 failed the same way in training", though the sweep sees no
    # training in a job (this task function trains nothing)
    def task(cfg):
        raise FileNotFoundError("no such file: data/train.csv")

    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way in the task "
                                          r"function \(every trial would; .*\): "
                                          r"FileNotFoundError: no such file"):
        _sweep(tmp_path, task, {"budget": 5, "max_failures": 9,
                                "params": {"x": "range(0, 9)"}})


def test_a_space_of_one_architecture_is_refused_before_anything_is_stored(tmp_path):
    with pytest.raises(SpaceError, match="single architecture.*hydra.mode=RUN"):
        _sweep(tmp_path, lambda cfg: 1.0, {"budget": 2, "params": {"x": "choice(1)"}})
    assert not (tmp_path / "run").exists()


def test_a_misspelt_key_fails_before_anything_runs(tmp_path):
    # was: Hydra's "Could not override 'net.widht'. To append to your config use
    # +net.widht=4" in a long chained traceback; following it failed every job in the model
    # (then: a key of a plain node named the keys there, with no word of adding it with +)
    net = {"_target_": "tests.helpers.TinyNet", "width": 8, "depth": 1}
    for params, error in (
            ({"nosuch": "choice(1, 2)"}, "'nosuch': the config has no key 'nosuch'; accepted: "
                                         "model, net, x; search +nosuch to add it as a new "
                                         "key"),
            ({"net.widht": "choice(4, 8)"}, "'net.widht': net has no key 'widht'; did you mean "
                                            "'width'? accepted: depth, width, activation, lr, "),
            ({"model": "choice(a, b)", "model.dept": "choice(1, 2)"},
             "'model.dept': model has no key 'dept'; did you mean 'depth'? accepted: name, "
             "depth; search +model.dept to add it as a new key"),
            ({"nett.width": "choice(4, 8)"}, "'nett.width': the config has no key 'nett'; did "
                                             "you mean 'net'?"),
            ({"net.lr": "choice(0.1, 0.2)"}, "'net.lr': net does not set 'lr' (an argument of "
                                             "tests.helpers.TinyNet); search +net.lr to add it")):
        with pytest.raises(ConfigError, match=f"^{re.escape(f'sweep parameter {error}')}") as info:
            _sweep(tmp_path, lambda cfg: 1.0, {"budget": 1, "params": params}, net=net)
        assert "\n" not in str(info.value) and info.value.__cause__ is None
        assert not (tmp_path / "run" / "search.db").exists()
    _sweep(tmp_path / "plus", lambda cfg: float(cfg.net.lr),  # as the message says
           {"budget": 1, "params": {"+net.lr": "choice(0.1, 0.2)"}}, net=net)
    # a misspelt range key (was: a fixed mapping; the jobs launched and failed on it)
    with pytest.raises(SpaceError, match=r"params key 'x': .*not lowr \(did you mean 'lower'"):
        _sweep(tmp_path, lambda cfg: 1.0, {"params": {"x": {"lowr": 1, "upper": 9},
                                                          "model": "choice(a, b)"}})
    assert not (tmp_path / "run" / "search.db").exists()



def test_a_key_its_nodes_target_does_not_take_is_refused_before_any_job(tmp_path):
    # was: an added key (+/++), or one the file sets, that the node's _target_ does not
    # take composed, and every job failed building the node (Hydra's InstantiationException)
    # until the sweep stopped after two of them
    from hydra.utils import instantiate

    ran = []

    def task(cfg: DictConfig) -> float:
        ran.append(1)
        for node in ("net", "opt", "free", "outer"):
            instantiate(cfg[node])
        return float(cfg.x)

    nodes = {"net": {"_target_": "tests.helpers.TinyNet", "width": 8, "size": 2},
             "opt": {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1},
             "free": {"_target_": "builtins.dict"},  # **kwargs: any key
             "outer": {"_target_": "builtins.dict", "_recursive_": False,  # built raw
                       "inner": {"_target_": "tests.helpers.TinyNet"}}}
    takes = ("it takes ['width', 'activation', 'lr', 'depth', 'fail_width', 'nan_width', "
             "'die_width', 'sleep']")  # whatever x is: no other job composed, none named
    for params, error in (
            ({"+net.widht": "choice(4, 8)"}, "'+net.widht': 'widht' is not an argument of "
                                             "tests.helpers.TinyNet (the _target_ of net), so "
                                             "every job would fail to build net; did you mean "
                                             f"'width'? {takes}"),
            ({"++net.foo": "choice(1, 2)"}, "'++net.foo': 'foo' is not an argument of "
                                            "tests.helpers.TinyNet (the _target_ of net)"),
            ({"net.size": "choice(1, 2)"}, "'net.size': 'size' is not an argument of "
                                           "tests.helpers.TinyNet"),  # set in the file
            ({"+opt.momentm": "choice(0.5, 0.9)"}, "'+opt.momentm': 'momentm' is not an "
                                                   "argument of torch.optim.SGD (the _target_ "
                                                   "of opt), so every job would fail to build "
                                                   "opt; did you mean 'momentum'? it takes "
                                                   "['params', 'lr', 'momentum', ")):
        with pytest.raises(ConfigError, match=f"^{re.escape(f'sweep parameter {error}')}") \
                as info:
            _sweep(tmp_path, task, {"budget": 2, "params": {"x": "choice(1, 2)", **params}},
                   **nodes)
        assert "also with" not in str(info.value)
        assert not ran and not (tmp_path / "run" / "search.db").exists()
    # a config group's option whose target does not take the key: refused by name
    (tmp_path / "conf" / "kind").mkdir(parents=True)
    (tmp_path / "conf" / "kind" / "net.yaml").write_text("_target_: tests.helpers.TinyNet\n")
    (tmp_path / "conf" / "kind" / "free.yaml").write_text("_target_: builtins.dict\n")
    with pytest.raises(ConfigError, match=r"^sweep parameter '\+kind.foo': 'foo' is not an "
                                          r"argument of tests.helpers.TinyNet \(the _target_ "
                                          r"of kind\).*\. The same held with every other "
                                          r"value of the other searched key \+kind.foo \(1 "
                                          r"tried\)\.$"):
        _sweep(tmp_path, task, {"budget": 2, "params": {"kind": "choice(free, net)",
                                                        "+kind.foo": "choice(1, 2)"}},
               defaults=[{"model": "a"}, {"kind": "free"}, "_self_",
                         {"override hydra/sweeper": "lightning_nas"}], **nodes)
    assert not ran and not (tmp_path / "run" / "search.db").exists()
    del nodes["net"]["size"]
    with pytest.warns(UserWarning, match=r"sweep parameter '\+gone.k' not checked: the "
                                         r"_target_ of gone, nosuch_module.Thing, does not "
                                         r"import here \(ImportError: "):
        trials = _sweep(tmp_path, task, {"budget": 2, "params": {  # what the targets take
            "+net.depth": "choice(1, 2)", "+opt.momentum": "choice(0.5, 0.9)",
            "+free.anything": "choice(1, 2)", "+outer.inner.nosuch": "choice(1, 2)",
            "+gone.k": "choice(1, 2)"}}, gone={"_target_": "nosuch_module.Thing"}, **nodes)
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2 and len(ran) == 2

def test_a_fixed_override_its_nodes_target_does_not_take_is_refused_before_any_job(tmp_path):
    # was: a command-line override beside the sweep (+net.foo=3) under a _target_ node whose
    # target does not take it was not checked (only searched keys were): every job failed
    # building the node until two failures stopped the sweep; a file's key alike, unsaid
    from hydra.utils import instantiate

    ran = []

    def task(cfg: DictConfig) -> float:
        ran.append(1)
        for node in ("net", "free", "outer"):
            instantiate(cfg[node])
        return float(cfg.x)

    nodes = {"net": {"_target_": "tests.helpers.TinyNet", "width": 8, "size": 2},
             "free": {"_target_": "builtins.dict"},  # **kwargs: any key
             "outer": {"_target_": "builtins.dict", "_recursive_": False,  # built raw
                       "inner": {"_target_": "tests.helpers.TinyNet", "bad": 1}},
             "data_only": {"_target_": "tests.helpers.TinyNet", "nosuch": 1}}  # never built
    for override, error in (("+net.widht=4", "'widht' is not an argument of tests.helpers."
                                             "TinyNet (the _target_ of net), so every job "
                                             "would fail to build net; did you mean 'width'?"),
                            ("net.size=3", "'size' is not an argument of tests.helpers."
                                           "TinyNet"),  # the file's key, set on the line
                            ("++data_only.nosuch=2", "'nosuch' is not an argument of tests."
                                                     "helpers.TinyNet (the _target_ of "
                                                     "data_only)")):
        said = f"command-line override {override!r}: {error}"
        with pytest.raises(ConfigError, match=f"^{re.escape(said)}"):
            _sweep(tmp_path, task, {"budget": 2, "params": {"x": "choice(1, 2)"}},
                   (override,), **nodes)
        assert not ran and not (tmp_path / "run" / "search.db").exists()
    # the file's own keys are warned of, not refused: a task function may not build a node
    # (data_only); what the targets take, and a node under _recursive_: false, pass
    del nodes["net"]["size"]
    with pytest.warns(UserWarning, match=r"^config key 'data_only.nosuch': 'nosuch' is not an "
                                         r"argument of tests.helpers.TinyNet \(the _target_ of "
                                         r"data_only\), so every job would fail to build "
                                         r"data_only; .*\(not refused: the task function may "
                                         r"leave data_only unbuilt\)$") as said:
        trials = _sweep(tmp_path, task, {"budget": 2, "params": {"x": "choice(1, 2)"}},
                        ("+net.depth=2", "+free.anything=1", "+outer.inner.nosuch=1",
                         "hydra.job.chdir=False"), **nodes)
    # that key alone (not Hydra's own nodes, nor those under outer)
    assert len([w for w in said if "config key" in str(w.message)]) == 1
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2 and len(ran) == 2


@pytest.mark.slow
def test_the_examples_fixed_override_its_target_does_not_take_is_refused(tmp_path, launcher):
    # was: python train.py -m hparams_search=nas +model.net.foo=3 launched every job, each
    # failing to build model.net (DenseNet takes no foo), until two failures stopped it
    run = tmp_path / "sweep"
    done = _forked(launcher, tmp_path, TRAIN, _example(run, "+model.net.foo=3")[2:])
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert ("ConfigError: command-line override '+model.net.foo=3': 'foo' is not an argument "
            "of examples.hydra.src.models.components.dense_net.DenseNet (the _target_ of "
            "model.net), so every job would fail to build model.net; it takes ['input_size', "
            "'lin1_size', 'lin2_size', 'lin3_size', 'output_size']") in done.stderr
    assert not run.exists()


def test_a_job_whose_trainer_starts_several_processes_is_refused_before_any_job(tmp_path):
    calls = []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.x)
        return 1.0

    # the other keys may hold what only a job resolves (lightning-hydra-template's output dir)
    ddp = {"accelerator": "cpu", "devices": 2, "strategy": "ddp",
           "default_root_dir": "${hydra:runtime.output_dir}"}
    with pytest.raises(ConfigError, match=r"trainer.devices=2.*starts several processes per "
                                          r"job.*re-running the command line.*lightning-nas"):
        _sweep(tmp_path, task, {"budget": 1, "params": {"x": "choice(1, 2)"}}, trainer=ddp)
    assert not calls and not (tmp_path / "run" / "search.db").exists()
    # a searched device count is checked for each value (was: for the first sample only)
    params = {"x": "choice(1, 2)", "trainer.devices": "choice(2, auto)"}  # auto: 1 CPU
    assert parse_params(params).space.sample(seed=0)["trainer.devices"] == "auto"
    with pytest.raises(ConfigError, match=r"trainer.devices=2.*starts several processes"):
        _sweep(tmp_path, task, {"budget": 1, "params": params}, trainer={**ddp, "devices": 1})
    assert not calls and not (tmp_path / "run" / "search.db").exists()
    # one device per job sweeps as usual
    trials = _sweep(tmp_path, task, {"budget": 1, "params": {"x": "choice(1, 2)"}},
                    trainer={**ddp, "devices": 1})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] and len(calls) == 1


@pytest.mark.slow
def test_a_job_whose_strategy_spawns_its_ranks_is_swept(tmp_path):
    # the lightning-hydra-template's trainer=ddp_sim: its ranks are child processes that the
    # job's own fit starts, no re-run of the command line (was: refused before the first
    # job, "Lightning starts the other ranks by re-running the command line", while
    # Hydra's basic sweeper runs these jobs)
    import hydra
    import lightning.pytorch as pl

    from tests.helpers_data import BlobData
    from tests.helpers_ranks import RankRecorder, SyncedTinyNet

    returned, ranks = {}, {}

    def task(cfg: DictConfig) -> float:
        pl.seed_everything(0, verbose=False)
        trainer = hydra.utils.instantiate(cfg.trainer, callbacks=[RankRecorder()])
        # x=4: 17 validation samples, which the 2 ranks do not divide; x=8: 16, which they do
        trainer.fit(SyncedTinyNet(width=cfg.x), BlobData(n=68 if cfg.x == 4 else 64,
                                                         batch_size=16))
        out = Path(HydraConfig.get().runtime.output_dir)  # (the folders go with the sweep)
        ranks[str(out)] = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
        returned[str(out)] = float(trainer.callback_metrics["val_acc"])  # rank 0's, sent back
        return returned[str(out)]

    spawn = {"_target_": "lightning.pytorch.Trainer", "accelerator": "cpu", "devices": 2,
             "strategy": "ddp_spawn", "max_epochs": 1, "logger": False,
             "enable_checkpointing": False, "enable_progress_bar": False,
             "enable_model_summary": False, "default_root_dir": "${hydra:runtime.output_dir}"}
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        trials = _sweep(tmp_path, task, {"budget": 2, "params": {"x": "choice(4, 8)"}},
                        trainer=spawn)
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2, [t.error for t in trials]
    with RunStore(tmp_path / "run" / "search.db") as store:
        folders, uneven = store.get_meta("job_dirs"), store.get_meta("uneven_splits")
    # the odd split's job is said once, recorded and noted in best.yaml; the even one's not
    # (was: nothing, as the sweep never sees a job's Trainer)
    odd, even = sorted(trials, key=lambda t: t.arch["x"])
    text = ("the validation set holds 17 samples, which the 2 ranks do not divide: "
            "Lightning's DistributedSampler repeats 1 of them (18 scored, the repeats counted "
            "again), so a job's score (what its task returns, synced over the ranks) differs "
            "slightly from a validation on one device; for exact scores, use a validation set "
            "divisible by 2, or trainer.use_distributed_sampler=False with a sampler of your "
            "own, or validate on one device")
    assert [str(w.message) for w in said if "ranks do not divide" in str(w.message)] == [
        f"trial {odd.trial_id}: {text}"]
    assert uneven == {text: [odd.trial_id]}
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    assert results.get("notes") == ([text] if results["best_trial"] == odd.trial_id else None)
    for trial, notes in ((odd, [text]), (even, None)):
        assert cli(["export", str(tmp_path / "run"), "--trial", str(trial.trial_id)]) == 0
        assert yaml.safe_load((tmp_path / "run" / "best.yaml").read_text()).get(
            "notes") == notes
    assert len(set(folders.values())) == 2
    for trial in trials:  # each job's score, and both ranks in that job's own folder
        folder = folders[str(trial.trial_id)]
        assert trial.score == returned[folder]
        assert [(r["rank"], r["world_size"]) for r in ranks[folder]] == [(0, 2), (1, 2)]
        assert {r["hparams"]["width"] for r in ranks[folder]} == {trial.arch["x"]}
    # several nodes need their other processes started from outside: refused as before
    with pytest.raises(ConfigError, match=r"trainer.num_nodes=2.*starts several processes.*"
                                          r"Sweep with trainer.devices=1, or with "
                                          r"trainer.strategy=ddp_spawn on one node"):
        _sweep(tmp_path / "nodes", task, {"budget": 1, "params": {"x": "choice(4, 8)"}},
               trainer={**spawn, "num_nodes": 2})


def test_a_searched_group_option_that_starts_several_processes_is_refused_before_any_job(
        tmp_path):
    # was: checked for `trainer` keys only; an experiment option of `@package _global_`
    # setting devices 2 ran its DDP job, whose rank 1 re-ran the whole sweep (killed)
    ran = []
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    for name, devices in (("one", 1), ("two", 2)):
        (tmp_path / "conf" / "experiment" / f"{name}.yaml").write_text(
            f"# @package _global_\ntrainer:\n  devices: {devices}\n  strategy: ddp\n")
    defaults = [{"model": "a"}, "_self_", {"experiment": None},  # after _self_: it wins
                {"override hydra/sweeper": "lightning_nas"}]
    params = {"x": "choice(1, 2)", "experiment": "choice(two, one)"}
    assert parse_params(params).space.sample(seed=0)["experiment"] == "one"  # the first job's
    with pytest.raises(ConfigError, match=r"trainer.devices=2, trainer.strategy='ddp' \(the "
                                          r"jobs of experiment=two\) starts several processes"):
        _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0, {"budget": 2, "params": params},
               defaults=defaults, trainer={"accelerator": "cpu", "devices": 1})
    assert not ran and not (tmp_path / "run" / "search.db").exists()


def test_a_job_that_another_choice_makes_start_several_processes_is_never_launched(tmp_path):
    # was: each option was composed once, the other keys at the first sample's values
    # (n=1): experiment=many passed, and its job with n=2 (devices 2) was launched, whose
    # rank 1 re-runs the whole sweep; now each job is composed and checked before launch
    ran = []
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    for name, devices in (("one", 1), ("many", "${n}")):
        (tmp_path / "conf" / "experiment" / f"{name}.yaml").write_text(
            f"# @package _global_\ntrainer:\n  devices: {devices}\n")
    defaults = [{"model": "a"}, "_self_", {"experiment": "one"},
                {"override hydra/sweeper": "lightning_nas"}]
    params = {"experiment": "choice(one, many)", "n": "tag(ordered, choice(2, 1))"}
    assert parse_params(params).space.sample(seed=0)["n"] == 1  # the options' composition

    def task(cfg: DictConfig) -> float:
        ran.append((HydraConfig.get().runtime.choices.experiment, cfg.n))
        return float(cfg.n)

    trials = _sweep(tmp_path, task, {"budget": 4, "params": params}, n=1,
                    defaults=defaults, trainer={"accelerator": "cpu", "devices": 1})
    assert len(trials) == 4 and ("many", 2) not in ran and len(ran) == 3
    [refused] = [t for t in trials if t.status is TrialStatus.FAILED]
    assert refused.arch == {"experiment": "many", "n": 2}
    assert ("trainer.devices=2 (the jobs of experiment='many' n=2) starts several processes "
            "per job") in refused.error


@pytest.mark.slow
def test_an_option_that_works_with_other_values_of_the_other_keys_is_left_to_each_job(
        tmp_path):
    # was: each option was composed and checked beside the first sample's values of the
    # other keys only, so one that failed there was refused for the whole sweep, although
    # its jobs with other values work (and each job is composed and checked before launch)
    ran = []
    (tmp_path / "devices" / "conf" / "experiment").mkdir(parents=True)
    for name, devices in (("one", 1), ("many", "${n}")):  # many: only n=1 runs
        (tmp_path / "devices" / "conf" / "experiment" / f"{name}.yaml").write_text(
            f"# @package _global_\ntrainer:\n  devices: {devices}\n")
    defaults = [{"model": "a"}, "_self_", {"experiment": "one"},
                {"override hydra/sweeper": "lightning_nas"}]
    params = {"experiment": "choice(one, many)", "n": "choice(1, 2)"}
    assert parse_params(params).space.sample(seed=0) == {"experiment": "many", "n": 2}

    def task(cfg: DictConfig) -> float:
        ran.append((HydraConfig.get().runtime.choices.experiment, cfg.n))
        return float(cfg.n)

    trials = _sweep(tmp_path / "devices", task, {"budget": 4, "params": params}, n=1,
                    defaults=defaults, trainer={"accelerator": "cpu", "devices": 1})
    assert len(trials) == 4 and ("many", 1) in ran and ("many", 2) not in ran
    [refused] = [t for t in trials if t.status is TrialStatus.FAILED]
    assert refused.arch == {"experiment": "many", "n": 2}
    assert "trainer.devices=2 (the jobs of experiment='many' n=2) starts" in refused.error
    # experiment=plain composes only beside model=a: c has no depth, which deep sets
    conf = tmp_path / "compose" / "conf"
    for folder in ("experiment", "model"):
        (conf / folder).mkdir(parents=True)
    (conf / "model" / "c.yaml").write_text("name: c\n")
    (conf / "experiment" / "plain.yaml").write_text("# @package _global_\nlr: 1\n")
    (conf / "experiment" / "deep.yaml").write_text("# @package _global_\nmodel:\n  depth: 5\n")
    defaults = [{"model": "a"}, "_self_", {"experiment": "plain"},
                {"override hydra/sweeper": "lightning_nas"}]
    params = {"experiment": "choice(plain, deep)", "model": "choice(a, c)",
              "model.depth": "choice(1, 2)"}
    assert parse_params(params).space.sample(seed=0)["model"] == "c"
    trials = _sweep(tmp_path / "compose", lambda cfg: float(cfg.model.depth),
                    {"budget": 8, "params": params}, defaults=defaults)
    assert len(trials) == 8
    for trial in trials:  # every combination: those of plain and c fail, unlaunched
        bad = trial.arch["experiment"] == "plain" and trial.arch["model"] == "c"
        assert (trial.status is TrialStatus.FAILED) == bad
        assert not bad or "Could not override 'model.depth'" in trial.error
    # an option that composes with no value of the other keys is refused before any job,
    # naming the values it was composed with (each value of a short range, a long one's ends)
    (tmp_path / "broken" / "conf" / "model").mkdir(parents=True)
    (tmp_path / "broken" / "conf" / "model" / "broken.yaml").write_text(
        "defaults:\n  - /nosuch: x\n")
    ran.clear()
    for x, tried in (("range(0, 9)", "also with every other value of the other searched "
                                     "key x (8 tried)"),
                     ("range(0, 99)", "also with 31 other values of the other searched key "
                                      "x (31 of its 98 other values; not every one: at most "
                                      "32 combinations are tried)")):
        params = {"model": "choice(a, broken)", "x": x}
        with pytest.raises(ConfigError, match=rf"model=broken does not compose with the "
                                              rf"config, so every job that picked it would "
                                              rf"fail: In 'model/broken': Could not find "
                                              rf"'nosuch/x', {re.escape(tried)}.* \(the job's "
                                              rf"overrides: \[\"model='broken'\", 'x=\d+'\]\)"):
            _sweep(tmp_path / "broken", lambda cfg: ran.append(1) or 1.0,
                   {"budget": 2, "params": params})
    assert not ran and not (tmp_path / "broken" / "run" / "search.db").exists()


def test_a_sweep_warm_started_from_an_earlier_sweep(tmp_path):
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) + (cfg.model.name == "b")

    first = _sweep(tmp_path / "first", task, {"budget": 6, "params": {"x": "range(0, 12)"}},
                   lr=0.3)
    earlier_best = max(first, key=lambda t: t.score).arch["x"]
    trials = _sweep(tmp_path / "second", task, {
        "budget": 3, "warm_start": [str(tmp_path / "first" / "run")],
        "params": {"x": "range(0, 12)", "model": "choice(a, b)", "lr": "choice(0.1, 0.3)",
                   "model.depth": "choice(3, 2, 1)"}},
        lr=0.1)
    assert len(trials) == 3  # the 6 earlier results are not counted
    # filled with what the earlier jobs ran with (was: lr 0.1, a setup they never ran; and
    # model.depth missing: the group's option name stood in for its whole subtree)
    assert trials[0].arch == {"x": earlier_best, "model": "a", "lr": 0.3, "model.depth": 1}
    with RunStore(tmp_path / "second" / "run" / "search.db") as store:
        assert len(store.priors()) == 6
        source = store.get_meta("warm_start")["sources"][0]
        assert source["recorded"] == {"model": "a", "lr": 0.3, "model.depth": 1}
        assert source["filled"] == {}


def test_a_sweeps_warm_start_fill_fills_the_keys_the_earlier_runs_lacked(tmp_path):
    # was: "unknown hydra.sweeper setting 'warm_start_fill'; did you mean 'warm_start'?"
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) + cfg.lr

    _sweep(tmp_path / "first", task, {"budget": 4, "params": {"x": "range(0, 12)"}}, lr=0.3)
    warm = {"budget": 2, "warm_start": [str(tmp_path / "first" / "run")], "params": {
        "x": "range(0, 12)", "lr": "choice(0.1, 0.3)", "model.depth": "choice(3, 2, 1)"}}
    ran = []
    for bad, message in (("{zz: 1}", "key 'zz' is not a key of the search space; keys: lr, "
                                     "model.depth, x"),
                         ("{lr: 0.2}", r"lr=0.2 is outside the space \(one of \[0.1, 0.3\]")):
        with pytest.raises(Exception, match=f"hydra.sweeper.warm_start_fill {message}"):
            _sweep(tmp_path / "bad", lambda cfg: ran.append(1) or 1.0, warm,
                   (f"hydra.sweeper.warm_start_fill={bad}",), lr=0.3)
    assert not ran and not (tmp_path / "bad" / "run").exists()
    fill = "hydra.sweeper.warm_start_fill={model.depth: 2, lr: 0.1}"  # dotted: one key
    trials = _sweep(tmp_path / "second", task, warm, (fill,), lr=0.3)
    assert len(trials) == 2
    with RunStore(tmp_path / "second" / "run" / "search.db") as store:
        priors = store.priors()
        source = store.get_meta("warm_start")["sources"][0]
    assert len(priors) == 4 and all(p["arch"]["lr"] == 0.1 and p["arch"]["model.depth"] == 2
                                    for p in priors)
    assert (source["filled"], source["recorded"]) == ({"model.depth": 2, "lr": 0.1}, {})
    # a resume with another fill is refused (the stored priors keep this one)
    with pytest.raises(Exception, match=r"a different hydra.sweeper.warm_start_fill \(lr: 0.1, now "
                                          r"0.3\)"):
        _sweep(tmp_path / "second", task, {**warm, "budget": 3},
               ("hydra.sweeper.warm_start_fill={model.depth: 2, lr: 0.3}",), lr=0.3)


def test_a_warm_start_fill_key_names_a_plus_key_by_its_path(tmp_path):
    # was: "warm_start_fill key 'lr' is not a key of the search space; keys: ++lr, ..."
    # (and '+lr' too): a ++key (or a key searched as model.depth, filled as ++model.depth)
    # could be filled only as the space spelt it
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) + cfg.get("lr", 0.0)

    _sweep(tmp_path / "first", task, {"budget": 3, "params": {"x": "range(0, 12)"}})
    warm = {"budget": 1, "warm_start": [str(tmp_path / "first" / "run")], "params": {
        "x": "range(0, 12)", "++lr": "choice(0.1, 0.3)", "model.depth": "choice(1, 2, 3)"}}
    for folder, fill in (("plain", "{lr: 0.3, ++model.depth: 2}"),
                         ("plus", "{+lr: 0.3, +model.depth: 2}")):
        _sweep(tmp_path / folder, task, warm, (f"hydra.sweeper.warm_start_fill={fill}",))
        with RunStore(tmp_path / folder / "run" / "search.db") as store:
            priors = store.priors()
            source = store.get_meta("warm_start")["sources"][0]
        assert len(priors) == 3 and all(
            (p["arch"]["++lr"], p["arch"]["model.depth"]) == (0.3, 2) for p in priors)
        assert source["filled"] == {"++lr": 0.3, "model.depth": 2}
    # one space key named twice is refused, naming both
    with pytest.raises(Exception, match=r"names the space key '\+\+lr' twice \('lr' and "
                                        r"'\+\+lr'\)"):
        _sweep(tmp_path / "twice", task, warm,
               ("hydra.sweeper.warm_start_fill={lr: 0.3, ++lr: 0.1}",))
    assert not (tmp_path / "twice" / "run").exists()
    # a key as lightning-nas search names model.depth (its model argument 'depth', or
    # model.init_args.depth): the first names the sweep's key (was: "not a key of the
    # search space", naming no form), the second is that key, as a warm start reads it
    with pytest.raises(Exception, match=r"hydra.sweeper.warm_start_fill key 'depth' is the "
                                        r"config path depth in a sweep, no key of its space "
                                        r"\(every key is a path into the job config; "
                                        r"lightning-nas search reads 'depth' as model.depth\): "
                                        r"write 'model.depth'"):
        _sweep(tmp_path / "search", task, warm,
               ("hydra.sweeper.warm_start_fill={lr: 0.3, depth: 2}",))
    assert not (tmp_path / "search" / "run").exists()
    _sweep(tmp_path / "args", task, warm,
           ("hydra.sweeper.warm_start_fill={lr: 0.3, model.init_args.depth: 2}",))
    with RunStore(tmp_path / "args" / "run" / "search.db") as store:
        assert store.get_meta("warm_start")["sources"][0]["filled"] == {"++lr": 0.3,
                                                                      "model.depth": 2}


def test_a_sweeps_model_key_is_read_by_any_name_a_plain_search_gives_it(tmp_path):
    # was: the sweep's way of naming keys read this search's keys too: a plain search's
    # 'depth' (the model's argument) dropped the sweep's model.depth and gave its scores
    # to depth=1, architectures that never ran
    from lightning_nas.search.warm import load_priors
    from lightning_nas.space import SearchSpace

    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) - cfg.model.depth

    first = _sweep(tmp_path, task, {"budget": 4, "params": {
        "x": "range(0, 12)", "model.depth": "choice(1, 2, 3)"}})
    ran = sorted((t.arch["model.depth"], t.arch["x"], t.score) for t in first)
    assert len({depth for depth, _, _ in ran}) > 1
    for key in ("depth", "model.depth", "model.init_args.depth"):
        space = SearchSpace.from_dict({"x": {"int": [0, 11]}, key: {"choice": [1, 2, 3]}})
        priors, report = load_priors([tmp_path / "run"], space)
        assert sorted((p.arch[key], p.arch["x"], p.score) for p in priors) == ran, key
        assert (report.sources[0].dropped, report.sources[0].filled) == ([], {})
    # in a sweep every key is a path into the job config: 'depth' is not model.depth
    space = SearchSpace.from_dict({"x": {"int": [0, 11]}, "depth": {"choice": [1, 2, 3]}})
    _, report = load_priors([tmp_path / "run"], space, hydra=True)
    assert report.sources[0].dropped == ["model.depth"]


def test_a_direction_against_the_first_objective_is_refused(tmp_path):
    # was: dropped without a word (a monitor against it was refused); then refused as
    # "mode='max' disagrees ...; leave monitor and mode out", and `mode` is no sweeper key
    def task(cfg: DictConfig) -> dict[str, float]:
        return {"loss": float(cfg.x), "acc": 1.0 / (1 + cfg.x)}

    sweeper = {"budget": 1, "params": {"x": "range(0, 4)"}, "direction": "maximize"}
    with pytest.raises(ConfigError) as info:  # the file's direction, objectives on the line
        _sweep(tmp_path, task, sweeper,
               ("hydra.sweeper.objectives={loss:minimize,acc:maximize}",))
    assert str(info.value).startswith(
        "hydra.sweeper.direction=maximize disagrees with the first objective (loss: minimize)")
    assert "set hydra.sweeper.direction=null" in str(info.value)
    assert "mode" not in str(info.value)
    assert not (tmp_path / "run" / "search.db").exists()
    trials = _sweep(tmp_path, task, sweeper,  # as the error says: fine
                    ("hydra.sweeper.objectives={loss:minimize,acc:maximize}",
                     "hydra.sweeper.direction=null"))
    assert [t.score for t in trials] == [t.metrics["loss"] for t in trials]
    _sweep(tmp_path / "acc", task, {**sweeper, "objectives": {"acc": "maximize",
                                                              "loss": "minimize"}})


def test_a_monitor_that_is_not_the_first_objective_is_refused_naming_the_sweepers_keys(
        tmp_path):
    # was: "monitor='acc' disagrees ...; leave monitor and mode out", and `mode` is no
    # sweeper key
    def task(cfg: DictConfig) -> dict[str, float]:
        return {"loss": float(cfg.x), "acc": 1.0 / (1 + cfg.x)}

    sweeper = {"budget": 1, "params": {"x": "range(0, 4)"}, "monitor": "acc",
               "objectives": {"loss": "minimize", "acc": "maximize"}}
    with pytest.raises(ConfigError) as info:
        _sweep(tmp_path, task, sweeper, sort_keys=False)
    assert str(info.value).startswith(
        "hydra.sweeper.monitor=acc is not the first objective (loss)")
    assert "set hydra.sweeper.monitor=null" in str(info.value)
    assert "mode" not in str(info.value)
    assert not (tmp_path / "run" / "search.db").exists()
    trials = _sweep(tmp_path, task, sweeper, ("hydra.sweeper.monitor=null",),  # as it says
                    sort_keys=False)
    assert [t.score for t in trials] == [t.metrics["loss"] for t in trials]
    _sweep(tmp_path / "first", task, {**sweeper, "monitor": "loss"}, sort_keys=False)


def test_a_sweep_stopped_by_its_optimizer_exports_on_resume_too(tmp_path):
    # was: the resume's replay told the optimizer again outside the export: the same error,
    # said with "the best exported", and no optimization_results.yaml written
    from tests.test_search import TellFailsOnBigLosses  # noqa: F401 - registers it

    sweeper = {"params": {"x": "range(0, 6)"}, "optimizer": "TellFailsOnBigLosses",
               "budget": 12, "seed": 0}
    results = tmp_path / "run" / "optimization_results.yaml"
    for _ in range(2):  # the sweep, then its resume (failing as it replays the log)
        with pytest.raises(SearchError, match="optimizer 'TellFailsOnBigLosses' failed at its "
                                              "tell"):
            _sweep(tmp_path, lambda cfg: float(cfg.x), sweeper, direction="minimize")
        assert yaml.safe_load(results.read_text())["best_value"] in range(6)
        results.unlink()


def test_a_resume_with_the_params_in_another_order_proposes_as_the_uninterrupted_sweep(
        tmp_path):
    # was: the space was accepted as the same one, but its new key order gave nevergrad
    # another parametrization: "proposed another architecture than before at ask 0 of the
    # replay", and other architectures than the uninterrupted sweep from then on
    ordered = {"a": "int(interval(0, 9))", "b": "choice(w, x, y, z)", "c": "int(interval(0, 20))"}

    def sweep(folder: str, budget: int, params: dict[str, str]) -> list[tuple[Any, ...]]:
        trials = _sweep(tmp_path / folder, lambda cfg: float(
            (cfg.a * 7 + "wxyz".index(cfg.b) * 3 + cfg.c) % 11 / 11),
            {"budget": budget, "seed": 0, "params": params}, sort_keys=False, a=0, b=0, c=0)
        return [(t.arch["a"], t.arch["b"], t.arch["c"]) for t in trials]

    uninterrupted = sweep("fresh", 6, ordered)
    sweep("resumed", 3, ordered)
    assert sweep("resumed", 6, dict(reversed(ordered.items()))) == uninterrupted


@pytest.mark.slow
def test_a_resume_with_the_sweeps_in_another_order_is_no_edited_config(tmp_path):
    # was: refused, "jobs ran with other settings: model=a: model.extra: [1, 2], now [3, 4]":
    # each option was composed at the first sample of the new order (the other searched
    # keys at other values), and a `+key`'s or `group@package`'s value stayed in its record
    for folder, searched, files in (
            ("plus", "+model.extra=choice([1,2],[3,4])", {}),
            ("package", "+optim@model.opt=choice(p,q)", {"optim/p": "lr: 1", "optim/q": "lr: 2"}),
            ("global", "+exp=choice(e1,e2)", {"exp/e1": "# @package _global_\nepochs: 1",
                                             "exp/e2": "# @package _global_\nepochs: 2"})):
        order = ["model=choice(a,b)", "x=range(0,9)", searched]
        key = searched.split("=", 1)[0]
        assert (parse_params({}, order).space.sample(seed=0)[key]
                != parse_params({}, order[::-1]).space.sample(seed=0)[key])
        for name, text in files.items():
            (tmp_path / folder / "conf" / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / folder / "conf" / f"{name}.yaml").write_text(f"{text}\n")
        _sweep(tmp_path / folder, lambda cfg: float(cfg.x), {"budget": 1}, tuple(order),
               epochs=0)
        trials = _sweep(tmp_path / folder, lambda cfg: float(cfg.x), {"budget": 2},
                        tuple(order[::-1]), epochs=0)
        assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2, folder
    # a store of the version before: each option's record held the `+key`'s value; resumes
    order = ["model=choice(a,b)", "x=range(0,9)", "+model.extra=choice([1,2],[3,4])"]
    _sweep(tmp_path / "older", lambda cfg: float(cfg.x), {"budget": 1}, tuple(order))
    with RunStore(tmp_path / "older" / "run" / "search.db") as store:
        options = store.get_meta("job_options")
        for record in options["model"].values():
            record["model"]["extra"] = [1, 2]
        store.set_meta("job_options", options)
    trials = _sweep(tmp_path / "older", lambda cfg: float(cfg.x), {"budget": 2}, tuple(order))
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2


# ----------------------------------------------------------------- a list or tuple returned
TWO = ("+hydra.sweeper.objectives.acc=maximize", "+hydra.sweeper.objectives.cost=minimize")


def test_a_tuple_or_list_returned_is_the_objectives_in_their_order(tmp_path):
    # as the Optuna sweeper reads it (was: "returned (0.5, 3.0); return the score (acc) as a
    # float, or a dict", the sweep stopped at its first job)
    for folder, kind in (("tuple", tuple), ("list", list)):
        trials = _sweep(tmp_path / folder, lambda cfg, kind=kind: kind(
            [cfg.x / 10, float(cfg.x)]), {"budget": 3, "params": {"x": "range(1, 9)"}},
            overrides=TWO)
        assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
        assert all(t.metrics == {"acc": t.arch["x"] / 10, "cost": float(t.arch["x"])}
                   and t.score == t.arch["x"] / 10 for t in trials)
    # one objective: a list of one value is the score
    trials = _sweep(tmp_path / "one", lambda cfg: [cfg.x / 10],
                    {"budget": 2, "params": {"x": "range(1, 9)"}})
    assert all(t.status is TrialStatus.COMPLETED and t.score == t.arch["x"] / 10
               for t in trials)


@pytest.mark.parametrize(("returned", "sweeper", "overrides", "said"), [
    ((0.5, 2.0), {}, (), r"the task function returned \(0.5, 2.0\), 2 values, but the sweep "
                         r"has one objective \(score\); return one float, or list 2 names "
                         r"in hydra.sweeper.objectives"),
    ([0.5, 1.0, 2.0], {}, TWO, r"the task function returned \[0.5, 1.0, 2.0\], 3 values, but "
                               r"the sweep has 2 objectives \(hydra.sweeper.objectives: acc, "
                               r"cost\); return one number per objective, in that order"),
    ((0.5,), {}, TWO, r"returned \(0.5,\), 1 value, but the sweep has 2 objectives"),
    ((0.5, "low"), {}, TWO, r"the task function returned \(0.5, 'low'\): its value 2 \(cost\) "
                            r"is 'low', not a number"),
    ((None, 1.0), {}, TWO, r"returned \(None, 1.0\): its value 1 \(acc\) is None, not a number"),
])
def test_a_tuple_that_does_not_fit_the_objectives_stops_the_sweep_naming_both(
        tmp_path, returned, sweeper, overrides, said):
    calls = []
    with pytest.raises(SearchError, match=said):
        _sweep(tmp_path, lambda cfg: calls.append(1) or returned,
               {"budget": 3, "params": {"x": "range(1, 9)"}, **sweeper}, overrides=overrides)
    assert len(calls) == 1  # at the first job: none completed, nothing told
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.count(TrialStatus.COMPLETED) == 0


def test_a_nan_in_a_returned_tuple_fails_that_job_alone(tmp_path):
    # as a NaN float or a NaN in a dict: the job FAILED, the sweep goes on
    def task(cfg: DictConfig) -> tuple[float, float]:
        return (math.nan if cfg.x == 2 else cfg.x / 10, math.nan if cfg.x == 3 else 1.0)

    trials = _sweep(tmp_path, task, {"budget": 9, "max_failures": 5, "optimizer": "RandomSearch",
                                     "params": {"x": "choice(1, 2, 3, 4, 5, 6)"}},
                    overrides=TWO)
    failed = {t.arch["x"]: t.error for t in trials if t.status is TrialStatus.FAILED}
    assert sorted(failed) == [2, 3]
    assert failed[2] == "acc is nan" and "cost=nan" in failed[3]
    assert sum(t.status is TrialStatus.COMPLETED for t in trials) == 4  # the space, run whole


# ----------------------------------------------------------------- a sweep without a seed
def test_a_resumed_sweep_without_a_seed_says_why_it_parts_from_its_replay_once(tmp_path, capsys):
    # was: "The optimizer proposed another architecture than before at ask 0 of the replay;
    # the search goes on ...", no word of why (hydra.sweeper.seed: null)
    sweeper = {"params": {"x": "interval(0, 1)"}, "seed": None, "optimizer": "RandomSearch"}
    _sweep(tmp_path, lambda cfg: float(cfg.x), {**sweeper, "budget": 2})
    capsys.readouterr()
    trials = _sweep(tmp_path, lambda cfg: float(cfg.x), {**sweeper, "budget": 4})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 4
    out = capsys.readouterr().out
    said = ("The optimizer proposed another architecture than before at ask 0 of the replay "
            "(the sweep has no seed, `hydra.sweeper.seed: null`: its optimizer proposes "
            "otherwise in each invocation; a sweep with a seed replays exactly); the search "
            "goes on from the stored results, no longer exactly as before.")
    assert out.count(said) == 1, out  # once, not per job
    assert "seed" not in out.replace(said, "")  # no other line of it


def test_a_resume_without_a_seed_that_its_optimizer_refuses_names_the_sweeps_keys(tmp_path):
    # was: "the run has no seed (`seed: null`) ...; a search with a seed (`seed: 0`,
    # `Search(..., seed=0)`, or `seed_everything: true` ...); ... search in a new run_dir
    # with another optimizer ... (`warm_start: [...]`)": keys a sweep has not
    sweeper = {"params": {"x": "interval(0, 1)"}, "seed": None, "optimizer": "EDA"}
    _sweep(tmp_path, lambda cfg: float(cfg.x), {**sweeper, "budget": 2})
    ran = []
    with pytest.raises(ConfigError) as info:
        _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0, {**sweeper, "budget": 4})
    run = tmp_path / "run"
    assert str(info.value) == (
        f"cannot resume {run} with optimizer 'EDA': the sweep has no seed "
        f"(`hydra.sweeper.seed: null`), so the replay of its optimizer proposed other "
        f"architectures than the run did (from ask 0 of the replay on), and 'EDA' cannot be "
        f"told the results of architectures it did not propose; a sweep with a seed "
        f"(`hydra.sweeper.seed`, 0 when left out) replays exactly and resumes; to go on from "
        f"this run's results, sweep into another hydra.sweep.dir with another "
        f"hydra.sweeper.optimizer (e.g. SurrogateEvolution, NGOpt, CMA) warm-started from it "
        f"(`hydra.sweeper.warm_start=[{run}]`); nothing was trained")
    assert not ran


# ----------------------------------------------------------------- the combinations tried
def _experiments(tmp_path: Path) -> list[Any]:
    """Options ``one`` (one device) and ``many`` (``${n}`` devices) of group ``experiment``;
    the config's defaults."""
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    for name, devices in (("one", 1), ("many", "${n}")):
        (tmp_path / "conf" / "experiment" / f"{name}.yaml").write_text(
            f"# @package _global_\ntrainer:\n  devices: {devices}\n")
    return [{"model": "a"}, "_self_", {"experiment": "one"},
            {"override hydra/sweeper": "lightning_nas"}]


def test_an_option_is_composed_beside_other_values_of_every_other_key_before_it_is_refused(
        tmp_path):
    # was: each other combination changed the first other key's values first: a's 98 other
    # values used up the 32 combinations tried, n kept its first value (2), and
    # experiment=many was refused for the whole sweep, though its jobs with n=1 work
    ran = []
    defaults = _experiments(tmp_path)
    params = {"a": "range(0, 99)", "experiment": "choice(one, many)",
              "n": "tag(ordered, choice(2, 1))"}
    assert parse_params(params).space.sample(seed=0) == {"a": 49, "experiment": "many", "n": 2}

    def task(cfg: DictConfig) -> float:
        ran.append((HydraConfig.get().runtime.choices.experiment, cfg.n))
        return float(cfg.a)

    trials = _sweep(tmp_path, task, {"budget": 6, "params": params, "optimizer": "RandomSearch"},
                    n=1, a=0, defaults=defaults, trainer={"accelerator": "cpu", "devices": 1})
    assert ("many", 2) not in ran and len(ran) == 6
    assert all("starts several processes" in t.error for t in trials
               if t.status is TrialStatus.FAILED)


def test_a_refused_option_says_which_values_of_the_other_keys_it_was_tried_with(tmp_path):
    # was: "... (its DDP trials run on rank processes of their own), also with the 31 other
    # combinations of the values of the other searched keys x, y, z tried (each key's values
    # in turn, then two keys' at a time, ...; a range's ends; ...)": the advice ran on into
    # it, and the 31 were x's values alone (y and z kept theirs, no two keys changed, x a
    # list of values, not a range's ends)
    (tmp_path / "conf" / "trainer").mkdir(parents=True)
    for name, devices in (("one", "devices: 1"), ("ddp", "devices: 2\nstrategy: ddp")):
        (tmp_path / "conf" / "trainer" / f"{name}.yaml").write_text(
            f"_target_: lightning.pytorch.Trainer\naccelerator: cpu\n{devices}\n")
    defaults = [{"model": "a"}, {"trainer": "one"}, {"override hydra/sweeper": "lightning_nas"},
                "_self_"]
    ran = []
    params = {"trainer": "choice(one, ddp)", "x": "range(0, 99)", "y": "interval(0, 1)",
              "z": "choice(a, b, c)"}
    with pytest.raises(ConfigError) as info:
        _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0, {"budget": 2, "params": params},
               defaults=defaults, y=0.0, z="a")
    assert str(info.value).startswith(
        "trainer.accelerator='cpu', trainer.devices=2, trainer.strategy='ddp' (the jobs of "
        "trainer=ddp) starts several processes per job; ")
    assert str(info.value).endswith(
        "(its DDP trials run on rank processes of their own). The same held with 31 other "
        "combinations of the values of the other searched keys x, y, z (one key changed at a "
        "time: x 27 of its 98 other values, y its range's ends, z its 2 other values; not "
        "every one: at most 32 combinations are tried).")
    assert not ran and not (tmp_path / "run" / "search.db").exists()


# ----------------------------------------------------------------- lightning-nas search's space
@pytest.mark.parametrize(("spec", "grammar"), [
    ({"choice": [1, 2, 3]}, "choice(1, 2, 3)"),
    ({"ordered": [4, 2, 8]}, "tag(ordered, choice(4, 2, 8))"),
    ({"float": [0.001, 0.1], "log": True}, "tag(log, interval(0.001, 0.1))"),
    ({"float": [0.1, 1.0]}, "interval(0.1, 1.0)"),
    ({"int": [1, 5]}, "int(interval(1, 5))"),
    ({"int": [16, 512], "log": True}, "tag(log, int(interval(16, 512)))"),
    ({"int": [8, 64], "step": 8}, "range(8, 65, 8)"),
    ({"fixed": 3}, "3"),
])
def test_a_param_in_lightning_nas_search_syntax_is_refused_with_its_sweep_grammar(
        tmp_path, spec, grammar):
    # was: fixed, the jobs ran with y = {'float': [0.1, 1.0]} beside a searched x (alone:
    # "the space holds a single architecture", or "has keys of the Nevergrad sweeper's range")
    ran = []
    with pytest.raises(SpaceError) as info:
        _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0,
               {"params": {"x": "range(0, 9)", "y": spec}}, y=0)
    assert str(info.value).startswith(
        f"params key 'y': {format_value(spec)} is lightning-nas search's space syntax "
        f"(search.space); "
        f"hydra.sweeper.params are written in Hydra's sweep grammar: y: {grammar}")
    assert not ran and not (tmp_path / "run").exists()


def test_a_lightning_nas_space_under_the_sweeper_names_params(tmp_path):
    # was: "unknown hydra.sweeper setting 'space'; valid keys: ...", no word of params
    with pytest.raises(Exception) as info:  # noqa: PT011 - Hydra wraps the sweeper's
        _sweep(tmp_path, lambda cfg: 1.0, {"params": {"x": "range(0, 9)"},
                                           "space": {"y": {"choice": [1, 2]}}})
    assert ("unknown hydra.sweeper setting 'space': of lightning-nas search, not of a sweep; "
            "a sweep searches hydra.sweeper.params, in Hydra's sweep grammar ({choice: [1, "
            "2]} is choice(1, 2), {float: [0.001, 0.1], log: true} is tag(log, "
            "interval(0.001, 0.1))). valid keys: ") in str(info.value)
    assert not (tmp_path / "run").exists()


def test_every_unknown_sweeper_key_is_named_at_once(tmp_path):
    # was: the first misspelt one alone, or another sweeper's key alone where both were
    # given (n_trials named, budgt left for the next run to refuse)
    for folder, sweeper, overrides, said in (
            ("two", {"sed": 1}, ("hydra.sweeper.budgt=3",),
             "unknown hydra.sweeper setting 'budgt'; did you mean 'budget'? unknown "
             "hydra.sweeper setting 'sed'; did you mean 'seed'? valid keys: optimizer, "),
            ("optuna", {"n_trials": 3}, ("hydra.sweeper.budgt=3",),
             "unknown hydra.sweeper setting 'n_trials'; did you mean 'budget' (the Optuna "
             "sweeper's n_trials)? unknown hydra.sweeper setting 'budgt'; did you mean "
             "'budget'? valid keys: optimizer, ")):
        with pytest.raises(Exception) as info:  # noqa: PT011 - Hydra wraps the sweeper's
            _sweep(tmp_path / folder, lambda cfg: 1.0, {"params": {"x": "choice(1, 2)"},
                                                        **sweeper}, overrides)
        assert said in str(info.value)


def test_a_resume_with_another_direction_or_space_is_refused_in_the_sweeps_words(tmp_path,
                                                                                  launcher):
    # was: "holds a search with a different mode (stored 'max', now 'min'); resume with the
    # same mode, or choose another hydra.sweeper.run_dir" (a sweep has direction, and its
    # folder is hydra.sweep.dir where run_dir is not set)
    ran = []
    params = {"params": {"x": "range(0, 9)"}, "budget": 2}
    _sweep(tmp_path, lambda cfg: 1.0, params)
    with pytest.raises(ConfigError) as info:
        _sweep(tmp_path, lambda cfg: ran.append(1) or 1.0, params, direction="minimize")
    assert str(info.value) == (
        f"{tmp_path / 'run'} holds a sweep with a different hydra.sweeper.direction (stored "
        f"'maximize', now 'minimize'); resume with the same direction, or choose another "
        f"hydra.sweeper.run_dir")
    assert not ran
    # the sweep dir (run_dir not set), as the example's sweep: a process of its own (forked
    # by the launcher), a kill -9 after its first job, resumed with another range of a
    # searched key
    (tmp_path / "app" / "conf").mkdir(parents=True)
    (tmp_path / "app" / "app.py").write_text(
        "import os, signal\nfrom pathlib import Path\nimport hydra\n\n\n"
        "@hydra.main(version_base=None, config_path='conf', config_name='config')\n"
        "def main(cfg):\n"
        "    if Path('ran').exists():  # the second job\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    Path('ran').touch()\n"
        "    return float(cfg.x)\n\n\nmain()\n")
    (tmp_path / "app" / "conf" / "config.yaml").write_text(yaml.safe_dump({
        "defaults": [{"override hydra/sweeper": "lightning_nas"}, "_self_"], "x": 0,
        "hydra": {"sweeper": {"direction": "maximize", "budget": 3,
                                             "params": {"x": "range(0, 9)"}}}}))
    sweep = tmp_path / "sweep"

    def run(*overrides: str) -> subprocess.CompletedProcess:
        return _forked(launcher, tmp_path, tmp_path / "app" / "app.py",
                       ["-m", f"hydra.sweep.dir={sweep}", *overrides])

    killed = run()  # kill -9 in its second job
    assert killed.returncode == -9, killed.stdout + killed.stderr
    again = run("x=range(0, 5)")
    assert again.returncode == 1
    assert (f"{sweep} holds a sweep with a different space (hydra.sweeper.params and the "
            f"command line's sweeps) (x: {{'ordered': [0, 1, 2, 3, 4, 5, 6, 7, 8]}}, now "
            f"{{'ordered': [0, 1, 2, 3, 4]}}); resume with the same params, or choose another "
            f"hydra.sweep.dir") in again.stderr, again.stderr



def test_an_int_interval_whose_cast_ends_widen_it_is_warned_of_before_any_job(tmp_path):
    # Hydra's int(...) truncates the ends: int(interval(0.5, 3.2)) searches 0..3, 0 below
    # the lower end as written (was: no word of it; measured: the jobs ran x=1, 3, 2, 0);
    # as Hydra's Optuna and Nevergrad sweepers do, the sweep searches what the grammar gives
    calls, warned = [], []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.x)
        warned.append(any("int(interval(0.5, 3.2))" in str(w.message) for w in said))
        return float(cfg.x)

    with pytest.warns(UserWarning, match=re.escape(
            "sweep parameter 'x': int(interval(0.5, 3.2)) searches 0..3: Hydra's int(...) "
            "truncates the ends as written (0.5 to 0), which puts 0 below the lower end; "
            "write int(interval(1, 3)) for 1..3")) as said:
        trials = _sweep(tmp_path, task, {"budget": 4, "params": {"x": "int(interval(0.5, 3.2))"}})
    assert sorted(calls) == [0, 1, 2, 3] and warned == [True] * 4  # before the first job
    assert sorted(t.arch["x"] for t in trials) == [0, 1, 2, 3]  # searched as the grammar says


@pytest.mark.parametrize(("params", "arguments", "said"), [
    ({"x": "tag(log, int(interval(1.5, 16.9)))"}, [],
     "'x': tag(log, int(interval(1.5, 16.9))) searches 1..16: Hydra's int(...) truncates the "
     "ends as written (1.5 to 1), which puts 1 below the lower end; write "
     "tag(log, int(interval(2, 16))) for 2..16"),
    ({"x": "choice(1, 2)"}, ["x=int(interval(-9.5,-2.5))"],  # the command line's wins
     "'x': int(interval(-9.5,-2.5)) searches -9..-2: Hydra's int(...) truncates the ends as "
     "written (-2.5 to -2), which puts -2 above the upper end; write int(interval(-9, -3)) "
     "for -9..-3"),
    ({"x": {"lower": 0.5, "upper": 3.2, "integer": True}}, [],  # the Nevergrad sweeper's
     "'x': int(interval(0.5,3.2)) searches 0..3: Hydra's int(...) truncates the ends as "
     "written (0.5 to 0), which puts 0 below the lower end; write int(interval(1, 3)) for 1..3"),
    ({"x": "int(interval(0.2, 1.8))"}, [],
     "'x': int(interval(0.2, 1.8)) searches 0..1: Hydra's int(...) truncates the ends as "
     "written (0.2 to 0), which puts 0 below the lower end; the ends as written hold one "
     "integer: give 1 as a plain value"),
])
def test_each_way_of_writing_a_widened_int_interval_is_named(params, arguments, said):
    assert parse_params(params, arguments).widened == (f"sweep parameter {said}",)


@pytest.mark.parametrize("text", ["int(interval(1, 3))", "int(interval(-0.5, 3.7))",
                                  "int(interval(1.0, 3.9))", "interval(0.5, 3.2)",
                                  "tag(log, int(interval(16, 512)))", "choice(0.5, 3)",
                                  "int(range(1, 4))"])
def test_an_int_interval_the_cast_does_not_widen_is_not_warned_of(text):
    assert parse_params({"x": text}).widened == ()  # the integers within the ends as written
