"""End to end: the trials' logs (``logs/``, ``logs_resumed_*/``) after ``kill -9`` and
resume are those of an uninterrupted search: a promoted trial killed during its continued
fit goes on from its latest ``last.ckpt`` on resume, and the killed fit's log version is
merged into the one its resumed fit writes (was: kept beside it, so the epochs the killed
fit logged appeared twice, in two versions, and a version more than without the kill).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from lightning_nas.search.pending_last import LAST_PENDING
from tests.helpers_kill import json_lines, kill_config, kill_rows, kill_when


def _logs(run_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """Each trial folder's log versions, in the order they were written (their time-stamped
    names made alike), with their ``metrics.csv``."""
    out = {}
    for trial in sorted((run_dir / "trials").iterdir()):
        versions = sorted(trial.glob("logs*"), key=lambda p: (p.name != "logs", p.name))
        out[trial.name] = [(re.sub(r"_\d+$", "_N", v.name), (v / "metrics.csv").read_text())
                           for v in versions]
    return out


def _search(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """The search of ``test_kill_time``: of eight trials (rungs at 1 and 4 epochs), a
    paused one is promoted and trains epochs 1 to 3; with the default logger."""
    cfg, run_dir = kill_config(tmp_path, name, 8, executor="inline", scheduler="asha",
                           min_epochs=1, eta=4, max_epochs=4, monitor="val_loss", mode="min",
                           seed=3)
    config = yaml.safe_load(cfg.read_text())
    config["model"]["init_args"] = {"sleep": 0.1}
    del config["trainer"]["logger"]
    cfg.write_text(yaml.safe_dump(config))
    return cfg, run_dir


@pytest.mark.slow
def test_a_promoted_trial_killed_mid_fit_leaves_the_logs_of_an_uninterrupted_run(tmp_path,
                                                                                  launcher):
    cfg, run_dir = _search(tmp_path, "clean")
    log = tmp_path / "clean.log"
    assert launcher.run(["search", cfg], log) == 0, log.read_text()[-3000:]
    clean = _logs(run_dir)

    cfg, run_dir = _search(tmp_path, "killed")
    log = tmp_path / "killed.log"

    def promoted_in_epoch_3(rows: dict[int, dict]) -> bool:  # its last.ckpt: epoch 2's,
        folders = {i: run_dir / "trials" / f"trial_{i:04d}" for i in rows}  # in place once
        return any(r["status"] == "RUNNING" and r["curve"] != "[]" and 3 in [  # no pending
            e["epoch"] for e in json_lines(folders[i] / "epochs.jsonl")]  # one is left (epoch 3's
            and not (folders[i] / LAST_PENDING).exists() for i, r in rows.items())  # start)

    kill_when(launcher, cfg, log, promoted_in_epoch_3)
    (trial_id,) = [i for i, r in kill_rows(run_dir / "search.db").items()
                   if r["status"] == "RUNNING" and r["curve"] != "[]"]
    folder = run_dir / "trials" / f"trial_{trial_id:04d}"
    assert len(list(folder.glob("logs_resumed_*"))) == 1  # the killed fit's version
    launcher.launch(["search", cfg], log)
    assert launcher.wait(300) == 0, log.read_text()[-3000:]
    assert [e["epoch"] for e in json_lines(folder / "epochs.jsonl")][-2:] == [3, 3]  # again
    assert json.loads(kill_rows(run_dir / "search.db")[trial_id]["curve"]) == json.loads(
        kill_rows(tmp_path / "clean" / "search.db")[trial_id]["curve"])
    assert _logs(run_dir) == clean
