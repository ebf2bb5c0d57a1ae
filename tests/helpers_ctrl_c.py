"""A terminal's Ctrl-C at a chosen moment: ``hold_at_torch`` holds the processes a test
selects at their first ``import torch``; once they are held, SIGINT goes to the command's
whole process group. The command starts warm (``ctrl_c_launched_when_held``: forked by the
test session's launcher, its imports paid), so the held processes are ones it starts.
In-process, ``terminal_ctrl_c`` makes SIGINT raise ``KeyboardInterrupt`` for a block and
puts back the handler it found (``handled``: any signal's handler for a block);
``kernel_handler``: the handler the kernel calls, beneath Python's.

Example:
    >>> with terminal_ctrl_c():  # doctest: +SKIP
    ...     finetune(run, trainer={"callbacks": [SigintAtFirstBatch()]})
    >>> hold_at_torch(hold, "'RANK' in os.environ")  # doctest: +SKIP
    >>> code, out = ctrl_c_launched_when_held(launcher, ["search", "cfg.yaml"], cwd, env,
    ...                                       hold, 2)  # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from tests.launcher import Launcher

__all__ = ["ctrl_c_launched_when_held", "handled", "hold_at_torch", "kernel_handler",
           "terminal_ctrl_c"]


@contextmanager
def handled(signum: signal.Signals, handler: Callable[..., object] | int) -> Iterator[None]:
    """``handler`` handles ``signum`` in this process within the block, and the handler
    found before is put back after it.

    Example:
        >>> with handled(signal.SIGTERM, signal.SIG_IGN):
        ...     signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        True
    """
    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


class _Sigaction(ctypes.Structure):
    """Linux's ``struct sigaction`` (x86-64 and arm64 glibc): its handler first."""

    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


def kernel_handler(signum: int) -> int:
    """The handler the kernel calls for ``signum`` (0: the default action), which Python's
    ``signal.getsignal`` does not report when a library set it beneath Python (Linux).

    Example:
        >>> with handled(signal.SIGTERM, signal.SIG_DFL):
        ...     kernel_handler(signal.SIGTERM)
        0
    """
    action = _Sigaction()
    assert ctypes.CDLL(None).sigaction(signum, None, ctypes.byref(action)) == 0
    return action.handler or 0


def terminal_ctrl_c() -> AbstractContextManager[None]:
    """SIGINT raises ``KeyboardInterrupt`` in this process within the block, as Ctrl-C in a
    terminal does (a test session the shell started in the background ignores SIGINT), and
    the handler found before is put back after it (Lightning's own, after an interrupted
    fit, ignores SIGINT).

    Example:
        >>> with terminal_ctrl_c():
        ...     signal.getsignal(signal.SIGINT) is signal.default_int_handler
        True
    """
    return handled(signal.SIGINT, signal.default_int_handler)


def _ctrl_c(pid: int, exited: Callable[[float], int | None], log: Path, hold: Path,
            held: int, timeout: float) -> tuple[int, str]:
    """Once ``held`` processes wrote an ``importing.<pid>`` file into ``hold``, SIGINT to the
    process group of ``pid`` (a session leader), as a terminal's Ctrl-C; its exit code
    (``exited(seconds)``: None while running) and output (``log``). It is killed if still
    running; an AssertionError showing ``log`` if it ends, or ``timeout`` passes, first."""
    code = None
    try:
        deadline = time.monotonic() + timeout
        while len(list(hold.glob("importing.*"))) < held:
            code = exited(0)
            assert code is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        os.killpg(pid, signal.SIGINT)
        code = exited(timeout)
    finally:
        if code is None:
            os.killpg(pid, signal.SIGKILL)
            code = exited(30)
    return code, log.read_text()


def ctrl_c_launched_when_held(launcher: Launcher, argv: list[str], cwd: Path,
                              env: dict[str, str | None], hold: Path, held: int,
                              timeout: float = 120, script: Path | None = None
                              ) -> tuple[int, str]:
    """``python -m lightning_nas ARGV`` (or ``python SCRIPT ARGV``) forked by ``launcher``
    (its imports paid) in a session of its own, in ``cwd`` with ``env`` set, until ``held``
    of the processes it starts are held (``hold_at_torch``), then Ctrl-C it: its exit code
    and output. A child that takes its ``PYTHONPATH`` from the command's ``sys.path``
    (``lifetime.child_env``: a rank zygote, a trial's own process) finds ``hold``'s
    sitecustomize through a ``script`` in ``hold`` (its folder goes first on ``sys.path``)."""
    log = hold / f"ctrl_c.{time.monotonic_ns()}.log"
    pid = launcher.launch(argv, log, script, cwd=cwd, env=env, session=True)

    def exited(seconds: float) -> int | None:
        if not seconds:
            return launcher.exited()
        try:
            return launcher.wait(seconds)
        except queue.Empty:
            return None

    return _ctrl_c(pid, exited, log, hold, held, timeout)


#: a sitecustomize that holds a process ``{held}`` selects at its first ``import torch``
#: (an ``importing.<pid>`` file in ``{folder}`` says it got there) until it is ended; with
#: ``{note}`` a SIGINT that reaches it meanwhile leaves a ``sigint.<pid>`` file instead of
#: what the process does with one
_HOLD_AT_TORCH = """
import os, signal, sys, time
if {held}:
    def _note(signum, frame):
        open(os.path.join({folder!r}, f"sigint.{{os.getpid()}}"), "w").close()

    class _Hold:
        def find_spec(self, name, path=None, target=None):
            if name == "torch":
                sys.meta_path.remove(self)
                if {note}:
                    signal.signal(signal.SIGINT, _note)
                open(os.path.join({folder!r}, f"importing.{{os.getpid()}}"), "w").close()
                end = time.monotonic() + 120
                while time.monotonic() < end:
                    time.sleep(0.05)
    sys.meta_path.insert(0, _Hold())
"""


def hold_at_torch(folder: Path, held: str, note_sigint: bool = False) -> None:
    """Write into ``folder`` (put first on a child's ``PYTHONPATH``) a sitecustomize that
    holds each process the Python expression ``held`` selects at its first ``import torch``
    (see ``_HOLD_AT_TORCH``; ``ctrl_c_launched_when_held`` waits for them)."""
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(_HOLD_AT_TORCH.format(
        held=held, folder=str(folder), note=note_sigint))
