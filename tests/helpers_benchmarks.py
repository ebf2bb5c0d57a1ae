"""The scripts of ``benchmarks/`` in tests: one loaded as a module (its ``main`` called
in-process), and the offline NB201 table the NB201 ones read (``None`` and why, without
it).

Example:
    >>> load_script("spread.py").__name__
    'bench_help_spread'
    >>> NB201_TABLE is not None or bool(NB201_WHY)
    True
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from lightning_nas.benchmarks.nb201 import find_table
from tests.launcher import ROOT

__all__ = ["NB201_TABLE", "NB201_WHY", "load_script"]


def load_script(name: str) -> ModuleType:
    """``benchmarks/<name>`` (a file name, ``nb201.py``) executed as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"bench_help_{name[:-3]}",
                                                  ROOT / "benchmarks" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nb201_table() -> tuple[Path | None, str]:
    try:
        return find_table(), ""
    except FileNotFoundError as err:
        return None, str(err)


#: the NB201 CSV (``$LIGHTNING_NAS_NB201``, else ``shared/benchmarks/nb201.csv`` beside the
#: repository), or None and ``NB201_WHY``, the reason a test that needs it is skipped
NB201_TABLE, NB201_WHY = _nb201_table()
