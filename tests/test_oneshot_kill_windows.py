"""The narrow kill windows of ``lightning-nas oneshot`` (real Trainers on the digits example,
real processes killed with SIGKILL):

- between the epoch-end hooks, where the run's ``checkpoints/last.ckpt`` is written, and
  Lightning's logging of that epoch's training row (``tests.helpers.RowKiller``,
  a ``CSVLogger`` that kills its own process when asked to log it).
"""

from __future__ import annotations

import csv
import signal
from pathlib import Path

import pytest
import torch

from lightning_nas.oneshot.resume import checkpoint_settings
from tests.helpers_kill import KILL_AT, KILLED
from tests.helpers_oneshot import EXAMPLE, RECORD, TINY, record_entries


def _oneshot(launcher, folder: Path, args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """``lightning-nas oneshot ARGS`` in a process of its own, with ``env``: its exit code
    and stderr."""
    out, err = folder / "out.txt", folder / "err.txt"
    for path in (out, err):
        path.unlink(missing_ok=True)
    code = launcher.run(["oneshot", *args], out, err=err, timeout=600, env=env)
    return code, err.read_text()


def _training_rows(logs: Path) -> dict[int, str]:
    """The ``train_loss`` of each epoch in the ``metrics.csv`` of every version under
    ``logs`` (a resumed run logs into a version of its own); an epoch logged twice fails."""
    rows: dict[int, str] = {}
    for table in sorted(logs.rglob("metrics.csv")):
        with table.open() as f:
            for row in csv.DictReader(f):
                if row.get("train_loss"):
                    assert int(row["epoch"]) not in rows, (table, row)
                    rows[int(row["epoch"])] = row["train_loss"]
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("config", ["oneshot.yaml", "darts.yaml"])
def test_a_run_killed_before_its_epochs_training_row_was_logged_resumes_that_epoch(
        tmp_path, launcher, config):
    args = [str(EXAMPLE / config), *TINY]
    if config == "oneshot.yaml":
        args += ["--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=1"]

    def logger(name: str) -> str:
        return (f"--trainer.logger={{class_path: tests.helpers.RowKiller, "
                f"init_args: {{save_dir: {tmp_path / name}}}}}")

    full, dead = tmp_path / "full", tmp_path / "dead"
    env = {KILL_AT: "1", KILLED: str(tmp_path / "killed")}
    code, err = _oneshot(launcher, tmp_path, [*args, f"--oneshot.run_dir={full}",
                                              logger("full_logs")], {})
    assert code == 0, err[-3000:]
    dead_args = [*args, f"--oneshot.run_dir={dead}", logger("dead_logs")]
    code, err = _oneshot(launcher, tmp_path, dead_args, env)
    assert code == -signal.SIGKILL and (tmp_path / "killed").is_file(), err[-3000:]
    # killed after epoch 1's end hooks: the checkpoint in place is epoch 0's, so the resume
    # trains epoch 1 again (was: epoch 1's, and its training row was never logged)
    assert checkpoint_settings(dead / "checkpoints" / "last.ckpt")["epoch"] == 0
    code, err = _oneshot(launcher, tmp_path, [*dead_args, "--ckpt_path", "last"], env)
    assert code == 0, err[-3000:]
    uninterrupted = _training_rows(tmp_path / "full_logs")
    assert sorted(uninterrupted) == [0, 1, 2]
    assert _training_rows(tmp_path / "dead_logs") == uninterrupted
    # the record of the epochs, the search's outputs and the run folder: the uninterrupted's
    name = RECORD[config]
    assert record_entries(config, dead / name) == record_entries(config, full / name)
    assert (dead / name).read_bytes() == (full / name).read_bytes()
    assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()
    subnets = [torch.load(run / "subnet.pt", weights_only=False).state_dict()
               for run in (dead, full)]
    assert subnets[0].keys() == subnets[1].keys()
    assert all(torch.equal(subnets[0][key], subnets[1][key]) for key in subnets[1])
    listing = [sorted(str(p.relative_to(run)) for p in run.rglob("*")) for run in (dead, full)]
    assert listing[0] == listing[1]
