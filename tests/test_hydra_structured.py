"""The Hydra sweeper on a project of structured configs, in the shape of Hydra's docs:
``@dataclass`` schemas in the ``ConfigStore`` (a typed ``ModelConf`` whose ``_target_`` is
a dataclass default, config group options ``model/small`` and ``model/big``), a YAML
primary config that extends the schema (``defaults: [base_config, ...]``), and a variant
with no YAML at all (``config_path=None``). Each sweep is ``python app.py -m ...`` in its
own process, forked from the launcher (``tests.launcher``): a ConfigStore is global, so
these schemas never reach the other tests' process."""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from lightning_nas.results import TrialStatus  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402

TIMEOUT = 300

SCHEMA = '''
from dataclasses import dataclass, field
from typing import Any, List

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class ModelConf:
    _target_: str = "tests.helpers.TinyNet"
    width: int = MISSING
    lr: float = 0.05
    activation: str = "relu"


@dataclass
class DataConf:
    _target_: str = "tests.helpers.BlobData"
    n: int = 96
    batch_size: int = 32


@dataclass
class TrainerConf:
    _target_: str = "lightning.pytorch.Trainer"
    max_epochs: int = 1
    accelerator: str = "cpu"
    devices: int = 1
    logger: bool = False
    enable_checkpointing: bool = False
    enable_progress_bar: bool = False
    enable_model_summary: bool = False
    limit_train_batches: int = 2
    limit_val_batches: int = 1


@dataclass
class Config:
    model: ModelConf = MISSING
    data: DataConf = field(default_factory=DataConf)
    trainer: TrainerConf = field(default_factory=TrainerConf)
    seed: int = 0
    optimized_metric: str = "val_acc"


@dataclass
class Main(Config):  # the config of the project without YAML
    defaults: List[Any] = field(default_factory=lambda: [
        "_self_", {"model": "small"}, {"override hydra/sweeper": "lightning_nas"}])


cs = ConfigStore.instance()
cs.store(name="base_config", node=Config)
cs.store(name="main", node=Main)
cs.store(group="model", name="small", node=ModelConf(width=8))
cs.store(group="model", name="big", node=ModelConf(width=32))
cs.store(group="model", name="bare", node=ModelConf)  # width: ??? (MISSING)
'''

APP = '''
import json, pathlib, sys

import hydra
import lightning.pytorch as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate

import structured_schema  # noqa: F401 - fills the ConfigStore


@hydra.main(version_base=None, config_path=CONFIG_PATH, config_name=CONFIG_NAME)
def main(cfg):
    torch.set_num_threads(1)
    pl.seed_everything(cfg.seed, verbose=False)
    model = instantiate(cfg.model)
    trainer = instantiate(cfg.trainer)
    trainer.fit(model, datamodule=instantiate(cfg.data))
    score = float(trainer.callback_metrics[cfg.optimized_metric])
    pathlib.Path(HydraConfig.get().runtime.output_dir, "ran.json").write_text(json.dumps({
        "model": HydraConfig.get().runtime.choices.get("model"),
        "width": cfg.model.width, "lr": cfg.model.lr, "score": score,
        "types": [type(cfg.model.width).__name__, type(model.hparams.width).__name__,
                  type(model.hparams.lr).__name__]}))
    return score


main()
'''

HYDRA = {"job": {"chdir": False}, "run": {"dir": "rerun"},
         "sweep": {"dir": "sweep", "subdir": "${hydra.job.num}"}}


def _project(tmp_path: Path) -> Path:
    """The project: ``structured_schema.py``, ``app.py`` (``conf/``: ``config.yaml`` extends
    ``base_config``, searches ``model`` and ``model.width``; ``bare.yaml`` composes
    ``model/bare``, whose ``width`` is MISSING, and searches ``model.lr``) and
    ``noyaml.py`` (``config_path=None``: the ConfigStore's ``main`` alone)."""
    (tmp_path / "structured_schema.py").write_text(SCHEMA)
    (tmp_path / "app.py").write_text(APP.replace("CONFIG_PATH", '"conf"')
                                     .replace("CONFIG_NAME", '"config"'))
    (tmp_path / "noyaml.py").write_text(APP.replace("CONFIG_PATH", "None")
                                        .replace("CONFIG_NAME", '"main"'))
    (tmp_path / "conf").mkdir()
    for name, model, params in (
            ("config", "small", {"model": "choice(small, big)", "model.width": "choice(8, 16)"}),
            ("bare", "bare", {"model.lr": "choice(0.1, 0.01)"})):
        (tmp_path / "conf" / f"{name}.yaml").write_text(yaml.safe_dump({
            "defaults": ["base_config", {"model": model},
                         {"override hydra/sweeper": "lightning_nas"}, "_self_"],
            "hydra": {**HYDRA, "sweeper": {"budget": 3, "direction": "maximize",
                                           "seed": 0, "params": params}}}))
    return tmp_path


