"""The metrics of DDP trials: real gloo ranks on CPU, each validating its share of the set."""

from __future__ import annotations

import warnings

import pytest

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData


@pytest.mark.slow
def test_a_secondary_metric_that_differs_across_ranks_is_not_stored_and_is_named(ddp_search):
    # was: every metric besides the monitor and the objectives was stored as rank 0's value,
    # its share of the validation set (the digits example's val_loss under DDP), silently
    run, _ = ddp_search  # conftest: two DDP trials of tests.helpers.ShareNet, two epochs
    with RunStore(run / "search.db") as store:
        trials = store.trials()
    assert len(trials) == 2
    for trial in trials:
        assert trial.status is TrialStatus.COMPLETED
        assert {"val_acc", "val_loss", "train_loss"} <= set(trial.metrics)  # synced: stored
        assert "val_loss_shard" not in trial.metrics  # one rank's share: left out
        assert trial.metrics["val_ranks"] == 1.0  # rank 0's by choice (a hand-made reduction)
        log = (run / "trials" / f"trial_{trial.trial_id:04d}" / "trial.log").read_text()
        assert log.count("metric 'val_loss_shard' differs across the 2 ranks") == 1  # once
        assert ("so the search leaves it out of the trial's stored metrics; log it with "
                "sync_dist=True (or log a torchmetrics metric) to store it") in log
        assert "'val_loss' differs" not in log and "'val_ranks' differs" not in log


@pytest.mark.slow
def test_a_metric_that_differs_across_ranks_is_said_on_the_search_console_once(ddp_search):
    # was: named only in each trial's trial.log (a rank's output), not where the search runs
    _, made = ddp_search  # both trials log these unsynced: said for the first alone
    named = [note.split("'")[1] for note in made["console"]]
    assert sorted(named) == ["val_acc_local", "val_loss_shard", "val_rank"], made["console"]
    assert all(note.startswith("trial 1: ") for note in made["console"])  # not for trial 2
    assert ("trial 1: metric 'val_loss_shard' differs across the 2 ranks: each rank holds its "
            "own share of the validation set, so the search leaves it out of the stored "
            "metrics of each trial where it differs (show, best.yaml, the report; each trial's "
            "trial.log gives the ranks' values); log it with sync_dist=True (or log a "
            "torchmetrics metric) to store it") in made["console"]


@pytest.mark.slow
def test_under_no_distributed_sampler_the_warning_says_each_rank_validates_its_loaders(
        tmp_path):
    # was: "each rank holds its own share of the validation set", which no rank does there:
    # Lightning deals the set out to none, each validates the whole of its own loaders
    trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1,
               "use_distributed_sampler": False, "logger": False,
               "enable_checkpointing": False, "enable_progress_bar": False}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Search("tests.helpers.ShareNet", {"width": {"choice": [8, 16]}}, data=BlobData,
               trainer=trainer, budget=1, run_dir=tmp_path / "run", threads_per_trial=1,
               verbose=False).run()
    console = [str(w.message) for w in caught if "differs across" in str(w.message)]
    assert [note.split("'")[1] for note in console] == ["val_rank"], console  # the rest alike
    said = ("differs across the 2 ranks: under use_distributed_sampler=False no rank holds a "
            "share of the validation set, each validates what its own loaders give (a value "
            "of its rank, a sampler of the loader's own or randomness differs), so the search "
            "leaves it out of the")
    assert said in console[0], console
    log = (tmp_path / "run" / "trials" / "trial_0001" / "trial.log").read_text()
    assert "metric 'val_rank' differs across the 2 ranks (0 to 1): under use_distributed_" \
           "sampler=False no rank holds a share" in log, log
    assert "own share" not in console[0] + log


@pytest.mark.slow
def test_a_monitor_rank_0_alone_logs_stops_the_search_saying_so(tmp_path):
    # was: "monitor 'val_ranks' differs across the 2 ranks (1 to 1; not logged on rank 1)":
    # one value, said to differ from itself, and no word of the rank_zero_only log
    from lightning_nas.errors import SearchError

    trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1,
               "logger": False, "enable_progress_bar": False}
    with pytest.raises(SearchError) as info:
        Search("tests.helpers.ShareNet", {"width": {"choice": [8, 16]}}, data=BlobData,
               trainer=trainer, budget=2, run_dir=tmp_path / "run", threads_per_trial=1,
               monitor="val_ranks", mode="max", verbose=False).run()
    said = str(info.value)
    assert ("monitor 'val_ranks' is logged on rank 0 alone (1; not on rank 1: "
            "self.log(..., rank_zero_only=True), or a log under `if "
            "self.trainer.is_global_zero`), which Lightning's ModelCheckpoint and "
            "EarlyStopping cannot use: log it on every rank, with sync_dist=True "
            "(or log a torchmetrics metric)") in said, said
    assert "differs" not in said
