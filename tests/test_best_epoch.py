"""A trial's best epoch with several objectives: of the validations tied on the first
objective (the monitor), the best is the one best on the next objectives in order (then the
earlier), in the stored ``metrics``/``epoch`` and in the trial's ``best.ckpt`` alike; with
one objective, the earlier of the tied ones. A small MLP on separable blobs with a high
learning rate reaches ``val_acc`` 1.0 within a few epochs and stays there while its losses
still fall: a real plateau of the monitor."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_nas import Search
from lightning_nas.search.callbacks import TrialReporter
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_ranks import SyncedTinyNet
from tests.helpers_runs import assert_scores_as_exported

#: two architectures, both fast learners (a space of one is refused)
SPACE = {"width": {"choice": [16]}, "lr": {"choice": [0.5, 0.4]}}


class SyncedLossNet(SyncedTinyNet):
    """``val_acc`` and ``val_loss`` synced over the ranks (one value on each)."""

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_acc", (logits.argmax(-1) == y).float().mean(), sync_dist=True)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y), sync_dist=True)


def _search(run: Path, model: Any = TinyNet, batch_size: int = 32, devices: int = 1,
            **objectives: str) -> dict[str, Any]:
    """One trial of 5 epochs under ``objectives`` (or the monitor ``val_acc`` alone), with a
    CSV logger; returns the trial's stored result and its logged epochs (one row each)."""
    logs = run.parent / f"{run.name}_logs"
    goal: dict[str, Any] = ({"objectives": objectives} if objectives
                            else {"monitor": "val_acc", "mode": "max"})
    ddp = {"strategy": "ddp"} if devices > 1 else {}
    Search(model, SPACE, data=BlobData, data_init_args={"batch_size": batch_size}, seed=0,
           run_dir=run, verbose=False, budget=1, trainer={
               "max_epochs": 5, "accelerator": "cpu", "devices": devices, **ddp, "logger": {
                   "class_path": "lightning.pytorch.loggers.CSVLogger",
                   "init_args": {"save_dir": str(logs)}}}, **goal).run()
    with RunStore(run / "search.db") as store:
        (trial,) = store.trials()
    (path,) = [p for p in logs.rglob("metrics.csv") if "trial_0001" in str(p)]
    epochs: dict[int, dict[str, float]] = {}
    for row in csv.DictReader(path.open()):
        if row["epoch"]:
            epochs.setdefault(int(row["epoch"]), {}).update(
                {k: float(v) for k, v in row.items() if v and k not in ("epoch", "step")})
    return {"trial": trial, "epochs": epochs}


def _tied_at_the_top(epochs: dict[int, dict[str, float]]) -> list[int]:
    top = max(e["val_acc"] for e in epochs.values())
    return [n for n, e in sorted(epochs.items()) if e["val_acc"] == top]


@pytest.mark.parametrize("second", ["val_loss", "train_loss"])
def test_ties_on_the_monitor_go_by_the_next_objective_in_metrics_and_best_ckpt(tmp_path,
                                                                               second):
    """``val_loss`` is logged by validation; ``train_loss`` only by training, per epoch (it
    is known at the epoch's end, after the validation that chose ``best.ckpt``)."""
    run = tmp_path / "run"
    got = _search(run, val_acc="max", **{second: "min"})
    tied = _tied_at_the_top(got["epochs"])
    expected = min(tied, key=lambda n: got["epochs"][n][second])
    assert len(tied) > 1 and expected != tied[0]  # a tie a later epoch breaks: the case
    trial = got["trial"]
    assert trial.epoch == expected
    assert trial.metrics[second] == pytest.approx(got["epochs"][expected][second], abs=1e-6)
    assert torch.load(trial.checkpoint, weights_only=False)["epoch"] == expected
    assert assert_scores_as_exported(run)["epoch"] == expected  # best.ckpt validated again


@pytest.mark.slow
def test_a_ddp_trials_tie_is_broken_alike_on_its_ranks_and_exports_as_said(tmp_path):
    # BlobData's 64 validation samples in batches of 16: two whole batches per rank
    run = tmp_path / "run"
    got = _search(run, "tests.test_best_epoch.SyncedLossNet", batch_size=16, devices=2,
                  val_acc="max", val_loss="min")
    tied = _tied_at_the_top(got["epochs"])
    expected = min(tied, key=lambda n: got["epochs"][n]["val_loss"])
    assert len(tied) > 1 and expected != tied[0]
    assert got["trial"].epoch == expected
    best = assert_scores_as_exported(run, model=SyncedLossNet, batch_size=16)
    assert best["epoch"] == expected


def test_with_one_objective_the_earliest_of_the_tied_epochs_stays_the_best(tmp_path):
    run = tmp_path / "run"
    got = _search(run)
    tied = _tied_at_the_top(got["epochs"])
    assert len(tied) > 1  # later epochs as good on val_acc (and better on the losses)
    assert got["trial"].epoch == tied[0]
    assert torch.load(got["trial"].checkpoint, weights_only=False)["epoch"] == tied[0]
    assert assert_scores_as_exported(run)["epoch"] == tied[0]


def test_a_reporters_best_breaks_ties_by_the_later_objectives_in_order():
    reporter = TrialReporter("acc", "max", logged=("loss", "ms"),
                             tie_break=(("loss", "min"), ("ms", "max")))
    reporter.history = [{"epoch": e, "metrics": m} for e, m in enumerate([
        {"acc": 0.5, "loss": 0.1, "ms": 9.0},
        {"acc": 0.9, "loss": 0.4, "ms": 1.0},
        {"acc": 0.9, "loss": 0.3, "ms": 1.0},
        {"acc": 0.9, "loss": 0.3, "ms": 2.0},
        {"acc": 0.9, "loss": 0.3, "ms": 2.0},
        {"loss": 0.0}])]
    assert reporter.best()["epoch"] == 3  # loss, then ms, then the earlier
    assert TrialReporter("acc", "max", logged=("loss", "ms")).best() is None
    plain = TrialReporter("acc", "max")
    plain.history = reporter.history
    assert plain.best()["epoch"] == 1
