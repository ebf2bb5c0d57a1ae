"""A starting process taken for stuck or not (``StallWatch``): real processes, asleep,
spinning, or working on a machine whose cores are all busy."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from lightning_nas.search.stall_watch import StallWatch

#: a process blocked reading its stdin until a byte comes, then spinning for ever: held
#: without a wake-up of its own (a process that polled, every 0.05 s, was seen running now and
#: then on a busy machine, and a sample that saw it so began its stretch without work again)
_WAKES = ("import sys\n"
          "sys.stdin.buffer.read(1)\n"
          "while True:\n"
          "    pass\n")
_SPINS = "while True:\n    pass\n"
#: a process that works 2 ms and sleeps 1 ms, again and again: a machine busy with short tasks
_SHORT = ("import time\n"
          "while True:\n"
          "    start = time.perf_counter()\n"
          "    while time.perf_counter() - start < 0.002:\n"
          "        pass\n"
          "    time.sleep(0.001)\n")
#: a process held by a hook that wakes once a second and works 0.05 s at a check, until a
#: file (its first argument) exists
_CHECKS = ("import os, sys, time\n"
           "while not os.path.exists(sys.argv[1]):\n"
           "    time.sleep(1.0)\n"
           "    start = time.process_time()\n"
           "    while time.process_time() - start < 0.05:\n"
           "        pass\n")
#: a process held by a hook that polls for a file (its first argument) every 0.05 s, as
#: ``filelock`` polls for its lock
_POLLS = ("import os, sys, time\n"
          "while not os.path.exists(sys.argv[1]):\n"
          "    time.sleep(0.05)\n")


#: a process blocked reading its stdin until a byte comes, then spinning until the next byte,
#: then blocked again, and so on: held, woken, held again, as the test says
_WAKES_AND_HOLDS = ("import os, sys\n"
                    "fd = sys.stdin.fileno()\n"
                    "while os.read(fd, 1):\n"
                    "    os.set_blocking(fd, False)\n"
                    "    while True:\n"
                    "        try:\n"
                    "            if os.read(fd, 1):\n"
                    "                break\n"
                    "        except BlockingIOError:\n"
                    "            pass\n"
                    "    os.set_blocking(fd, True)\n")


#: samples (0.1 s apart, or more on a busy machine) in which a process held asleep for
#: ``stall_s`` of 2 s is found so: three times ``stall_s``
_SAMPLES = 60


def _python(code: str, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], **popen)


def _verdicts(watch: StallWatch, until, limit: float = 60.0) -> list[str | None]:
    """``watch.stuck()`` every 0.1 s until ``until(verdicts)`` (or ``limit`` seconds, a
    guard): every verdict, in order."""
    verdicts: list[str | None] = []
    deadline = time.monotonic() + limit
    while not until(verdicts) and time.monotonic() < deadline:
        verdicts.append(watch.stuck())
        time.sleep(0.1)
    return verdicts


def _schedstat(pid: int) -> tuple[float, str]:
    """Seconds ``pid`` ran or waited to run, and its state (``R``, ``S``, ...)."""
    ran, waited = (int(n) / 1e9 for n in
                   Path(f"/proc/{pid}/schedstat").read_text().split()[:2])
    return ran + waited, Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _tell(proc: subprocess.Popen, byte: bytes) -> None:
    proc.stdin.write(byte)
    proc.stdin.flush()


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()
        if proc.stdin:
            proc.stdin.close()


def test_a_process_asleep_is_stuck_and_stays_so_after_a_gap_until_it_works(procs):
    """A process held asleep (its import waiting on a hook) is ``asleep`` once it did no
    work for ``stall_s``; a later wait after a gap (the next group) finds it so again at its
    second sample, not after ``stall_s`` more; once it works it is not stuck."""
    procs.append(wakes := _python(_WAKES, stdin=subprocess.PIPE))
    watch = StallWatch(wakes.pid, stall_s=1.0, cpu_s=1e9)
    seen = _verdicts(watch, lambda v: "asleep" in v)
    assert seen[-1] == "asleep", seen
    time.sleep(1.5)  # no one watches meanwhile: the first sample after it judges nothing
    assert [watch.stuck(), time.sleep(0.2), watch.stuck()] == [None, None, "asleep"]
    wakes.stdin.write(b"g")
    wakes.stdin.flush()
    time.sleep(0.5)  # it spins now
    again = _verdicts(watch, lambda v: len(v) >= 20)
    assert set(again[2:]) == {None}, again  # was asleep: now works at it


def test_a_spinning_process_is_stuck_past_its_cpu_seconds_never_asleep(procs):
    procs.append(spins := _python(_SPINS))
    watch = StallWatch(spins.pid, stall_s=0.5, cpu_s=1.0)
    seen = _verdicts(watch, lambda v: any(v))
    assert seen[-1] == "spinning" and not any(seen[:-1]), seen


def test_a_process_that_waits_for_busy_cores_is_not_stuck(procs):
    """On a machine whose cores are all busy (as many spinning processes as twice its
    cores), a process that works at its start waits for a core most of the time: that is
    work, not a stall (a busy machine's slow import is waited for)."""
    import os

    cores = len(os.sched_getaffinity(0))
    procs.extend(_python(_SPINS) for _ in range(2 * cores))
    procs.append(watched := _python(_SPINS))
    watch = StallWatch(watched.pid, stall_s=0.5, cpu_s=1e9)
    seen = _verdicts(watch, lambda v: len(v) >= 20)
    assert set(seen) == {None}, seen


def test_a_process_that_wakes_to_work_a_little_is_asleep(procs, tmp_path):
    """A process held by a hook that wakes once a second and works at a check for 0.05 s (a
    lock on a network file system, a retry) runs a twentieth of the time: asleep once watched
    for ``stall_s`` (was: never, each wake a stretch of 0.1 s with more than a tenth of work,
    which began the stretch without work again: a group waited for it up to 300 s)."""
    procs.append(checks := _python(_CHECKS, str(tmp_path / "go")))
    watch = StallWatch(checks.pid, stall_s=2.0, cpu_s=1e9)
    seen = _verdicts(watch, lambda v: "asleep" in v or len(v) >= _SAMPLES)
    assert "asleep" in seen, seen


def test_a_process_that_polls_on_a_busy_machine_is_asleep(procs, tmp_path):
    """A process held by a hook that polls (``filelock``'s every 0.05 s) on a machine whose
    cores are all busy, with spinning processes and short-sleeping ones: each of its wakes
    waits for a core, so a sample sees it running or waiting now and then, and some stretches
    of 0.1 s hold more than a tenth of waiting; it runs or waits to run a small share of the
    time, and is asleep once watched for ``stall_s`` (was: only after ``stall_s`` in which no
    sample saw it so, seldom: 2.5-25 s and more for 2 s, a group's wait up to 300 s)."""
    import os

    cores = len(os.sched_getaffinity(0))
    procs.extend(_python(_SPINS) for _ in range(cores))
    procs.extend(_python(_SHORT) for _ in range(cores))
    procs.append(polls := _python(_POLLS, str(tmp_path / "go")))
    watch = StallWatch(polls.pid, stall_s=2.0, cpu_s=1e9)
    seen = _verdicts(watch, lambda v: "asleep" in v or len(v) >= _SAMPLES)
    assert "asleep" in seen, seen


def test_a_process_that_cannot_be_read_is_never_stuck():
    """Where ``/proc`` does not say (not Linux, the process gone): the caller's time limit
    decides."""
    gone = _python("pass")
    gone.wait()
    watch = StallWatch(gone.pid, stall_s=0.0, cpu_s=0.0)
    assert [watch.stuck(), time.sleep(0.2), watch.stuck()] == [None, None, None]
    assert not Path(f"/proc/{gone.pid}").exists()


def _fed(watch: StallWatch, seconds: float, wanted, state) -> list[tuple[float, str | None]]:
    """``watch.judge`` fed a sample every 0.1 s from 0 to ``seconds``: at ``t``, the seconds
    it ran or waited ``wanted(t)`` and its state ``state(t)``; ``(t, verdict)`` of each."""
    times = [i / 10 for i in range(round(seconds * 10) + 1)]
    return [(t, watch.judge(t, (0.0, wanted(t), state(t)))) for t in times]


def test_a_process_woken_after_a_hold_that_works_since_is_not_asleep():
    """A process held 10 s (asleep), then woken to work 90 % of the time (seen between two
    short sleeps of its at every sample) is not asleep from its wake on, while the share of
    the last ``stall_s`` it worked climbs from nothing to half (was: asleep until then, 2.8 s
    here: a zygote woken from a hook sent its group's ranks to start cold); held again, it is
    asleep once it worked less than half of the stretch since it woke (2.3 s here)."""
    watch = StallWatch(0, stall_s=5.0, cpu_s=1e9)
    seen = _fed(watch, 30.0, lambda t: 0.9 * (min(t, 20.0) - 10.0) if t > 10.0 else 0.0,
                lambda t: "S")
    assert {v for t, v in seen if 5.0 <= t <= 10.0} == {"asleep"}, seen
    assert [t for t, v in seen if 10.0 < t <= 20.0 and v] == []
    assert {v for t, v in seen if t >= 22.5} == {"asleep"}, seen


def test_a_process_that_polls_and_waits_for_a_core_at_a_wake_is_asleep_soon_after():
    """A process held by a poll (0.5 % of the time) whose wake once a second waits for a core
    90 % of a tenth of a second: once the window is full, every sample but the one that ends
    that tenth finds it asleep (a wake is no stretch of work since a change from sleep to
    work: the rule that spares a woken process that works spares no poll)."""
    watch = StallWatch(0, stall_s=2.0, cpu_s=1e9)
    seen = _fed(watch, 10.0, lambda t: 0.05 * t + 0.085 * int(t), lambda t: "S")
    assert {t for t, v in seen if t > 2.0 and v != "asleep"} <= {
        float(n) for n in range(3, 11)}, seen


def test_a_woken_process_seen_asleep_for_a_moment_after_working_is_not_asleep(procs):
    """A process held (blocked on its stdin) until it is asleep, then woken to spin for half
    a second of the 2 s ``stall_s`` (a quarter, as a second of 4 s: was 4 s, twice the wall
    time for the same share), then blocked again: seen so right after, it worked nearly all
    the time since it woke, and is not asleep (was: asleep, a quarter of the window); held
    on, it is asleep again."""
    procs.append(proc := _python(_WAKES_AND_HOLDS, stdin=subprocess.PIPE))
    watch = StallWatch(proc.pid, stall_s=2.0, cpu_s=1e9)
    assert _verdicts(watch, lambda v: "asleep" in v)[-1] == "asleep"
    woke = _schedstat(proc.pid)[0]
    _tell(proc, b"g")  # it spins
    working = _verdicts(watch, lambda v: _schedstat(proc.pid)[0] - woke >= 0.5)
    _tell(proc, b"s")  # it blocks again
    while _schedstat(proc.pid)[1] != "S":
        time.sleep(0.01)
    assert [*working, watch.stuck()] == [None] * (len(working) + 1)
    assert _verdicts(watch, lambda v: "asleep" in v)[-1] == "asleep"
