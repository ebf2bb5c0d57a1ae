"""The multi-trial driver with real Trainers, real nevergrad and real SQLite."""

from __future__ import annotations

import functools
import os
import re
import signal
import sqlite3
import threading
import time
import warnings
from pathlib import Path

import lightning.pytorch as pl
import nevergrad as ng
import numpy as np
import pytest
import torch
import yaml

from lightning_nas import Search, finetune
from lightning_nas.errors import ConfigError, SearchError, SpaceError
from lightning_nas.results import TrialStatus
from lightning_nas.search.schedulers import MedianRule
from lightning_nas.store import RunStore
from tests.helpers_callbacks import SigintAtFirstBatch
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet, tiny_model


def halve(x: torch.Tensor) -> torch.Tensor:
    return x / 2


class WithBackbone(TinyNet):
    """A project that passes a backbone module and a partial optimizer to its model."""

    starts: list[torch.Tensor] = []  # the backbone's weights each model was built with

    def __init__(self, backbone: torch.nn.Module, optimizer: functools.partial,
                 width: int = 16, squash=torch.relu) -> None:
        super().__init__(width=width)
        self.backbone, self.optimizer, self.squash = backbone, optimizer, squash
        WithBackbone.starts.append(backbone.weight.detach().clone())
        WithBackbone.last_squash = squash

    def forward(self, x):
        return self.net(self.squash(self.backbone(x)))

    def configure_optimizers(self):
        return self.optimizer(self.parameters())


def _search(run_dir: Path, space: dict, trainer: dict, **kw) -> Search:
    kw.setdefault("data", BlobData)
    kw.setdefault("verbose", False)
    return Search(kw.pop("model", TinyNet), space, trainer=trainer, run_dir=run_dir, **kw)


def test_search_trains_budget_and_exports_best(tmp_path, tiny_space, tiny_trainer, capsys):
    result = _search(tmp_path, tiny_space, tiny_trainer, budget=4, keep_top_k=2,
                     verbose=True).run()
    completed = [t for t in result.trials if t.status is TrialStatus.COMPLETED]
    assert len(completed) == 4
    assert result.best.score == max(t.score for t in completed)
    assert result.leaderboard()[0].trial_id == result.best.trial_id
    # the score is the monitored value at the best epoch
    for t in completed:
        assert t.score == max(t.curve) and t.metrics["val_acc"] == t.score
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert best["arch"] == result.best.arch and best["score"] == result.best.score
    assert best["monitor"] == "val_acc" and (tmp_path / best["checkpoint"]).exists()
    # only the top 2 checkpoints stay on disk, and the store says which
    with RunStore(tmp_path / "search.db") as store:
        kept = [t for t in store.trials() if t.checkpoint]
    assert len(kept) == 2 and all(Path(t.checkpoint).exists() for t in kept)
    assert len(list((tmp_path / "trials").glob("*/best.ckpt"))) == 2
    out = capsys.readouterr().out
    assert out.count("[trial ") == 4 and "best=" in out and "Search finished" in out


def test_a_search_warns_of_a_mode_contrary_to_its_objectives_name_before_any_trial(tmp_path):
    # was: `monitor: val_loss, mode: max` (a mode copied from an accuracy's config) chased
    # the highest loss and exported the worst architecture as the best, without a word
    calls = []

    def toy(arch):
        calls.append(arch)
        return {"val_loss": float(arch["x"]), "params": 1.0}

    for name, options in (("a", {"monitor": "val_loss", "mode": "max"}),
                          ("b", {"objectives": {"val_loss": "max", "params": "min"}})):
        with pytest.warns(UserWarning, match=r"'val_loss' is maximised, but its name says "
                                             r"lower is better \(mode: min\): the search "
                                             r"ranks trials that way"):
            search = Search(None, {"x": {"choice": [1, 2]}}, objective=toy, budget=2,
                            run_dir=tmp_path / name, verbose=False, **options)
        assert not calls  # said when the search is made, before any trial
        assert search.run().best.arch == {"x": 2}  # taken as given
        calls.clear()


def test_the_leaderboard_breaks_ties_as_best_and_the_store_do(tmp_path):
    # was: ties went to the earlier trial, so result.leaderboard()[0] was not result.best
    # (nor the store's and `show`'s first row) when later objectives break the tie
    def toy(arch):
        return {"acc": 0.9, "size": float(arch["size"])}

    result = Search(None, {"size": {"choice": [50, 10, 30]}}, objective=toy,
                    objectives={"acc": "max", "size": "min"}, budget=3, seed=0,
                    optimizer="RandomSearch", run_dir=tmp_path, verbose=False).run()
    assert [t.arch["size"] for t in result.trials] != [10, 30, 50]  # ids alone would not do
    board = result.leaderboard()
    assert [t.arch["size"] for t in board] == [10, 30, 50]
    assert board[0].trial_id == result.best.trial_id and result.leaderboard(1) == board[:1]
    with RunStore(tmp_path / "search.db") as store:
        assert [t.trial_id for t in store.leaderboard("max")] == [t.trial_id for t in board]


@pytest.mark.parametrize("optimizer", ["RandomSearch", "NGOpt"])
def test_same_seed_same_proposals_and_scores(tmp_path, tiny_space, tiny_trainer, optimizer):
    runs = [_search(tmp_path / name, tiny_space, tiny_trainer, budget=3, seed=seed,
                    optimizer=optimizer).run() for name, seed in
            (("a", 7), ("b", 7), ("c", 8))]
    a, b, c = ([(t.arch, t.score) for t in r.trials] for r in runs)
    assert a == b
    assert [arch for arch, _ in a] != [arch for arch, _ in c]


def test_failed_and_nan_trials_are_recorded_and_search_goes_on(tmp_path, tiny_trainer):
    space = {"width": {"choice": [4, 8, 16]}, "lr": {"float": [0.02, 0.3]}}
    result = _search(tmp_path, space, tiny_trainer, budget=4, optimizer="RandomSearch",
                     seed=1, max_failures=20,
                     model_init_args={"fail_width": 4, "nan_width": 8}).run()
    by_status = {s: [t for t in result.trials if t.status is s] for s in TrialStatus}
    assert len(by_status[TrialStatus.COMPLETED]) == 4
    assert all(t.arch["width"] == 16 for t in by_status[TrialStatus.COMPLETED])
    errors = {t.arch["width"]: t.error for t in by_status[TrialStatus.FAILED]}
    assert "broken on purpose" in errors[4] and "RuntimeError" in errors[4]
    assert "nan" in errors[8]
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.FAILED) == len(by_status[TrialStatus.FAILED]) >= 2


class FailsInSecondEpoch(TinyNet):
    def training_step(self, batch, batch_idx):
        if self.hparams.width == 4 and self.current_epoch == 1:
            raise RuntimeError("width 4 breaks in its second epoch")
        return super().training_step(batch, batch_idx)


def test_a_failed_trial_keeps_no_checkpoint(tmp_path, tiny_trainer):
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.02, 0.3]}}
    result = _search(tmp_path, space, {**tiny_trainer, "max_epochs": 2}, budget=2, seed=1,
                     optimizer="RandomSearch", model=FailsInSecondEpoch, keep_top_k=5).run()
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert failed and all("second epoch" in t.error for t in failed)
    for t in result.trials:  # its first epoch's best.ckpt was no result, and not kept
        ckpts = sorted(p.name for p in (tmp_path / "trials" / f"trial_{t.trial_id:04d}")
                       .glob("*.ckpt"))
        assert ckpts == ([] if t.status is TrialStatus.FAILED else ["best.ckpt"]), t


class DivergesAtItsRate(TinyNet):
    """Fails in training with its own learning rate in the message."""

    def training_step(self, batch, batch_idx):
        raise RuntimeError(f"lr {self.hparams.lr:.6f} diverged")


def test_too_many_failures_stop_the_search(tmp_path, tiny_trainer):
    space = {"width": {"fixed": 4}, "lr": {"float": [0.02, 0.3]}}
    with pytest.raises(SearchError, match=r"3 trials failed .*max_failures=2.*lr 0\.\d+ diverged"):
        _search(tmp_path, space, tiny_trainer, budget=5, max_failures=2,
                model=DivergesAtItsRate).run()


class LogsSomeWhenWide(TinyNet):
    """Logs objective ``val_some`` only when wider than ``above``."""

    above = 8

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        if self.hparams.width > self.above:
            self.log("val_some", self.hparams.width / 100)


def test_an_objective_only_some_architectures_log_fails_them_once_a_trial_completed(
        tmp_path, monkeypatch):
    # was: trial 2 (width 4) stopped the search "with an error every trial would hit"
    # although trial 1 had completed with the objective, and max_failures was never consulted
    space = {"width": {"choice": [16, 4]}, "lr": {"float": [0.02, 0.3]}}
    trainer = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1}
    setup = dict(objectives={"val_acc": "max", "val_some": "max"}, seed=1,
                 optimizer="RandomSearch")
    result = _search(tmp_path, space, trainer, budget=2, max_failures=5,
                     model=LogsSomeWhenWide, **setup).run()
    first, *_ = result.trials
    assert first.status is TrialStatus.COMPLETED and first.arch["width"] == 16
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert failed and all(t.arch["width"] == 4 for t in failed)
    assert all(t.error.startswith("MonitorError: objective 'val_some' was not logged in "
                                  "epoch 0") for t in failed)
    assert sum(t.status is TrialStatus.COMPLETED for t in result.trials) == 2
    # a resume counts the completed trials in its store: its trials that miss the objective
    # are failures too, up to max_failures (was: the first of them stopped it)
    count = len(failed)
    monkeypatch.setattr(LogsSomeWhenWide, "above", 64)  # the module changed: none logs it
    with pytest.raises(SearchError, match=rf"{count + 2} trials failed \(max_failures="
                                          rf"{count + 1}\); last error: MonitorError: "
                                          rf"objective 'val_some' was not logged"):
        _search(tmp_path, space, trainer, budget=4, max_failures=count + 1,
                model=LogsSomeWhenWide, **setup).run()

    # so for an objective= search's function that returns it for some architectures only
    def some(arch: dict) -> dict:
        return {"val_acc": 0.5, **({"val_some": 1.0} if arch["x"] == 1 else {})}

    result = Search(None, {"x": {"choice": [1, 2]}}, objective=some, budget=2, max_failures=5,
                    run_dir=tmp_path / "objective", verbose=False, **setup).run()
    first, *_ = result.trials
    assert first.status is TrialStatus.COMPLETED and first.arch["x"] == 1
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert failed and all(t.error.startswith("MonitorError: objective 'val_some' was not "
                                             "returned") for t in failed)


