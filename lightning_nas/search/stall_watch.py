"""Tell a helper process that is slow at its start from one that is stuck (Linux ``/proc``).

A zygote (``rank_zygote``) imports torch and Lightning before it forks a group's ranks: about
6.5 CPU-seconds, 10-30 s on a busy machine, where a rank started cold pays the same. Waiting
for it is worth it while it works at its import, and only then: a zygote held in its import
(a hook or a lock it waits on) costs the group its whole wait, where cold ranks would have
started at once. ``StallWatch`` samples the process, from ``/proc/<pid>/schedstat`` (the time
it ran, and the time it waited to run: a busy machine's queue counts as work, so load alone
never makes it stuck) and ``/proc/<pid>/stat`` (its state: ``D``, reading a file, counts as
work too, as a process seen ``R`` is not asleep then). It is stuck when, over the last
``stall_s`` seconds, it ran or waited to run less than half the time (asleep: held, waiting on
a lock or a pipe; a process at work on its import runs or waits to run all the time, one held
by a hook that polls, ``filelock``'s every 0.05 s, a few percent, a third or more at times on
a busy machine, where each of its wakes waits for a core), or has run more than ``cpu_s``
CPU-seconds (spinning: a healthy import needs a fraction of that). The share is judged over
the whole stretch, not sample by sample: a poll seen running, or a wake's wait in one tenth
of a second, does not begin it again (was: a zygote held by a poll on a busy machine was
seldom or never judged asleep, and its group waited up to 300 s). It must be below half of
every part of the stretch that ends now, too (from each sample on): a process woken after a
long hold that works since is not asleep while its share of the whole stretch climbs to
half (was: for up to half of ``stall_s`` after its wake, where a sample saw it between two
short sleeps; its group started cold ranks), where a poll's wake spares it at the sample
right after it only. Where ``/proc`` cannot be read (not Linux), it is never stuck: the
caller's own time limit decides.

Example:
    >>> import subprocess, sys
    >>> sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    >>> watch = StallWatch(sleeper.pid, stall_s=0.5)
    >>> while watch.stuck() is None:
    ...     time.sleep(0.1)
    >>> watch.stuck()
    'asleep'
    >>> sleeper.kill(); sleeper.wait()
    -9
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from pathlib import Path

__all__ = ["CPU_S", "STALL_S", "StallWatch"]

#: seconds over which a starting process that ran or waited to run less than half the time
#: (and was not seen reading a file) is taken for stuck: a healthy import never is
STALL_S = 5.0
#: CPU-seconds a starting process may run before it is taken for stuck (spinning): about 5
#: times what importing torch, Lightning and ``lightning_nas.search.trial`` takes (6.5 s of
#: CPU on 2 cores under load, measured)
CPU_S = 30.0
#: a share of the last ``stall_s`` seconds below which the process did not work at its start:
#: one at work runs or waits to run all of it (1.0, however busy the machine), one held by a
#: poll every 0.05 s 3-15 % (measured on 2 cores, 4 processes spinning or short-sleeping
#: beside it and other work), at most 48 % over a stretch of 2 s
_BUSY = 0.5
#: seconds between two samples above which the first is stale (no one watched meanwhile):
#: the next sample judges nothing
_STALE_S = 1.0


def _sample(pid: int) -> tuple[float, float, str] | None:
    """CPU-seconds ``pid`` ran, seconds it ran or waited to run, and its state (``R``,
    ``S``, ``D``, ...); None where ``/proc`` does not say (not Linux, the process gone)."""
    try:
        ran, waited = (int(n) / 1e9 for n in
                       Path(f"/proc/{pid}/schedstat").read_text().split()[:2])
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    return ran, ran + waited, state


class StallWatch:
    """Whether a starting process is stuck (see the module's docstring): call ``stuck``
    every fraction of a second while waiting for it; it keeps what it saw across waits.

    Args:
        pid: the process.
        stall_s: seconds without work after which it is stuck (``STALL_S``).
        cpu_s: CPU-seconds after which it is stuck (``CPU_S``).
    """

    def __init__(self, pid: int, stall_s: float = STALL_S, cpu_s: float = CPU_S) -> None:
        self.pid, self.stall_s, self.cpu_s = pid, stall_s, cpu_s
        #: (when, seconds it ran or waited) of each sample of the stretch judged, from the
        #: latest one at least ``stall_s`` old (or the last seen in ``D``) on
        self._seen: deque[tuple[float, float]] = deque()

    def stuck(self) -> str | None:
        """``"asleep"`` (it ran or waited to run less than half of the last ``stall_s``
        seconds, and of each part of them that ends now), ``"spinning"`` (past ``cpu_s``
        CPU-seconds) or None (working at it, seen running or reading a file now, or
        unknown). A first sample after none for ``_STALE_S`` seconds judges nothing; a
        stretch already seen goes on across such a gap, its work in the gap counted."""
        return self.judge(time.monotonic(), _sample(self.pid))

    def judge(self, now: float, sample: tuple[float, float, str] | None) -> str | None:
        """``stuck``'s verdict on a sample taken at ``now`` (``time.monotonic()``): the
        CPU-seconds the process ran, the seconds it ran or waited to run, and its state
        (``R``, ``S``, ``D``, ...), or None where ``/proc`` did not say; kept as ``stuck``
        keeps its own samples.

        Example:
            >>> watch = StallWatch(0, stall_s=2.0)
            >>> [watch.judge(t / 10, (0.0, 0.0, "S")) for t in (0, 10, 20)]
            [None, None, 'asleep']
        """
        if sample is None:
            return None
        ran, wanted, state = sample
        if ran > self.cpu_s:
            return "spinning"
        stale = not self._seen or now - self._seen[-1][0] > _STALE_S
        if state == "D":  # reading a file: work that schedstat does not count
            self._seen.clear()
        self._seen.append((now, wanted))
        while len(self._seen) > 2 and now - self._seen[1][0] >= self.stall_s:
            self._seen.popleft()
        if stale or state in ("R", "D") or now - self._seen[0][0] < self.stall_s:
            return None
        # every stretch from a sample on: one since it woke, if it worked at least half of
        # it, spares it (was: the whole window alone, climbing to half from its wake on)
        stretches = itertools.islice(self._seen, len(self._seen) - 1)
        return "asleep" if all(wanted - before < _BUSY * (now - since)
                               for since, before in stretches) else None
