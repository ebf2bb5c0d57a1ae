"""Launch search processes without paying for their imports each time.

A helper process (the zygote) imports torch, Lightning, nevergrad and ``lightning_nas`` once
and then forks one child per launch: ``lightning_nas.cli.main(ARGV)`` (what ``python -m
lightning_nas ARGV`` runs) or a script run as ``python SCRIPT ARGV`` runs it
(``runpy.run_path`` as ``__main__``, its folder first on ``sys.path``). A child is a real
process of its own: it can be killed at any moment, its exit code is its own, and the
processes it starts (a search's spawned workers, Lightning's DDP ranks) are started as
from any process. It leaves by ``os._exit`` with its exit code, or, launched ``as_script``,
as ``python SCRIPT`` would (its ``atexit`` hooks, an uncaught exception's exit). On two
cores this saves seconds per launch (``import lightning`` is about 3 s cold), which tests
that kill and resume a search several times pay many times.

This is the tests' one way to fork a command warm. The zygote forks, not the test process
itself: a child of the test process would start with its state (pytest's capture and log
handlers, its timeout thread and torch's threads, whose locks a fork can copy held), and
the zygote is an interpreter that imported the stack and ran nothing else. What needs a
cold interpreter still starts one (a sitecustomize that holds the command's own process
runs only at a fresh start).

The helper processes here and in ``tests.helpers_standalone`` share ``Lines``, their output
read line by line, and start with ``default_sigint``: SIGINT's default disposition, so
their children get Python's ``KeyboardInterrupt`` for a test's Ctrl-C, as from a terminal,
even when the test session itself ignores SIGINT (started from a background shell).

Example:
    >>> launcher = Launcher(Path(tempfile.mkdtemp()))  # doctest: +SKIP
    >>> launcher.run(["show", "runs/a"], Path("show.log"))  # doctest: +SKIP
    0
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ROOT", "Launcher", "Lines", "default_sigint", "hung_report", "pidfd_of_child",
           "pythonpath", "stat"]

_ZYGOTE = '''
import json, os, runpy, sys, traceback

if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])
    import torch
    import lightning.pytorch
    import nevergrad
    import lightning_nas.cli
    import lightning_nas.search.facade
    import tests.helpers

    print("ready", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the launched process
            if job["session"]:  # its own process group: a Ctrl-C to it reaches no other
                os.setsid()
            fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(fd, 1)
            os.dup2(os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                    if job["err"] else fd, 2)
            for key, value in job["env"].items():  # None: unset in the launched process
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            os.chdir(job["cwd"])
            if job["as_script"]:
                # it leaves as a script does, out of this loop: an uncaught exception's
                # traceback and exit (a Ctrl-C's: by SIGINT), its atexit hooks, finalization
                sys.argv = [job["script"], *job["argv"]]
                sys.path.insert(0, os.path.dirname(os.path.abspath(job["script"])))
                runpy.run_path(job["script"], run_name="__main__")
                sys.exit(0)
            code = 1
            try:
                if job["script"] is None:
                    code = lightning_nas.cli.main(job["argv"]) or 0
                else:
                    sys.argv = [job["script"], *job["argv"]]
                    sys.path.insert(0, os.path.dirname(os.path.abspath(job["script"])))
                    runpy.run_path(job["script"], run_name="__main__")
                    code = 0
            except SystemExit as err:
                code = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)
'''


def pythonpath(*first: str | os.PathLike) -> str:
    """A child's ``PYTHONPATH``: ``first`` (the repository by default), then this process's
    own, so that packages found through it (a ``--target`` install) import there too.

    Example:
        >>> pythonpath("/a").split(os.pathsep)[0]
        '/a'
    """
    parts = [str(p) for p in first or (ROOT,)]
    return os.pathsep.join([*parts, *filter(None, [os.environ.get("PYTHONPATH")])])


def default_sigint() -> None:
    """Give SIGINT its default disposition in a child about to run a command (a ``Popen``
    ``preexec_fn``). A test session started from a background shell (``cmd &``, ``nohup``)
    runs with SIGINT ignored, a disposition every process it starts inherits, and Python
    installs no ``KeyboardInterrupt`` handler where it starts with SIGINT ignored: a test's
    Ctrl-C would reach nothing that takes it. Restored, the child's Python installs its own
    handler, and the processes it starts in turn inherit a SIGINT that is not ignored.

    Example:
        >>> subprocess.run([sys.executable, "-c", "import signal; print(signal.getsignal("
        ...                 "signal.SIGINT).__name__)"], preexec_fn=default_sigint,
        ...                capture_output=True, text=True).stdout.strip()
        'default_int_handler'
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Lines:
    """The lines a helper process prints (its ``stdout``, stripped), read on a thread of
    their own so that a wait for the next one can time out; ``name`` is what a failure
    says died when the output ends.

    Example:
        >>> proc = subprocess.Popen([sys.executable, "-c", "print('ready')"],
        ...                         stdout=subprocess.PIPE, text=True)
        >>> lines = Lines(proc, "the helper")
        >>> lines.next(60)
        'ready'
        >>> proc.wait()
        0
    """

    def __init__(self, proc: subprocess.Popen, name: str) -> None:
        self.name = name
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stdout) -> None:
        with stdout:  # (closed at its end: not left to the garbage collector, which warns)
            for line in stdout:
                self._queue.put(line.strip())
        self._queue.put(None)  # the output ended: the process died

    def next(self, timeout: float) -> str:
        """The next line, waiting up to ``timeout`` seconds (0: only one already read);
        ``queue.Empty`` if none came, an AssertionError if the process died."""
        line = self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
        assert line is not None, f"{self.name} died"
        return line


