"""A sweep's ``rerun_alone`` line carries what the sweep's config sets in its ``hydra`` node
that shapes a job and that the job's ``config.yaml`` lacks: ``hydra.job.env_set`` (the
task's config reads it), ``env_copy``, ``hydra.callbacks``, the ``hydra/job_logging`` and
``hydra/hydra_logging`` choices, the config's edits of their nodes, the config search path
they are found on, ``hydra.verbose``, the ``hydra.job.name`` the config sets, and the job's
config group choices (``hydra.runtime.choices``: ``${hydra:runtime.choices.net}`` names a
file); what it cannot carry (``${hydra:job.num}``) is said beside it. A tiny Hydra project
(a Lightning ``TinyNet`` on blobs) is swept and its best job run again by the line as
written, both forked warm from the tests' launcher."""

from __future__ import annotations

import json
import pickle
import shlex
from pathlib import Path

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from tests.helpers_hydra_sweep import TIMEOUT  # noqa: E402

#: the task: fit a TinyNet one epoch, seeded by the config (which reads the environment)
_APP = """import json, logging, pathlib, hydra, torch
import lightning.pytorch as pl
from hydra.core.hydra_config import HydraConfig
from tests.helpers import BlobData, TinyNet
log = logging.getLogger("app")
@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg):
    torch.set_num_threads(1)
    pl.seed_everything(cfg.seed, verbose=False)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(TinyNet(width=cfg.net.width), BlobData(n=64, batch_size=16))
    score = float(trainer.callback_metrics["val_loss"])
    out = pathlib.Path(HydraConfig.get().runtime.output_dir, f"{cfg.run_name}.json")
    out.write_text(json.dumps({"score": score}))
    log.info("scored %s", score)
    return score
main()
"""

#: a job logging option of the project's that writes ``job.log`` (on its search path)
_TO_FILE = {"version": 1, "formatters": {"plain": {"format": "%(message)s"}},
            "handlers": {"file": {"class": "logging.FileHandler", "formatter": "plain",
                                  "filename": "${hydra.runtime.output_dir}/job.log"}},
            "root": {"level": "INFO", "handlers": ["file"]}, "disable_existing_loggers": False}
#: a Hydra logging option of the project's own config folder
_QUIET = {"version": 1, "root": {"level": "WARNING"}, "disable_existing_loggers": False}
_PICKLE = "hydra.experimental.callbacks.PickleJobInfoCallback"


def _project(tmp_path: Path) -> None:
    """The app, its config (every job-shaping setting of the ``hydra`` node on) and the
    options it picks: ``to_file`` in ``shared`` (``hydra.searchpath``), ``quiet`` in
    ``conf``."""
    (tmp_path / "app.py").write_text(_APP)
    for path, node in (("shared/hydra/job_logging/to_file.yaml", _TO_FILE),
                       ("conf/hydra/hydra_logging/quiet.yaml", _QUIET),
                       ("conf/net/small.yaml", {"width": 4}), ("conf/net/wide.yaml", {"width": 8})):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(yaml.safe_dump(node))
    (tmp_path / "conf" / "config.yaml").write_text(yaml.safe_dump({
        "defaults": ["_self_", {"net": "small"}, {"override hydra/sweeper": "lightning_nas"},
                     {"override hydra/job_logging": "to_file"},
                     {"override hydra/hydra_logging": "quiet"}],
        "seed": "${oc.env:JOB_SEED,0}", "run_name": "${hydra:runtime.choices.net}",
        "logs": {"version": "${hydra:job.num}"},
        "hydra": {"searchpath": [f"file://{tmp_path / 'shared'}"],
                  "job": {"chdir": False, "env_set": {"JOB_SEED": "7"},
                          "env_copy": ["SWEEP_TOKEN"], "name": "fitted"}, "verbose": "app",
                  "callbacks": {"pickle": {"_target_": _PICKLE}},
                  # the options' nodes edited in the config, as the template's hydra/default
                  "job_logging": {"handlers": {"file": {
                      "filename": "${hydra.runtime.output_dir}/${run_name}.log"}},
                      "loggers": {"lightning.pytorch": {"level": "WARNING"}}},
                  "hydra_logging": {"root": {"level": "ERROR"}},
                  "run": {"dir": "rerun"}, "sweep": {"dir": "sweep", "subdir": "${hydra.job.num}"},
                  "sweeper": {"budget": 2, "direction": "minimize", "seed": 0,
                              "params": {"net": "choice(small, wide)"}}}}))


