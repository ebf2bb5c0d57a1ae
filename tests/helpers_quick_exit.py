"""A user's script run from an ``Interpreter`` (``tests.helpers_standalone``) that leaves as
the launcher's children do, where how the process ends is not what the test checks: the
script runs as ``__main__`` with its own ``sys.argv``, then its output is flushed and the
process ends by ``os._exit`` with the script's exit code (1, its traceback printed, where
it raised). A child that ends by ``sys.exit`` tears down the heap of everything its
interpreter imported (torch, Lightning, Hydra): about 1.5 s of CPU on 2 cores each time,
more than most of the scripts themselves (``tests/test_export_standalone.py``: twelve
runs). Its ``atexit`` hooks do not run: a test of an exit runs the script itself.

Example:
    >>> import tempfile
    >>> script = quick_exit(Path(tempfile.mkdtemp()))
    >>> python.run(script, [str(user / "user_cli.py"), "validate"], cwd=tmp,
    ...            env=env, path=(user,))  # doctest: +SKIP
    Ran(code=0, out='USER {...}\\n', err='...')
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["QUICK_EXIT", "quick_exit"]

#: the file name of the wrapper ``quick_exit`` writes
QUICK_EXIT = "quick_exit.py"
_WRAPPER = '''import os, runpy, sys, traceback

script = sys.argv[1]
sys.argv = sys.argv[1:]  # the script's own, as `python SCRIPT ARGV` sets them
code = 0
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as end:  # as the interpreter maps sys.exit's argument to a code
    if end.code is None or isinstance(end.code, int):
        code = end.code or 0
    else:
        print(end.code, file=sys.stderr)
        code = 1
except BaseException:
    traceback.print_exc()
    code = 1
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
'''


def quick_exit(folder: Path) -> Path:
    """Write the wrapper into ``folder`` and return its path: an ``Interpreter`` runs
    ``SCRIPT ARGV`` through it as ``run(quick_exit(folder), [SCRIPT, *ARGV], ...)``.

    Example:
        >>> import tempfile
        >>> quick_exit(Path(tempfile.mkdtemp())).name
        'quick_exit.py'
    """
    path = folder / QUICK_EXIT
    path.write_text(_WRAPPER)
    return path
