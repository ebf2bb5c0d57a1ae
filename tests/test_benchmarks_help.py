"""``python benchmarks/<script>.py --help`` of every file in ``benchmarks/``.

Each script's help opens with its whole first paragraph (was: the first line of its
docstring, cut mid-sentence in six of them), and the two modules that are not scripts
(``nb201_warm.py``, ``spread.py``) say what runs them instead of printing nothing.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers_benchmarks import load_script
from tests.helpers_imports import heavy, imported_modules
from tests.launcher import ROOT

SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py")
                 if "def main(" in p.read_text())
MODULES = {"nb201_warm.py": "benchmarks/nb201.py --warm_start",
           "spread.py": "imported by the benchmark scripts",
           "small_table.py": "benchmarks/small_space.py --help"}


def test_every_file_of_the_folder_is_a_script_or_a_known_module():
    names = {p.name for p in (ROOT / "benchmarks").glob("*.py")}
    assert names == set(SCRIPTS) | set(MODULES)


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_describes_the_script_in_whole_sentences(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_script(name).main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    description = " ".join(text.split("\n\n")[1].split())
    assert not description.startswith("options:"), text
    # was e.g. "Parallel trials: the same CPU-bound digits trials with 1 and with 2 worker
    # processes," (the docstring's first line)
    assert description.endswith("."), description


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_run_as_a_script_says_what_runs_it(name, tmp_path):
    proc = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "benchmarks" / name),
                           "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    # was: nothing at all, exit status 0
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert MODULES[name] in proc.stdout, proc.stdout
    # said before the training stack is imported (was: nb201_warm.py imported torch and
    # nevergrad first, 8 s on 2 cores, to print one line)
    assert not heavy(imported_modules(proc.stderr)), heavy(imported_modules(proc.stderr))


def test_the_spread_header_counts_one_seed_as_one(capsys):
    from benchmarks.spread import over_seeds

    # was: "over 1 seeds (...)" in every --quick run of oneshot, multifidelity, oneshot_darts
    assert over_seeds(1, "budget 4") == "over 1 seed (budget 4):"
    assert over_seeds(5, "budget 20") == "over 5 seeds (budget 20):"
    for name in ("oneshot.py", "multifidelity.py", "oneshot_darts.py"):
        text = (ROOT / "benchmarks" / name).read_text()
        assert "over_seeds(" in text and 'print(f"over {' not in text, name
