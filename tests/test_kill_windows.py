"""The narrow kill windows of a resumable fit (real Trainers, real processes killed with
SIGKILL, real nevergrad and SQLite):

- between the epoch-end hooks, where ``last.ckpt`` is written, and Lightning's logging of
  that epoch's training row (a logger that kills its own process when asked to log it);
- a promoted search trial whose folder holds the held weights of an undecided tie
  (``.tie.ckpt``) that a kill left;
- a merge of a resumed fit's logs cut off between writing the merged ``metrics.csv`` and
  removing the versions it merged (the folder as that kill leaves it);
- a trial stored FAILED after kills, whose folder holds what they left (``.tie.ckpt``,
  ``.last.pending.ckpt``).
"""

from __future__ import annotations

import csv
import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import yaml

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from lightning_nas.search.fit_segments import start_own_fit
from lightning_nas.search.pending_last import LAST_PENDING
from lightning_nas.search.trial_checkpoint import TIE_FILE
from lightning_nas.search.trial_hold import TRIAL_LOCK
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_kill import KILL_AT, KILLED
from tests.helpers_models import TinyNet


def _fit_config(tmp_path: Path) -> Path:
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 3, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False,
                    "logger": {"class_path": "tests.helpers.RowKiller"}}}))
    return config


@pytest.mark.slow
def test_a_fit_killed_before_its_epochs_training_row_was_logged_resumes_it(tmp_path,
                                                                          launcher):
    config, out, fresh = _fit_config(tmp_path), tmp_path / "out", tmp_path / "fresh"
    env = {KILL_AT: "1", KILLED: str(tmp_path / "killed")}
    argv = ["fit", str(config), "--out", str(out)]
    log = tmp_path / "killed.log"
    assert launcher.run(argv, log, env=env) == -signal.SIGKILL, log.read_text()[-3000:]
    assert (tmp_path / "killed").is_file()
    log = tmp_path / "resume.log"
    assert launcher.run([*argv, "--ckpt_path", "last"], log, env=env) == 0, \
        log.read_text()[-3000:]
    log = tmp_path / "fresh.log"
    assert launcher.run(["fit", str(config), "--out", str(fresh)], log) == 0, \
        log.read_text()[-3000:]
    rows = (out / "logs" / "metrics.csv").read_text()
    # was: the training row of epoch 1 was missing (the resumed fit started at epoch 2)
    assert rows == (fresh / "logs" / "metrics.csv").read_text()
    with (out / "logs" / "metrics.csv").open() as f:
        assert sorted(int(r["epoch"]) for r in csv.DictReader(f) if r.get("train_loss")) == \
            [0, 1, 2]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in fresh.iterdir())


SPACE = {"width": {"choice": [4, 8, 16, 32, 64]}, "lr": {"float": [0.01, 0.3]}}
TRAINER = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False, "enable_model_summary": False}
ASHA = {"scheduler": "asha", "min_epochs": 1, "eta": 2, "max_epochs": 2, "keep_top_k": 10}


def _search(run: Path, budget: int, **trainer: Any) -> Search:
    return Search(TinyNet, SPACE, data=BlobData, budget=budget, run_dir=run, seed=0,
                  verbose=False, trainer={**TRAINER, **trainer}, **ASHA)


