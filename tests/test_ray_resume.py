"""A Ray search killed and resumed, and what it stores, on one real local cluster (Ray's own
``cluster_utils.Cluster``, two CPUs on the loopback address).

``kill -9`` of the search driver while its Ray actor trains a trial that has a scheduler's
``last.ckpt``: the dead driver's actor ends before the same command resumes, which
completes exactly the budget, re-runs the trial that was running with its architecture,
leaves the completed trials as they were, continues the running one from its
``last.ckpt`` (``tests.helpers.EpochLog``: no fit of it from epoch 0 again) and logs each
epoch of each trial once; the resumed search stores what the same command run inline and
never killed stores (the same
proposals, scores, metrics and epochs), and its ``best.ckpt`` validated afresh scores
``best.yaml``'s score.

Checked by hand beside this one (the audit's report lists how): two workers and a promoted
trial killed mid-fit; Ctrl-C and SIGTERM of the driver (exit 130 and 143, the running
trials kept RUNNING, no actor left); a process-executor run of the same seed (the same
trials; ``fits.threads`` differs, each executor's default).
"""

from __future__ import annotations

import csv
import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import yaml

from lightning_nas import load_best
from lightning_nas.store import RunStore
from tests.helpers import BlobData, TinyNet
from tests.helpers_kill import json_lines
from tests.helpers_ray import ray_folder, trial_actors
from tests.helpers_runs import trial_rows
from tests.launcher import ROOT, Launcher

ray = pytest.importorskip("ray")

LOOPBACK = "127.0.0.1"
SPACE = {"width": {"choice": [4, 8, 16, 32]}, "lr": {"float": [0.05, 0.3]}}
_COLUMNS = "id, arch, status, score, metrics, started, finished, curve, epochs"
#: the cluster's auth mode, set for the head and each driver the test launches
AUTH = {"RAY_AUTH_MODE": "disabled"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head node of two CPUs on the loopback address, in a Ray temp folder of its own
    that starts no idle workers ahead (``ray_folder``)."""
    from ray.cluster_utils import Cluster

    with pytest.MonkeyPatch.context() as patch, ray_folder(patch):  # (removed at the end)
        # one auth mode for the head and the launched drivers (whose environment is the
        # launcher's, from the session's start): a local ray.init() earlier in this test
        # process leaves RAY_AUTH_MODE=token in it (Ray >= 2.59), and a head started so
        # refused the drivers (InvalidAuthToken)
        patch.setenv("RAY_AUTH_MODE", AUTH["RAY_AUTH_MODE"])
        made = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 2, "node_ip_address": LOOPBACK, "include_log_monitor": False,
            "include_dashboard": False})
        try:
            yield made
        finally:
            if ray.is_initialized():
                ray.shutdown()
            made.remove_node(made.head_node, allow_graceful=False)  # (graceful: 5 s more)
            made.shutdown()


def _rows(db: Path) -> dict[int, dict[str, Any]]:
    """The store's trials, read-only (empty before the driver created its tables)."""
    return trial_rows(db, _COLUMNS)


def _epochs_logged(trial_dir: Path) -> Counter:
    """How often each epoch's training row and validation row is in the trial's
    ``metrics.csv`` files (its first fit's and a promotion's ``logs_resumed_*``)."""
    seen: Counter = Counter()
    for path in trial_dir.glob("*/metrics.csv"):
        with path.open() as f:
            for row in csv.DictReader(f):
                for kind, key in (("train", "train_loss"), ("val", "val_loss")):
                    if row.get(key):
                        seen[(kind, int(row["epoch"]))] += 1
    return seen


def _stored(db: Path) -> list[tuple]:
    """What each trial of a finished search stored: its proposal and its results."""
    with RunStore(db) as store:
        return [(t.trial_id, t.arch, t.status, t.score, t.metrics, t.epoch, t.curve,
                 t.epochs) for t in store.trials()]


def _assert_exported_score(run: Path) -> None:
    """``run``'s ``best.ckpt`` validated afresh scores ``best.yaml``'s score and metrics."""
    best = load_best(run)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False,
                         enable_progress_bar=False, enable_model_summary=False)
    got = trainer.validate(TinyNet.load_from_checkpoint(run / "best.ckpt"),
                           datamodule=BlobData(n=256), verbose=False)[0]
    assert got[best["monitor"]] == pytest.approx(best["score"], abs=1e-6)
    for key in got.keys() & best["metrics"].keys():
        assert got[key] == pytest.approx(best["metrics"][key], abs=1e-6), key