def test_the_rerun_alone_line_carries_the_sweep_configs_hydra_settings(tmp_path, launcher):
    # was: the line carried hydra.run.dir and hydra.job.chdir only: without the env_set the
    # config's ${oc.env:JOB_SEED,0} seeded 0, another training (another score), and the
    # job's log file, callback files and logging choices were not the job's
    _project(tmp_path)
    env = {"SWEEP_TOKEN": "s3cret", "JOB_SEED": None}
    code = launcher.run(["-m"], tmp_path / "sweep.log", Path("app.py"), TIMEOUT, tmp_path,
                        env=env)
    assert code == 0, (tmp_path / "sweep.log").read_text()[-3000:]
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    line, job = results["rerun_alone"], Path(results["best_job_dir"])
    assert "s3cret" not in line  # a copied variable is copied again, its value not written
    from lightning_nas.export import export_best

    exported = export_best(tmp_path / "sweep")["hydra"]
    assert exported["rerun_alone"] == line  # the same line
    # what it cannot carry is said beside it (was: not said): Hydra sets it in each run
    assert results["rerun_alone_note"] == exported["rerun_alone_note"] == (
        "the job's config reads what Hydra sets in each run, which a command line does not "
        "set: logs.version: ${hydra:job.num} (the line's run reads its own)")
    python, script, *argv = shlex.split(line)
    assert (python, script) == ("python", "app.py")
    code = launcher.run(argv, tmp_path / "alone.log", Path(script), TIMEOUT, tmp_path, env=env)
    assert code == 0, (tmp_path / "alone.log").read_text()[-3000:]
    again = tmp_path / "rerun"
    # the same training: the same score as the sweep's best job
    net = results["best_params"]["net"]  # the job's choice, which names its file
    assert sorted(p.name for p in again.glob("*.json")) == [f"{net}.json"]
    score = json.loads((again / f"{net}.json").read_text())["score"]
    assert score == pytest.approx(results["best_value"], abs=1e-6)
    assert score == json.loads((job / f"{net}.json").read_text())["score"]
    # the same files: the job log of the project's option as the config edits it, the
    # callback's pickles
    logged = (again / f"{net}.log").read_text()  # the config's file name, not the option's
    assert logged == (job / f"{net}.log").read_text().replace(str(job), str(again))
    assert not (again / "job.log").exists() and not (job / "job.log").exists()
    assert f"scored {score}" in logged
    assert sorted(p.name for p in (again / ".hydra").glob("*.pickle")) == \
        sorted(p.name for p in (job / ".hydra").glob("*.pickle")) == \
        ["config.pickle", "job_return.pickle"]
    assert pickle.loads((again / ".hydra" / "job_return.pickle").read_bytes()).return_value \
        == score
    # the same Hydra settings of the job
    ran = yaml.safe_load((again / ".hydra" / "hydra.yaml").read_text())["hydra"]
    swept = yaml.safe_load((job / ".hydra" / "hydra.yaml").read_text())["hydra"]
    for key in ("env_set", "env_copy", "chdir", "name"):
        assert ran["job"][key] == swept["job"][key], key
    assert ran["job"]["env_set"] == {"JOB_SEED": "7", "SWEEP_TOKEN": "s3cret"}
    assert ran["job"]["name"] == "fitted" and ran["verbose"] == swept["verbose"] == "app"
    assert ran["callbacks"] == swept["callbacks"] == {"pickle": {"_target_": _PICKLE}}
    for group in ("hydra/job_logging", "hydra/hydra_logging", "net"):
        assert ran["runtime"]["choices"][group] == swept["runtime"]["choices"][group], group
    assert ran["job_logging"] == swept["job_logging"]
    assert swept["job_logging"]["loggers"] == {"lightning.pytorch": {"level": "WARNING"}}
    assert ran["hydra_logging"] == swept["hydra_logging"]


def test_the_sweeps_search_path_wins_over_the_one_its_command_line_gave():
    # the setting holds the command line's entries and the sweep's config folders besides:
    # the given one alone would not find an option of the project's own config folder
    from lightning_nas.integrations.hydra_rerun import alone_line

    settings = {"hydra/job_logging": "to_file",
                "hydra.searchpath": ["file:///p/conf", "file:///p/shared"],
                "hydra.job.env_set": {"A": "1"}, "not_carried": ["x: ${hydra:job.num}"]}
    line = alone_line("t.py", "/m/0", ["hydra.searchpath=[file:///p/shared]", "hydra.verbose=true"],
                      settings, {"net": "wide"})
    assert shlex.split(line)[6:] == [
        "hydra.verbose=true", "hydra/job_logging=to_file",
        "hydra.searchpath=[file:///p/conf,file:///p/shared]", "++hydra.job.env_set={A:'1'}",
        "++hydra.runtime.choices={net:wide}"]