def test_a_search_stopped_by_max_failures_exports_the_best_so_far(tmp_path, tiny_trainer):
    # was: no best.yaml, best.ckpt or best_config.yaml although trials had completed
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.01, 0.3]}}
    with pytest.raises(SearchError, match=r"2 trials failed \(max_failures=1\)"):
        _search(tmp_path, space, tiny_trainer, budget=8, max_failures=1, seed=0,
                optimizer="RandomSearch", model_init_args={"fail_width": 8}).run()
    with RunStore(tmp_path / "search.db") as store:
        best = store.best("max")
    assert best is not None  # the seed completes a trial before the second failure
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["trial"] == best.trial_id
    assert (tmp_path / "best.ckpt").exists()


def _objective_failing_after(first_waits: threading.Event, message: str):
    """An objective whose first call completes once ``first_waits`` is set and whose later
    calls raise ``message`` (``{c}``: the architecture's value)."""
    calls, lock = [], threading.Lock()

    def objective(arch: dict) -> dict:
        with lock:
            calls.append(arch)
            first = len(calls) == 1
        if not first:
            raise RuntimeError(message.format(c=arch["c"]))
        assert first_waits.wait(60), "the failure never came"
        return {"score": float(arch["c"])}
    return objective


@pytest.mark.parametrize(("max_failures", "message", "stop", "failures"), [
    (0, "broken at c={c}", r"1 trial failed \(max_failures=0\)", 1),
    (9, "broken setup", r"trials [12] and 3 failed the same way in the objective "
                        r"function", 2)],  # was: "in training", though nothing trained
    ids=["max_failures", "same_error_twice"])
def test_a_stop_on_failures_lets_the_running_trials_finish_and_stores_them(
        tmp_path, max_failures, message, stop, failures):
    # was: max_failures (or the same error twice) stopped the search at once, and the trial
    # running in the other worker was abandoned RUNNING: the best exported "so far" missed it
    from concurrent.futures import ThreadPoolExecutor

    failed, seen = threading.Event(), []  # the first call runs till the stop's failure

    def on_trial_end(result) -> None:
        seen.append(result.status)
        if seen.count(TrialStatus.FAILED) == failures:
            failed.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        search = Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score",
                        mode="max", objective=_objective_failing_after(failed, message),
                        trainer={"max_epochs": 1}, budget=6, seed=0, run_dir=tmp_path,
                        max_failures=max_failures, executor=pool, num_workers=2,
                        on_trial_end=on_trial_end, verbose=False)
        with pytest.raises(SearchError, match=stop) as info:
            search.run()
    with RunStore(tmp_path / "search.db") as store:
        statuses = sorted(t.status.value for t in store.trials())  # none started after
        best = store.best("max")
    assert statuses == sorted([TrialStatus.COMPLETED.value] + [TrialStatus.FAILED.value]
                              * failures)
    assert best is not None and best.status is TrialStatus.COMPLETED
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["trial"] == best.trial_id
    assert str(info.value).endswith(" The 1 other trial running then was let finish and "
                                    "stored (not killed); no trial started after the stop.")


def test_a_max_failures_stop_counts_the_trials_that_failed_after_it(tmp_path):
    # was: the message counted the failures when the stop was decided ("1 trials failed"),
    # while the trial running then failed after it and the store held 2
    from concurrent.futures import ThreadPoolExecutor

    stopped, calls, lock = threading.Event(), [], threading.Lock()

    def objective(arch: dict) -> dict:
        with lock:
            calls.append(arch)
            first = len(calls) == 1
        if first:  # fails once the other's failure stopped the search
            assert stopped.wait(60), "the stop never came"
            raise RuntimeError(f"late failure at c={arch['c']}")
        raise RuntimeError(f"early failure at c={arch['c']}")

    def on_trial_end(result) -> None:
        stopped.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        search = Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score",
                        mode="max", objective=objective, trainer={"max_epochs": 1},
                        budget=6, seed=0, run_dir=tmp_path, max_failures=0, executor=pool,
                        num_workers=2, on_trial_end=on_trial_end, verbose=False)
        with pytest.raises(SearchError) as info:
            search.run()
    with RunStore(tmp_path / "search.db") as store:
        failed = store.count(TrialStatus.FAILED)
    msg = str(info.value)
    assert failed == 2 and len(calls) == 2  # none started after the stop
    assert msg.startswith("2 trials failed (max_failures=0); last error: RuntimeError: late "
                          "failure at c="), msg
    assert msg.endswith("no trial started after the stop. 1 of them failed (counted "
                        "above)."), msg


def test_a_trial_let_finish_after_a_stop_that_stops_it_again_is_reopened_too(tmp_path):
    # was (review): its fatal error replaced the store's stopped_by (the first stopping
    # trial's), so a resume after the fix ran only one of the two again
    from concurrent.futures import ThreadPoolExecutor

    stopped, calls, lock = threading.Event(), [], threading.Lock()

    def typos(arch: dict) -> dict:
        with lock:
            calls.append(arch)
            first = len(calls) == 1
        if first:  # runs till the other's fatal error, then fails with one of its own
            assert stopped.wait(60)
            return {"val_acc_typo_a": 1.0}
        stopped.set()
        return {"val_acc_typo_b": 1.0}

    def run(objective):
        with ThreadPoolExecutor(max_workers=2) as pool:
            return Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score",
                          mode="max", objective=objective, trainer={"max_epochs": 1},
                          budget=6, seed=0, run_dir=tmp_path, executor=pool, num_workers=2,
                          verbose=False).run()

    with pytest.raises(SearchError, match="an error every trial would hit"):
        run(typos)
    with RunStore(tmp_path / "search.db") as store:
        failed = sorted(t.trial_id for t in store.trials(TrialStatus.FAILED))
        assert failed == [1, 2] and store.get_meta("stopped_by") == failed
    result = run(lambda arch: {"score": float(arch["c"])})  # the cause fixed: both run again
    assert {t.trial_id: t.status for t in result.trials if t.trial_id in failed} == {
        1: TrialStatus.COMPLETED, 2: TrialStatus.COMPLETED}


class _RunsAtSubmit:
    """An executor that runs each call as it is submitted (as Dask's synchronous scheduler
    does): the trials submitted together are all done at the next wait, which returns them
    in one list."""

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future = Future()
        future.set_result(fn(*args))
        return future


def test_a_stop_on_failures_stores_the_other_results_of_the_same_wait(tmp_path):
    # was: the first result of a wait stopped the search, and the completed trial that came
    # back with it stayed RUNNING in the store, missing from the best exported so far
    calls = []

    def first_fails(arch: dict) -> dict:
        calls.append(arch)
        if len(calls) == 1:
            raise RuntimeError("a broken first trial")
        return {"score": float(arch["c"])}

    search = Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score", mode="max",
                    objective=first_fails,
                    trainer={"max_epochs": 1}, budget=6, seed=0, run_dir=tmp_path,
                    max_failures=0, executor=_RunsAtSubmit(), num_workers=2, verbose=False)
    with pytest.raises(SearchError, match=r"1 trial failed \(max_failures=0\)"):
        search.run()
    with RunStore(tmp_path / "search.db") as store:
        statuses = [t.status for t in store.trials()]
    assert statuses == [TrialStatus.FAILED, TrialStatus.COMPLETED]  # none started after
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["trial"] == 2



def test_the_same_error_in_training_twice_before_any_result_stops_the_search(
        tmp_path, tiny_space, tiny_trainer):
    # was: a user callback's misspelt monitor failed every trial after its first epoch, and
    # the search trained max_failures + 1 trials before it stopped; then it stopped after
    # trials 1 and 2 failed the same way; now CallbackMonitors fails trial 1 with an error
    # every trial would hit (tests/test_callback_monitors.py has the rest)
    from lightning.pytorch.callbacks import EarlyStopping

    trainer = {**tiny_trainer, "callbacks": [EarlyStopping(monitor="val_accuracy")]}
    with pytest.raises(SearchError, match=r"trial 1 failed with an error every trial would "
                                          r"hit: MonitorError: .*'val_accuracy'"):
        _search(tmp_path, tiny_space, trainer, budget=6, max_failures=5).run()
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.FAILED) == 1
    # an error in training that no check foresees: two trials failing the same way stop it
    space = {"width": {"fixed": 4}, "lr": {"float": [0.02, 0.3]}}  # the same width
    with pytest.raises(SearchError, match=r"failed the same way in training .*width=4.*: "
                                          r"RuntimeError: width 4 is broken on purpose"):
        _search(tmp_path / "fixed", space, tiny_trainer, budget=5,
                model_init_args={"fail_width": 4}).run()


class _MissingData(BlobData):
    """A data module whose file is not there: its ``train_dataloader`` raises."""

    def train_dataloader(self):
        raise FileNotFoundError("no such file: data/train.csv")


class _BrokenOptimizer(TinyNet):
    def configure_optimizers(self):
        raise ValueError("bad optimizer setting")


@pytest.mark.parametrize(("model", "data", "where"), [
    (TinyNet, _MissingData, "_MissingData.train_dataloader"),
    (_BrokenOptimizer, BlobData, "_BrokenOptimizer.configure_optimizers")],
    ids=["train_dataloader", "configure_optimizers"])
def test_the_same_error_twice_before_the_first_step_says_so_and_where(tmp_path, model, data,
                                                                      where):
    # was: "trials 1 and 2 failed the same way in training", though no training step ran
    # (the user's hook raised inside Lightning's fit, so not as a build failure either)
    trainer = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1}
    with pytest.raises(SearchError, match=rf"trials 1 and 2 failed the same way before "
                                          rf"training started \(in {where}\) \(every trial "
                                          rf"would; .*\): (FileNotFound|Value)Error"):
        _search(tmp_path, {"width": {"choice": [4, 8]}}, trainer, model=model, data=data,
                budget=4, max_failures=5).run()
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.FAILED) == 2