def test_a_promoted_trial_removes_the_held_tie_weights_a_kill_left(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    first = _search(run, 5).run()
    paused = [t.trial_id for t in first.trials if t.status is TrialStatus.PAUSED]
    assert paused
    for trial_id in paused:  # as a kill within a tie of its (earlier) promotion leaves it
        (run / "trials" / f"trial_{trial_id:04d}" / ".tie.ckpt").write_bytes(b"stale")
    more = _search(run, 9).run()
    promoted = [t.trial_id for t in more.trials if t.trial_id in paused and t.epochs == 2]
    assert promoted
    for trial_id in promoted:  # was: kept beside its best.ckpt until its next tie
        assert not (run / "trials" / f"trial_{trial_id:04d}" / ".tie.ckpt").exists()
    assert torch.load(more.best.checkpoint, map_location="cpu", weights_only=False)


def test_a_trial_failed_after_kills_keeps_no_file_a_kill_left(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    csv_logger = {"logger": {"class_path": "lightning.pytorch.loggers.CSVLogger"}}
    first = _search(run, 5, **csv_logger).run()
    paused = [t.trial_id for t in first.trials if t.status is TrialStatus.PAUSED]
    assert paused
    folder = run / "trials" / f"trial_{paused[0]:04d}"
    with RunStore(run / "search.db") as store:  # promoted, and killed in its fit twice
        store.resume_trial(paused[0], attempt=True)
    # what the second kill left: the held weights of a tie, an epoch's unlogged last.ckpt,
    # the file of its run's hold on the folder (no lock held: its process is gone)
    for name in (TIE_FILE, LAST_PENDING):
        (folder / name).write_bytes(b"left by a kill")
    (folder / TRIAL_LOCK).write_text("pid 999999999 on a-host-long-gone\n\n")
    # and a kill within a merge of its log versions: those it renamed hidden, in its folder
    # and in its logger's, which the other trials' versions share (another trial's merge
    # there is left alone), and a merged table half-written
    versions, name = run / "logs" / "trials", folder.name
    hidden = [folder / ".merged_logs_resumed_3", versions / f".merged_{name}_resumed_5",
              versions / ".merged_trial_0099_resumed_6"]
    for path in hidden:
        path.mkdir()
    (versions / name / ".metrics.csv.4242").write_text("epoch,va")
    again = _search(run, 5, **csv_logger).run()
    failed = next(t for t in again.trials if t.trial_id == paused[0])
    assert failed.status is TrialStatus.FAILED and "died 2 times" in failed.error
    # was: ['.last.pending.ckpt', '.tie.ckpt'] kept (its last.ckpt and best.ckpt removed);
    # then ['trial.lock'], naming the killed process, kept for good
    assert sorted(p.name for p in folder.iterdir()) == []
    # was: its hidden versions kept for good, in its folder and its logger's
    assert [path.exists() for path in hidden] == [False, False, True]
    assert not (versions / name / ".metrics.csv.4242").exists()


def _table(path: Path, rows: list[dict[str, Any]]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    with (path / "metrics.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
        writer.writeheader()
        writer.writerows(rows)


def test_a_merge_cut_off_before_it_removed_the_versions_leaves_no_duplicate(tmp_path):
    first = [{"epoch": 0, "step": 3, "val_acc": 0.5}, {"epoch": 0, "step": 3, "train_loss": 1}]
    later = [{"epoch": 1, "step": 7, "val_acc": 0.7}, {"epoch": 1, "step": 7, "train_loss": 0.5},
             {"epoch": "", "step": 7, "hp_metric": 0.7}]
    folder = tmp_path / "fit"
    _table(folder / "logs", first + later)  # merged: written before the kill
    _table(folder / "logs_resumed_17", later)  # not yet removed
    (folder / "logs_resumed_17" / "hparams.yaml").write_text("width: 8\n")
    (folder / "logs" / "hparams.yaml").write_text("width: 8\n")
    merged = (folder / "logs" / "metrics.csv").read_text()
    # a kill within a merge's removal, and within its write of the merged rows
    (folder / ".merged_logs_resumed_12").mkdir()
    (folder / ".merged_logs_resumed_12" / "hparams.yaml").write_text("width: 8\n")
    (folder / "logs" / ".metrics.csv.4242").write_text("epoch,st")
    # another kill: a resumed fit's version that no merge took in yet stays
    _table(tmp_path / "other" / "logs", first)
    _table(tmp_path / "other" / "logs_resumed_18", later)
    for path in (folder, tmp_path / "other"):
        start_own_fit(SimpleNamespace(record={"kind": "fit"}, trial_dir=str(path), trainer={},
                                      ckpt_path=None))
    # was: ['logs', 'logs_resumed_17'] until a resume's end merged them again
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("logs")) == ["logs"]
    assert (folder / "logs" / "metrics.csv").read_text() == merged
    assert sorted(p.name for p in folder.iterdir()) == [".unfinished", "logs"]
    assert sorted(p.name for p in (folder / "logs").iterdir()) == ["hparams.yaml",
                                                                    "metrics.csv"]
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == \
        [".unfinished", "logs", "logs_resumed_18"]
