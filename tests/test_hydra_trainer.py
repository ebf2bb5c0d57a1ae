"""``hydra_trainer``: a sweep builds its jobs' Trainer once for each value a searched
Trainer argument may take before the first job, as ``lightning-nas search`` does
(``TrialTemplate.dry_build``), with the real Hydra and Lightning: Hydra's own sweep runner
in-process, as ``tests/test_hydra_sweeper.py`` runs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

import hydra  # noqa: E402
from hydra.test_utils.test_utils import SweepTaskFunction  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from lightning_nas.results import TrialResult, TrialStatus  # noqa: E402

#: the lightning-hydra-template's trainer node: a _target_, its output dir interpolated
TRAINER = {"_target_": "lightning.pytorch.trainer.Trainer",
           "default_root_dir": "${paths.output_dir}", "accelerator": "cpu", "devices": 1,
           "max_epochs": 1, "enable_progress_bar": False}


def _sweep(tmp_path: Path, task: Callable[[DictConfig], Any], params: dict[str, str],
           trainer: dict[str, Any] | None = TRAINER, budget: int = 2) -> list[TrialResult]:
    """A multirun of ``task`` over ``params``: the config holds ``x``, the template's
    ``paths.output_dir`` and its ``trainer`` node, or where ``trainer`` is None, the option
    ``one`` of the config group ``trainer`` (options ``one`` and ``gpu``)."""
    conf = tmp_path / "conf"
    (conf / "trainer").mkdir(parents=True, exist_ok=True)
    for option, accelerator in (("one", "cpu"), ("gpu", "gpuu")):
        (conf / "trainer" / f"{option}.yaml").write_text(
            yaml.safe_dump({**TRAINER, "accelerator": accelerator}))
    config = {"defaults": ["_self_", *([] if trainer else [{"trainer": "one"}]),
                           {"override hydra/sweeper": "lightning_nas"}],
              "x": 0, "paths": {"output_dir": "${hydra:runtime.output_dir}"},
              **({"trainer": trainer} if trainer else {}),
              "hydra": {"job": {"chdir": False},
                        "sweeper": {"run_dir": str(tmp_path / "run"), "budget": budget,
                                    "direction": "maximize", "params": params}}}
    (conf / "config.yaml").write_text(yaml.safe_dump(config))
    runner = SweepTaskFunction()
    runner.calling_file, runner.calling_module = str(tmp_path / "app.py"), None
    runner.config_path, runner.config_name = str(conf), "config"
    runner.task_function, runner.overrides = task, []
    runner.temp_dir = str(tmp_path / "jobs")
    with runner:
        return runner.returns


def _builds_its_trainer(ran: list[Any]) -> Callable[[DictConfig], float]:
    """The template's task: its Trainer built from ``cfg.trainer`` with its callbacks and
    loggers (none here), nothing trained; the score ``x``."""
    def task(cfg: DictConfig) -> float:
        hydra.utils.instantiate(cfg.trainer, callbacks=[], logger=False)
        ran.append(cfg.x)
        return float(cfg.x)
    return task


@pytest.mark.parametrize(("key", "values", "bad", "said"), [
    ("trainer.accelerator", "choice(cpu, gpuu)", "'gpuu'", "invalid accelerator name"),
    ("trainer.max_epochs", "int(interval(-3, 2))", "-3", "must be a non-negative integer"),
    ("trainer", "choice(one, gpu)", "'gpu'", "invalid accelerator name")])
def test_a_searched_trainer_value_that_does_not_build_is_refused_before_any_job(
        tmp_path, key, values, bad, said):
    # was: launched; each job that drew it failed building the Trainer, and two of them in
    # a row before a job completed stopped the sweep (a multi-trial search refused it)
    ran: list[Any] = []
    with pytest.raises(Exception, match=rf"sweep parameter '{key}' may take {bad}: .*{said}"
                                        rf".*found building the Trainer of a job before any "
                                        rf"job ran \(every job drawing it would fail\)"):
        _sweep(tmp_path, _builds_its_trainer(ran), {"x": "range(0, 9)", key: values},
               trainer=None if key == "trainer" else TRAINER)
    assert not ran and not (tmp_path / "run").exists()


def test_searched_trainer_values_that_build_are_swept(tmp_path):
    ran: list[Any] = []
    trials = _sweep(tmp_path, _builds_its_trainer(ran),
                    {"x": "range(0, 9)", "trainer.max_epochs": "choice(1, 2)",
                     "trainer.accelerator": "choice(cpu, auto)"}, budget=3)
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3 and len(ran) == 3


def test_a_trainer_the_config_cannot_build_is_warned_of_not_blamed_on_a_searched_key(
        tmp_path):
    # a file's Trainer that does not build here (the task may build it otherwise): no
    # searched value is at fault, so none is refused; the sweep says so and runs
    with pytest.warns(UserWarning, match=r"the Trainer of the sweep's jobs \(trainer\) does "
                                         r"not build here: .*invalid accelerator name.*not "
                                         r"checked"):
        trials = _sweep(tmp_path, lambda cfg: float(cfg.x),
                        {"x": "range(0, 9)", "trainer.max_epochs": "choice(1, 2)"},
                        trainer={**TRAINER, "accelerator": "gpuu"})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2
