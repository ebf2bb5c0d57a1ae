"""A group's ranks forked from a warm zygote: real ranks (gloo on CPU), a real zygote."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lightning_nas.results import TrialStatus
from lightning_nas.search import ranks
from tests.helpers_ddp_trials import ddp_trial, descendants
from tests.helpers_fresh_ranks import alive, dying, gone
from tests.launcher import Launcher


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.mark.slow
def test_after_a_failed_trial_the_next_groups_ranks_are_forked_warm(tmp_path):
    """The group a failed trial ends is replaced by ranks forked from the zygote (a fresh
    one's, or an earlier test's), each in a session of its own. The search's end closes
    the ranks, not the zygote."""
    grace, ranks._GRACE_S = ranks._GRACE_S, 0.5
    try:
        failed, _, first = ddp_trial(tmp_path, 1, width=8, fault="raise")
        assert failed.status is TrialStatus.FAILED
        done, _, warm = ddp_trial(tmp_path, 2, width=8)
        assert done.status is TrialStatus.COMPLETED and sorted(warm) == [0, 1]
        parents = {_parent(pid) for pid in warm.values()}  # the group is kept: they run
        # before: both ranks the driver's own children, each importing torch and Lightning
        assert os.getpid() not in parents and len(parents) == 1, parents
        (zygote,) = parents
        assert "lightning_nas.search.rank_zygote" in _command(zygote)
        assert _parent(zygote) == os.getpid()
        for pid in warm.values():  # a session of its own per rank (``kill_group``)
            assert os.getsid(pid) == pid
    finally:
        ranks._GRACE_S = grace
        ranks.close_rank_groups()
    assert gone([*first.values(), *warm.values()])
    assert alive(zygote)  # kept for the next search (was: closed with the groups)


@pytest.mark.slow
def test_a_zygotes_ranks_report_their_answers_exit_codes_and_signals(tmp_path):
    """Ranks forked from the process's zygote (``zygote_for``: one an earlier test kept, warm,
    or one started now and kept for the next; was: a zygote of its own, an import of torch
    and Lightning for this test alone) answer, exit and report how they ended as a
    ``Popen``'s would; ``close`` ends a zygote (one of its own, closed as it starts)."""
    from lightning_nas.search.lifetime import child_env, describe_exit, kill_group
    from lightning_nas.search.rank_zygote import Zygote, zygote_for

    zygote = zygote_for(child_env())
    assert zygote is not None and zygote.ready()
    log = open(tmp_path / "ranks.log", "wb")  # noqa: SIM115 - closed below
    started = []
    try:
        env = {**child_env(), "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1"}
        quits = zygote.start(env, log)
        started.append(quits)
        killed = zygote.start(env, log)
        started.append(killed)
        assert quits.poll() is None and killed.poll() is None
        assert _parent(quits.pid) == zygote.proc.pid
        (tmp_path / "t").mkdir()
        quits.stdin.write(f"{tmp_path / 't' / 'missing.pkl'}\n".encode())
        quits.stdin.flush()  # a spec that will not load: the rank answers and serves on
        assert quits.stdout.readline().decode().startswith("failed FileNotFoundError")
        assert "missing.pkl" in (tmp_path / "t" / "trial.log").read_text()
        quits.stdin.close()  # end of input: the rank leaves its loop
        assert quits.wait(timeout=60) == 0
        with pytest.raises(subprocess.TimeoutExpired):
            killed.wait(timeout=0.5)
        kill_group(killed)
        deadline = time.time() + 30  # ``poll`` alone sees it end (``RankGroup.alive``)
        while killed.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        assert killed.returncode == killed.wait(timeout=0) == -signal.SIGKILL
        assert describe_exit(killed.returncode) == "killed by SIGKILL (out of memory?)"
    finally:
        for rank in started:  # a failed assert's: none left serving beside the kept zygote
            if rank.poll() is None:
                kill_group(rank)
        log.close()
    assert alive(zygote.proc.pid)  # its ranks' ends are not its own
    own = Zygote(child_env())
    own.close()
    assert gone([own.proc.pid])