def test_unlogged_monitor_fails_after_first_trial(tmp_path, tiny_space, tiny_trainer):
    search = _search(tmp_path, tiny_space, tiny_trainer, budget=5, monitor="val_accuracy")
    with pytest.raises(SearchError, match=r"'val_accuracy' was not logged by the validation "
                                          r"of epoch 0.*val_acc.*val_loss"):
        search.run()
    with RunStore(tmp_path / "search.db") as store:
        trials = store.trials()
    assert [t.status for t in trials] == [TrialStatus.FAILED]


class WideLogsAcc(TinyNet):
    """Logs ``val_acc`` only when its width is above 8."""

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        if self.hparams.width > 8:
            self.log("val_acc", (logits.argmax(-1) == y).float().mean())
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))


def test_a_monitor_an_architecture_never_logs_fails_it_alone_once_a_trial_completed(
        tmp_path, tiny_trainer):
    # was: the first width-4 trial stopped the search ("an error every trial would hit"),
    # though trials of width 16 had completed, scored on the same monitor
    space = {"width": {"choice": [4, 16]}, "lr": {"float": [0.05, 0.3]}}
    search = _search(tmp_path, space, tiny_trainer, model=WideLogsAcc, budget=5, seed=2,
                     optimizer="RandomSearch", max_failures=1)
    with pytest.raises(SearchError, match=r"2 trials failed \(max_failures=1\); last error: "
                                          r"MonitorError: monitor 'val_acc' was not logged"):
        search.run()
    with RunStore(tmp_path / "search.db") as store:
        assert [(t.arch["width"], t.status) for t in store.trials()] == [
            (16, TrialStatus.COMPLETED), (16, TrialStatus.COMPLETED),
            (4, TrialStatus.FAILED), (4, TrialStatus.FAILED)]


def test_a_monitor_an_objective_does_not_return_fails_the_call_alone_once_one_completed(
        tmp_path):
    # as a trained trial's (was: the first such call stopped the search); before any
    # completed, it stops the search at once (a misspelt monitor)
    def objective(arch: dict) -> dict:
        return {"val_acc": arch["x"] / 10} if arch["x"] > 1 else {"acc": 0.0}

    kw = {"budget": 3, "seed": 2, "optimizer": "RandomSearch", "verbose": False}
    result = Search(None, {"x": {"choice": [1, 2, 3]}}, objective=objective,
                    run_dir=tmp_path / "later", **kw).run()
    assert [(t.arch["x"], t.status) for t in result.trials] == [
        (2, TrialStatus.COMPLETED), (1, TrialStatus.FAILED), (3, TrialStatus.COMPLETED)]
    with pytest.raises(SearchError, match=r"monitor 'val_acc' was never logged"):
        Search(None, {"x": {"choice": [1, 2, 3]}}, objective=lambda arch: {"acc": 0.0},
               run_dir=tmp_path / "first", **kw).run()


def test_evaluated_architectures_are_not_trained_again(tmp_path, tiny_trainer, capsys):
    space = {"width": {"choice": [8, 16]}, "activation": {"choice": ["relu", "tanh"]}}
    result = _search(tmp_path, space, tiny_trainer, budget=10, verbose=True,
                     optimizer="DiscreteOnePlusOne").run()
    archs = [tuple(sorted(t.arch.items())) for t in result.trials]
    assert len(archs) == len(set(archs)) == 4  # the whole space, each once
    assert "All 4 architectures of the space are evaluated" in capsys.readouterr().out


def test_a_space_used_up_by_failures_before_any_result_says_so_at_once(tmp_path, capsys):
    # was: the failures waiting for a first result to be told were not counted, and the
    # search asked 200 more proposals, then said "The optimizer proposed 200 architectures
    # in a row that were evaluated already or, 0 of them, broke the limits ..."
    def broken(arch: dict) -> dict:
        raise RuntimeError(f"broken at c={arch['c']}")  # another error each: no stop

    result = Search(None, {"c": {"choice": [1, 2, 3, 4]}}, monitor="score", mode="max",
                    objective=broken, trainer={"max_epochs": 1}, budget=8, seed=0,
                    max_failures=10, run_dir=tmp_path, verbose=True).run()
    assert [t.status for t in result.trials] == [TrialStatus.FAILED] * 4
    out = capsys.readouterr().out
    assert "All 4 architectures of the space are evaluated." in out
    assert "in a row" not in out


def test_time_limit_stops_new_trials(tmp_path, tiny_space, tiny_trainer):
    result = _search(tmp_path, tiny_space, {**tiny_trainer, "max_epochs": 1}, budget=None,
                     time_limit=0.5, model_init_args={"sleep": 0.1}).run()
    assert 1 <= len(result.trials) <= 2  # no budget: the time limit alone stopped it


def test_resume_continues_and_keeps_earlier_trials(tmp_path, tiny_space, tiny_trainer):
    first = _search(tmp_path, tiny_space, tiny_trainer, budget=2).run()
    second = _search(tmp_path, tiny_space, tiny_trainer, budget=4).run()
    assert [t.status for t in second.trials] == [TrialStatus.COMPLETED] * 4
    assert second.trials[:2] == first.trials
    again = _search(tmp_path, tiny_space, tiny_trainer, budget=4).run()
    assert again.trials == second.trials  # budget reached: nothing trains


def test_a_resume_removes_checkpoints_a_kill_left_outside_keep_top_k(tmp_path, tiny_space,
                                                                     tiny_trainer):
    _search(tmp_path, tiny_space, tiny_trainer, budget=3, keep_top_k=3).run()
    # the state a kill -9 leaves between storing a trial and pruning its files: completed
    # trials outside the best keep_top_k holding their best.ckpt, a last.ckpt left beside one
    (tmp_path / "trials" / "trial_0001" / "last.ckpt").write_bytes(b"left")
    result = _search(tmp_path, tiny_space, tiny_trainer, budget=3, keep_top_k=1).run()
    kept = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("trials/*/*.ckpt"))
    # was: all 3 best.ckpt and the last.ckpt, kept for good
    assert kept == [f"trials/trial_{result.best.trial_id:04d}/best.ckpt"]
    assert [t.checkpoint is not None for t in result.trials] == \
        [t.trial_id == result.best.trial_id for t in result.trials]


class Interrupted(TinyNet):
    """Its first ``left`` fits are interrupted (Ctrl-C) in the first training step."""

    left = 0

    def training_step(self, batch, batch_idx):
        if Interrupted.left:
            Interrupted.left -= 1
            raise KeyboardInterrupt
        return super().training_step(batch, batch_idx)


def test_a_trial_interrupted_by_the_user_twice_is_run_again_not_failed(
        tmp_path, tiny_space, tiny_trainer, capsys):
    Interrupted.left = 2
    for _ in range(2):  # Lightning turns Ctrl-C into exit(1) after its graceful shutdown
        with pytest.raises((KeyboardInterrupt, SystemExit)):
            _search(tmp_path, tiny_space, tiny_trainer, budget=1, model=Interrupted,
                    verbose=True).run()
        assert "Interrupted: 0 completed, 1 running (re-run on resume); run the same " \
               "command again to resume." in capsys.readouterr().out
    result = _search(tmp_path, tiny_space, tiny_trainer, budget=1, model=Interrupted).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]  # was FAILED: "the
    # search process died 2 times while running this trial"


class SigtermAtFirstRecord(MedianRule):
    """Sends this process SIGTERM when the search records its first trial's curve: right
    after the trial was stored, as a SIGTERM from outside may come (once)."""

    fire = True

    def record(self, key, curve) -> None:
        super().record(key, curve)
        if SigtermAtFirstRecord.fire:
            SigtermAtFirstRecord.fire = False
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_sigterm_right_after_a_trial_was_stored_counts_it_completed(
        tmp_path, tiny_space, tiny_trainer, capsys):
    SigtermAtFirstRecord.fire = True
    with pytest.raises(SystemExit) as info:
        _search(tmp_path, tiny_space, tiny_trainer, budget=2, scheduler=SigtermAtFirstRecord(),
                verbose=True).run()
    assert info.value.code == 143
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.COMPLETED) == 1
    # was: "Interrupted: 0 completed, ...", the stored trial not counted
    assert "Interrupted: 1 completed, 0 running" in capsys.readouterr().out
    result = _search(tmp_path, tiny_space, tiny_trainer, budget=2,
                     scheduler=SigtermAtFirstRecord()).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    db = sqlite3.connect(tmp_path / "search.db")  # each told once, the first on resume
    tells = db.execute("SELECT ask FROM events WHERE kind = 'tell'").fetchall()
    db.close()
    assert sorted(tells) == [(0,), (1,)]


def test_resume_with_another_space_is_refused(tmp_path, tiny_space, tiny_trainer):
    _search(tmp_path, tiny_space, tiny_trainer, budget=1).run()
    other = {**tiny_space, "width": {"choice": [64]}}
    with pytest.raises(ConfigError, match="different space"):
        _search(tmp_path, other, tiny_trainer, budget=2).run()


def test_callable_model_and_nasmodule(tmp_path, tiny_trainer):
    space = {"width": {"choice": [8, 16]}}
    result = _search(tmp_path / "fn", space, tiny_trainer, budget=2, model=tiny_model).run()
    assert result.best is not None
    from lightning_nas import NASModule
    result = _search(tmp_path / "nas", {**space, "lr": {"float": [0.01, 0.1], "log": True}},
                     tiny_trainer, budget=2, model=NASModule,
                     model_init_args={"builder": "tests.helpers.build_mlp",
                                      "num_classes": 3}).run()
    assert len(result.leaderboard()) == 2 and 0.0 <= result.best.score <= 1.0


def test_errors_found_before_training(tmp_path, tiny_space, tiny_trainer):
    with pytest.raises(ConfigError, match="'depht' is not an argument of TinyNet.*'depth'"):
        _search(tmp_path, {**tiny_space, "depht": {"choice": [1, 2]}}, tiny_trainer)
    with pytest.raises(ConfigError, match="unknown optimizer 'NGOp'.*NGOpt"):
        _search(tmp_path, tiny_space, tiny_trainer, optimizer="NGOp")
    with pytest.raises(SpaceError, match="unknown space kind 'chioce'"):
        _search(tmp_path, {"width": {"chioce": [1]}}, tiny_trainer)
    with pytest.raises(ConfigError, match="unknown Trainer argument 'max_epoch'"):
        _search(tmp_path, tiny_space, {"max_epoch": 1})
    with pytest.raises(ConfigError, match="`mode` can be max, min"):
        _search(tmp_path, tiny_space, tiny_trainer, mode="maximum")
    assert not (tmp_path / "search.db").exists()


