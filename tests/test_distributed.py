"""Multi-process trials for real: DDP on CPU (gloo) and a local Ray cluster."""

from __future__ import annotations

import json
import os
import re

import pytest

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_fresh_ranks import (  # noqa: F401 - fresh_exit_search: a fixture
    PIDS,
    fresh_exit_search,
    gone,
)

DDP = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 2,
       "callbacks": [{"class_path": "tests.helpers.RankRecorder"}]}
SPACE = {"width": {"choice": [8, 16, 32]}, "lr": {"float": [0.05, 0.3]}}


@pytest.mark.slow
def test_ddp_trials_train_one_arch_on_both_ranks_and_store_rank0_synced_score(ddp_search):
    run, best = ddp_search  # conftest: two DDP trials, RankRecorder, threads_per_trial=2
    with RunStore(run / "search.db") as store:
        trials = store.trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2  # one row per proposal
    for trial in trials:
        trial_dir = run / "trials" / f"trial_{trial.trial_id:04d}"
        ranks = [json.loads((trial_dir / f"rank{r}.json").read_text()) for r in (0, 1)]
        assert [r["world_size"] for r in ranks] == [2, 2]
        assert [r["threads"] for r in ranks] == [2, 2]  # threads_per_trial (was Lightning's)
        assert ranks[0]["pid"] != ranks[1]["pid"]
        for rank in ranks:  # both ranks built the architecture the driver chose
            assert {k: rank["hparams"][k] for k in trial.arch} == trial.arch
        epochs0, epochs1 = ranks[0]["epochs"], ranks[1]["epochs"]
        assert len(epochs0) == 2
        for e0, e1 in zip(epochs0, epochs1, strict=True):
            assert e0["val_acc"] == pytest.approx(e1["val_acc"])  # synced: equal on ranks
            local_mean = (e0["val_acc_local"] + e1["val_acc_local"]) / 2
            assert e0["val_acc"] == pytest.approx(local_mean, abs=1e-6)
        # the stored score is rank 0's synced value at the best epoch
        assert trial.score == pytest.approx(max(e["val_acc"] for e in epochs0))
    assert best["score"] == max(t.score for t in trials)  # the search's result.best
    assert best["trial_id"] in [t.trial_id for t in trials if t.score == best["score"]]


MAIN_MODEL = """
import sys

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from tests.helpers import BlobData, TinyNet


class MyNet(TinyNet):
    pass


if __name__ == "__main__":
    try:
        Search(MyNet, {"width": {"choice": [8, 16]}}, data=BlobData, budget=1,
               trainer={"accelerator": "cpu", "devices": 2, "strategy": "ddp"},
               run_dir=sys.argv[1])
    except ConfigError as err:
        print(err)
"""


def test_what_rank_processes_cannot_get_is_refused_before_training(tmp_path, launcher):
    # was: a model of the script that runs (__main__) failed every DDP trial with an empty
    # trial.log (the ranks could not unpickle it); a lambda callback crashed the search with
    # a raw PicklingError and left its trial RUNNING
    from lightning.pytorch.callbacks import LambdaCallback

    from lightning_nas.errors import ConfigError

    script = tmp_path / "main_model.py"
    script.write_text(MAIN_MODEL)
    launcher.run([tmp_path / "run"], tmp_path / "log.txt", script, timeout=120)
    out = (tmp_path / "log.txt").read_text()
    assert "MyNet is defined in the script that runs (__main__): move it into a module" in out, out
    lam = LambdaCallback(on_fit_start=lambda trainer, module: None)
    with pytest.raises(ConfigError, match="cannot be sent to the rank processes of DDP trials"):
        Search("tests.helpers.TinyNet", SPACE, data=BlobData, budget=1,
               trainer={**DDP, "callbacks": [lam]}, run_dir=tmp_path / "lambda")
    assert not (tmp_path / "run").exists() and not (tmp_path / "lambda").exists()


