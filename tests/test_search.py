"""The multi-trial driver with real Trainers, real nevergrad and real SQLite: a search's
run, its seeds, its resume and what each trial is built from. Its failures, stops, checks
before training, signals and optimizer errors are in the ``test_search_*`` files."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml

from lightning_nas import Search, finetune
from lightning_nas.errors import ConfigError, NoCompletedTrialError
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers_models import TinyNet, tiny_model
from tests.helpers_search import tiny_search


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


def test_search_trains_budget_and_exports_best(tmp_path, tiny_space, tiny_trainer, capsys):
    result = tiny_search(tmp_path, tiny_space, tiny_trainer, budget=4, keep_top_k=2,
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


@pytest.mark.parametrize("k", [-1, 1.5, "2", True])
def test_a_result_leaderboard_of_no_count_is_refused_naming_it(tmp_path, k):
    # was: leaderboard(-1) every trial but the worst (a slice), leaderboard(1.5) a
    # TypeError about slice indices, leaderboard(True) the best alone: as the store's is
    # refused, and its 0 and None kept
    from lightning_nas import SearchResult
    from lightning_nas.results import TrialResult

    trials = [TrialResult(i, {"x": i}, TrialStatus.COMPLETED, i / 10) for i in (1, 2, 3)]
    result = SearchResult(best=trials[-1], trials=trials, run_dir=tmp_path, monitor="acc",
                          mode="max")
    with pytest.raises(ValueError, match=re.escape(f"leaderboard k must be None or a count "
                                                   f">= 0, got {k!r}")):
        result.leaderboard(k)
    assert [t.trial_id for t in result.leaderboard(2)] == [3, 2] and result.leaderboard(0) == []
    assert len(result.leaderboard(None)) == 3


@pytest.mark.parametrize("optimizer", ["RandomSearch", "NGOpt"])
def test_same_seed_same_proposals_and_scores(tmp_path, tiny_space, tiny_trainer, optimizer):
    runs = [tiny_search(tmp_path / name, tiny_space, tiny_trainer, budget=3, seed=seed,
                        optimizer=optimizer).run() for name, seed in
            (("a", 7), ("b", 7), ("c", 8))]
    a, b, c = ([(t.arch, t.score) for t in r.trials] for r in runs)
    assert a == b
    assert [arch for arch, _ in a] != [arch for arch, _ in c]


def test_evaluated_architectures_are_not_trained_again(tmp_path, tiny_trainer, capsys):
    space = {"width": {"choice": [8, 16]}, "activation": {"choice": ["relu", "tanh"]}}
    result = tiny_search(tmp_path, space, tiny_trainer, budget=10, verbose=True,
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

    with pytest.raises(NoCompletedTrialError) as info:  # none completed: no best
        Search(None, {"c": {"choice": [1, 2, 3, 4]}}, monitor="score", mode="max",
               objective=broken, budget=8, seed=0, max_failures=10, run_dir=tmp_path,
               verbose=True).run()
    assert [t.status for t in info.value.result.trials] == [TrialStatus.FAILED] * 4
    out = capsys.readouterr().out
    assert "All 4 architectures of the space are evaluated." in out
    assert "in a row" not in out


def test_time_limit_stops_new_trials(tmp_path, tiny_space, tiny_trainer):
    result = tiny_search(tmp_path, tiny_space, {**tiny_trainer, "max_epochs": 1}, budget=None,
                         time_limit=0.5, model_init_args={"sleep": 0.1}).run()
    assert 1 <= len(result.trials) <= 2  # no budget: the time limit alone stopped it


def test_resume_continues_and_keeps_earlier_trials(tmp_path, tiny_space, tiny_trainer):
    first = tiny_search(tmp_path, tiny_space, tiny_trainer, budget=2).run()
    second = tiny_search(tmp_path, tiny_space, tiny_trainer, budget=4).run()
    assert [t.status for t in second.trials] == [TrialStatus.COMPLETED] * 4
    assert second.trials[:2] == first.trials
    again = tiny_search(tmp_path, tiny_space, tiny_trainer, budget=4).run()
    assert again.trials == second.trials  # budget reached: nothing trains


def test_a_resume_removes_checkpoints_a_kill_left_outside_keep_top_k(tmp_path, tiny_space,
                                                                     tiny_trainer):
    tiny_search(tmp_path, tiny_space, tiny_trainer, budget=3, keep_top_k=3).run()
    # the state a kill -9 leaves between storing a trial and pruning its files: completed
    # trials outside the best keep_top_k holding their best.ckpt, a last.ckpt left beside one
    (tmp_path / "trials" / "trial_0001" / "last.ckpt").write_bytes(b"left")
    result = tiny_search(tmp_path, tiny_space, tiny_trainer, budget=3, keep_top_k=1).run()
    kept = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("trials/*/*.ckpt"))
    # was: all 3 best.ckpt and the last.ckpt, kept for good
    assert kept == [f"trials/trial_{result.best.trial_id:04d}/best.ckpt"]
    assert [t.checkpoint is not None for t in result.trials] == \
        [t.trial_id == result.best.trial_id for t in result.trials]


def test_resume_with_another_space_is_refused(tmp_path, tiny_space, tiny_trainer):
    tiny_search(tmp_path, tiny_space, tiny_trainer, budget=1).run()
    other = {**tiny_space, "width": {"choice": [64]}}
    with pytest.raises(ConfigError, match="different space"):
        tiny_search(tmp_path, other, tiny_trainer, budget=2).run()


def test_callable_model_and_nasmodule(tmp_path, tiny_trainer):
    space = {"width": {"choice": [8, 16]}}
    result = tiny_search(tmp_path / "fn", space, tiny_trainer, budget=2, model=tiny_model).run()
    assert result.best is not None
    from lightning_nas import NASModule
    result = tiny_search(tmp_path / "nas", {**space, "lr": {"float": [0.01, 0.1], "log": True}},
                         tiny_trainer, budget=2, model=NASModule,
                         model_init_args={"builder": "tests.helpers.build_mlp",
                                          "num_classes": 3}).run()
    assert len(result.leaderboard()) == 2 and 0.0 <= result.best.score <= 1.0


@pytest.mark.filterwarnings("ignore:Attribute 'backbone' is an instance")
def test_objects_in_model_init_args_start_fresh_in_each_trial_and_finetune_asks_again(
        tmp_path, tiny_trainer):
    backbone = torch.nn.Linear(8, 8)
    original = backbone.weight.detach().clone()
    objects = {"backbone": backbone,
               "optimizer": functools.partial(torch.optim.SGD, lr=0.1)}
    WithBackbone.starts.clear()
    result = tiny_search(tmp_path, {"width": {"choice": [4, 8]}}, tiny_trainer, budget=2,
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
    tiny_search(tmp_path, tiny_space, {**tiny_trainer, "callbacks": [callback]}, budget=2,
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
        tiny_search(run, tiny_space, {**tiny_trainer, "logger": given}, budget=1).run()
        versions = list((tmp_path / shape / "exp").iterdir())
        assert [yaml.safe_load((v / "hparams.yaml").read_text()).get("width") is not None
                for v in versions] == [True], shape  # the trial's version alone
        assert (run / "logs" / "search" / "summary").is_dir() == (shape == "mixed"), shape


def test_an_objective_that_changes_its_arch_leaves_the_result_as_proposed(tmp_path):
    def changes(arch):
        arch["head"]["dropout"] = 0.5  # a model or objective may touch its arguments
        return {"val_acc": arch["head"]["width"] / 10}

    result = Search(None, {"head": {"width": {"choice": [1, 2]}}}, objective=changes, budget=2,
                    run_dir=tmp_path, verbose=False).run()
    assert all(t.arch["head"].keys() == {"width"} for t in result.trials)