def _forked_trial(tmp_path: Path, launcher: Launcher) -> tuple[int, list[int], int]:
    """A search process whose first DDP trial trains for a minute, launched by ``launcher``
    (its imports paid once; ``as_script``: it leaves as ``python SCRIPT`` does, its atexit
    hooks and a Ctrl-C's ``-SIGINT`` included): its pid, the ranks' pids and the zygote's.
    Checks that a process's first group forks its ranks from a zygote (one import of torch
    and Lightning, not one per rank on the same cores; was: both ranks the driver's own
    children, ``python -m lightning_nas.search.ranks``), a fresh ``python -m
    lightning_nas.search.rank_zygote`` the search started (was also
    ``test_a_process_first_group_forks_its_ranks_from_a_zygote``, a search of its own that
    asserted the same of a first trial that completed: trials that complete on forked ranks
    are the other tests'; and, before, a failed trial first, from when only a later group
    forked its ranks)."""
    script = tmp_path / "driver.py"
    script.write_text("from pathlib import Path\n"
                      "from tests.helpers_ddp_trials import ddp_trial\n"
                      f"ddp_trial(Path({str(tmp_path)!r}), 1, width=8, sleep=30.0)\n")
    driver = launcher.launch([], tmp_path / "driver.log", script, as_script=True)
    log, pids = tmp_path / "t1" / "trial.log", []
    deadline = time.time() + 180
    while len(pids) < 2 and time.time() < deadline:
        assert launcher.exited() is None, (tmp_path / "driver.log").read_text()
        pids = [int(p) for p in re.findall(r"rank \d pid (\d+) fits",
                                           log.read_text() if log.exists() else "")]
        time.sleep(0.2)
    assert len(pids) == 2, "both ranks of the trial must start training"
    (zygote,) = {_parent(pid) for pid in pids}
    assert _parent(zygote) == driver and zygote in descendants(driver)
    assert "lightning_nas.search.rank_zygote" in _command(zygote)
    return driver, pids, zygote


@pytest.mark.slow
def test_forked_ranks_and_their_zygote_die_with_the_search(tmp_path, launcher):
    """``kill -9`` of the search mid-trial: the zygote dies with it, the ranks with the zygote;
    none trains on (``PR_SET_PDEATHSIG``, set as the process's keeper thread starts the
    zygote, held by a search or kept idle after one alike: was also
    ``test_an_idle_zygote_ends_with_its_process``'s ``kill -9`` of a process whose zygote a
    search had let go, a zygote import more; and ``test_ranks``' own test of the same trial
    in the same kind of process, since a process's first group forks from a zygote too)."""
    _, pids, zygote = _forked_trial(tmp_path, launcher)
    assert launcher.kill() == -signal.SIGKILL
    assert gone([*pids, zygote])
    assert not (tmp_path / "t1" / "result.json").exists()


@pytest.mark.slow
def test_ctrl_c_of_the_search_leaves_no_forked_rank_or_zygote(tmp_path, launcher):
    """A terminal's Ctrl-C reaches the search alone (the zygote and the ranks run in
    sessions of their own); the search ends them as it exits, as a script does: its atexit
    hooks close its groups, then its zygotes, held by a search or kept idle after one alike
    (was also ``test_an_idle_zygote_ends_with_its_process``'s Ctrl-C of a process whose
    zygote a search had let go, a zygote import more)."""
    driver, pids, zygote = _forked_trial(tmp_path, launcher)
    assert all(os.getsid(pid) != os.getsid(driver) for pid in (*pids, zygote))
    os.kill(driver, signal.SIGINT)
    assert launcher.wait(120) == -signal.SIGINT, (tmp_path / "driver.log").read_text()
    assert gone([*pids, zygote])
    assert not any(alive(pid) for pid in pids)


def _zygotes_of(pid: int) -> list[int]:
    return [child for child in descendants(pid)
            if "lightning_nas.search.rank_zygote" in _command(child)]


@pytest.mark.slow
def test_a_zygote_outlives_its_search_and_thread_and_the_next_search_forks_from_it(tmp_path):
    """A search on an executor's thread ends (its groups closed, the thread gone): its
    zygote is kept, and the next search in this process (a notebook's next cell) forks its
    first group's ranks from it, warm."""
    import threading

    first = threading.Thread(target=ddp_trial, args=(tmp_path, 1), kwargs={"width": 8})
    first.start()
    first.join()
    ranks.close_rank_groups()  # the search's end
    zygotes = _zygotes_of(os.getpid())
    assert zygotes
    # the thread's end in the kernel too, which sends a death signal of it (``PR_SET_
    # PDEATHSIG``) to what it started, as it ends (was: a second slept, which a busy
    # machine's slow end of the thread could outlast, and the test pass all the same)
    task, deadline = Path(f"/proc/self/task/{first.native_id}"), time.monotonic() + 60
    while task.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not task.exists()
    # was: the zygote died with the thread that started it, or with the search's groups
    assert not any(dying(pid) for pid in zygotes), zygotes
    try:
        done, _, pids = ddp_trial(tmp_path, 2, width=8)
        assert done.status is TrialStatus.COMPLETED and sorted(pids) == [0, 1]
        assert {_parent(pid) for pid in pids.values()} <= set(zygotes)  # was: the driver's
    finally:
        ranks.close_rank_groups()
    assert gone(pids.values())


