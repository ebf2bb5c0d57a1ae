"""End to end: the training time (``time_s``) of trials killed with their search.

A promoted trial (ASHA) killed during its continued fit goes on from its latest
``last.ckpt`` on resume: its time counts its fits before the pause, its killed fit up to
that checkpoint and the fit after the resume (was: the killed fit's part was lost). A trial
killed in its first fit is trained again from scratch: only the new fit counts.

Each training step sleeps a fixed time, so the epochs a fit trained bound its time below;
``tests.helpers.FitSpans`` notes when each fit began and ended, which bounds it above.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from lightning_nas.search.pending_last import LAST_PENDING
from tests.helpers_kill import json_lines, kill_config, kill_rows, kill_when

SLEEP = 0.2  # seconds per training step
STEPS = 3  # training batches an epoch (96 samples, batches of 32)
EPOCH = SLEEP * STEPS  # an epoch's training takes at least this long
SLACK = 0.6  # seconds a fit runs outside its Trainer's setup and teardown, at most


def _fit_time(db: Path, trial_id: int) -> float | None:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT fit_time FROM trials WHERE id = ?", (trial_id,)).fetchone()[0]
    finally:
        con.close()


def _spans(folder: Path) -> list[tuple[float, float | None]]:
    """Each fit's (setup, teardown) wall times, from ``fits.jsonl`` (None: it never ended)."""
    spans: list[tuple[float, float | None]] = []
    for line in json_lines(folder / "fits.jsonl"):
        if line["event"] == "setup":
            spans.append((line["time"], None))
        else:
            spans[-1] = (spans[-1][0], line["time"])
    return spans


@pytest.mark.slow
def test_a_promoted_trial_killed_mid_fit_counts_the_time_up_to_its_checkpoint(tmp_path,
                                                                               launcher):
    # rungs at 1 and 4 epochs: of eight trials, the second best at rung 1 (paused: trial 1,
    # the first, went on) is promoted and trains epochs 1, 2 and 3
    cfg, run_dir = kill_config(tmp_path, "time", 8, executor="inline", scheduler="asha",
                           min_epochs=1, eta=4, max_epochs=4, monitor="val_loss", mode="min",
                           seed=3)
    config = yaml.safe_load(cfg.read_text())
    config["model"]["init_args"] = {"sleep": SLEEP}
    config["trainer"]["callbacks"].append({"class_path": "tests.helpers.FitSpans"})
    cfg.write_text(yaml.safe_dump(config))
    db, log = run_dir / "search.db", tmp_path / "time.log"
    folder = run_dir / "trials" / "trial_0001"

    # 1. trial 1 killed in its first fit, after a second of it: trained again from scratch
    first = kill_when(launcher, cfg, log, lambda rows: any(
        time.time() - start > 1.0 for start, _ in _spans(folder)))
    (killed_start, _), = _spans(folder)
    assert first - killed_start > 1.0

    # 2. killed while the promoted trial trains epoch 3 (its last.ckpt: after epoch 2, in
    # place once no LAST_PENDING is left: the epoch-start hook that logs epoch 3 may run
    # before the checkpoint's, which puts epoch 2's file in place)
    def promoted_in_epoch_3(rows: dict[int, dict]) -> bool:
        folders = {i: run_dir / "trials" / f"trial_{i:04d}" for i in rows}
        return any(r["status"] == "RUNNING" and r["curve"] != "[]" and 3 in [
            e["epoch"] for e in json_lines(folders[i] / "epochs.jsonl")]
            and not (folders[i] / LAST_PENDING).exists() for i, r in rows.items())

    second = kill_when(launcher, cfg, log, promoted_in_epoch_3)
    rows = kill_rows(db)
    (trial_id,) = [i for i, r in rows.items() if r["status"] == "RUNNING" and r["curve"] != "[]"]
    stored = _fit_time(db, trial_id)  # its fit before the pause (epoch 0)
    trial_dir = run_dir / "trials" / f"trial_{trial_id:04d}"
    before = json_lines(trial_dir / "epochs.jsonl")
    assert [e["epoch"] for e in before] == [0, 1, 2, 3]
    (paused_start, paused_end), (killed_fit, never) = _spans(trial_dir)
    assert never is None and killed_fit < second
    assert paused_end - paused_start <= stored <= paused_end - paused_start + SLACK

    # trial 1, trained again from scratch: its new fit alone counts (not the killed one's
    # second); checked as stored now, before any promotion of it was resumed
    (start, end), *_ = _spans(folder)
    assert start > first
    assert EPOCH <= _fit_time(db, 1) <= end - start + SLACK

    # 3. resumed to its end: the promoted trial trains on from epoch 3
    launcher.launch(["search", cfg], log)
    assert launcher.wait(300) == 0, log.read_text()[-3000:]
    after = json_lines(trial_dir / "epochs.jsonl")
    assert [e["epoch"] for e in after[len(before):]] == [3]  # from its last.ckpt
    assert kill_rows(db)[trial_id]["status"] == "COMPLETED"
    took = _fit_time(db, trial_id)
    *_, (resumed_start, resumed_end) = _spans(trial_dir)
    resumed = resumed_end - resumed_start
    # its fit before the pause, epochs 1 and 2 of the killed fit (trained once), the last
    assert took >= stored + 2 * EPOCH + resumed, (took, stored, resumed)
    # at most: the killed fit up to the kill (its epoch 3 was not kept: trained again)
    assert took <= stored + (second - killed_fit) + resumed + SLACK, (took, stored, resumed)
