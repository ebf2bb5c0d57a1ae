"""An exported model scores what the search said it scored: for each feature that decides
which checkpoint a trial keeps (a scheduler's pause and promotion, several objectives, a
warm start, Trainer settings that move validation, a user's own ``ModelCheckpoint`` and
``EarlyStopping``, DDP, exports again and ``--trial``), ``RUN/best.ckpt`` loaded into the
model class and validated by a fresh one-device Trainer on the same data gives
``best.yaml``'s score and metrics, and the checkpoint is of ``best.yaml``'s epoch."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from lightning_nas import Search, export_best
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers import BlobData, TinyNet  # the class path its configs name, read back
from tests.helpers_callbacks import HELD, HOLD_AT
from tests.helpers_kill import json_lines
from tests.helpers_ranks import SyncedTinyNet
from tests.helpers_runs import assert_scores_as_exported

#: a space whose trials score apart (small learning rates: accuracy still climbing)
SPACE = {"width": {"choice": [4, 8, 16]}, "lr": {"float": [0.002, 0.05], "log": True}}
TRAINER = {"max_epochs": 3, "accelerator": "cpu", "devices": 1, "logger": False}


def _search(run: Path, model: type[pl.LightningModule] = TinyNet, batch_size: int = 32,
            **kwargs: Any) -> None:
    kwargs.setdefault("trainer", TRAINER)
    kwargs.setdefault("budget", 3)
    Search(model, SPACE, data=BlobData, data_init_args={"batch_size": batch_size}, seed=0,
           monitor=kwargs.pop("monitor", "val_acc"), mode=kwargs.pop("mode", "max"),
           run_dir=run, verbose=False, **kwargs).run()


def test_a_search_exported_again_and_trial_by_trial_scores_as_said(tmp_path):
    run = tmp_path / "run"
    _search(run)
    first = assert_scores_as_exported(run)
    assert export_best(run) == first  # again: the same files
    assert_scores_as_exported(run)
    with RunStore(run / "search.db") as store:
        others = [t.trial_id for t in store.with_checkpoint(TrialStatus.COMPLETED)
                  if t.trial_id != first["trial"]]
    assert others
    for trial in (*others, first["trial"]):  # a non-best, then the best again
        assert export_best(run, trial_id=trial)["trial"] == trial
        assert_scores_as_exported(run)
    export_best(run)
    assert assert_scores_as_exported(run)["trial"] == first["trial"]


@pytest.mark.parametrize("settings", [
    {"val_check_interval": 0.5},
    {"check_val_every_n_epoch": 2, "max_epochs": 4},
    {"val_check_interval": 5, "check_val_every_n_epoch": None},  # across epochs
    {"accumulate_grad_batches": 2, "val_check_interval": 0.5},
    {"limit_val_batches": 1},
], ids=["twice-an-epoch", "every-2-epochs", "every-5-batches", "accumulate-2", "one-batch"])
def test_settings_that_move_validation_export_what_the_search_scored(tmp_path, settings):
    _search(tmp_path, trainer={**TRAINER, **settings})
    assert_scores_as_exported(tmp_path, **{k: v for k, v in settings.items()
                                            if k == "limit_val_batches"})


def test_a_users_model_checkpoint_and_early_stopping_leave_the_searchs_best(tmp_path):
    callbacks = [ModelCheckpoint(monitor="val_acc", mode="max", save_top_k=2),
                 EarlyStopping(monitor="val_acc", mode="max", patience=1)]
    _search(tmp_path, trainer={**TRAINER, "max_epochs": 5, "callbacks": callbacks})
    assert_scores_as_exported(tmp_path)


def test_a_promoted_trials_export_scores_as_said(tmp_path):
    # seed 1: trials 2 and 4 are paused at a rung and promoted to the end (seen in a run)
    Search(TinyNet, SPACE, data=BlobData, data_init_args={"batch_size": 32}, seed=1,
           scheduler="asha", min_epochs=1, eta=2, max_epochs=4, budget=8, keep_top_k=8,
           trainer={**TRAINER, "max_epochs": 4}, run_dir=tmp_path, verbose=False).run()
    assert_scores_as_exported(tmp_path)
    with RunStore(tmp_path / "search.db") as store:
        promoted = [t.trial_id for t in store.trials(TrialStatus.COMPLETED)
                    if len(store.fits(t.trial_id)) > 1]
    assert promoted  # the case under test happened
    for trial in promoted:
        export_best(tmp_path, trial_id=trial)
        assert_scores_as_exported(tmp_path)


def test_each_pareto_point_exported_by_trial_scores_as_said(tmp_path):
    _search(tmp_path, objectives={"val_acc": "max", "val_loss": "min"}, budget=4)
    with RunStore(tmp_path / "search.db") as store:
        held = [t.trial_id for t in store.with_checkpoint(TrialStatus.COMPLETED)]
    assert len(held) > 1
    for trial in held:
        export_best(tmp_path, trial_id=trial)
        assert assert_scores_as_exported(tmp_path)["trial"] == trial


def test_a_warm_started_search_exports_a_trial_of_its_own(tmp_path):
    _search(tmp_path / "source")
    _search(tmp_path / "warm", warm_start=[str(tmp_path / "source")], retrain_top_k=1)
    best = assert_scores_as_exported(tmp_path / "warm")
    with RunStore(tmp_path / "warm" / "search.db") as store:
        assert store.best("max").trial_id == best["trial"]
        assert Path(store.get(best["trial"]).checkpoint).parent.parent == \
            (tmp_path / "warm" / "trials").resolve()


@pytest.mark.slow
def test_a_ddp_trials_export_scores_as_said_on_one_device(tmp_path):
    # BlobData's 64 validation samples in batches of 16: two whole batches per rank
    _search(tmp_path, model=SyncedTinyNet, batch_size=16, budget=1,
            trainer={**TRAINER, "devices": 2, "strategy": "ddp"})
    assert_scores_as_exported(tmp_path, model=SyncedTinyNet, batch_size=16)


def _promotion_running(db: Path) -> int | None:
    """The promoted trial (a fit after its first) RUNNING in the store ``db``, if any."""
    if not db.exists():
        return None
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        running = {tid for (tid,) in con.execute("SELECT id FROM trials WHERE status = ?",
                                                 ("RUNNING",))}
        return next((tid for tid, fits in con.execute("SELECT trial_id, threads FROM fits")
                     if tid in running and len(json.loads(fits)) > 1), None)
    except sqlite3.OperationalError:  # its tables are not made yet
        return None
    finally:
        con.close()


@pytest.mark.slow
def test_a_search_killed_in_a_promotion_and_resumed_exports_what_it_scored(tmp_path,
                                                                           launcher):
    # the promoted trial killed mid-segment continues from its latest last.ckpt on resume,
    # with its TrialCheckpoint's state (best score, best.ckpt) from that file
    run, cfg, log = tmp_path / "run", tmp_path / "search.yaml", tmp_path / "log.txt"
    cfg.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {**TRAINER, "max_epochs": 4,
                    "callbacks": [{"class_path": "tests.helpers.EpochLog"}]},  # its hold
        "search": {"space": SPACE, "budget": 8, "seed": 1, "run_dir": str(run),
                   "keep_top_k": 8, "scheduler": "asha", "min_epochs": 1, "eta": 2,
                   "max_epochs": 4}}))
    # held in its segment, once its first epoch began (was: a sleep of 0.5 s "into its
    # segment", which a busy machine's slower start of the segment outlasted: the kill
    # came before it trained, and the test passed on without the case it is about)
    launcher.launch(["search", cfg], log, env={HOLD_AT: "resumed"})
    deadline = time.monotonic() + 240
    while not (held := list(run.glob(f"trials/trial_*/{HELD}"))):
        assert launcher.exited() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.02)
    assert launcher.kill() == -signal.SIGKILL
    folder = held[0].parent
    killed = int(folder.name.removeprefix("trial_"))
    assert _promotion_running(run / "search.db") == killed  # killed in its promotion,
    before = json_lines(folder / "epochs.jsonl")  # in the segment's first epoch
    assert before[-1]["epoch"] >= 1 and before[-1]["fit"] != before[0]["fit"]
    assert launcher.run(["search", cfg], log) == 0, log.read_text()
    assert_scores_as_exported(run)
    with RunStore(run / "search.db") as store:
        promoted = [t.trial_id for t in store.with_checkpoint(TrialStatus.COMPLETED)
                    if len(store.fits(t.trial_id)) > 1]
        resumed = store.get(killed)
    assert "Resuming" in log.read_text() and promoted
    assert resumed.status is not TrialStatus.RUNNING
    again = json_lines(folder / "epochs.jsonl")[len(before)]  # from its last.ckpt, anew
    assert again["epoch"] == before[-1]["epoch"] and again["fit"] != before[-1]["fit"]
    for trial in promoted:
        export_best(run, trial_id=trial)
        assert_scores_as_exported(run)


@pytest.mark.slow
def test_lightning_nas_fit_of_a_promoted_trials_best_config_trains_its_score(tmp_path):
    # best_config.yaml's header says a paused and resumed trial whose checkpoint kept its
    # random state trains the same epochs in one go: the fit's best.ckpt scores the trial's
    # score at its epoch, exactly (seed 2: a trial is paused at a rung, promoted, and its
    # curve climbs to its last epoch)
    from lightning_nas.cli import main

    run, cfg = tmp_path / "run", tmp_path / "search.yaml"
    cfg.write_text(yaml.safe_dump({
        "seed_everything": 0,
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {**TRAINER, "max_epochs": 4},
        "search": {"space": {**SPACE, "lr": {"float": [0.003, 0.03], "log": True}},
                   "budget": 8, "seed": 2, "run_dir": str(run), "keep_top_k": 8,
                   "scheduler": "asha", "min_epochs": 1, "eta": 2, "max_epochs": 4}}))
    assert main(["search", str(cfg)]) in (0, None)
    with RunStore(run / "search.db") as store:
        promoted = [t for t in store.with_checkpoint(TrialStatus.COMPLETED)
                    if len(store.fits(t.trial_id)) > 1 and len(set(t.curve)) > 1]
    assert promoted  # the case under test happened
    trial = promoted[0]
    export_best(run, trial_id=trial.trial_id)
    assert "trained in one go it trains the same epochs" in (run / "best_config.yaml").read_text()
    assert main(["fit", str(run / "best_config.yaml"), "--out", str(tmp_path / "fit")]) in (0, None)
    fitted = torch.load(tmp_path / "fit" / "best.ckpt", map_location="cpu", weights_only=False)
    assert fitted["epoch"] == trial.epoch
    got = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                     enable_model_summary=False).validate(
        TinyNet.load_from_checkpoint(tmp_path / "fit" / "best.ckpt"),
        datamodule=BlobData(batch_size=32), verbose=False)[0]
    assert got["val_acc"] == pytest.approx(trial.score, abs=1e-6)