# ---------------------------------------------------------------- dry build (issue 11, 7)
class _BrokenData(BlobData):
    """A DataModule whose constructor rejects its argument (as a user's might)."""

    def __init__(self, n: int = 256, batch_size: int = 16) -> None:
        if batch_size > 32:
            raise ValueError(f"batch_size {batch_size} does not fit in memory")
        super().__init__(n, batch_size)


_EARLY = "found building the"


def test_a_space_of_one_architecture_is_refused_before_anything_is_written(tmp_path):
    for space in ({"k": {"choice": [3]}}, {"k": {"fixed": 3}, "j": {"choice": ["a"]}}):
        with pytest.raises(SpaceError, match=r"single architecture \(\{'k': 3"):
            Search(None, space, objective=lambda arch: {"val_acc": 1.0}, run_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_misspelt_key_of_a_one_architecture_space_is_named_as_misspelt(tmp_path):
    # was: "the space holds a single architecture ({'widht': 16}): nothing to search; give
    # a key two or more values" -- and, given two, the next run named the misspelt key
    with pytest.raises(ConfigError, match="'widht' is not an argument of TinyNet.*'width'"):
        Search(TinyNet, {"widht": {"choice": [16]}}, data=BlobData, run_dir=tmp_path)
    with pytest.raises(ConfigError, match="'data.n_samples' is not an argument of BlobData"):
        Search(TinyNet, {"data.n_samples": {"fixed": 8}}, data=BlobData, run_dir=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("scheduler", ["asha", "median"])
def test_an_objective_search_refuses_a_scheduler(tmp_path, scheduler):
    # was: accepted and announced ("scheduler asha"), but a function's trial has no epochs to
    # stop between: the scheduler did nothing
    with pytest.raises(ConfigError, match=rf"^scheduler '{scheduler}' stops weak trials between "
                                          r"their epochs; an objective= search's trial .*"
                                          r"leave scheduler out"):
        Search(None, {"x": {"float": [0, 1]}}, objective=lambda arch: {"val_acc": arch["x"]},
               scheduler=scheduler, trainer={"max_epochs": 9}, budget=3, run_dir=tmp_path,
               verbose=False)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("given", [{"model": TinyNet}, {"data": BlobData},
                                   {"model_init_args": {"width": 4}},
                                   {"data_init_args": {"n": 8}}])
def test_an_objective_search_refuses_a_model_or_data_it_would_ignore(tmp_path, given):
    # was: accepted and silently dropped (the model replaced by a placeholder, best.yaml
    # saying model: null)
    name = next(iter(given))
    model = given.pop("model", None)
    with pytest.raises(ConfigError, match=rf"^an objective= search calls the function instead "
                                          rf"of training: .* so {name} would be ignored; drop "
                                          rf"{name} "):
        Search(model, {"x": {"float": [0, 1]}}, objective=lambda arch: {"val_acc": arch["x"]},
               budget=2, run_dir=tmp_path, verbose=False, **given)
    assert not any(tmp_path.iterdir())


def test_an_objective_search_warns_of_trainer_settings_it_ignores(tmp_path):
    # was: trainer={"max_epochs": 5, ...} with objective= ignored without a word
    space = {"x": {"float": [0, 1]}}
    with pytest.warns(UserWarning, match=r"^an objective= search calls the function instead "
                                         r"of training, so trainer settings max_epochs, "
                                         r"min_epochs are ignored \(it uses only accelerator, "):
        Search(None, space, objective=lambda arch: {"val_acc": arch["x"]},
               trainer={"max_epochs": 5, "min_epochs": 2, "accelerator": "cpu"}, budget=2,
               run_dir=tmp_path / "a", verbose=False)
    with warnings.catch_warnings():  # the settings it uses: no warning
        warnings.filterwarnings("error", message="an objective= search")
        result = Search(None, space, objective=lambda arch: {"val_acc": arch["x"]},
                        trainer={"accelerator": "cpu", "devices": 1, "logger": False},
                        budget=2, run_dir=tmp_path / "b", verbose=False).run()
    assert len(result.trials) == 2


@pytest.mark.parametrize(("trainer", "options", "needles"), [
    ({"max_epochs": -5}, {}, ["trainer.max_epochs=-5: must be >= 0, or -1 (no limit)"]),
    ({"accelerator": "tpu"}, {}, ["trainer.accelerator='tpu'", "torch_xla", _EARLY]),
    ({"gradient_clip_algorithm": "x"}, {}, ["trainer.gradient_clip_algorithm='x'", _EARLY]),
    ({"max_epochs": "abc"}, {}, ["trainer.max_epochs='abc'", "expected int or null"]),
    ({}, {"model_init_args": {"activation": "gelu"}},
     ["model.activation='gelu'", "KeyError", _EARLY]),
    ({}, {"data": _BrokenData, "data_init_args": {"batch_size": 64}},
     ["data.batch_size=64", "does not fit in memory", _EARLY]),
])
def test_constructor_errors_are_config_errors_before_any_training(
        tmp_path, tiny_space, tiny_trainer, trainer, options, needles):
    space = {k: v for k, v in tiny_space.items() if k not in options.get("model_init_args", {})}
    with pytest.raises(ConfigError) as info:
        _search(tmp_path, space, {**tiny_trainer, **trainer}, budget=3, **options)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message
    assert not tmp_path.joinpath("search.db").exists() and not any(tmp_path.iterdir())


@pytest.mark.parametrize("argument, message", [
    ("trainer", "trainer must be a mapping of Trainer keyword arguments (trainer={'max_epochs"
                "': 3}), got Trainer <lightning.pytorch.trainer.trainer.Trainer object"),
    ("settings", "settings must be a SearchSettings, got dict {'budget': 3}; give single "
                 "settings as keyword arguments (Search(..., budget=3))"),
    ("model_init_args", "model_init_args must be a mapping of keyword arguments for the "
                        "model class, got list [1]"),
    ("data_init_args", "data_init_args must be a mapping of keyword arguments for the data "
                       "class, got list [1]"),
    ("config", "config must be a mapping of the full config the search came from, got "
               "list [1]"),
    ("on_trial_end", "on_trial_end must be callable with each finished trial's TrialResult, "
                     "got 5"),
])
def test_an_argument_of_the_wrong_kind_is_named_before_anything_is_built(
        tmp_path, tiny_trainer, argument, message):
    # was: "'Trainer' object is not iterable", an AttributeError for a settings dict, a
    # TypeError of dict() for a list; on_trial_end=5 failed after the first trial trained
    value = {"trainer": pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False),
             "settings": {"budget": 3}, "on_trial_end": 5}.get(argument, [1])
    kwargs = {"trainer": tiny_trainer, argument: value}
    with pytest.raises(ConfigError, match=re.escape(message)):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               run_dir=tmp_path / "run", **kwargs)
    assert not (tmp_path / "run").exists()


def test_a_trainer_namespace_with_keys_is_a_mapping(tmp_path, tiny_trainer):
    # was (review): refused, "trainer must be a mapping", though dict() of it worked before
    jsonargparse = pytest.importorskip("jsonargparse")
    search = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=1,
                    trainer=jsonargparse.Namespace(**tiny_trainer), run_dir=tmp_path / "run")
    assert search.trainer == tiny_trainer


def test_space_values_every_architecture_fails_with_name_the_space_key(tmp_path, tiny_trainer):
    space = {"width": {"choice": [8, 16]}, "activation": {"choice": ["gelu", "swish"]}}
    with pytest.raises(ConfigError, match=r"search\.space\.activation='(gelu|swish)': KeyError"):
        _search(tmp_path, space, tiny_trainer)


def test_dry_build_of_a_ddp_trainer_launches_nothing(tmp_path, tiny_space):
    import os

    import torch.distributed as dist
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    before = (dict(os.environ), rank_zero_only.rank, torch.are_deterministic_algorithms_enabled())
    search = _search(tmp_path, tiny_space, {"accelerator": "cpu", "devices": 2,
                                            "strategy": "ddp", "deterministic": True})
    after = (dict(os.environ), rank_zero_only.rank, torch.are_deterministic_algorithms_enabled())
    assert search.trainer["strategy"] == "ddp" and after == before
    assert not dist.is_initialized() and not any(tmp_path.iterdir())


def test_an_architecture_the_model_rejects_is_a_failed_trial(tmp_path, tiny_trainer):
    space = {"width": {"choice": [4, 8, 16]}}
    result = _search(tmp_path, space, tiny_trainer, budget=1, optimizer="RandomSearch", seed=2,
                     model=_picky_model, max_failures=5).run()
    assert result.best is not None and result.best.arch == {"width": 16}
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert all(f"width {t.arch['width']} is not supported" in t.error for t in failed)


def _picky_model(arch: dict) -> TinyNet:
    if arch["width"] != 16:  # a different message per architecture: not fatal
        raise ValueError(f"width {arch['width']} is not supported")
    return TinyNet(width=arch["width"])


def test_the_same_build_error_twice_in_a_row_stops_the_search(tmp_path, tiny_space, tiny_trainer):
    from concurrent.futures import ThreadPoolExecutor

    # a user's executor may run trials elsewhere: the Trainer is not dry-built here
    with ThreadPoolExecutor(max_workers=1) as pool:
        search = _search(tmp_path, tiny_space, {**tiny_trainer, "accelerator": "cpu",
                                                "devices": 0}, budget=5,
                         max_failures=10, executor=pool)
        with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way while "
                                              r"building .*`Trainer\(devices=0\)` value is not"):
            search.run()
    with RunStore(tmp_path / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.FAILED] * 2


def test_the_same_build_error_after_a_completed_trial_does_not_stop_the_search(
        tmp_path, tiny_space, tiny_trainer):
    done, failed = [], []

    def build(arch):  # an error that depends on the architecture, the same words each time
        if done and len(failed) < 2:
            failed.append(arch)
            raise ValueError("hidden must be divisible by heads")
        return TinyNet(width=arch["width"])

    result = _search(tmp_path, tiny_space, tiny_trainer, model=build, budget=3,
                     on_trial_end=done.append).run()
    # was: trials 2 and 3 stopped the search, "every trial would", though trial 1 completed
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] + [
        TrialStatus.FAILED] * 2 + [TrialStatus.COMPLETED] * 2