#: a sitecustomize that holds the zygote (``python -m lightning_nas.search.rank_zygote``) at
#: its ``import torch`` (``importing.<pid>`` in ``{folder}`` says it got there) until the test
#: opens the FIFO ``release`` there to write (``released.<pid>`` says it went on): asleep, as
#: in a hook or a lock that never returns, blocked without a wake-up of its own (a hook that
#: polled for a file every 0.05 s could be seen running on a busy machine, and waited for)
_HOLD_ZYGOTE = """
import os, sys
if "lightning_nas.search.rank_zygote" in sys.orig_argv:
    class _Hold:
        def find_spec(self, name, path=None, target=None):
            if name == "torch":
                sys.meta_path.remove(self)
                open(os.path.join({folder!r}, f"importing.{{os.getpid()}}"), "w").close()
                os.close(os.open(os.path.join({folder!r}, "release"), os.O_RDONLY))
                open(os.path.join({folder!r}, f"released.{{os.getpid()}}"), "w").close()
    sys.meta_path.insert(0, _Hold())
"""

_HELD = """
import os, sys, time
from pathlib import Path
from lightning_nas.search import ranks
from lightning_nas.search.exit_gc import freeze_for_exit
from tests.test_rank_zygote import _parent
from tests.helpers_ddp_trials import ddp_trial
folder = Path({folder!r})
for trial_id in (1, 2):  # two searches of one process: the second once the test says so
    result, _, pids = ddp_trial(folder, trial_id, width=8)
    print(result.status.value, *(_parent(pid) for pid in pids.values()), flush=True)
    ranks.close_rank_groups()  # the search's end: its group closed, the zygote kept
    while not (folder / f"go.{{trial_id}}").exists():
        time.sleep(0.05)
freeze_for_exit()  # its exit runs its atexit hooks, without the collector's walk (seconds)
"""


def _line(out: Path, n: int, what: str, limit: float = 240.0) -> list[str]:
    """Line ``n`` (from 1) that a launched process prints into ``out``, split, once it is
    there; an AssertionError saying ``what`` did not happen if it is not within ``limit``
    seconds (a guard against a hang)."""
    deadline = time.time() + limit
    while len(lines := (out.read_text() if out.exists() else "").splitlines(True)) < n or (
            not lines[n - 1].endswith("\n")):
        assert time.time() < deadline, what
        time.sleep(0.05)
    return lines[n - 1].split()


@pytest.mark.slow
def test_a_zygote_asleep_in_its_import_costs_the_first_group_no_wait_and_ends_at_exit(
        tmp_path, launcher):
    """A zygote held in its ``import torch`` (a hook that never returns): the process's
    first group does not wait for it (was: up to 300 s) but starts its ranks cold, and the
    trial completes while the zygote is still held; the zygote is kept, and once it is let
    go and imports, the next search's group forks its ranks from it. Kept idle after that
    search, it ends with the process as the process exits (``as_script``: as ``python
    SCRIPT`` does, its atexit hooks and all; was also ``test_an_idle_zygote_ends_with_its
    _process``'s exit ending, a process and a zygote import more). The process is forked by
    ``launcher`` (its imports paid; was: a fresh ``python``) from a script in the hold
    folder, first on its ``sys.path`` and so on the zygote's ``PYTHONPATH``."""
    hold = tmp_path / "hold"
    hold.mkdir()
    (hold / "sitecustomize.py").write_text(_HOLD_ZYGOTE.format(folder=str(hold)))
    os.mkfifo(hold / "release")
    script = hold / "held.py"
    script.write_text(_HELD.format(folder=str(tmp_path)))
    out, err = tmp_path / "held.out", tmp_path / "held.err"
    driver = launcher.launch([], out, script, cwd=tmp_path, err=err, as_script=True)
    status, *parents = _line(out, 1, "the first trial did not end while the zygote was held: "
                                     "its group waited for it")
    assert status == "COMPLETED" and len(parents) == 2, err.read_text()[-3000:]
    # cold: both ranks the driver's own children, started while the zygote was held
    assert {int(p) for p in parents} == {driver}, parents
    (zygote,) = _zygotes_of(driver)  # kept (was: ended after its wait), still held
    assert (hold / f"importing.{zygote}").exists()
    assert not (hold / f"released.{zygote}").exists()
    os.close(os.open(hold / "release", os.O_WRONLY))  # the zygote waits on its other end
    deadline = time.time() + 60
    while not (hold / f"released.{zygote}").exists() and time.time() < deadline:
        time.sleep(0.1)
    assert (hold / f"released.{zygote}").exists()
    (tmp_path / "go.1").touch()  # the next search: the zygote works at its import now
    status, *parents = _line(out, 2, "the second trial did not end")
    assert status == "COMPLETED" and {int(p) for p in parents} == {zygote}, parents
    assert not dying(zygote)  # kept after the search, idle: the process lives on
    (tmp_path / "go.2").touch()  # the script's end: the process exits, the zygote with it
    assert launcher.wait(120) == 0, err.read_text()[-3000:]
    assert gone([zygote])
