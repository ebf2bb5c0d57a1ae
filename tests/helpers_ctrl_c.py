"""A terminal's Ctrl-C at a chosen moment: ``hold_at_torch`` holds the processes a test
selects at their first ``import torch``, and ``ctrl_c_when_held`` sends SIGINT to the
command's whole process group once they are held.

Example:
    >>> code, out = ctrl_c_when_held(command, cwd, env, hold, 2)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

__all__ = ["ctrl_c_when_held", "hold_at_torch"]


def ctrl_c_when_held(command: list[str], cwd: Path, env: dict[str, str], hold: Path,
                     held: int) -> tuple[int, str]:
    """Run ``command`` in a session of its own until ``held`` of its processes wrote an
    ``importing.<pid>`` file into ``hold`` (a sitecustomize there holds them at their first
    ``import torch``), then send SIGINT to its whole process group, as a terminal's Ctrl-C
    does; its exit code and output (stdout and stderr). It is killed if still running."""
    import subprocess

    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        while len(list(hold.glob("importing.*"))) < held:
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        out = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out


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
    (see ``_HOLD_AT_TORCH``; ``ctrl_c_when_held`` waits for them)."""
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(_HOLD_AT_TORCH.format(
        held=held, folder=str(folder), note=note_sigint))