def test_a_searched_trainer_argument_with_a_model_class(tmp_path, tiny_trainer):
    space = {"width": {"choice": [4, 8]}, "trainer.max_epochs": {"choice": [1, 3]}}
    result = _search(tmp_path, space, tiny_trainer, budget=3).run()  # was a TypeError
    assert all(t.epochs == t.arch["trainer.max_epochs"] for t in result.trials)
    with pytest.raises(ConfigError, match="'model.lr' is a path into a config, and TinyNet "
                                          "is a class: search its argument by its name"):
        _search(tmp_path / "b", {**space, "model.lr": {"choice": [0.1, 0.2]}}, tiny_trainer)


@pytest.mark.parametrize(("key", "param", "needle"), [
    ("trainer.limit_val_batches", {"choice": [1, 0]},
     "space key 'trainer.limit_val_batches' may take 0: trainer.limit_val_batches=0 runs no "
     "validation"),
    ("trainer.max_epochs", {"int": [0, 2]},
     "space key 'trainer.max_epochs' may take 0: trainer.max_epochs=0 runs no validation"),
    ("trainer.limit_train_batches", {"choice": [2, 0]},
     "space key 'trainer.limit_train_batches' may take 0: trainer.limit_train_batches=0 runs "
     "no validation"),
    ("trainer.max_epochs", {"choice": [2, -3]},
     "space key 'trainer.max_epochs' may take -3: trainer.max_epochs=-3: must be >= 0"),
])
def test_every_value_of_a_searched_trainer_argument_is_checked_first(
        tmp_path, tiny_trainer, key, param, needle):
    space = {"width": {"choice": [4, 8]}, key: param}
    with pytest.raises(ConfigError) as info:  # the first sampled value may well be fine
        _search(tmp_path, space, tiny_trainer, budget=2).run()
    assert needle in str(info.value)
    assert not tmp_path.joinpath("search.db").exists()


@pytest.mark.parametrize(("trainer", "space", "needle"), [
    ({"min_epochs": 3, "max_epochs": 2}, {},
     "trainer.min_epochs=3 is above max_epochs=2: Lightning stops at max_epochs and ignores "
     "min_epochs"),
    ({"min_epochs": 2}, {"trainer.max_epochs": {"choice": [2, 1]}},
     "space key 'trainer.max_epochs' may take 1: trainer.min_epochs=2 is above max_epochs=1"),
    ({}, {"trainer.min_epochs": {"choice": [1, 4]}, "trainer.max_epochs": {"choice": [2, 5]}},
     "space keys 'trainer.min_epochs' and 'trainer.max_epochs' may take 4 and 2 in one trial: "
     "trainer.min_epochs=4 is above max_epochs=2"),
], ids=["set", "searched", "both-searched"])
def test_min_epochs_above_max_epochs_is_refused_before_training(
        tmp_path, tiny_trainer, trainer, space, needle):
    # was: taken without a word; Lightning stopped at max_epochs, min_epochs ignored
    with pytest.raises(ConfigError) as info:
        _search(tmp_path, {"width": {"choice": [4, 8]}, **space}, {**tiny_trainer, **trainer},
                budget=2).run()
    assert needle in str(info.value)
    assert not tmp_path.joinpath("search.db").exists()
    _search(tmp_path, {"width": {"choice": [4, 8]}}, {**tiny_trainer, "min_epochs": 1,
                                                      "max_epochs": 1}, budget=1).run()


@pytest.mark.parametrize(("space", "needle"), [
    ({"width": {"choice": [8, "16"]}}, r"space key 'width' may take '16': model.width='16': "
                                       r"expected int \(the annotation of TinyNet.__init__\)"),
    ({"width": {"float": [4, 16]}}, r"space key 'width' may take ([\d.]+): model.width=\1: "
                                    r"expected int"),
    # was: the first key (depth) was blamed for another key's value in the sample
    ({"depth": {"choice": [1, 2]}, "width": {"int": [4, 8]},
      "activation": {"choice": [1, 2]}}, r"space key 'activation' may take (\d): "
                                         r"model.activation=\1: expected str"),
])
def test_every_value_of_a_model_argument_fits_its_annotation_first(
        tmp_path, tiny_trainer, space, needle):
    # was: trials failed, or trained with a value of another type that `fit` of the
    # winner's best_config.yaml then refused
    with pytest.raises(ConfigError) as info:
        _search(tmp_path, {**space, "lr": {"float": [0.01, 0.1]}}, tiny_trainer,
                budget=2).run()
    assert re.search(needle, str(info.value)), str(info.value)
    assert not tmp_path.joinpath("search.db").exists()


@pytest.mark.parametrize("space", [
    {"model.net": {"lin1_size": {"choice": [*range(4, 15), "x"]}}},
    {"model.net": {"lin1_size": {"choice": [*range(4, 15), "x"]}, "lin2_size": {"int": [8, 9]}}},
    {"model.net": {"dropout": {"fixed": 0.1}, "lin1_size": {"choice": [*range(4, 15), "x"]}}},
])
def test_every_value_in_a_group_at_a_node_fits_its_annotation_first(tmp_path, space):
    # was: refused as the dotted key model.net.lin1_size, but accepted in a group, and a
    # trial drawing 'x' failed in training with a TypeError
    from lightning_nas.search.from_config import search_from_config

    config = {"model": {"class_path": "examples.lightningcli.model.LitClassifier",
                        "init_args": {"net": {"class_path": "examples.lightningcli.model.MLP"}}},
              "data": {"class_path": "examples.digits.data.DigitsDataModule"},
              "trainer": {"max_epochs": 1},
              "search": {"space": space, "run_dir": str(tmp_path / "run"), "seed": 0,
                         "budget": 12, "optimizer": "RandomSearch"}}
    with pytest.raises(ConfigError, match=r"^space key 'model\.net\.lin1_size' may take 'x': "
                                          r"model\.net\.lin1_size='x': expected int"):
        search_from_config(config)
    assert not tmp_path.joinpath("run").exists()


def test_lightnings_check_before_training_stops_the_search_at_trial_one(
        tmp_path, tiny_space, tiny_trainer):
    # more batches between validations than an epoch has: Lightning's check in fit (was:
    # "trials 1 and 2 failed the same way ... Lightning's checks before training", its text)
    search = _search(tmp_path, tiny_space, {**tiny_trainer, "val_check_interval": 50},
                     budget=5, max_failures=10)
    with pytest.raises(SearchError, match=r"trial 1 failed with an error every trial would "
                                          r"hit: BatchSettingError: trainer.val_check_interval"
                                          r"=50 is more than the \d+ training batches"):
        search.run()


@pytest.mark.parametrize(("epochs", "batches", "said"), [
    (2, {}, r"2 epochs \(\d+ steps\)"), (1, {}, r"1 epoch \(\d+ steps\)"),
    (1, {"limit_train_batches": 1}, r"1 epoch \(1 step\)")])  # (was: "(1 steps)")
def test_a_trial_that_trains_to_its_end_without_validation_stops_the_search(
        tmp_path, tiny_space, tiny_trainer, epochs, batches, said):
    trainer = {**tiny_trainer, "check_val_every_n_epoch": None, "val_check_interval": 50,
               "max_epochs": epochs, **batches}
    search = _search(tmp_path, tiny_space, trainer, budget=5, max_failures=10)
    with pytest.raises(SearchError, match=rf"trial 1 failed with an error every trial would "
                                          rf"hit: no validation ran in the {said} "
                                          rf"it trained"):  # (was: "the 1 epochs")
        search.run()


@pytest.mark.parametrize(("space", "needle"), [
    ({"trainer.max_epochs": {"choice": [1, 3]},
      "trainer.check_val_every_n_epoch": {"choice": [1, 2]}},
     "space keys 'trainer.max_epochs' and 'trainer.check_val_every_n_epoch' may take 1 and 2 "
     "in one trial: trainer.check_val_every_n_epoch=2 with max_epochs=1 runs no validation"),
    ({"trainer.check_val_every_n_epoch": {"int": [1, 2]}, "trainer.max_epochs": {"int": [1, 6]},
      "trainer.limit_val_batches": {"choice": [1, 2]}},
     "space keys 'trainer.check_val_every_n_epoch' and 'trainer.max_epochs' may take 2 and 1 "
     "in one trial"),
    ({"trainer.check_val_every_n_epoch": {"choice": [None, 1]},
      "trainer.val_check_interval": {"choice": [1.0, 5]}, "trainer.max_steps": {"choice": [3, 9]}},
     "space keys 'trainer.check_val_every_n_epoch', 'trainer.val_check_interval' and "
     "'trainer.max_steps' may take None, 5 and 3 in one trial"),
])
def test_searched_trainer_values_that_validate_only_apart_are_refused_first(
        tmp_path, tiny_trainer, space, needle):
    # was: each value passed alone, and the first trial drawing both trained without a
    # validation and stopped the search as "an error every trial would hit"
    with pytest.raises(ConfigError) as info:
        _search(tmp_path, {"width": {"choice": [4, 8]}, **space}, tiny_trainer, budget=4)
    assert needle in str(info.value)
    assert not tmp_path.joinpath("search.db").exists()
    fine = {"trainer.max_epochs": {"choice": [2, 4]},
            "trainer.check_val_every_n_epoch": {"choice": [1, 2]}}
    _search(tmp_path / "fine", {"width": {"choice": [4, 8]}, **fine}, tiny_trainer, budget=4)


@pytest.mark.parametrize(("fixed", "space"), [
    # the config's max_epochs, which the space replaces in every trial
    ({"max_epochs": 1, "check_val_every_n_epoch": 3},
     {"trainer.max_epochs": {"choice": [3, 4]}}),
    ({"max_epochs": 1, "check_val_every_n_epoch": 1},
     {"trainer.max_epochs": {"choice": [3, 4]}, "trainer.check_val_every_n_epoch": {"choice":
                                                                                 [1, 3]}}),
])
def test_a_trainer_value_the_space_replaces_is_not_judged(tmp_path, tiny_trainer, fixed, space):
    # was: refused ("check_val_every_n_epoch=3 with max_epochs=1 runs no validation"),
    # though no trial runs with the config's value of a searched key
    result = _search(tmp_path, {"width": {"choice": [4, 8]}, **space},
                     {**tiny_trainer, **fixed}, budget=1).run()
    assert result.trials[0].status is TrialStatus.COMPLETED


