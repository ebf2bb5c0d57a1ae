"""Long-lived rank processes for multi-process (DDP) trials on one machine.

Started from scratch, a DDP trial costs a process per rank that imports torch and Lightning
and joins a process group: seconds per trial, often more than a short trial trains. A
``RankGroup`` starts its ranks once, the way ``torchrun`` does (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``, ``TORCHELASTIC_RUN_ID``: Lightning then
launches nothing and keeps the process group; the ranks meet on a store this process serves
for the group's life, as torchrun's agent does: ``rendezvous``), and sends every trial's
``spec.pkl`` to all
of them: each rank builds a fresh Trainer and fits the architecture the driver chose; rank 0
writes ``result.json``. Everything a rank prints during a trial goes to ``trial.log``.
Which rank a failed trial is blamed on, and where it failed: ``rank_failures``.

A trial that fails on any rank, or a rank that dies, ends the group (another rank may be
waiting in a collective that will never complete); the next trial starts a new one. Ranks
die with the process that started them (``PR_SET_PDEATHSIG``); one that exits destroys its
process group first (``lightning_nas.group_exit``), and ends right after its ``atexit``
hooks, without the interpreter's teardown (``exit_gc.end_now``: ~0.3 s of CPU per rank
that a close waited for, ~1 s per close on 2 cores). Ranks start cold (``python -m``), or
are forked from a warm zygote (``rank_zygote``; ``LIGHTNING_NAS_NO_ZYGOTE=1``: all cold).
``LIGHTNING_NAS_FRESH_RANKS=1`` goes back to fresh processes for every trial
(``runner.run_in_own_process``).

Example:
    >>> group_key({"accelerator": "cpu", "devices": 2, "strategy": "ddp"}, world_size=2)
    (2, 'cpu', 'ddp')
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import selectors
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lightning_nas.errors import typed
from lightning_nas.search.exit_gc import end_now
from lightning_nas.search.lifetime import (
    child_env,
    describe_exit,
    die_of_sigterm,
    die_with_parent,
    kill_group,
    parent_alive,
)
from lightning_nas.search.rank_failures import blame, first_line
from lightning_nas.search.rendezvous import Rendezvous

if TYPE_CHECKING:
    from lightning_nas.results import TrialResult
    from lightning_nas.search.rank_zygote import RankProcess, Zygote

    ZygoteFor = Callable[[dict[str, str]], Zygote | None]

__all__ = ["RankGroup", "close_rank_groups", "execute_fresh", "execute_spec", "group_key",
           "run_in_group", "when_closed"]

#: seconds the other ranks get to finish after one rank failed or died
_GRACE_S = 10.0
_groups: list[RankGroup] = []
_closers: list[Callable[[], None]] = []  # ``when_closed``
_lock = threading.Lock()
_local = threading.local()


def group_key(trainer: Mapping[str, Any], world_size: int) -> tuple[int, str, str]:
    """Trials whose keys are equal can share a group of ranks."""
    return (world_size, str(trainer.get("accelerator", "auto")),
            str(trainer.get("strategy", "auto")))


class RankGroup:
    """``world_size`` rank processes on this machine that train trial after trial.

    Args:
        world_size: ranks (the Trainer's ``devices`` on one node).
        key: what trials must agree on to share the group (``group_key``).
        zygote: for the ranks' environment, the zygote to fork them from, or None
            (``rank_zygote.zygote_for``); without one, or None, they start cold.
    """

    def __init__(self, world_size: int, key: tuple = (), zygote: ZygoteFor | None = None) -> None:
        self.world_size, self.key, self.zygote = world_size, key, zygote
        self.procs: list[subprocess.Popen | RankProcess] = []
        self.rendezvous: Rendezvous | None = None

    @property
    def alive(self) -> bool:
        return bool(self.procs) and all(p.poll() is None for p in self.procs)

    def start(self, log: IO[bytes]) -> None:
        """Start the ranks; what they print before their first trial goes to ``log``. They
        meet on a store this process serves until the group closes (``rendezvous``: was, a
        port chosen free and left free until rank 0 bound it, which another process could
        take meanwhile). Any exception out of it (Ctrl-C between two starts, a rank that
        could not be started) first kills the ranks it started: none is left waiting for
        trials (was: left running, out of reach of ``close_rank_groups``, e.g. in a
        notebook's kernel)."""
        env = child_env()
        command = [sys.executable, "-m", "lightning_nas.search.ranks", str(os.getpid())]
        try:
            zygote = self.zygote and self.zygote(env)
            self.rendezvous = Rendezvous()
            env.update(WORLD_SIZE=str(self.world_size), LOCAL_WORLD_SIZE=str(self.world_size),
                       GROUP_RANK="0", **self.rendezvous.env,
                       TORCHELASTIC_RUN_ID=f"lightning_nas-{os.getpid()}-{time.time_ns()}")
            for rank in range(self.world_size):
                rank_env = {**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}
                try:  # a zygote that died meanwhile: this rank starts cold
                    proc = zygote and zygote.start(rank_env, log)
                except OSError:
                    proc = None
                self.procs.append(proc or subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                    env=rank_env, start_new_session=True))
        except BaseException:
            self.close(kill=True)
            raise

    def run(self, spec_path: Path) -> str | None:
        """Send a trial to every rank and wait for them.

        Returns:
            ``None`` when every rank finished the trial (the group stays up), else why not
            (the group is closed).
        """
        try:
            failure = self._send(f"{spec_path}\n".encode()) or self._wait()
        except BaseException:  # interrupted: leave no rank behind
            self.close(kill=True)
            raise
        if failure is not None:
            self.close(kill=True)
        return failure

    def _send(self, line: bytes) -> str | None:
        for rank, proc in enumerate(self.procs):
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except OSError:  # it died since the last trial
                return f"rank {rank} died ({_exit(proc)})"
        return None

    def _wait(self) -> str | None:
        """Wait for every rank's answer; after the first bad one, ``_GRACE_S`` more; then
        name the rank to blame (``rank_failures.blame``)."""
        died: dict[int, str] = {}
        failed: dict[int, str] = {}
        with selectors.DefaultSelector() as sel:
            for rank, proc in enumerate(self.procs):
                sel.register(proc.stdout, selectors.EVENT_READ, rank)
            pending, deadline = set(range(self.world_size)), None
            while pending and (deadline is None or time.time() < deadline):
                for event, _ in sel.select(timeout=0.2):
                    rank = event.data
                    answer = self.procs[rank].stdout.readline().decode().strip()
                    sel.unregister(event.fileobj)
                    pending.discard(rank)
                    if answer.split(" ", 1)[0] == "failed":  # "failed <its error's line>"
                        failed[rank] = answer[len("failed"):].strip()
                    elif answer != "ok":
                        died[rank] = _exit(self.procs[rank])
                if (died or failed) and deadline is None:
                    deadline = time.time() + _GRACE_S
        return blame(died, failed)

    def close(self, kill: bool = False) -> None:
        """End the ranks: ask them to stop (or kill them), never leave one behind."""
        for proc in self.procs:
            if not kill and proc.poll() is None:
                try:
                    proc.stdin.close()  # end of input: a rank leaves its loop
                except OSError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=0 if kill else 10)
            except subprocess.TimeoutExpired:
                pass
            kill_group(proc)
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
        self.procs = []
        if self.rendezvous is not None:  # after the ranks: none is left to use it
            self.rendezvous.close()
            self.rendezvous = None
        with _lock:
            if self in _groups:
                _groups.remove(self)


