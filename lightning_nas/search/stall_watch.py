"""Tell a helper process that is slow at its start from one that is stuck (Linux ``/proc``).

A zygote (``rank_zygote``) imports torch and Lightning before it forks a group's ranks: about
6.5 CPU-seconds, 10-30 s on a busy machine, where a rank started cold pays the same. Waiting
for it is worth it while it works at its import, and only then: a zygote held in its import
(a hook or a lock it waits on) costs the group its whole wait, where cold ranks would have
started at once. ``StallWatch`` samples the process, from ``/proc/<pid>/schedstat`` (the time
it ran, and the time it waited to run: a busy machine's queue counts as work, so load alone
never makes it stuck) and ``/proc/<pid>/stat`` (its state: ``D``, reading a file, counts as
work too). It is stuck when it has done neither for ``stall_s`` seconds in a row (asleep:
held, waiting on a lock or a pipe), or has run more than ``cpu_s`` CPU-seconds (spinning: a
healthy import needs a fraction of that). Where ``/proc`` cannot be read (not Linux), it is
never stuck: the caller's own time limit decides.

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

import time
from pathlib import Path

__all__ = ["CPU_S", "STALL_S", "StallWatch"]

#: seconds a starting process may go without running or waiting to run (or reading a file)
#: before it is taken for stuck: a healthy import is never asleep that long
STALL_S = 5.0
#: CPU-seconds a starting process may run before it is taken for stuck (spinning): about 5
#: times what importing torch, Lightning and ``lightning_nas.search.trial`` takes (6.5 s of
#: CPU on 2 cores under load, measured)
CPU_S = 30.0
#: a share of the time between two samples below which the process did not work at its start
_BUSY = 0.1
#: seconds between two samples above which the first is stale (no one watched meanwhile):
#: the next sample starts a new interval and judges nothing
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
        self._last: tuple[float, float] | None = None  # (when, seconds it ran or waited)
        self._idle_since: float | None = None  # the start of its last stretch without work

    def stuck(self) -> str | None:
        """``"asleep"`` (no work for ``stall_s`` seconds), ``"spinning"`` (past ``cpu_s``
        CPU-seconds) or None (working at it, or unknown). A first sample after none for
        ``_STALE_S`` seconds judges nothing; a stretch without work already seen goes on
        until a sample shows work."""
        now, sample = time.monotonic(), _sample(self.pid)
        if sample is None:
            return None
        ran, wanted, state = sample
        if ran > self.cpu_s:
            return "spinning"
        last, self._last = self._last, (now, wanted)
        if last is None or now - last[0] > _STALE_S:
            return None
        if state in ("R", "D") or wanted - last[1] >= _BUSY * (now - last[0]):
            self._idle_since = None
            return None
        if self._idle_since is None:
            self._idle_since = last[0]
        return "asleep" if now - self._idle_since >= self.stall_s else None
