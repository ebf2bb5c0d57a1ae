"""End to end: a trial killed (SIGKILL) in a user callback's ``on_train_epoch_start``
resumes after the epoch before it, as an uninterrupted run.

The epoch-end ``last.ckpt`` of a trial (here ``lightning-nas fit``'s, a real trial) is
written as ``.last.pending.ckpt`` and put in place when the next epoch starts; Lightning
runs the checkpoint callbacks' hooks last, so the search gives the file's ``PendingLast``
to the Trainer first, before the user's callbacks (was: only ``TrialCheckpoint``'s own
epoch-start hook put it in place, after theirs: a kill in a user's epoch-start hook
resumed from the epoch before and trained that epoch again).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import lightning.pytorch as pl
import pytest
import yaml

#: the epoch whose start ``EpochStartKiller`` is killed at (unset: it never kills)
KILL_AT = "LIGHTNING_NAS_TEST_KILL_START_AT"
#: the file ``EpochStartKiller`` writes before its kill, so that the resumed fit is not killed
KILLED = "LIGHTNING_NAS_TEST_KILL_START_MARK"
#: the file each epoch's start is appended to (``{"epoch", "pid"}`` lines)
STARTS = "LIGHTNING_NAS_TEST_KILL_START_LOG"


class EpochStartKiller(pl.Callback):
    """Notes each training epoch's start in ``$LIGHTNING_NAS_TEST_KILL_START_LOG`` and kills
    its own process (SIGKILL) at the start of epoch ``$LIGHTNING_NAS_TEST_KILL_START_AT``,
    once (``$LIGHTNING_NAS_TEST_KILL_START_MARK`` written first)."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        starts = os.environ.get(STARTS)
        if starts:
            with open(starts, "a") as f:
                f.write(json.dumps({"epoch": trainer.current_epoch, "pid": os.getpid()}) + "\n")
        at, mark = os.environ.get(KILL_AT), os.environ.get(KILLED)
        if at is not None and mark and not os.path.exists(mark) \
                and trainer.current_epoch == int(at):
            Path(mark).write_text("killed\n")
            os.kill(os.getpid(), signal.SIGKILL)


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData",
                 "init_args": {"n": 128, "batch_size": 32}},
        "trainer": {"max_epochs": 4, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False,
                    "callbacks": [{"class_path":
                                   "tests.test_kill_epoch_start.EpochStartKiller"}]}}))
    return config


def _starts(path: Path) -> list[dict[str, int]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_a_fit_killed_in_a_callbacks_epoch_start_resumes_at_that_epoch(tmp_path, launcher):
    config, out, fresh = _config(tmp_path), tmp_path / "out", tmp_path / "fresh"
    starts = tmp_path / "starts.jsonl"
    env = {KILL_AT: "2", KILLED: str(tmp_path / "killed"), STARTS: str(starts)}
    argv = ["fit", str(config), "--out", str(out)]
    log = tmp_path / "killed.log"
    assert launcher.run(argv, log, env=env) == -signal.SIGKILL, log.read_text()[-3000:]
    assert (tmp_path / "killed").is_file()
    killed = _starts(starts)
    assert [s["epoch"] for s in killed] == [0, 1, 2]
    log = tmp_path / "resume.log"
    assert launcher.run([*argv, "--ckpt_path", "last"], log, env=env) == 0, \
        log.read_text()[-3000:]
    resumed = _starts(starts)[len(killed):]
    # was: [1, 2, 3] (epoch 1's last.ckpt still pending when the callback's hook ran)
    assert [s["epoch"] for s in resumed] == [2, 3]
    log = tmp_path / "fresh.log"
    assert launcher.run(["fit", str(config), "--out", str(fresh)], log,
                        env={STARTS: str(tmp_path / "fresh.jsonl")}) == 0, \
        log.read_text()[-3000:]
    assert (out / "logs" / "metrics.csv").read_text() == \
        (fresh / "logs" / "metrics.csv").read_text()
