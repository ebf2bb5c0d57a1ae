"""A Hydra sweep's ``rerun_alone`` line (``optimization_results.yaml``), run as written in a
process that cannot import lightning_nas: it trains the best job again from the job's own
composed config (``BEST_JOB_DIR/.hydra``), in the folder and way the sweep's config sets."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests.test_export_standalone import ROOT, _project

pytest.importorskip("hydra")


def test_the_rerun_alone_line_trains_the_best_job_again_without_lightning_nas(tmp_path):
    user = _project(tmp_path)  # the project, with its Hydra example, sweeps from its folder
    shutil.copytree(ROOT / "examples" / "hydra", user / "examples" / "hydra",
                    ignore=shutil.ignore_patterns("runs", "outputs", "__pycache__"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
           "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    sweep = tmp_path / "sweep"
    done = subprocess.run([sys.executable, "examples/hydra/src/train.py", "-m",
                           "hparams_search=nas", "hydra.sweeper.budget=1", "trainer.max_epochs=1",
                           "+trainer.limit_train_batches=2", "hydra.job.chdir=True",
                           f"hydra.sweep.dir={sweep}"],
                          cwd=user, env=env, capture_output=True, text=True, timeout=300)
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
    alone = subprocess.run([sys.executable, "-I", str(tmp_path / "boot.py"), str(user), *words],
                           cwd=user, env={k: v for k, v in env.items() if k != "PYTHONPATH"},
                           capture_output=True, text=True, timeout=300)
    assert alone.returncode == 0, alone.stderr[-3000:]
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