@pytest.mark.slow  # a Ray cluster, two searches in processes of their own and one inline
def test_a_ray_search_killed_mid_trial_resumes_to_what_an_inline_search_stores(
        tmp_path, cluster, launcher: Launcher):
    run, budget = tmp_path / "ray", 4
    config = {
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"sleep": 0.1}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 256}},
        "trainer": {"max_epochs": 3, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False,
                    "callbacks": [{"class_path": "tests.helpers.EpochLog"}]},
        "search": {"space": SPACE, "optimizer": "RandomSearch", "budget": budget, "seed": 3,
                   "run_dir": str(run), "progress": False, "executor": "ray",
                   "num_workers": 1, "ray": {"address": cluster.address, "num_cpus": 1},
                   "scheduler": "asha", "min_epochs": 1, "eta": 2, "max_epochs": 3,
                   "monitor": "val_loss", "mode": "min"}}
    cfg = tmp_path / "search.yaml"
    cfg.write_text(yaml.safe_dump(config))
    db, log = run / "search.db", tmp_path / "first.log"
    launcher.launch(["search", cfg], log, cwd=ROOT, env=AUTH)
    deadline = time.monotonic() + 120
    while True:  # a trial past its first epoch (its last.ckpt in place) is training
        assert launcher.exited() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        rows = _rows(db)
        if any(r["status"] == "RUNNING" and (run / "trials" / f"trial_{i:04d}" / "last.ckpt")
               .exists() for i, r in rows.items()):
            break
        time.sleep(0.02)
    actors = trial_actors()
    assert actors  # the driver's actor, training
    assert launcher.kill() == -signal.SIGKILL
    killed = time.monotonic()
    before = _rows(db)
    running = {i: r["arch"] for i, r in before.items() if r["status"] == "RUNNING"}
    assert running, before
    trained = {i: json_lines(run / "trials" / f"trial_{i:04d}" / "epochs.jsonl")
               for i in running}  # EpochLog's: each epoch its fits began, with the fit
    while actors & trial_actors():  # Ray ends a dead driver's actors: nothing writes on
        # (a guard against one that lives on; was 15 s, which Ray's own processes, slowed
        # by a busy machine, could come near)
        assert time.monotonic() - killed < 60, "the killed driver's Ray actor lives on"
        time.sleep(0.05)

    log = tmp_path / "resume.log"
    assert launcher.run(["search", cfg], log, cwd=ROOT, env=AUTH) == 0, log.read_text()[-3000:]
    assert "Resuming" in log.read_text()
    after = _rows(db)
    assert sorted(after) == list(range(1, budget + 1))  # none lost, none doubled
    assert {r["status"] for r in after.values()} <= {"COMPLETED", "PAUSED", "PRUNED"}, after
    for i, arch in running.items():  # re-run, with the architecture it had
        assert after[i]["arch"] == arch
        # on from its last.ckpt: its folder kept, no fit of it from epoch 0 again (was
        # untested under Ray; before that, under a scheduler, trained again from scratch)
        epochs = json_lines(run / "trials" / f"trial_{i:04d}" / "epochs.jsonl")
        killed = trained[i][0]["fit"]
        assert trained[i] and epochs[:len(trained[i])] == trained[i], (i, epochs)
        assert not [e for e in epochs if e["fit"] != killed and e["epoch"] == 0], (i, epochs)
    for i, row in before.items():  # stored before the kill: as it was
        if row["status"] == "COMPLETED":
            assert after[i] == row
    for i, row in after.items():  # each epoch it trained, logged once, as its curve says
        seen = _epochs_logged(run / "trials" / f"trial_{i:04d}")
        assert set(seen.values()) == {1}, (i, seen)
        assert sorted(e for kind, e in seen if kind == "val") == list(range(row["epochs"]))
        assert len(json.loads(row["curve"])) == row["epochs"]
    _assert_exported_score(run)

    # the same command, inline and not killed, stores the same trials: proposals, scores,
    # metrics and epochs (one worker: the same order of results)
    search = {k: v for k, v in config["search"].items() if k not in ("executor", "ray")}
    config.update(search={**search, "executor": "inline", "run_dir": str(tmp_path / "inline")})
    config["model"]["init_args"]["sleep"] = 0.0
    cfg.write_text(yaml.safe_dump(config))
    assert launcher.run(["search", cfg], log, cwd=ROOT, env=AUTH) == 0, log.read_text()[-3000:]
    assert _stored(db) == _stored(tmp_path / "inline" / "search.db")
