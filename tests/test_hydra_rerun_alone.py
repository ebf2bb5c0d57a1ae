"""A Hydra sweep's ``rerun_alone`` line (``optimization_results.yaml``), run as written in a
process that cannot import lightning_nas: it trains the best job again from the job's own
composed config (``BEST_JOB_DIR/.hydra``), in the folder and way the sweep's config sets."""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch
import yaml

from tests.helpers_hydra_sweep import run_forked
from tests.helpers_user_project import user_project
from tests.launcher import ROOT

pytest.importorskip("hydra")


def test_the_rerun_alone_line_trains_the_best_job_again_without_lightning_nas(
        tmp_path, launcher, standalone_python):
    user = user_project(tmp_path)  # the project, with its Hydra example, sweeps from its folder
    shutil.copytree(ROOT / "examples" / "hydra", user / "examples" / "hydra",
                    ignore=shutil.ignore_patterns("runs", "outputs", "__pycache__"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
           "OMP_NUM_THREADS": "1"}
    sweep = tmp_path / "sweep"
    # ``python examples/hydra/src/train.py -m ...`` from the project's folder, forked by the
    # launcher (the training stack imported once; was a fresh ``python``: the rerun below is
    # what needs a cold interpreter)
    done = run_forked(launcher, user, Path("examples/hydra/src/train.py"), [
        "-m", "hparams_search=nas", "hydra.sweeper.budget=1", "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2", "hydra.job.chdir=True", f"hydra.sweep.dir={sweep}"])
    assert done.returncode == 0, done.stderr[-3000:]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    job = Path(results["best_job_dir"])
    line = results["rerun_alone"]
    # the end lines point to it
    assert "without lightning_nas: rerun_alone in optimization_results.yaml" in done.stdout
    python, *words = shlex.split(line)
    assert python == "python" and "hparams_search=nas" not in line
    assert words[:5] == ["examples/hydra/src/train.py", "--config-path", str(job / ".hydra"),
                         "--config-name", "config"]
    # as written, from the folder the sweep was started in, lightning_nas unimportable
    # (forked from conftest's standalone_python; was a cold interpreter of its own), ended
    # by os._exit once it returns (what it did is asserted, not how its process ends; was
    # the interpreter's whole exit, its heap of torch, Lightning and Hydra torn down)
    alone = standalone_python.run(user / words[0], words[1:], cwd=user, path=(user,), env=env,
                                  quick_exit=True)
    assert alone.code == 0, alone.err[-3000:]
    # where the project's config puts a run (its hydra.run.dir, not Hydra's outputs/...)
    again, = (user / "runs" / "hydra" / "train" / "runs").iterdir()
    composed = yaml.safe_load((again / ".hydra" / "config.yaml").read_text())
    assert composed == yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
    ran = yaml.safe_load((again / ".hydra" / "hydra.yaml").read_text())["hydra"]
    swept = yaml.safe_load((job / ".hydra" / "hydra.yaml").read_text())["hydra"]
    assert ran["job"]["chdir"] is swept["job"]["chdir"] is True  # the job-shaping override
    assert ran["mode"] == "RUN" and ran["runtime"]["choices"]["hydra/sweeper"] == "basic"
    assert (again / "train.log").is_file()  # the task ran in it (chdir: train.log)
    checkpoint, = (again / "checkpoints").glob("epoch*.ckpt")
    states = torch.load(checkpoint, weights_only=False)["callbacks"]
    scored, = (s["best_model_score"] for k, s in states.items() if k.startswith("ModelCheckpoint"))
    assert float(scored) == pytest.approx(results["best_value"], abs=1e-6)


def test_the_rerun_alone_line_carries_the_sweeps_job_settings_the_config_lacks():
    from omegaconf import OmegaConf

    from lightning_nas.integrations.hydra_rerun import alone_line, job_settings

    config = OmegaConf.create({"hydra": {"run": {"dir": "runs/${task_name}/${now:%H}"},
                                         "job": {"chdir": False}, "output_subdir": "cfg"}})
    settings = job_settings(config)
    assert settings == {"hydra.run.dir": "runs/${task_name}/${now:%H}",
                        "hydra.job.chdir": False, "hydra.output_subdir": "cfg"}
    line = alone_line("-m src.train", "/sweep/0", ["--config-name", "big", "--config-dir",
                                                   "/extra", "hydra/job_logging=disabled"],
                      settings)
    assert shlex.split(line) == [
        "python", "-m", "src.train", "--config-path", "/sweep/0/cfg", "--config-name",
        "config", "hydra/job_logging=disabled", "hydra.run.dir=runs/${task_name}/${now:%H}",
        "hydra.job.chdir=false"]
    # the sweep command line's own run dir wins; jobs that kept no config: no line
    line = alone_line("src/train.py", "/sweep/0", ["hydra.run.dir=here"], settings)
    assert line.count("hydra.run.dir") == 1 and "hydra.run.dir=here" in line
    config.hydra.output_subdir = None
    assert job_settings(config) is None


def _tiny_sweep(tmp_path: Path) -> Path:
    """A sweep of two in-process jobs (``x``: 1, 2; the score is ``x``) with Hydra's own
    sweep runner and the lightning_nas sweeper, its config setting ``hydra.run.dir``; its
    run folder (the jobs in ``tmp_path/jobs``)."""
    from hydra.test_utils.test_utils import SweepTaskFunction

    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text(yaml.safe_dump({
        "defaults": [{"override hydra/sweeper": "lightning_nas"}, "_self_"], "x": 0,
        "hydra": {"job": {"chdir": False}, "run": {"dir": "runs/x${x}"},
                  "sweeper": {"run_dir": str(tmp_path / "run"), "direction": "maximize",
                              "budget": 2, "params": {"x": "choice(1, 2)"}}}}))
    runner = SweepTaskFunction()
    runner.calling_file, runner.calling_module = str(tmp_path / "app.py"), None
    runner.config_path, runner.config_name = str(conf), "config"
    runner.task_function, runner.overrides = (lambda cfg: float(cfg.x)), []
    runner.temp_dir = str(tmp_path / "jobs")
    with runner:
        return tmp_path / "run"


def test_the_export_of_a_sweep_writes_the_exported_jobs_rerun_alone_line(tmp_path):
    # was: best.yaml's hydra block held `rerun` (needs the lightning_nas sweeper) but not
    # `rerun_alone`: the settings it needs were not stored in the run's meta
    from lightning_nas.cli import main as cli

    run, jobs = _tiny_sweep(tmp_path), tmp_path / "jobs"
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert results["best_trial"] == 2 and results["best_job_dir"] == str(jobs / "1")
    assert cli(["export", str(run)]) == 0
    hydra = yaml.safe_load((run / "best.yaml").read_text())["hydra"]
    assert hydra["rerun_alone"] == results["rerun_alone"]  # the sweep's own line
    assert "hydra.run.dir=runs/x${x}" in shlex.split(hydra["rerun_alone"])
    assert list(hydra)[list(hydra).index("rerun") + 1] == "rerun_alone"  # beside `rerun`
    # another trial: the line names that job's folder
    assert cli(["export", str(run), "--trial", "1"]) == 0
    chosen = yaml.safe_load((run / "best.yaml").read_text())["hydra"]
    assert chosen["rerun_alone"] == results["rerun_alone"].replace(
        str(jobs / "1" / ".hydra"), str(jobs / "0" / ".hydra"))
    assert str(jobs / "0" / ".hydra") in shlex.split(chosen["rerun_alone"])
    # a sweep stored by an older version (no job settings in its meta): as before, no line
    with sqlite3.connect(run / "search.db") as db:
        db.execute("DELETE FROM meta WHERE key = 'job_settings'")
    db.close()
    assert cli(["export", str(run)]) == 0
    old = yaml.safe_load((run / "best.yaml").read_text())["hydra"]
    assert "rerun_alone" not in old and old["rerun"] == hydra["rerun"]
    assert old["job_dir"] == str(jobs / "1")
