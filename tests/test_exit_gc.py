"""Tests that the package's own processes exit with their heap frozen (``exit_gc``): the
``lightning-nas`` command (its console script and ``python -m lightning_nas``) skips the
garbage collector's last walk of torch's and Lightning's objects, and keeps its exit status.
The ranks' and workers' exits are in ``test_ranks`` and ``test_workers_start``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.launcher import ROOT

#: notes at exit (after the command returned) whether the heap was frozen
NOTE = ("import atexit, gc, sys; atexit.register(lambda: print('frozen', "
        "gc.get_freeze_count() > 0)); sys.argv = ['lightning-nas', 'show', {run!r}]; ")


@pytest.mark.parametrize("start", [
    "from lightning_nas.cli import console; sys.exit(console())",
    "import runpy; runpy.run_module('lightning_nas', run_name='__main__')"])
def test_the_command_exits_with_its_heap_frozen_and_its_status(tmp_path, start):
    # was: sys.exit(main()), the whole heap walked by the collector as the process ended
    # (about a second of CPU a command); console did not exist
    code = NOTE.format(run=str(tmp_path / "no_run")) + start
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr  # show's refusal: no run folder there
    assert "no_run" in done.stderr
    assert done.stdout.splitlines()[-1] == "frozen True", done.stdout


def test_the_console_script_is_console():
    text = (ROOT / "pyproject.toml").read_text()  # (tomllib: Python 3.11 and later)
    section = text.split("[project.scripts]\n", 1)[1].split("\n\n", 1)[0]
    assert section.strip() == 'lightning-nas = "lightning_nas.cli:console"', section
