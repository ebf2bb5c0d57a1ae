"""The rerun line of a sweep's best job (``rerun_line``): readable, and what a shell gives
the task is what Hydra parses to the job's values."""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: E402

from lightning_nas.integrations.hydra_grammar import SweepParams, format_value  # noqa: E402
from lightning_nas.integrations.hydra_rerun import rerun_line  # noqa: E402
from lightning_nas.space import Choice, SearchSpace  # noqa: E402

_PARSER = OverridesParser.create()


def parsed(override: str) -> tuple[Any, ...]:
    """What Hydra makes of ``override``: its kind, key, package and value (as ``repr``, so
    ``1``, ``'1'``, ``True`` and ``1.0`` differ)."""
    got = _PARSER.parse_override(override)
    return got.type, got.key_or_group, got.package, repr(got.value())


#: (a job's value, the override word the line shows for it)
VALUES = [
    ("a", "model=a"),  # a config group's choice, as the sweeper writes it: model='a'
    ("a b", "'model=a b'"),
    ("a, b", "\"model='a, b'\""),  # bare, a sweep of two: Hydra's quotes kept
    ("1", "\"model='1'\""),  # bare, the int 1
    ("true", "\"model='true'\""),
    ("null", "\"model='null'\""),
    ("", "\"model=''\""),
    ("it's", "'model=\"it'\"'\"'s\"'"),  # Hydra's double quotes, the shell's single
    ("$HOME", "'model=$HOME'"),
    ("a=b", "\"model='a=b'\""),
    ("!x", "'model=\"!x\"'"),  # (! is no bare value of Hydra's)
    (["a", "b c"], "'model=[a,b c]'"),
    (1, "model=1"),
    (0.5, "model=0.5"),
    (True, "model=true"),
    (None, "model=null"),
]


@pytest.mark.parametrize(("value", "word"), VALUES, ids=[repr(v) for v, _ in VALUES])
def test_the_rerun_line_quotes_only_what_needs_quoting(value, word):
    # was: every string quoted twice, Hydra's quotes inside the shell's:
    # 'model='"'"'a'"'"'' for a config group's choice a
    job = SweepParams(SearchSpace({"model": Choice(["a", "b"])})).overrides({"model": value})
    line = rerun_line("src/train.py", job)
    assert line == f"python src/train.py {word} hydra.mode=RUN"
    python, script, given, mode = shlex.split(line)  # as bash splits it
    assert parsed(given) == parsed(job[0]) == parsed(f"model={format_value(value)}")
    assert (python, script, mode) == ("python", "src/train.py", "hydra.mode=RUN")


def test_the_words_bash_gives_the_task_are_hydras_values():
    # what bash itself passes on (not only what shlex.split says it would)
    overrides = ["model='a'", "+note='a, b'", "x='it\\'s'", "~old", "db.user='$USER'",
                 "hydra/job_logging=disabled", "w=[1,'a b',{k:'v'}]", "s='${y}'"]
    line = rerun_line("src/train.py", overrides, ["--config-name", "my conf"])
    given = subprocess.run(["bash", "-c", f"printf '%s\\n' {line.removeprefix('python ')}"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert given[:3] == ["src/train.py", "--config-name", "my conf"]
    assert [parsed(o) for o in given[3:-1]] == [parsed(o) for o in overrides]
    assert given[3] == "model=a" and given[-1] == "hydra.mode=RUN"
