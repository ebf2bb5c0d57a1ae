"""A search of DDP trials on fresh rank processes (``LIGHTNING_NAS_FRESH_RANKS=1``) whose rank
1 dies, made once per test session for the tests of ``test_distributed`` (what the search
says) and ``test_ranks`` (what its first trial stored) that assert on it: every fresh
trial starts two processes that import torch and Lightning (seconds each).

A test module uses the fixture by importing it (``from tests.helpers_fresh_ranks import
fresh_exit_search``).

Example:
    >>> re.findall(PIDS, "rank 1 pid 42 fits /t")
    [('1', '42')]
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.launcher import stat

__all__ = ["PIDS", "alive", "dying", "fresh_exit_search", "gone"]

#: what ``tests.helpers.RankFaults`` prints as each rank starts: its rank and pid
PIDS = r"rank (\d) pid (\d+) fits"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead and not yet reaped, does not)."""
    return stat(pid)[:1] not in ([], ["Z"])


def dying(pid: int) -> bool:
    """Whether ``pid`` is gone, a zombie, exiting, or has a SIGKILL pending (a death signal
    it cannot outlive, ``PR_SET_PDEATHSIG``'s, queued the moment its parent ended): what a
    process will be, told at once, where ``alive`` needs it to have run to its end."""
    fields = stat(pid)
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    if fields[:1] in ([], ["Z"]) or int(fields[6]) & 0x4:  # PF_EXITING
        return True
    pending = [int(line.split()[1], 16) for line in status.splitlines()
               if line.startswith(("SigPnd:", "ShdPnd:"))]
    return any(mask >> (signal.SIGKILL - 1) & 1 for mask in pending)


def gone(pids, within: float = 10.0) -> bool:
    """Whether every process in ``pids`` has ended within ``within`` seconds (a SIGKILL
    takes effect a moment after it is sent)."""
    deadline = time.time() + within
    while any(alive(int(pid)) for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    return not any(alive(int(pid)) for pid in pids)


@pytest.fixture(scope="module")
def fresh_exit_search(shared_run) -> dict:
    """A search of ``tests.helpers.RankFaults`` with ``fault="exit"`` (rank 1 ends with
    ``os._exit(3)`` in its first step) on two fresh ranks, one trial (budget 1,
    ``max_failures=0``: its two processes import torch and Lightning; a second trial, which
    the stop of two trials that died alike needs, would start two more, and that stop is
    made of what each trial's error says, as a rank group's two trials show): what its
    ``SearchError`` said (``said``), and of its trial the status, error, ranks' pids (from
    ``trial.log``), ``rank1.died`` (None if absent) and whether those ranks were gone after
    the search (``gone``); its folder (``folder``)."""
    def make(folder: Path) -> dict:
        from lightning_nas import Search
        from lightning_nas.errors import SearchError
        from lightning_nas.search import ranks
        from lightning_nas.search.runner import FRESH_RANKS
        from lightning_nas.store import RunStore
        from tests.helpers_data import BlobData

        grace, ranks._GRACE_S = ranks._GRACE_S, 0.5  # rank 0 waits in a collective meanwhile
        before, os.environ[FRESH_RANKS] = os.environ.get(FRESH_RANKS), "1"
        said = None
        try:
            Search("tests.helpers.RankFaults", {"width": {"choice": [8, 16]}},
                   model_init_args={"fault": "exit"}, data=BlobData, budget=1, max_failures=0,
                   trainer={"accelerator": "cpu", "devices": 2, "strategy": "ddp",
                            "max_epochs": 1, "callbacks": None},
                   optimizer="RandomSearch", run_dir=folder, verbose=False).run()
        except SearchError as err:
            said = str(err)
        finally:
            ranks._GRACE_S = grace
            if before is None:
                os.environ.pop(FRESH_RANKS)
            else:
                os.environ[FRESH_RANKS] = before
        with RunStore(folder / "search.db") as store:
            first = store.trials()[0]
        trial = folder / "trials" / "trial_0001"
        pids = {int(r): int(p) for r, p in re.findall(PIDS, (trial / "trial.log").read_text())}
        died = trial / "rank1.died"
        return {"said": said, "status": first.status.value, "error": first.error,
                "pids": pids, "died": died.read_text() if died.exists() else None,
                "gone": gone(pids.values())}

    folder, made = shared_run("fresh_exit_search", make)
    return {**made, "folder": folder, "pids": {int(r): p for r, p in made["pids"].items()}}