def test_a_scheduler_judges_the_trainer_values_trials_run_with(tmp_path, tiny_trainer):
    # was: refused ("asha needs validation every epoch ... check_val_every_n_epoch=2"),
    # though the space sets it to 1 in every trial
    space = {"width": {"choice": [4, 8]}, "trainer.check_val_every_n_epoch": {"fixed": 1},
             "trainer.gradient_clip_val": {"choice": [0.0, 1.0]}}
    trainer = {**tiny_trainer, "max_epochs": 2, "check_val_every_n_epoch": 2}
    result = _search(tmp_path, space, trainer, budget=2, scheduler="asha").run()
    assert {t.status for t in result.trials} <= {TrialStatus.COMPLETED, TrialStatus.PRUNED}
    assert len(result.trials) == 2


def test_a_trial_without_an_end_is_warned_of_before_training(tmp_path, tiny_space, tiny_trainer):
    # was: max_epochs -1 (Lightning's "no limit") and nothing else to end a fit: the first
    # trial trained for ever without a word
    from lightning.pytorch.callbacks import EarlyStopping

    endless = {**tiny_trainer, "max_epochs": -1}
    with pytest.warns(UserWarning, match=r"trainer.max_epochs=-1 is Lightning's 'no limit'"):
        _search(tmp_path / "a", tiny_space, endless, budget=1)
    stopped = {**endless, "callbacks": [EarlyStopping("val_acc", mode="max", patience=0)]}
    for trainer in ({**endless, "max_steps": 2}, stopped):
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="trainer.max_epochs=-1")
            _search(tmp_path / "b", tiny_space, trainer, budget=1)


def test_an_early_stopping_on_another_metric_or_mode_is_warned_of_before_training(
        tmp_path, tiny_space, tiny_trainer):
    # was: said nothing; a LightningCLI config's EarlyStopping kept from plain training
    # (val_loss) ended each trial on another metric than the search scores, and one of
    # EarlyStopping's default mode ('min') on val_acc stopped trials as their score rose
    from lightning.pytorch.callbacks import EarlyStopping

    es = "lightning.pytorch.callbacks.EarlyStopping"
    other = {**tiny_trainer, "callbacks": [EarlyStopping("val_loss", patience=1)]}
    with pytest.warns(UserWarning, match=re.escape(
            "trainer.callbacks[0] (EarlyStopping) monitors 'val_loss' (min), the search "
            "'val_acc' (max): a trial stops when val_loss stops improving")):
        _search(tmp_path / "a", tiny_space, other, budget=1)
    node = {"class_path": es, "init_args": {"monitor": "val_acc", "patience": 1}}
    default_mode = {**tiny_trainer, "callbacks": [{"class_path": "lightning.pytorch."
                                                   "callbacks.ModelCheckpoint"}, node]}
    with pytest.warns(UserWarning, match=re.escape(
            "trainer.callbacks[1] (EarlyStopping) monitors 'val_acc' with mode 'min' "
            "(EarlyStopping's default), but the search maximises it")):
        _search(tmp_path / "b", tiny_space, default_mode, budget=1)
    same = {"class_path": es, "init_args": {"monitor": "val_acc", "mode": "max"}}
    for trainer in ({**tiny_trainer, "callbacks": [same]},
                    {**tiny_trainer, "callbacks": EarlyStopping("val_acc", mode="max")}):
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*EarlyStopping")
            _search(tmp_path / "c", tiny_space, trainer, budget=1)
    with pytest.warns(UserWarning, match=r"monitors 'val_loss' with mode 'max', but the "
                      r"search minimises it"):
        _search(tmp_path / "d", tiny_space, {**tiny_trainer, "callbacks": [EarlyStopping(
            "val_loss", mode="max")]}, budget=1, monitor="val_loss", mode="min")


def test_a_model_checkpoint_folder_of_the_users_holds_a_folder_per_trial_unwarned(
        tmp_path, tiny_space, tiny_trainer):
    # was: warned of before training ("writes every trial's checkpoints into one folder"),
    # and every trial's files lay in it side by side (last.ckpt, last-v1.ckpt, ...); now
    # each trial writes into ck/trials/<label>_trial_NNNN (tests/test_user_callbacks.py)
    from lightning.pytorch.callbacks import ModelCheckpoint

    mc = "lightning.pytorch.callbacks.ModelCheckpoint"
    shared = {"class_path": mc, "init_args": {"dirpath": str(tmp_path / "ck"),
                                              "save_last": True}}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*ModelCheckpoint")
        searches = [_search(tmp_path / "a", tiny_space, {**tiny_trainer, "callbacks": callbacks},
                            budget=2)
                    for callbacks in ([shared], ModelCheckpoint(dirpath=tmp_path / "ck"),
                                      [{"class_path": mc}],
                                      [ModelCheckpoint(monitor="val_acc", mode="max")])]
    searches[0].run()
    lasts = sorted(p.relative_to(tmp_path / "ck") for p in (tmp_path / "ck").rglob("last.ckpt"))
    assert [p.parts[0] for p in lasts] == ["trials", "trials"]  # one each, in its own folder
    assert len({p.parent for p in lasts}) == 2


def test_a_plain_space_key_of_the_data_class_says_data_dot_it(tmp_path, tiny_trainer):
    # was: "... is not an argument of TinyNet.__init__; accepted: ..." only
    with pytest.raises(ConfigError, match=re.escape(
            "space key 'shuffle' is not an argument of TinyNet.__init__; it is one of "
            "BlobData's (the data): write data.shuffle; accepted: ")):
        _search(tmp_path, {"shuffle": {"choice": [True, False]}}, tiny_trainer, budget=1)
    with pytest.raises(ConfigError, match=r"'n' is not an argument of TinyNet.__init__; it is "
                                          r"one of BlobData's \(the data\): write data.n;"):
        _search(tmp_path, {"n": {"choice": [64, 128]}}, tiny_trainer, budget=1,
                data=BlobData())
    assert not tmp_path.joinpath("search.db").exists()


def test_a_fixed_trainer_space_key_is_judged_with_the_searched_ones(tmp_path, tiny_trainer):
    # was: taken (a key of one value was left out of the combinations, and each value
    # alone was checked over the config's max_epochs), so every trial drawing 2 failed
    space = {"width": {"choice": [4, 8]}, "trainer.max_epochs": {"fixed": 1},
             "trainer.check_val_every_n_epoch": {"choice": [1, 2]}}
    with pytest.raises(ConfigError, match=r"space keys 'trainer.max_epochs' and "
                                          r"'trainer.check_val_every_n_epoch' may take 1 and 2 "
                                          r"in one trial"):
        _search(tmp_path, space, {**tiny_trainer, "max_epochs": 3}, budget=4)
    assert not tmp_path.joinpath("search.db").exists()


def test_a_trial_whose_searched_trainer_values_skip_validation_is_an_ordinary_failure(
        tmp_path, tiny_trainer):
    # validation every 4 steps: 2 epochs of 1 batch never reach it, of 3 batches do (a
    # count of the data's batches, not checked before training)
    trainer = {**tiny_trainer, "check_val_every_n_epoch": None, "val_check_interval": 4}
    space = {"width": {"choice": [4, 8]}, "trainer.limit_train_batches": {"choice": [1, 3]}}
    result = _search(tmp_path, space, trainer, budget=4, seed=1,
                     optimizer="RandomSearch").run()  # was: SearchError "every trial would"
    assert result.trials[0].arch["trainer.limit_train_batches"] == 1  # none completed yet
    statuses = {t.arch["trainer.limit_train_batches"]: set() for t in result.trials}
    for t in result.trials:
        statuses[t.arch["trainer.limit_train_batches"]].add(t.status)
    assert statuses == {1: {TrialStatus.FAILED}, 3: {TrialStatus.COMPLETED}}
    assert all("no validation ran" in t.error for t in result.trials if t.error)


def test_fit_trial_marks_build_failures(tmp_path, tiny_trainer):
    from lightning_nas.search.trial import TrialSpec, fit_trial

    def spec(name: str, **kw) -> TrialSpec:
        kw.setdefault("trainer", dict(tiny_trainer))
        return TrialSpec(trial_id=1, arch={"width": 4}, trial_dir=str(tmp_path / name),
                         model=TinyNet, data=BlobData, **kw)

    built_badly = fit_trial(spec("a", trainer={"max_epochs": -5}))
    broke_in_fit = fit_trial(spec("b", model_init_args={"fail_width": 4}))
    assert built_badly.build_failed and "max_epochs" in built_badly.error
    assert not broke_in_fit.build_failed and "broken on purpose" in broke_in_fit.error


@pytest.mark.filterwarnings("ignore:Attribute 'backbone' is an instance")
def test_objects_in_model_init_args_start_fresh_in_each_trial_and_finetune_asks_again(
        tmp_path, tiny_trainer):
    backbone = torch.nn.Linear(8, 8)
    original = backbone.weight.detach().clone()
    objects = {"backbone": backbone,
               "optimizer": functools.partial(torch.optim.SGD, lr=0.1)}
    WithBackbone.starts.clear()
    result = _search(tmp_path, {"width": {"choice": [4, 8]}}, tiny_trainer, budget=2,
                     model=WithBackbone, model_init_args={**objects, "squash": halve}
                     ).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2  # was TypeError
    assert len(WithBackbone.starts) >= 3  # dry builds and two trials, all from the given
    assert all(torch.equal(w, original) for w in WithBackbone.starts)  # weights
    with RunStore(tmp_path / "search.db") as store:
        assert store.get_meta("model")["objects"] == {  # a function by its import path
            "backbone": None, "optimizer": None, "squash": "tests.test_search.halve"}
    with pytest.raises(ConfigError, match=r"\(backbone, optimizer\); pass them again"):
        finetune(tmp_path, max_epochs=1)
    tuned = finetune(tmp_path, max_epochs=1, model_init_args=objects)
    assert tuned.status is TrialStatus.COMPLETED and tuned.arch == result.best.arch
    assert WithBackbone.last_squash is halve  # imported again, not the default


