"""A Hydra sweep whose jobs' Trainers spawn their DDP ranks (``ddp_spawn``, two gloo ranks
on CPU), made once per test session for the tests of ``test_hydra_sweeper_processes`` and
``test_hydra_split_job`` that assert on it (was: a sweep each, two and three jobs; each job
starts two fresh rank processes, seconds of imports each).

The sweep searches ``x`` in ``choice(4, 5, 6, 8)`` (seed 0: jobs ``x`` = 4, 8, then 5, 6)
with budget 2, then resumes with budget 4. Each job's task fits ``SyncedTinyNet(width=x)``
as its ``x`` says: 4, the lightning-hydra-template's way
(``instantiate(cfg.trainer, callbacks=[RankRecorder()])``); 8, a ``Trainer`` subclass built
in code (not from ``cfg.trainer``); 5, ``instantiate(cfg.trainer)``; ``EVEN`` (6), the
template's way on a validation set the two ranks divide. The others validate on 17 samples,
which they do not (``UNEVEN`` says so).

Example:
    >>> spawn_sweep_of(shared_run)["resumed"]  # doctest: +SKIP
    [[1, 'COMPLETED'], [2, 'COMPLETED'], [3, 'COMPLETED'], [4, 'COMPLETED']]
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl

from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_hydra_sweep import multirun
from tests.helpers_ranks import RankRecorder, SyncedTinyNet

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = ["EVEN", "SPAWN", "UNEVEN", "OwnTrainer", "spawn_sweep_of"]

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
#: the ``x`` whose job validates on 16 samples (BlobData(n=64)), which the 2 ranks divide
EVEN = 6


class OwnTrainer(pl.Trainer):
    """A ``Trainer`` subclass a task builds in its code (not from ``cfg.trainer``)."""


def _said(records: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in records if "ranks do not divide" in str(w.message)]


def _make(folder: Path) -> dict[str, Any]:
    """Run the sweep, then its resume, in ``folder``; what they returned and warned of, the
    store's uneven splits after the first run, and what each job's task saw (JSON)."""
    import hydra  # hydra-core: an extra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    seen: dict[int, dict[str, str]] = {}
    ranks: dict[str, list[dict]] = {}
    returned: dict[str, float] = {}

    def task(cfg: DictConfig) -> float:
        pl.seed_everything(0, verbose=False)
        out = Path(HydraConfig.get().runtime.output_dir)  # (the folders go with the sweep)
        seen[cfg.x] = {"target": cfg.trainer._target_, "yaml": OmegaConf.to_yaml(cfg),
                       "saved": (out / ".hydra" / "config.yaml").read_text()}
        if cfg.x == 5:
            trainer = hydra.utils.instantiate(cfg.trainer)
        elif cfg.x == 8:
            trainer = OwnTrainer(**{k: v for k, v in OmegaConf.to_container(
                cfg.trainer, resolve=True).items() if k != "_target_"})
        else:
            trainer = hydra.utils.instantiate(cfg.trainer, callbacks=[RankRecorder()])
        trainer.fit(SyncedTinyNet(width=cfg.x),
                    BlobData(n=64 if cfg.x == EVEN else 68, batch_size=16))
        if cfg.x in (4, EVEN):
            ranks[str(out)] = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
        returned[str(out)] = float(trainer.callback_metrics["val_acc"])  # rank 0's, sent back
        return returned[str(out)]

    space = {"params": {"x": "choice(4, 5, 6, 8)"}, "seed": 0}
    made: dict[str, Any] = {}
    for name, budget in (("first", 2), ("resumed", 4)):
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            trials = multirun(folder, task, {"budget": budget, **space}, trainer=SPAWN)
        made[name] = [[t.trial_id, t.status.value] for t in trials]
        made[f"errors_{name}"] = [t.error for t in trials]
        made[f"said_{name}"] = _said(said)
        if name == "first":
            with RunStore(folder / "run" / "search.db") as store:
                made["store_first"] = store.get_meta("uneven_splits")
    made["x"] = {t.trial_id: t.arch["x"] for t in trials}
    made["scores"] = {t.trial_id: t.score for t in trials}
    return {**made, "seen": seen, "ranks": ranks, "returned": returned}


def spawn_sweep_of(shared_run: Callable[[str, Callable[[Path], Any]], tuple[Path, Any]]
                   ) -> dict[str, Any]:
    """The session's sweep (conftest's ``shared_run`` makes it once): what ``_make``
    returned, with ``folder`` (its ``run`` folder holds the store; a test that writes there,
    e.g. ``lightning-nas export``, copies it first), ``seen``, ``x`` and ``scores`` keyed by
    ``int`` (``x``: each trial's, ``scores``: each trial's score after the resume), ``ranks``
    and ``returned`` by job folder (``ranks``: both ranks' ``RankRecorder`` records of the
    jobs of ``x`` 4 and ``EVEN``; ``returned``: what each job's task returned)."""
    folder, made = shared_run("hydra_spawn_sweep", _make)
    return {**made, "folder": folder,
            **{key: {int(k): v for k, v in made[key].items()} for key in ("seen", "x", "scores")}}