def _exit(proc: subprocess.Popen | RankProcess) -> str:
    try:
        return describe_exit(proc.wait(timeout=5))
    except subprocess.TimeoutExpired:
        return "no answer"


def execute_spec(spec_path: Path, note_failure: bool = False) -> TrialResult:
    """What every rank runs: train the spec; rank 0 writes ``result.json`` beside it. A
    rank that fails prints its error (into ``trial.log``); with ``note_failure`` (fresh
    processes: no answer of a rank reaches the driver) a rank other than 0 also writes it
    to ``rank<R>.error`` beside the spec (``rank_failures.fresh_failure`` reads them). A
    rank whose fit Lightning's SIGTERM handler ended (its ``SIGTERMException``) dies of
    SIGTERM, as a worker does (``lifetime.die_of_sigterm``). The process group is destroyed
    when the rank exits (``lightning_nas.group_exit``)."""
    from lightning_nas.group_exit import destroy_group_at_exit
    from lightning_nas.results import TrialStatus
    from lightning_nas.search.trial import fit_trial  # torch and Lightning: only in ranks

    spec = pickle.loads(Path(spec_path).read_bytes())
    spec.clear_dir = False  # the caller prepared the folder; ranks > 0 must not wipe it
    spec.rank_process = True  # a SIGTERM to this rank alone kills it (``rank_sigterm``)
    try:
        result = fit_trial(spec)
    except SystemExit as err:  # Lightning's SIGTERMException (its handler met the signal):
        die_of_sigterm(err)  # die of SIGTERM, as workers do (was: "rank 0 died (exit code 0)")
        raise
    # the trial's gloo group (a group's ranks keep Lightning's from trial to trial): destroyed
    # at exit, before finalization, where a gloo thread may abort the rank (``group_exit``)
    destroy_group_at_exit()
    rank = _global_rank(spec.trainer)
    if result.status is TrialStatus.FAILED:  # rank 0's result.json may never come
        if rank != 0:  # where it failed: rank 0 may have got further (``blamed_where``);
            Path(spec.trial_dir, f"rank{rank}.where").write_text(json.dumps(  # before .error
                {"failed_in": result.failed_in, "build_failed": result.build_failed}))
        if note_failure and rank != 0:  # before this rank ends (its peers fail then)
            Path(spec.trial_dir, f"rank{rank}.error").write_text(result.error or "")
        print(f"rank {rank}: {result.error}", file=sys.stderr, flush=True)
    if rank == 0:
        out = Path(spec.trial_dir) / "result.json"
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result.to_dict()))
        os.replace(tmp, out)
    return result