def test_a_searched_device_count_that_needs_rank_processes_is_checked_too(tmp_path, launcher):
    # was: with devices 1 in the config and `trainer.devices: {choice: [1, 2]}` searched, a
    # model of __main__ was let through and a trial on two ranks failed ("Can't get
    # attribute 'MyNet'")
    script = tmp_path / "main_model.py"
    script.write_text(MAIN_MODEL.replace('"devices": 2', '"devices": 1').replace(
        '{"width": {"choice": [8, 16]}}',
        '{"width": {"choice": [8, 16]}, "trainer.devices": {"choice": [1, 2]}}'))
    launcher.run([tmp_path / "run"], tmp_path / "log.txt", script, timeout=120)
    out = (tmp_path / "log.txt").read_text()
    assert "DDP trials (space key 'trainer.devices' may take 2) run on rank processes" in out, out
    assert "MyNet is defined in the script that runs (__main__)" in out
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_monitor_that_differs_across_ranks_stops_the_search(tmp_path):
    # was: the score stored was rank 0's best, while best.ckpt was saved where all ranks
    # agreed it improved: another epoch (TinyNet logs val_acc without sync_dist)
    from lightning_nas.errors import SearchError

    with pytest.raises(SearchError, match=r"monitor 'val_acc' differs across the 2 ranks .*: "
                                          r"log it with sync_dist=True"):
        Search("tests.helpers.TinyNet", SPACE, data=BlobData, trainer=DDP, budget=2,
               run_dir=tmp_path, verbose=False).run()


@pytest.mark.slow
def test_a_diverged_ddp_trial_fails_alone_and_an_unsynced_objective_stops_the_search(tmp_path):
    # was: NaN on both ranks "differed" (nan to nan), a fatal error that stopped the search
    # at its first diverged trial; and an objective logged without sync_dist was stored
    # as rank 0's shard, silently
    from lightning_nas.errors import SearchError

    # and a diverged trial trained on to its max_epochs: now both ranks stop at the
    # validation where it became NaN (Lightning's reduce_boolean_decision)
    trainer = {**DDP, "max_epochs": 1}
    result = Search("tests.helpers.SyncedTinyNet", {"width": {"choice": [8, 16]}},
                    data=BlobData, trainer=DDP,  # max_epochs 2
                    model_init_args={"nan_width": 8}, budget=2, run_dir=tmp_path / "nan",
                    verbose=False).run()
    by_width = {t.arch["width"]: t for t in result.trials}
    assert by_width[8].status is TrialStatus.FAILED
    assert "monitored 'val_acc' is nan" in by_width[8].error
    assert by_width[8].epochs == 1 and by_width[8].curve_epochs == [1]
    assert by_width[16].epochs == 2
    assert by_width[16].status is TrialStatus.COMPLETED
    assert result.best.trial_id == by_width[16].trial_id
    with pytest.raises(SearchError, match=r"objective 'val_rank' differs across the 2 ranks "
                                          r"\(0 to 1\)"):
        Search("tests.helpers.SyncedTinyNet", {"width": {"choice": [8, 16]}}, data=BlobData,
               trainer=trainer, objectives={"val_acc": "max", "val_rank": "min"}, budget=2,
               run_dir=tmp_path / "objective", verbose=False).run()


@pytest.mark.slow
def test_a_rank_that_fails_after_rank_0_completed_fails_the_trial(tmp_path):
    # was: rank 0's COMPLETED result.json won and rank 1's error was dropped: the trial read
    # COMPLETED, with no error anywhere
    trainer = {**DDP, "callbacks": [{"class_path": "tests.helpers.FailsOnRank1AtTheEnd"}]}
    result = Search("tests.helpers.SyncedTinyNet", SPACE, data=BlobData, trainer=trainer,
                    budget=1, max_failures=0, run_dir=tmp_path, verbose=False)
    from lightning_nas.errors import SearchError

    with pytest.raises(SearchError, match=r"max_failures=0"):
        result.run()
    with RunStore(tmp_path / "search.db") as store:
        (trial,) = store.trials()
    assert trial.status is TrialStatus.FAILED
    assert "rank 1 fails after training on purpose" in (tmp_path / "trials" / "trial_0001"
                                                        / "trial.log").read_text()


