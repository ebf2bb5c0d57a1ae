"""The DataModules and DataLoaders of real Lightning projects inside a search: their hooks,
loader worker processes, in the search's own process, in worker processes and in DDP
trials. Real Trainers, real processes."""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from tests.helpers import TinyNet
from tests.user_data_classes import LambdaData

SPACE = {"width": {"choice": [4, 8, 16, 32]}, "lr": {"float": [0.02, 0.3], "log": True}}
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1}


def _descendants(pid: int) -> list[str]:
    """The command lines of ``pid``'s live descendants (from /proc), but multiprocessing's
    resource tracker, which lives as long as the process that started it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            try:
                with open(f"/proc/{child}/cmdline") as f:
                    found.append(f.read().replace("\0", " "))
            except OSError:
                continue
    return [line for line in found if "resource_tracker" not in line]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="loader workers fork only where os.fork is")
def test_loader_workers_in_worker_processes_start_as_in_the_search_process(tmp_path, capfd):
    # was: worker processes are spawned, and a spawned process's children are spawned too,
    # so a trial's DataLoader workers were spawned there (forked in the search's own process
    # and in a plain Lightning fit): a dataset holding a lambda failed every trial ("Can't
    # pickle <function <lambda>>"), each loader re-imported torch at every epoch, and
    # Lightning warned of it for each loader of each trial
    (tmp_path / "notes").mkdir()
    args = {"root": str(tmp_path), "notes": str(tmp_path / "notes"), "num_workers": 2}
    scores = {}
    for workers in (1, 2):
        result = Search(TinyNet, SPACE, data=LambdaData, data_init_args=args, trainer=TRAINER,
                        budget=2, num_workers=workers, seed=1, verbose=False,
                        run_dir=tmp_path / f"run{workers}").run()
        assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2, [
            t.error for t in result.trials]
        scores[workers] = sorted((t.arch["width"], t.score) for t in result.trials)
    assert scores[1] == scores[2]  # the same trials score alike wherever they run
    methods = (tmp_path / "notes" / "start_method.log").read_text().split()[::3]
    assert set(methods) == {mp.get_start_method()}, methods
    assert _descendants(os.getpid()) == []  # no loader worker, no worker process left
    assert "persistent_workers=True` in" not in capfd.readouterr().err

