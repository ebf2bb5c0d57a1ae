"""Scripts run as ``python SCRIPT ARGV`` runs them, forked from an interpreter that imported
the heavy modules once (``Interpreter``), and exiting as such a process does.

``tests.launcher`` forks commands from a zygote that imported ``lightning_nas``, and its
children leave with ``os._exit`` (unless launched ``as_script``). What some tests run needs
neither: a user's project
where ``lightning_nas`` cannot be imported (``isolated``: the interpreter runs ``python
-I``, with ``lightning_nas`` and its Hydra plugin refused by an import hook installed
before any import, so an installed copy is not found either), or DDP ranks whose exit is
the subject of the test: a child here ends by ``sys.exit``, so its ``atexit`` hooks and
the interpreter's finalization run as at the end of any script (unless run with
``quick_exit``, for a test whose subject is not how the process ends: ``os._exit`` once
the script returns, its output flushed and its exit code kept). With ``ranks=2`` a run is
two processes started as ``torchrun`` starts them (its variables, a free rendezvous port),
both forked at once and sharing one output, where Lightning's launcher would start a
fresh ``python`` for rank 1 (seconds of imports each time). A fixture keeps one
``Interpreter`` per test process that needs it (conftest's ``standalone_python``, the
isolated one, for every module that runs a user's scripts; ``test_group_exit``'s own).

Example:
    >>> with Interpreter(Path(tempfile.mkdtemp()), isolated=True) as python:  # doctest: +SKIP
    ...     python.run(Path("user/cli.py"), ["validate"], cwd=Path("."), path=Path("user"))
    Ran(code=0, out='...', err='...')
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from tests.launcher import ROOT, Lines, default_sigint

__all__ = ["INTERPRETER", "ISOLATED_IMPORTS", "Interpreter", "Ran", "torchrun_main"]

#: what the scripts of a user's project without lightning_nas import (paid once)
ISOLATED_IMPORTS = ("torch", "yaml", "lightning.pytorch", "lightning.pytorch.cli", "hydra",
                    "omegaconf")

#: the file name of an ``Interpreter``'s script (a test that lists the processes left sees it)
INTERPRETER = "interpreter.py"
_INTERPRETER = '''
import importlib.abc, json, os, runpy, socket, sys, traceback

if sys.argv[1] == "isolated":  # before any import: lightning_nas can never be imported
    class _Refused(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if (name.split(".")[0] == "lightning_nas"
                    or name.startswith("hydra_plugins.lightning_nas")):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, _Refused())
for module in json.loads(sys.argv[2]):
    try:
        __import__(module)
    except ImportError:  # not installed: the script fails as it would anyway
        pass


def _run(job, rank, port):
    """In the forked child: the script as ``__main__``, then an exit as a script's, or
    (``quick_exit``) ``os._exit`` with its code once its output is flushed."""
    fd = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_APPEND), 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.environ.clear()
    os.environ.update(job["env"])
    if job["ranks"] > 1:  # as torchrun starts them
        os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "GROUP_RANK": "0",
                           "WORLD_SIZE": str(job["ranks"]),
                           "LOCAL_WORLD_SIZE": str(job["ranks"]),
                           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                           "TORCHELASTIC_RUN_ID": "test"})
        if "lightning_utilities.core.rank_zero" in sys.modules:  # read from RANK as Lightning
            sys.modules["lightning_utilities.core.rank_zero"].rank_zero_only.rank = rank  # loads
    os.chdir(job["cwd"])
    sys.argv = [job["script"], *job["argv"]]
    sys.path[:0] = job["path"]
    code = 0
    try:
        runpy.run_path(job["script"], run_name="__main__")
    except SystemExit as end:
        if not job["quick_exit"]:
            raise
        if end.code is None or isinstance(end.code, int):  # as the interpreter maps it
            code = end.code or 0
        else:
            print(end.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    if job["quick_exit"]:  # no atexit hooks, no teardown of the imported heap
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)  # normal exit: atexit hooks, then the interpreter's finalization


print("ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    with socket.socket() as free:  # the rendezvous port, as torchrun's
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    pids = []
    for rank in range(job["ranks"]):
        pid = os.fork()
        if pid == 0:
            try:
                _run(job, rank, port)
            except SystemExit:  # out of this loop: the interpreter's own exit
                raise
            except BaseException:
                traceback.print_exc()
                os._exit(1)
        pids.append(pid)
    print("pids", *pids, flush=True)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    print("exit", *codes, flush=True)
'''


class Ran(NamedTuple):
    """A run's exit code (the first nonzero of its ranks'), stdout and stderr."""

    code: int
    out: str
    err: str


class Interpreter:
    """A Python interpreter that imported ``imports`` once and forks every run from there
    (see the module's docstring); ``isolated``: ``python -I``, lightning_nas refused."""

    def __init__(self, folder: Path, isolated: bool = False,
                 imports: tuple[str, ...] = ISOLATED_IMPORTS) -> None:
        self.folder = folder
        script = folder / INTERPRETER
        script.write_text(_INTERPRETER)
        if isolated:  # as bare as a user's shell could be: no PYTHON* variable at all
            env = {"OMP_NUM_THREADS": "1", "PATH": os.environ.get("PATH", "")}
            argv = [sys.executable, "-I", str(script), "isolated"]
        else:
            env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
            argv = [sys.executable, str(script), "plain"]
        self.proc = subprocess.Popen([*argv, json.dumps(list(imports))], cwd=folder, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     preexec_fn=default_sigint)
        self.lines = Lines(self.proc, "the interpreter")
        self.runs = 0
        assert self.lines.next(300) == "ready"

    def run(self, script: Path, argv: list[str], cwd: Path, env: dict[str, str],
            path: tuple[Path, ...] = (), ranks: int = 1, timeout: float = 300,
            quick_exit: bool = False) -> Ran:
        """``python SCRIPT ARGV`` in ``cwd`` with exactly ``env`` as its environment and
        ``path`` first on its ``sys.path``; with ``ranks`` > 1 that many ranks at once.
        With ``quick_exit`` each ends by ``os._exit`` once the script returns or raises,
        its output flushed and its exit code as a script's: no ``atexit`` hooks, no
        teardown of the heap the interpreter imported (about 1.5 s of CPU a run with
        torch, Lightning and Hydra), for a test whose subject is not how the process
        ends."""
        self.runs += 1
        out, err = self.folder / f"{self.runs}.out", self.folder / f"{self.runs}.err"
        job = {"script": str(script), "argv": [str(a) for a in argv], "cwd": str(cwd),
               "env": env, "path": [str(p) for p in path], "ranks": ranks,
               "out": str(out), "err": str(err), "quick_exit": quick_exit}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        kind, *pids = self.lines.next(60).split()
        assert kind == "pids"
        try:
            kind, *codes = self.lines.next(timeout).split()
        except queue.Empty:  # none left running
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            raise
        assert kind == "exit"
        code = next((int(c) for c in codes if int(c) != 0), 0)
        return Ran(code, out.read_text(), err.read_text())

    def close(self) -> None:
        """End the interpreter (killed: it holds nothing, and its own exit would sweep the
        heap of everything it imported, seconds of CPU)."""
        self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()

    def __enter__(self) -> Interpreter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: the end of a script that runs ``CALL`` (replaced by the caller: ``torchrun_main``) on two
#: ranks started as ``torchrun`` starts them (its variables, a free rendezvous port), both
#: forked by the script, which exits 1 if either failed; the script imports ``os``,
#: ``socket``, ``sys`` and ``traceback``
_TORCHRUN_MAIN = """
if __name__ == "__main__":
    with socket.socket() as free:  # the rendezvous port, as torchrun's
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    ranks = []
    for rank in (0, 1):
        pid = os.fork()
        if pid:
            ranks.append(pid)
            continue
        code = 1
        try:
            os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "GROUP_RANK": "0",
                               "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
                               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                               "TORCHELASTIC_RUN_ID": "test"})
            from lightning_utilities.core.rank_zero import rank_zero_only
            rank_zero_only.rank = rank  # what a fresh process's import reads from RANK
            CALL
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    codes = [os.waitpid(pid, 0)[1] for pid in ranks]
    sys.exit(1 if any(codes) else 0)
"""


def torchrun_main(call: str) -> str:
    """The ``if __name__ == "__main__":`` block of a test's DDP script that runs ``call`` (one
    line of Python) on two ranks forked as ``torchrun`` starts them (``rank_zero_only.rank``
    set as a fresh process's import sets it).

    Example:
        >>> "run_rank()" in torchrun_main("run_rank()")
        True
    """
    return _TORCHRUN_MAIN.replace("CALL", call)
