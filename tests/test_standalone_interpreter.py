"""``tests.helpers_standalone.Interpreter``: how a script forked from it ends, a script's
own exit (``atexit`` hooks, finalization) or, with ``quick_exit``, ``os._exit`` once the
script returns, its output flushed and its exit code kept. A bare interpreter (no imports):
a cold ``python`` of its own is cheap."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers_standalone import Interpreter

#: a script that prints (buffered, no newline), registers an ``atexit`` hook, then ends as
#: its first argument says: ``return``, ``exit CODE``, ``message`` (sys.exit of a string) or
#: ``raise``
ENDS = """
import atexit, sys
atexit.register(lambda: print("atexit ran"))
print("said", end="")
how = sys.argv[1]
if how == "exit":
    sys.exit(int(sys.argv[2]))
if how == "message":
    sys.exit("a message")
if how == "raise":
    raise ValueError("broken on purpose")
"""


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> Iterator[Interpreter]:
    """An interpreter that imported nothing (started once per test process here)."""
    with Interpreter(tmp_path_factory.mktemp("bare"), imports=()) as interpreter:
        yield interpreter


@pytest.mark.parametrize(("argv", "code"), [(["return"], 0), (["exit", "3"], 3),
                                            (["message"], 1), (["raise"], 1)])
def test_a_quick_exit_keeps_the_scripts_code_and_output_but_skips_its_exit(
        bare, tmp_path, argv, code):
    script = tmp_path / "ends.py"
    script.write_text(ENDS)
    env = {"PATH": os.environ.get("PATH", "")}
    real = bare.run(script, argv, cwd=tmp_path, env=env)
    quick = bare.run(script, argv, cwd=tmp_path, env=env, quick_exit=True)
    assert real.code == quick.code == code, (real, quick)
    assert real.out.startswith("said") and quick.out == "said"  # flushed, no atexit hook
    assert "atexit ran" in real.out
    for ran in (real, quick):  # what ended it, on stderr as the interpreter writes it
        assert ("a message" in ran.err) is (argv == ["message"]), ran.err
        assert ("ValueError: broken on purpose" in ran.err) is (argv == ["raise"]), ran.err


def test_a_quick_exit_script_sees_its_own_argv(bare, tmp_path):
    script = tmp_path / "argv.py"
    script.write_text("import sys\nprint(sys.argv)\n")
    ran = bare.run(script, ["a", "b"], cwd=tmp_path, env={}, quick_exit=True)
    assert ran.code == 0 and ran.out == f"{[str(script), 'a', 'b']}\n"
