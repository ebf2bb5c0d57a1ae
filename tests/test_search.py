"""The multi-trial driver with real Trainers, real nevergrad and real SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.errors import ConfigError, SearchError, SpaceError
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers import BlobData, TinyNet, tiny_model


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


def test_too_many_failures_stop_the_search(tmp_path, tiny_trainer):
    space = {"width": {"fixed": 4}, "lr": {"float": [0.02, 0.3]}}
    with pytest.raises(SearchError, match="3 trials failed .*max_failures=2.*broken on purpose"):
        _search(tmp_path, space, tiny_trainer, budget=5, max_failures=2,
                model_init_args={"fail_width": 4}).run()


def test_unlogged_monitor_fails_after_first_trial(tmp_path, tiny_space, tiny_trainer):
    search = _search(tmp_path, tiny_space, tiny_trainer, budget=5, monitor="val_accuracy")
    with pytest.raises(SearchError, match=r"'val_accuracy' was never logged.*val_acc.*val_loss"):
        search.run()
    with RunStore(tmp_path / "search.db") as store:
        trials = store.trials()
    assert [t.status for t in trials] == [TrialStatus.FAILED]


def test_evaluated_architectures_are_not_trained_again(tmp_path, tiny_trainer, capsys):
    space = {"width": {"choice": [8, 16]}, "activation": {"choice": ["relu", "tanh"]}}
    result = _search(tmp_path, space, tiny_trainer, budget=10, verbose=True,
                     optimizer="DiscreteOnePlusOne").run()
    archs = [tuple(sorted(t.arch.items())) for t in result.trials]
    assert len(archs) == len(set(archs)) == 4  # the whole space, each once
    assert "All 4 architectures of the space are evaluated" in capsys.readouterr().out


def test_time_limit_stops_new_trials(tmp_path, tiny_space, tiny_trainer):
    started = time.monotonic()
    result = _search(tmp_path, tiny_space, {**tiny_trainer, "max_epochs": 1}, budget=None,
                     time_limit=0.5, model_init_args={"sleep": 0.1}).run()
    assert 1 <= len(result.trials) <= 2
    assert time.monotonic() - started < 10


def test_resume_continues_and_keeps_earlier_trials(tmp_path, tiny_space, tiny_trainer):
    first = _search(tmp_path, tiny_space, tiny_trainer, budget=2).run()
    second = _search(tmp_path, tiny_space, tiny_trainer, budget=4).run()
    assert [t.status for t in second.trials] == [TrialStatus.COMPLETED] * 4
    assert second.trials[:2] == first.trials
    again = _search(tmp_path, tiny_space, tiny_trainer, budget=4).run()
    assert again.trials == second.trials  # budget reached: nothing trains


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