def execute_fresh(spec_path: Path) -> int:
    """What each process of a trial of fresh processes runs (``python -m
    lightning_nas.search.runner``): ``execute_spec`` with ``note_failure``. A rank other than
    0 trains in a child process of its own and, when that child ends badly without noting
    an error (``os._exit``, a signal), writes how in ``rank<R>.died`` (``exit code 3``) for
    ``fresh_failure``: a rank that dies writes nothing itself.

    Returns:
        The exit status for this process: the rank's (``128 + N`` for signal ``N``).
    """
    spec = pickle.loads(Path(spec_path).read_bytes())
    rank, watcher = _global_rank(spec.trainer), os.getpid()
    if rank == 0 or not hasattr(os, "fork"):
        execute_spec(spec_path, note_failure=True)
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the rank: it trains, and dies with its watcher
        die_with_parent()
        if not parent_alive(watcher):
            return 0
        execute_spec(spec_path, note_failure=True)
        return 0
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    trial_dir = Path(spec.trial_dir)
    if code != 0 and not (trial_dir / f"rank{rank}.error").exists():
        (trial_dir / f"rank{rank}.died").write_text(describe_exit(code))
    return code if code >= 0 else 128 - code


def _global_rank(trainer: Mapping[str, Any]) -> int:
    """This process's rank: ``RANK`` (a group's ranks, ``torchrun``), else from what
    Lightning's launcher sets (``NODE_RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``)."""
    if "RANK" in os.environ:
        return int(os.environ["RANK"])
    per_node = int(os.environ.get("WORLD_SIZE", 1)) // max(int(trainer.get("num_nodes", 1)), 1)
    return int(os.environ.get("NODE_RANK", 0)) * per_node + int(os.environ.get("LOCAL_RANK", 0))


def run_in_group(spec_path: Path, trainer: Mapping[str, Any], world_size: int,
                 log: IO[bytes], zygote: ZygoteFor | None = None) -> str | None:
    """Run the trial in ``spec_path`` on this thread's group (started, or replaced, when
    needed: ``zygote`` as ``RankGroup``'s); ``None`` when it ran on every rank, else why not."""
    key = group_key(trainer, world_size)
    group: RankGroup | None = getattr(_local, "group", None)
    if group is not None and (group.key != key or not group.alive):
        group.close(kill=not group.alive)
        group = None
    if group is None:
        group = RankGroup(world_size, key, zygote)
        with _lock:  # listed before it starts: a Ctrl-C right after the start finds it
            _groups.append(group)
        group.start(log)
    _local.group = group
    failure = group.run(spec_path)
    if failure is not None:
        _local.group = None  # closed by ``run``
    return failure


def close_rank_groups() -> None:
    """Close every group of ranks this process started (executors call it when a search
    ends; it also runs at exit)."""
    with _lock:
        groups = list(_groups)
    for group in groups:
        group.close()
    _local.group = None
    for close in _closers:  # after the groups (``rank_zygote``: kept for the next search)
        close()


def when_closed(close: Callable[[], None]) -> None:
    """Have ``close_rank_groups`` call ``close`` after it closed the groups."""
    _closers.append(close)


atexit.register(close_rank_groups)


@contextmanager
def _output_to(path: Path):
    """Send this process's stdout and stderr (file descriptors 1 and 2) to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def _serve(parent_pid: int) -> int:
    """A rank's loop: read a ``spec.pkl`` path per line, train it, answer ``ok``/``failed``."""
    die_with_parent()
    if not parent_alive(parent_pid):
        return 0
    from lightning_nas.results import TrialStatus  # a failure here shows in the first log

    answers = os.fdopen(os.dup(1), "w", buffering=1)  # prints never reach the answers:
    quiet = os.open(os.devnull, os.O_WRONLY)  # between trials they belong to no trial
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)

    for line in sys.stdin:
        spec_path = Path(line.strip())
        with _output_to(spec_path.parent / "trial.log"):
            try:
                result = execute_spec(spec_path)  # prints a failure into trial.log
                failed, error = result.status is TrialStatus.FAILED, result.error
            except Exception as err:  # noqa: BLE001 - before fit (the spec would not load)
                failed, error = True, f"{typed(err)}\n{traceback.format_exc()}"
                print(f"rank {os.environ['RANK']}: {error}", file=sys.stderr)
        answers.write(f"failed {first_line(error)}\n" if failed else "ok\n")
    return 0


if __name__ == "__main__":  # its exit: no teardown of torch and Lightning (``end_now``)
    end_now(_serve(int(sys.argv[1])))