@pytest.mark.slow
def test_trials_that_fail_the_same_way_on_rank_1_stop_the_search(tmp_path, monkeypatch):
    # was: the error's first line named the trial's own trial.log ("rank 1 failed the trial
    # before reporting a result; end of /.../trial_0001/trial.log:"), not the exception, and
    # differed in every trial, so the search never saw two trials fail the same way
    from lightning_nas.errors import SearchError
    from lightning_nas.search import ranks

    monkeypatch.setattr(ranks, "_GRACE_S", 0.5)  # rank 0 waits in a collective meanwhile
    search = Search("tests.helpers.RankFaults", {"width": {"choice": [8, 16]}}, data=BlobData,
                    model_init_args={"fault": "raise"}, budget=4, max_failures=4,
                    trainer={**DDP, "max_epochs": 1, "callbacks": None},
                    optimizer="RandomSearch", run_dir=tmp_path, verbose=False)
    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way in training .*"
                                          r": rank 1 failed the trial: RuntimeError: rank 1 "
                                          r"breaks on purpose\. To go on, fix it and run the same "
                                          r"search again \(trials 1 and 2 run again\)"):
        search.run()
    with RunStore(tmp_path / "search.db") as store:
        errors = [t.error for t in store.trials()]
    assert len(errors) == 2 and all("trial.log" in e.splitlines()[1] for e in errors)


#: where a trial failed whose rank 1 has no training data, and the first line of its error
BEFORE_TRAINING = "before training started (in NoTrainDataOnRank1.train_dataloader)"
NO_DATA = "rank 1 failed the trial: FileNotFoundError: rank 1 has no data/train.csv"


@pytest.mark.slow
@pytest.mark.parametrize("fresh", [False, True], ids=["rank_group", "fresh_ranks"])
def test_trials_that_fail_on_rank_1_before_training_say_where(tmp_path, monkeypatch, fresh):
    # was: "trials 1 and 2 failed the same way in training": where a trial failed was rank
    # 0's, which had reached its first training step (and waited there, or failed as its
    # peer left), while rank 1 failed in its train_dataloader
    from lightning_nas.errors import SearchError
    from lightning_nas.search import ranks

    monkeypatch.setattr(ranks, "_GRACE_S", 0.5)  # rank 0 waits in a collective meanwhile
    if fresh:
        monkeypatch.setenv("LIGHTNING_NAS_FRESH_RANKS", "1")
    # on fresh ranks one trial (two fresh processes that import torch and Lightning, not
    # four): the stop of two trials that failed alike says what each trial's result says
    # (where it failed, its error's first line: asserted below), as the rank group's show
    ended = []
    search = Search("tests.helpers.RankFaults", {"width": {"choice": [8, 16]}},
                    data="tests.helpers.NoTrainDataOnRank1", budget=1 if fresh else 4,
                    max_failures=0 if fresh else 4,
                    trainer={**DDP, "max_epochs": 1, "callbacks": None},
                    optimizer="RandomSearch", run_dir=tmp_path, verbose=False,
                    on_trial_end=ended.append)
    stop = (r"1 trial failed \(max_failures=0\)" if fresh else
            rf"trials 1 and 2 failed the same way {re.escape(BEFORE_TRAINING)} .*: "
            rf"{re.escape(NO_DATA)}\. To go on, fix it and run the same search again "
            rf"\(trials 1 and 2 run again\)")
    with pytest.raises(SearchError, match=stop):
        search.run()
    # each trial: rank 1's error in its trial.log, and the first line of its error (with
    # fresh ranks was: printed nowhere, and the trial stored rank 0's symptom, gloo's
    # "Connection closed by peer"); its ranks gone (was test_ranks' own fresh trial)
    with RunStore(tmp_path / "search.db") as store:
        trials = store.trials()
    assert [t.trial_id for t in ended] == [t.trial_id for t in trials] == (
        [1] if fresh else [1, 2])
    assert [(t.failed_in, t.build_failed) for t in ended] == [(BEFORE_TRAINING, False)] * len(
        trials)
    for trial in trials:
        log = (tmp_path / "trials" / f"trial_{trial.trial_id:04d}" / "trial.log").read_text()
        pids = dict(re.findall(PIDS, log))
        assert sorted(pids) == ["0", "1"] and gone(pids.values()), log[-3000:]
        assert "rank 1: FileNotFoundError: rank 1 has no data/train.csv" in log, log[-3000:]
        assert trial.error.splitlines()[0] == NO_DATA


