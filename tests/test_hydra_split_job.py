"""A Hydra sweep job's uneven DDP validation split, seen from the task function and on a
resume: the task's config is the one its file says (the check is a Lightning callback
factory, not a rewritten ``_target_``), and a resumed sweep does not warn again of a split
its first run said. Real Hydra, real ``ddp_spawn`` ranks on CPU (gloo), real store."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

import hydra  # noqa: E402
import lightning.pytorch as pl  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from lightning_nas.cli import main as cli  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_data import BlobData  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402
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


def _fit(trainer: pl.Trainer, width: int) -> float:
    """Fit ``SyncedTinyNet(width)`` on 17 validation samples; rank 0's synced score."""
    trainer.fit(SyncedTinyNet(width=width), BlobData(n=68, batch_size=16))
    return float(trainer.callback_metrics["val_acc"])


def _said(records: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in records if "ranks do not divide" in str(w.message)]


@pytest.fixture
def split_sweep(shared_run) -> dict[str, Any]:
    """A sweep of two jobs over ``x`` in ``choice(4, 5, 6)``, then the same sweep resumed
    with budget 3 (its third job), made once per session (conftest's ``shared_run``: the
    two tests below assert on it; each job spawns two fresh rank processes). A job's task
    fits as its ``x`` says: 4, the lightning-hydra-template's way
    (``instantiate(cfg.trainer, callbacks=[])``); 5, a Trainer subclass built in code (not
    from ``cfg.trainer``); 6, ``instantiate(cfg.trainer)``. What each run returned
    (``first``, ``resumed``: ``[trial id, status]``; ``errors_first``, ``errors_resumed``:
    their errors), what it warned of an uneven split
    (``said_first``, ``said_resumed``), the store's record after the first run
    (``store_first``), and what each job's task saw of its config (``seen``, by ``x``)."""
    def make(folder: Path) -> dict[str, Any]:
        seen: dict[int, dict[str, str]] = {}

        def task(cfg: DictConfig) -> float:
            pl.seed_everything(0, verbose=False)
            out = Path(HydraConfig.get().runtime.output_dir)
            seen[cfg.x] = {"target": cfg.trainer._target_, "yaml": OmegaConf.to_yaml(cfg),
                           "saved": (out / ".hydra" / "config.yaml").read_text()}
            if cfg.x == 4:
                return _fit(hydra.utils.instantiate(cfg.trainer, callbacks=[]), cfg.x)
            if cfg.x == 6:
                return _fit(hydra.utils.instantiate(cfg.trainer), cfg.x)
            args = {k: v for k, v in OmegaConf.to_container(cfg.trainer, resolve=True).items()
                    if k != "_target_"}
            return _fit(OwnTrainer(**args), cfg.x)

        space = {"params": {"x": "choice(4, 5, 6)"}, "seed": 0}
        made: dict[str, Any] = {}
        for name, budget in (("first", 2), ("resumed", 3)):
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                trials = multirun(folder, task, {"budget": budget, **space}, trainer=SPAWN)
            made[name] = [[t.trial_id, t.status.value] for t in trials]
            made[f"errors_{name}"] = [t.error for t in trials]
            made[f"said_{name}"] = _said(said)
            if name == "first":
                with RunStore(folder / "run" / "search.db") as store:
                    made["store_first"] = store.get_meta("uneven_splits")
        return {**made, "seen": seen}

    folder, made = shared_run("hydra_split_sweep", make)
    return {**made, "folder": folder, "seen": {int(x): v for x, v in made["seen"].items()}}


@pytest.mark.slow
def test_a_checked_jobs_task_sees_its_config_as_the_file_says(split_sweep):
    # was: the job's cfg.trainer._target_ read lightning_nas.integrations.hydra_split.
    # checked_trainer (rewritten in the job to add the split's recorder), so a task that
    # logged, printed or compared its config saw a target it never wrote
    first = split_sweep["first"]
    assert [status for _, status in first] == ["COMPLETED"] * 2, split_sweep["errors_first"]
    assert sorted(split_sweep["seen"]) == [4, 5, 6]  # every way of fitting ran
    for x, seen in split_sweep["seen"].items():  # the task's config is its file's, as Hydra
        assert seen["target"] == "lightning.pytorch.Trainer", x  # saved it for the job
        assert seen["yaml"] == seen["saved"], x
        assert "checked_trainer" not in seen["yaml"], x
    # and both jobs' splits are still recorded: said once, kept in the store
    assert split_sweep["said_first"] == [f"trial {first[0][0]}: {UNEVEN}"]
    assert split_sweep["store_first"] == {UNEVEN: [trial_id for trial_id, _ in first]}


@pytest.mark.slow
def test_a_resumed_sweep_does_not_warn_again_of_a_split_its_first_run_said(split_sweep):
    # was: the resume warned "trial 2: the validation set holds 17 samples, ..." again, as
    # new, though the sweep's first run had said it (one warning per sweep)
    run = split_sweep["folder"] / "run"
    assert split_sweep["said_first"] == [f"trial 1: {UNEVEN}"]
    assert split_sweep["resumed"] == [[i, "COMPLETED"] for i in (1, 2, 3)], split_sweep[
        "errors_resumed"]
    assert split_sweep["said_resumed"] == []
    # the record is the sweep's: every trial, and best.yaml's notes
    with RunStore(run / "search.db") as store:
        assert store.get_meta("uneven_splits") == {UNEVEN: [1, 2, 3]}
    for trial_id, _ in split_sweep["resumed"]:
        assert cli(["export", str(run), "--trial", str(trial_id)]) == 0
        assert yaml.safe_load((run / "best.yaml").read_text())["notes"] == [UNEVEN]
