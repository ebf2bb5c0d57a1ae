"""A worker process of executor 'process' that outlives its search (killed with
``SIGKILL``; a platform without ``PR_SET_PDEATHSIG``, or a worker that escaped it) trains its
trial to the end and finds the search gone as it sends the result: it ends quietly, one
line at most, no traceback. A real search launched warm (``tests.launcher``), really
killed; its workers untied from its death by ``OutliveTheSearch``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers_fresh_ranks import dying
from tests.helpers_kill import POLL, json_lines, kill_config


def _training(run_dir: Path) -> dict[Path, int]:
    """The worker pid of each trial folder whose training began (``EpochLog``'s notes)."""
    return {p.parent: lines[0]["pid"] for p in run_dir.glob("trials/*/epochs.jsonl")
            if (lines := json_lines(p))}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
def test_a_worker_that_outlives_its_killed_search_ends_in_one_line(tmp_path, launcher):
    # was: each such worker printed a BrokenPipeError traceback as it sent its result
    cfg, run_dir = kill_config(tmp_path, "orphans", 2, executor="process", num_workers=2,
                               threads_per_trial=1)
    config = yaml.safe_load(cfg.read_text())
    config["model"]["init_args"] = {"sleep": 0.05}
    config["trainer"]["callbacks"].append({"class_path": "tests.helpers.OutliveTheSearch"})
    cfg.write_text(yaml.safe_dump(config))
    log = tmp_path / "orphans.log"
    launcher.launch(["search", cfg], log)
    deadline = time.monotonic() + 120
    while len(workers := _training(run_dir)) < 2:  # both trials train, each in its worker
        assert time.monotonic() < deadline and launcher.exited() is None, log.read_text()
        time.sleep(POLL)
    before = log.read_text()
    assert launcher.kill() == -signal.SIGKILL
    try:
        while (left := [pid for pid in workers.values() if not dying(pid)]) \
                and time.monotonic() < deadline:
            time.sleep(POLL)
        assert left == [], "a worker did not end"
    finally:
        for pid in workers.values():  # (a guard: what the search left behind)
            if not dying(pid):
                os.kill(pid, signal.SIGKILL)
    trained = {folder: [e["epoch"] for e in json_lines(folder / "epochs.jsonl")]
               for folder in workers}
    assert all(epochs == [0, 1, 2] for epochs in trained.values()), trained  # to its end
    said = log.read_text()[len(before):]
    assert "Traceback" not in said and "Error" not in said, said
    lines = said.splitlines()
    assert len(lines) <= 2 and all("the search process is gone" in line for line in lines), said
