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

Each rank runs in a session of its own (``kill_group``) and dies with the zygote, which
dies with the thread that started it (``PR_SET_PDEATHSIG``); the zygote reaps its children
and reports how each ended (``exit code 3``, ``killed by SIGKILL``), so that a
``RankProcess`` answers ``poll``/``wait`` as a ``subprocess.Popen`` does. One zygote per
thread, started at its first group and again when the environment a rank would get changed
(variables read as torch loads, ``OMP_NUM_THREADS``, take effect in the zygote).
``LIGHTNING_NAS_NO_ZYGOTE=1``, a platform without ``os.fork`` or ``socket.send_fds``, or a
zygote that cannot start: ranks are started cold, as before.

Example:
    >>> zygote = zygote_for(child_env())  # doctest: +SKIP
    >>> rank = zygote.start({**child_env(), "RANK": "0"}, log)  # doctest: +SKIP
    >>> rank.poll() is None  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO

from lightning_nas.search import ranks
from lightning_nas.search.exit_gc import freeze_for_exit
from lightning_nas.search.lifetime import die_with_parent, parent_alive

__all__ = ["NO_ZYGOTE", "RankProcess", "Zygote", "close_zygotes", "zygote_for"]

#: set to ``1``: a group's ranks are started cold (``python -m``), not forked from a zygote
NO_ZYGOTE = "LIGHTNING_NAS_NO_ZYGOTE"
#: seconds a zygote may take to import torch and Lightning before ranks are started cold
_READY_S = 300.0
#: the longest message (a rank's environment, as JSON): a longer one starts it cold
_MESSAGE = 1 << 20
_zygotes: list[Zygote] = []
_lock = threading.Lock()
_local = threading.local()


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
        self.env, self.cwd = dict(env), os.getcwd()
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._exits: dict[int, int] = {}
        self._pids: list[int] = []
        self._gone = self._ready = False
        self._lock = threading.RLock()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lightning_nas.search.rank_zygote", str(os.getpid()),
                 str(theirs.fileno())], pass_fds=(theirs.fileno(),), env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()

    def ready(self, timeout: float = _READY_S) -> bool:
        """Wait until it has imported torch and Lightning; False if it died first."""
        deadline = time.monotonic() + timeout
        while not self._ready and not self._gone and time.monotonic() < deadline:
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


def zygote_for(env: dict[str, str]) -> Zygote | None:
    """This thread's zygote for ranks with ``env`` (without their rank variables), once it
    imported torch and Lightning (waited for); None where ranks are to be started cold: the
    first time (or ``env`` changed since), when the zygote is started in the background
    for the next group, and where none can start (``NO_ZYGOTE``, no ``os.fork`` or
    ``socket.send_fds``, a zygote that died or never got ready)."""
    if os.environ.get(NO_ZYGOTE) == "1" or not (hasattr(os, "fork")
                                                and hasattr(socket, "send_fds")):
        return None
    zygote: Zygote | None = getattr(_local, "zygote", None)
    if zygote is not None and (zygote.env != env or zygote.cwd != os.getcwd()
                               or not zygote.ready()):
        zygote.close()
        zygote = _local.zygote = None
    if zygote is not None:
        return zygote
    try:
        _local.zygote = Zygote(env)  # imports while this group's ranks start cold
    except OSError:
        return None
    with _lock:
        _zygotes.append(_local.zygote)
    return None


def close_zygotes() -> None:
    """End every zygote this process started (after its groups: ``close_rank_groups``)."""
    with _lock:
        zygotes = list(_zygotes)
    for zygote in zygotes:
        zygote.close()
    _local.zygote = None


ranks.when_closed(close_zygotes)  # a search's end, and the exit: after the groups


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


if __name__ == "__main__":
    _code = _zygote(int(sys.argv[1]), int(sys.argv[2]))
    freeze_for_exit()  # the zygote's or a rank's exit: no sweep of the heap (seconds)
    sys.exit(_code)
