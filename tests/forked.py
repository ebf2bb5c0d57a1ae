"""Run the CLI in a process forked from the test process, whose imports (torch, Lightning,
nevergrad, ``lightning_nas``) are already paid: a cold ``python -m lightning_nas`` costs
seconds of imports on two cores before it does what a test is about.

The forked child is a real process of its own: a session (and process group) of its own,
its own exit code, its stdout and stderr in one file as a subprocess's would be (stdout
block-buffered, stderr line-buffered, as Python does for a pipe), warnings printed as a
fresh Python prints them, and the processes it starts (a search's spawned workers) started
as from any process. It leaves with ``os._exit``: nothing of the test session runs in it.

Example:
    >>> code, out = ctrl_c_forked_when_held(["search", "cfg.yaml"], cwd, env, hold, 2)
    ... # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

__all__ = ["ctrl_c_forked_when_held", "fork_cli"]


def _run_cli(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> int:
    """In the forked child: a fresh process's streams, environment and folder, then
    ``lightning_nas.cli.main(argv)``; its exit code."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # the test's capture objects and log handlers are pytest's: a process's own instead
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the process's stdout
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not type(h).__module__.startswith("_pytest")]
    warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    from lightning_nas.cli import main

    try:
        return main(argv) or 0
    except SystemExit as err:
        return err.code if isinstance(err.code, int) else (0 if err.code is None else 1)


def fork_cli(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> int:
    """Fork a child that runs ``lightning_nas.cli.main(argv)`` (what ``python -m
    lightning_nas ARGV`` runs) in a session of its own, in ``cwd`` with exactly ``env``, its
    output into ``log``; its pid (the caller reaps it)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never back into the test session
        code = 1
        try:
            os.setsid()
            code = _run_cli(argv, cwd, env, log)
        except BaseException:  # noqa: BLE001 - printed as a process would
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def _reap(pid: int, timeout: float) -> int | None:
    """``pid``'s exit code (negative: the signal that ended it), or None after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    return None


def ctrl_c_forked_when_held(argv: list[str], cwd: Path, env: dict[str, str], hold: Path,
                            held: int, timeout: float = 120) -> tuple[int, str]:
    """``tests.helpers_ctrl_c.ctrl_c_when_held`` for ``python -m lightning_nas ARGV``, forked
    (``fork_cli``) instead of started cold: once ``held`` of its processes wrote an
    ``importing.<pid>`` file into ``hold``, SIGINT to its whole process group, as a
    terminal's Ctrl-C; its exit code and output. It is killed if still running."""
    log = Path(cwd) / f"ctrl_c.{time.monotonic_ns()}.log"
    pid = fork_cli(argv, cwd, env, log)
    code = None
    try:
        deadline = time.monotonic() + timeout
        while len(list(hold.glob("importing.*"))) < held:
            code = _reap(pid, 0)
            assert code is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        os.killpg(pid, signal.SIGINT)
        code = _reap(pid, timeout)
    finally:
        if code is None:
            os.killpg(pid, signal.SIGKILL)
            code = _reap(pid, 30)
    return code, log.read_text()