def test_a_python_search_ended_by_sigterm_exits_143(tmp_path, tiny_space, tiny_trainer):
    # was: Lightning's SIGTERMException (a SystemExit without a code) went up unchanged, so a
    # script calling Search(...).run() ended with status 0 under `timeout` or a pre-emption
    from tests.test_cli import SigtermAtFirstBatch

    trainer = {**tiny_trainer, "callbacks": [SigtermAtFirstBatch()]}
    with pytest.raises(SystemExit) as info:
        _search(tmp_path, tiny_space, trainer, budget=1).run()
    assert info.value.code == 143
    with RunStore(tmp_path / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.RUNNING]  # re-run on resume


class SigtermInSetup(BlobData):
    """Sends this process SIGTERM in its ``setup``: in a fit, before Lightning's own SIGTERM
    handler is in place (it is set after the data's and the model's setup)."""

    def setup(self, stage: str | None = None) -> None:
        import signal

        os.kill(os.getpid(), signal.SIGTERM)
        super().setup(stage)


class SigtermAtTrainEnd(pl.Callback):
    """Sends this process SIGTERM in the first fit's ``on_train_end``: after Lightning's
    last look at its SIGTERM flag, so the fit ends as usual."""

    def on_train_end(self, trainer, pl_module):
        import signal

        os.kill(os.getpid(), signal.SIGTERM)


def _guarded(run) -> object:
    """Run ``run()`` with a SIGTERM handler that raises ``RuntimeError`` (the default one
    would end the test's process); a search handling SIGTERM puts its own in place."""
    import signal

    def not_the_searchs(signum, frame):
        raise RuntimeError("the search did not handle SIGTERM")

    previous = signal.signal(signal.SIGTERM, not_the_searchs)
    try:
        return run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_before_lightning_handles_it_exits_143_and_counts_no_attempt(
        tmp_path, tiny_space, tiny_trainer, capsys):
    # was: with trials in the search's process only Lightning's handler took SIGTERM, set
    # once fit has set the data and model up: a SIGTERM in the data's setup (or while the
    # model was built, or between trials) killed the search at once, with no SystemExit(143)
    # for a script's finally, and the trial counted as a crash: two of them in a row and a
    # resume stored a sound trial FAILED ("the search process died 2 times")
    with pytest.raises(SystemExit) as info:
        _guarded(_search(tmp_path, tiny_space, tiny_trainer, budget=1, data=SigtermInSetup,
                         verbose=True).run)
    assert info.value.code == 143
    assert "Interrupted: 0 completed, 1 running" in capsys.readouterr().out
    with RunStore(tmp_path / "search.db") as store:  # re-run on resume, attempts uncounted
        assert [t.status for t in store.trials()] == [TrialStatus.RUNNING]
        assert store.attempts(1) == 0


def test_sigterm_after_a_fits_last_check_stops_the_search_after_that_trial(
        tmp_path, tiny_space, tiny_trainer):
    # was: Lightning notes a SIGTERM and acts on it at its next check; one in the fit's
    # last moments (on_train_end) let the fit end as usual and the search went on with the
    # next trial as if nothing had come
    trainer = {**tiny_trainer, "callbacks": [SigtermAtTrainEnd()]}
    with pytest.raises(SystemExit) as info:
        _guarded(_search(tmp_path, tiny_space, trainer, budget=3).run)
    assert info.value.code == 143
    with RunStore(tmp_path / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED]


class Collects(pl.Callback):
    """Appends the epochs each fit trained to the list it was given."""

    def __init__(self, into: list) -> None:
        self.into = into

    def on_train_end(self, trainer, pl_module):
        self.into.append(trainer.current_epoch)


def test_callback_objects_are_copied_per_trial_and_on_trial_end_gets_each_result(
        tmp_path, tiny_space, tiny_trainer):
    # pins what the README says: a callback object (and a list it holds) is copied for each
    # trial, so what it collects never reaches the user's; on_trial_end and the trial's
    # own files are where per-trial results are
    collected, ended = [], []
    callback = Collects(collected)
    _search(tmp_path, tiny_space, {**tiny_trainer, "callbacks": [callback]}, budget=2,
            on_trial_end=ended.append).run()
    assert collected == [] and callback.into is collected  # the trials' copies collected
    assert [(t.trial_id, t.status, len(t.curve)) for t in ended] == [
        (1, TrialStatus.COMPLETED, 2), (2, TrialStatus.COMPLETED, 2)]
    assert (tmp_path / "trials" / "trial_0001" / "logs" / "metrics.csv").is_file()


def test_logger_objects_alone_or_in_a_list_get_no_summary_among_the_users_versions(
        tmp_path, tiny_space, tiny_trainer):
    # was: a list of logger objects got the search's summary as the next free version of
    # the user's experiment (a `version_N` with hparams completed/failed/..., metrics
    # best_so_far/trial_score), a single object none; a configured logger in the list still
    # gets its `logs/search/summary`
    from lightning.pytorch.loggers import CSVLogger

    node = {"class_path": "lightning.pytorch.loggers.CSVLogger"}
    for shape in ("single", "list", "mixed"):
        logger = CSVLogger(tmp_path / shape, name="exp")
        given = {"single": logger, "list": [logger], "mixed": [node, logger]}[shape]
        run = tmp_path / f"run_{shape}"
        _search(run, tiny_space, {**tiny_trainer, "logger": given}, budget=1).run()
        versions = list((tmp_path / shape / "exp").iterdir())
        assert [yaml.safe_load((v / "hparams.yaml").read_text()).get("width") is not None
                for v in versions] == [True], shape  # the trial's version alone
        assert (run / "logs" / "search" / "summary").is_dir() == (shape == "mixed"), shape


def test_ctrl_c_in_a_trial_of_a_python_search_raises_keyboard_interrupt(
        tmp_path, tiny_space, tiny_trainer, capsys):
    # was: SystemExit(1), Lightning's exit after its graceful shutdown: a script's `except
    # KeyboardInterrupt:` never ran and it exited with status 1, not 130 (between trials,
    # or with worker processes, it was a KeyboardInterrupt)
    import signal

    trainer = {**tiny_trainer, "callbacks": [SigintAtFirstBatch()]}
    previous = signal.getsignal(signal.SIGINT)
    # Ctrl-C as in a terminal: a job the shell started in the background ignores SIGINT
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            _search(tmp_path, tiny_space, trainer, budget=1, verbose=True).run()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "Interrupted: 0 completed, 1 running" in capsys.readouterr().out
    with RunStore(tmp_path / "search.db") as store:  # re-run on resume, attempts uncounted
        assert [t.status for t in store.trials()] == [TrialStatus.RUNNING]
        assert store.attempts(1) == 0


def test_a_search_with_process_workers_ended_by_sigterm_exits_143(tmp_path, tiny_space):
    # was: no Trainer runs in the driver, so nothing handled SIGTERM: the process died at
    # once (no "Interrupted" line, no SystemExit(143) for a script's finally)
    import signal
    import sqlite3
    import threading
    import time

    def sigterm_once_a_trial_runs() -> None:
        for _ in range(600):
            db = tmp_path / "search.db"
            if db.exists():
                try:  # (the search may be creating its tables yet)
                    with RunStore(db, read_only=True) as store:
                        if store.count(TrialStatus.RUNNING):
                            break
                except sqlite3.OperationalError:
                    pass
            time.sleep(0.1)
        time.sleep(2.0)
        os.kill(os.getpid(), signal.SIGTERM)

    def too_early(signum, frame):
        raise RuntimeError("SIGTERM came before the search loop")

    search = Search(TinyNet, tiny_space, data=BlobData, budget=2, num_workers=2,
                    executor="process", trainer={"max_epochs": 50, "accelerator": "cpu"},
                    model_init_args={"sleep": 0.05}, run_dir=tmp_path, verbose=False)
    previous = signal.signal(signal.SIGTERM, too_early)
    try:
        threading.Thread(target=sigterm_once_a_trial_runs, daemon=True).start()
        with pytest.raises(SystemExit) as info:
            search.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert info.value.code == 143
    with RunStore(tmp_path / "search.db") as store:  # re-run on resume, attempts uncounted
        running = store.trials(TrialStatus.RUNNING)
        assert running and all(store.attempts(t.trial_id) == 0 for t in running)


def test_an_optimizer_that_needs_a_budget_is_refused_with_a_time_limit_alone(tmp_path):
    # was: its check ran with budget=1, and the search failed at its first ask with a bare
    # AssertionError from nevergrad, after the run folder was written
    with pytest.raises(ConfigError, match="optimizer 'NGOpt' needs a `budget`"):
        Search(None, {"a": {"choice": [1, 2, 3]}, "w": {"int": [1, 20]},
                      "lr": {"float": [1e-4, 1e-1], "log": True}},
               objective=lambda arch: {"val_acc": arch["a"]}, budget=None, time_limit=1.0,
               optimizer="NGOpt", run_dir=tmp_path).run()
    assert not (tmp_path / "search.db").exists()
    Search(None, {"a": {"choice": [1, 2, 3]}}, objective=lambda arch: {"val_acc": arch["a"]},
           budget=None, time_limit=0.5, optimizer="RandomSearch", run_dir=tmp_path,
           verbose=False).run()  # one that needs none runs


def test_an_objective_that_changes_its_arch_leaves_the_result_as_proposed(tmp_path):
    def changes(arch):
        arch["head"]["dropout"] = 0.5  # a model or objective may touch its arguments
        return {"val_acc": arch["head"]["width"] / 10}

    result = Search(None, {"head": {"width": {"choice": [1, 2]}}}, objective=changes, budget=2,
                    run_dir=tmp_path, verbose=False).run()
    assert all(t.arch["head"].keys() == {"width"} for t in result.trials)


