"""A Hydra sweep job's uneven DDP validation split, seen from the task function and on a
resume: the task's config is the one its file says (the check is a Lightning callback
factory, not a rewritten ``_target_``), and a resumed sweep does not warn again of a split
its first run said. Real Hydra, real ``ddp_spawn`` ranks on CPU (gloo), real store."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

import hydra  # noqa: E402
import lightning.pytorch as pl  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.test_utils.test_utils import SweepTaskFunction  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from lightning_nas.cli import main as cli  # noqa: E402
from lightning_nas.results import TrialResult, TrialStatus  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_data import BlobData  # noqa: E402
from tests.helpers_ranks import SyncedTinyNet  # noqa: E402

#: a job's Trainer node: two ranks the job's own fit spawns (lightning-hydra-template's
#: ``trainer=ddp_sim``), one short epoch
SPAWN = {"_target_": "lightning.pytorch.Trainer", "accelerator": "cpu", "devices": 2,
         "strategy": "ddp_spawn", "max_epochs": 1, "logger": False,
         "enable_checkpointing": False, "enable_progress_bar": False,
         "enable_model_summary": False, "default_root_dir": "${hydra:runtime.output_dir}"}
#: what the sweep says of BlobData(n=68)'s 17 validation samples on 2 ranks
UNEVEN = ("the validation set holds 17 samples, which the 2 ranks do not divide: Lightning's "
          "DistributedSampler repeats 1 of them (18 scored, the repeats counted again), so a "
          "job's score (what its task returns, synced over the ranks) differs slightly from a "
          "validation on one device; for exact scores, use a validation set divisible by 2, "
          "or trainer.use_distributed_sampler=False with a sampler of your own, or validate "
          "on one device")


class OwnTrainer(pl.Trainer):
    """A ``Trainer`` subclass a task builds in its code (not from ``cfg.trainer``)."""


def _sweep(tmp_path: Path, task: Callable[[DictConfig], Any],
           sweeper: dict[str, Any]) -> list[TrialResult]:
    """A multirun of ``task`` through Hydra's own sweep runner: the config holds ``x`` and
    ``trainer`` (``SPAWN``); the sweeper maximises, its store in ``tmp_path/run``."""
    conf = tmp_path / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    config = {"defaults": [{"override hydra/sweeper": "lightning_nas"}, "_self_"], "x": 0,
              "trainer": SPAWN,
              "hydra": {"job": {"chdir": False},
                        "sweeper": {"run_dir": str(tmp_path / "run"), "direction": "maximize",
                                    **sweeper}}}
    (conf / "config.yaml").write_text(yaml.safe_dump(config))
    runner = SweepTaskFunction()
    runner.calling_file, runner.calling_module = str(tmp_path / "app.py"), None
    runner.config_path, runner.config_name = str(conf), "config"
    runner.task_function, runner.overrides = task, []
    runner.temp_dir = str(tmp_path / "jobs")
    with runner:
        return runner.returns


def _fit(trainer: pl.Trainer, width: int) -> float:
    """Fit ``SyncedTinyNet(width)`` on 17 validation samples; rank 0's synced score."""
    trainer.fit(SyncedTinyNet(width=width), BlobData(n=68, batch_size=16))
    return float(trainer.callback_metrics["val_acc"])


def _said(records: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in records if "ranks do not divide" in str(w.message)]


@pytest.mark.slow
def test_a_checked_jobs_task_sees_its_config_as_the_file_says(tmp_path):
    # was: the job's cfg.trainer._target_ read lightning_nas.integrations.hydra_split.
    # checked_trainer (rewritten in the job to add the split's recorder), so a task that
    # logged, printed or compared its config saw a target it never wrote
    seen: dict[int, dict[str, Any]] = {}

    def task(cfg: DictConfig) -> float:
        pl.seed_everything(0, verbose=False)
        out = Path(HydraConfig.get().runtime.output_dir)
        seen[cfg.x] = {"target": cfg.trainer._target_, "yaml": OmegaConf.to_yaml(cfg),
                       "saved": (out / ".hydra" / "config.yaml").read_text()}
        if cfg.x == 4:  # the lightning-hydra-template's way: instantiate(cfg.trainer, ...)
            return _fit(hydra.utils.instantiate(cfg.trainer, callbacks=[]), cfg.x)
        # a Trainer subclass built in code, not from cfg.trainer (was: not checked)
        args = {k: v for k, v in OmegaConf.to_container(cfg.trainer, resolve=True).items()
                if k != "_target_"}
        return _fit(OwnTrainer(**args), cfg.x)

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        trials = _sweep(tmp_path, task, {"budget": 2, "params": {"x": "choice(4, 5)"}})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2, [t.error for t in trials]
    for x in (4, 5):  # the task's config is its file's, as Hydra saved it for the job
        assert seen[x]["target"] == "lightning.pytorch.Trainer"
        assert seen[x]["yaml"] == seen[x]["saved"]
        assert "checked_trainer" not in seen[x]["yaml"]
    # and both jobs' splits are still recorded: said once, kept in the store
    assert _said(said) == [f"trial {trials[0].trial_id}: {UNEVEN}"]
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.get_meta("uneven_splits") == {UNEVEN: [t.trial_id for t in trials]}


@pytest.mark.slow
def test_a_resumed_sweep_does_not_warn_again_of_a_split_its_first_run_said(tmp_path):
    # was: the resume warned "trial 2: the validation set holds 17 samples, ..." again, as
    # new, though the sweep's first run had said it (one warning per sweep)
    def task(cfg: DictConfig) -> float:
        pl.seed_everything(0, verbose=False)
        return _fit(hydra.utils.instantiate(cfg.trainer), cfg.x)

    space = {"params": {"x": "choice(4, 5)"}, "seed": 0}
    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        done = _sweep(tmp_path, task, {"budget": 1, **space})
    assert _said(first) == [f"trial 1: {UNEVEN}"]
    with warnings.catch_warnings(record=True) as resumed:
        warnings.simplefilter("always")
        trials = _sweep(tmp_path, task, {"budget": 2, **space})
    assert len(done) == 1 and [t.status for t in trials] == [TrialStatus.COMPLETED] * 2
    assert _said(resumed) == []
    # the record is the sweep's: both trials, and best.yaml's notes
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.get_meta("uneven_splits") == {UNEVEN: [1, 2]}
    for trial in trials:
        assert cli(["export", str(tmp_path / "run"), "--trial", str(trial.trial_id)]) == 0
        assert yaml.safe_load((tmp_path / "run" / "best.yaml").read_text())["notes"] == [UNEVEN]