def _run(launcher, tmp_path: Path, script: str, *argv: str, log: str = "sweep.log"
         ) -> tuple[int, str]:
    """``python SCRIPT ARGV`` in ``tmp_path``: its exit code and output."""
    launcher.launch(list(argv), tmp_path / log, Path(script), cwd=tmp_path)
    code = launcher.wait(TIMEOUT)
    return code, (tmp_path / log).read_text()


def _completed(db: Path) -> int:
    """COMPLETED trials in a store another process is writing (read-only; 0 before it is)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials WHERE status = ?",
                                (TrialStatus.COMPLETED.value,)).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _jobs(sweep: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("*/ran.json"))]


#: the no-YAML project's sweep settings and searched keys, all on the command line
NOYAML = ["hydra.sweeper.budget=3", "hydra.sweeper.direction=maximize", "hydra.sweeper.seed=0",
          "hydra.job.chdir=false", "hydra.run.dir=rerun", "hydra.sweep.dir=sweep",
          "hydra.sweep.subdir=${hydra.job.num}", "model=choice(small, big)",
          "model.width=choice(8, 16)"]


@pytest.mark.parametrize("script", ["app.py", "noyaml.py"])
def test_a_structured_config_sweep_keeps_the_schemas_types_and_reruns_its_best_job(
        tmp_path, launcher, script):
    project = _project(tmp_path)
    argv = ["-m", *(NOYAML if script == "noyaml.py" else []),
            "model.lr=tag(log, interval(1e-3, 1e-1))"]  # a params key on the command line
    code, out = _run(launcher, project, script, *argv)
    assert code == 0, out[-3000:]
    jobs = _jobs(project / "sweep")
    assert len(jobs) == 3
    for job in jobs:  # typed as the schema says: int stays int, the log range a float
        assert job["types"] == ["int", "int", "float"], job
        assert job["model"] in ("small", "big") and job["width"] in (8, 16)
        assert 1e-3 <= job["lr"] <= 1e-1
    with RunStore(project / "sweep" / "search.db") as store:
        trials = store.trials(TrialStatus.COMPLETED)
        assert store.get_meta("space")["model.lr"] == {"float": [0.001, 0.1], "log": True}
    assert sorted((t.arch["model"], t.arch["model.width"], t.arch["model.lr"])
                  for t in trials) == sorted((j["model"], j["width"], j["lr"]) for j in jobs)

    results = yaml.safe_load((project / "sweep" / "optimization_results.yaml").read_text())
    from lightning_nas.export import export_best

    best = export_best(project / "sweep")
    assert yaml.safe_load((project / "sweep" / "best.yaml").read_text())["hydra"]["rerun"] \
        == best["hydra"]["rerun"] == results["rerun"]
    python, rerun, *again = shlex.split(results["rerun"])
    assert (python, rerun) == ("python", script)
    code, out = _run(launcher, project, rerun, *again, log="rerun.log")
    assert code == 0, out[-3000:]
    ran = json.loads((project / "rerun" / "ran.json").read_text())
    params = results["best_params"]
    assert (ran["model"], ran["width"], ran["lr"]) == (
        params["model"], params["model.width"], params["model.lr"])
    assert ran["types"] == ["int", "int", "float"]
    assert ran["score"] == pytest.approx(results["best_value"])  # the same training


@pytest.mark.parametrize("script", ["app.py", "noyaml.py"])
def test_a_value_the_schemas_type_refuses_is_refused_before_any_job(tmp_path, launcher, script):
    # was: launched; each job that drew 'wide' FAILED unlaunched ("do not compose with the
    # config: Error merging override ..."), the sweep went on with the others
    project = _project(tmp_path)
    argv = ["-m", *(NOYAML if script == "noyaml.py" else []), "model.width=choice(8, wide)"]
    code, out = _run(launcher, project, script, *argv)
    assert code == 1, out[-3000:]
    assert ("sweep parameter 'model.width': its value 'wide' is not of the type the "
            "structured config gives model.width (ModelConf.width: int): Value 'wide' of "
            "type 'str' could not be converted to Integer") in out, out[-3000:]
    assert "[trial" not in out and not (project / "sweep").exists()


def test_a_float_range_on_an_int_field_is_refused_before_any_job(tmp_path, launcher):
    project = _project(tmp_path)
    code, out = _run(launcher, project, "app.py", "-m", "model.width=interval(8, 16)")
    assert code == 1, out[-3000:]
    assert re.search(r"sweep parameter 'model\.width': its value 8\.0 is not of the type "
                     r"the structured config gives model\.width \(ModelConf\.width: int\)",
                     out), out[-3000:]
    assert not (project / "sweep").exists()


def test_a_key_the_schema_lacks_is_refused_before_any_job_naming_its_keys(tmp_path, launcher):
    project = _project(tmp_path)
    code, out = _run(launcher, project, "app.py", "-m", "model.widht=choice(8, 16)")
    assert code == 1, out[-3000:]
    assert ("sweep parameter 'model.widht': model has no key 'widht'; did you mean 'width'? "
            "accepted: width, lr, activation, ") in out, out[-3000:]
    assert not (project / "sweep").exists()
    # added with +: the dataclass default's _target_ is checked (TinyNet takes no widht)
    code, out = _run(launcher, project, "app.py", "-m", "+model.widht=choice(8, 16)")
    assert code == 1, out[-3000:]
    assert ("sweep parameter '+model.widht': 'widht' is not an argument of "
            "tests.helpers.TinyNet (the _target_ of model), so every job would fail to build "
            "model; did you mean 'width'?") in out, out[-3000:]
    assert not (project / "sweep").exists()


def test_a_missing_field_the_sweep_fills_runs_one_nothing_fills_is_said_first(
        tmp_path, launcher):
    project = _project(tmp_path)
    code, out = _run(launcher, project, "app.py", "--config-name", "bare", "-m",
                     "model.width=choice(8, 16)")
    assert code == 0, out[-3000:]
    jobs = _jobs(project / "sweep")  # 3 of the 4 (lr, width) pairs, each width an int
    assert len(jobs) == 3 and {j["width"] for j in jobs} == {8, 16}
    assert all(j["types"] == ["int", "int", "float"] for j in jobs)
    assert "MISSING" not in out

    (project / "sweep").rename(project / "filled")
    code, out = _run(launcher, project, "app.py", "--config-name", "bare", "-m", log="bare.log")
    assert code == 1, out[-3000:]
    # said before the first job (was: no word until two jobs had failed)
    said = out.index("config key 'model.width' is ??? (MISSING) in every job the sweep "
                     "composed: neither a searched key nor a command-line override sets it")
    assert said < out.index("[trial   1"), out[-3000:]
    assert "MissingMandatoryValue: Missing mandatory value: model.width" in out


def test_a_hydra_override_holding_a_jobs_interpolation_on_the_command_line_sweeps(
        tmp_path, launcher):
    # a project without YAML gives its Hydra settings on the command line; was: the sweep
    # crashed reading its own command line (InterpolationToMissingValueError: ...
    # hydra.job.num), before the first job
    project = _project(tmp_path)
    code, out = _run(launcher, project, "app.py", "-m", "hydra.sweeper.budget=1",
                     "hydra.sweep.subdir=job_${hydra.job.num}")
    assert code == 0, out[-3000:]
    assert [p.parent.name for p in (project / "sweep").glob("*/ran.json")] == ["job_0"]
    rerun = yaml.safe_load((project / "sweep" / "optimization_results.yaml").read_text())["rerun"]
    assert "hydra.sweep.subdir" not in rerun and "--config-name config" in rerun


@pytest.mark.slow
def test_an_interrupted_structured_config_sweep_resumes_with_the_same_command(
        tmp_path, launcher):
    project = _project(tmp_path)
    # +model.sleep: each training step sleeps, so that the kill comes mid-sweep
    argv = ["-m", "+model.sleep=0.3", "model.lr=tag(log, interval(1e-3, 1e-1))"]
    launcher.launch(argv, project / "first.log", Path("app.py"), cwd=project)
    db, deadline = project / "sweep" / "search.db", time.monotonic() + TIMEOUT
    try:
        while _completed(db) < 1:
            assert launcher.exited() is None, (project / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no job finished in time"
            time.sleep(0.1)
        launcher.kill()
    finally:
        launcher.reset()
    with RunStore(db) as store:
        done = store.count(TrialStatus.COMPLETED)
    assert 1 <= done < 3
    code, out = _run(launcher, project, "app.py", *argv, log="resumed.log")
    assert code == 0, out[-3000:]
    assert f"Resuming {project / 'sweep'}: {done} completed" in out, out[-3000:]
    with RunStore(db) as store:
        assert store.count(TrialStatus.COMPLETED) == 3
        assert store.count(TrialStatus.RUNNING) == 0
    # a ConfigStore option edited in Python is compared as a file's would be
    schema = project / "structured_schema.py"
    schema.write_text(schema.read_text().replace(
        'node=ModelConf(width=8))', 'node=ModelConf(width=8, activation="tanh"))'))
    code, out = _run(launcher, project, "app.py", *argv, "hydra.sweeper.budget=4",
                     log="edited.log")
    assert code == 1, out[-3000:]
    assert "holds a sweep whose jobs ran with other settings: model=small: " \
           "model.activation: 'relu', now 'tanh'" in out, out[-3000:]
