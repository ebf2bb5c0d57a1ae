"""Hydra sweeps in tests: the example's (``examples/hydra/src/train.py -m``), its script,
the reduced sweep's overrides, the time a sweep of processes of their own may take, and a
run of a script forked by the launcher (the training stack imported once); and a small
task function's, run in-process by Hydra's own sweep runner (``multirun``); and a
project's exception that a launcher's process cannot send back (``ShapeError``).

Example:
    >>> example_args(Path("runs/sweep"), "hydra.sweeper.budget=3")[2:4]
    ['-m', 'hparams_search=nas']
    >>> multirun(tmp_path, lambda cfg: float(cfg.x),
    ...          {"budget": 2, "params": {"x": "choice(1, 2)"}})  # doctest: +SKIP
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from lightning_nas.results import TrialResult
from tests.launcher import ROOT

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = ["REDUCED", "TIMEOUT", "TRAIN", "ShapeError", "example_args", "multirun",
           "run_forked"]

TRAIN = ROOT / "examples" / "hydra" / "src" / "train.py"
#: the example's sweep, reduced: few jobs, one short epoch each
REDUCED = ["hparams_search=nas", "hydra.sweeper.seed=0", "trainer.max_epochs=1",
           "+trainer.limit_train_batches=3", "+trainer.limit_val_batches=2"]
#: generous: several Python processes import torch and Lightning on 2 shared cores
TIMEOUT = 600


class ShapeError(Exception):
    """A project's exception (a task's, in a launcher's process) whose ``__init__`` takes
    two arguments: pickled back from a joblib worker, it cannot be rebuilt
    (``ShapeError(message)``), so joblib raises ``BrokenProcessPool`` for the batch instead
    of handing the job's error back."""

    def __init__(self, got: int, want: int) -> None:
        super().__init__(f"got {got}, want {want}")
        self.got, self.want = got, want


def example_args(run: Path, *overrides: str) -> list[str]:
    """``python train.py -m`` with the reduced sweep's overrides, then ``overrides``, its
    jobs in ``run`` (``hydra.sweep.dir``)."""
    return [sys.executable, str(TRAIN), "-m", *REDUCED, *overrides, f"hydra.sweep.dir={run}"]


def run_forked(launcher, cwd: Path, script: Path, argv: list[str],
               full_error: str | None = "1") -> subprocess.CompletedProcess:
    """``python SCRIPT ARGV`` in ``cwd``, forked by ``launcher`` (the training stack imported
    once, not by a fresh ``python``), with ``HYDRA_FULL_ERROR`` set to ``full_error``
    (``None``: unset); its exit code (``-9``: killed), stdout and stderr."""
    out, err = cwd / "out.txt", cwd / "err.txt"
    for path in (out, err):
        path.unlink(missing_ok=True)
    code = launcher.run(argv, out, script, TIMEOUT, cwd, err, {"HYDRA_FULL_ERROR": full_error})
    return subprocess.CompletedProcess(argv, code, out.read_text(), err.read_text())


def multirun(tmp_path: Path, task: Callable[[DictConfig], Any], sweeper: dict[str, Any],
             overrides: tuple[str, ...] = (), direction: str | None = "maximize",
             sort_keys: bool = True, sweep_dir: str | None = None, keep_jobs: bool = False,
             depths: Mapping[str, str] | None = None, **extra: Any) -> list[TrialResult]:
    """Run a multirun of ``task`` with Hydra's own sweep runner; the config holds ``x``, a
    config group ``model`` (options ``a`` and ``b``, their ``depth`` as ``depths`` says,
    default ``1``) and the nodes in ``extra`` (its ``hydra``, Hydra's settings beside the
    sweeper's, ``searchpath``); the sweeper maximises unless ``sweeper`` or ``direction``
    says otherwise; the config file's keys are sorted unless ``sort_keys`` is false (then
    ``params`` keep their order); the jobs go to ``sweep_dir`` (``hydra.sweep.dir``, default
    ``tmp_path/jobs``), removed after the sweep unless ``keep_jobs``."""
    from hydra.test_utils.test_utils import SweepTaskFunction  # hydra-core: an extra

    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True, exist_ok=True)
    for option in ("a", "b"):
        depth = (depths or {}).get(option, "1")
        (conf / "model" / f"{option}.yaml").write_text(f"name: {option}\ndepth: {depth}\n")
    settings = extra.pop("hydra", {})
    config = {"defaults": [{"model": "a"}, {"override hydra/sweeper": "lightning_nas"},
                           "_self_"], "x": 0, **extra,
              "hydra": {**settings, "job": {"chdir": False},
                        "sweeper": {"run_dir": str(tmp_path / "run"),
                                    **({} if "objectives" in sweeper or direction is None
                                       else {"direction": direction}), **sweeper}}}
    (conf / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=sort_keys))
    runner = SweepTaskFunction()
    runner.calling_file, runner.calling_module = str(tmp_path / "app.py"), None
    runner.config_path, runner.config_name = str(conf), "config"
    runner.task_function, runner.overrides = task, list(overrides)
    runner.temp_dir = sweep_dir or str(tmp_path / "jobs")
    if keep_jobs:  # (the runner's exit removes the sweep dir)
        return runner.__enter__().returns
    with runner:
        return runner.returns
