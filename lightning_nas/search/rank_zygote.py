"""Fork a group's rank processes from a warm helper (a zygote) instead of starting cold ones.

A rank started as ``python -m lightning_nas.search.ranks`` imports torch and Lightning
first: seconds of CPU per rank, paid again whenever a group starts (after every trial that
failed or whose rank died). The zygote is a process of its own (``python -m
lightning_nas.search.rank_zygote``) that imports torch, ``lightning.pytorch`` and
``lightning_nas.search.trial`` once, starts no thread and initialises neither CUDA nor a
process group (checked before every fork), and then forks one child per rank on request:
the child gets the rank's environment, working folder and pipes (``socket.send_fds`` over a
Unix socket pair: stdin, stdout, and stderr to the group's log) and runs the rank's loop
(``ranks._serve``), exactly as a rank started cold does.

Each rank runs in a session of its own (``kill_group``) and dies with the zygote; the zygote
reaps its children and reports how each ended (``exit code 3``, ``killed by SIGKILL``), so
that a ``RankProcess`` answers ``poll``/``wait`` as a ``subprocess.Popen`` does. A group that
finds no zygote (the process's first; one more thread's) starts one and waits for its
imports: one import, not one per rank on the same cores (2 cores, 2 ranks: a first trial of
5 s, not 9 s), as long as the zygote works at it (``stall_watch``: a busy machine's 10-30 s
is waited for); one asleep for ``STALL_S`` seconds (held in its import: a hook, a lock) or
past ``CPU_S`` CPU-seconds costs the group no more than that: its ranks start cold (was: up
to ``_READY_S``, 300 s, before they did). An asleep zygote is kept: a later group forks
from it once it is ready, and starts cold at once (0.2 s) while it still sleeps; zygotes
are kept after a search
(``release_zygotes``): the next search or fit in this process (a notebook's next cell, the
next test) forks its ranks warm. Every zygote is started by one long-lived daemon thread
of the process and dies with it (``PR_SET_PDEATHSIG`` follows the thread that started it:
an executor's thread ends with its search), so with the process (``kill -9`` included);
at exit the groups are closed first, then the zygotes (``close_zygotes``). A zygote whose
environment no longer matches (variables read as torch loads, ``OMP_NUM_THREADS``, take
effect in the zygote; ``PYTEST_CURRENT_TEST`` aside) is replaced; a process forked from
this one forgets this one's zygotes. ``LIGHTNING_NAS_NO_ZYGOTE=1``, a platform without
``os.fork`` or ``socket.send_fds``, or a zygote that cannot start: ranks are started cold,
as before. An idle zygote holds about 400 MiB resident (``VmRSS``) on CPU, about 300 MiB
of it its own (``Private_Dirty``, no rank alive; ``benchmarks/zygote_memory.py``).

Example:
    >>> zygote = zygote_for(child_env())  # doctest: +SKIP
    >>> rank = zygote.start({**child_env(), "RANK": "0"}, log)  # doctest: +SKIP
    >>> rank.poll() is None  # doctest: +SKIP
    True
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TypeVar

from lightning_nas.search import ranks
from lightning_nas.search.exit_gc import end_now
from lightning_nas.search.lifetime import die_with_parent, parent_alive
from lightning_nas.search.stall_watch import StallWatch

__all__ = ["NO_ZYGOTE", "RankProcess", "Zygote", "close_zygotes", "release_zygotes",
           "zygote_for"]

#: set to ``1``: a group's ranks are started cold (``python -m``), not forked from a zygote
NO_ZYGOTE = "LIGHTNING_NAS_NO_ZYGOTE"
#: seconds a zygote that works at its import (``StallWatch``) may take before it is ended and
#: ranks are started cold
_READY_S = 300.0
#: the longest message (a rank's environment, as JSON): a longer one starts it cold
_MESSAGE = 1 << 20
#: variables that tell a zygote's environment from another's, but for these (no import reads
#: them; pytest sets this one anew for every test)
_UNCOMPARED = ("PYTEST_CURRENT_TEST",)
_zygotes: list[Zygote] = []  # this process's, held by a thread or idle (``release_zygotes``)
_lock = threading.Lock()
_local = threading.local()
_keeper: queue.SimpleQueue | None = None  # requests to the thread that starts zygotes
_T = TypeVar("_T")


class RankProcess:
    """A rank a zygote forked, as ``RankGroup`` uses a ``subprocess.Popen``: ``pid``,
    ``stdin`` and ``stdout`` (the driver's ends of its pipes), ``poll``, ``wait`` and
    ``returncode`` (negative: the signal that killed it)."""

    def __init__(self, zygote: Zygote, pid: int, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.zygote, self.pid, self.stdin, self.stdout = zygote, pid, stdin, stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.exit_code(self.pid, 0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self.zygote.exit_code(self.pid, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"rank {self.pid}", timeout or 0.0)
        return self.returncode


class Zygote:
    """A helper process that imported torch and Lightning once and forks ranks from then on
    (see the module's docstring).

    Args:
        env: its environment (``child_env()``: the ranks' without their rank variables).
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.cwd, self.key = dict(env), os.getcwd(), _key(env)
        self.holder: threading.Thread | None = threading.current_thread()
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._exits: dict[int, int] = {}
        self._pids: list[int] = []
        self._gone = self._ready = False
        self._lock = threading.RLock()

        def start() -> subprocess.Popen:
            try:
                return subprocess.Popen(
                    [sys.executable, "-m", "lightning_nas.search.rank_zygote",
                     str(os.getpid()), str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                    env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True)
            finally:
                theirs.close()

        self.proc = _on_keeper(start)  # it dies with that thread: with this process
        self._watch = StallWatch(self.proc.pid)
        self.stuck: str | None = None  # why the last ``ready`` gave up: ``StallWatch``'s

    def ready(self, timeout: float = _READY_S) -> bool:
        """Wait until it has imported torch and Lightning, while it works at it: False if it
        died first, or is stuck (``stuck``: ``"asleep"``, ``"spinning"``), or ``timeout``
        seconds passed (``stuck``: ``"slow"``)."""
        deadline, self.stuck = time.monotonic() + timeout, None
        while not self._ready and not self._gone:
            self.stuck = self._watch.stuck() or (
                "slow" if time.monotonic() >= deadline else None)
            if self.stuck:
                return False
            self._pump(0.2)
        return self._ready and not self._gone

    def start(self, env: dict[str, str], log: IO[bytes]) -> RankProcess:
        """Fork a rank with ``env``, its stderr to ``log``: its stdin and stdout are pipes."""
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        try:
            job = json.dumps({"env": env, "cwd": os.getcwd()}).encode()
            with self._lock:
                socket.send_fds(self._sock, [job], [stdin_r, stdout_w, log.fileno()])
                while not self._pids:
                    if self._gone:
                        raise OSError("the zygote that forks ranks died")
                    self._pump(1.0)
                pid = self._pids.pop(0)
        except BaseException:
            os.close(stdin_w)
            os.close(stdout_r)
            raise
        finally:
            os.close(stdin_r)
            os.close(stdout_w)
        return RankProcess(self, pid, open(stdin_w, "wb"), open(stdout_r, "rb"))

    def _pump(self, timeout: float | None) -> bool:
        """Read one message of the zygote (a fork's pid, a child's exit), waiting up to
        ``timeout`` seconds (None: for ever); whether one came."""
        with self._lock:
            if self._gone or not select.select([self._sock], [], [], timeout)[0]:
                return False
            try:
                data = self._sock.recv(_MESSAGE)
            except OSError:
                data = b""
            if not data:  # the zygote ended: its ranks died with it (PR_SET_PDEATHSIG)
                self._gone = True
                return False
            message = json.loads(data)
            if "ready" in message:
                self._ready = True
            elif "pid" in message:
                self._pids.append(message["pid"])
            elif "exit" in message:
                self._exits[message["exit"]] = message["code"]
            else:
                raise OSError(f"the zygote that forks ranks refused: {message.get('error')}")
            return True

    def exit_code(self, pid: int, timeout: float | None) -> int | None:
        """How the rank ``pid`` ended (``Popen.returncode``'s way), once the zygote reaped
        it, waiting up to ``timeout`` seconds (None: for ever); None if it still runs."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while pid not in self._exits:
            if self._gone:
                return -signal.SIGKILL  # its ranks died with it (PR_SET_PDEATHSIG)
            left = None if deadline is None else deadline - time.monotonic()
            if not self._pump(0.2 if left is None else max(min(left, 0.2), 0.0)) and (
                    left is not None and left <= 0):
                return None
        return self._exits[pid]

    def close(self) -> None:
        """End the zygote (it holds no state; its ranks, if any still run, die with it)."""
        self._sock.close()
        self._gone = True
        self.proc.kill()
        self.proc.wait()
        with _lock:
            if self in _zygotes:
                _zygotes.remove(self)


def _key(env: dict[str, str]) -> tuple:
    return tuple(sorted((k, v) for k, v in env.items() if k not in _UNCOMPARED)), os.getcwd()


def _on_keeper(call: Callable[[], _T]) -> _T:
    """``call()`` on this process's keeper thread (a daemon, started at the first call), so
    that what it starts with ``PR_SET_PDEATHSIG`` lives as long as this process, not as the
    calling thread (an executor's, which ends with its search)."""
    global _keeper
    with _lock:
        if _keeper is None:
            _keeper = queue.SimpleQueue()
            threading.Thread(target=_keep, args=(_keeper,), name="lightning_nas-zygotes",
                             daemon=True).start()
        keeper = _keeper
    done: queue.SimpleQueue = queue.SimpleQueue()
    keeper.put((call, done))
    result = done.get()
    if isinstance(result, BaseException):
        raise result
    return result


def _keep(requests: queue.SimpleQueue) -> None:
    while True:
        call, done = requests.get()
        try:
            done.put(call())
        except BaseException as err:  # noqa: BLE001 - raised in the thread that asked
            done.put(err)


def zygote_for(env: dict[str, str]) -> Zygote | None:
    """A zygote for ranks with ``env`` (without their rank variables), once it imported
    torch and Lightning (waited for while it works at it: ``Zygote.ready``): this thread's,
    or one an earlier search left idle (``release_zygotes``), or else one started now
    (``env`` changed: the old one ended); None where ranks are to be started cold, where
    none can start (``NO_ZYGOTE``, no ``os.fork`` or ``socket.send_fds``, a zygote that
    died or never got ready) or it is asleep in its import (kept: a later call forks from
    it once it is ready)."""
    if os.environ.get(NO_ZYGOTE) == "1" or not (hasattr(os, "fork")
                                                and hasattr(socket, "send_fds")):
        return None
    key, me = _key(env), threading.current_thread()
    with _lock:
        zygote: Zygote | None = getattr(_local, "zygote", None)
        if zygote is None or zygote.key != key or zygote not in _zygotes:
            free = [z for z in _zygotes if z.holder is None or not z.holder.is_alive()]
            zygote = next((z for z in free if z.key == key), None)
            stale = [z for z in free if z.key != key]  # the environment changed since
            if zygote is not None:
                zygote.holder = me
        else:
            stale = []
    for old in stale:
        old.close()
    _local.zygote = zygote
    if zygote is not None and zygote.proc.poll() is None:
        if zygote.ready():
            return zygote
        if zygote.stuck == "asleep":
            return None  # still: its ranks start cold at once (0.2 s); it is kept
    if zygote is not None:
        zygote.close()
    try:
        zygote = _local.zygote = Zygote(env)
    except OSError:
        return None
    with _lock:
        _zygotes.append(zygote)
    if zygote.ready():  # its import: the group's ranks fork from it (was: W cold imports)
        return zygote
    if zygote.stuck != "asleep":  # died, spinning, or slower than ``_READY_S``: ended
        zygote.close()
    return None  # asleep: its ranks start cold, not after ``_READY_S``; it is kept


def release_zygotes() -> None:
    """Keep every zygote of this process for the next search, held by no thread (a
    search's end, after its groups: ``close_rank_groups``)."""
    with _lock:
        for zygote in _zygotes:
            zygote.holder = None
    _local.zygote = None


def close_zygotes() -> None:
    """End every zygote this process started (at its exit, after its groups)."""
    with _lock:
        zygotes = list(_zygotes)
    for zygote in zygotes:
        zygote.close()
    _local.zygote = None


def _at_exit() -> None:
    """The groups first (their ranks end as they should, not with their zygote), then the
    zygotes (registered after ``ranks``'s own, so run before it)."""
    ranks.close_rank_groups()
    close_zygotes()


def _forget() -> None:
    """In a child forked from this process: its parent's zygotes and keeper are not its."""
    global _keeper, _lock, _local
    for zygote in _zygotes:
        zygote._sock.close()  # noqa: SLF001 - this copy only: the parent's stays open
    _zygotes.clear()
    _keeper, _lock, _local = None, threading.Lock(), threading.local()


ranks.when_closed(release_zygotes)  # a search's end: kept for the next search
atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)


def _send(sock: socket.socket, **message: object) -> None:
    sock.send(json.dumps(message).encode())


def _reap(sock: socket.socket) -> None:
    """Report every child that ended (``Popen.returncode``'s way)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(sock, exit=pid, code=os.waitstatus_to_exitcode(status))


def _become_rank(job: dict, fds: list[int], zygote_pid: int) -> int:
    """In a forked child: take the rank's pipes, environment and folder; run its loop."""
    os.setsid()  # its own session: ``kill_group`` ends it and what it starts
    for target, fd in enumerate(fds):  # stdin, stdout, stderr
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the rank reads its trials from it
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    paths = [p for p in job["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:0] = [p for p in paths if p not in sys.path]
    return ranks._serve(zygote_pid)  # noqa: SLF001 - a rank's loop, as ``python -m`` runs it


def _zygote(parent_pid: int, fd: int) -> int:
    """The zygote's loop: import, then fork a rank per request, reap and report them."""
    die_with_parent()
    sock = socket.socket(fileno=fd)
    if not parent_alive(parent_pid):
        return 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # not a terminal's: the driver ends it
    import gc

    import lightning.pytorch  # noqa: F401
    import torch

    import lightning_nas.search.trial  # noqa: F401
    gc.freeze()  # the imported heap: never walked again, in the zygote or a rank
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    _send(sock, ready=os.getpid())
    while True:
        readable = select.select([sock, wake_r], [], [])[0]
        if wake_r in readable:
            os.read(wake_r, 512)
            _reap(sock)
        if sock not in readable:
            continue
        data, fds, flags, _ = socket.recv_fds(sock, _MESSAGE, 3)
        if not data:
            return 0  # the driver closed it, or died
        if flags & socket.MSG_TRUNC or len(fds) != 3:
            _send(sock, error=f"a request of {len(data)} bytes, {len(fds)} files: cut short")
            return 1
        if threading.active_count() != 1 or torch.cuda.is_initialized():
            _send(sock, error="a thread or CUDA started in the zygote: no fork is safe")
            return 1
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for own in (wake_r, wake_w):
                os.close(own)
            sock.close()
            return _become_rank(json.loads(data), fds, zygote_pid)
        for own in fds:
            os.close(own)
        _send(sock, pid=pid)


if __name__ == "__main__":  # the zygote's or a rank's exit: no teardown (``end_now``)
    end_now(_zygote(int(sys.argv[1]), int(sys.argv[2])))