def test_an_optimizer_over_its_budget_stops_the_search_with_the_best_exported(tmp_path):
    # was: LHSSearch passed the pre-check, then nevergrad's bare "Over the budget"
    # AssertionError crashed the search part-way (a repeat is asked but not counted in the
    # budget), nothing was exported, and a resume crashed the same way at once
    for attempt in range(2):  # the run, then its resume: the same message, the same export
        with pytest.raises(SearchError) as info:
            Search(None, {"k": {"choice": [1, 2, 3]}, "w": {"int": [1, 4]}},
                   objective=lambda arch: {"val_loss": arch["k"] + arch["w"] / 100},
                   monitor="val_loss", optimizer="LHSSearch", budget=8, seed=0,
                   run_dir=tmp_path, verbose=False).run()
        with RunStore(tmp_path / "search.db") as store:
            completed, best, events = (store.count(TrialStatus.COMPLETED), store.best("min"),
                                       store.events())
        assert re.fullmatch(
            rf"optimizer 'LHSSearch' failed at its ask 9 \(AssertionError: Over the budget "
            rf"\(reinitialize if you want to start over\)\) after {completed} completed "
            rf"trials? \(those running then were let finish\), the best exported: "
            rf"nevergrad's sequence and budget-bound "
            rf"optimizers cannot propose more than `budget` \(8\) candidates, .*new run_dir "
            rf"with the default optimizer \(SurrogateEvolution\) or one without a fixed "
            rf"sequence, e.g. RandomSearch or NGOpt", str(info.value))
        assert 0 < completed < 8
        exported = yaml.safe_load((tmp_path / "best.yaml").read_text())
        assert exported["trial"] == best.trial_id and exported["arch"] == best.arch
        if attempt == 0:
            first = events
            (tmp_path / "best.yaml").unlink()  # the resume writes it again
    assert events == first  # the resume replayed the log exactly, and added nothing


@pytest.mark.slow
def test_an_optimizer_error_lets_the_trials_out_finish(tmp_path):
    # was (2 workers): the trial out when the optimizer failed was killed with the executor,
    # left RUNNING and out of the export; each resume started it again and killed it again.
    # Two threads run the trials (was: executor "process", two spawned workers, seconds of
    # imports each for 0.3 s trials): the loop lets them finish alike
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(2):  # the run, then its resume
        with ThreadPoolExecutor(max_workers=2) as pool, \
                pytest.raises(SearchError, match="optimizer 'LHSSearch' failed at its ask 9"):
            Search(None, {"k": {"choice": [1, 2, 3]}, "w": {"int": [1, 4]}},
                   objective=_slow_loss, monitor="val_loss", optimizer="LHSSearch", budget=8,
                   seed=0, executor=pool, num_workers=2, run_dir=tmp_path,
                   verbose=False).run()
        with RunStore(tmp_path / "search.db") as store:
            assert store.count(TrialStatus.RUNNING) == 0
            assert all(store.attempts(t.trial_id) <= 1 for t in store.trials())
            best = store.best("min")
        assert yaml.safe_load((tmp_path / "best.yaml").read_text())["trial"] == best.trial_id


def _slow_loss(arch: dict) -> dict:
    import time

    time.sleep(0.3)  # still out when the other worker's next ask fails
    return {"val_loss": arch["k"] + arch["w"] / 100}


class TellFailsOnBigLosses(ng.optimizers.base.Optimizer):
    """Proposes at random; its ``tell`` raises when told a loss of 3 or more."""

    def _internal_ask_candidate(self) -> ng.p.Parameter:
        return self.parametrization.sample()

    def _internal_tell_candidate(self, candidate: ng.p.Parameter, loss: float) -> None:
        if loss >= 3:
            raise ValueError(f"cannot take loss {loss}")


ng.optimizers.registry.setdefault("TellFailsOnBigLosses", TellFailsOnBigLosses)


def test_an_optimizer_that_fails_when_told_stops_the_search_and_its_resume(tmp_path):
    # was: the optimizer's own error went up as a bare traceback, nothing exported; a resume
    # tells it the same result again while it replays the log, and failed the same way
    for _ in range(2):  # the run, then its resume (failing as it replays the log)
        with pytest.raises(SearchError, match=r"^optimizer 'TellFailsOnBigLosses' failed at "
                           r"its tell \d+ \(ValueError: cannot take loss 3\.0\d\) after \d+ "
                           r"completed trials? \(those running then were let finish\), "
                           r"the best exported: an error of the optimizer itself, not of a "
                           r"trial; search again in a new run_dir with another optimizer "
                           r"\(e\.g\. SurrogateEvolution, RandomSearch, NGOpt\)$"):
            Search(None, {"k": {"choice": [1, 2, 3]}, "w": {"int": [1, 4]}},
                   objective=lambda arch: {"val_loss": arch["k"] + arch["w"] / 100},
                   monitor="val_loss", optimizer="TellFailsOnBigLosses", budget=12, seed=0,
                   run_dir=tmp_path, verbose=False).run()
        assert yaml.safe_load((tmp_path / "best.yaml").read_text())["arch"]["k"] < 3
        (tmp_path / "best.yaml").unlink()  # the resume writes it again


def _fails(x: np.ndarray) -> float:
    raise ValueError("no loss here")


class RecastInsideFails(ng.optimizers.base.Optimizer):
    """Proposes at random; from its third ask on it runs an inner recast optimizer on a
    function that fails (as nevergrad's MetaModel runs one), whose thread then waits."""

    def _internal_ask_candidate(self) -> ng.p.Parameter:
        if self.num_ask >= 2:
            ng.optimizers.SQP(ng.p.Array(shape=(2,)), budget=4).minimize(_fails)
        return self.parametrization.sample()


ng.optimizers.registry.setdefault("RecastInsideFails", RecastInsideFails)


class RecastFailsAtOnce(RecastInsideFails):
    """As ``RecastInsideFails``, from its first ask: the check before the search fails."""

    def _internal_ask_candidate(self) -> ng.p.Parameter:
        ng.optimizers.SQP(ng.p.Array(shape=(2,)), budget=4).minimize(_fails)
        return self.parametrization.sample()


ng.optimizers.registry.setdefault("RecastFailsAtOnce", RecastFailsAtOnce)


def test_an_optimizer_refused_by_its_check_leaves_no_thread_alive_either(tmp_path):
    # was: the check's ConfigError kept the error as its context, and with it the inner
    # recast optimizer's waiting thread: a script hung after the message (MetaModel)
    before = set(threading.enumerate())
    with pytest.raises(ConfigError, match=r"optimizer 'RecastFailsAtOnce' fails on this space"
                       ) as info:
        Search(None, {"k": {"choice": [1, 2, 3]}}, objective=lambda arch: {"val_loss": 1.0},
               monitor="val_loss", optimizer="RecastFailsAtOnce", budget=6, run_dir=tmp_path,
               verbose=False).run()
    deadline = time.monotonic() + 10
    while (left := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, info.value


def test_an_optimizer_that_fails_leaves_no_thread_that_keeps_the_process_alive(tmp_path):
    # was: MetaModel's inner recast optimizer kept its (non-daemon) thread waiting while the
    # error's frames held it: the command hung after the traceback instead of exiting
    before = set(threading.enumerate())
    with pytest.raises(SearchError, match=r"^optimizer 'RecastInsideFails' failed at its "
                       r"ask 3 \(ValueError: no loss here\) after 2 completed trial") as info:
        Search(None, {"k": {"choice": [1, 2, 3]}, "w": {"int": [1, 4]}},
               objective=lambda arch: {"val_loss": arch["k"] + arch["w"] / 100},
               monitor="val_loss", optimizer="RecastInsideFails", budget=6, seed=0,
               run_dir=tmp_path, verbose=False).run()
    deadline = time.monotonic() + 10
    while (left := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, info.value  # while the error is kept (as an uncaught one is, at exit)


def test_the_show_command_a_failure_stop_names_is_shell_quoted(tmp_path):
    # was: "see `lightning-nas show runs/my run`", which a shell splits at the space
    import shlex

    from lightning_nas.results import TrialResult
    from lightning_nas.search.failures import FailureWatch

    run = tmp_path / "my run"
    with RunStore(run / "search.db") as store:
        for k in (1, 2):
            tid = store.start_trial({"k": k})
            store.finish_trial(TrialResult(trial_id=tid, arch={"k": k},
                                           status=TrialStatus.FAILED, error="boom"))
        with pytest.raises(SearchError) as err:
            FailureWatch(store, 1, run).check_count()
    assert f"see `lightning-nas show {shlex.quote(str(run))}`." in str(err.value)


@pytest.mark.parametrize("hydra", [False, True])
def test_a_trial_the_search_process_died_in_twice_says_how_to_isolate_it(tmp_path, hydra):
    # was: "use executor 'process'" in a Hydra sweep too, which has no executor setting, and
    # no word that a kill from outside (OOM killer, a cluster's scheduler) counts
    from lightning_nas.search.failures import FailureWatch

    with RunStore(tmp_path / "search.db") as store:
        if hydra:
            store.set_meta("hydra", {"overrides": []})
        tid = store.start_trial({"k": 1})
        store.restart_trial(tid)  # its second run, when the process died again
        assert FailureWatch(store, 5, tmp_path).interrupted(False, lambda r: None) == []
        failed = store.get(tid)  # not re-run: FAILED
    assert failed.status is TrialStatus.FAILED
    assert failed.error.startswith("the search process died 2 times while running this trial "
                                   "(it may be what kills it: out of memory, a crash in native "
                                   "code; a kill from outside counts too); ")
    assert ("Hydra launcher" in failed.error) is hydra
    assert ("executor 'process'" in failed.error) is not hydra



@pytest.mark.filterwarnings("ignore")
def test_a_first_failure_is_told_at_once_to_an_optimizer_that_waits_for_each_tell(tmp_path):
    # was: held until the first result, while Cobyla's next ask waited for that tell: the
    # search hung for good (a daemon thread, so that a hang fails the test, not the suite)
    calls: list[int] = []

    def objective(arch: dict) -> dict:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the first trial fails")
        return {"val_loss": 2.0 + arch["x"] / 1000}

    done: list = []
    search = Search(None, {"x": {"int": [0, 999]}}, objective=objective, monitor="val_loss",
                    mode="min", optimizer="Cobyla", budget=2, seed=0, run_dir=tmp_path,
                    verbose=False)
    thread = threading.Thread(target=lambda: done.append(search.run()), daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert done, "the search hung"
    assert [t.status for t in done[0].trials] == [TrialStatus.FAILED, TrialStatus.COMPLETED,
                                                  TrialStatus.COMPLETED]