def stat(pid: int) -> list[str]:
    """``/proc/PID/stat`` after the command name: state, ppid, ... (empty if gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def pidfd_of_child(pid: int, parent: int) -> int:
    """A pidfd of ``pid``, checked to be a child of ``parent`` (not a reused pid)."""
    fd = os.pidfd_open(pid)
    if stat(pid)[1:2] != [str(parent)]:
        os.close(fd)
        raise AssertionError(f"process {pid} is not a child of {parent}")
    return fd


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, parents first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop(0))
        todo.extend(sorted(children.get(found[-1], [])))
    return found


def hung_report(pid: int, stacks: int = 6) -> str:
    """What ``pid`` and the processes below it are doing (for a launch that did not end in
    time): each one's command line, state and each thread's kernel wait (``wchan``), and for
    the first ``stacks`` of them their threads' C stacks by ``gdb`` where it is installed, so
    that a rare hang says where it waited (was: only ``queue.Empty``).

    Example:
        >>> "python" in hung_report(os.getpid(), stacks=0)
        True
    """
    lines = []
    for n, proc in enumerate(_descendants(pid)):
        try:
            cmd = Path(f"/proc/{proc}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            waits = sorted({(t / "wchan").read_text() for t in Path(f"/proc/{proc}/task")
                            .iterdir()})
        except OSError:
            continue  # ended meanwhile
        lines.append(f"pid {proc} ({''.join(stat(proc)[:1])}) waits in {waits}: {cmd[:200]}")
        if n < stacks and shutil.which("gdb"):
            gdb = subprocess.run(["gdb", "-p", str(proc), "-batch", "-ex",
                                  "thread apply all bt 12"], capture_output=True, text=True,
                                 timeout=60, check=False)
            lines.append("\n".join(ln for ln in gdb.stdout.splitlines()
                                   if ln.startswith(("#", "Thread")))[:4000])
    return "\n".join(lines)


class Launcher:
    """Forks launched processes, one at a time, from a helper that imported the heavy
    modules once (see the module's docstring)."""

    def __init__(self, folder: Path) -> None:
        script = folder / "zygote.py"
        script.write_text(_ZYGOTE)
        env = {**os.environ, "PYTHONPATH": pythonpath(), "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, str(script), str(ROOT)], cwd=ROOT,
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, preexec_fn=default_sigint)
        self.lines = Lines(self.proc, "the launcher")
        self.pidfd: int | None = None  # of the running launch (signals reach no other)
        assert self.lines.next(300) == "ready"

    def launch(self, argv: list[str], log: Path, script: Path | None = None,
               cwd: Path = ROOT, err: Path | None = None,
               env: dict[str, str | None] | None = None, session: bool = False,
               as_script: bool = False) -> int:
        """Start ``lightning-nas ARGV`` (or ``python SCRIPT ARGV``) in ``cwd``, with ``env``
        set in its environment (a ``None`` value unsets that variable); its output goes to
        ``log`` (its stderr to ``err`` if given); with ``session``, in a session (and process
        group) of its own, as a command a terminal starts; with ``as_script`` (a script
        only), it ends as ``python SCRIPT`` does (``atexit`` hooks, an uncaught exception's
        exit, a Ctrl-C's ``-SIGINT``) instead of by ``os._exit``; returns its pid."""
        assert self.pidfd is None, "one launch at a time"
        job = {"log": str(log), "argv": [str(a) for a in argv], "cwd": str(cwd),
               "script": None if script is None else str(script),
               "err": None if err is None else str(err), "env": dict(env or {}),
               "session": session, "as_script": as_script}
        assert script is not None or not as_script, "as_script: a script's exit"
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        kind, pid = self.lines.next(60).split()
        assert kind == "pid"
        self.pidfd = pidfd_of_child(int(pid), self.proc.pid)
        return int(pid)

    def run(self, argv: list[str], log: Path, script: Path | None = None,
            timeout: float = 300, cwd: Path = ROOT, err: Path | None = None,
            env: dict[str, str | None] | None = None) -> int:
        """``launch`` and ``wait``: the exit code (``-9``: killed by SIGKILL)."""
        pid = self.launch(argv, log, script, cwd, err, env)
        try:
            return self.wait(timeout)
        except queue.Empty:
            raise AssertionError(f"the launch did not end in {timeout} s:\n"
                                 f"{hung_report(pid)}") from None

    def kill(self) -> int:
        """SIGKILL the running launch; its exit code."""
        signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        return self.wait(30)

    def _ended(self, line: str) -> int:
        kind, code = line.split()
        assert kind == "exit"
        os.close(self.pidfd)
        self.pidfd = None
        return int(code)

    def exited(self) -> int | None:
        """The exit code of the running launch if it has ended, else None."""
        try:
            return self._ended(self.lines.next(0))
        except queue.Empty:
            return None

    def wait(self, timeout: float) -> int:
        return self._ended(self.lines.next(timeout))

    def reset(self) -> None:
        """Kill a launch a failed test left running."""
        if self.pidfd is not None:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            self.wait(30)

    def close(self) -> None:
        """Kill the helper: it holds nothing that needs a clean exit (no file it writes, no
        child once ``reset`` reaped the running launch), and its interpreter's exit would
        take seconds to tear down the modules it imported (was: end of input, then a wait)."""
        self.reset()
        self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