@pytest.mark.slow
@pytest.mark.parametrize("fresh", [False, True], ids=["rank_group", "fresh_ranks"])
def test_trials_whose_rank_1_dies_say_it_died_not_where_rank_0_failed(tmp_path, monkeypatch,
                                                                      request, fresh):
    # was: "trials 1 and 2 failed the same way in training (every trial would; ...)" (or
    # "before training started"): where rank 0 failed once its peer was gone, as if rank 1
    # had said where it died (it wrote nothing); a rank process that died sends no Python
    # error, so neither where nor that every trial would was known
    from lightning_nas.errors import SearchError
    from lightning_nas.search import ranks

    if fresh:  # one such trial on fresh ranks, made once for test_ranks' test of it too: the
        # stop of two alike is made of their errors' first line (the rank group's below)
        trial = request.getfixturevalue("fresh_exit_search")
        assert trial["error"].splitlines()[0] == "rank 1 died (exit code 3)"
        assert trial["said"] is not None, "the search raised no SearchError"
        assert trial["said"].startswith("1 trial failed (max_failures=0); last error: rank 1 "
                                        "died (exit code 3). "), trial["said"]
        assert "in training" not in trial["said"]
        return
    monkeypatch.setattr(ranks, "_GRACE_S", 0.5)  # rank 0 waits in a collective meanwhile
    search = Search("tests.helpers.RankFaults", {"width": {"choice": [8, 16]}},
                    model_init_args={"fault": "exit"}, data=BlobData, budget=4,
                    max_failures=4, trainer={**DDP, "max_epochs": 1, "callbacks": None},
                    optimizer="RandomSearch", run_dir=tmp_path, verbose=False)
    with pytest.raises(SearchError) as err:
        search.run()
    said = str(err.value)
    assert said.startswith("rank 1 of trials 1 and 2 died the same way (exit code 3) before "
                           "any trial completed; no Python error came back"), said
    assert ": rank 1 died (exit code 3). To go on, fix it and run the same search again " \
           "(trials 1 and 2 run again)" in said and "in training" not in said, said


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_a_spawning_ddp_strategy_object_is_refused_before_training(tmp_path, start_method):
    # was: only names and nodes were refused; DDPStrategy(start_method="spawn") given as an
    # object trained, and every trial failed with EADDRINUSE, shown as "rank 0 failed the
    # trial: ProcessRaisedException:" (its message starts on a new line)
    from lightning.pytorch.strategies import DDPStrategy

    from lightning_nas.errors import ConfigError

    strategy = DDPStrategy(start_method=start_method)
    with pytest.raises(ConfigError, match=rf"^trainer\.strategy=DDPStrategy\(start_method="
                                          rf"'{start_method}'\) is not supported for trials; "
                                          rf"use strategy='ddp'"):
        Search("tests.helpers.SyncedTinyNet", SPACE, data=BlobData, budget=1,
               trainer={**DDP, "strategy": strategy}, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    Search("tests.helpers.SyncedTinyNet", SPACE, data=BlobData, budget=1,  # popen: as "ddp"
           trainer={**DDP, "strategy": DDPStrategy()}, run_dir=tmp_path / "popen")


def test_a_one_device_ddp_trial_leaves_the_callers_launcher_variables_as_they_were(
        tmp_path, monkeypatch):
    # was: the trial trains in the search's process, where Lightning's launcher set
    # MASTER_ADDR, MASTER_PORT, NODE_RANK and LOCAL_RANK for its (no) other ranks and left
    # them: a later DDP Trainer of the caller took its processes for ones a launcher had
    # started (LOCAL_RANK set: it started no rank 1) and reused the stale MASTER_PORT
    from lightning.fabric.plugins.environments import LightningEnvironment

    from lightning_nas.search.lifetime import DISTRIBUTED_VARIABLES

    for name in DISTRIBUTED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MASTER_ADDR", "localhost")  # the caller's own: kept as it was
    one = {**DDP, "devices": 1, "max_epochs": 1, "callbacks": None}
    result = Search("tests.helpers.SyncedTinyNet", {"width": {"choice": [8, 16]}},
                    data=BlobData, trainer=one, budget=1, run_dir=tmp_path / "run",
                    verbose=False).run()
    assert result.best.status is TrialStatus.COMPLETED, result.best.error
    left = {name: os.environ[name] for name in DISTRIBUTED_VARIABLES if name in os.environ}
    assert left == {"MASTER_ADDR": "localhost"}
    assert not LightningEnvironment().creates_processes_externally
